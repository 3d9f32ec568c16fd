/**
 * Hostile input to the stream protocol's two sides, after which a good
 * stream is still served: forged chunk counts and frame lengths, chunk
 * counts that disagree within a frame, NACKs for frames never sent, NACK
 * floods, NACKs from a third address, reports with absurd values.
 *
 * @module
 */

import assert from "node:assert/strict";
import { reportOf } from "./_stream_report.ts";
import fc from "fast-check";
import type { Endpoint } from "../lib/net/types.ts";
import type { ReceiverEvent } from "../lib/server/types.ts";
import { StreamReceiver } from "../lib/stream/receiver.ts";
import { StreamSender } from "../lib/stream/sender.ts";
import {
  encodeNacks,
  encodeReport,
  PacketType,
  writeChunkHeader,
  writeHeader,
} from "../lib/stream/wire.ts";
import { makeFrames } from "./_stream_sim.ts";

const SERVER: Endpoint = { hostname: "127.0.0.1", port: 9999 };
const CLIENT: Endpoint = { hostname: "127.0.0.1", port: 5000 };

function datagramsOf(sender: StreamSender, now: number): Uint8Array[] {
  sender.handleTimeout(now);
  const out: Uint8Array[] = [];
  for (let t; (t = sender.pollTransmit()) !== undefined;) {
    out.push(t.bytes.slice());
  }
  return out;
}

function feed(
  receiver: StreamReceiver,
  now: number,
  datagrams: Uint8Array[],
): ReceiverEvent[] {
  for (const d of datagrams) {
    receiver.handleDatagram(now, d, CLIENT, "127.0.0.1:5000");
  }
  receiver.handleTimeout(now);
  const events: ReceiverEvent[] = [];
  for (let e; (e = receiver.pollEvent()) !== undefined;) events.push(e);
  return events;
}

function forgedChunk(fields: {
  streamId: number;
  packet: number;
  frameId: number;
  index: number;
  count: number;
  frameLength: number;
  payload: number;
}): Uint8Array {
  const bytes = new Uint8Array(48 + fields.payload);
  writeHeader(bytes, PacketType.data, 0, fields.streamId, false, fields.packet);
  // Written by hand: the writer refuses some of these.
  const view = new DataView(bytes.buffer);
  view.setUint32(20, fields.frameId);
  view.setUint16(24, fields.index);
  view.setUint16(26, fields.count);
  view.setUint32(28, fields.frameLength);
  return bytes;
}

Deno.test("a receiver survives forged chunk counts, oversized frames and disagreeing chunks, then serves a good stream", () => {
  const receiver = new StreamReceiver({ maxFrameBytes: 1 << 20 });
  const hostile: Uint8Array[] = [];
  let packet = 0;
  for (let i = 0; i < 2000; i++) {
    hostile.push(forgedChunk({
      streamId: 7,
      packet: packet++,
      frameId: i,
      index: i % 70,
      count: [0, 1, 65535, 3, 2][i % 5]!,
      frameLength: [0xffffffff, 1 << 21, 10, 65535 * 1148, 7][i % 5]!,
      payload: [1148, 0, 5, 1148, 3][i % 5]!,
    }));
  }
  // One frame of three chunks whose second chunk says there are four.
  const good = new Uint8Array(30).fill(1);
  for (const [index, count] of [[0, 3], [1, 4], [2, 3]] as const) {
    const bytes = new Uint8Array(48 + 10);
    writeHeader(bytes, PacketType.data, 0, 8, false, index);
    writeChunkHeader(bytes, {
      frameId: 0,
      index,
      count,
      frameLength: count * 10,
      crc: 0,
      timestamp: 0,
      sendOffset: 0,
    });
    bytes.set(good.subarray(index * 10, index * 10 + 10), 48);
    hostile.push(bytes);
  }
  feed(receiver, 0, hostile);
  assert.ok(receiver.pendingBytes <= 1 << 20, `${receiver.pendingBytes}`);
  const counters = receiver.counters();
  assert.ok(counters.malformed! > 1000);
  assert.ok(counters.inconsistent! >= 1);
  // Now a good stream, from the same address.
  const sender = new StreamSender({ peer: SERVER, wallClockOrigin: 0 });
  const frames = makeFrames([5000, 70_000]);
  for (const frame of frames) sender.sendFrame(0, frame);
  const delivered: Uint8Array[] = [];
  for (let now = 1; now < 500 && delivered.length < 2; now += 10) {
    for (const e of feed(receiver, now, datagramsOf(sender, now))) {
      if (e.type === "frame") delivered.push(e.frame.bytes);
    }
  }
  assert.equal(delivered.length, 2);
  assert.ok(delivered.every((f, i) => f.every((b, j) => b === frames[i]![j])));
});

Deno.test("a receiver never throws on random datagrams and keeps its memory bound", () => {
  const receiver = new StreamReceiver({
    maxFrameBytes: 100_000,
    maxPendingBytes: 300_000,
    maxStreams: 8,
  });
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.integer({ min: 1, max: 8 }),
          fc.integer({ min: 0, max: 3 }),
          fc.uint8Array({ minLength: 0, maxLength: 1300 }),
        ),
        { maxLength: 50 },
      ),
      (datagrams) => {
        for (const [type, stream, body] of datagrams) {
          const bytes = new Uint8Array(20 + body.length);
          writeHeader(
            bytes,
            type as 1,
            0,
            stream,
            type === 3 || type === 4 || type === 6,
            0,
          );
          bytes.set(body, 20);
          receiver.handleDatagram(
            0,
            bytes,
            CLIENT,
            `127.0.0.1:${5000 + stream}`,
          );
        }
        receiver.handleTimeout(1e9 * Math.random());
        while (receiver.pollEvent() !== undefined);
        while (receiver.pollTransmit() !== undefined);
        assert.ok(receiver.pendingBytes <= 300_000);
        assert.ok(receiver.streams <= 8);
      },
    ),
  );
});

Deno.test("a sender ignores NACKs for frames never sent, from a third address, and floods past its share", () => {
  const sender = new StreamSender({
    peer: SERVER,
    wallClockOrigin: 0,
    maxRate: 1_000_000,
    initialRate: 1_000_000,
  });
  sender.sendFrame(0, new Uint8Array(20_000).fill(3));
  let sentBytes = 0;
  for (let now = 0; now < 100; now++) {
    for (const d of datagramsOf(sender, now)) sentBytes += d.length;
  }
  const id = sender.streamId;
  const nack = (frameId: number, first: number) => {
    const [bytes] = encodeNacks([{ frameId, first, bitmap: 0xffff }], 1200);
    writeHeader(bytes!, PacketType.nack, 0, id, true, 0);
    return bytes!;
  };
  // From a third address: nothing.
  for (let i = 0; i < 100; i++) {
    sender.handleDatagram(100, nack(0, 0xffff), {
      hostname: "127.0.0.1",
      port: 4444,
    });
  }
  assert.equal(datagramsOf(sender, 100).length, 0);
  assert.equal(sender.stats.foreign, 100);
  // Never sent: nothing.
  sender.handleDatagram(100, nack(12345, 0), SERVER);
  assert.equal(datagramsOf(sender, 100).length, 0);
  // A flood of whole-frame NACKs from the receiver: at most its share.
  let resent = 0;
  for (let now = 100; now < 1100; now++) {
    for (let i = 0; i < 10; i++) {
      sender.handleDatagram(now, nack(0, 0xffff), SERVER);
    }
    for (const d of datagramsOf(sender, now)) resent += d.length;
  }
  // 25% of 1 MB/s for a second, plus the first burst of the share.
  assert.ok(resent <= 250_000 + 64 * 1024 + 5000, `${resent} bytes resent`);
  assert.ok(sender.stats.retransmitSkipped > 0);
  assert.ok(sentBytes > 20_000);
});

Deno.test("a sender survives reports with absurd values and keeps a sane rate", () => {
  const sender = new StreamSender({ peer: SERVER, wallClockOrigin: 0 });
  sender.sendFrame(0, new Uint8Array(5000));
  datagramsOf(sender, 0);
  const max = 2 ** 32 - 1;
  for (let i = 0; i < 50; i++) {
    const report = encodeReport({
      highestPacket: i % 2 === 0 ? 2 ** 62 : 0,
      delaySince: max,
      receiverClock: i % 3 === 0 ? 0 : 2 ** 60,
      packetsReceived: max - i,
      bytesReceived: max,
      nextFrameId: max,
      framesDelivered: max,
      framesLost: max,
      framesLate: max,
      framesCorrupt: max,
      recoveredNack: max,
      recoveredFec: max,
      chunksLate: max,
      jitter: max,
      queueingDelay: i % 2 === 0 ? max : 0,
      framesSkipped: i,
      framesWaiting: max,
    });
    writeHeader(report, PacketType.report, 0, sender.streamId, true, i);
    sender.handleDatagram(i * 100, report, SERVER);
    sender.handleDatagram(i * 100, report.subarray(0, 30), SERVER);
  }
  const stats = sender.stats;
  assert.ok(stats.rate >= 62_500 && Number.isFinite(stats.rate));
  assert.ok(stats.rttMs === undefined || Number.isFinite(stats.rttMs));
  assert.ok(stats.lossFraction >= 0 && stats.lossFraction <= 1);
  // It still sends.
  sender.sendFrame(6000, new Uint8Array(3000));
  assert.ok(datagramsOf(sender, 6000).length >= 3);
});

Deno.test("StreamReceiver takes no feedback: a NACK or report sent to it opens no stream and draws nothing back", () => {
  const receiver = new StreamReceiver();
  const nack = encodeNacks(
    [{ frameId: 0, first: 0, bitmap: 0xffff }],
    1200,
  )[0]!;
  writeHeader(nack, PacketType.nack, 0, 7, true, 1);
  const report = encodeReport(reportOf({}));
  writeHeader(report, PacketType.report, 0, 7, true, 2);
  for (let now = 0; now < 2000; now += 50) feed(receiver, now, [nack, report]);
  assert.equal(receiver.streams, 0);
  assert.equal(receiver.pollTransmit(), undefined);
});

Deno.test("StreamReceiver reports again to a sender that comes back after a silence", () => {
  const sender = new StreamSender({ peer: SERVER });
  const receiver = new StreamReceiver();
  const frames = makeFrames([5000, 5000], 1);
  const reportsBy = (now: number): number => {
    let reports = 0;
    for (let t; (t = receiver.pollTransmit()) !== undefined;) {
      if (t.bytes[3] === PacketType.report) reports++;
    }
    receiver.handleTimeout(now);
    return reports;
  };
  sender.sendFrame(0, frames[0]!);
  feed(receiver, 0, datagramsOf(sender, 0));
  for (let now = 0; now <= 3000; now += 100) reportsBy(now);
  // Silent for three seconds: no more reports.
  assert.equal(reportsBy(3100), 0);
  sender.sendFrame(3200, frames[1]!);
  feed(receiver, 3200, datagramsOf(sender, 3200));
  let reports = 0;
  for (let now = 3200; now <= 3600; now += 20) reports += reportsBy(now);
  assert.ok(reports > 0, "no report after the sender came back");
});
