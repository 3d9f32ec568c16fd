import assert from "node:assert/strict";
import fc from "fast-check";
import {
  calcsize,
  iterUnpack,
  pack,
  packInto,
  Struct,
  StructError,
  unpack,
  unpackFrom,
} from "../lib/struct/mod.ts";
import { fromHex, hex } from "./_hex.ts";

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

function throwsStruct(fn: () => unknown, message: string): void {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof StructError, `not a StructError: ${error}`);
    assert.equal(error.name, "StructError");
    assert.equal(error.message, message);
    return true;
  });
}

Deno.test("calcsize uses CPython's native sizes and alignment on 64-bit Linux", () => {
  assert.equal(calcsize("l"), 8);
  assert.equal(calcsize("L"), 8);
  assert.equal(calcsize("@bi"), 8);
  assert.equal(calcsize("=bi"), 5);
  assert.equal(calcsize("b0l"), 8);
  assert.equal(calcsize("bl0h"), 16);
  assert.equal(calcsize("0l"), 0);
  assert.equal(calcsize("c e"), 4);
  assert.equal(calcsize("?P"), 16);
  assert.equal(calcsize("nN"), 16);
  assert.equal(calcsize("bd"), 16);
  assert.equal(calcsize("bf"), 8);
  assert.equal(calcsize("bs"), 2);
  assert.equal(calcsize(""), 0);
});

Deno.test("calcsize uses standard sizes without alignment for = < > !", () => {
  for (const order of "=<>!") {
    assert.equal(
      calcsize(`${order}xcbB?hHiIlLqQefd`),
      1 + 1 + 1 + 1 + 1 + 2 + 2 + 4 + 4 + 4 + 4 + 8 + 8 + 2 + 4 + 8,
    );
    assert.equal(calcsize(`${order}b0l`), 1);
    assert.equal(calcsize(`${order}3s2p`), 5);
  }
});

Deno.test("calcsize ignores whitespace between items but not inside them", () => {
  assert.equal(calcsize(" h \t\n\r\x0b\x0c i "), 8);
  assert.equal(calcsize("h  "), 2);
  throwsStruct(() => calcsize("2 h"), "bad char in struct format");
  throwsStruct(() => calcsize(" <h"), "bad char in struct format");
});

Deno.test("calcsize rejects bad formats with CPython's messages", () => {
  throwsStruct(() => calcsize("z"), "bad char in struct format");
  throwsStruct(() => calcsize("h<"), "bad char in struct format");
  throwsStruct(() => calcsize("é"), "bad char in struct format");
  throwsStruct(() => calcsize("<n"), "bad char in struct format");
  throwsStruct(() => calcsize("=N"), "bad char in struct format");
  throwsStruct(() => calcsize("!P"), "bad char in struct format");
  throwsStruct(
    () => calcsize("2"),
    "repeat count given without format specifier",
  );
  throwsStruct(
    () => calcsize("h12"),
    "repeat count given without format specifier",
  );
  throwsStruct(() => calcsize("b\0b"), "embedded null character");
  throwsStruct(
    () => calcsize("99999999999999999999x"),
    "total struct size too long",
  );
  throwsStruct(
    () => calcsize("4611686018427387904q"),
    "total struct size too long",
  );
  assert.throws(() => calcsize(7 as unknown as string), TypeError);
});

Deno.test("Struct exposes its format and size", () => {
  const s = new Struct("<hq");
  assert.equal(s.format, "<hq");
  assert.equal(s.size, 10);
  throwsStruct(() => new Struct("hz"), "bad char in struct format");
});

Deno.test("pack writes the tutorial's header as an 8-byte little-endian long", () => {
  assert.equal(hex(pack("l", 1024)), "0004000000000000");
  assert.equal(hex(pack("l", -1)), "ffffffffffffffff");
  assert.deepEqual(unpack("l", pack("l", 921_600)), [921_600n]);
});

Deno.test("pack and unpack honour every byte order", () => {
  assert.equal(hex(pack("<i", 0x01020304)), "04030201");
  assert.equal(hex(pack(">i", 0x01020304)), "01020304");
  assert.equal(hex(pack("!i", 0x01020304)), "01020304");
  assert.equal(hex(pack("=i", 0x01020304)), "04030201");
  assert.equal(hex(pack("@i", 0x01020304)), "04030201");
  assert.equal(hex(pack(">q", -2)), "fffffffffffffffe");
  assert.equal(hex(pack(">d", 1)), "3ff0000000000000");
  assert.deepEqual(unpack(">hHiI", fromHex("fffeffff8000000000000001")), [
    -2,
    65535,
    -2147483648,
    1,
  ]);
});

Deno.test("pack pads for native alignment and unpack skips the padding", () => {
  assert.equal(hex(pack("@bi", 1, 2)), "0100000002000000");
  assert.equal(hex(pack("=bi", 1, 2)), "0102000000");
  assert.equal(hex(pack("b0q", 1)), "0100000000000000");
  assert.equal(hex(pack("bxh", 1, 2)), "01000200");
  assert.deepEqual(unpack("@bi", fromHex("01ffffff02000000")), [1, 2]);
});

Deno.test("unpack returns bigint for 8-byte integers and number for the rest", () => {
  const values = unpack(
    "bBhHiIlLqQnNP",
    new Uint8Array(calcsize("bBhHiIlLqQnNP")),
  );
  assert.deepEqual(values.map((v) => typeof v), [
    "number",
    "number",
    "number",
    "number",
    "number",
    "number",
    "bigint",
    "bigint",
    "bigint",
    "bigint",
    "bigint",
    "bigint",
    "bigint",
  ]);
  assert.deepEqual(unpack("<lL", new Uint8Array(8)), [0, 0]);
  assert.deepEqual(unpack("<qQ", fromHex("ffffffffffffffffffffffffffffffff")), [
    -1n,
    2n ** 64n - 1n,
  ]);
  assert.deepEqual(unpack("P", fromHex("ffffffffffffffff")), [2n ** 64n - 1n]);
});

Deno.test("pack takes integers as number, bigint or boolean", () => {
  assert.equal(hex(pack("<hhh", 7, 7n, true)), "070007000100");
  assert.equal(hex(pack("<Q", 2n ** 64n - 1n)), "ffffffffffffffff");
  assert.equal(hex(pack("<q", -(2 ** 53) + 1)), "010000000000e0ff");
  assert.equal(hex(pack("<h", -0)), "0000");
});

Deno.test("pack takes an integral number beyond 2**53 exactly", () => {
  assert.equal(hex(pack(">Q", 2 ** 63)), "8000000000000000");
  assert.equal(hex(pack(">q", -(2 ** 63))), "8000000000000000");
  assert.equal(hex(pack("<Q", 2 ** 60 + 2 ** 10)), "0004000000000010");
  throwsStruct(
    () => pack("<q", 2 ** 63),
    "'q' format requires -9223372036854775808 <= number <= 9223372036854775807",
  );
});

Deno.test("pack rejects non-integral values for integer fields", () => {
  for (
    const value of [1.5, NaN, Infinity, "1", null, undefined, new Uint8Array(1)]
  ) {
    throwsStruct(() => pack("h", value), "required argument is not an integer");
    throwsStruct(() => pack("q", value), "required argument is not an integer");
  }
});

Deno.test("pack rejects out-of-range integers with the field's range", () => {
  throwsStruct(
    () => pack("h", 40000),
    "'h' format requires -32768 <= number <= 32767",
  );
  throwsStruct(
    () => pack("b", 128),
    "'b' format requires -128 <= number <= 127",
  );
  throwsStruct(() => pack("B", -1), "'B' format requires 0 <= number <= 255");
  throwsStruct(
    () => pack("<H", 65536n),
    "'H' format requires 0 <= number <= 65535",
  );
  throwsStruct(
    () => pack("<i", 2 ** 31),
    "'i' format requires -2147483648 <= number <= 2147483647",
  );
  throwsStruct(
    () => pack("<I", -1),
    "'I' format requires 0 <= number <= 4294967295",
  );
  throwsStruct(
    () => pack("<l", 2 ** 31),
    "'l' format requires -2147483648 <= number <= 2147483647",
  );
  throwsStruct(
    () => pack("l", 2n ** 63n),
    "'l' format requires -9223372036854775808 <= number <= 9223372036854775807",
  );
  throwsStruct(
    () => pack("L", -1),
    "'L' format requires 0 <= number <= 18446744073709551615",
  );
  throwsStruct(
    () => pack("<L", 2 ** 32),
    "'L' format requires 0 <= number <= 4294967295",
  );
  throwsStruct(
    () => pack("Q", -1n),
    "'Q' format requires 0 <= number <= 18446744073709551615",
  );
  throwsStruct(
    () => pack("N", -1),
    "'N' format requires 0 <= number <= 18446744073709551615",
  );
});

Deno.test("pack takes pointers as signed or unsigned 64-bit values", () => {
  assert.equal(hex(pack("P", -1)), "ffffffffffffffff");
  assert.equal(hex(pack("P", 2n ** 64n - 1n)), "ffffffffffffffff");
  assert.equal(hex(pack("P", -(2n ** 63n))), "0000000000000080");
  throwsStruct(() => pack("P", 2n ** 64n), "int too large to convert");
  throwsStruct(() => pack("P", -(2n ** 63n) - 1n), "int too large to convert");
});

Deno.test("pack uses Python truthiness for ? and unpack gives booleans", () => {
  const truthy = [true, 1, -1, 2n, NaN, "a", [0], new Uint8Array(1), {}];
  const falsy = [false, 0, -0, 0n, "", null, undefined, [], new Uint8Array(0)];
  for (const value of truthy) {
    assert.equal(hex(pack("?", value)), "01", String(value));
  }
  for (const value of falsy) {
    assert.equal(hex(pack("?", value)), "00", String(value));
  }
  assert.deepEqual(unpack("???", fromHex("000102")), [false, true, true]);
});

Deno.test("c packs one byte from a length-1 Uint8Array", () => {
  assert.equal(hex(pack("cc", ascii("a"), ascii("b"))), "6162");
  assert.deepEqual(unpack("2c", ascii("ab")), [ascii("a"), ascii("b")]);
  for (const value of [ascii(""), ascii("ab"), 97, "a"]) {
    throwsStruct(
      () => pack("c", value),
      "char format requires a bytes object of length 1",
    );
  }
});

Deno.test("s pads with zeros or truncates, and a count of 0 takes one value", () => {
  assert.equal(hex(pack("4s", ascii("ab"))), "61620000");
  assert.equal(hex(pack("2s", ascii("abcd"))), "6162");
  assert.equal(hex(pack("s", ascii(""))), "00");
  assert.equal(hex(pack("0sh", ascii("abc"), 1)), "0100");
  assert.deepEqual(unpack("0s3s", ascii("abc")), [ascii(""), ascii("abc")]);
  throwsStruct(
    () => pack("2s", "ab"),
    "argument for 's' must be a bytes object",
  );
});

Deno.test("p packs a Pascal string as CPython's test_struct expects", () => {
  const cases: [string, string, string, string][] = [
    ["p", "abc", "00", ""],
    ["1p", "abc", "00", ""],
    ["2p", "abc", "0161", "a"],
    ["3p", "abc", "026162", "ab"],
    ["4p", "abc", "03616263", "abc"],
    ["5p", "abc", "0361626300", "abc"],
    ["6p", "abc", "036162630000", "abc"],
  ];
  for (const [format, input, packed, unpacked] of cases) {
    assert.equal(hex(pack(format, ascii(input))), packed, format);
    assert.deepEqual(
      unpack(format, fromHex(packed)),
      [ascii(unpacked)],
      format,
    );
  }
  const long = pack("1000p", new Uint8Array(1000).fill(0x78));
  assert.equal(long[0], 255);
  assert.deepEqual(unpack("1000p", long)[0], new Uint8Array(255).fill(0x78));
  assert.equal(hex(pack("0p", ascii("abc"))), "");
  assert.deepEqual(unpack("0p", new Uint8Array(0)), [ascii("")]);
  assert.deepEqual(unpack("3p", fromHex("ff6162")), [ascii("ab")]);
  throwsStruct(() => pack("p", 1), "argument for 'p' must be a bytes object");
});

Deno.test("e packs half precision like CPython's test_half_float", () => {
  const clean: [string, number][] = [
    ["003c", 1.0],
    ["00c0", -2.0],
    ["ff7b", 65504.0],
    ["0004", 2 ** -14],
    ["0100", 2 ** -24],
    ["0000", 0.0],
    ["0080", -0.0],
    ["007c", Infinity],
    ["00fc", -Infinity],
    ["5535", 0.333251953125],
  ];
  for (const [le, value] of clean) {
    assert.equal(hex(pack("<e", value)), le);
    assert.ok(Object.is(unpack("<e", fromHex(le))[0], value));
    const be = le.slice(2) + le.slice(0, 2);
    assert.equal(hex(pack(">e", value)), be);
    assert.ok(Object.is(unpack(">e", fromHex(be))[0], value));
    assert.equal(hex(pack("e", value)), le);
  }
  for (const bits of ["01fc", "00fe", "ffff", "017c", "007e", "ff7f"]) {
    assert.ok(Number.isNaN(unpack("<e", fromHex(bits))[0]));
  }
  assert.equal(hex(pack("<e", NaN)), "007e");
});

Deno.test("e rounds half to even and underflows like CPython", () => {
  const rounding: [string, number][] = [
    ["0001", 2 ** -25 + 2 ** -35],
    ["0000", 2 ** -25],
    ["0000", 2 ** -26],
    ["03ff", 2 ** -14 - 2 ** -24],
    ["03ff", 2 ** -14 - 2 ** -25 - 2 ** -65],
    ["0400", 2 ** -14 - 2 ** -25],
    ["0400", 2 ** -14],
    ["3c01", 1 + 2 ** -11 + 2 ** -16],
    ["3c00", 1 + 2 ** -11],
    ["3c00", 1 + 2 ** -12],
    ["7bff", 65504],
    ["7bff", 65519],
    ["8001", -(2 ** -25) - 2 ** -35],
    ["8000", -(2 ** -25)],
    ["bc01", -1 - 2 ** -11 - 2 ** -16],
    ["bc00", -1 - 2 ** -11],
    ["fbff", -65519],
    ["67ff", 0x1ffdffffff * 2 ** -26],
  ];
  for (const [bits, value] of rounding) {
    assert.equal(hex(pack(">e", value)), bits, String(value));
  }
});

Deno.test("e and standard f raise on overflow, native f does not", () => {
  for (const value of [65520, 65536, 1e300, -65520, -1e300]) {
    throwsStruct(
      () => pack(">e", value),
      "float too large to pack with e format",
    );
    throwsStruct(
      () => pack("e", value),
      "float too large to pack with e format",
    );
  }
  throwsStruct(() => pack("<e", 70000n), "int too large to convert");
  throwsStruct(() => pack("<f", 1e39), "float too large to pack with f format");
  throwsStruct(
    () => pack("<f", 3.4028235677973366e38),
    "float too large to pack with f format",
  );
  assert.equal(hex(pack("<f", 3.4028235677973362e38)), "ffff7f7f");
  assert.equal(hex(pack("f", 1e39)), "0000807f");
  assert.equal(hex(pack("<f", Infinity)), "0000807f");
});

Deno.test("float fields take numbers, bigints and booleans", () => {
  assert.equal(hex(pack("<d", 1n)), "000000000000f03f");
  assert.equal(hex(pack("<d", true)), "000000000000f03f");
  assert.deepEqual(unpack("<fd", pack("<fd", 0.5, -0.25)), [0.5, -0.25]);
  assert.ok(Object.is(unpack("<d", pack("<d", -0))[0], -0));
  for (const value of ["1", null, 2n ** 1024n]) {
    throwsStruct(() => pack("d", value), "required argument is not a float");
  }
});

Deno.test("pack and unpack check how many values and bytes they get", () => {
  throwsStruct(
    () => pack("hh", 1),
    "pack expected 2 items for packing (got 1)",
  );
  throwsStruct(
    () => pack("h", 1, 2),
    "pack expected 1 items for packing (got 2)",
  );
  throwsStruct(() => pack("", 1), "pack expected 0 items for packing (got 1)");
  assert.equal(hex(pack("2x")), "0000");
  throwsStruct(
    () => unpack("h", ascii("abc")),
    "unpack requires a buffer of 2 bytes",
  );
  throwsStruct(
    () => unpack("<q", ascii("1")),
    "unpack requires a buffer of 8 bytes",
  );
  throwsStruct(
    () => unpack("", ascii("x")),
    "unpack requires a buffer of 0 bytes",
  );
});

Deno.test("unpack reads any ArrayBuffer or view", () => {
  const bytes = fromHex("0100020003000400");
  assert.deepEqual(unpack("<4H", bytes.buffer), [1, 2, 3, 4]);
  assert.deepEqual(unpack("<2H", new DataView(bytes.buffer, 4)), [3, 4]);
  assert.deepEqual(unpack("<2H", bytes.subarray(2, 6)), [2, 3]);
  assert.deepEqual(unpack("<H", new Uint16Array([0x0102])), [0x0102]);
});

Deno.test("unpackFrom reads at an offset, and a negative one counts from the end", () => {
  const bytes = ascii("abc");
  assert.deepEqual(unpackFrom("<h", bytes), [0x6261]);
  assert.deepEqual(unpackFrom("<h", bytes, 1), [0x6362]);
  assert.deepEqual(unpackFrom("<h", bytes, -2), [0x6362]);
  assert.deepEqual(unpackFrom("<h", bytes, -3), [0x6261]);
  throwsStruct(
    () => unpackFrom("h", bytes, -1),
    "not enough data to unpack 2 bytes at offset -1",
  );
  throwsStruct(
    () => unpackFrom("h", bytes, -4),
    "offset -4 out of range for 3-byte buffer",
  );
  throwsStruct(
    () => unpackFrom("h", bytes, 2),
    "unpack_from requires a buffer of at least 4 bytes for unpacking 2 bytes at offset 2 (actual buffer size is 3)",
  );
  throwsStruct(
    () => unpackFrom("0s", ascii("ab"), 3),
    "unpack_from requires a buffer of at least 3 bytes for unpacking 0 bytes at offset 3 (actual buffer size is 2)",
  );
  assert.throws(() => unpackFrom("h", bytes, 0.5), TypeError);
});

Deno.test("packInto writes at an offset, and a negative one counts from the end", () => {
  const buffer = new Uint8Array(3);
  packInto("<h", buffer, -2, 1);
  assert.equal(hex(buffer), "000100");
  packInto("<h", buffer, -3, 1);
  assert.equal(hex(buffer), "010000");
  throwsStruct(
    () => packInto("h", buffer, -1, 1),
    "no space to pack 2 bytes at offset -1",
  );
  throwsStruct(
    () => packInto("h", new Uint8Array(1), -5, 1),
    "offset -5 out of range for 1-byte buffer",
  );
  throwsStruct(
    () => packInto("h", buffer, 2, 1),
    "pack_into requires a buffer of at least 4 bytes for packing 2 bytes at offset 2 (actual buffer size is 3)",
  );
  throwsStruct(
    () => packInto("h", buffer, 0),
    "pack_into expected 1 items for packing (got 0)",
  );
  assert.throws(() => packInto("h", buffer, 1.5, 1), TypeError);
});

Deno.test("packInto zeroes the struct's bytes and keeps fields before a bad value", () => {
  const buffer = new Uint8Array(8).fill(0xff);
  throwsStruct(
    () => packInto("2s h h", buffer, 0, ascii("a"), 1, 1.5),
    "required argument is not an integer",
  );
  assert.equal(hex(buffer), "610001000000ffff");
  const big = new Uint8Array(200).fill(0xff);
  packInto("<b x 100s", big, 1, 1, ascii("z"));
  assert.equal(hex(big.subarray(0, 5)), "ff01007a00");
  assert.equal(big[103], 0xff);
  assert.equal(big[102], 0);
});

Deno.test("packInto keeps CPython's truncated big-endian q after an overflow", () => {
  const buffer = new Uint8Array(8).fill(0xee);
  throwsStruct(
    () => packInto(">q", buffer, 0, 2n ** 100n + 0x0102n),
    "'q' format requires -9223372036854775808 <= number <= 9223372036854775807",
  );
  assert.equal(hex(buffer), "0000000000000102");
  buffer.fill(0xee);
  assert.throws(() => packInto("<q", buffer, 0, 2n ** 100n), StructError);
  assert.equal(hex(buffer), "0000000000000000");
});

Deno.test("iterUnpack yields each struct and checks the length up front", () => {
  assert.deepEqual([...iterUnpack("<h", fromHex("01000200ffff"))], [[1], [2], [
    -1,
  ]]);
  assert.deepEqual([...iterUnpack("<h", new Uint8Array(0))], []);
  throwsStruct(
    () => iterUnpack("h", ascii("abc")),
    "iterative unpacking requires a buffer of a multiple of 2 bytes",
  );
  throwsStruct(
    () => iterUnpack("", ascii("abc")),
    "cannot iteratively unpack with a struct of length 0",
  );
  const s = new Struct("BB");
  assert.deepEqual([...s.iterUnpack(fromHex("01020304"))], [[1, 2], [3, 4]]);
});

Deno.test("pack results are separate even though small ones share a pool", () => {
  const a = pack("<I", 1);
  const b = pack("<I", 2);
  a[0] = 9;
  assert.equal(hex(b), "02000000");
  assert.equal(hex(a), "09000000");
  const large = pack("600s", ascii("x"));
  assert.equal(large.byteOffset, 0);
  assert.equal(large.buffer.byteLength, 600);
  const [text] = unpack("3s", ascii("abc"));
  (text as Uint8Array)[0] = 0;
  assert.deepEqual(unpack("3s", ascii("abc")), [ascii("abc")]);
});

Deno.test("pack keeps working after a caller transfers the pool's buffer", () => {
  const packed = pack("<I", 1);
  const pool = packed.buffer as ArrayBuffer;
  structuredClone(pool, { transfer: [pool] });
  assert.equal(packed.byteLength, 0);
  assert.equal(hex(pack("<I", 5)), "05000000");
});

Deno.test("a failed pack leaves no dirty bytes for the next one", () => {
  for (let i = 0; i < 3000; i++) {
    assert.throws(() => pack("<Qh", 2n ** 64n - 1n, 1.5), StructError);
    assert.equal(hex(pack("<4x")), "00000000");
  }
});

Deno.test("the module functions keep working past the format cache's limit", () => {
  for (let n = 1; n <= 250; n++) assert.equal(calcsize(`${n}x`), n);
  for (let n = 1; n <= 250; n++) {
    assert.equal(pack(`${n}s`, ascii("a")).length, n);
  }
});

Deno.test("unpack inverts pack for any in-range values of a standard format", () => {
  const field = fc.oneof(
    fc.integer({ min: -128, max: 127 }).map((v) => ["b", v] as const),
    fc.integer({ min: 0, max: 65535 }).map((v) => ["H", v] as const),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((v) =>
      ["i", v] as const
    ),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((v) =>
      ["q", v] as const
    ),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((v) => ["Q", v] as const),
    fc.double({ noNaN: true }).map((v) => ["d", v] as const),
    fc.float({ noNaN: true }).map((v) => ["f", v] as const),
    fc.boolean().map((v) => ["?", v] as const),
    fc.uint8Array({ maxLength: 6 }).map((v) => ["6s", v] as const),
  );
  fc.assert(
    fc.property(
      fc.constantFrom("<", ">", "=", "!"),
      fc.array(field, { maxLength: 8 }),
      (order, fields) => {
        const format = order + fields.map(([char]) => char).join("");
        const values = fields.map(([, value]) => value);
        const back = unpack(format, pack(format, ...values));
        const expected = fields.map(([char, value]) =>
          char === "6s" ? padded(value as Uint8Array, 6) : value
        );
        assert.deepEqual(back, expected);
      },
    ),
  );
});

function padded(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out.set(bytes);
  return out;
}

// Formats of up to 64 values run generated code; more run the generic loops.
// Appending 65 `?` fields (no alignment, never failing) to a format keeps its
// layout but makes it generic, so the two paths can be compared on anything.
const GENERIC_TAIL = "65?";
const tail = (): unknown[] => new Array(65).fill(false);

function outcome(fn: () => unknown): unknown {
  try {
    return { value: fn() };
  } catch (error) {
    assert.ok(error instanceof Error);
    return { error: error.constructor.name, message: error.message };
  }
}

Deno.test("generated pack and unpack match the generic path on any values", () => {
  const value = fc.oneof(
    fc.constantFrom<unknown>(
      0,
      -0,
      NaN,
      Infinity,
      -Infinity,
      0.5,
      -1,
      127,
      128,
      255,
      256,
      -129,
      32767,
      65536,
      2 ** 31,
      2 ** 32,
      -(2 ** 31) - 1,
      2 ** 53,
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
      1e300,
      65520,
      -(2n ** 63n) - 1n,
      2n ** 64n,
      2n ** 63n,
      -1n,
      5n,
      true,
      false,
      null,
      undefined,
      "",
      "x",
      {},
      [],
    ),
    fc.integer(),
    fc.double(),
    fc.bigInt({ min: -(2n ** 65n), max: 2n ** 65n }),
    fc.uint8Array({ maxLength: 6 }),
  );
  const item = fc.tuple(
    fc.constantFrom("", "", "1", "2", "3", "0"),
    fc.constantFrom(..."xcbB?hHiIlLqQnNefdspP"),
  );
  const format = fc.tuple(
    fc.constantFrom("", "@", "=", "<", ">", "!"),
    fc.array(item, { maxLength: 8 }),
  ).map(([prefix, items]) => {
    const native = prefix === "" || prefix === "@";
    const body = items.filter(([, c]) => native || !"nNP".includes(c))
      .map(([n, c]) => n + c).join("");
    return prefix + body;
  });
  fc.assert(
    fc.property(
      format,
      fc.array(value, { minLength: 64, maxLength: 64 }),
      fc.uint8Array({ minLength: 600, maxLength: 600 }),
      fc.integer({ min: 0, max: 8 }),
      (fmt, pool, random, offset) => {
        const fast = new Struct(fmt);
        const slow = new Struct(fmt + GENERIC_TAIL);
        const values = pool.slice(0, countItems(fmt));
        const packed = outcome(() => [...fast.pack(...values)]);
        const packedSlow = outcome(() =>
          [...slow.pack(...values, ...tail())].slice(0, fast.size)
        );
        assert.deepEqual(packed, packedSlow);

        const a = random.slice(0, fast.size + 80);
        const b = a.slice();
        const into = outcome(() => fast.packInto(a, offset, ...values));
        const intoSlow = outcome(() =>
          slow.packInto(b, offset, ...values, ...tail())
        );
        assert.deepEqual(into, intoSlow);
        assert.deepEqual(
          a.subarray(0, offset + fast.size),
          b.subarray(0, offset + fast.size),
        );

        const bytes = random.slice(0, fast.size);
        const wide = new Uint8Array(slow.size);
        wide.set(bytes);
        assert.deepEqual(
          fast.unpack(bytes),
          slow.unpack(wide).slice(0, -65),
        );
      },
    ),
    { numRuns: 2000 },
  );
});

function countItems(format: string): number {
  let count = 0;
  for (const [, digits, char] of format.matchAll(/(\d*)([a-zA-Z?])/g)) {
    if (char === "x") continue;
    count += char === "s" || char === "p" ? 1 : Number(digits || 1);
  }
  return count;
}

Deno.test("generated pack copies bytes that overlap the target like the generic path", () => {
  // Sizes above 64 bytes write straight into the target on both paths.
  for (const size of [1, 70]) {
    const fast = new Struct(`<${size}s 64x`);
    const slow = new Struct(`<${size}s${GENERIC_TAIL}`);
    const a = Uint8Array.from({ length: size + 80 }, (_, i) => i + 1);
    const b = a.slice();
    fast.packInto(a, 2, a.subarray(0, size));
    slow.packInto(b, 2, b.subarray(0, size), ...tail());
    assert.deepEqual(a.subarray(0, size + 2), b.subarray(0, size + 2));
    const c = a.slice();
    const d = a.slice();
    fast.packInto(c, 0, c.subarray(2, size + 2));
    slow.packInto(d, 0, d.subarray(2, size + 2), ...tail());
    assert.deepEqual(c.subarray(0, size), d.subarray(0, size));
  }
});
