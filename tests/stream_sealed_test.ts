/**
 * Sealed streams, the state machines on their own: the right key delivers
 * every frame, a wrong one none; a byte flipped anywhere, a replay from
 * anywhere, an unsealed datagram to a keyed end are refused; a sender
 * whose address changes carries on; key mismatches are told to the
 * sender's user; a multicast stream's receivers never share nonces.
 *
 * @module
 */

import assert from "node:assert/strict";
import { generateKey } from "../lib/crypto/key_file.ts";
import type { Endpoint } from "../lib/net/types.ts";
import type { ReceiverEvent } from "../lib/server/types.ts";
import { StreamReceiver } from "../lib/stream/receiver.ts";
import { StreamSender } from "../lib/stream/sender.ts";
import {
  FIXED_HEADER_BYTES,
  Flags,
  newFixedHeader,
  PacketType,
  readHeader,
  u32,
} from "../lib/stream/wire.ts";
import { makeFrames, simulate, simulateGroup } from "./_stream_sim.ts";

const KEY = generateKey();
const OTHER_KEY = generateKey();
const SERVER: Endpoint = { hostname: "127.0.0.1", port: 9999 };
const CLIENT: Endpoint = { hostname: "127.0.0.1", port: 5000 };
const CLIENT_KEY = "127.0.0.1:5000";
const ELSEWHERE: Endpoint = { hostname: "192.0.2.7", port: 40000 };
const ELSEWHERE_KEY = "192.0.2.7:40000";

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** A sender's datagrams for `frames`, and the sender. */
function sealedStream(
  frames: readonly Uint8Array[],
  key: Uint8Array | null = KEY,
): { sender: StreamSender; datagrams: Uint8Array[] } {
  const sender = new StreamSender({
    peer: SERVER,
    wallClockOrigin: 1_700_000_000_000,
    maxRate: 1e12,
    ...(key !== null && { key }),
  });
  const datagrams: Uint8Array[] = [];
  let now = 0;
  for (const frame of frames) {
    sender.sendFrame(now, frame);
    sender.handleTimeout(now);
    for (let t; (t = sender.pollTransmit()) !== undefined;) {
      datagrams.push(t.bytes.slice());
    }
    now += 10;
  }
  return { sender, datagrams };
}

function feed(
  receiver: StreamReceiver,
  now: number,
  datagrams: readonly Uint8Array[],
  from: Endpoint = CLIENT,
  fromKey = CLIENT_KEY,
): ReceiverEvent[] {
  for (const d of datagrams) {
    receiver.handleDatagram(now, d.slice(), from, fromKey);
  }
  receiver.handleTimeout(now);
  const events: ReceiverEvent[] = [];
  for (let e; (e = receiver.pollEvent()) !== undefined;) events.push(e);
  return events;
}

const framesOf = (events: ReceiverEvent[]) =>
  events.flatMap((e) => e.type === "frame" ? [e.frame.bytes] : []);

function receiver(key: Uint8Array | undefined = KEY): StreamReceiver {
  return new StreamReceiver({
    wallClockOrigin: 1_700_000_000_000,
    ...(key !== undefined && { key }),
  });
}

Deno.test("sealed: the right key delivers every frame through a lossy, duplicating, reordering path", () => {
  const frames = makeFrames([40_000, 900, 15_000, 60_000, 3, 22_222]);
  const result = simulate({
    frames,
    fps: 30,
    up: { loss: 0.05, duplicate: 0.02, reorder: 0.05, delayMs: 5, seed: 3 },
    down: { loss: 0.05, duplicate: 0.02, reorder: 0.05, delayMs: 5, seed: 4 },
    sender: { key: KEY, fec: 4 },
    receiver: { key: KEY, latencyMs: 400 },
  });
  assert.equal(result.delivered.length, frames.length);
  for (const [i, frame] of result.delivered.entries()) {
    assert.ok(sameBytes(frame, frames[i]!));
  }
  assert.ok(result.closed);
  assert.equal(result.counters.unauthenticated, 0);
  // The network's duplicates meet the replay window first.
  assert.ok(result.counters.replayed! > 0);
  assert.equal(result.sender.unauthenticated, 0);
  assert.ok(result.sender.retransmitted > 0, "nothing was sent again");
  assert.ok(result.sender.rttMs !== undefined, "no report was opened");
  assert.deepEqual(result.senderNotices, []);
});

Deno.test("sealed: every datagram is sealed, its header in the clear, and is 16 bytes longer than its unsealed twin", () => {
  const frames = makeFrames([5000]);
  const sealed: Uint8Array[] = [];
  const plain: Uint8Array[] = [];
  simulate({
    frames,
    fps: 0,
    sender: { key: KEY },
    receiver: { key: KEY },
    tap: (b) => sealed.push(b.slice()),
  });
  simulate({ frames, fps: 0, tap: (b) => plain.push(b.slice()) });
  const header = newFixedHeader();
  const types = new Set<number>();
  for (const d of sealed) {
    assert.equal(readHeader(d, header), undefined);
    assert.ok((header.flags & Flags.sealed) !== 0);
    types.add(header.type);
  }
  assert.ok(types.has(PacketType.data) && types.has(PacketType.bye));
  assert.ok(types.has(PacketType.senderReport));
  const dataSizes = (list: Uint8Array[]) =>
    list.filter((d) => d[3] === PacketType.data).map((d) => d.length);
  // Chunks are cut 16 bytes smaller, so that the sealed datagram fits.
  assert.ok(Math.max(...dataSizes(sealed)) <= 1200);
  assert.equal(sealed.find((d) => d[3] === PacketType.bye)!.length, 36);
  assert.equal(plain.find((d) => d[3] === PacketType.bye)!.length, 20);
  // A sealed sender starts its packet numbers at a random place.
  readHeader(sealed[0]!, header);
  assert.ok(header.packetNumber > 0 && header.packetNumber < 2 ** 52);
});

Deno.test("sealed: a wrong key delivers no frame, counts every datagram, and says so once", () => {
  const frames = makeFrames([30_000, 30_000, 30_000]);
  const result = simulate({
    frames,
    fps: 30,
    sender: { key: KEY },
    receiver: { key: OTHER_KEY },
    maxTimeMs: 5000,
  });
  assert.equal(result.delivered.length, 0);
  assert.equal(result.counters.unauthenticated, result.sender.datagramsSent);
  const notices = result.events.flatMap((e) =>
    e.type === "notice" ? [e.text] : []
  );
  assert.deepEqual(notices, [
    "1 datagram from 127.0.0.1:5000 failed authentication, wrong key?",
  ]);
  assert.equal(result.counters.reportsSent, 0);
  assert.ok(
    result.senderNotices.some((line) =>
      line.includes("says our datagrams failed authentication")
    ),
    result.senderNotices.join("\n"),
  );
});

Deno.test("sealed: the failure line comes at most once a minute, with the count since", () => {
  const { datagrams } = sealedStream(makeFrames([20_000]), OTHER_KEY);
  const r = receiver();
  const lines = (events: ReceiverEvent[]) =>
    events.flatMap((e) => e.type === "notice" ? [e.text] : []);
  assert.equal(lines(feed(r, 0, datagrams)).length, 1);
  assert.equal(lines(feed(r, 30_000, datagrams)).length, 0);
  assert.deepEqual(lines(feed(r, 60_000, datagrams.slice(0, 1))), [
    `${
      2 * datagrams.length - 1 + 1
    } datagrams from 127.0.0.1:5000 failed authentication, wrong key?`,
  ]);
});

Deno.test("sealed: a byte flipped anywhere in a sealed datagram gets it refused, every offset, both directions", () => {
  const frame = makeFrames([700])[0]!;
  const { sender, datagrams } = sealedStream([frame]);
  const data = datagrams.find((d) => d[3] === PacketType.data)!;
  for (let offset = 0; offset < data.length; offset++) {
    for (const bit of [0x01, 0x80]) {
      const r = receiver();
      const forged = data.slice();
      forged[offset]! ^= bit;
      assert.deepEqual(framesOf(feed(r, 0, [forged])), [], `offset ${offset}`);
      const c = r.counters();
      assert.equal(
        c.unauthenticated! + c.malformed! + c.unsupported!,
        1,
        `offset ${offset}`,
      );
      assert.equal(r.streams, 0, `a forgery at ${offset} made a stream`);
      // The good datagram still gets through afterwards.
      assert.equal(framesOf(feed(r, 1, [data])).length, 1);
    }
  }
  // Feedback: a report from a keyed receiver, flipped, is refused too.
  const r = receiver();
  feed(r, 0, [data]);
  r.handleTimeout(500);
  const report = (() => {
    for (let t; (t = r.pollTransmit()) !== undefined;) {
      if (t.bytes[3] === PacketType.report) return t.bytes;
    }
    throw new Error("no report");
  })();
  for (let offset = 0; offset < report.length; offset++) {
    const forged = report.slice();
    forged[offset]! ^= 0x10;
    const before = sender.stats;
    sender.handleDatagram(2000, forged, SERVER);
    const after = sender.stats;
    assert.equal(after.report, before.report, `report offset ${offset}`);
  }
  sender.handleDatagram(2000, report, SERVER);
  assert.notEqual(sender.stats.report, undefined);
  sender[Symbol.dispose]();
});

Deno.test("sealed: a packet number past 2^53 - 1 is refused unopened, not thrown on (found by the fuzz harness)", () => {
  const { datagrams } = sealedStream(makeFrames([700]));
  const forged = datagrams[1]!.slice();
  forged.fill(0x7f, 12, 20);
  const r = receiver();
  assert.deepEqual(framesOf(feed(r, 0, [forged])), []);
  assert.equal(r.counters().unauthenticated, 1);
  assert.equal(framesOf(feed(r, 1, datagrams)).length, 1);
});

Deno.test("sealed: a captured stream replayed whole or in part, from the same or another address, delivers no frame twice", () => {
  const frames = makeFrames([9000, 4000, 12_000, 100]);
  const { datagrams } = sealedStream(frames);
  const r = receiver();
  const delivered = framesOf(feed(r, 0, datagrams));
  assert.equal(delivered.length, frames.length);
  // While the stream lives: the window refuses every copy.
  assert.deepEqual(framesOf(feed(r, 5, datagrams)), []);
  assert.deepEqual(
    framesOf(feed(r, 6, datagrams.slice(3, 9), ELSEWHERE, ELSEWHERE_KEY)),
    [],
  );
  assert.deepEqual(
    framesOf(feed(r, 7, datagrams.toReversed(), ELSEWHERE, ELSEWHERE_KEY)),
    [],
  );
  assert.equal(r.counters().replayed, 2 * datagrams.length + 6);
  // After the bye and once the stream is forgotten: still refused.
  r.handleTimeout(60_000);
  assert.equal(r.streams, 0);
  assert.deepEqual(framesOf(feed(r, 61_000, datagrams)), []);
  assert.deepEqual(
    framesOf(feed(r, 61_001, datagrams, ELSEWHERE, ELSEWHERE_KEY)),
    [],
  );
  assert.equal(r.streams, 0);
});

Deno.test("sealed: reordering within the window is accepted once per datagram", () => {
  const frames = makeFrames([30_000, 30_000]);
  const { datagrams } = sealedStream(frames);
  // Neighbours swapped, and every datagram twice.
  const shuffled = datagrams.map((_, i) =>
    datagrams[i % 2 === 0 ? Math.min(i + 1, datagrams.length - 1) : i - 1]!
  );
  const r = receiver();
  const events = feed(r, 0, [...shuffled, ...shuffled]);
  assert.equal(framesOf(events).length, 2);
  assert.equal(r.counters().replayed, datagrams.length);
});

Deno.test("sealed: a sender whose address changes mid-stream carries on, and replies follow it", () => {
  const frames = makeFrames([8000, 8000, 8000, 8000]);
  const { datagrams } = sealedStream(frames);
  const r = receiver();
  const half = Math.floor(datagrams.length / 2);
  const first = framesOf(feed(r, 0, datagrams.slice(0, half)));
  while (r.pollTransmit() !== undefined);
  const second = framesOf(
    feed(r, 1, datagrams.slice(half), ELSEWHERE, ELSEWHERE_KEY),
  );
  assert.equal(first.length + second.length, frames.length);
  assert.equal(r.streams, 1);
  r.handleTimeout(200);
  const targets = new Set<string>();
  for (let t; (t = r.pollTransmit()) !== undefined;) {
    targets.add(`${t.to.hostname}:${t.to.port}`);
  }
  assert.deepEqual([...targets], [ELSEWHERE_KEY]);
  // Frames keep the name the stream began with.
  const events = feed(r, 2, []);
  assert.ok(events.every((e) => !("sender" in e) || e.sender === CLIENT_KEY));
});

Deno.test("sealed: a keyed receiver refuses unsealed datagrams and hints so; the keyless sender's user is told", () => {
  const frames = makeFrames([20_000, 20_000]);
  const result = simulate({
    frames,
    fps: 30,
    receiver: { key: KEY },
    maxTimeMs: 3000,
  });
  assert.equal(result.delivered.length, 0);
  assert.equal(result.counters.unauthenticated, result.sender.datagramsSent);
  assert.ok(result.counters.hintsSent! >= 1);
  assert.ok(
    result.events.some((e) =>
      e.type === "notice" && e.text.includes("sends unsealed stream datagrams")
    ),
  );
  assert.deepEqual(result.senderNotices, [
    "127.0.0.1:9999 says it needs a key: give --key-file FILE (or UDPIMG_KEY_FILE) with the server's key (an unauthenticated hint)",
  ]);
});

Deno.test("sealed: a keyless receiver hints that it has no key; the keyed sender's user is told", () => {
  const result = simulate({
    frames: makeFrames([20_000, 20_000]),
    fps: 30,
    sender: { key: KEY },
    maxTimeMs: 3000,
  });
  assert.equal(result.delivered.length, 0);
  assert.ok(result.counters.sealed! > 0);
  assert.deepEqual(result.senderNotices, [
    "127.0.0.1:9999 says it has no key, so it cannot open sealed datagrams: give the server --key-file too, or drop --key-file here (an unauthenticated hint)",
  ]);
});

Deno.test("sealed: hints are never longer than what caused them, a few a second per source", () => {
  const r = receiver();
  const { datagrams } = sealedStream(makeFrames([50_000]), null);
  let hints = 0;
  for (let ms = 0; ms < 2000; ms += 1) {
    const d = datagrams[ms % datagrams.length]!;
    r.handleDatagram(ms, d.slice(), CLIENT, CLIENT_KEY);
    for (let t; (t = r.pollTransmit()) !== undefined;) {
      assert.ok(t.bytes.length <= d.length);
      assert.equal(t.bytes[3], PacketType.notice);
      hints++;
    }
  }
  assert.ok(hints >= 2 && hints <= 10, `${hints} hints in 2 s`);
  // A bye (20 bytes) is too short to answer at all.
  const bye = datagrams.at(-1)!.slice(0, FIXED_HEADER_BYTES);
  bye[3] = PacketType.bye;
  r.handleDatagram(10_000, bye, ELSEWHERE, ELSEWHERE_KEY);
  assert.equal(r.pollTransmit(), undefined);
});

Deno.test("sealed: a forged hint only makes a line, and nothing answers for it when keyed", () => {
  const { sender } = sealedStream(makeFrames([3000]));
  const forged = new Uint8Array(40);
  forged.set([0x55, 0x53, 1, PacketType.notice]);
  forged.set(
    new Uint8Array(new Uint32Array([sender.streamId]).buffer).reverse(),
    8,
  );
  forged[12] = 0x80;
  forged[20] = 1;
  const before = sender.stats;
  sender.handleDatagram(50, forged, SERVER);
  assert.deepEqual(
    { ...sender.stats, report: undefined },
    { ...before, report: undefined },
  );
  const lines = [];
  for (let e; (e = sender.pollEvent()) !== undefined;) lines.push(e);
  assert.equal(lines.length, 1);
  assert.equal(u32(forged, 8), sender.streamId);
});

Deno.test("sealed: a keyed sender that hears nothing it can open says so once", () => {
  const sender = new StreamSender({ peer: SERVER, key: KEY });
  sender.sendFrame(0, new Uint8Array(5000));
  const lines: string[] = [];
  for (let now = 0; now < 10_000; now += 100) {
    sender.handleTimeout(now);
    while (sender.pollTransmit() !== undefined);
    for (let e; (e = sender.pollEvent()) !== undefined;) {
      if (e.type === "notice") lines.push(e.text);
    }
  }
  assert.deepEqual(lines, [
    "no reply could be authenticated within 3 s: wrong key, or the server has none?",
  ]);
  sender[Symbol.dispose]();
});

Deno.test("sealed multicast: two receivers behind lossy paths get every frame, and their feedback never shares a nonce", () => {
  const frames = makeFrames([20_000, 35_000, 8000, 20_000, 1000, 45_000]);
  const nonces = new Set<string>();
  const result = simulateGroup({
    frames,
    fps: 20,
    paths: [
      {
        up: { loss: 0.08, delayMs: 3, seed: 5 },
        down: { loss: 0.05, seed: 6 },
      },
      { up: { loss: 0.03, delayMs: 8, seed: 7 }, down: { seed: 8 } },
    ],
    sender: { key: KEY, fec: 4 },
    receiver: { key: KEY, latencyMs: 400 },
    onFeedback: (bytes) => {
      const nonce = Array.from(bytes.subarray(8, 20)).join(",");
      assert.ok(!nonces.has(nonce), "a nonce came twice");
      nonces.add(nonce);
    },
  });
  for (const delivered of result.delivered) {
    assert.equal(delivered.length, frames.length);
    for (const [i, frame] of delivered.entries()) {
      assert.ok(sameBytes(frame, frames[i]!));
    }
  }
  assert.ok(result.closed);
  assert.equal(result.sender.unauthenticated, 0);
  assert.equal(result.sender.replayed, 0);
  assert.ok(result.sender.retransmitted > 0);
});
