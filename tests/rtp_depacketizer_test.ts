import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type DepacketizerEvent,
  jpegHeadersLength,
  packetizeJpeg,
  parseJpeg,
  quantTablesForQ,
  readJpegPayloadHeader,
  readRtpHeader,
  RtpJpegDepacketizer,
  type RtpJpegDepacketizerOptions,
  RtpJpegPacketizer,
  writeRtpHeader,
} from "../lib/rtp/mod.ts";
import { createDecoder } from "../lib/codec/select.ts";

const fixture = (name: string) =>
  Deno.readFile(new URL(`./fixtures/${name}`, import.meta.url));
const frame = (name: string) =>
  Deno.readFile(new URL(`../bench/frames/${name}`, import.meta.url));

/** Feeds packets to a new depacketizer and collects what it hands out. */
function depacketize(
  packets: readonly Uint8Array[],
  options: RtpJpegDepacketizerOptions = {},
  sweepAt?: number,
): DepacketizerEvent[] {
  const events: DepacketizerEvent[] = [];
  const depacketizer = new RtpJpegDepacketizer((e) => events.push(e), options);
  packets.forEach((packet, i) => {
    const rtp = readRtpHeader(packet);
    assert.ok(typeof rtp !== "string", rtp as string);
    const jpeg = readJpegPayloadHeader(
      packet,
      rtp.payloadOffset,
      rtp.payloadEnd,
    );
    assert.ok(typeof jpeg !== "string", jpeg as string);
    depacketizer.push(rtp, packet, i, jpeg);
  });
  if (sweepAt !== undefined) depacketizer.sweep(sweepAt);
  return events;
}

/** `count` frames of the 4:2:2 fixture, 3000 ticks apart, in 500-byte packets. */
async function frames422(count: number): Promise<Uint8Array[][]> {
  const jpeg = parseJpeg(await fixture("rtp_422.jpg"));
  const packetizer = new RtpJpegPacketizer({ sequence: 0, mtu: 500 });
  return Array.from(
    { length: count },
    (_, f) => packetizer.packetize(jpeg, f * 3000),
  );
}

function frames(events: DepacketizerEvent[]): Uint8Array[] {
  return events.flatMap((e) => e.type === "frame" ? [e.bytes] : []);
}

function lost(events: DepacketizerEvent[]): number {
  return events.reduce(
    (n, e) => n + (e.type === "dropped" && e.reason === "lost" ? e.frames : 0),
    0,
  );
}

Deno.test("Appendix A: Q 50 gives JPEG Annex K's tables, in zigzag order", () => {
  const tables = quantTablesForQ(50);
  assert.deepEqual(
    [...tables.subarray(0, 8)],
    [16, 11, 12, 14, 12, 10, 16, 14],
  );
  assert.deepEqual([...tables.subarray(64, 72)], [
    17,
    18,
    18,
    24,
    21,
    24,
    47,
    26,
  ]);
  assert.equal(tables[63], 99);
});

Deno.test("Appendix A: Q scales as libjpeg's quality does, clamped to 1..255", async () => {
  // OpenCV wrote this fixture with libjpeg at quality 80.
  const jpeg = parseJpeg(await fixture("rtp_420_rst.jpg"));
  assert.deepEqual(jpeg.quantTables, quantTablesForQ(80));
  assert.ok(quantTablesForQ(1).every((q) => q === 255 || q > 200));
  assert.ok(quantTablesForQ(99).every((q) => q === 1 || q === 2));
  assert.equal(quantTablesForQ(75)[0], 8);
  for (const q of [0, 100, 127, 1.5]) {
    assert.throws(() => quantTablesForQ(q), RangeError);
  }
});

Deno.test("A round trip keeps the scan data byte for byte and the rebuilt JFIF decodes as the original", async () => {
  const { decoder } = await createDecoder("auto");
  assert.ok(decoder);
  try {
    for (
      const bytes of [
        await fixture("rtp_420_rst.jpg"),
        await fixture("rtp_422.jpg"),
        await frame("photo_640x480.jpg"),
      ]
    ) {
      const jpeg = parseJpeg(bytes);
      const packets = packetizeJpeg(jpeg, {
        ssrc: 3,
        sequence: 65000,
        timestamp: 1,
        mtu: 600,
      });
      const [rebuilt] = frames(depacketize(packets));
      assert.ok(rebuilt);
      const again = parseJpeg(rebuilt);
      assert.deepEqual(again.scan, jpeg.scan);
      assert.deepEqual(
        [again.type, again.width, again.height, again.dri],
        [jpeg.type, jpeg.width, jpeg.height, jpeg.dri],
      );
      assert.deepEqual(again.quantTables, jpeg.quantTables);
      assert.equal(
        rebuilt.length,
        jpegHeadersLength(jpeg) + jpeg.scan.length + 2,
      );
      const a = await decoder.decode(bytes, "jpeg");
      const b = await decoder.decode(rebuilt, "jpeg");
      assert.deepEqual([b.width, b.height], [a.width, a.height]);
      assert.deepEqual(b.data, a.data);
    }
  } finally {
    decoder.close();
  }
});

Deno.test("The rebuilt JFIF of a restart type carries the DRI from the restart header", async () => {
  const jpeg = parseJpeg(await fixture("rtp_420_rst.jpg"));
  const [rebuilt] = frames(depacketize(
    packetizeJpeg(jpeg, { ssrc: 1, sequence: 0, timestamp: 0, mtu: 300 }),
  ));
  assert.ok(rebuilt);
  const dri = rebuilt.findIndex((b, i) =>
    b === 0xff && rebuilt[i + 1] === 0xdd
  );
  assert.deepEqual([...rebuilt.subarray(dri, dri + 6)], [
    0xff,
    0xdd,
    0,
    4,
    0,
    3,
  ]);
});

Deno.test("Frames survive sequence and timestamp wraparound", async () => {
  const jpeg = parseJpeg(await fixture("rtp_422.jpg"));
  const packetizer = new RtpJpegPacketizer({ sequence: 65533, mtu: 500 });
  const packets = [0, 1, 2, 3].flatMap((f) =>
    packetizer.packetize(jpeg, (2 ** 32 - 4500 + f * 3000) >>> 0)
  );
  const events = depacketize(packets);
  assert.equal(frames(events).length, 4);
  assert.equal(lost(events), 0);
});

Deno.test("A frame with a lost packet is dropped as lost when a newer frame is whole", async () => {
  const [a = [], b = []] = await frames422(2);
  const events = depacketize([...a.slice(0, 1), ...a.slice(2), ...b]);
  assert.equal(frames(events).length, 1);
  assert.equal(lost(events), 1);
  // Late packets of the dropped frame are ignored.
  const late = depacketize([...a.slice(0, 1), ...a.slice(2), ...b, a[1]!]);
  assert.equal(frames(late).length, 1);
});

Deno.test("A frame lost whole counts as lost from the sequence gap", async () => {
  const [a = [], , c = []] = await frames422(3);
  const events = depacketize([...a, ...c]);
  assert.equal(frames(events).length, 2);
  assert.equal(lost(events), 1);
});

Deno.test("A partial frame silent past the timeout is dropped as lost", async () => {
  const [a = []] = await frames422(1);
  const events = depacketize(a.slice(1), { frameTimeoutMs: 100 }, 1000);
  assert.deepEqual(events.map((e) => e.type), ["dropped"]);
  assert.equal(lost(events), 1);
});

Deno.test("Depacketizing reorders, drops duplicates, and hands out only whole frames, in order", async () => {
  const jpeg = parseJpeg(await fixture("rtp_420_rst.jpg"));
  const packetizer = new RtpJpegPacketizer({ sequence: 65000, mtu: 300 });
  const original = [0, 1, 2, 3, 4, 5].map((f) =>
    packetizer.packetize(jpeg, f * 3000)
  );
  const all = original.flat();
  const expected = frames(depacketize(original[0]!))[0]!;
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 6 }), {
        minLength: all.length,
        maxLength: all.length,
      }),
      fc.array(fc.boolean(), { minLength: all.length, maxLength: all.length }),
      fc.array(fc.boolean(), { minLength: all.length, maxLength: all.length }),
      (delays, drops, dups) => {
        // Each packet is delayed by up to 6 places: reordering within a window.
        const order = all.map((packet, i) => ({ packet, at: i + delays[i]! }))
          .sort((x, y) => x.at - y.at).map((x) => x.packet);
        const sent: Uint8Array[] = [];
        const dropped = new Set<Uint8Array>();
        order.forEach((packet, i) => {
          if (drops[i] && i % 5 === 0) {
            dropped.add(packet);
            return;
          }
          sent.push(packet);
          if (dups[i]) sent.push(packet);
        });
        const events = depacketize(sent, {}, 1e9);
        const got = frames(events);
        for (const bytes of got) assert.deepEqual(bytes, expected);
        const whole = original.filter((f) => f.every((p) => !dropped.has(p)));
        if (dropped.size === 0) assert.equal(got.length, original.length);
        assert.ok(got.length <= whole.length);
        // Each frame is handed out or counted lost, at most once each; a run
        // of frames lost whole counts as one.
        assert.ok(got.length + lost(events) <= original.length);
        const timestamps = events.flatMap((e) =>
          e.type === "frame" ? [e.timestamp] : []
        );
        assert.deepEqual(timestamps, [...timestamps].sort((x, y) => x - y));
      },
    ),
    { numRuns: 200 },
  );
});

function rawPacket(
  header: Uint8Array,
  options: { sequence?: number; marker?: boolean; data?: number } = {},
): Uint8Array {
  const packet = new Uint8Array(12 + header.length + (options.data ?? 16));
  writeRtpHeader(new DataView(packet.buffer), 0, {
    marker: options.marker ?? true,
    payloadType: 26,
    sequence: options.sequence ?? 0,
    timestamp: 0,
    ssrc: 1,
  });
  packet.set(header, 12);
  return packet;
}

Deno.test("Depacketizing holds memory to its limits whatever the offsets and tables claim", () => {
  // A fragment at offset 2^24 - 1 allocates nothing past the frame limit.
  const far = rawPacket(Uint8Array.of(0, 0xff, 0xff, 0xff, 1, 50, 80, 60));
  const budget = { used: 0, max: 1 << 20 };
  const overflow = depacketize([far], { maxFrameBytes: 1 << 20, budget });
  assert.deepEqual(
    overflow.map((e) => e.type === "dropped" && e.reason),
    ["overflow"],
  );
  assert.equal(budget.used, 0);
  // A budget shared by sources bounds what partial frames hold together.
  const start = rawPacket(Uint8Array.of(0, 0, 0, 0, 1, 50, 80, 60), {
    marker: false,
    data: 4000,
  });
  const small = { used: 0, max: 2000 };
  assert.deepEqual(
    depacketize([start], { budget: small }).map((e) =>
      e.type === "dropped" && e.reason
    ),
    ["overflow"],
  );
  assert.equal(small.used, 0);
});

Deno.test("Depacketizing drops frames whose tables or Q make no sense, as corrupt", () => {
  const cases = [
    // Q 0 is reserved.
    Uint8Array.of(0, 0, 0, 0, 1, 0, 80, 60),
    // Q 255 with no tables.
    Uint8Array.of(0, 0, 0, 0, 1, 255, 80, 60, 0, 0, 0, 0),
    // Q 128 with tables never sent.
    Uint8Array.of(0, 0, 0, 0, 1, 128, 80, 60, 0, 0, 0, 0),
    // 100 bytes of tables: neither 128, 192 nor 256.
    Uint8Array.of(0, 0, 0, 0, 1, 255, 80, 60, 0, 0, 0, 100),
    // Type 3 is not 0, 1, 64 or 65.
    Uint8Array.of(0, 0, 0, 0, 3, 50, 80, 60),
  ];
  for (const header of cases) {
    const packet = rawPacket(header, { data: 120 });
    const events = depacketize([packet]);
    assert.deepEqual(
      events.map((e) => e.type === "dropped" && e.reason),
      ["corrupt"],
      String(header),
    );
  }
});

Deno.test("Depacketizing keeps tables sent once for a Q of 128 to 254", async () => {
  const jpeg = { ...parseJpeg(await fixture("rtp_422.jpg")), q: 128 };
  const first = packetizeJpeg(jpeg, { ssrc: 1, sequence: 0, timestamp: 0 });
  // A second frame sends Length 0: the receiver uses the tables it has.
  const second = packetizeJpeg(jpeg, {
    ssrc: 1,
    sequence: first.length,
    timestamp: 3000,
  });
  const packet = second[0]!;
  const withoutTables = new Uint8Array(packet.length - 128);
  withoutTables.set(packet.subarray(0, 12 + 8 + 2));
  withoutTables.set(packet.subarray(12 + 8 + 4 + 128), 12 + 8 + 4);
  const got = frames(
    depacketize([...first, withoutTables, ...second.slice(1)]),
  );
  assert.equal(got.length, 2);
  assert.deepEqual(got[1], got[0]);
});

Deno.test("Frames that all carry the same timestamp, as some GStreamer pipelines send, are told apart by sequence number", async () => {
  const jpeg = parseJpeg(await fixture("rtp_422.jpg"));
  const packetizer = new RtpJpegPacketizer({ sequence: 65530, mtu: 500 });
  const packets = [0, 1, 2, 3].flatMap(() => packetizer.packetize(jpeg, 7));
  // A duplicate of the first frame's last packet, late, is ignored.
  packets.push(packets[2]!);
  const events = depacketize(packets);
  assert.equal(frames(events).length, 4);
  assert.equal(lost(events), 0);
});
