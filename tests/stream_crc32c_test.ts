import assert from "node:assert/strict";
import fc from "fast-check";
import { crc32c, crc32cUpdate } from "../lib/stream/crc32c.ts";

Deno.test("crc32c matches the test vectors of RFC 3720 B.4", () => {
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(
    crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)),
    0x46dd794e,
  );
  assert.equal(
    crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)),
    0x113fdb5c,
  );
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

Deno.test("crc32c over slices of eight equals the bitwise definition", () => {
  const bitwise = (bytes: Uint8Array) => {
    let c = 0xffffffff;
    for (const b of bytes) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    }
    return ~c >>> 0;
  };
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.nat(300),
      (bytes, cut) => {
        assert.equal(crc32c(bytes), bitwise(bytes));
        const at = Math.min(cut, bytes.length);
        assert.equal(
          crc32cUpdate(
            crc32cUpdate(0, bytes.subarray(0, at)),
            bytes.subarray(at),
          ),
          crc32c(bytes),
        );
      },
    ),
  );
});
