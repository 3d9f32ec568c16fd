/**
 * Property tests of a whole stream: a StreamSender and a StreamReceiver
 * through a simulated path (the link model) with a virtual clock, with
 * random loss, duplication, reordering, delay and corruption in both
 * directions.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { makeFrames, type SimSinkOptions, simulate } from "./_stream_sim.ts";

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Every delivered frame is one that was sent, and the frames arrive in the
 * order they were sent. A flipped stream id makes another stream, which may
 * hand out a copy of a frame the real stream already delivered: copies are
 * allowed, new frames out of order are not.
 */
function assertInOrderSubsequence(
  delivered: readonly Uint8Array[],
  sent: readonly Uint8Array[],
): void {
  let newest = -1;
  for (const frame of delivered) {
    const index = sent.findIndex((s) => sameBytes(s, frame));
    assert.ok(index >= 0, "a delivered frame was never sent");
    assert.ok(
      index >= newest ||
        delivered.filter((f) => sameBytes(f, frame)).length > 1,
      `frame ${index} came after frame ${newest}`,
    );
    newest = Math.max(newest, index);
  }
}

const path = fc.record({
  loss: fc.double({ min: 0, max: 0.3, noNaN: true }),
  duplicate: fc.double({ min: 0, max: 0.1, noNaN: true }),
  reorder: fc.double({ min: 0, max: 0.2, noNaN: true }),
  delayMs: fc.double({ min: 0, max: 30, noNaN: true }),
  jitterMs: fc.double({ min: 0, max: 5, noNaN: true }),
  seed: fc.integer(),
});

Deno.test("stream: whatever the path does, no corrupt frame is delivered, frames come in order, memory stays bounded", () => {
  fc.assert(
    fc.property(
      path,
      path,
      fc.array(fc.integer({ min: 1, max: 30_000 }), {
        minLength: 1,
        maxLength: 12,
      }),
      fc.integer({ min: 0, max: 8 }),
      fc.constantFrom(0, 30, 200),
      fc.double({ min: 0, max: 0.05, noNaN: true }),
      (up, down, sizes, fec, fps, corrupt) => {
        const frames = makeFrames(sizes, sizes.length);
        let peak = 0;
        const result = simulate({
          frames,
          fps,
          up,
          down,
          corrupt,
          sender: { fec, datagramBytes: 600 },
          receiver: {
            latencyMs: 150,
            maxPendingBytes: 200_000,
            maxFramesInFlight: 8,
            maxStreams: 4,
          },
          maxTimeMs: 20_000,
          onStep(receiver) {
            peak = Math.max(peak, receiver.pendingBytes);
            // A flipped stream id makes a new stream: the table holds them.
            assert.ok(receiver.streams <= 4);
          },
        });
        assertInOrderSubsequence(result.delivered, frames);
        assert.ok(peak <= 200_000, `${peak} bytes pending`);
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("stream: below 10% loss each way, with a budget of several round trips, every frame arrives", () => {
  fc.assert(
    fc.property(
      fc.record({
        loss: fc.double({ min: 0, max: 0.1, noNaN: true }),
        duplicate: fc.double({ min: 0, max: 0.05, noNaN: true }),
        reorder: fc.double({ min: 0, max: 0.05, noNaN: true }),
        delayMs: fc.double({ min: 1, max: 20, noNaN: true }),
        seed: fc.integer(),
      }),
      fc.integer({ min: 0, max: 1000 }),
      fc.array(fc.integer({ min: 100, max: 40_000 }), {
        minLength: 1,
        maxLength: 10,
      }),
      fc.constantFrom(0, 4, 8),
      (link, seed, sizes, fec) => {
        const frames = makeFrames(sizes, seed);
        const result = simulate({
          frames,
          fps: 30,
          up: link,
          down: { ...link, seed: link.seed + 1 },
          sender: { fec },
          // RTT is at most 40 ms: the budget is over 20 of them.
          receiver: { latencyMs: 1000 },
        });
        assert.equal(
          result.delivered.length,
          frames.length,
          JSON.stringify(result.counters),
        );
        result.delivered.forEach((frame, i) =>
          assert.ok(sameBytes(frame, frames[i]!))
        );
        assert.ok(result.closed, "the sender did not finish");
      },
    ),
    { numRuns: 40 },
  );
});

Deno.test("stream: FEC repairs a single loss per group without a round trip", () => {
  const frames = makeFrames([50_000, 50_000, 50_000]);
  const result = simulate({
    frames,
    fps: 10,
    up: { loss: 0.02, delayMs: 10, seed: 4 },
    sender: { fec: 8 },
  });
  assert.equal(result.delivered.length, 3);
  assert.ok(result.counters.recoveredFec! > 0);
  assert.ok(result.counters.recoveredFec! >= result.counters.recoveredNack!);
});

Deno.test("stream: at --fps 0 the rate adapts to a bottleneck instead of flooding it", () => {
  const frames = makeFrames(Array.from({ length: 150 }, () => 30_000));
  // A 40 Mbit/s bottleneck with a 64 KiB queue.
  const result = simulate({
    frames,
    fps: 0,
    up: { rate: 5_000_000, queueBytes: 65_536, delayMs: 5, seed: 8 },
    sender: { initialRate: 2_000_000 },
    receiver: { latencyMs: 300 },
  });
  const delivered = result.delivered.length / frames.length;
  assert.ok(
    delivered >= 0.9,
    `delivered ${result.delivered.length} of ${frames.length}`,
  );
  // It used the path: 150 frames of 30 kB at 5 MB/s take 0.9 s at best.
  assert.ok(result.endedAt < 6000, `took ${result.endedAt} ms`);
});

Deno.test("stream: a first frame whose datagrams come after the second frame's still comes first", () => {
  const frames = makeFrames([549, 1], 2);
  const result = simulate({
    frames,
    fps: 0,
    // This seed sends the second frame's parity ahead of everything.
    up: { jitterMs: 0.0338, seed: -514177676 },
    sender: { fec: 2, datagramBytes: 600 },
    receiver: { latencyMs: 150 },
  });
  assert.equal(result.delivered.length, 2);
  assert.ok(sameBytes(result.delivered[0]!, frames[0]!));
  assert.ok(sameBytes(result.delivered[1]!, frames[1]!));
});

Deno.test("stream: a lost only frame is asked for and arrives before the sender's bye", () => {
  const frames = makeFrames([100], 0);
  const link = {
    loss: 0.09272266505286099,
    duplicate: 0,
    reorder: 0,
    delayMs: 1,
    seed: 23,
  };
  const result = simulate({
    frames,
    fps: 30,
    up: link,
    down: { ...link, seed: 24 },
    sender: { fec: 0 },
    receiver: { latencyMs: 1000 },
  });
  assert.equal(result.delivered.length, 1);
  assert.equal(result.counters.recoveredNack, 1);
});

/** 720p-sized frames over a fast path into a simulated decoder. */
function intoDecoder(count: number, fps: number, sink: SimSinkOptions) {
  const frames = makeFrames(Array.from({ length: count }, () => 116_000));
  const result = simulate({
    frames,
    fps,
    up: { rate: 400_000_000, queueBytes: 4_000_000, delayMs: 0.1, seed: 3 },
    down: { delayMs: 0.1, seed: 4 },
    receiver: { latencyMs: 300 },
    sink,
  });
  return { frames, result };
}

Deno.test("stream: at --fps 0 into a decoder slower than the path, the rate settles at the decoder's and no frame is skipped", () => {
  // A server that decodes 450 a second and loses its core for 20 ms every
  // quarter second.
  const { frames, result } = intoDecoder(900, 0, {
    fps: 450,
    stallEveryMs: 250,
    stallMs: 20,
  });
  assert.equal(result.delivered.length, frames.length);
  assert.equal(result.sinkSkipped, 0);
  // The decoder's own rate, stalls included, is 450 × 230 / 250 = 414.
  const fps = (1000 * frames.length) / result.endedAt;
  assert.ok(fps >= 0.9 * 414, `${fps.toFixed(0)} fps`);
});

Deno.test("stream: a paced stream below the decoder's rate reaches its pace within its first reports", () => {
  const { frames, result } = intoDecoder(600, 400, { fps: 450 });
  assert.equal(result.sinkSkipped, 0);
  // From 100 Mbit/s (about 107 of these frames a second) to 400 a second:
  // the frames replaced meanwhile are those of its first tenth of a second.
  assert.ok(
    result.sender.framesStale <= 0.05 * frames.length,
    `${result.sender.framesStale} stale`,
  );
});

Deno.test("stream: a receiver reports every 25 ms for a stream's first half second, then every 100 ms", () => {
  const frames = makeFrames(Array.from({ length: 60 }, () => 5000));
  const reportsAt: number[] = [];
  let last = 0;
  simulate({
    frames,
    fps: 60,
    onStep: (receiver, now) => {
      const sent = receiver.counters().reportsSent!;
      if (sent > last) reportsAt.push(now);
      last = sent;
    },
  });
  // Reports also go at once when the sender may be done; the gaps between
  // them are at most the interval.
  const gaps = (from: number, to: number) =>
    reportsAt.slice(1).map((t, i) => [reportsAt[i]!, t - reportsAt[i]!])
      .filter(([at]) => at! >= from && at! < to).map(([, gap]) => gap!);
  assert.ok(Math.max(...gaps(0, 450)) <= 25.5, `${gaps(0, 450)}`);
  assert.ok(Math.max(...gaps(600, 900)) > 90, `${gaps(600, 900)}`);
});
