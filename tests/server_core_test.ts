/**
 * Tests of what every protocol's receiving side shares: the sender table,
 * the drop counter, latency percentiles, the frame sink and the demux.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { ClassicReceiver } from "../lib/classic/receiver.ts";
import { encodeHeader } from "../lib/classic/header.ts";
import { ProtocolDemux } from "../lib/server/demux.ts";
import { DropCounter } from "../lib/server/drop_counter.ts";
import { FrameSink, type ReceivedFrame } from "../lib/server/frame_sink.ts";
import { LatencyHistogram } from "../lib/server/latency.ts";
import { SenderTable } from "../lib/server/sender_table.ts";
import type {
  IncomingFrame,
  ProtocolReceiver,
  Transmit,
} from "../lib/server/types.ts";
import type { DecodedImage, ImageDecoder } from "../lib/codec/types.ts";

Deno.test("SenderTable never holds more than maxEntries, evicting the least recently used", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.array(
        fc.tuple(
          fc.oneof(
            { arbitrary: fc.constant("set"), weight: 8 },
            { arbitrary: fc.constant("get"), weight: 8 },
            { arbitrary: fc.constant("peek"), weight: 2 },
            { arbitrary: fc.constant("delete"), weight: 2 },
            { arbitrary: fc.constant("evict"), weight: 1 },
            { arbitrary: fc.constant("clear"), weight: 1 },
          ),
          fc.integer({ min: 0, max: 11 }),
        ),
        { maxLength: 200, size: "max" },
      ),
      (max, ops) => {
        const evicted: string[] = [];
        const table = new SenderTable<number>({
          maxEntries: max,
          onEvict: (key) => evicted.push(key),
        });
        // A model: keys in least-recently-used order. Runs of gets of one
        // key (the newest) come up often, as they do per datagram.
        const model: string[] = [];
        for (const [op, n] of ops) {
          const key = `k${n}`;
          const at = model.indexOf(key);
          switch (op) {
            case "set":
              table.set(key, n);
              if (at >= 0) model.splice(at, 1);
              else if (model.length >= max) {
                assert.equal(evicted.at(-1), model.shift());
              }
              model.push(key);
              break;
            case "get":
              for (let i = 0; i < 1 + (n % 3); i++) {
                assert.equal(table.get(key), at >= 0 ? n : undefined);
              }
              if (at >= 0) model.push(...model.splice(at, 1));
              break;
            case "peek":
              assert.equal(table.peek(key), at >= 0 ? n : undefined);
              break;
            case "delete":
              assert.equal(table.delete(key), at >= 0);
              if (at >= 0) model.splice(at, 1);
              break;
            case "evict": {
              const oldest = model.shift();
              assert.equal(table.evictOldest()?.[0], oldest);
              if (oldest !== undefined) assert.equal(evicted.at(-1), oldest);
              break;
            }
            case "clear":
              table.clear();
              model.length = 0;
              break;
          }
          assert.ok(table.size <= max);
          assert.deepEqual([...table].map(([k]) => k), model);
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("SenderTable rejects a bound that is not a positive integer", () => {
  assert.throws(() => new SenderTable({ maxEntries: 0 }), RangeError);
  assert.throws(() => new SenderTable({ maxEntries: 1.5 }), RangeError);
});

Deno.test("DropCounter keeps the given reasons at zero and adds new ones", () => {
  const drops = new DropCounter<string>(["a", "b"]);
  assert.deepEqual(drops.byReason, { a: 0, b: 0 });
  drops.count("c", 3);
  drops.count("a");
  assert.equal(drops.total, 4);
  assert.equal(drops.of("c"), 3);
  assert.equal(drops.of("d"), 0);
});

Deno.test("LatencyHistogram answers percentiles within 2%", () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0.05, max: 50_000, noNaN: true }), {
        minLength: 1,
        maxLength: 500,
      }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (samples, q) => {
        const histogram = new LatencyHistogram();
        for (const ms of samples) histogram.record(ms);
        const sorted = [...samples].sort((a, b) => a - b);
        const exact = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
        const answer = histogram.quantile(q);
        assert.ok(
          Math.abs(answer - exact) <= exact * 0.021,
          `q=${q}: ${answer} against ${exact}`,
        );
      },
    ),
  );
  const empty = new LatencyHistogram();
  assert.ok(Number.isNaN(empty.quantile(0.5)));
  assert.throws(() => empty.quantile(2), RangeError);
});

const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 0xff, 0xd9]);
const FROM = { hostname: "127.0.0.1", port: 50000 };

function frame(sender: string, ack?: Transmit): IncomingFrame {
  return {
    protocol: "classic",
    sender,
    bytes: JPEG.slice(),
    format: "jpeg",
    mode: "single",
    ...(ack !== undefined && { ack }),
  };
}

/** A decoder whose decodes finish when the test says so. */
function gatedDecoder(): { decoder: ImageDecoder; release: () => void } {
  let open: () => void = () => {};
  let gate = new Promise<void>((resolve) => open = resolve);
  return {
    decoder: {
      name: "gated",
      supports: () => true,
      decode: async (): Promise<DecodedImage> => {
        await gate;
        return { width: 1, height: 1, channels: 3, data: new Uint8Array(3) };
      },
      close: () => {},
    },
    release: () => {
      open();
      gate = new Promise<void>((resolve) => open = resolve);
    },
  };
}

Deno.test("FrameSink acknowledges at once while few frames wait, and holds one per sender past that", async () => {
  const sent: string[] = [];
  const { decoder, release } = gatedDecoder();
  const sink = new FrameSink({
    decoder,
    maxPendingFrames: 2,
    maxQueuedFrames: 8,
    send: (t) => sent.push(new TextDecoder().decode(t.bytes)),
  });
  const ack = (n: number) => ({
    to: FROM,
    bytes: new TextEncoder().encode(`${n}`),
  });
  for (let n = 1; n <= 4; n++) sink.accept(frame(`s${n % 2}`, ack(n)));
  // Frames 3 and 4 found more than two waiting: their acks are held.
  assert.deepEqual(sent, ["1", "2"]);
  release();
  const iterator = sink[Symbol.asyncIterator]();
  await iterator.next();
  assert.deepEqual(sent, ["1", "2"], "three still wait");
  await iterator.next();
  // Two wait now: both held acks go, oldest first.
  assert.deepEqual(sent, ["1", "2", "3", "4"]);
  sink.close();
  assert.equal((await iterator.next()).done, false);
  assert.equal((await iterator.next()).done, false);
  assert.equal((await iterator.next()).done, true);
});

Deno.test("FrameSink queues up to 128 frames but decodes only 32 ahead; the rest wait encoded, and all are handed out in order", async () => {
  let started = 0;
  const decoder: ImageDecoder = {
    name: "counting",
    supports: () => true,
    decode: (): Promise<DecodedImage> => {
      started++;
      return Promise.resolve({
        width: 1,
        height: 1,
        channels: 3,
        data: new Uint8Array(3),
      });
    },
    close: () => {},
  };
  const sink = new FrameSink({ decoder, send: () => {} });
  for (let n = 0; n < 130; n++) sink.accept(frame(`s${n % 16}`));
  assert.equal(sink.waiting, 128);
  assert.equal(sink.skipped, 2);
  assert.equal(started, 32);
  sink.close();
  const indexes = [];
  for await (const f of sink) {
    assert.ok(f.image !== undefined);
    indexes.push(f.index);
  }
  assert.deepEqual(indexes, Array.from({ length: 128 }, (_, i) => i + 1));
  assert.equal(started, 128);
  assert.equal(sink.decoded, 128);
});

Deno.test("FrameSink skips frames past its frame and byte limits, and counts them", () => {
  const sink = new FrameSink({
    maxPendingFrames: 1,
    maxQueuedFrames: 2,
    maxQueuedBytes: 1000,
    send: () => {},
  });
  assert.ok(sink.accept(frame("a")));
  assert.ok(sink.accept(frame("a")));
  assert.equal(sink.accept(frame("a")), false);
  assert.equal(sink.skipped, 1);
  const big = new FrameSink({ maxQueuedBytes: 4, send: () => {} });
  assert.equal(big.accept(frame("a")), false);
  assert.equal(big.skipped, 1);
});

Deno.test("FrameSink measures latency from the sender's time to the end of decoding", async () => {
  let clock = 100;
  const { decoder, release } = gatedDecoder();
  const done: ReceivedFrame[] = [];
  const sink = new FrameSink({
    decoder,
    send: () => {},
    now: () => clock,
    onDone: (f) => done.push(f),
  });
  sink.accept({ ...frame("a"), sentAt: 90 });
  sink.accept(frame("b"));
  clock = 130;
  release();
  const iterator = sink[Symbol.asyncIterator]();
  const first = await iterator.next();
  assert.equal(first.done, false);
  assert.equal(first.value.latencyMs, 40);
  assert.equal(first.value.image?.width, 1);
  const second = await iterator.next();
  assert.equal(second.value.latencyMs, undefined);
  assert.deepEqual(done.map((f) => f.latencyMs), [40, undefined]);
  sink.close();
});

/** A receiver that claims datagrams starting with `tag`. */
function tagged(tag: number): ProtocolReceiver & { got: string[] } {
  const got: string[] = [];
  return {
    protocol: "stream",
    got,
    matches: (d) => d[0] === tag,
    handleDatagram: (_now, _d, _from, key) => void got.push(key),
    pollTimeout: () => undefined,
    handleTimeout: () => {},
    pollTransmit: () => undefined,
    pollEvent: () => undefined,
    counters: () => ({}),
  };
}

Deno.test("ProtocolDemux decides each sender's protocol by its first datagram", () => {
  const stream = tagged(0xa5);
  const classic = new ClassicReceiver();
  const demux = new ProtocolDemux([stream, classic]);
  assert.equal(demux.route(new Uint8Array([0xa5, 1]), "s:1"), stream);
  assert.equal(demux.route(encodeHeader(10), "c:1"), classic);
  // Once decided, later datagrams follow, whatever they look like.
  assert.equal(demux.route(new Uint8Array([0xa5, 1]), "c:1"), classic);
  assert.equal(demux.route(new Uint8Array([1, 2, 3]), "s:1"), stream);
  // A datagram nobody claims leaves its sender undecided.
  assert.equal(demux.route(new Uint8Array([1, 2, 3]), "x:1"), undefined);
  assert.equal(demux.protocolOf("x:1"), undefined);
  assert.equal(demux.route(new Uint8Array([0xa5]), "x:1"), stream);
});

Deno.test("ProtocolDemux forgets the least recent sender past its bound, and tells its receiver", () => {
  const forgotten: string[] = [];
  const stream = {
    ...tagged(0xa5),
    forget: (key: string) => void forgotten.push(key),
  };
  const demux = new ProtocolDemux([stream, new ClassicReceiver()], {
    maxSenders: 2,
  });
  for (const key of ["a", "b", "c"]) demux.route(new Uint8Array([0xa5]), key);
  assert.deepEqual(forgotten, ["a"]);
  assert.equal(demux.senders, 2);
});

Deno.test("ClassicReceiver attaches the tutorial's reply to each frame and reports drops", () => {
  const receiver = new ClassicReceiver({ timeoutMs: 100 });
  receiver.handleDatagram(0, encodeHeader(4), FROM, "a");
  receiver.handleDatagram(1, JPEG.subarray(0, 4), FROM, "a");
  const event = receiver.pollEvent();
  assert.equal(event?.type, "frame");
  if (event?.type !== "frame") return;
  assert.deepEqual(event.frame.ack?.to, FROM);
  assert.equal(
    new TextDecoder().decode(event.frame.ack?.bytes),
    "get message!!!",
  );
  assert.equal(event.frame.mode, "chunked");
  receiver.handleDatagram(2, encodeHeader(100), FROM, "a");
  assert.equal(receiver.pollTimeout(), 0);
  receiver.handleTimeout(500);
  const drop = receiver.pollEvent();
  assert.equal(drop?.type, "dropped");
  assert.equal(drop?.type === "dropped" && drop.reason, "timeout");
  assert.equal(receiver.pollTimeout(), undefined);
});
