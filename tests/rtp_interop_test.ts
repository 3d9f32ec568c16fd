// RTP/JPEG against peers no one here wrote: GStreamer's rtpjpegpay and
// rtpjpegdepay, ffmpeg's RTP muxer and its SDP demuxer, and our own pair.
import assert from "node:assert/strict";
import { missing } from "./_deps.ts";
import { Child, root, script, withTempDir } from "./_process.ts";
import { within } from "./_within.ts";
import { createDecoder } from "../lib/codec/select.ts";
import type { DecodedImage, ImageDecoder } from "../lib/codec/types.ts";
import { openDatagramSocket } from "../lib/net/open.ts";
import { FrameServer } from "../lib/server/server.ts";
import {
  buildSenderReport,
  packetizeJpeg,
  parseJpeg,
  parseRtcp,
  type RtcpPacket,
  RtpJpegSender,
} from "../lib/rtp/mod.ts";

const PHOTO = `${root}bench/frames/photo_640x480.jpg`;
const RTP_CAPS =
  "application/x-rtp,media=video,encoding-name=JPEG,payload=26,clock-rate=90000";

async function freePort(): Promise<number> {
  const socket = await openDatagramSocket({ hostname: "127.0.0.1", port: 0 });
  const port = socket.addr.port;
  socket.close();
  return port;
}

/** The mean absolute difference of two images' RGB, per channel. */
function meanDifference(a: DecodedImage, b: DecodedImage): number {
  assert.deepEqual([b.width, b.height], [a.width, a.height]);
  let sum = 0;
  let n = 0;
  for (let p = 0; p < a.width * a.height; p++) {
    for (let c = 0; c < 3; c++) {
      sum += Math.abs(
        a.data[p * a.channels + c]! - b.data[p * b.channels + c]!,
      );
      n++;
    }
  }
  return sum / n;
}

async function withDecoder(fn: (d: ImageDecoder) => Promise<void>) {
  const { decoder } = await createDecoder("auto");
  assert.ok(decoder);
  try {
    await fn(decoder);
  } finally {
    decoder.close();
  }
}

async function files(dir: string, extension: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.endsWith(extension)) names.push(`${dir}/${entry.name}`);
  }
  return names.sort();
}

/** Sends the photo as RTP/JPEG until `done()` or a bound on frames. */
async function sendUntil(
  port: number,
  done: () => Promise<boolean>,
  maxFrames = 300,
): Promise<number> {
  const jpeg = parseJpeg(await Deno.readFile(PHOTO));
  await using sender = await RtpJpegSender.open({
    hostname: "127.0.0.1",
    port,
  });
  for (let i = 0; i < maxFrames; i++) {
    await sender.send(jpeg, { spreadMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 13));
    if (i % 5 === 4 && await done()) return i + 1;
  }
  return maxFrames;
}

Deno.test({
  name: "GStreamer's rtpjpegdepay decodes our RTP/JPEG frames as the source",
  ignore: missing("gstreamer"),
  async fn() {
    await withTempDir("rtp-gst-", async (dir) => {
      const port = await freePort();
      await using gst = new Child("gst-launch-1.0", [
        "udpsrc",
        `port=${port}`,
        "address=127.0.0.1",
        `caps=${RTP_CAPS}`,
        "!",
        "rtpjpegdepay",
        "!",
        "jpegdec",
        "!",
        "videoconvert",
        "!",
        "pngenc",
        "!",
        "multifilesink",
        `location=${dir}/f%03d.png`,
      ]);
      await gst.waitFor(/Setting pipeline to PLAYING/);
      await sendUntil(port, async () => (await files(dir, ".png")).length >= 6);
      gst.kill("SIGINT");
      await gst.exit();
      const got = await files(dir, ".png");
      assert.ok(got.length >= 5, `GStreamer wrote ${got.length} frames`);
      await withDecoder(async (decoder) => {
        const source = await decoder.decode(await Deno.readFile(PHOTO), "jpeg");
        // The last may be written partly when the pipeline stops.
        for (const path of got.slice(0, 5)) {
          const frame = await decoder.decode(await Deno.readFile(path), "png");
          const diff = meanDifference(source, frame);
          assert.ok(diff < 2, `${path} differs by ${diff.toFixed(2)}`);
        }
      });
    });
  },
});

Deno.test({
  name:
    "ffmpeg decodes our RTP/JPEG stream through the SDP file the client writes",
  ignore: missing("ffmpeg"),
  async fn() {
    await withTempDir("rtp-ffmpeg-", async (dir) => {
      const port = await freePort();
      const sdp = `${dir}/cam.sdp`;
      await using client = script("client.ts", [
        "--protocol",
        "rtp",
        "--port",
        String(port),
        "--sdp",
        sdp,
        "--count",
        "900",
        "--quiet",
        PHOTO,
      ]);
      // The client writes the SDP file before its first frame.
      for (let i = 0; i < 200; i++) {
        if (await Deno.stat(sdp).then(() => true, () => false)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const text = await Deno.readTextFile(sdp);
      assert.match(text, /^m=video \d+ RTP\/AVP 26\r$/m);
      assert.match(text, /^a=rtpmap:26 JPEG\/90000\r$/m);
      await using ffmpeg = new Child("ffmpeg", [
        "-v",
        "error",
        "-protocol_whitelist",
        "file,udp,rtp",
        "-i",
        sdp,
        "-frames:v",
        "5",
        `${dir}/f%03d.png`,
      ]);
      const status = await ffmpeg.exit(60_000);
      assert.ok(status.success, ffmpeg.stderr.join("\n"));
      client.kill("SIGTERM");
      await client.exit();
      const got = await files(dir, ".png");
      assert.equal(got.length, 5);
      await withDecoder(async (decoder) => {
        const source = await decoder.decode(await Deno.readFile(PHOTO), "jpeg");
        for (const path of got) {
          const frame = await decoder.decode(await Deno.readFile(path), "png");
          const diff = meanDifference(source, frame);
          assert.ok(diff < 2, `${path} differs by ${diff.toFixed(2)}`);
        }
      });
    });
  },
});

/** Runs the server until it has saved `count` frames; returns their paths. */
async function serve(
  dir: string,
  count: number,
  send: (port: number) => Child,
): Promise<string[]> {
  await using server = script("server.ts", [
    "--port",
    "0",
    "--msg-port",
    "0",
    "--count",
    String(count),
    "--out",
    dir,
    "--quiet",
  ]);
  const [, port] = await server.waitFor(/^ready image=[^ ]+:(\d+) /);
  await using sender = send(Number(port));
  const status = await server.exit(60_000);
  assert.ok(status.success, server.stderr.join("\n"));
  assert.match(server.stdout.at(-1)!, new RegExp(`^frames=${count} `));
  sender.kill("SIGINT");
  await sender.status;
  return await files(dir, ".jpg");
}

Deno.test({
  name:
    "The server receives GStreamer's rtpjpegpay and keeps its scan data byte for byte",
  ignore: missing("gstreamer"),
  async fn() {
    await withTempDir("rtp-gstpay-", async (dir) => {
      const bytes = await Deno.readFile(PHOTO);
      const saved = await serve(dir, 5, (port) =>
        new Child("gst-launch-1.0", [
          "-q",
          "multifilesrc",
          `location=${PHOTO}`,
          "loop=true",
          "num-buffers=600",
          "caps=image/jpeg,framerate=30/1,width=640,height=480",
          "!",
          "identity",
          `datarate=${bytes.length * 30}`,
          "!",
          "rtpjpegpay",
          "!",
          "udpsink",
          "host=127.0.0.1",
          `port=${port}`,
        ]));
      const scan = parseJpeg(bytes).scan;
      await withDecoder(async (decoder) => {
        const source = await decoder.decode(bytes, "jpeg");
        for (const path of saved) {
          const frame = await Deno.readFile(path);
          assert.deepEqual(parseJpeg(frame).scan, scan);
          const image = await decoder.decode(frame, "jpeg");
          assert.deepEqual(image.data, source.data);
        }
      });
    });
  },
});

Deno.test({
  name:
    "The server receives ffmpeg's RTP muxer (-f rtp) and saves frames close to the source",
  ignore: missing("ffmpeg"),
  async fn() {
    await withTempDir("rtp-ffpay-", async (dir) => {
      const saved = await serve(dir, 5, (port) =>
        new Child("ffmpeg", [
          "-v",
          "error",
          "-re",
          "-loop",
          "1",
          "-framerate",
          "30",
          "-i",
          PHOTO,
          "-frames:v",
          "600",
          "-c:v",
          "mjpeg",
          "-huffman",
          "default",
          "-pix_fmt",
          "yuvj420p",
          "-q:v",
          "2",
          "-f",
          "rtp",
          `rtp://127.0.0.1:${port}`,
        ]));
      await withDecoder(async (decoder) => {
        const source = await decoder.decode(await Deno.readFile(PHOTO), "jpeg");
        for (const path of saved) {
          const image = await decoder.decode(await Deno.readFile(path), "jpeg");
          const diff = meanDifference(source, image);
          assert.ok(diff < 4, `${path} differs by ${diff.toFixed(2)}`);
        }
      });
    });
  },
});

Deno.test("Our sender and server keep the scan data byte for byte, restart markers and 4:2:2 included, and measure latency from sender reports", async () => {
  await using server = await FrameServer.listen({
    port: 0,
    messagePort: null,
    decoder: "none",
  });
  const names = ["rtp_420_rst.jpg", "rtp_422.jpg"];
  const sources = await Promise.all(
    names.map((name) => Deno.readFile(`${root}tests/fixtures/${name}`)),
  );
  await using sender = await RtpJpegSender.open({
    hostname: "127.0.0.1",
    port: server.imageAddr.port,
    mtu: 500,
  });
  const frames = server[Symbol.asyncIterator]();
  // Three frames each; the sender report after the first maps the rest.
  for (let i = 0; i < 6; i++) {
    const source = sources[i % 2]!;
    await sender.send(source, { spreadMs: 5 });
    const { value } = await frames.next();
    assert.ok(value);
    assert.equal(value.protocol, "rtp");
    assert.deepEqual(parseJpeg(value.bytes).scan, parseJpeg(source).scan);
  }
  assert.ok(server.controlAddr !== undefined);
  const latency = server.stats.latency;
  assert.ok(latency !== undefined && latency.samples >= 4);
  assert.equal(latency.estimated, false);
  assert.equal(server.stats.framesBy.rtp, 6);
});

Deno.test("The client says in one line why a JPEG cannot go over RTP and what to do", async () => {
  const port = await freePort();
  await using client = script("client.ts", [
    "--protocol",
    "rtp",
    "--port",
    String(port),
    `${root}tests/fixtures/rocket.jpg`,
  ]);
  const status = await client.exit();
  assert.equal(status.code, 1);
  assert.deepEqual(client.stderr, [
    `error: Cannot send ${root}tests/fixtures/rocket.jpg: RFC 2435 cannot carry this JPEG: it is 4:4:4; RFC 2435 carries 4:2:0 and 4:2:2; add --encode jpg to re-encode it as baseline 4:2:0`,
  ]);
});

Deno.test("The server sends receiver reports from its RTCP port to where the sender reports came from", async () => {
  await using server = await FrameServer.listen({
    port: 0,
    messagePort: null,
    decoder: "none",
    rtp: { reportIntervalMs: 50 },
  });
  const control = server.controlAddr;
  if (control === undefined) return; // port + 1 was taken: nothing to see
  const rtp = await openDatagramSocket({ hostname: "127.0.0.1", port: 0 });
  const rtcp = await openDatagramSocket({ hostname: "127.0.0.1", port: 0 });
  try {
    const jpeg = parseJpeg(await Deno.readFile(PHOTO));
    const packets = packetizeJpeg(jpeg, {
      ssrc: 77,
      sequence: 0,
      timestamp: 0,
    });
    await rtp.sendMany(packets, server.imageAddr);
    // The frame first: a sender report for a source the server has not seen
    // yet is not answered to its sender.
    const frames = server[Symbol.asyncIterator]();
    await within(20_000, frames.next(), "the frame");
    const senderReport = buildSenderReport({
      ssrc: 77,
      ntpMs: Date.now(),
      rtpTimestamp: 0,
      packets: packets.length,
      octets: 1,
      cname: "test",
    });
    // Sent again until answered, in case one is lost; a deadline closes the
    // socket, which ends the wait below.
    await rtcp.send(senderReport, control);
    const resend = setInterval(
      () => rtcp.send(senderReport, control).catch(() => {}),
      200,
    );
    const deadline = setTimeout(() => rtcp.close(), 20_000);
    const batch = rtcp.createBatch();
    let report: RtcpPacket | undefined;
    try {
      while (report === undefined) {
        assert.ok(
          await rtcp.receive(batch) > 0,
          "no receiver report came back within 20 s",
        );
        assert.equal(batch.senders[0]!.port, control.port);
        const offset = batch.offsets[0]!;
        [report] = parseRtcp(
          batch.buffer.subarray(offset, offset + batch.lengths[0]!),
        );
      }
    } finally {
      clearInterval(resend);
      clearTimeout(deadline);
    }
    assert.ok(report.type === "rr");
    assert.equal(report.reports[0]?.ssrc, 77);
    assert.equal(report.reports[0]?.highestSequence, packets.length - 1);
    assert.notEqual(report.reports[0]?.lastSr, 0);
  } finally {
    rtp.close();
    rtcp.close();
  }
});

Deno.test("The server runs without an RTCP port it cannot have, and says why: past 65535, or taken", async () => {
  {
    await using server = await FrameServer.listen({
      port: 0,
      messagePort: null,
      decoder: "none",
      controlPort: 65536,
    });
    assert.equal(server.controlAddr, undefined);
    assert.match(
      server.controlWarning ?? "",
      /^no RTCP port: .*65536, past 65535; RTP is received without it/,
    );
  }
  const taken = await openDatagramSocket({ hostname: "127.0.0.1", port: 0 });
  try {
    await using server = await FrameServer.listen({
      hostname: "127.0.0.1",
      port: 0,
      messagePort: null,
      decoder: "none",
      controlPort: taken.addr.port,
    });
    assert.equal(server.controlAddr, undefined);
    assert.match(
      server.controlWarning ?? "",
      new RegExp(
        `^cannot bind the RTCP port 127\\.0\\.0\\.1:${taken.addr.port} \\(.+\\); RTP is received without it`,
      ),
    );
  } finally {
    taken.close();
  }
});
