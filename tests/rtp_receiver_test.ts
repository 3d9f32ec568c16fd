import assert from "node:assert/strict";
import fc from "fast-check";
import {
  buildBye,
  buildSenderReport,
  packetizeJpeg,
  parseJpeg,
  parseRtcp,
  RtpReceiver,
  type RtpReceiverOptions,
} from "../lib/rtp/mod.ts";
import { ClassicReceiver } from "../lib/classic/receiver.ts";
import { ProtocolDemux } from "../lib/server/demux.ts";
import type { ReceiverEvent } from "../lib/server/types.ts";

const jpeg = parseJpeg(
  await Deno.readFile(new URL("./fixtures/rtp_422.jpg", import.meta.url)),
);
const FROM = { hostname: "127.0.0.1", port: 40000 };
const KEY = "127.0.0.1:40000";

function receiver(options: RtpReceiverOptions = {}): RtpReceiver {
  return new RtpReceiver({ reportIntervalMs: 0, ssrc: 99, ...options });
}

function drain(r: RtpReceiver): ReceiverEvent[] {
  const events: ReceiverEvent[] = [];
  for (let e; (e = r.pollEvent()) !== undefined;) events.push(e);
  return events;
}

function frame(ssrc: number, sequence: number, timestamp: number) {
  return packetizeJpeg(jpeg, { ssrc, sequence, timestamp, mtu: 600 });
}

Deno.test("RtpReceiver.matches takes RTP/JPEG and never a classic sender's first datagram", async () => {
  const r = receiver();
  const [packet] = frame(1, 0, 0);
  assert.ok(r.matches(packet!));
  const jpegFile = await Deno.readFile(
    new URL("./fixtures/rtp_422.jpg", import.meta.url),
  );
  const png = await Deno.readFile(
    new URL("./fixtures/astronaut.png", import.meta.url),
  );
  for (const first of [new Uint8Array(8), new Uint8Array(4), jpegFile, png]) {
    assert.equal(r.matches(first), false);
  }
  fc.assert(fc.property(
    fc.oneof(
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.uint8Array({ minLength: 20, maxLength: 64 }).map((b) =>
        Uint8Array.of(0xff, 0xd8, ...b)
      ),
      fc.uint8Array({ minLength: 20, maxLength: 64 }).map((b) =>
        Uint8Array.of(0x89, 0x50, ...b)
      ),
    ),
    (first) => !r.matches(first),
  ));
  // Another payload type, RTCP and a short packet are not RTP/JPEG.
  const other = packet!.slice();
  other[1] = 96;
  assert.equal(r.matches(other), false);
  assert.ok(receiver({ payloadTypes: [96] }).matches(other));
  assert.equal(r.matches(buildBye(1)), false);
  assert.equal(r.matches(packet!.subarray(0, 19)), false);
});

Deno.test("ProtocolDemux sends RTP senders to RTP and classic senders to classic", () => {
  const rtp = receiver();
  const classic = new ClassicReceiver();
  const demux = new ProtocolDemux([rtp, classic]);
  assert.equal(demux.route(frame(1, 0, 0)[0]!, "a:1"), rtp);
  assert.equal(demux.route(new Uint8Array(8), "b:1"), classic);
  // Once decided, a sender's other datagrams follow.
  assert.equal(demux.route(new Uint8Array(1024), "a:1"), rtp);
});

Deno.test("RtpReceiver hands out frames of two SSRCs from one sender, and counts lost frames", () => {
  const r = receiver();
  const n = frame(1, 0, 0).length;
  const a = [...frame(1, 0, 0), ...frame(1, n, 3000)];
  const b = [...frame(2, 500, 7), ...frame(2, 500 + n, 3007)];
  a.splice(1, 1); // the first frame of SSRC 1 loses a packet
  const interleaved = b.flatMap((p, i) => a[i] ? [a[i]!, p] : [p]);
  for (const packet of interleaved) r.handleDatagram(0, packet, FROM, KEY);
  const events = drain(r);
  const frames = events.filter((e) => e.type === "frame");
  assert.equal(frames.length, 3);
  const drops = events.filter((e) => e.type === "dropped");
  assert.deepEqual(
    drops.map((e) => e.type === "dropped" && [e.reason, e.frames, e.sender]),
    [["lost", 1, KEY]],
  );
  for (const e of frames) {
    assert.ok(e.type === "frame");
    assert.equal(e.frame.protocol, "rtp");
    assert.equal(e.frame.format, "jpeg");
    assert.equal(e.frame.mode, "chunked");
    assert.equal(e.frame.sentAt, undefined);
  }
});

Deno.test("RtpReceiver maps RTP time to the receiver's clock through the sender report", () => {
  // The receiver's clock is the wall clock minus 1_000_000 ms.
  const r = receiver({ clockOffsetMs: 1_000_000 });
  const packets = frame(5, 0, 90_000 * 2);
  r.handleDatagram(0, packets[0]!, FROM, KEY);
  // The sender says RTP time 90000 was wall time 1_005_000 ms.
  const sr = buildSenderReport({
    ssrc: 5,
    ntpMs: 1_005_000,
    rtpTimestamp: 90_000,
    packets: 1,
    octets: 100,
    cname: "cam",
  });
  r.handleControlDatagram(1, sr, { hostname: "127.0.0.1", port: 40001 });
  for (const packet of packets.slice(1)) r.handleDatagram(2, packet, FROM, KEY);
  const [event] = drain(r);
  assert.ok(event?.type === "frame");
  // One second of RTP time later: wall 1_006_000, our clock 6000.
  assert.ok(Math.abs(event.frame.sentAt! - 6000) < 0.01);
  assert.equal(event.frame.sentAtEstimated, false);
  // A sender on another machine: its RTP and RTCP come from there.
  const remote = receiver({ clockOffsetMs: 0 });
  const far = { hostname: "10.0.0.2", port: 40000 };
  remote.handleDatagram(0, packets[0]!, far, "10.0.0.2:40000");
  remote.handleControlDatagram(1, sr, { hostname: "10.0.0.2", port: 40001 });
  for (const p of packets.slice(1)) {
    remote.handleDatagram(2, p, far, "10.0.0.2:40000");
  }
  const [other] = drain(remote);
  assert.ok(other?.type === "frame" && other.frame.sentAtEstimated === true);
});

Deno.test("RtpReceiver takes a source's RTCP only from the host that sends its RTP", () => {
  const r = receiver();
  const packets = frame(5, 0, 0);
  r.handleDatagram(0, packets[0]!, FROM, KEY);
  // Another host that saw the SSRC says goodbye for it, and reports for it.
  const elsewhere = { hostname: "10.9.9.9", port: 40001 };
  r.handleControlDatagram(1, buildBye(5), elsewhere);
  r.handleControlDatagram(
    1,
    buildSenderReport({
      ssrc: 5,
      ntpMs: 1_005_000,
      rtpTimestamp: 0,
      packets: 1,
      octets: 100,
      cname: "x",
    }),
    elsewhere,
  );
  for (const packet of packets.slice(1)) r.handleDatagram(2, packet, FROM, KEY);
  const [event] = drain(r);
  assert.ok(event?.type === "frame", "the frame still arrives");
  assert.equal(event.frame.sentAt, undefined);
});

Deno.test("RtpReceiver sends receiver reports from the control port to the sender's RTCP address", () => {
  const r = receiver({ reportIntervalMs: 1000 });
  for (const packet of frame(5, 65530, 0)) {
    r.handleDatagram(0, packet, FROM, KEY);
  }
  drain(r);
  const due = r.pollTimeout()!;
  assert.ok(due <= 1000);
  r.handleTimeout(1000);
  const first = r.pollTransmit();
  assert.ok(first);
  assert.equal(first.via, "control");
  // No sender report yet: RTP source port + 1.
  assert.deepEqual(first.to, { hostname: "127.0.0.1", port: 40001 });
  const [rr] = parseRtcp(first.bytes);
  assert.ok(rr?.type === "rr");
  assert.equal(rr.ssrc, 99);
  const block = rr.reports[0]!;
  assert.equal(block.ssrc, 5);
  assert.equal(block.cumulativeLost, 0);
  const count = frame(5, 65530, 0).length;
  assert.equal(block.highestSequence, 65530 + count - 1);
  // After a sender report, reports go where it came from, with LSR set.
  const sr = buildSenderReport({
    ssrc: 5,
    ntpMs: Date.now(),
    rtpTimestamp: 0,
    packets: 3,
    octets: 100,
    cname: "cam",
  });
  const from = { hostname: "127.0.0.1", port: 50123 };
  r.handleControlDatagram(1500, sr, from);
  r.handleTimeout(2000);
  const second = r.pollTransmit();
  assert.deepEqual(second?.to, from);
  const [rr2] = parseRtcp(second!.bytes);
  assert.ok(rr2?.type === "rr");
  const [sent] = parseRtcp(sr);
  assert.ok(sent?.type === "sr");
  assert.equal(rr2.reports[0]!.lastSr, sent.ntpMiddle);
  assert.equal(rr2.reports[0]!.delaySinceLastSr, 32768); // 0.5 s
});

Deno.test("RtpReceiver ends a source at BYE, counting a frame left partial lost once the frame timeout passes", () => {
  const r = receiver({ frameTimeoutMs: 1000 });
  const packets = frame(5, 0, 0);
  r.handleDatagram(0, packets[0]!, FROM, KEY);
  assert.equal(r.streams, 1);
  r.handleControlDatagram(1, buildBye(5), { hostname: "127.0.0.1", port: 1 });
  // Its last packets may still be on their way, on the other socket.
  assert.equal(r.streams, 1);
  assert.deepEqual(drain(r), []);
  r.handleTimeout(r.pollTimeout()!);
  r.handleTimeout(1001);
  assert.equal(r.streams, 0);
  const events = drain(r);
  assert.deepEqual(events.map((e) => e.type === "dropped" && e.reason), [
    "lost",
  ]);
});

Deno.test("RtpReceiver: a BYE that overtakes a frame's last packets (RTCP comes on another socket) does not cost the frame", () => {
  const r = receiver({ reportIntervalMs: 1000 });
  const packets = frame(5, 0, 0);
  assert.ok(packets.length > 1);
  r.handleDatagram(0, packets[0]!, FROM, KEY);
  r.handleControlDatagram(1, buildBye(5), { hostname: "127.0.0.1", port: 1 });
  for (const p of packets.slice(1)) r.handleDatagram(2, p, FROM, KEY);
  const events = drain(r);
  assert.deepEqual(events.map((e) => e.type), ["frame"]);
  // Then it goes at the next sweep, with no report to it.
  r.handleTimeout(r.pollTimeout()!);
  assert.equal(r.streams, 0);
  for (let t; (t = r.pollTransmit()) !== undefined;) {
    const [rr] = parseRtcp(t.bytes);
    assert.ok(!(rr?.type === "rr" && rr.reports.some((b) => b.ssrc === 5)));
  }
  // A BYE with nothing partial ends the source at once.
  r.handleDatagram(3, frame(6, 0, 0)[0]!, FROM, KEY);
  for (const p of frame(6, 0, 0).slice(1)) r.handleDatagram(3, p, FROM, KEY);
  r.handleControlDatagram(4, buildBye(6), { hostname: "127.0.0.1", port: 1 });
  assert.equal(r.streams, 0);
});

Deno.test("RtpReceiver forgets a source silent for five report intervals, and stops reporting to it", () => {
  const r = receiver({ reportIntervalMs: 1000 });
  r.handleDatagram(0, frame(5, 0, 0)[0]!, FROM, KEY);
  r.handleDatagram(0, frame(6, 0, 0)[0]!, FROM, KEY);
  let reports = 0;
  for (let now = 0; now <= 20_000; now += 100) {
    // Source 6 goes on sending; source 5 fell silent at once.
    if (now > 0 && now % 1000 === 0) {
      r.handleDatagram(now, frame(6, now / 1000, now * 90)[0]!, FROM, KEY);
    }
    r.handleTimeout(now);
    for (let t; (t = r.pollTransmit()) !== undefined;) {
      const [rr] = parseRtcp(t.bytes);
      if (rr?.type === "rr" && rr.reports.some((b) => b.ssrc === 5)) reports++;
    }
  }
  assert.equal(r.streams, 1);
  assert.ok(
    reports >= 4 && reports <= 6,
    `${reports} reports for the silent source`,
  );
});

Deno.test("RtpReceiver keeps state for at most maxStreams sources", () => {
  const r = receiver({ maxStreams: 8 });
  for (let ssrc = 0; ssrc < 100; ssrc++) {
    r.handleDatagram(0, frame(ssrc, 0, 0)[0]!, FROM, KEY);
  }
  assert.equal(r.streams, 8);
  // The evicted ones' partial frames were given up on.
  const lost = drain(r).filter((e) => e.type === "dropped").length;
  assert.equal(lost, 92);
  r.forget(KEY);
  assert.equal(r.streams, 0);
});

Deno.test("RtpReceiver takes RTCP muxed on the image port", () => {
  const r = receiver();
  for (const p of frame(5, 0, 0)) r.handleDatagram(0, p, FROM, KEY);
  r.handleDatagram(0, buildBye(5), FROM, KEY);
  assert.equal(r.streams, 0);
  assert.equal(r.counters().rtcpPackets, 1);
});
