import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import fc from "fast-check";
import {
  deriveStreamKeys,
  hkdfSha256,
  RECEIVER_TO_SENDER_INFO,
  SENDER_TO_RECEIVER_INFO,
} from "../lib/crypto/mod.ts";
import { hex as toHex } from "./_hex.ts";

function range(from: number, to: number): Uint8Array {
  return Uint8Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

// RFC 5869, Appendix A: test cases 1 to 3 are HKDF-SHA256.
const CASES = [
  {
    n: 1,
    ikm: new Uint8Array(22).fill(0x0b),
    salt: range(0x00, 0x0c),
    info: range(0xf0, 0xf9),
    okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf" +
      "34007208d5b887185865",
  },
  {
    n: 2,
    ikm: range(0x00, 0x4f),
    salt: range(0x60, 0xaf),
    info: range(0xb0, 0xff),
    okm: "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c" +
      "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71" +
      "cc30c58179ec3e87c14c01d5c1f3434f1d87",
  },
  {
    n: 3,
    ikm: new Uint8Array(22).fill(0x0b),
    salt: new Uint8Array(0),
    info: new Uint8Array(0),
    okm: "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d" +
      "9d201395faa4b61a96c8",
  },
];

Deno.test("hkdfSha256 reproduces RFC 5869 test cases 1 to 3", () => {
  for (const c of CASES) {
    const okm = hkdfSha256(c.ikm, c.salt, c.info, c.okm.length / 2);
    assert.equal(toHex(okm), c.okm, `case ${c.n}`);
  }
});

/** RFC 5869 written out with HMAC, as the definition to compare against. */
function hkdfByHand(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  const prk = createHmac("sha256", salt.length > 0 ? salt : new Uint8Array(32))
    .update(ikm).digest();
  const out = new Uint8Array(length);
  let previous = new Uint8Array(0);
  for (let i = 1, at = 0; at < length; i++) {
    previous = new Uint8Array(
      createHmac("sha256", prk).update(previous).update(info).update(
        new Uint8Array([i]),
      ).digest(),
    );
    out.set(previous.subarray(0, length - at), at);
    at += previous.length;
  }
  return out;
}

Deno.test("hkdfSha256 matches RFC 5869's extract-then-expand written with HMAC", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 80 }),
      fc.uint8Array({ maxLength: 80 }),
      fc.uint8Array({ maxLength: 80 }),
      fc.integer({ min: 1, max: 300 }),
      (ikm, salt, info, length) => {
        assert.deepEqual(
          hkdfSha256(ikm, salt, info, length),
          hkdfByHand(ikm, salt, info, length),
        );
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("hkdfSha256 takes info as text, and refuses lengths past 255 blocks", () => {
  const ikm = new Uint8Array(32).fill(1);
  assert.deepEqual(
    hkdfSha256(ikm, new Uint8Array(0), "udpimg", 32),
    hkdfSha256(ikm, new Uint8Array(0), new TextEncoder().encode("udpimg"), 32),
  );
  assert.equal(hkdfSha256(ikm, new Uint8Array(0), "", 0).length, 0);
  assert.equal(hkdfSha256(ikm, new Uint8Array(0), "", 8160).length, 8160);
  assert.throws(() => hkdfSha256(ikm, new Uint8Array(0), "", 8161), RangeError);
  assert.throws(() => hkdfSha256(ikm, new Uint8Array(0), "", -1), RangeError);
});

Deno.test("deriveStreamKeys is HKDF-SHA256 with an empty salt and the two documented info strings", () => {
  assert.equal(SENDER_TO_RECEIVER_INFO, "udpimg v1 sender-to-receiver");
  assert.equal(RECEIVER_TO_SENDER_INFO, "udpimg v1 receiver-to-sender");
  const shared = range(0, 31);
  const keys = deriveStreamKeys(shared);
  const text = (s: string) => new TextEncoder().encode(s);
  assert.deepEqual(
    keys.senderToReceiver,
    hkdfByHand(shared, new Uint8Array(0), text(SENDER_TO_RECEIVER_INFO), 32),
  );
  assert.deepEqual(
    keys.receiverToSender,
    hkdfByHand(shared, new Uint8Array(0), text(RECEIVER_TO_SENDER_INFO), 32),
  );
  assert.notDeepEqual(keys.senderToReceiver, keys.receiverToSender);
  assert.notDeepEqual(keys.senderToReceiver, shared);
  // The vector docs/PROTOCOL.md gives (shared key 00 01 … 1f), computed
  // with Python's hmac module.
  assert.equal(
    toHex(keys.senderToReceiver),
    "6fa24dede535569321836bd9db5a247ad75dcac2b1dd219b00ab62a480ffee81",
  );
  assert.equal(
    toHex(keys.receiverToSender),
    "fdfa4573911a1ddb3a5c09e2994fa0fc577bdd0c24479a5a98593b0383fb7d26",
  );
  assert.throws(() => deriveStreamKeys(new Uint8Array(31)), RangeError);
});
