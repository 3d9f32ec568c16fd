import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkNonce,
  MAX_COUNTER,
  NONCE_BYTES,
  readCounter,
  writeCounter,
  writeNonce,
} from "../lib/crypto/mod.ts";

Deno.test("writeNonce lays out the stream id, then the counter, big-endian", () => {
  const nonce = new Uint8Array(NONCE_BYTES + 2).fill(0xee);
  writeNonce(nonce, 0x01020304, 0x0005_0607_0809_0a0b, 1);
  assert.deepEqual(
    [...nonce],
    [0xee, 1, 2, 3, 4, 0, 5, 6, 7, 8, 9, 10, 11, 0xee],
  );
  writeNonce(nonce, 0xffffffff, MAX_COUNTER);
  assert.deepEqual(
    [...nonce.subarray(0, 12)],
    [0xff, 0xff, 0xff, 0xff, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  );
});

Deno.test("readCounter reads what writeCounter wrote, for every counter up to 2^53 - 1", () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), fc.nat({ max: 8 }), (counter, offset) => {
      const bytes = new Uint8Array(offset + 8);
      writeCounter(bytes, counter, offset);
      const view = new DataView(bytes.buffer);
      assert.equal(view.getBigUint64(offset), BigInt(counter));
      assert.equal(readCounter(bytes, offset), counter);
    }),
  );
});

Deno.test("readCounter gives -1 for a counter past 2^53 - 1, and throws for a short field", () => {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, 2n ** 53n);
  assert.equal(readCounter(bytes), -1);
  new DataView(bytes.buffer).setBigUint64(0, 2n ** 53n - 1n);
  assert.equal(readCounter(bytes), MAX_COUNTER);
  assert.equal(readCounter(new Uint8Array(8).fill(0xff)), -1);
  assert.throws(() => readCounter(new Uint8Array(7)), RangeError);
  assert.throws(() => readCounter(new Uint8Array(8), 1), RangeError);
});

Deno.test("checkNonce refuses stream ids past 32 bits and counters that are not safe integers", () => {
  checkNonce(0, 0);
  checkNonce(0xffffffff, MAX_COUNTER);
  for (const id of [-1, 2 ** 32, 1.5, NaN]) {
    assert.throws(() => checkNonce(id, 0), RangeError);
  }
  for (const counter of [-1, 2 ** 53, 0.5, NaN, Infinity]) {
    assert.throws(() => checkNonce(0, counter), RangeError);
  }
});
