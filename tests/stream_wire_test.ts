import assert from "node:assert/strict";
import fc from "fast-check";
import {
  chunkCountFor,
  chunkSizeOf,
  decodeMessage,
  decodeReport,
  decodeSenderReport,
  encodeMessage,
  encodeNacks,
  encodeReport,
  encodeSenderReport,
  looksLikeStream,
  nackEntryCount,
  newChunkHeader,
  newFixedHeader,
  PacketType,
  readChunkHeader,
  readHeader,
  readNackEntry,
  writeChunkHeader,
  writeHeader,
} from "../lib/stream/wire.ts";

Deno.test("the fixed header is laid out as the spec draws it", () => {
  const bytes = new Uint8Array(20);
  writeHeader(bytes, PacketType.data, 0x02, 0x0a0b0c0d, false, 2 ** 40 + 5);
  assert.deepEqual(
    [...bytes],
    [0x55, 0x53, 1, 1, 2, 0, 0, 0, 10, 11, 12, 13, 0, 0, 1, 0, 0, 0, 0, 5],
  );
  const header = newFixedHeader();
  assert.equal(readHeader(bytes, header), undefined);
  assert.equal(header.packetNumber, 2 ** 40 + 5);
  assert.equal(header.streamId, 0x0a0b0c0d);
  writeHeader(bytes, PacketType.report, 0, 1, true, 3);
  assert.equal(bytes[12], 0x80);
  assert.equal(readHeader(bytes, header), undefined);
  assert.equal(header.fromReceiver, true);
  assert.equal(header.packetNumber, 3);
});

Deno.test("readHeader refuses other versions, reserved flags and the wrong direction", () => {
  const header = newFixedHeader();
  const bytes = new Uint8Array(20);
  writeHeader(bytes, PacketType.data, 0, 1, false, 0);
  bytes[2] = 2;
  assert.equal(readHeader(bytes, header), "unsupported");
  bytes[2] = 1;
  bytes[4] = 0x80;
  assert.equal(readHeader(bytes, header), "flags");
  writeHeader(bytes, PacketType.data, 0, 1, true, 0);
  assert.equal(readHeader(bytes, header), "direction");
  assert.equal(readHeader(new Uint8Array(8), header), "malformed");
  assert.equal(
    looksLikeStream(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])),
    false,
  );
});

Deno.test("the spec's example: 2500 bytes in 1200-byte datagrams", () => {
  assert.equal(chunkCountFor(2500, 1200), 3);
  assert.equal(chunkSizeOf(2500, 3), 834);
  assert.throws(() => chunkCountFor(80_000_000, 1200), /65535/);
});

Deno.test("chunk headers round-trip, and readers check the chunking adds up", () => {
  const bytes = new Uint8Array(48 + 834);
  writeChunkHeader(bytes, {
    frameId: 2 ** 32 - 1,
    index: 1,
    count: 3,
    frameLength: 2500,
    crc: 0xdeadbeef,
    timestamp: 1_700_000_000_123_456,
    sendOffset: 77,
  });
  const header = newChunkHeader();
  assert.equal(readChunkHeader(bytes, false, 1 << 20, header), undefined);
  assert.equal(header.frameId, 2 ** 32 - 1);
  assert.equal(header.crc, 0xdeadbeef);
  assert.equal(header.timestamp, 1_700_000_000_123_456);
  assert.equal(header.sendOffset, 77);
  assert.equal(readChunkHeader(bytes, false, 2000, header), "bad-size");
  assert.equal(
    readChunkHeader(bytes.subarray(0, 100), false, 1 << 20, header),
    "malformed",
  );
  bytes[25] = 3; // index 3 of 3
  assert.equal(readChunkHeader(bytes, false, 1 << 20, header), "malformed");
});

Deno.test("writers refuse values the fields cannot hold", () => {
  const bytes = new Uint8Array(100);
  const ok = {
    frameId: 0,
    index: 0,
    count: 1,
    frameLength: 52,
    crc: 0,
    timestamp: 0,
    sendOffset: 0,
  };
  assert.throws(
    () => writeChunkHeader(bytes, { ...ok, count: 70_000 }),
    RangeError,
  );
  assert.throws(
    () => writeChunkHeader(bytes, { ...ok, frameId: -1 }),
    RangeError,
  );
  assert.throws(() => writeChunkHeader(bytes, { ...ok, index: 1 }), RangeError);
  assert.throws(
    () => encodeMessage(PacketType.message, 2 ** 32, new Uint8Array()),
    RangeError,
  );
  assert.throws(
    () => encodeMessage(PacketType.message, 0, new Uint8Array(70_000)),
    RangeError,
  );
});

Deno.test("NACKs, reports, sender reports and messages round-trip", () => {
  const entries = Array.from({ length: 300 }, (_, i) => ({
    frameId: i,
    first: i % 7,
    bitmap: i & 0xffff,
  }));
  const nacks = encodeNacks(entries, 1200);
  assert.equal(nacks.length, 3);
  const back = [];
  for (const nack of nacks) {
    assert.ok(nack.length <= 1200);
    for (let k = 0; k < nackEntryCount(nack); k++) {
      const entry = { frameId: 0, first: 0, bitmap: 0 };
      readNackEntry(nack, k, entry);
      back.push(entry);
    }
  }
  assert.deepEqual(back, entries);
  const report = {
    highestPacket: 2 ** 45,
    delaySince: 1234,
    receiverClock: 1_700_000_000_000_001,
    packetsReceived: 2 ** 32 + 7,
    bytesReceived: 9,
    nextFrameId: 4,
    framesDelivered: 1,
    framesLost: 2,
    framesLate: 3,
    framesCorrupt: 4,
    recoveredNack: 5,
    recoveredFec: 6,
    chunksLate: 7,
    jitter: 8,
    queueingDelay: 9,
    framesSkipped: 10,
    framesWaiting: 11,
  };
  assert.deepEqual(decodeReport(encodeReport(report)), {
    ...report,
    packetsReceived: 7,
  });
  const sr = {
    senderClock: 5e15,
    echoedClock: 4e15,
    delaySince: 3,
    nextFrameId: 2,
  };
  assert.deepEqual(decodeSenderReport(encodeSenderReport(sr)), sr);
  const ack = encodeMessage(
    PacketType.messageAck,
    9,
    new TextEncoder().encode("get the msg"),
    1,
  );
  const decoded = decodeMessage(ack)!;
  assert.equal(decoded.id, 9);
  assert.equal(decoded.status, 1);
  assert.equal(new TextDecoder().decode(decoded.text), "get the msg");
});

Deno.test("readers never throw, whatever the bytes", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.boolean(),
      (bytes, parity) => {
        const datagram = new Uint8Array(bytes.length + 4);
        datagram.set([0x55, 0x53, 1, parity ? 2 : 1]);
        datagram.set(bytes, 4);
        readHeader(datagram, newFixedHeader());
        readChunkHeader(datagram, parity, 1 << 20, newChunkHeader());
        decodeReport(datagram);
        decodeSenderReport(datagram);
        decodeMessage(datagram);
        const n = nackEntryCount(datagram);
        for (let k = 0; k < n; k++) {
          readNackEntry(datagram, k, {
            frameId: 0,
            first: 0,
            bitmap: 0,
          });
        }
      },
    ),
  );
});
