// The rtp_*.jpg fixtures are 160x120 (and one 121x99) crops of
// bench/frames/photo_640x480.jpg: written by OpenCV (4:2:0, restart interval
// 3, progressive, grayscale), by GStreamer's jpegenc from Y42B (4:2:2) and by
// ffmpeg's mjpeg encoder with its default optimal Huffman tables.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  packetizeJpeg,
  parseJpeg,
  readJpegPayloadHeader,
  readRtpHeader,
  RtpJpegPacketizer,
  UnsupportedJpegError,
} from "../lib/rtp/mod.ts";

const fixture = (name: string) =>
  Deno.readFile(new URL(`./fixtures/${name}`, import.meta.url));
const frame = (name: string) =>
  Deno.readFile(new URL(`../bench/frames/${name}`, import.meta.url));

Deno.test("parseJpeg reads the type, size and restart interval of baseline JPEGs", async () => {
  const rst = parseJpeg(await fixture("rtp_420_rst.jpg"));
  assert.deepEqual([rst.type, rst.width, rst.height, rst.dri, rst.q], [
    65,
    160,
    120,
    3,
    255,
  ]);
  const yuv422 = parseJpeg(await fixture("rtp_422.jpg"));
  assert.deepEqual([yuv422.type, yuv422.dri], [0, 0]);
  const odd = parseJpeg(await fixture("rtp_420_121x99.jpg"));
  assert.deepEqual([odd.type, odd.width, odd.height], [1, 121, 99]);
  assert.equal(odd.quantTables.length, 128);
  assert.equal(odd.tablePrecision, 0);
});

Deno.test("parseJpeg keeps the scan data between the SOS header and EOI", async () => {
  const bytes = await frame("photo_640x480.jpg");
  const jpeg = parseJpeg(bytes);
  const end = jpeg.scan.byteOffset + jpeg.scan.length;
  assert.deepEqual([...bytes.subarray(end)], [0xff, 0xd9]);
  // The SOS segment (3 components) is 14 bytes with its marker.
  const sos = bytes.subarray(jpeg.scan.byteOffset - 14, jpeg.scan.byteOffset);
  assert.deepEqual([...sos.subarray(0, 4)], [0xff, 0xda, 0, 12]);
});

Deno.test("parseJpeg says why RFC 2435 cannot carry a JPEG", async () => {
  const cases: [string, RegExp][] = [
    ["rocket.jpg", /4:4:4/],
    ["rtp_progressive.jpg", /progressive/],
    ["rtp_gray.jpg", /grayscale/],
    ["rtp_optimized_huffman.jpg", /Huffman tables are optimized/],
    ["astronaut.png", /not a JPEG/],
    ["truncated.jpg", /claims \d+ bytes/],
  ];
  for (const [name, reason] of cases) {
    const bytes = await fixture(name);
    assert.throws(() => parseJpeg(bytes), (error: Error) => {
      assert.ok(error instanceof UnsupportedJpegError, name);
      assert.match(error.message, reason, name);
      assert.match(error.message, /^RFC 2435 cannot carry this JPEG: /);
      return true;
    });
  }
});

Deno.test("parseJpeg rejects a JPEG wider or taller than 2040 pixels and a 12-bit one", async () => {
  const bytes = await fixture("rtp_420_121x99.jpg");
  const sof = bytes.findIndex((b, i) => b === 0xff && bytes[i + 1] === 0xc0);
  const wide = bytes.slice();
  new DataView(wide.buffer).setUint16(sof + 7, 2048);
  assert.throws(() => parseJpeg(wide), /2048x99.*at most 2040x2040/);
  const deep = bytes.slice();
  deep[sof + 4] = 12;
  assert.throws(() => parseJpeg(deep), /12-bit samples/);
});

Deno.test("packetizeJpeg cuts the scan in order under the MTU, tables in the first packet, marker on the last", async () => {
  const jpeg = parseJpeg(await frame("photo_640x480.jpg"));
  const packets = packetizeJpeg(jpeg, {
    ssrc: 0xdeadbeef,
    sequence: 65500,
    timestamp: 4_294_967_000,
    mtu: 1000,
  });
  const scan: number[] = [];
  packets.forEach((packet, i) => {
    assert.ok(packet.length <= 1000);
    const rtp = readRtpHeader(packet);
    assert.ok(typeof rtp !== "string");
    assert.equal(rtp.ssrc, 0xdeadbeef);
    assert.equal(rtp.payloadType, 26);
    assert.equal(rtp.sequence, (65500 + i) % 65536);
    assert.equal(rtp.timestamp, 4_294_967_000);
    assert.equal(rtp.marker, i === packets.length - 1);
    const jh = readJpegPayloadHeader(packet, rtp.payloadOffset, rtp.payloadEnd);
    assert.ok(typeof jh !== "string");
    assert.deepEqual([jh.type, jh.q, jh.width, jh.height], [1, 255, 640, 480]);
    assert.equal(jh.fragmentOffset, scan.length);
    assert.equal(jh.tablesLength, i === 0 ? 128 : 0);
    if (i === 0) {
      assert.deepEqual(
        packet.subarray(jh.tablesOffset, jh.tablesOffset + 128),
        jpeg.quantTables,
      );
    }
    scan.push(...packet.subarray(jh.dataOffset));
  });
  assert.deepEqual(new Uint8Array(scan), jpeg.scan);
});

Deno.test("packetizeJpeg puts a restart header with F=L=1 and count 0x3FFF in every packet of type 65", async () => {
  const jpeg = parseJpeg(await fixture("rtp_420_rst.jpg"));
  const packets = packetizeJpeg(jpeg, {
    ssrc: 1,
    sequence: 0,
    timestamp: 0,
    mtu: 400,
  });
  assert.ok(packets.length > 3);
  for (const packet of packets) {
    const jh = readJpegPayloadHeader(packet, 12, packet.length);
    assert.ok(typeof jh !== "string");
    assert.equal(jh.type, 65);
    assert.equal(jh.restartInterval, 3);
    assert.equal(jh.restartFirst && jh.restartLast, true);
    assert.equal(jh.restartCount, 0x3fff);
  }
});

Deno.test("packetizeJpeg rounds a size that is not a multiple of 8 up to the next 8 pixels", async () => {
  const jpeg = parseJpeg(await fixture("rtp_420_121x99.jpg"));
  const [packet] = packetizeJpeg(jpeg, { ssrc: 1, sequence: 0, timestamp: 0 });
  assert.deepEqual([packet![12 + 6], packet![12 + 7]], [16, 13]);
});

Deno.test("packetizeJpeg refuses an MTU too small for the first packet's headers", async () => {
  const jpeg = parseJpeg(await fixture("rtp_420_rst.jpg"));
  assert.throws(
    () => packetizeJpeg(jpeg, { ssrc: 1, sequence: 0, timestamp: 0, mtu: 100 }),
    RangeError,
  );
});

Deno.test("packetizeJpeg covers the scan exactly for any MTU", async () => {
  const jpeg = parseJpeg(await fixture("rtp_420_rst.jpg"));
  fc.assert(fc.property(fc.integer({ min: 161, max: 3000 }), (mtu) => {
    const packets = packetizeJpeg(jpeg, {
      ssrc: 1,
      sequence: 0,
      timestamp: 0,
      mtu,
    });
    let covered = 0;
    for (const packet of packets) {
      assert.ok(packet.length <= mtu);
      const jh = readJpegPayloadHeader(packet, 12, packet.length);
      assert.ok(typeof jh !== "string");
      assert.equal(jh.fragmentOffset, covered);
      covered += packet.length - jh.dataOffset;
    }
    assert.equal(covered, jpeg.scan.length);
  }));
});

Deno.test("RtpJpegPacketizer continues sequence numbers across frames and counts octets", async () => {
  const jpeg = parseJpeg(await fixture("rtp_422.jpg"));
  const packetizer = new RtpJpegPacketizer({ ssrc: 5, sequence: 65535 });
  const a = packetizer.packetize(jpeg, 0);
  const b = packetizer.packetize(jpeg, 3000);
  const first = readRtpHeader(b[0]!);
  assert.ok(typeof first !== "string");
  assert.equal(first.sequence, (65535 + a.length) % 65536);
  assert.equal(packetizer.packetCount, a.length + b.length);
  const octets = [...a, ...b].reduce((sum, p) => sum + p.length - 12, 0);
  assert.equal(packetizer.octetCount, octets);
  assert.equal(packetizer.lastTimestamp, 3000);
});
