import assert from "node:assert/strict";
import fc from "fast-check";
import { Image } from "imagescript";
import { JpegSplitter } from "../lib/capture/jpeg_splitter.ts";

const fixtures = new URL("./fixtures/", import.meta.url);
const rocket = await Deno.readFile(new URL("rocket.jpg", fixtures));
const hubble = await Deno.readFile(new URL("hubble_deep_field.jpg", fixtures));
const truncated = await Deno.readFile(new URL("truncated.jpg", fixtures));

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

/** A marker segment: FF code, 2-byte length (itself included), payload. */
function segment(code: number, payload: Uint8Array): Uint8Array {
  const length = payload.length + 2;
  return concat([bytes(0xff, code, length >> 8, length & 0xff), payload]);
}

/**
 * rocket.jpg with an APP1 EXIF segment after its SOI holding a real 8×8 JPEG
 * thumbnail, with its own FF D8 ... FF D9, as cameras write it.
 */
async function withExifThumbnail(jpeg: Uint8Array): Promise<Uint8Array> {
  const thumbnail = await new Image(8, 8).fill(0xff8800ff).encodeJPEG(80);
  const exif = concat([
    new TextEncoder().encode("Exif\0\0MM\0\x2a\0\0\0\x08"),
    thumbnail,
  ]);
  return concat([jpeg.subarray(0, 2), segment(0xe1, exif), jpeg.subarray(2)]);
}

/**
 * A frame made by hand whose COM segment and entropy-coded data hold D8/D9
 * bytes after FF 00 stuffing, restart markers, fill bytes, and a second scan
 * after a DHT segment as in a progressive JPEG. Not decodable, but
 * structurally valid.
 */
const handMade = concat([
  bytes(0xff, 0xd8),
  segment(0xfe, bytes(0xff, 0xd8, 0xff, 0xd9, 0x41)),
  segment(0xdd, bytes(0x00, 0x04)),
  segment(0xda, bytes(0x01, 0x01, 0x00, 0x00, 0x3f, 0x00)),
  bytes(0x12, 0xff, 0x00, 0xd8, 0xff, 0x00, 0xd9, 0xff, 0xd0, 0x34),
  bytes(0xff, 0xff, 0xd1, 0xd8, 0xd9, 0xff, 0xd7, 0x00),
  segment(0xc4, bytes(0x10, 0xff, 0xd9, 0xff, 0xd8)),
  segment(0xda, bytes(0x01, 0x01, 0x00, 0x00, 0x3f, 0x00)),
  bytes(0x56, 0xff, 0x00, 0xff, 0xd2, 0x78),
  bytes(0xff, 0xd9),
]);

const exifRocket = await withExifThumbnail(rocket);

/** Pushes `chunks` and collects every frame returned. */
function splitAll(splitter: JpegSplitter, chunks: Uint8Array[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (const chunk of chunks) frames.push(...splitter.push(chunk));
  return frames;
}

/** Cuts `stream` at the given points (any order, duplicates allowed). */
function cut(stream: Uint8Array, points: number[]): Uint8Array[] {
  const sorted = [...new Set(points.map((p) => p % (stream.length + 1)))]
    .sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const point of sorted) {
    chunks.push(stream.subarray(from, point));
    from = point;
  }
  chunks.push(stream.subarray(from));
  return chunks;
}

Deno.test("JpegSplitter test frames are what they claim", async () => {
  // The EXIF frame still decodes, so the splitter is tested on a real JPEG.
  const image = await Image.decode(exifRocket);
  assert.equal(image.width, 640);
  assert.equal(image.height, 427);
  const inner = exifRocket.indexOf(0xd8, 4);
  assert.ok(inner > 0 && inner < 100, "thumbnail SOI sits inside APP1");
});

Deno.test("JpegSplitter returns a frame pushed in one chunk unchanged", () => {
  const splitter = new JpegSplitter();
  const frames = splitter.push(rocket);
  assert.equal(frames.length, 1);
  assert.deepEqual(frames[0], rocket);
  assert.notEqual(frames[0]!.buffer, rocket.buffer, "the frame is a copy");
  assert.equal(splitter.pendingBytes, 0);
  assert.deepEqual(splitter.stats, {
    frames: 1,
    skippedBytes: 0,
    oversize: 0,
    corrupt: 0,
  });
});

Deno.test("JpegSplitter does not end a frame at an EXIF thumbnail's EOI", () => {
  const splitter = new JpegSplitter();
  const frames = splitAll(splitter, [exifRocket, exifRocket]);
  assert.equal(frames.length, 2);
  assert.deepEqual(frames[0], exifRocket);
  assert.deepEqual(frames[1], exifRocket);
});

Deno.test("JpegSplitter skips FF D8 and FF D9 inside segments and entropy data", () => {
  const splitter = new JpegSplitter();
  for (let size = 1; size <= handMade.length; size++) {
    const chunks = cut(
      concat([handMade, handMade]),
      Array.from({ length: 2 * handMade.length }, (_, i) => i * size),
    );
    const frames = splitAll(splitter, chunks);
    assert.equal(frames.length, 2, `chunks of ${size} bytes`);
    assert.deepEqual(frames[0], handMade);
    assert.deepEqual(frames[1], handMade);
  }
  assert.equal(splitter.stats.corrupt, 0);
  assert.equal(splitter.stats.skippedBytes, 0);
});

Deno.test("JpegSplitter skips and counts garbage before, between and after frames", () => {
  const splitter = new JpegSplitter();
  const garbage = bytes(0x00, 0xff, 0xff, 0x12, 0xff, 0xd9, 0xff);
  const frames = splitAll(splitter, [
    concat([garbage, rocket, garbage, handMade, garbage]),
  ]);
  assert.deepEqual(frames, [rocket, handMade]);
  assert.equal(splitter.stats.skippedBytes, 3 * garbage.length - 1);
  // The trailing FF might begin an SOI; it is held, not yet counted.
  assert.equal(splitter.pendingBytes, 0);
  assert.deepEqual(splitter.push(bytes(0x00)), []);
  assert.equal(splitter.stats.skippedBytes, 3 * garbage.length + 1);
});

Deno.test("JpegSplitter returns exactly the frames for any chunking of frames and garbage", () => {
  const pool = [rocket, exifRocket, handMade, hubble];
  // Garbage never holds D8, so never an SOI.
  const garbage = fc.uint8Array({ maxLength: 40 }).map((g) =>
    g.map((b) => (b === 0xd8 ? 0 : b))
  );
  const streamParts = fc.array(
    fc.record({ frame: fc.nat(pool.length - 1), before: garbage }),
    { minLength: 1, maxLength: 6 },
  );
  fc.assert(
    fc.property(
      streamParts,
      garbage,
      fc.array(fc.nat(), { maxLength: 60 }),
      (parts, tail, points) => {
        const expected = parts.map((p) => pool[p.frame]!);
        const stream = concat([
          ...parts.flatMap((p) => [p.before, pool[p.frame]!]),
          tail,
          bytes(0x00), // flushes a trailing FF of `tail` into the count
        ]);
        const garbageBytes = parts.reduce((n, p) => n + p.before.length, 0) +
          tail.length + 1;
        const splitter = new JpegSplitter({ initialBufferBytes: 1024 });
        const frames = splitAll(splitter, cut(stream, points));
        assert.equal(frames.length, expected.length);
        frames.forEach((frame, i) => assert.deepEqual(frame, expected[i]));
        assert.deepEqual(splitter.stats, {
          frames: expected.length,
          skippedBytes: garbageBytes,
          oversize: 0,
          corrupt: 0,
        });
        assert.equal(splitter.pendingBytes, 0);
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("JpegSplitter drops a frame over maxFrameBytes and keeps the next", () => {
  const max = rocket.length;
  for (const chunkSize of [1000, 65536, rocket.length - 1, 1 << 20]) {
    const splitter = new JpegSplitter({
      maxFrameBytes: max,
      initialBufferBytes: 4096,
    });
    const stream = concat([rocket, hubble, exifRocket, rocket]);
    const points = Array.from(
      { length: Math.ceil(stream.length / chunkSize) },
      (_, i) => i * chunkSize,
    );
    const frames = splitAll(splitter, cut(stream, points));
    assert.deepEqual(frames, [rocket, rocket], `chunks of ${chunkSize}`);
    assert.equal(splitter.stats.oversize, 2, "hubble and the EXIF rocket");
    assert.equal(splitter.stats.corrupt, 0);
    assert.equal(splitter.stats.skippedBytes, 0);
  }
});

Deno.test("JpegSplitter keeps a frame of exactly maxFrameBytes", () => {
  const splitter = new JpegSplitter({ maxFrameBytes: handMade.length });
  assert.deepEqual(splitter.push(handMade), [handMade]);
  const smaller = new JpegSplitter({ maxFrameBytes: handMade.length - 1 });
  assert.deepEqual(smaller.push(handMade), []);
  assert.equal(smaller.stats.oversize, 1);
});

Deno.test("JpegSplitter drops a frame cut in its entropy data when the next SOI comes", () => {
  const splitter = new JpegSplitter();
  const cutShort = rocket.subarray(0, 50_000);
  const frames = splitAll(splitter, [
    cutShort,
    rocket.subarray(0, 1),
    rocket.subarray(1),
  ]);
  assert.deepEqual(frames, [rocket]);
  assert.equal(splitter.stats.corrupt, 1);
});

Deno.test("JpegSplitter resynchronises after a frame cut in its headers", () => {
  const splitter = new JpegSplitter();
  const frames = splitAll(splitter, [truncated, rocket, rocket, handMade]);
  // The cut frame's last segment swallows the start of the next frame, which
  // is lost too; the splitter recovers at the next SOI.
  assert.deepEqual(frames.slice(-2), [rocket, handMade]);
  assert.ok(splitter.stats.corrupt >= 1);
});

Deno.test("JpegSplitter reports and forgets an unfinished frame", () => {
  const splitter = new JpegSplitter();
  splitter.push(rocket.subarray(0, 1000));
  assert.equal(splitter.pendingBytes, 1000);
  splitter.reset();
  assert.equal(splitter.pendingBytes, 0);
  assert.deepEqual(splitter.push(handMade), [handMade]);
});

Deno.test("JpegSplitter rejects an invalid maxFrameBytes", () => {
  assert.throws(() => new JpegSplitter({ maxFrameBytes: 0 }), RangeError);
  assert.throws(() => new JpegSplitter({ maxFrameBytes: 1.5 }), RangeError);
  assert.throws(() => new JpegSplitter({ initialBufferBytes: -1 }), RangeError);
});
