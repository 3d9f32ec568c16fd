import assert from "node:assert/strict";
import { within } from "./_within.ts";
import fc from "fast-check";
import {
  encodePartHead,
  encodePartTail,
  FrameBoard,
  type HistoryDocument,
  lazyTranscoder,
  MJPEG_BOUNDARY,
  type MjpegPart,
  pngToJpeg,
  RateWindow,
  readMjpegParts,
  renderPage,
  Viewer,
  type ViewerFrame,
  type ViewerStats,
} from "../lib/viewer/mod.ts";

const ROCKET = await Deno.readFile(
  new URL("./fixtures/rocket.jpg", import.meta.url),
);
const HUBBLE = await Deno.readFile(
  new URL("./fixtures/hubble_deep_field.jpg", import.meta.url),
);
const ASTRONAUT = await Deno.readFile(
  new URL("./fixtures/astronaut.png", import.meta.url),
);
const ALICE = "192.0.2.10:40000";
const BOB = "192.0.2.20:40000";

function jpeg(sender: string, bytes: Uint8Array = ROCKET): ViewerFrame {
  return { sender, bytes, format: "jpeg" };
}

/**
 * Waits until `condition` holds. Used only where the viewer learns of an
 * event (a client gone) with no promise to await.
 */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 5000;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`Timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function get(viewer: Viewer, path: string, init?: RequestInit) {
  return await within(
    5000,
    fetch(new URL(path, viewer.url), init),
    `GET ${path}`,
  );
}

async function stats(viewer: Viewer, query = ""): Promise<ViewerStats> {
  const response = await get(viewer, `/stats${query}`);
  assert.equal(response.status, 200);
  return await response.json();
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/**
 * Opens `/stream.mjpg` and returns its parts one by one. `next` skips the
 * repeat of a frame that the viewer sends when the stream goes quiet;
 * `nextPart` does not.
 */
async function openStream(
  viewer: Viewer,
  query = "",
  path = "/stream.mjpg",
  init?: RequestInit,
) {
  const response = await get(viewer, `${path}${query}`, init);
  assert.equal(response.status, 200);
  const parts = readMjpegParts(response.body!);
  let previous: Uint8Array | undefined;
  async function nextPart(): Promise<MjpegPart> {
    const result = await within(5000, parts.next(), "next MJPEG part");
    assert.ok(!result.done, "stream ended early");
    return result.value;
  }
  return {
    response,
    nextPart,
    async next(): Promise<MjpegPart> {
      for (;;) {
        const part = await nextPart();
        if (previous !== undefined && sameBytes(part.bytes, previous)) continue;
        previous = part.bytes;
        return part;
      }
    },
    async close(): Promise<void> {
      await parts.return();
    },
  };
}

// ---------------------------------------------------------------------------
// RateWindow

Deno.test("RateWindow measures a steady frame rate and byte rate", () => {
  const window = new RateWindow({ windowMs: 2000 });
  for (let i = 0; i < 300; i++) window.record(i * 40, 5000);
  const rate = window.rate(299 * 40);
  assert.ok(Math.abs(rate.perSecond - 25) < 0.6, `got ${rate.perSecond}`);
  assert.ok(Math.abs(rate.bytesPerSecond - 125_000) < 3000);
});

Deno.test("RateWindow shows a new stream's rate at once, and no rate for a single image", () => {
  const window = new RateWindow({ windowMs: 2000 });
  window.record(1000, 10);
  assert.equal(window.rate(1000).perSecond, 0);
  for (let i = 1; i <= 5; i++) window.record(1000 + i * 100, 10);
  assert.equal(window.rate(1500).perSecond, 10);
  assert.equal(window.rate(1500).bytesPerSecond, 100);
});

Deno.test("RateWindow falls to zero once the source stops", () => {
  const window = new RateWindow({ windowMs: 1000 });
  for (let i = 0; i < 10; i++) window.record(i * 100, 10);
  assert.ok(window.rate(1000).perSecond > 0);
  assert.equal(window.rate(2000).perSecond, 0);
  assert.equal(window.rate(2000).bytesPerSecond, 0);
});

Deno.test("RateWindow measures a rate above its capacity from the newest events", () => {
  const window = new RateWindow({ windowMs: 2000, capacity: 64 });
  for (let i = 0; i < 2000; i++) window.record(i, 1);
  const { perSecond } = window.rate(1999);
  assert.ok(perSecond > 900 && perSecond <= 1000, `got ${perSecond}`);
});

Deno.test("RateWindow is never negative and scales bytes with frames", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 200 }),
      fc.integer({ min: 1, max: 100_000 }),
      fc.integer({ min: 0, max: 5000 }),
      (gaps, size, lateMs) => {
        const window = new RateWindow({ windowMs: 2000, capacity: 128 });
        let time = 0;
        for (const gap of gaps) window.record(time += gap, size);
        const rate = window.rate(time + lateMs);
        assert.ok(rate.perSecond >= 0);
        assert.ok(
          Math.abs(rate.bytesPerSecond - rate.perSecond * size) <
            1e-6 * size * (rate.perSecond + 1),
        );
      },
    ),
  );
});

Deno.test("RateWindow rejects a window that is not positive", () => {
  assert.throws(() => new RateWindow({ windowMs: 0 }), RangeError);
  assert.throws(() => new RateWindow({ capacity: 0 }), RangeError);
});

// ---------------------------------------------------------------------------
// FrameBoard

Deno.test("FrameBoard keeps only the newest frame of each sender", () => {
  const board = new FrameBoard();
  board.publish(jpeg(ALICE, ROCKET), 0);
  board.publish(jpeg(ALICE, HUBBLE), 10);
  const entry = board.newest(ALICE);
  assert.equal(entry?.frame.bytes, HUBBLE);
  assert.equal(entry?.frames, 2);
  assert.equal(entry?.bytes, ROCKET.length + HUBBLE.length);
  assert.equal(entry?.seq, 2);
  assert.equal(board.frames, 2);
});

Deno.test("FrameBoard keeps the default sender while it streams, and switches once it goes silent", () => {
  const board = new FrameBoard({ switchAfterMs: 2000 });
  board.publish(jpeg(ALICE), 0);
  board.publish(jpeg(BOB), 100);
  board.publish(jpeg(ALICE), 200);
  board.publish(jpeg(BOB), 300);
  assert.equal(board.primary, ALICE);
  assert.equal(board.newest()?.sender, ALICE);
  board.publish(jpeg(BOB), 2300);
  assert.equal(board.primary, BOB);
});

Deno.test("FrameBoard forgets the least recently active sender beyond maxSenders", () => {
  const board = new FrameBoard({ maxSenders: 3 });
  for (let port = 1; port <= 10; port++) {
    board.publish(jpeg(`10.0.0.1:${port}`), port);
  }
  const senders = board.senderStats(10).map((s) => s.sender);
  assert.deepEqual(senders, ["10.0.0.1:8", "10.0.0.1:9", "10.0.0.1:10"]);
  assert.equal(board.newest()?.sender, "10.0.0.1:10");
});

Deno.test("FrameBoard reads the resolution from JPEG and PNG headers", () => {
  const board = new FrameBoard();
  board.publish(jpeg(ALICE, ROCKET), 0);
  board.publish({ sender: BOB, bytes: ASTRONAUT, format: "png" }, 0);
  board.publish({ sender: "192.0.2.30:1", bytes: HUBBLE, format: "jpeg" }, 0);
  const [alice, bob, third] = board.senderStats(0);
  assert.deepEqual([alice?.width, alice?.height], [640, 427]);
  assert.deepEqual([bob?.width, bob?.height, bob?.format], [512, 512, "png"]);
  assert.deepEqual([third?.width, third?.height], [1000, 872]);
});

Deno.test("FrameBoard reports an unknown resolution as null and trusts given dimensions", () => {
  const board = new FrameBoard();
  board.publish(jpeg(ALICE, new Uint8Array([0xff, 0xd8, 0xff, 0xd9])), 0);
  board.publish({ ...jpeg(BOB, ROCKET), width: 64, height: 48 }, 0);
  const [alice, bob] = board.senderStats(0);
  assert.deepEqual([alice?.width, alice?.height], [null, null]);
  assert.deepEqual([bob?.width, bob?.height], [64, 48]);
});

Deno.test("FrameBoard rejects a frame that is not a frame", () => {
  const board = new FrameBoard();
  assert.throws(
    () =>
      board.publish(
        { sender: ALICE, bytes: [1, 2], format: "jpeg" } as never,
        0,
      ),
    TypeError,
  );
  assert.throws(
    () => board.publish({ ...jpeg(ALICE), format: "gif" } as never, 0),
    TypeError,
  );
  assert.throws(
    () => board.publish({ ...jpeg(ALICE), protocol: 7 } as never, 0),
    TypeError,
  );
});

Deno.test("FrameBoard marks a silent sender stale, and expire forgets it later", () => {
  const board = new FrameBoard({ staleAfterMs: 3000, forgetAfterMs: 60_000 });
  board.publish(jpeg(ALICE), 0);
  board.publish(jpeg(BOB), 1000);
  const [alice, bob] = board.senderStats(3500);
  assert.equal(alice?.stale, true);
  assert.equal(bob?.stale, false);
  assert.deepEqual(board.expire(59_000), []);
  assert.equal(board.primary, ALICE);
  assert.deepEqual(board.expire(60_001), [ALICE]);
  assert.equal(board.size, 1);
  // The default sender goes with it; the most recent one takes its place.
  assert.equal(board.primary, BOB);
  assert.deepEqual([...board.entries()].map((entry) => entry.sender), [BOB]);
  assert.deepEqual(board.expire(61_001), [BOB]);
  assert.equal(board.newest(), undefined);
});

Deno.test("FrameBoard reports the protocol of the newest frame", () => {
  const board = new FrameBoard();
  board.publish({ ...jpeg(ALICE), protocol: "stream" }, 0);
  board.publish(jpeg(BOB), 0);
  const [alice, bob] = board.senderStats(0);
  assert.equal(alice?.protocol, "stream");
  assert.equal(bob?.protocol, null);
  assert.deepEqual([alice?.lost, alice?.late, alice?.latencyMs], [
    null,
    null,
    null,
  ]);
});

// ---------------------------------------------------------------------------
// MJPEG framing

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks);
}

function cut(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))]
    .sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(at, point));
    at = point;
  }
  return chunks;
}

Deno.test("readMjpegParts reads back encoded parts however the bytes are chunked", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ maxLength: 300 }), {
        minLength: 1,
        maxLength: 5,
      }),
      fc.array(fc.nat(), { maxLength: 20 }),
      async (images, cuts) => {
        const pieces: Uint8Array[] = [];
        images.forEach((image, i) => {
          pieces.push(
            encodePartHead("image/jpeg", image.length, { first: i === 0 }),
          );
          pieces.push(image, encodePartTail());
        });
        const whole = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const piece of pieces) {
          whole.set(piece, (at += piece.length) - piece.length);
        }
        const parts: MjpegPart[] = [];
        for await (const part of readMjpegParts(streamOf(cut(whole, cuts)))) {
          parts.push(part);
        }
        assert.deepEqual(parts.map((p) => p.bytes), images);
        assert.ok(parts.every((p) => p.contentType === "image/jpeg"));
      },
    ),
  );
});

Deno.test("readMjpegParts finds the delimiters of parts without Content-Length however the bytes are chunked", async () => {
  const encoder = new TextEncoder();
  await fc.assert(
    fc.asyncProperty(
      // Digits only, so that no image holds the delimiter.
      fc.array(fc.stringMatching(/^[0-9]{0,300}$/), {
        minLength: 1,
        maxLength: 5,
      }),
      fc.stringMatching(/^[a-z]{0,40}$/),
      fc.array(fc.nat(), { maxLength: 40 }),
      async (images, junk, cuts) => {
        const text = junk +
          images.map((image) =>
            `--${MJPEG_BOUNDARY}\r\nContent-Type: image/png\r\n\r\n${image}\r\n`
          ).join("") + `--${MJPEG_BOUNDARY}\r\n`;
        const parts: string[] = [];
        for await (
          const part of readMjpegParts(
            streamOf(cut(encoder.encode(text), cuts)),
          )
        ) parts.push(new TextDecoder().decode(part.bytes));
        assert.deepEqual(parts, images);
      },
    ),
  );
});

Deno.test("readMjpegParts ends a part without Content-Length at the delimiter", async () => {
  const text =
    `--${MJPEG_BOUNDARY}\r\nContent-Type: image/png\r\n\r\nabc\r\n--${MJPEG_BOUNDARY}\r\n`;
  const parts: MjpegPart[] = [];
  for await (
    const part of readMjpegParts(streamOf([new TextEncoder().encode(text)]))
  ) parts.push(part);
  assert.equal(parts.length, 1);
  assert.equal(new TextDecoder().decode(parts[0]?.bytes), "abc");
  assert.equal(parts[0]?.contentLength, undefined);
});

Deno.test("encodePartHead adds headers that readMjpegParts reads back", async () => {
  const head = encodePartHead("image/jpeg", 2, {
    first: true,
    headers: { "X-Sender": "192.0.2.10:40000" },
  });
  const body = new Uint8Array([...head, 0xff, 0xd9, ...encodePartTail()]);
  const parts = [];
  for await (const part of readMjpegParts(streamOf([body]))) parts.push(part);
  assert.equal(parts.length, 1);
  assert.equal(parts[0]?.headers["x-sender"], "192.0.2.10:40000");
  assert.equal(parts[0]?.headers["content-type"], "image/jpeg");
  assert.throws(
    () =>
      encodePartHead("image/jpeg", 1, { headers: { "X-A": "b\r\nX-Evil: 1" } }),
    TypeError,
  );
});

Deno.test("encodePartHead rejects a negative length", () => {
  assert.throws(() => encodePartHead("image/jpeg", -1), RangeError);
});

// ---------------------------------------------------------------------------
// pngToJpeg

Deno.test("pngToJpeg decodes the PNG and encodes JPEG at the given quality", async () => {
  const pixels = {
    width: 1,
    height: 1,
    channels: 3 as const,
    data: new Uint8Array(3),
  };
  const seen: unknown[] = [];
  const transcode = pngToJpeg({
    name: "fake",
    supports: () => true,
    decode: (bytes, format) => {
      seen.push(bytes, format);
      return Promise.resolve(pixels);
    },
    close: () => {},
  }, {
    name: "fake",
    supports: () => true,
    encode: (image, options) => {
      seen.push(image, options);
      return Promise.resolve(ROCKET);
    },
    close: () => {},
  }, { quality: 70 });
  assert.equal(await transcode(ASTRONAUT, "png"), ROCKET);
  assert.deepEqual(seen, [ASTRONAUT, "png", pixels, {
    format: "jpeg",
    quality: 70,
  }]);
});

Deno.test("pngToJpeg rejects a quality out of range", () => {
  const codec = {
    name: "fake",
    supports: () => true,
    decode: () => Promise.reject(new Error("unused")),
    encode: () => Promise.reject(new Error("unused")),
    close: () => {},
  };
  assert.throws(() => pngToJpeg(codec, codec, { quality: 0 }), RangeError);
});

Deno.test("lazyTranscoder makes its codecs once, at the first frame, and refuses frames after close", async () => {
  let made = 0;
  const png = lazyTranscoder((decoder, encoder) => {
    made++;
    return pngToJpeg(decoder, encoder);
  });
  assert.equal(made, 0);
  const [a, b] = await Promise.all([
    png.transcode(ASTRONAUT, "png"),
    png.transcode(ASTRONAUT, "png"),
  ]);
  assert.equal(made, 1);
  assert.deepEqual([a[0], a[1], b[0], b[1]], [0xff, 0xd8, 0xff, 0xd8]);
  await png.close();
  await assert.rejects(png.transcode(ASTRONAUT, "png"), TypeError);
  await png.close();
});

// ---------------------------------------------------------------------------
// Page

Deno.test("renderPage loads nothing from other origins and escapes the title", () => {
  const html = renderPage({ title: "<cam & co>" });
  assert.ok(html.includes("<title>&#60;cam &#38; co&#62;</title>"));
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i);
  assert.doesNotMatch(html, /@import|url\(\s*["']?https?:/i);
});

Deno.test("renderPage embeds hints so that they cannot close the script", () => {
  const html = renderPage({ frameHint: "</script><script>alert(1)</script>" });
  assert.equal(html.split("</script>").length, 3);
});

// ---------------------------------------------------------------------------
// Viewer over HTTP

Deno.test("Viewer serves the page with a strict content security policy", async () => {
  await using viewer = new Viewer();
  assert.match(viewer.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const response = await get(viewer, "/");
  assert.equal(response.status, 200);
  assert.equal(
    response.headers.get("content-type"),
    "text/html; charset=utf-8",
  );
  assert.match(
    response.headers.get("content-security-policy")!,
    /default-src 'none'/,
  );
  assert.equal(response.headers.get("cache-control"), "no-store");
  const html = await response.text();
  assert.match(html, /Waiting for frames/);
  assert.match(html, /stream\.mjpg/);
});

Deno.test("Viewer answers 404 for /latest.jpg before the first frame", async () => {
  await using viewer = new Viewer();
  const response = await get(viewer, "/latest.jpg");
  assert.equal(response.status, 404);
  assert.match(await response.text(), /^No frame yet/);
});

Deno.test("Viewer serves the newest JPEG at /latest.jpg exactly as received", async () => {
  await using viewer = new Viewer();
  viewer.publishFrame(jpeg(ALICE, HUBBLE));
  viewer.publishFrame(jpeg(ALICE, ROCKET));
  const response = await get(viewer, "/latest.jpg");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "image/jpeg");
  assert.equal(response.headers.get("content-length"), String(ROCKET.length));
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal(response.headers.get("x-sender"), ALICE);
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), ROCKET);
});

Deno.test("Viewer serves a PNG frame as image/png when it has no transcoder", async () => {
  await using viewer = new Viewer();
  viewer.publishFrame({ sender: ALICE, bytes: ASTRONAUT, format: "png" });
  const response = await get(viewer, "/latest.jpg");
  assert.equal(response.headers.get("content-type"), "image/png");
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), ASTRONAUT);
});

Deno.test("Viewer transcodes a PNG frame once for /latest.jpg and keeps /latest native", async () => {
  const calls: Uint8Array[] = [];
  await using viewer = new Viewer({
    transcode: (bytes) => {
      calls.push(bytes);
      return Promise.resolve(ROCKET);
    },
  });
  viewer.publishFrame({ sender: ALICE, bytes: ASTRONAUT, format: "png" });
  for (let i = 0; i < 2; i++) {
    const response = await get(viewer, "/latest.jpg");
    assert.equal(response.headers.get("content-type"), "image/jpeg");
    assert.deepEqual(new Uint8Array(await response.arrayBuffer()), ROCKET);
  }
  assert.equal(calls.length, 1);
  assert.equal(calls[0], ASTRONAUT);
  const native = await get(viewer, "/latest");
  assert.equal(native.headers.get("content-type"), "image/png");
  assert.deepEqual(new Uint8Array(await native.arrayBuffer()), ASTRONAUT);
});

Deno.test("Viewer falls back to PNG when the transcoder fails", async () => {
  await using viewer = new Viewer({
    transcode: () => Promise.reject(new Error("no encoder")),
  });
  viewer.publishFrame({ sender: ALICE, bytes: ASTRONAUT, format: "png" });
  const response = await get(viewer, "/latest.jpg");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "image/png");
  await response.body?.cancel();
});

Deno.test("Viewer answers HEAD with headers only", async () => {
  await using viewer = new Viewer();
  viewer.publishFrame(jpeg(ALICE));
  const response = await get(viewer, "/latest.jpg", { method: "HEAD" });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "image/jpeg");
  assert.equal(await response.text(), "");
});

Deno.test("Viewer answers 404 for unknown paths and 405 for other methods", async () => {
  await using viewer = new Viewer();
  const missing = await get(viewer, "/nope");
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /^Not found: \/nope/);
  const post = await get(viewer, "/stats", { method: "POST", body: "x" });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
});

Deno.test("Viewer /stats reports totals, rates, senders and the last message", async () => {
  await using viewer = new Viewer();
  const empty = await stats(viewer);
  assert.equal(empty.frames, 0);
  assert.equal(empty.selected, null);
  assert.equal(empty.lastMessage, null);
  assert.deepEqual(empty.senders, []);

  for (let i = 0; i < 5; i++) viewer.publishFrame(jpeg(ALICE));
  viewer.publishMessage({ hello: "world", n: [1, 2] }, BOB);
  const body = await stats(viewer);
  assert.equal(body.frames, 5);
  assert.equal(body.bytes, 5 * ROCKET.length);
  assert.equal(body.dropped, 0);
  assert.ok(body.fps > 0);
  assert.ok(body.kbps > 0);
  assert.equal(body.selected, ALICE);
  assert.equal(body.senders.length, 1);
  const [alice] = body.senders;
  assert.equal(alice?.sender, ALICE);
  assert.equal(alice?.frames, 5);
  assert.equal(alice?.format, "jpeg");
  assert.deepEqual([alice?.width, alice?.height], [640, 427]);
  assert.ok(alice!.lastFrameAgoMs >= 0);
  assert.deepEqual(body.lastMessage, { hello: "world", n: [1, 2] });
  assert.equal(body.lastMessageSender, BOB);
  assert.equal(body.messages, 1);
});

Deno.test("Viewer /stats shows the server's counters when given", async () => {
  const counters = {
    frames: 10,
    decoded: 8,
    dropped: 1,
    errors: 1,
    skipped: 3,
    bytes: 12345,
  };
  await using viewer = new Viewer({ counters: () => counters });
  viewer.publishFrame(jpeg(ALICE));
  const body = await stats(viewer);
  assert.deepEqual(
    {
      frames: body.frames,
      decoded: body.decoded,
      dropped: body.dropped,
      errors: body.errors,
      skipped: body.skipped,
      bytes: body.bytes,
    },
    counters,
  );
});

Deno.test("Viewer streams MJPEG parts and sends a newer frame when it is published", async () => {
  await using viewer = new Viewer();
  viewer.publishFrame(jpeg(ALICE, ROCKET));
  const stream = await openStream(viewer);
  try {
    const { headers } = stream.response;
    assert.equal(
      headers.get("content-type"),
      `multipart/x-mixed-replace; boundary=${MJPEG_BOUNDARY}`,
    );
    assert.equal(headers.get("cache-control"), "no-store");
    const first = await stream.next();
    assert.equal(first.contentType, "image/jpeg");
    assert.equal(first.contentLength, ROCKET.length);
    assert.deepEqual(first.bytes, ROCKET);
    const second = stream.next();
    viewer.publishFrame(jpeg(ALICE, HUBBLE));
    const part = await second;
    assert.equal(part.contentLength, HUBBLE.length);
    assert.deepEqual(part.bytes, HUBBLE);
  } finally {
    await stream.close();
  }
});

Deno.test("Viewer repeats the last frame once when the stream goes quiet, so that browsers show it", async () => {
  await using viewer = new Viewer({ idleRepeatMs: 20 });
  viewer.publishFrame(jpeg(ALICE, ROCKET));
  const stream = await openStream(viewer);
  try {
    assert.deepEqual((await stream.nextPart()).bytes, ROCKET);
    assert.deepEqual((await stream.nextPart()).bytes, ROCKET);
    const next = stream.nextPart();
    viewer.publishFrame(jpeg(ALICE, HUBBLE));
    assert.deepEqual((await next).bytes, HUBBLE);
  } finally {
    await stream.close();
  }
});

Deno.test("Viewer opens the MJPEG body with the boundary line", async () => {
  await using viewer = new Viewer();
  viewer.publishFrame(jpeg(ALICE));
  const response = await get(viewer, "/stream.mjpg");
  const reader = response.body!.getReader();
  try {
    const { value } = await within(5000, reader.read(), "first chunk");
    const start = new TextDecoder().decode(value!.subarray(0, 100));
    assert.ok(
      start.startsWith(
        `--${MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${ROCKET.length}\r\n\r\n`,
      ),
      JSON.stringify(start),
    );
  } finally {
    await reader.cancel();
  }
});

Deno.test("Viewer sends the same newest frame to every MJPEG viewer", async () => {
  await using viewer = new Viewer();
  const a = await openStream(viewer);
  const b = await openStream(viewer);
  try {
    const [partA, partB] = [a.next(), b.next()];
    viewer.publishFrame(jpeg(ALICE, HUBBLE));
    assert.deepEqual((await partA).bytes, HUBBLE);
    assert.deepEqual((await partB).bytes, HUBBLE);
    assert.equal(viewer.activeStreams, 2);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("Viewer streams a PNG frame as image/png, or as JPEG with a transcoder", async () => {
  {
    await using viewer = new Viewer();
    viewer.publishFrame({ sender: ALICE, bytes: ASTRONAUT, format: "png" });
    const stream = await openStream(viewer);
    const part = await stream.next();
    await stream.close();
    assert.equal(part.contentType, "image/png");
    assert.equal(part.bytes.length, ASTRONAUT.length);
  }
  {
    await using viewer = new Viewer({
      transcode: () => Promise.resolve(ROCKET),
    });
    viewer.publishFrame({ sender: ALICE, bytes: ASTRONAUT, format: "png" });
    const stream = await openStream(viewer);
    const part = await stream.next();
    await stream.close();
    assert.equal(part.contentType, "image/jpeg");
    assert.deepEqual(part.bytes, ROCKET);
  }
});

Deno.test("Viewer selects a sender with ?sender= on every endpoint", async () => {
  await using viewer = new Viewer();
  viewer.publishFrame(jpeg(ALICE, ROCKET));
  viewer.publishFrame(jpeg(BOB, HUBBLE));

  const query = `?sender=${encodeURIComponent(BOB)}`;
  const latest = await get(viewer, `/latest.jpg${query}`);
  assert.equal(latest.headers.get("x-sender"), BOB);
  assert.deepEqual(new Uint8Array(await latest.arrayBuffer()), HUBBLE);

  const byDefault = await get(viewer, "/latest.jpg");
  assert.equal(byDefault.headers.get("x-sender"), ALICE);
  await byDefault.body?.cancel();

  assert.equal((await stats(viewer, query)).selected, BOB);
  assert.equal((await stats(viewer)).selected, ALICE);

  const unknown = await get(viewer, "/latest.jpg?sender=192.0.2.99:1");
  assert.equal(unknown.status, 404);
  assert.match(await unknown.text(), /No frame from 192\.0\.2\.99:1 yet/);

  const stream = await openStream(viewer, query);
  try {
    assert.deepEqual((await stream.next()).bytes, HUBBLE);
    const next = stream.next();
    viewer.publishFrame(jpeg(ALICE, HUBBLE));
    viewer.publishFrame(jpeg(BOB, ROCKET));
    assert.deepEqual((await next).bytes, ROCKET);
  } finally {
    await stream.close();
  }
});

Deno.test("Viewer keeps at most one frame per stalled viewer and never blocks publishing", async () => {
  await using viewer = new Viewer();
  // 1 MiB frames: the kernel's socket buffers hold only a few of them.
  const big = new Uint8Array(1 << 20);
  big.set([0xff, 0xd8, 0xff]);
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: viewer.addr.port,
  });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1:${viewer.addr.port}\r\n\r\n`,
      ),
    );
    await until(() => viewer.activeStreams === 1, "stream to open");
    let maxQueued = 0;
    for (let i = 0; i < 500; i++) {
      const result: unknown = viewer.publishFrame(jpeg(ALICE, big));
      assert.equal(result, undefined);
      // Let the server run, as a receive loop would between frames.
      await new Promise((resolve) => setTimeout(resolve, 0));
      maxQueued = Math.max(maxQueued, viewer.queuedBytes);
    }
    assert.equal(viewer.stats().frames, 500);
    assert.ok(maxQueued <= big.length + 200, `queued ${maxQueued} bytes`);
    assert.ok(
      viewer.framesStreamed < 50,
      `sent ${viewer.framesStreamed} frames to a client that reads nothing`,
    );
  } finally {
    conn.close();
  }
  await until(
    () => viewer.activeStreams === 0,
    "stalled stream to be released",
  );
});

Deno.test("Viewer releases a stream when its viewer disconnects", async () => {
  await using viewer = new Viewer();
  viewer.publishFrame(jpeg(ALICE));
  const streams = [await openStream(viewer), await openStream(viewer)];
  for (const stream of streams) await stream.next();
  assert.equal(viewer.activeStreams, 2);
  assert.equal((await stats(viewer)).viewers, 2);
  for (const stream of streams) await stream.close();
  await until(() => viewer.activeStreams === 0, "streams to be released");
});

Deno.test("Viewer.close ends open streams, and the server stops", async () => {
  const viewer = new Viewer();
  const stream = await openStream(viewer);
  const waiting = within(5000, stream.next(), "stream end").then(
    () => "part",
    () => "ended",
  );
  await until(() => viewer.activeStreams === 1, "stream to open");
  await within(5000, viewer.close(), "close");
  assert.equal(await waiting, "ended");
  assert.equal(viewer.activeStreams, 0);
  await within(5000, viewer.finished, "server to finish");
  await stream.close().catch(() => {});
});

Deno.test("Viewer closes when its signal is aborted", async () => {
  const controller = new AbortController();
  const viewer = new Viewer({ signal: controller.signal });
  const url = viewer.url;
  controller.abort();
  await within(5000, viewer.finished, "server to finish");
  await viewer.close();
  await assert.rejects(fetch(url));
});

Deno.test("Viewer says which address is taken when its port is in use", async () => {
  await using first = new Viewer();
  assert.throws(
    () => new Viewer({ port: first.addr.port }),
    (error: Error) =>
      error instanceof Deno.errors.AddrInUse &&
      error.message ===
        `Cannot start viewer: 127.0.0.1:${first.addr.port} is already in use, choose another port`,
  );
});

Deno.test("Viewer rejects a port out of range and a negative repeat delay", () => {
  assert.throws(() => new Viewer({ port: 70000 }), RangeError);
  assert.throws(() => new Viewer({ idleRepeatMs: -1 }), RangeError);
});

// ---------------------------------------------------------------------------
// The wall, history, link statistics and snapshots

Deno.test("Viewer /wall.mjpg sends every sender's newest frame, tagged, senders taking turns", async () => {
  await using viewer = new Viewer();
  viewer.publishFrame(jpeg(ALICE, ROCKET));
  viewer.publishFrame(jpeg(BOB, HUBBLE));
  const wall = await openStream(viewer, "", "/wall.mjpg");
  try {
    const first = await wall.nextPart();
    assert.equal(first.headers["x-sender"], ALICE);
    assert.deepEqual(first.bytes, ROCKET);
    // Alice sends again before Bob's first frame went out: Bob's turn first.
    viewer.publishFrame(jpeg(ALICE, HUBBLE));
    const second = await wall.nextPart();
    assert.equal(second.headers["x-sender"], BOB);
    assert.deepEqual(second.bytes, HUBBLE);
    const third = await wall.nextPart();
    assert.equal(third.headers["x-sender"], ALICE);
    assert.deepEqual(third.bytes, HUBBLE);
    // Nothing fresh: the wall waits, without repeats, for the next frame.
    const next = wall.nextPart();
    viewer.publishFrame(jpeg(BOB, ROCKET));
    const fourth = await next;
    assert.equal(fourth.headers["x-sender"], BOB);
    assert.deepEqual(fourth.bytes, ROCKET);
    assert.equal(viewer.activeStreams, 1);
  } finally {
    await wall.close();
  }
});

Deno.test("Viewer /history samples each sender's rates, and link statistics when given", async () => {
  const links = new Map([[ALICE, {
    lost: 3,
    late: 1,
    latencyMs: 25,
    protocol: "stream",
  }]]);
  await using viewer = new Viewer({
    historyIntervalMs: 20,
    linkStats: (sender) => links.get(sender),
  });
  viewer.publishFrame(jpeg(ALICE));
  viewer.publishFrame(jpeg(BOB));
  let doc: HistoryDocument | undefined;
  const deadline = performance.now() + 10_000;
  for (;;) {
    doc = await (await get(viewer, "/history")).json() as HistoryDocument;
    if ((doc.senders[ALICE]?.fps.length ?? 0) >= 2) break;
    assert.ok(performance.now() < deadline, "no samples in /history");
    links.get(ALICE)!.lost++;
    viewer.publishFrame(jpeg(ALICE));
  }
  assert.equal(doc.intervalMs, 20);
  assert.equal(doc.capacity, 60);
  const alice = doc.senders[ALICE]!;
  assert.ok(alice.fps.every((n) => n >= 0));
  assert.ok(alice.kbps.some((n) => n > 0), JSON.stringify(alice));
  assert.ok(alice.lost !== null && alice.lost.length === alice.fps.length);
  assert.ok(alice.latencyMs?.includes(25));
  assert.equal(doc.senders[BOB]?.lost, null);
  assert.equal(doc.senders[BOB]?.latencyMs, null);
  assert.ok(doc.total.lost !== null);
  assert.equal(doc.total.fps.length, doc.total.dropped.length);
  const one = await (await get(viewer, `/history?sender=${BOB}`)).json();
  assert.deepEqual(Object.keys(one.senders), [BOB]);
});

Deno.test("Viewer /stats shows a sender's protocol, loss and latency from linkStats", async () => {
  await using viewer = new Viewer({
    linkStats: (sender) => {
      if (sender === ALICE) {
        return { lost: 7, late: 2, latencyMs: 12.5, protocol: "stream" };
      }
      if (sender === BOB) throw new Error("a provider that breaks");
      return { lost: Number.NaN };
    },
  });
  viewer.publishFrame(jpeg(ALICE));
  viewer.publishFrame({ ...jpeg(BOB), protocol: "rtp" });
  viewer.publishFrame(jpeg("192.0.2.30:1"));
  const [alice, bob, third] = (await stats(viewer)).senders;
  assert.deepEqual(
    [alice?.protocol, alice?.lost, alice?.late, alice?.latencyMs],
    ["stream", 7, 2, 12.5],
  );
  assert.deepEqual([bob?.protocol, bob?.lost, bob?.latencyMs], [
    "rtp",
    null,
    null,
  ]);
  assert.deepEqual([third?.protocol, third?.lost], [null, null]);
});

Deno.test("Viewer marks a silent sender stale and forgets it after forgetAfterMs", async () => {
  await using viewer = new Viewer({ staleAfterMs: 30, forgetAfterMs: 200 });
  viewer.publishFrame(jpeg(ALICE));
  assert.equal(viewer.stats().senders[0]?.stale, false);
  await until(() => viewer.stats().senders[0]?.stale === true, "stale");
  await until(() => viewer.stats().senders.length === 0, "forgotten");
  const gone = await get(viewer, `/latest.jpg?sender=${ALICE}`);
  assert.equal(gone.status, 404);
  await gone.body?.cancel();
});

Deno.test("Viewer outlives a counters callback that throws: /stats answers 500, the sampler goes on", async () => {
  await using viewer = new Viewer({
    counters: () => {
      throw new Error("counters broke");
    },
  });
  viewer.publishFrame(jpeg(ALICE));
  const stats = await get(viewer, "/stats");
  assert.equal(stats.status, 500);
  await stats.body?.cancel();
  const history = await get(viewer, "/history");
  assert.equal(history.status, 200);
  await history.body?.cancel();
});

Deno.test("Viewer /latest.jpg?download=1 names the snapshot after the sender and the time", async () => {
  await using viewer = new Viewer();
  viewer.publishFrame(jpeg(ALICE));
  const response = await get(viewer, `/latest.jpg?sender=${ALICE}&download=1`);
  assert.equal(response.status, 200);
  assert.match(
    response.headers.get("content-disposition")!,
    /^attachment; filename="udpimg-192\.0\.2\.10_40000-\d{8}-\d{6}\.jpg"$/,
  );
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), ROCKET);
  const plain = await get(viewer, "/latest.jpg");
  assert.equal(plain.headers.get("content-disposition"), null);
  await plain.body?.cancel();
  viewer.publishFrame({
    sender: "[::1]:5000",
    bytes: ASTRONAUT,
    format: "png",
  });
  const png = await get(viewer, "/latest?sender=[::1]:5000&download=1");
  assert.match(
    png.headers.get("content-disposition")!,
    /filename="udpimg-__1_5000-\d{8}-\d{6}\.png"$/,
  );
  await png.body?.cancel();
});

// ---------------------------------------------------------------------------
// Access: Host, token, connection cap

/** Sends one raw HTTP/1.1 request and returns the status code and body. */
async function rawRequest(
  port: number,
  path: string,
  headers: string,
): Promise<{ status: number; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\n${headers}Connection: close\r\n\r\n`,
      ),
    );
    const reply = await within(
      5000,
      new Response(conn.readable).text(),
      `reply to ${path}`,
    );
    const status = Number(reply.match(/^HTTP\/1\.1 (\d{3})/)?.[1]);
    return { status, body: reply.slice(reply.indexOf("\r\n\r\n") + 4) };
  } catch (error) {
    conn.close();
    throw error;
  }
}

const ENDPOINTS = [
  "/",
  "/index.html",
  "/stream.mjpg",
  "/wall.mjpg",
  "/latest.jpg",
  "/latest",
  "/stats",
  "/history",
  "/nothing-here",
];

Deno.test("Viewer on loopback refuses a request whose Host is not a loopback address", async () => {
  await using viewer = new Viewer();
  viewer.publishFrame(jpeg(ALICE));
  const { port } = viewer.addr;
  for (const path of ENDPOINTS) {
    const refused = await rawRequest(port, path, "Host: evil.example\r\n");
    assert.equal(refused.status, 403, path);
    assert.match(
      refused.body,
      /^Refused: Host "evil\.example" is not this viewer's address;.*\n$/,
    );
  }
  const rebound = await rawRequest(
    port,
    "/stats",
    `Host: evil.example:${port}\r\n`,
  );
  assert.equal(rebound.status, 403);
  const local = await rawRequest(port, "/stats", `Host: localhost:${port}\r\n`);
  assert.equal(local.status, 200);
});

Deno.test("Viewer with a token refuses every endpoint without it or with a wrong one", async () => {
  await using viewer = new Viewer({ token: "correct-horse-battery" });
  viewer.publishFrame(jpeg(ALICE));
  for (const path of ENDPOINTS) {
    for (
      const init of [
        {},
        {
          headers: {
            cookie: `udpimg_token_${viewer.addr.port}=wrong-horse-battery`,
          },
        },
        { headers: { authorization: "Bearer wrong-horse-battery" } },
      ]
    ) {
      const response = await get(viewer, path, init);
      assert.equal(response.status, 401, `${path} ${JSON.stringify(init)}`);
      assert.match(await response.text(), /^Refused: .*token.*\n$/);
    }
    const wrongQuery = await get(viewer, `${path}?token=wrong-horse-battery`);
    assert.equal(wrongQuery.status, 401, path);
    await wrongQuery.body?.cancel();
  }
  const byHeader = await get(viewer, "/stats", {
    headers: { authorization: "Bearer correct-horse-battery" },
  });
  assert.equal(byHeader.status, 200);
  await byHeader.body?.cancel();
  const stream = await openStream(viewer, "?token=correct-horse-battery");
  try {
    assert.deepEqual((await stream.next()).bytes, ROCKET);
  } finally {
    await stream.close();
  }
});

Deno.test("Viewer token flow: by query, redirected without it with a cookie, then the cookie alone", async () => {
  await using viewer = new Viewer({ token: "correct-horse-battery" });
  assert.equal(viewer.token, "correct-horse-battery");
  assert.equal(viewer.openUrl, `${viewer.url}?token=correct-horse-battery`);
  const first = await get(viewer, "/?token=correct-horse-battery", {
    redirect: "manual",
  });
  assert.equal(first.status, 303);
  assert.equal(first.headers.get("location"), "/");
  const setCookie = first.headers.get("set-cookie")!;
  assert.match(setCookie, /; HttpOnly; SameSite=Strict$/);
  await first.body?.cancel();
  const cookie = setCookie.split(";")[0]!;
  const page = await get(viewer, "/", { headers: { cookie } });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/);
  for (const path of ["/stats", "/history", "/latest", "/nothing-here"]) {
    const response = await get(viewer, path, { headers: { cookie } });
    assert.notEqual(response.status, 401, path);
    await response.body?.cancel();
  }
});

Deno.test("Viewer beyond loopback makes up a token, unless it is told to be open", async () => {
  await using guarded = new Viewer({ hostname: "0.0.0.0" });
  assert.match(guarded.token!, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(guarded.openUrl, `${guarded.url}?token=${guarded.token}`);
  const refused = await get(guarded, "/stats");
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  await using open = new Viewer({ hostname: "0.0.0.0", open: true });
  assert.equal(open.token, undefined);
  assert.equal(open.openUrl, open.url);
  const response = await get(open, "/stats", {
    headers: { host: "camera.example" },
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  await using loopback = new Viewer();
  assert.equal(loopback.token, undefined);
  assert.throws(() => new Viewer({ token: "short" }), TypeError);
  assert.throws(
    () => new Viewer({ token: "correct-horse-battery", open: true }),
    TypeError,
  );
});

Deno.test("Viewer answers 503 past maxConnections, and serves again once one ends", async () => {
  await using viewer = new Viewer({ maxConnections: 2 });
  viewer.publishFrame(jpeg(ALICE));
  const streams = [
    await openStream(viewer),
    await openStream(viewer, "", "/wall.mjpg"),
  ];
  try {
    for (const stream of streams) await stream.nextPart();
    assert.equal(viewer.activeConnections, 2);
    const busy = await get(viewer, "/stats");
    assert.equal(busy.status, 503);
    assert.match(
      await busy.text(),
      /^Busy: the viewer serves at most 2 requests and streams at once;.*\n$/,
    );
    await streams.pop()!.close();
    await until(() => viewer.activeConnections < 2, "a connection to end");
    const served = await get(viewer, "/stats");
    assert.equal(served.status, 200);
    await served.body?.cancel();
  } finally {
    for (const stream of streams) await stream.close();
  }
  assert.throws(() => new Viewer({ maxConnections: 0 }), RangeError);
});
