import assert from "node:assert/strict";
import { parseJpeg } from "../lib/rtp/jpeg.ts";
import { readRtpHeader } from "../lib/rtp/packet.ts";
import { parseRtcp } from "../lib/rtp/rtcp.ts";
import {
  type MediaSink,
  type PacketizedFrame,
  RtspStream,
} from "../lib/rtsp/stream.ts";

const jpeg = parseJpeg(
  await Deno.readFile(
    new URL("../bench/frames/photo_640x480.jpg", import.meta.url),
  ),
);

class RecordingSink implements MediaSink {
  frames: PacketizedFrame[] = [];
  rtcp: Uint8Array[] = [];
  sendFrame(frame: PacketizedFrame): void {
    this.frames.push(frame);
  }
  sendRtcp(packet: Uint8Array): void {
    this.rtcp.push(packet);
  }
}

Deno.test("RtspStream packetizes each frame once for every sink, with one SSRC and continuing sequence numbers", () => {
  const stream = new RtspStream({
    ssrc: 42,
    sequence: 65530,
    timestampBase: 1000,
  });
  const a = new RecordingSink();
  const b = new RecordingSink();
  assert.equal(stream.deliver(jpeg, 0), undefined, "no sink, no work");
  stream.addSink(a, 0, 0);
  stream.addSink(b, 0, 0);
  stream.deliver(jpeg, 100);
  stream.deliver(jpeg, 133.4);
  assert.equal(a.frames.length, 2);
  assert.ok(a.frames.every((frame, i) => frame === b.frames[i]));
  const headers = a.frames.flatMap((frame) =>
    frame.packets.map((p) => readRtpHeader(p))
  );
  assert.ok(headers.every((h) => typeof h !== "string" && h.ssrc === 42));
  const sequences = headers.map((h) => typeof h === "string" ? -1 : h.sequence);
  for (let i = 1; i < sequences.length; i++) {
    assert.equal(sequences[i], (sequences[i - 1]! + 1) & 0xffff);
  }
  assert.equal(sequences[0], 65530);
  assert.deepEqual(a.frames.map((f) => f.timestamp), [
    1000 + 9000,
    1000 + 12006,
  ]);
  const play = stream.playInfo(200);
  assert.equal(play.sequence, (65530 + sequences.length) & 0xffff);
  assert.equal(play.timestamp, 1000 + 18000);
});

Deno.test("RtspStream drops a frame older than the last delivered one (a late transcode)", () => {
  const stream = new RtspStream();
  const sink = new RecordingSink();
  stream.addSink(sink, 0, 0);
  stream.deliver(jpeg, 50);
  assert.equal(stream.deliver(jpeg, 40), undefined);
  assert.equal(sink.frames.length, 1);
});

Deno.test("PacketizedFrame interleaves once per channel", () => {
  const stream = new RtspStream();
  stream.addSink(new RecordingSink(), 0, 0);
  const frame = stream.deliver(jpeg, 0)!;
  const zero = frame.interleaved(0);
  assert.equal(frame.interleaved(0), zero);
  assert.notEqual(frame.interleaved(2), zero);
  assert.equal(zero.length, frame.bytes + 4 * frame.packets.length);
  assert.deepEqual([...zero.subarray(0, 2)], [0x24, 0]);
});

Deno.test("RtspStream sends a sender report to a new sink at once, then about once a second, and BYE when asked", () => {
  const stream = new RtspStream({
    ssrc: 7,
    timestampBase: 0,
    reportIntervalMs: 1000,
  });
  const sink = new RecordingSink();
  assert.equal(stream.pollTimeout(), undefined);
  const wall = Date.UTC(2026, 0, 1);
  stream.addSink(sink, 0, wall);
  assert.equal(sink.rtcp.length, 1);
  const [sr, sdes] = parseRtcp(sink.rtcp[0]!);
  assert.equal(sr?.type, "sr");
  assert.equal(sdes?.type, "sdes");
  assert.equal(stream.pollTimeout(), 1000);
  stream.handleTimeout(999, wall + 999);
  assert.equal(sink.rtcp.length, 1);
  stream.deliver(jpeg, 500);
  stream.handleTimeout(1000, wall + 1000);
  assert.equal(sink.rtcp.length, 2);
  const [report] = parseRtcp(sink.rtcp[1]!);
  assert.ok(report?.type === "sr");
  assert.equal(report.rtpTimestamp, 90000);
  assert.equal(report.packets, sink.frames[0]!.packets.length);
  const next = stream.pollTimeout()!;
  assert.ok(next >= 1500 && next <= 2500, `next report at ${next}`);
  stream.removeSink(sink, true);
  assert.equal(parseRtcp(sink.rtcp.at(-1)!)[0]?.type, "bye");
  assert.equal(stream.pollTimeout(), undefined);
});
