/**
 * The stream protocol's stages on their own: reassembler, NACK generator,
 * receive log, send history, pacer, rate controller and the RTT and clock
 * estimators; and the sender's multicast mode with two receivers.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { crc32c } from "../lib/stream/crc32c.ts";
import { collectNacks } from "../lib/stream/nack_generator.ts";
import { SendHistory } from "../lib/stream/history.ts";
import { Pacer } from "../lib/stream/pacer.ts";
import { RateController } from "../lib/stream/rate_controller.ts";
import { FrameBudget, StreamReassembler } from "../lib/stream/reassembler.ts";
import { ReceiveLog } from "../lib/stream/receive_log.ts";
import { ClockOffsetEstimator, RttEstimator } from "../lib/stream/reports.ts";
import { StreamSender } from "../lib/stream/sender.ts";
import { StreamReceiver } from "../lib/stream/receiver.ts";
import {
  type ChunkHeader,
  newChunkHeader,
  newFixedHeader,
  PacketType,
  readHeader,
} from "../lib/stream/wire.ts";

function chunks(frame: Uint8Array, count: number, frameId = 0) {
  const size = Math.ceil(frame.length / count);
  const crc = crc32c(frame);
  return Array.from({ length: count }, (_, index) => ({
    header: {
      ...newChunkHeader(),
      frameId,
      index,
      count,
      frameLength: frame.length,
      crc,
      timestamp: 1,
      payloadOffset: 0,
    } as ChunkHeader,
    payload: frame.subarray(
      index * size,
      Math.min((index + 1) * size, frame.length),
    ),
  }));
}

Deno.test("StreamReassembler delivers in frame-id order: a whole frame waits for an older one", () => {
  const r = new StreamReassembler({ latencyMs: 100 });
  const a = new Uint8Array(10).fill(1);
  const b = new Uint8Array(10).fill(2);
  const [a0, a1] = chunks(a, 2, 0);
  r.addChunk(0, a0!.header, a0!.payload, false);
  for (const c of chunks(b, 2, 1)) r.addChunk(0, c.header, c.payload, false);
  assert.equal(r.poll(), undefined);
  r.addChunk(1, a1!.header, a1!.payload, false);
  const first = r.poll();
  const second = r.poll();
  assert.ok(first?.type === "frame" && first.frameId === 0);
  assert.ok(second?.type === "frame" && second.frameId === 1);
});

Deno.test("StreamReassembler gives up on a frame past its budget and moves on", () => {
  const r = new StreamReassembler({ latencyMs: 100 });
  const [a0] = chunks(new Uint8Array(10), 2, 0);
  r.addChunk(0, a0!.header, a0!.payload, false);
  for (const c of chunks(new Uint8Array(10).fill(3), 2, 1)) {
    r.addChunk(5, c.header, c.payload, false);
  }
  r.expire(99);
  assert.equal(r.poll(), undefined);
  r.expire(100);
  const lost = r.poll();
  assert.ok(
    lost?.type === "dropped" && lost.reason === "lost" && lost.frameId === 0,
  );
  const next = r.poll();
  assert.ok(next?.type === "frame" && next.frameId === 1);
  // A chunk of the lost frame now is late, not a frame.
  r.addChunk(101, a0!.header, a0!.payload, false);
  assert.equal(r.poll(), undefined);
  assert.equal(r.stats.chunksLate, 1);
});

Deno.test("StreamReassembler never delivers a frame whose CRC fails", () => {
  const r = new StreamReassembler();
  const frame = new Uint8Array(10).fill(7);
  const parts = chunks(frame, 2);
  parts[1]!.header.crc ^= 1;
  parts[0]!.header.crc ^= 1;
  for (const c of parts) r.addChunk(0, c.header, c.payload, false);
  const event = r.poll();
  assert.ok(event?.type === "dropped" && event.reason === "corrupt");
  assert.equal(r.stats.framesDelivered, 0);
});

Deno.test("StreamReassembler counts a corrupt frame once, also when a restart gives up the frames around it", () => {
  const r = new StreamReassembler();
  const [a0] = chunks(new Uint8Array(10), 2, 0);
  r.addChunk(0, a0!.header, a0!.payload, false);
  // Frame 1 is whole but corrupt, behind frame 0, still open.
  const bad = chunks(new Uint8Array(10).fill(7), 2, 1);
  for (const c of bad) c.header.crc ^= 1;
  for (const c of bad) r.addChunk(0, c.header, c.payload, false);
  // A jump far ahead: a restart.
  for (const c of chunks(new Uint8Array(10).fill(8), 1, 1_000_000)) {
    r.addChunk(1, c.header, c.payload, false);
  }
  assert.equal(r.stats.framesCorrupt, 1);
  assert.equal(r.stats.framesLost, 1);
});

Deno.test("StreamReassembler drops a chunk whose description disagrees, and keeps the frame", () => {
  const r = new StreamReassembler();
  const frame = new Uint8Array(12).fill(9);
  const parts = chunks(frame, 3);
  r.addChunk(0, parts[0]!.header, parts[0]!.payload, false);
  r.addChunk(0, { ...parts[1]!.header, count: 4 }, parts[1]!.payload, false);
  assert.equal(r.stats.inconsistent, 1);
  r.addChunk(0, parts[1]!.header, parts[1]!.payload, false);
  r.addChunk(0, parts[2]!.header, parts[2]!.payload, false);
  assert.equal(r.poll()?.type, "frame");
});

Deno.test("StreamReassembler keeps within its frame budget and its window, whatever ids come", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 300 }),
          fc.integer({ min: 1, max: 5000 }),
        ),
        {
          maxLength: 200,
        },
      ),
      (ops) => {
        const budget = new FrameBudget(20_000);
        const r = new StreamReassembler({ budget, maxFramesInFlight: 8 });
        let now = 0;
        for (const [id, length] of ops) {
          const count = Math.min(4, length);
          const part = chunks(new Uint8Array(length), count, id)[0]!;
          r.addChunk(now++, part.header, part.payload, false);
          r.expire(now);
          while (r.poll() !== undefined);
          assert.ok(budget.reserved <= 20_000);
          assert.ok(r.openFrames <= 8);
          assert.equal(budget.reserved, r.heldBytes);
        }
        r.clear();
        assert.equal(budget.reserved, 0);
      },
    ),
  );
});

Deno.test("collectNacks skips the newest few chunks, asks again only after the retry interval", () => {
  const have = new Uint8Array(10);
  have.fill(1, 0, 2);
  have[3] = 1;
  const frame = {
    id: 0,
    seen: true,
    count: 10,
    have,
    received: 3,
    highestIndex: 3,
    parityFollows: false,
    paritySeen: false,
    deadline: 100,
    complete: false,
    openedAt: 0,
    lastArrival: 0,
    lastNackAt: -Infinity,
  };
  const out: { frameId: number; first: number; bitmap: number }[] = [];
  collectNacks([frame], 0, 0, { retryMs: 5, reorderMs: 1 }, out);
  assert.deepEqual(out, []); // chunk 2 may still come: only one chunk after it
  have[6] = 1;
  frame.received = 4;
  frame.highestIndex = 6;
  collectNacks([frame], 0, 0, { retryMs: 5, reorderMs: 1 }, out);
  assert.deepEqual(out, [{ frameId: 0, first: 2, bitmap: 0 }]);
  out.length = 0;
  collectNacks([frame], 0, 2, { retryMs: 5, reorderMs: 1 }, out);
  assert.deepEqual(out, []);
  // A newer frame came: every missing chunk is asked for.
  collectNacks([frame], 1, 5, { retryMs: 5, reorderMs: 1 }, out);
  assert.deepEqual(out, [{ frameId: 0, first: 2, bitmap: 0b1110110 }]);
});

Deno.test("collectNacks caps a round at 1024 entries, and asks for the rest a retry later, none taken as asked", () => {
  // Every other chunk of 40,000 missing: one entry per 17 chunks would not
  // do, each gap needs its own bitmap bit; 1200 entries' worth in all.
  const count = 40_000;
  const have = new Uint8Array(count);
  for (let i = 0; i < count; i += 34) have.fill(1, i, i + 17);
  const frame = {
    id: 0,
    seen: true,
    count,
    have,
    received: have.reduce((a, b) => a + b, 0),
    highestIndex: count - 1,
    parityFollows: false,
    paritySeen: false,
    deadline: 1000,
    complete: false,
    openedAt: 0,
    lastArrival: 0,
    lastNackAt: -Infinity,
  };
  const second = { ...frame, id: 1, have: new Uint8Array(count) };
  const timing = { retryMs: 5, reorderMs: 1 };
  const out: { frameId: number; first: number; bitmap: number }[] = [];
  const due = collectNacks([frame, second], 1, 20, timing, out);
  assert.equal(out.length, 1024);
  assert.equal(due, 25);
  const asked = (f: typeof frame) => f.have.filter((s) => s === 2).length;
  const listed = out.reduce(
    (n, e) => n + 1 + e.bitmap.toString(2).replaceAll("0", "").length,
    0,
  );
  assert.equal(asked(frame) + asked(second), listed);
  // Once those come, the next round goes on where this one stopped: oldest
  // first, since frames are handed on in order.
  for (const f of [frame, second]) {
    f.have.forEach((s, i) => s === 2 && (f.have[i] = 1));
  }
  out.length = 0;
  collectNacks([frame, second], 1, 25, timing, out);
  assert.ok(out.some((e) => e.frameId === 1));
});

Deno.test("ReceiveLog drops duplicates and ignores a forged jump", () => {
  const log = new ReceiveLog();
  for (const n of [0, 1, 3, 2, 3, 1]) log.add(n);
  assert.equal(log.received, 4);
  assert.equal(log.highest, 3);
  log.add(2 ** 50);
  assert.equal(log.highest, 3);
  assert.equal(log.add(4), true);
  assert.equal(log.add(4), false);
});

Deno.test("SendHistory answers only what it holds, once per interval, and forgets old frames", () => {
  const history = new SendHistory({ maxBytes: 25, maxAgeMs: 100 });
  const frame = (id: number) => ({
    id,
    bytes: new Uint8Array(10),
    count: 2,
    size: 5,
    crc: 0,
    timestamp: 0,
    queuedAt: id,
    resentAt: undefined,
  });
  for (let id = 0; id < 3; id++) history.add(frame(id));
  assert.equal(history.size, 2);
  const sent: string[] = [];
  const send = (f: { id: number }, i: number) => void sent.push(`${f.id}/${i}`);
  history.answer({ frameId: 0, first: 0, bitmap: 0 }, 0, 10, send);
  history.answer({ frameId: 7, first: 0, bitmap: 0 }, 0, 10, send);
  history.answer({ frameId: 1, first: 0xffff, bitmap: 0 }, 0, 10, send);
  history.answer({ frameId: 1, first: 0, bitmap: 0b11 }, 5, 10, send);
  assert.deepEqual(sent, ["1/0", "1/1"]);
  assert.equal(history.unknown, 3);
  assert.equal(history.suppressed, 2);
  history.expire(1000);
  assert.equal(history.size, 0);
});

Deno.test("Pacer spreads bytes at its rate", () => {
  const pacer = new Pacer({ rate: 1_000_000, burstMs: 1, minBurstBytes: 1000 });
  let sent = 0;
  for (let now = 0; now <= 100; now += 0.5) {
    while (pacer.canSend(now, 500)) {
      pacer.consume(now, 500);
      sent += 500;
    }
  }
  // 100 ms at 1 MB/s, plus the first burst.
  assert.ok(sent >= 100_000 && sent <= 101_500, `${sent}`);
});

Deno.test("RateController climbs while backlogged, backs off on delay, loss above the usual, or overrun", () => {
  const rate = new RateController({ initialRate: 1e6 });
  const calm = {
    lossFraction: 0.05,
    queueingDelayMs: 0,
    minRttMs: 10,
    receiveRate: undefined,
    backlogged: true,
  };
  for (let t = 0; t < 1000; t += 100) rate.onSample(t, calm);
  const high = rate.rate;
  assert.ok(high > 10e6);
  rate.onSample(1000, { ...calm, lossFraction: 0.3 });
  assert.ok(rate.rate < high);
  const after = rate.rate;
  rate.onSample(1100, { ...calm, backlogged: false });
  assert.equal(rate.rate, after);
  rate.onSample(1200, { ...calm, overrun: true });
  assert.ok(rate.rate < after);
});

Deno.test("RateController backs an overrun off to just under the receiving program's rate, not 15% at a time", () => {
  const calm = {
    lossFraction: 0,
    queueingDelayMs: 0,
    minRttMs: 1,
    receiveRate: undefined,
    backlogged: true,
  };
  const rate = new RateController({ initialRate: 80e6 });
  rate.onSample(0, {
    ...calm,
    receiveRate: 80e6,
    backlogFrames: 20,
    drainRate: 50e6,
  });
  assert.equal(rate.rate, 50e6 * 0.95);
  // A skipped frame with no rate known: 15% off, as before.
  const blind = new RateController({ initialRate: 1e6 });
  blind.onSample(0, { ...calm, overrun: true });
  assert.equal(blind.rate, 850_000);
  // A skip with no queue left: one short interval's drain (near 0) is not
  // taken as the program's rate; with nothing smoothed, 15% off.
  const empty = new RateController({ initialRate: 1e6 });
  empty.onSample(0, {
    ...calm,
    overrun: true,
    backlogFrames: 0,
    drainRate: 1000,
  });
  assert.equal(empty.rate, 850_000);
});

Deno.test("RateController lets one report of a queue pass, backs off when it does not shrink, and holds while it drains", () => {
  const sample = (backlogFrames: number) => ({
    lossFraction: 0,
    queueingDelayMs: 0,
    minRttMs: 1,
    receiveRate: undefined,
    backlogged: true,
    backlogFrames,
    drainRate: 40e6,
  });
  const rate = new RateController({ initialRate: 60e6 });
  // The first queue ends the first climb: the next step is gentle.
  rate.onSample(0, sample(5));
  assert.equal(rate.startup, false);
  assert.ok(rate.rate < 60e6 * 1.1);
  const before = rate.rate;
  // A long queue once (the decoder lost its core for a moment), then gone.
  rate.onSample(100, sample(12));
  assert.equal(rate.rate, before);
  rate.onSample(200, sample(2));
  assert.ok(rate.rate > before);
  // Long twice and not shrinking: the program cannot keep up.
  rate.onSample(300, sample(10));
  rate.onSample(400, sample(11));
  assert.equal(rate.rate, 40e6 * 0.95);
  assert.equal(rate.decreases, 1);
  // Long but shrinking: neither up nor down.
  rate.onSample(500, sample(9));
  assert.equal(rate.rate, 40e6 * 0.95);
});

Deno.test("RateController's first climb goes a step per report, its later climb by the time passed", () => {
  const calm = {
    lossFraction: 0,
    queueingDelayMs: 0,
    minRttMs: 1,
    receiveRate: undefined,
    backlogged: true,
  };
  const rate = new RateController({ initialRate: 1e6 });
  rate.onSample(0, calm);
  rate.onSample(25, calm);
  assert.equal(rate.rate, (1e6 * 1.5 + 1250) * 1.5 + 1250);
  rate.onSample(50, { ...calm, lossFraction: 0.5 });
  const after = rate.rate;
  // Four reports 25 ms apart climb as far as one 100 ms later.
  for (let t = 75; t <= 150; t += 25) rate.onSample(t, calm);
  const quarterly = rate.rate;
  const other = new RateController({ initialRate: after });
  other.onSample(0, { ...calm, lossFraction: 0.5 });
  const start = other.rate;
  other.onSample(100, calm);
  assert.ok(Math.abs(quarterly / after - other.rate / start) < 1e-3);
});

Deno.test("RttEstimator and ClockOffsetEstimator", () => {
  const rtt = new RttEstimator();
  for (let i = 0; i < 50; i++) rtt.sample(10 + (i % 3), i * 100);
  assert.ok(Math.abs(rtt.smoothed - 11) < 1);
  assert.equal(rtt.min, 10);
  const offset = new ClockOffsetEstimator();
  // The sender 1 s ahead; the return path sometimes 20 ms slower.
  for (let i = 0; i < 16; i++) {
    const t1 = i * 1e5;
    const back = i % 2 === 0 ? 5000 : 25000;
    offset.sample(t1, t1 + 5000 + 1e6, t1 + 6000 + 1e6, t1 + 6000 + back);
  }
  assert.ok(Math.abs(offset.offsetUs! - 1e6) < 1000);
  assert.equal(offset.sample(10, 5, 1, 0), undefined);
});

Deno.test("A multicast sender answers each chunk once per interval, whoever asks, to the group", () => {
  const group = { hostname: "239.1.2.3", port: 5004 };
  const sender = new StreamSender({
    peer: group,
    multicast: true,
    wallClockOrigin: 0,
  });
  const receivers = [
    new StreamReceiver({ wallClockOrigin: 0 }),
    new StreamReceiver({ wallClockOrigin: 0 }),
  ];
  const addresses = [{ hostname: "10.0.0.1", port: 4000 }, {
    hostname: "10.0.0.2",
    port: 4000,
  }];
  const frame = new Uint8Array(5000).fill(5);
  sender.sendFrame(0, frame);
  sender.handleTimeout(0);
  const datagrams: Uint8Array[] = [];
  for (let t; (t = sender.pollTransmit()) !== undefined;) {
    assert.deepEqual(t.to, group);
    datagrams.push(t.bytes.slice());
  }
  const header = newFixedHeader();
  // Both receivers lose the same chunk (the second of five).
  const dataIndexes = datagrams.map((
    d,
  ) => (readHeader(d, header), header.type));
  let chunk = -1;
  for (const [r, receiver] of receivers.entries()) {
    chunk = -1;
    for (const [i, d] of datagrams.entries()) {
      if (dataIndexes[i] === PacketType.data && ++chunk === 1) continue;
      receiver.handleDatagram(
        1,
        d,
        { hostname: "10.0.0.9", port: 5004 },
        `src${r}`,
      );
    }
    receiver.handleTimeout(20);
  }
  let nacks = 0;
  for (const [r, receiver] of receivers.entries()) {
    for (let t; (t = receiver.pollTransmit()) !== undefined;) {
      readHeader(t.bytes, header);
      if (header.type === PacketType.nack) nacks++;
      sender.handleDatagram(21, t.bytes, addresses[r]!);
    }
  }
  assert.equal(nacks, 2);
  const resent: Uint8Array[] = [];
  for (let t; (t = sender.pollTransmit()) !== undefined;) {
    readHeader(t.bytes, header);
    if (header.type === PacketType.data) {
      assert.deepEqual(t.to, group);
      resent.push(t.bytes.slice());
    }
  }
  assert.equal(resent.length, 1);
  assert.equal(sender.stats.retransmitted, 1);
  for (const [r, receiver] of receivers.entries()) {
    receiver.handleDatagram(22, resent[0]!, {
      hostname: "10.0.0.9",
      port: 5004,
    }, `src${r}`);
    const events = [];
    for (let e; (e = receiver.pollEvent()) !== undefined;) events.push(e);
    const got = events.find((e) => e.type === "frame");
    assert.ok(got?.type === "frame");
    assert.deepEqual(got.frame.bytes, frame);
  }
});

Deno.test("A sender whose datagrams are refused as too large halves their size and carries on", () => {
  const sender = new StreamSender({
    peer: { hostname: "127.0.0.1", port: 9 },
    datagramBytes: 1200,
    wallClockOrigin: 0,
  });
  // Larger than the pacer's first burst: it is still being sent.
  sender.sendFrame(0, new Uint8Array(200_000));
  assert.equal(sender.halveDatagramSize(), 600);
  assert.equal(sender.stats.framesStale, 1);
  while (sender.pollTransmit() !== undefined);
  sender.sendFrame(100, new Uint8Array(5000));
  sender.handleTimeout(100);
  const header = newFixedHeader();
  let data = 0;
  for (let t; (t = sender.pollTransmit()) !== undefined;) {
    assert.ok(t.bytes.length <= 600);
    readHeader(t.bytes, header);
    if (header.type === PacketType.data) data++;
  }
  assert.equal(data, 10);
  assert.equal(sender.halveDatagramSize(), 300);
  assert.equal(sender.halveDatagramSize(), 256);
  assert.equal(sender.halveDatagramSize(), undefined);
});

Deno.test("A sender's first datagram is a sender report, before the first frame's data", () => {
  const sender = new StreamSender({
    peer: { hostname: "127.0.0.1", port: 9 },
    wallClockOrigin: 0,
  });
  sender.sendFrame(5, new Uint8Array(5000));
  const header = newFixedHeader();
  const types = [];
  for (let t; (t = sender.pollTransmit()) !== undefined;) {
    readHeader(t.bytes, header);
    types.push(header.type);
  }
  assert.equal(types[0], PacketType.senderReport);
  assert.equal(types.filter((t) => t === PacketType.senderReport).length, 1);
  assert.ok(types.includes(PacketType.data));
});
