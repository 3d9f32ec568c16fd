/**
 * CPython's `struct` module: packs values into bytes and unpacks them by a
 * format string, byte for byte and error for error as CPython 3.13 on 64-bit
 * Linux does. The tutorial's frame header is `pack("l", n)`: a native 8-byte
 * little-endian signed integer.
 *
 * Byte order, size and alignment come from the first character:
 *
 * | Char       | Byte order    | Size     | Alignment |
 * | ---------- | ------------- | -------- | --------- |
 * | `@` (none) | native (LE)   | native   | native    |
 * | `=`        | native (LE)   | standard | none      |
 * | `<`        | little-endian | standard | none      |
 * | `>` or `!` | big-endian    | standard | none      |
 *
 * | Format  | Packs from                 | Unpacks to   | Native | Standard |
 * | ------- | -------------------------- | ------------ | ------ | -------- |
 * | `x`     | (no value, a zero byte)    |              | 1      | 1        |
 * | `c`     | Uint8Array of length 1     | Uint8Array   | 1      | 1        |
 * | `b` `B` | integer                    | number       | 1      | 1        |
 * | `?`     | anything, by Python truth  | boolean      | 1      | 1        |
 * | `h` `H` | integer                    | number       | 2      | 2        |
 * | `i` `I` | integer                    | number       | 4      | 4        |
 * | `l` `L` | integer                    | see below    | 8      | 4        |
 * | `q` `Q` | integer                    | bigint       | 8      | 8        |
 * | `n` `N` | integer                    | bigint       | 8      | (error)  |
 * | `e`     | number                     | number       | 2      | 2        |
 * | `f`     | number                     | number       | 4      | 4        |
 * | `d`     | number                     | number       | 8      | 8        |
 * | `s` `p` | Uint8Array                 | Uint8Array   | count  | count    |
 * | `P`     | integer                    | bigint       | 8      | (error)  |
 *
 * Native `l` and `L` unpack to bigint, standard ones to number. An integer is
 * a bigint, an integral number, or a boolean (Python's bool is
 * an int); a float field also takes a bigint or a boolean. A count before a
 * format character repeats it (`4s` is a 4-byte string), and whitespace
 * between items is ignored.
 *
 * Byte results (from pack, and `c`, `s`, `p` values from unpack) of up to
 * 512 bytes are views into a shared 8 KiB pool, as Node's `Buffer` does,
 * because allocating an ArrayBuffer per result costs Deno ten times a whole
 * pack. Each result has its own bytes, but `result.buffer` is shared: use
 * `byteOffset` and `byteLength` with it, and do not transfer it.
 *
 * Where CPython raises `struct.error` or `OverflowError`, these functions
 * throw {@linkcode StructError} with CPython's message. Compiled formats are
 * cached, so calling the functions repeatedly with one format parses it once.
 *
 * The functions keep Python's signatures (format first, then values), which
 * take more than two positional arguments.
 *
 * @example The tutorial's frame header
 * ```ts
 * import { pack, unpack } from "./struct.ts";
 * import assert from "node:assert/strict";
 *
 * const header = pack("l", 123456);
 * assert.deepEqual([...header], [0x40, 0xe2, 0x01, 0, 0, 0, 0, 0]);
 * assert.deepEqual(unpack("l", header), [123456n]);
 * ```
 *
 * @module
 */

import { type CompiledFormat, compileFormat } from "./_format.ts";
import { StructError } from "./_error.ts";
import { readFields, type StructValue, writeFields } from "./_fields.ts";
import { pool, POOL_MAX_RESULT } from "./_pool.ts";
import { type FastPack, type FastUnpack, generateCodecs } from "./_codegen.ts";

export { StructError };
export type { StructValue };

/** Bytes that can be unpacked from or packed into. */
export type StructBuffer = ArrayBufferLike | ArrayBufferView;

// Small reads and pack_into writes go through one scratch buffer, which is
// cheaper than creating a DataView over the caller's bytes.
const SCRATCH_BYTES = 64;
const scratch = new ArrayBuffer(SCRATCH_BYTES);
const scratchView = new DataView(scratch);
const scratchBytes = new Uint8Array(scratch);

/**
 * A compiled format with its generated pack and unpack functions, which
 * formats with many values do not have.
 */
interface Format extends CompiledFormat {
  readonly fastPack: FastPack | undefined;
  readonly fastUnpack: FastUnpack | undefined;
}

function prepare(format: string): Format {
  const compiled = compileFormat(format);
  const codecs = generateCodecs(compiled);
  return {
    ...compiled,
    fastPack: codecs?.pack,
    fastUnpack: codecs?.unpack,
  };
}

/** Reads one record at `start` with the generated code, or the generic. */
function read(
  compiled: Format,
  view: DataView,
  bytes: Uint8Array,
  start: number,
): StructValue[] {
  if (compiled.fastUnpack !== undefined) {
    return compiled.fastUnpack(view, bytes, start);
  }
  const out: StructValue[] = [];
  readFields(compiled.ops, view, bytes, start, out);
  return out;
}

/** Writes one record at `start` with the generated code, or the generic. */
function write(
  compiled: Format,
  view: DataView,
  bytes: Uint8Array,
  start: number,
  values: readonly unknown[],
): void {
  const fast = compiled.fastPack;
  if (fast === undefined || !fast(view, bytes, start, values)) {
    // The generic path rewrites what the fast one wrote before it gave up.
    writeFields(compiled.ops, view, bytes, start, values, 0);
  }
}

function bytesOf(buffer: StructBuffer, what: string): Uint8Array {
  if (buffer instanceof Uint8Array) return buffer;
  if (ArrayBuffer.isView(buffer)) {
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  if (
    buffer instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer === "function" &&
      buffer instanceof SharedArrayBuffer)
  ) {
    return new Uint8Array(buffer);
  }
  throw new TypeError(
    `Cannot ${what}: expected an ArrayBuffer or a typed array, got ${typeof buffer}`,
  );
}

function checkOffset(offset: number): void {
  if (!Number.isInteger(offset)) {
    throw new TypeError(`Cannot use offset ${offset}: expected an integer`);
  }
}

function unpackAt(
  compiled: Format,
  bytes: Uint8Array,
  start: number,
): StructValue[] {
  const size = compiled.size;
  if (size <= SCRATCH_BYTES) {
    for (let k = 0; k < size; k++) scratchBytes[k] = bytes[start + k]!;
    return read(compiled, scratchView, scratchBytes, 0);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return read(compiled, view, bytes, start);
}

function* iterate(
  compiled: Format,
  bytes: Uint8Array,
): Generator<StructValue[], void, undefined> {
  for (let pos = 0; pos + compiled.size <= bytes.byteLength;) {
    yield unpackAt(compiled, bytes, pos);
    pos += compiled.size;
  }
}

function packValues(
  compiled: Format,
  values: readonly unknown[],
): Uint8Array {
  if (values.length !== compiled.itemCount) {
    throw new StructError(
      `pack expected ${compiled.itemCount} items for packing (got ${values.length})`,
    );
  }
  const size = compiled.size;
  if (size > POOL_MAX_RESULT) {
    const bytes = new Uint8Array(size);
    write(compiled, new DataView(bytes.buffer), bytes, 0, values);
    return bytes;
  }
  const start = pool.reserve(size);
  write(compiled, pool.view, pool.bytes, start, values);
  return new Uint8Array(pool.buffer, start, size);
}

function packValuesInto(
  compiled: Format,
  buffer: StructBuffer,
  offset: number,
  values: readonly unknown[],
): void {
  if (values.length !== compiled.itemCount) {
    throw new StructError(
      `pack_into expected ${compiled.itemCount} items for packing (got ${values.length})`,
    );
  }
  const bytes = bytesOf(buffer, "pack into buffer");
  checkOffset(offset);
  const size = compiled.size;
  const length = bytes.byteLength;
  if (offset < 0) {
    if (offset + size > 0) {
      throw new StructError(
        `no space to pack ${size} bytes at offset ${offset}`,
      );
    }
    if (offset + length < 0) {
      throw new StructError(
        `offset ${offset} out of range for ${length}-byte buffer`,
      );
    }
    offset += length;
  }
  if (length - offset < size) {
    throw new StructError(
      `pack_into requires a buffer of at least ${
        size + offset
      } bytes for packing ${size} bytes at offset ${offset} (actual buffer size is ${length})`,
    );
  }
  if (size <= SCRATCH_BYTES) {
    for (let k = 0; k < size; k++) scratchBytes[k] = 0;
    try {
      write(compiled, scratchView, scratchBytes, 0, values);
    } finally {
      for (let k = 0; k < size; k++) bytes[offset + k] = scratchBytes[k]!;
    }
  } else {
    bytes.fill(0, offset, offset + size);
    const view = new DataView(bytes.buffer, bytes.byteOffset, length);
    write(compiled, view, bytes, offset, values);
  }
}

function unpackValues(
  compiled: Format,
  buffer: StructBuffer,
): StructValue[] {
  const bytes = bytesOf(buffer, "unpack");
  if (bytes.byteLength !== compiled.size) {
    throw new StructError(
      `unpack requires a buffer of ${compiled.size} bytes`,
    );
  }
  return unpackAt(compiled, bytes, 0);
}

function unpackValuesFrom(
  compiled: Format,
  buffer: StructBuffer,
  offset: number,
): StructValue[] {
  const bytes = bytesOf(buffer, "unpack");
  checkOffset(offset);
  const size = compiled.size;
  const length = bytes.byteLength;
  if (offset < 0) {
    if (offset + size > 0) {
      throw new StructError(
        `not enough data to unpack ${size} bytes at offset ${offset}`,
      );
    }
    if (offset + length < 0) {
      throw new StructError(
        `offset ${offset} out of range for ${length}-byte buffer`,
      );
    }
    offset += length;
  }
  if (length - offset < size) {
    throw new StructError(
      `unpack_from requires a buffer of at least ${
        size + offset
      } bytes for unpacking ${size} bytes at offset ${offset} (actual buffer size is ${length})`,
    );
  }
  return unpackAt(compiled, bytes, offset);
}

function iterUnpackValues(
  compiled: Format,
  buffer: StructBuffer,
): IterableIterator<StructValue[]> {
  const bytes = bytesOf(buffer, "unpack");
  if (compiled.size === 0) {
    throw new StructError(
      "cannot iteratively unpack with a struct of length 0",
    );
  }
  if (bytes.byteLength % compiled.size !== 0) {
    throw new StructError(
      `iterative unpacking requires a buffer of a multiple of ${compiled.size} bytes`,
    );
  }
  return iterate(compiled, bytes);
}

/**
 * A compiled struct format, like Python's `struct.Struct`.
 *
 * @example Packing and unpacking a big-endian record
 * ```ts
 * import { Struct } from "./struct.ts";
 * import assert from "node:assert/strict";
 *
 * const record = new Struct(">H4sd");
 * assert.equal(record.size, 14);
 * const bytes = record.pack(7, new TextEncoder().encode("abcd"), 0.5);
 * const [id, name, value] = record.unpack(bytes);
 * assert.equal(id, 7);
 * assert.deepEqual(name, new TextEncoder().encode("abcd"));
 * assert.equal(value, 0.5);
 * ```
 */
export class Struct {
  readonly #format: string;
  readonly #compiled: Format;

  /**
   * Compiles a format string.
   *
   * @param format The format, e.g. `"<hhl"`.
   * @throws {StructError} When the format is not valid, with CPython's message
   * (`bad char in struct format`, `repeat count given without format
   * specifier`, `embedded null character`, `total struct size too long`).
   * Sizes above `Number.MAX_SAFE_INTEGER` count as too long, where CPython
   * allows up to 2**63 - 1.
   */
  constructor(format: string) {
    if (typeof format !== "string") {
      throw new TypeError(
        `Cannot compile struct format: expected a string, got ${typeof format}`,
      );
    }
    this.#format = format;
    this.#compiled = prepare(format);
  }

  /**
   * The format string this struct was compiled from.
   *
   * @example Reading the format
   * ```ts
   * import { Struct } from "./struct.ts";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new Struct("<h").format, "<h");
   * ```
   *
   * @returns The format string.
   */
  get format(): string {
    return this.#format;
  }

  /**
   * The number of bytes that pack produces and unpack takes.
   *
   * @example Native alignment pads
   * ```ts
   * import { Struct } from "./struct.ts";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new Struct("@bi").size, 8);
   * assert.equal(new Struct("=bi").size, 5);
   * ```
   *
   * @returns The size in bytes.
   */
  get size(): number {
    return this.#compiled.size;
  }

  /**
   * Packs values into new bytes.
   *
   * Results of up to 512 bytes are views into a shared 8 KiB pool, as Node's
   * `Buffer` does: each has its own bytes, but `result.buffer` is shared, so
   * use `byteOffset` and `byteLength` with it and do not transfer it.
   *
   * @example Packing two shorts
   * ```ts
   * import { Struct } from "./struct.ts";
   * import assert from "node:assert/strict";
   *
   * assert.deepEqual([...new Struct("<hh").pack(1, -2)], [1, 0, 0xfe, 0xff]);
   * ```
   *
   * @param values One value per format item (none for `x`).
   * @returns The packed bytes, `size` long.
   * @throws {StructError} When the count of values is wrong or a value does
   * not fit its field.
   */
  pack(...values: unknown[]): Uint8Array {
    return packValues(this.#compiled, values);
  }

  /**
   * Packs values into `buffer` at `offset`, like Python's `pack_into`. A
   * negative offset counts from the end of the buffer. The struct's bytes
   * are zeroed first; on a bad value the fields before it stay written, as
   * in CPython.
   *
   * @example Writing a header in place
   * ```ts
   * import { Struct } from "./struct.ts";
   * import assert from "node:assert/strict";
   *
   * const datagram = new Uint8Array(10);
   * new Struct("<H").packInto(datagram, -2, 0xabcd);
   * assert.deepEqual([...datagram.subarray(8)], [0xcd, 0xab]);
   * ```
   *
   * @param buffer Where to write.
   * @param offset Byte offset in `buffer`; negative counts from the end.
   * @param values One value per format item.
   * @throws {StructError} When the count of values is wrong, the struct does
   * not fit at `offset`, or a value does not fit its field.
   * @throws {TypeError} When `offset` is not an integer.
   */
  packInto(buffer: StructBuffer, offset: number, ...values: unknown[]): void {
    packValuesInto(this.#compiled, buffer, offset, values);
  }

  /**
   * Unpacks bytes that are exactly `size` long.
   *
   * @example Reading the tutorial's header
   * ```ts
   * import { Struct } from "./struct.ts";
   * import assert from "node:assert/strict";
   *
   * const header = new Uint8Array([0x40, 0xe2, 0x01, 0, 0, 0, 0, 0]);
   * assert.deepEqual(new Struct("l").unpack(header), [123456n]);
   * ```
   *
   * @param buffer The bytes to unpack.
   * @returns One value per format item.
   * @throws {StructError} When `buffer` is not `size` bytes long.
   */
  unpack(buffer: StructBuffer): StructValue[] {
    return unpackValues(this.#compiled, buffer);
  }

  /**
   * Unpacks `size` bytes from `buffer` at `offset`, like Python's
   * `unpack_from`; the buffer may be longer. A negative offset counts from
   * the end.
   *
   * @example Reading a field after a prefix
   * ```ts
   * import { Struct } from "./struct.ts";
   * import assert from "node:assert/strict";
   *
   * const bytes = new Uint8Array([9, 9, 1, 0]);
   * assert.deepEqual(new Struct("<H").unpackFrom(bytes, 2), [1]);
   * assert.deepEqual(new Struct("<H").unpackFrom(bytes, -2), [1]);
   * ```
   *
   * @param buffer The bytes to read.
   * @param offset Byte offset in `buffer`; negative counts from the end.
   * @returns One value per format item.
   * @throws {StructError} When the struct does not fit at `offset`.
   * @throws {TypeError} When `offset` is not an integer.
   */
  unpackFrom(buffer: StructBuffer, offset = 0): StructValue[] {
    return unpackValuesFrom(this.#compiled, buffer, offset);
  }

  /**
   * Unpacks consecutive structs from a buffer whose length is a multiple of
   * `size`, like Python's `iter_unpack`. The length is checked at once; the
   * values are read as the iterator advances.
   *
   * @example Reading an array of points
   * ```ts
   * import { Struct } from "./struct.ts";
   * import assert from "node:assert/strict";
   *
   * const bytes = new Uint8Array([1, 2, 3, 4]);
   * assert.deepEqual([...new Struct("BB").iterUnpack(bytes)], [[1, 2], [3, 4]]);
   * ```
   *
   * @param buffer The bytes to read.
   * @returns An iterator of value arrays, one per struct.
   * @throws {StructError} When `size` is 0 or does not divide the length.
   */
  iterUnpack(buffer: StructBuffer): IterableIterator<StructValue[]> {
    return iterUnpackValues(this.#compiled, buffer);
  }
}

// CPython's _struct keeps at most 100 formats and clears them all when full.
const MAX_CACHED = 100;
const cache = new Map<string, Format>();

function compiled(format: string): Format {
  let found = cache.get(format);
  if (found === undefined) {
    if (typeof format !== "string") {
      throw new TypeError(
        `Cannot compile struct format: expected a string, got ${typeof format}`,
      );
    }
    found = prepare(format);
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(format, found);
  }
  return found;
}

/**
 * Returns the size in bytes of a format, like Python's `struct.calcsize`.
 *
 * @example Native and standard sizes of `l`
 * ```ts
 * import { calcsize } from "./struct.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(calcsize("l"), 8);
 * assert.equal(calcsize("<l"), 4);
 * ```
 *
 * @param format A struct format string.
 * @returns The number of bytes.
 * @throws {StructError} When the format is not valid.
 */
export function calcsize(format: string): number {
  return compiled(format).size;
}

/**
 * Packs values by a format, like Python's `struct.pack`. Small results share
 * an 8 KiB backing buffer; see {@linkcode Struct.prototype.pack}.
 *
 * @example Packing the tutorial's header
 * ```ts
 * import { pack } from "./struct.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...pack("l", 1024)], [0, 4, 0, 0, 0, 0, 0, 0]);
 * ```
 *
 * @param format A struct format string.
 * @param values One value per format item.
 * @returns The packed bytes.
 * @throws {StructError} When the format is not valid, the count of values is
 * wrong, or a value does not fit its field.
 */
export function pack(format: string, ...values: unknown[]): Uint8Array {
  return packValues(compiled(format), values);
}

/**
 * Unpacks bytes of exactly the format's size, like Python's `struct.unpack`.
 *
 * @example Unpacking a big-endian short and a bool
 * ```ts
 * import { unpack } from "./struct.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(unpack(">h?", new Uint8Array([0xff, 0xfe, 1])), [-2, true]);
 * ```
 *
 * @param format A struct format string.
 * @param buffer The bytes to unpack.
 * @returns One value per format item.
 * @throws {StructError} When the format is not valid or the length differs.
 */
export function unpack(format: string, buffer: StructBuffer): StructValue[] {
  return unpackValues(compiled(format), buffer);
}

/**
 * Packs values into a buffer at an offset, like Python's `struct.pack_into`.
 *
 * @example Filling a buffer in place
 * ```ts
 * import { packInto } from "./struct.ts";
 * import assert from "node:assert/strict";
 *
 * const buffer = new Uint8Array(4);
 * packInto(">H", buffer, 1, 0x0102);
 * assert.deepEqual([...buffer], [0, 1, 2, 0]);
 * ```
 *
 * @param format A struct format string.
 * @param buffer Where to write.
 * @param offset Byte offset; negative counts from the end.
 * @param values One value per format item.
 * @throws {StructError} When the format is not valid, the count of values is
 * wrong, the struct does not fit, or a value does not fit its field.
 */
export function packInto(
  format: string,
  buffer: StructBuffer,
  offset: number,
  ...values: unknown[]
): void {
  packValuesInto(compiled(format), buffer, offset, values);
}

/**
 * Unpacks a struct from a buffer at an offset, like Python's
 * `struct.unpack_from`.
 *
 * @example Reading a length after a one-byte tag
 * ```ts
 * import { unpackFrom } from "./struct.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(unpackFrom("<I", new Uint8Array([7, 16, 0, 0, 0]), 1), [16]);
 * ```
 *
 * @param format A struct format string.
 * @param buffer The bytes to read.
 * @param offset Byte offset, 0 by default; negative counts from the end.
 * @returns One value per format item.
 * @throws {StructError} When the format is not valid or does not fit.
 */
export function unpackFrom(
  format: string,
  buffer: StructBuffer,
  offset = 0,
): StructValue[] {
  return unpackValuesFrom(compiled(format), buffer, offset);
}

/**
 * Iterates over consecutive structs in a buffer, like Python's
 * `struct.iter_unpack`.
 *
 * @example Summing little-endian shorts
 * ```ts
 * import { iterUnpack } from "./struct.ts";
 * import assert from "node:assert/strict";
 *
 * let sum = 0;
 * for (const [n] of iterUnpack("<h", new Uint8Array([1, 0, 2, 0]))) {
 *   sum += n as number;
 * }
 * assert.equal(sum, 3);
 * ```
 *
 * @param format A struct format string.
 * @param buffer The bytes to read; its length must be a multiple of the size.
 * @returns An iterator of value arrays.
 * @throws {StructError} When the format is not valid, its size is 0, or it
 * does not divide the buffer's length.
 */
export function iterUnpack(
  format: string,
  buffer: StructBuffer,
): IterableIterator<StructValue[]> {
  return iterUnpackValues(compiled(format), buffer);
}
