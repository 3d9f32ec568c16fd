import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type FrameEvent,
  Reassembler,
  type ReassemblerEvent,
} from "../lib/classic/reassembler.ts";
import { decodeHeader, encodeHeader } from "../lib/classic/header.ts";
import { pack, unpack } from "../lib/struct/mod.ts";

const A = "127.0.0.1:5000";
const B = "127.0.0.1:5001";

function jpegLike(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  bytes.set([0xff, 0xd8, 0xff, 0xe0]);
  return bytes;
}

function chunks(image: Uint8Array, size = 1024): Uint8Array[] {
  const out = [];
  for (let i = 0; i < image.length; i += size) {
    out.push(image.subarray(i, i + size));
  }
  return out;
}

function pushAll(
  reassembler: Reassembler,
  datagrams: Uint8Array[],
  sender = A,
  now = 0,
): ReassemblerEvent[] {
  return datagrams.flatMap((d) => [...reassembler.push(d, sender, now)]);
}

function int64Header(n: bigint): Uint8Array {
  const header = new Uint8Array(8);
  new DataView(header.buffer).setBigInt64(0, n, true);
  return header;
}

function int32Header(n: number): Uint8Array {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setInt32(0, n, true);
  return header;
}

Deno.test("encodeHeader matches struct.pack('l', n) on 64-bit Linux", () => {
  assert.deepEqual(
    [...encodeHeader(813_000)],
    [200, 103, 12, 0, 0, 0, 0, 0],
  );
  assert.deepEqual(decodeHeader(encodeHeader(2 ** 40)), 2 ** 40);
  assert.deepEqual(decodeHeader(int32Header(-5)), -5);
  for (const n of [1, 1024, 813_000, 2 ** 31, 2 ** 52]) {
    assert.deepEqual(encodeHeader(n), new Uint8Array(pack("l", n)));
    assert.deepEqual(unpack("l", encodeHeader(n)), [BigInt(n)]);
  }
  assert.equal(decodeHeader(int64Header(2n ** 62n)), Infinity);
});

Deno.test("Reassembler rebuilds a chunked frame in order", () => {
  const r = new Reassembler();
  const image = jpegLike(5000);
  const events = pushAll(r, [encodeHeader(image.length), ...chunks(image)]);
  assert.deepEqual(events.length, 1);
  const frame = events[0] as FrameEvent;
  assert.deepEqual(frame.type, "frame");
  assert.deepEqual(frame.mode, "chunked");
  assert.deepEqual(frame.format, "jpeg");
  assert.deepEqual(frame.sender, A);
  assert.deepEqual(frame.bytes, image);
  assert.deepEqual(r.stats.frames, 1);
  assert.deepEqual(r.pendingSenders, 0);
});

Deno.test("Reassembler accepts a 4-byte header, as Python sends on Windows", () => {
  const r = new Reassembler();
  const image = jpegLike(2500);
  const events = pushAll(r, [int32Header(image.length), ...chunks(image)]);
  assert.deepEqual(events.map((e) => e.type), ["frame"]);
});

Deno.test("Reassembler takes a JPEG or PNG in one datagram as a whole image", () => {
  const r = new Reassembler();
  const jpeg = jpegLike(3000);
  const png = new Uint8Array(100);
  png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const events = pushAll(r, [jpeg, png]);
  assert.deepEqual(events.map((e) => e.type === "frame" && e.format), [
    "jpeg",
    "png",
  ]);
  assert.deepEqual((events[0] as FrameEvent).mode, "single");
  // The frame is a copy: the receive buffer may be reused.
  jpeg.fill(0);
  assert.deepEqual((events[0] as FrameEvent).bytes[0], 0xff);
});

Deno.test("Reassembler counts a datagram from an idle sender that is no image as stray", () => {
  const r = new Reassembler();
  const events = pushAll(r, [new Uint8Array(100), new Uint8Array(0)]);
  assert.deepEqual(events.map((e) => e.type), ["stray", "stray"]);
  assert.deepEqual(r.stats.strays, 2);
});

Deno.test("Reassembler keeps interleaved senders apart", () => {
  const r = new Reassembler();
  const a = jpegLike(4000, 1);
  const b = jpegLike(3000, 2);
  const ca = [encodeHeader(a.length), ...chunks(a)];
  const cb = [encodeHeader(b.length), ...chunks(b)];
  const events: ReassemblerEvent[] = [];
  for (let i = 0; i < Math.max(ca.length, cb.length); i++) {
    if (ca[i]) events.push(...r.push(ca[i]!, A, 0));
    if (cb[i]) events.push(...r.push(cb[i]!, B, 0));
  }
  const frames = events as FrameEvent[];
  assert.deepEqual(frames.map((f) => f.sender).sort(), [A, B]);
  assert.deepEqual(frames.find((f) => f.sender === A)!.bytes, a);
  assert.deepEqual(frames.find((f) => f.sender === B)!.bytes, b);
});

Deno.test("Reassembler drops a frame whose chunks overflow the announced size", () => {
  const r = new Reassembler();
  const events = pushAll(r, [
    encodeHeader(1500),
    jpegLike(1024),
    jpegLike(1024),
  ]);
  assert.deepEqual(events.length, 1);
  assert.deepEqual(events[0], {
    type: "dropped",
    sender: A,
    reason: "overflow",
    announced: 1500,
    received: 1024,
  });
  assert.deepEqual(r.pendingBytes, 0);
});

Deno.test("Reassembler rejects zero, negative and oversize headers without allocating", () => {
  const r = new Reassembler({ maxFrameBytes: 1 << 20 });
  const events = pushAll(r, [
    encodeHeader(0),
    int64Header(-1n),
    encodeHeader((1 << 20) + 1),
    int64Header(2n ** 62n),
    int64Header(-(2n ** 62n)),
  ]);
  assert.deepEqual(events.map((e) => e.type === "dropped" && e.reason), [
    "bad-size",
    "bad-size",
    "bad-size",
    "bad-size",
    "bad-size",
  ]);
  assert.deepEqual(r.pendingBytes, 0);
  assert.deepEqual(r.pendingSenders, 0);
});

Deno.test("Reassembler drops a partial frame when a new header arrives mid-frame", () => {
  const r = new Reassembler();
  const image = jpegLike(3000);
  const events = pushAll(r, [
    encodeHeader(5000),
    jpegLike(1024),
    encodeHeader(image.length),
    ...chunks(image),
  ]);
  assert.deepEqual(events.map((e) => e.type), ["dropped", "frame"]);
  assert.deepEqual(
    events[0]!.type === "dropped" && events[0]!.reason,
    "restarted",
  );
  assert.deepEqual((events[1] as FrameEvent).bytes, image);
});

Deno.test("Reassembler takes an 8-byte datagram that completes a frame as its last chunk", () => {
  const r = new Reassembler();
  const image = jpegLike(1032);
  const events = pushAll(r, [encodeHeader(1032), ...chunks(image)]);
  assert.deepEqual(events.map((e) => e.type), ["frame"]);
});

Deno.test("Reassembler drops a partial frame that stays silent past the timeout", () => {
  const r = new Reassembler({ timeoutMs: 100 });
  r.push(encodeHeader(5000), A, 0);
  r.push(jpegLike(1024), A, 50);
  assert.deepEqual(r.sweep(140), []);
  const swept = r.sweep(151);
  assert.deepEqual(swept.map((e) => e.type === "dropped" && e.reason), [
    "timeout",
  ]);
  assert.deepEqual(r.pendingBytes, 0);
  // A late datagram also notices the timeout itself.
  r.push(encodeHeader(5000), B, 0);
  const events = r.push(jpegLike(2000), B, 1000);
  assert.deepEqual(events.map((e) => e.type), ["dropped", "frame"]);
});

Deno.test("Reassembler evicts the least recently active sender past maxSenders", () => {
  const r = new Reassembler({ maxSenders: 2 });
  r.push(encodeHeader(5000), "s1", 0);
  r.push(encodeHeader(5000), "s2", 1);
  r.push(jpegLike(100), "s1", 2);
  const events = r.push(encodeHeader(5000), "s3", 3);
  assert.deepEqual(events.length, 1);
  const [drop] = events;
  assert.ok(drop?.type === "dropped");
  assert.equal(drop.sender, "s2");
  assert.equal(drop.reason, "evicted");
  assert.deepEqual(r.pendingSenders, 2);
});

Deno.test("Reassembler bounds the bytes all partial frames reserve, whatever senders claim", () => {
  const r = new Reassembler({
    maxFrameBytes: 1 << 20,
    maxPendingBytes: 3 << 20,
  });
  for (let port = 0; port < 1000; port++) {
    r.push(encodeHeader(1 << 20), `10.0.0.1:${port}`, port);
    assert.ok(r.pendingBytes <= 3 << 20);
  }
  assert.deepEqual(r.pendingSenders, 3);
  assert.deepEqual(r.stats.droppedBy.evicted, 997);
});

Deno.test("Reassembler rebuilds every frame from any chunking, interleaved across senders", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          length: fc.integer({ min: 9, max: 6000 }),
          chunkSize: fc.integer({ min: 9, max: 2000 }),
          seed: fc.integer({ min: 0, max: 255 }),
          sender: fc.constantFrom("a:1", "b:2", "c:3"),
        }),
        { minLength: 1, maxLength: 8 },
      ),
      fc.infiniteStream(fc.boolean()),
      (frames, coin) => {
        // Invariant: whatever the chunk size, and however senders interleave,
        // each sender's frames come out whole, in order, byte for byte.
        const r = new Reassembler();
        const queues = new Map<string, Uint8Array[]>();
        const expected = new Map<string, Uint8Array[]>();
        for (const f of frames) {
          const image = jpegLike(f.length, f.seed);
          let datagrams = chunks(image, f.chunkSize);
          // A chunk of 4 or 8 bytes that is not the last is ambiguous with a
          // header; senders never make one, since only the last chunk is short.
          if (
            datagrams.some((d, i) => i < datagrams.length - 1 && d.length < 9)
          ) {
            datagrams = chunks(image, 1024);
          }
          const q = queues.get(f.sender) ?? [];
          q.push(encodeHeader(image.length), ...datagrams);
          queues.set(f.sender, q);
          const e = expected.get(f.sender) ?? [];
          e.push(image);
          expected.set(f.sender, e);
        }
        const got = new Map<string, Uint8Array[]>();
        const coins = coin[Symbol.iterator]();
        while ([...queues.values()].some((q) => q.length > 0)) {
          for (const [sender, q] of queues) {
            if (q.length === 0 || !coins.next().value) continue;
            for (const event of r.push(q.shift()!, sender, 0)) {
              assert.deepEqual(event.type, "frame");
              const list = got.get(sender) ?? [];
              list.push((event as FrameEvent).bytes);
              got.set(sender, list);
            }
          }
        }
        assert.deepEqual(got, expected);
        assert.deepEqual(r.pendingBytes, 0);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("Reassembler never exceeds its memory bounds under random datagrams", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          sender: fc.integer({ min: 0, max: 20 }),
          kind: fc.constantFrom("header", "chunk", "junk"),
          size: fc.integer({ min: -10, max: 5000 }),
          time: fc.integer({ min: 0, max: 50 }),
        }),
        { maxLength: 300 },
      ),
      (datagrams) => {
        // Invariant: pending bytes and senders stay within the limits, and
        // every frame has the size its header announced.
        const r = new Reassembler({
          maxFrameBytes: 4096,
          maxPendingBytes: 8192,
          maxSenders: 4,
          timeoutMs: 20,
        });
        let now = 0;
        for (const d of datagrams) {
          now += d.time;
          const datagram = d.kind === "header"
            ? encodeHeader(Math.max(0, d.size))
            : d.kind === "chunk"
            ? new Uint8Array(Math.max(0, d.size) % 1500)
            : jpegLike(Math.max(4, Math.abs(d.size)));
          r.push(datagram, `s${d.sender}`, now);
          r.sweep(now);
          assert.ok(r.pendingBytes <= 8192);
          assert.ok(r.pendingSenders <= 4);
        }
      },
    ),
    { numRuns: 200 },
  );
});
