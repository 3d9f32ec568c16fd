import assert from "node:assert/strict";
import fc from "fast-check";
import {
  burstSchedule,
  parseRtcp,
  readRtpHeader,
  RtpJpegSender,
  writeSdp,
} from "../lib/rtp/mod.ts";
import { openDatagramSocket } from "../lib/net/open.ts";
import type { DatagramSocket } from "../lib/net/types.ts";
import { root, script } from "./_process.ts";

Deno.test("burstSchedule sends every packet once, in order, spread over the interval at least 1 ms apart", () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 300 }),
    fc.double({ min: 0, max: 100, noNaN: true }),
    (count, spreadMs) => {
      const bursts = burstSchedule(new Array(count).fill(1400), { spreadMs });
      let next = 0;
      let last = -Infinity;
      for (const burst of bursts) {
        assert.equal(burst.start, next);
        assert.ok(burst.end > burst.start);
        assert.ok(burst.end - burst.start <= Math.max(8, count));
        assert.ok(burst.atMs - last >= 1 - 1e-9 || bursts.length === 1);
        assert.ok(burst.atMs < Math.max(spreadMs, 1e-9) || burst.atMs === 0);
        next = burst.end;
        last = burst.atMs;
      }
      assert.equal(next, count);
    },
  ));
});

Deno.test("burstSchedule keeps to the rate cap", () => {
  // 80 packets of 1250 bytes, 10 kbit each, at 10 Mbit/s: 1 ms a packet.
  const bursts = burstSchedule(new Array(80).fill(1250), {
    spreadMs: 0,
    rateBitsPerSecond: 10e6,
  });
  assert.equal(bursts.length, 10);
  assert.deepEqual(bursts.map((b) => b.atMs), [
    0,
    8,
    16,
    24,
    32,
    40,
    48,
    56,
    64,
    72,
  ]);
});

Deno.test("writeSdp describes a unicast and a multicast RTP/JPEG stream", () => {
  assert.equal(
    writeSdp({
      address: "127.0.0.1",
      port: 5004,
      framerate: 30,
      sessionId: 42,
    }),
    "v=0\r\no=- 42 1 IN IP4 127.0.0.1\r\ns=udpimg\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 5004 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\na=framerate:30\r\n",
  );
  const multicast = writeSdp({
    address: "239.1.2.3",
    port: 5004,
    ttl: 4,
    payloadType: 96,
  });
  assert.match(multicast, /^c=IN IP4 239\.1\.2\.3\/4\r$/m);
  assert.match(multicast, /^m=video 5004 RTP\/AVP 96\r$/m);
  assert.match(multicast, /^a=rtpmap:96 JPEG\/90000\r$/m);
  assert.match(writeSdp({ address: "::1", port: 5004 }), /^c=IN IP6 ::1\r$/m);
});

/** Collects datagrams on `socket` until `want` of them have come. */
async function receive(
  socket: DatagramSocket,
  want: number,
): Promise<Uint8Array[]> {
  const batch = socket.createBatch();
  const got: Uint8Array[] = [];
  while (got.length < want) {
    const count = await socket.receive(batch);
    if (count === 0) break;
    for (let i = 0; i < count; i++) {
      const offset = batch.offsets[i]!;
      got.push(batch.buffer.slice(offset, offset + batch.lengths[i]!));
    }
  }
  return got;
}

Deno.test("RtpJpegSender sends paced RTP to the port and SR, SDES and BYE to the next", async () => {
  const rtp = await openDatagramSocket({ hostname: "127.0.0.1", port: 0 });
  let rtcp: DatagramSocket | undefined;
  try {
    rtcp = await openDatagramSocket({
      hostname: "127.0.0.1",
      port: rtp.addr.port + 1,
    });
  } catch {
    rtp.close();
    return; // the next port is taken: nothing to learn here
  }
  try {
    const bytes = await Deno.readFile(
      `${root}bench/frames/photo_640x480.jpg`,
    );
    const sender = await RtpJpegSender.open({
      hostname: "127.0.0.1",
      port: rtp.addr.port,
      cname: "test@udpimg",
    });
    const sent: number[] = [];
    for (let i = 0; i < 2; i++) {
      sent.push(
        await sender.send(bytes, { spreadMs: 5, timestamp: 1000 + i * 3000 }),
      );
    }
    const packets = await receive(rtp, sent[0]! + sent[1]!);
    const headers = packets.map((p) => readRtpHeader(p));
    const first = headers[0]!;
    assert.ok(typeof first !== "string");
    headers.forEach((h, i) => {
      assert.ok(typeof h !== "string");
      assert.equal(h.ssrc, sender.ssrc);
      assert.equal(h.sequence, (first.sequence + i) & 0xffff);
      assert.equal(h.marker, i === sent[0]! - 1 || i === packets.length - 1);
      assert.equal(h.timestamp, i < sent[0]! ? 1000 : 4000);
    });
    // The first report goes out after the first frame.
    const [report] = await receive(rtcp, 1);
    const [sr, sdes] = parseRtcp(report!);
    assert.ok(sr?.type === "sr" && sdes?.type === "sdes");
    assert.equal(sr.ssrc, sender.ssrc);
    assert.equal(sr.packets, sent[0]);
    assert.ok(Math.abs(sr.ntpMs - Date.now()) < 5000);
    assert.equal(sdes.cname, "test@udpimg");
    await sender.close();
    const [bye] = await receive(rtcp, 1);
    assert.deepEqual(parseRtcp(bye!), [{ type: "bye", ssrcs: [sender.ssrc] }]);
  } finally {
    rtp.close();
    rtcp.close();
  }
});

Deno.test("The client's RTP flags are checked in one line", async () => {
  const cases: [string[], RegExp][] = [
    [["--protocol", "rtp", "--chunk-size", "1000"], /--chunk-size go with/],
    [["--sdp", "x.sdp"], /--sdp goes with --protocol rtp/],
    [
      ["--protocol", "rtp", "--ttl", "3"],
      /--ttl and --multicast-if go with a multicast --host/,
    ],
    [["--protocol", "rtp", "--mtu", "100"], /--mtu/],
    [["--protocol", "rtsp"], /--protocol/],
  ];
  for (const [args, message] of cases) {
    await using client = script("client.ts", [...args, "--port", "9"]);
    const status = await client.exit();
    assert.equal(status.code, 2, args.join(" "));
    assert.equal(client.stderr.length, 1, client.stderr.join("\n"));
    assert.match(client.stderr[0]!, message);
  }
});
