import assert from "node:assert/strict";
import { createCipheriv } from "node:crypto";
import fc from "fast-check";
import {
  type Aead,
  createAead,
  createStreamAead,
  deriveStreamKeys,
  LibcryptoUnavailableError,
  TAG_BYTES,
} from "../lib/crypto/mod.ts";
import { LibcryptoGcm } from "../lib/crypto/libcrypto.ts";
import { NodeGcm } from "../lib/crypto/node_gcm.ts";
import type { GcmBackend } from "../lib/crypto/_backend.ts";
import { missing } from "./_deps.ts";
import { fromHex as hex, hex as toHex } from "./_hex.ts";
import { withTempDir } from "./_process.ts";

const noLibcrypto = missing("libcrypto");

// McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)", revised
// 2005, Appendix B, test cases 13 to 18: the AES-256 ones.
const K0 = "00".repeat(32);
const K = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
const P64 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
const P60 = P64.slice(0, 120);
const A20 = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
const C15 = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa" +
  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad";
const VECTORS = [
  {
    n: 13,
    key: K0,
    iv: "00".repeat(12),
    p: "",
    a: "",
    c: "",
    t: "530f8afbc74536b9a963b4f1c4cb738b",
  },
  {
    n: 14,
    key: K0,
    iv: "00".repeat(12),
    p: "00".repeat(16),
    a: "",
    c: "cea7403d4d606b6e074ec5d3baf39d18",
    t: "d0d1c8a799996bf0265b98b5d48ab919",
  },
  {
    n: 15,
    key: K,
    iv: "cafebabefacedbaddecaf888",
    p: P64,
    a: "",
    c: C15,
    t: "b094dac5d93471bdec1a502270e3cc6c",
  },
  {
    n: 16,
    key: K,
    iv: "cafebabefacedbaddecaf888",
    p: P60,
    a: A20,
    c: C15.slice(0, 120),
    t: "76fc6ece0f4e1768cddf8853bb2d551b",
  },
  {
    n: 17,
    key: K,
    iv: "cafebabefacedbad",
    p: P60,
    a: A20,
    c: "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0" +
      "feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
    t: "3a337dbf46a792c45e454913fe2ea8f2",
  },
  {
    n: 18,
    key: K,
    iv: "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728" +
      "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
    p: P60,
    a: A20,
    c: "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4" +
      "0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
    t: "a44a8266ee1c8eb0c8b5d4cf5ae9f19a",
  },
] as const;

type Backend = "libcrypto" | "node";

function backend(kind: Backend, key: Uint8Array, ivLength = 12): GcmBackend {
  return kind === "libcrypto"
    ? new LibcryptoGcm(key, { ivLength })
    : new NodeGcm(key);
}

for (const kind of ["libcrypto", "node"] as const) {
  Deno.test({
    name:
      `${kind} reproduces the AES-256-GCM test cases 13 to 18 of McGrew and Viega`,
    ignore: kind === "libcrypto" && noLibcrypto,
    fn() {
      for (const v of VECTORS) {
        const iv = hex(v.iv);
        const gcm = backend(kind, hex(v.key), iv.length);
        const a = hex(v.a), p = hex(v.p);
        // Lay the vector out as a datagram a few bytes into a buffer.
        const start = 3;
        const packet = new Uint8Array(
          start + a.length + p.length + TAG_BYTES + 5,
        )
          .fill(0xee);
        packet.set(a, start);
        packet.set(p, start + a.length);
        gcm.seal(iv, packet, start, a.length, p.length);
        const body = packet.subarray(start + a.length);
        assert.equal(
          toHex(body.subarray(0, p.length)),
          v.c,
          `case ${v.n} ciphertext`,
        );
        assert.equal(
          toHex(body.subarray(p.length, p.length + TAG_BYTES)),
          v.t,
          `case ${v.n} tag`,
        );
        assert.ok(
          gcm.open(iv, packet, start, a.length, p.length),
          `case ${v.n} opens`,
        );
        assert.equal(
          toHex(body.subarray(0, p.length)),
          v.p,
          `case ${v.n} plaintext`,
        );
        assert.deepEqual([...packet.subarray(0, start)], [0xee, 0xee, 0xee]);
        assert.deepEqual([...packet.subarray(-5)], [
          0xee,
          0xee,
          0xee,
          0xee,
          0xee,
        ]);
        gcm.close();
      }
    },
  });
}

const IMPLEMENTATIONS = noLibcrypto
  ? ["node"] as const
  : ["libcrypto", "node"] as const;

Deno.test("Aead gives test cases 13 and 14 for stream id 0, counter 0", () => {
  for (const implementation of IMPLEMENTATIONS) {
    using aead = createAead(new Uint8Array(32), { implementation });
    assert.equal(aead.implementation, implementation);
    const empty = new Uint8Array(TAG_BYTES);
    assert.equal(aead.seal(0, 0, empty, 0, 0), TAG_BYTES);
    assert.equal(toHex(empty), VECTORS[0].t);
    const block = new Uint8Array(16 + TAG_BYTES);
    assert.equal(aead.seal(0, 0, block, 0, 16), 32);
    assert.equal(toHex(block), VECTORS[1].c + VECTORS[1].t);
    assert.equal(aead.open(0, 0, block, 0, 32), 16);
    assert.deepEqual(block.subarray(0, 16), new Uint8Array(16));
  }
});

Deno.test("The nonce is the stream id then the counter, both big-endian", () => {
  const key = hex(K);
  const header = hex(A20), payload = hex(P60);
  const nonce = hex("cafebabe" + "001fedcba9876543");
  const reference = createCipheriv("aes-256-gcm", key, nonce);
  reference.setAAD(header);
  const expected = toHex(reference.update(payload)) +
    (reference.final(), toHex(reference.getAuthTag()));
  for (const implementation of IMPLEMENTATIONS) {
    using aead = createAead(key, { implementation });
    const packet = new Uint8Array(header.length + payload.length + TAG_BYTES);
    packet.set(header);
    packet.set(payload, header.length);
    aead.seal(
      0xcafebabe,
      0x1f_edcb_a987_6543,
      packet,
      header.length,
      payload.length,
    );
    assert.equal(
      toHex(packet.subarray(header.length)),
      expected,
      implementation,
    );
  }
});

/** A random datagram, laid out at a random place in a larger buffer. */
const datagram = fc.record({
  key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  streamId: fc.nat({ max: 0xffff_ffff }),
  counter: fc.oneof(fc.nat(), fc.maxSafeNat()),
  header: fc.uint8Array({ maxLength: 64 }),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.integer({ min: 0, max: 9000 }).map((n) =>
      crypto.getRandomValues(new Uint8Array(n))
    ),
  ),
  before: fc.nat({ max: 40 }),
  after: fc.nat({ max: 40 }),
});

type Datagram = typeof datagram extends fc.Arbitrary<infer T> ? T : never;

function layOut(d: Datagram): Uint8Array {
  const packet = new Uint8Array(
    d.before + d.header.length + d.payload.length + TAG_BYTES + d.after,
  ).fill(0xa5);
  packet.set(d.header, d.before);
  packet.set(d.payload, d.before + d.header.length);
  return packet;
}

function sealWith(aead: Aead, d: Datagram): Uint8Array {
  const packet = layOut(d);
  const length = aead.seal(
    d.streamId,
    d.counter,
    packet,
    d.header.length,
    d.payload.length,
    d.before,
  );
  assert.equal(length, d.header.length + d.payload.length + TAG_BYTES);
  return packet;
}

Deno.test({
  name:
    "libcrypto and node:crypto seal the same bytes, and each opens what the other sealed",
  ignore: noLibcrypto,
  fn() {
    fc.assert(
      fc.property(datagram, (d) => {
        using native = createAead(d.key, { implementation: "libcrypto" });
        using node = createAead(d.key, { implementation: "node" });
        const sealed = sealWith(native, d);
        assert.deepEqual(sealed, sealWith(node, d));
        const length = d.header.length + d.payload.length + TAG_BYTES;
        const untouched = (packet: Uint8Array) => {
          assert.ok(packet.subarray(0, d.before).every((b) => b === 0xa5));
          assert.ok(
            packet.subarray(d.before + length).every((b) => b === 0xa5),
          );
        };
        untouched(sealed);
        for (
          const [opener, name] of [[node, "node"], [
            native,
            "libcrypto",
          ]] as const
        ) {
          const packet = sealed.slice();
          assert.equal(
            opener.open(
              d.streamId,
              d.counter,
              packet,
              d.header.length,
              length,
              d.before,
            ),
            d.payload.length,
            name,
          );
          // The payload is plaintext again; the tag stays where it was.
          const expected = layOut(d);
          const tagStart = d.before + length - TAG_BYTES;
          expected.set(
            sealed.subarray(tagStart, tagStart + TAG_BYTES),
            tagStart,
          );
          assert.deepEqual(packet, expected, name);
        }
      }),
      { numRuns: 150 },
    );
  },
});

Deno.test("A flipped bit in the header, stream id, counter, ciphertext or tag fails to open, and the payload is zeroed", () => {
  for (const implementation of IMPLEMENTATIONS) {
    fc.assert(
      fc.property(
        datagram,
        fc.constantFrom("header", "stream id", "counter", "ciphertext", "tag"),
        fc.nat(),
        (d, where, at) => {
          using aead = createAead(d.key, { implementation });
          const packet = sealWith(aead, d);
          const length = d.header.length + d.payload.length + TAG_BYTES;
          let { streamId, counter } = d;
          const bit = 1 << (at % 8);
          const flip = (from: number, size: number) => {
            fc.pre(size > 0);
            packet[from + (at >>> 3) % size]! ^= bit;
          };
          switch (where) {
            case "header":
              flip(d.before, d.header.length);
              break;
            case "stream id":
              streamId = (streamId ^ (1 << (at % 32))) >>> 0;
              break;
            case "counter": {
              // Flip one of the 53 bits a counter can have.
              const k = at % 53;
              const high = 2 ** k;
              counter = Math.floor(counter / high / 2) * high * 2 +
                ((Math.floor(counter / high) % 2) ^ 1) * high +
                counter % high;
              break;
            }
            case "ciphertext":
              flip(d.before + d.header.length, d.payload.length);
              break;
            case "tag":
              flip(d.before + d.header.length + d.payload.length, TAG_BYTES);
              break;
          }
          assert.equal(
            aead.open(
              streamId,
              counter,
              packet,
              d.header.length,
              length,
              d.before,
            ),
            -1,
            `${implementation}: ${where}`,
          );
          const payload = packet.subarray(
            d.before + d.header.length,
            d.before + d.header.length + d.payload.length,
          );
          assert.ok(payload.every((b) => b === 0), "payload zeroed");
        },
      ),
      { numRuns: 150 },
    );
  }
});

Deno.test("open refuses a datagram shorter than its header and a tag, without touching it", () => {
  for (const implementation of IMPLEMENTATIONS) {
    using aead = createAead(new Uint8Array(32), { implementation });
    const packet = new Uint8Array(40).fill(7);
    assert.equal(aead.open(1, 1, packet, 8, 8 + TAG_BYTES - 1), -1);
    assert.equal(aead.open(1, 1, packet, 0, 0), -1);
    assert.ok(packet.every((b) => b === 7));
  }
});

Deno.test("Sealing into several buffers in turn, at varying places, gives what one buffer gives", () => {
  // The libcrypto backend keeps the views of the last buffer: switching
  // buffers and offsets must never write through a stale one.
  for (const implementation of IMPLEMENTATIONS) {
    using aead = createAead(new Uint8Array(32).fill(3), { implementation });
    using reference = createAead(new Uint8Array(32).fill(3), {
      implementation: "node",
    });
    const buffers = [new Uint8Array(5000), new Uint8Array(5000)];
    for (let i = 0; i < 200; i++) {
      const buffer = buffers[i % 3 === 0 ? 1 : 0]!;
      const start = (i * 37) % 1000, header = i % 5 === 0 ? 0 : 20 + (i % 3);
      const payload = (i * 131) % 3000;
      crypto.getRandomValues(buffer.subarray(start, start + header + payload));
      const copy = buffer.slice(start, start + header + payload + TAG_BYTES);
      const length = aead.seal(5, i, buffer, header, payload, start);
      reference.seal(5, i, copy, header, payload);
      assert.deepEqual(
        buffer.subarray(start, start + length),
        copy,
        `datagram ${i}`,
      );
    }
  }
});

Deno.test("seal and open throw RangeError for arguments out of range and TypeError once closed", () => {
  for (const implementation of IMPLEMENTATIONS) {
    const aead = createAead(new Uint8Array(32), { implementation });
    const packet = new Uint8Array(100);
    assert.throws(() => aead.seal(-1, 0, packet, 0, 0), RangeError);
    assert.throws(() => aead.seal(2 ** 32, 0, packet, 0, 0), RangeError);
    assert.throws(() => aead.seal(0, -1, packet, 0, 0), RangeError);
    assert.throws(() => aead.seal(0, 2 ** 53, packet, 0, 0), RangeError);
    assert.throws(() => aead.seal(0, 0.5, packet, 0, 0), RangeError);
    assert.throws(() => aead.seal(0, 0, packet, 10, 75), RangeError); // 10 + 75 + 16 > 100
    assert.equal(aead.seal(0, 0, packet, 10, 74), 100);
    assert.throws(() => aead.seal(0, 0, packet, 0, 0, 85), RangeError);
    assert.throws(() => aead.seal(0, 0, packet, -1, 0), RangeError);
    assert.throws(() => aead.open(0, 0, packet, 0, 101), RangeError);
    assert.throws(() => aead.open(0, 0, packet, 0, 50, 51), RangeError);
    assert.equal(aead.open(0, 0, packet, 10, 100), 74);
    aead.close();
    aead.close();
    assert.throws(() => aead.seal(0, 0, packet, 0, 0), TypeError);
    assert.throws(() => aead.open(0, 0, packet, 0, 16), TypeError);
  }
});

Deno.test("createAead checks the key and the mode", () => {
  assert.throws(() => createAead(new Uint8Array(16)), RangeError);
  assert.throws(
    () => createAead({ seal: new Uint8Array(32), open: new Uint8Array(31) }),
    RangeError,
  );
  assert.throws(
    // @ts-expect-error: a mode that does not exist
    () => createAead(new Uint8Array(32), { implementation: "webcrypto" }),
    TypeError,
  );
});

Deno.test("createAead falls back to node:crypto when libcrypto does not load, and says why", () => {
  const libraryPath = "/nonexistent/libcrypto.so.3";
  using aead = createAead(new Uint8Array(32), { libraryPath });
  assert.equal(aead.implementation, "node");
  assert.match(
    aead.reason,
    /^sealing: AES-256-GCM by node:crypto \(libcrypto not found: .+\)$/,
  );
  assert.throws(
    () =>
      createAead(new Uint8Array(32), {
        implementation: "libcrypto",
        libraryPath,
      }),
    (err: unknown) =>
      err instanceof LibcryptoUnavailableError &&
      err.tried[0] === libraryPath &&
      /Cannot load libcrypto \(tried \/nonexistent\/libcrypto\.so\.3\): install it with /
        .test(err.message),
  );
});

Deno.test({
  name: "createAead uses libcrypto when it loads, and names its version",
  ignore: noLibcrypto,
  fn() {
    using aead = createAead(new Uint8Array(32));
    assert.equal(aead.implementation, "libcrypto");
    assert.match(
      aead.reason,
      /^sealing: AES-256-GCM by libcrypto \(OpenSSL \d+\.\d+\.\d+\)$/,
    );
  },
});

Deno.test("A key per direction: each side opens only what the other sealed", () => {
  for (const implementation of IMPLEMENTATIONS) {
    const shared = crypto.getRandomValues(new Uint8Array(32));
    using sender = createStreamAead(shared, "sender", { implementation });
    using receiver = createStreamAead(shared, "receiver", { implementation });
    const keys = deriveStreamKeys(shared);
    using toReceiver = createAead(keys.senderToReceiver, { implementation });
    using toSender = createAead(keys.receiverToSender, { implementation });
    const data = new Uint8Array(8 + 100 + TAG_BYTES);
    const length = sender.seal(1, 0, data, 8, 100);
    // The same stream id and counter the other way round: another key, so
    // another keystream, although both directions count from 0.
    const feedback = new Uint8Array(8 + 100 + TAG_BYTES);
    receiver.seal(1, 0, feedback, 8, 100);
    assert.notDeepEqual(data.subarray(8), feedback.subarray(8));
    assert.equal(sender.open(1, 0, data.slice(), 8, length), -1);
    assert.equal(toReceiver.open(1, 0, data.slice(), 8, length), 100);
    assert.equal(receiver.open(1, 0, data, 8, length), 100);
    assert.equal(receiver.open(1, 0, feedback.slice(), 8, length), -1);
    assert.equal(toSender.open(1, 0, feedback.slice(), 8, length), 100);
    assert.equal(sender.open(1, 0, feedback, 8, length), 100);
  }
  assert.throws(
    // @ts-expect-error: a role that does not exist
    () => createStreamAead(new Uint8Array(32), "relay"),
    TypeError,
  );
});

Deno.test({
  name:
    "libcrypto seals, opens and refuses forgeries without allocating: 900,000 calls trigger no garbage collection",
  ignore: noLibcrypto,
  async fn() {
    await withTempDir("udpimg_gc_", async (dir) => {
      const probe = `${dir}/probe.ts`;
      const module = new URL("../lib/crypto/mod.ts", import.meta.url).href;
      await Deno.writeTextFile(
        probe,
        `import { createAead, TAG_BYTES } from "${module}";
const aead = createAead(new Uint8Array(32), { implementation: "libcrypto" });
const length = 24 + 1200 + TAG_BYTES;
const batch = new Uint8Array(64 * length);
const forged = new Uint8Array(length);
aead.seal(1, 0, forged, 24, 1200);
forged[length - 1] ^= 1;
function run(n) {
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const start = (i % 64) * length;
    aead.seal(1, i, batch, 24, 1200, start);
    bad += aead.open(1, i, batch, 24, length, start) === 1200 ? 0 : 1;
    bad += aead.open(1, 0, forged, 24, length) === -1 ? 0 : 1;
  }
  return bad;
}
run(150000);
// Collections the test forces, with --expose-gc, mark where it measures in
// V8's own trace, whatever the order of that output and console.log's.
globalThis.gc();
const bad = run(300000);
globalThis.gc();
console.log("done", bad);
`,
      );
      const { stdout, success } = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--no-config",
          "--v8-flags=--trace-gc,--expose-gc",
          probe,
        ],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      const text = new TextDecoder().decode(stdout);
      assert.ok(success, text);
      assert.match(text, /^done 0$/m);
      const trace = text.split("\n").filter((line) =>
        /Scavenge|Mark-Compact|Mark-sweep|Minor Mark/.test(line)
      );
      const forced = trace.flatMap((line, i) =>
        /testing/.test(line) ? [i] : []
      );
      assert.equal(forced.length, 2, trace.join("\n"));
      const during = trace.slice(forced[0]! + 1, forced[1]!);
      assert.deepEqual(during, [], "collections while sealing and opening");
    });
  },
});

Deno.test("sealWithHeaderNonce takes the nonce from the header, and equals seal with that stream id and counter", () => {
  using aead = createAead(hex(K));
  const packet = new Uint8Array(20 + 30 + TAG_BYTES);
  packet.set([0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 1, 2], 8);
  packet.fill(7, 20, 50);
  const copy = packet.slice();
  assert.equal(aead.sealWithHeaderNonce(packet, 20, 30, 8), packet.length);
  aead.seal(9, 0x102, copy, 20, 30);
  assert.deepEqual(packet, copy);
  // A counter no JavaScript number holds: bit 63 set.
  packet[12] = 0x80;
  const high = packet.slice();
  aead.sealWithHeaderNonce(high, 20, 30, 8);
  assert.equal(aead.openWithHeaderNonce(high.slice(), 20, high.length, 8), 30);
  const moved = new Uint8Array(5 + high.length);
  moved.set(high, 5);
  assert.equal(aead.openWithHeaderNonce(moved, 20, high.length, 8, 5), 30);
  const flipped = high.slice();
  flipped[12]! ^= 0x80;
  assert.equal(aead.openWithHeaderNonce(flipped, 20, high.length, 8), -1);
  assert.throws(() => aead.sealWithHeaderNonce(packet, 20, 30, 9), RangeError);
  assert.throws(() => aead.openWithHeaderNonce(packet, 8, 30, 0), RangeError);
});
