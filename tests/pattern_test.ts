import assert from "node:assert/strict";
import fc from "fast-check";
import { Image } from "imagescript";
import { drawTestPattern } from "../lib/image/pattern.ts";
import {
  drawText,
  glyph,
  GLYPH_HEIGHT,
  GLYPH_WIDTH,
  textWidth,
} from "../lib/image/_font.ts";

function isWhite(data: Uint8Array, pixel: number): boolean {
  const i = pixel * 4;
  return data[i] === 255 && data[i + 1] === 255 && data[i + 2] === 255;
}

/** White pixels in rows `[top, bottom)`; only text is pure white. */
function whiteMask(
  data: Uint8Array,
  width: number,
  top: number,
  bottom: number,
): boolean[] {
  const mask: boolean[] = [];
  for (let p = top * width; p < bottom * width; p++) {
    mask.push(isWhite(data, p));
  }
  return mask;
}

Deno.test("drawTestPattern draws an opaque RGBA image of the requested size", () => {
  const image = drawTestPattern(0, { width: 320, height: 200 });
  assert.deepStrictEqual(image.width, 320);
  assert.deepStrictEqual(image.height, 200);
  assert.deepStrictEqual(image.channels, 4);
  assert.deepStrictEqual(image.data.length, 320 * 200 * 4);
  for (let i = 3; i < image.data.length; i += 4) {
    assert.deepStrictEqual(image.data[i], 255);
  }
});

Deno.test("drawTestPattern defaults to 640x480", () => {
  const image = drawTestPattern(1);
  assert.deepStrictEqual([image.width, image.height, image.data.length], [
    640,
    480,
    640 * 480 * 4,
  ]);
});

Deno.test("drawTestPattern gives the same pixels for the same frame", () => {
  const a = drawTestPattern(77, { label: "udpimg demo" });
  const b = drawTestPattern(77, { label: "udpimg demo" });
  assert.deepStrictEqual(a.data, b.data);
});

Deno.test("drawTestPattern gives different pixels for consecutive frames", () => {
  let previous = drawTestPattern(0).data;
  for (let frame = 1; frame <= 400; frame += 1 + (frame % 37)) {
    const current = drawTestPattern(frame).data;
    assert.notDeepStrictEqual(
      current,
      previous,
      `frame ${frame} equals the one before`,
    );
    previous = current;
  }
});

Deno.test("drawTestPattern draws the frame number as white text in the lower band", () => {
  const width = 640, height = 480;
  const top = Math.round(height * 0.66);
  const one = drawTestPattern(111111, { width, height }).data;
  const eight = drawTestPattern(888888, { width, height }).data;
  // Nothing but text is pure white, and the text sits in the band.
  assert.deepStrictEqual(
    whiteMask(one, width, 0, top).filter(Boolean).length,
    0,
  );
  const oneText = whiteMask(one, width, top, height);
  const eightText = whiteMask(eight, width, top, height);
  const count = (mask: boolean[]) => mask.filter(Boolean).length;
  assert.ok(
    count(oneText) > 2000,
    `only ${count(oneText)} white pixels for 111111`,
  );
  // An 8 has more lit font pixels than a 1 (19 against 10).
  assert.ok(count(eightText) > count(oneText) + 1000);
});

Deno.test("drawTestPattern draws the label only when given", () => {
  const width = 640, height = 480;
  const top = Math.round(height * 0.66);
  const plain = drawTestPattern(5, { width, height }).data;
  const labelled =
    drawTestPattern(5, { width, height, label: "udpimg demo" }).data;
  const count = (data: Uint8Array) =>
    whiteMask(data, width, top, height).filter(Boolean).length;
  assert.ok(count(labelled) > count(plain));
});

Deno.test("drawTestPattern draws into a given target", () => {
  const target = new Uint8Array(160 * 120 * 4);
  const image = drawTestPattern(9, { width: 160, height: 120, target });
  assert.ok(image.data === target);
  assert.deepStrictEqual(
    target,
    drawTestPattern(9, { width: 160, height: 120 }).data,
  );
});

Deno.test("drawTestPattern draws into a target that is a view at an aligned offset", () => {
  const memory = new Uint8Array(8 + 32 * 24 * 4);
  const target = memory.subarray(8);
  drawTestPattern(3, { width: 32, height: 24, target });
  assert.deepStrictEqual(
    target,
    drawTestPattern(3, { width: 32, height: 24 }).data,
  );
  assert.deepStrictEqual(memory.subarray(0, 8), new Uint8Array(8));
});

Deno.test("drawTestPattern rejects a bad frame, size or target with a RangeError", () => {
  assert.throws(() => drawTestPattern(-1), RangeError);
  assert.throws(() => drawTestPattern(1.5), RangeError);
  assert.throws(() => drawTestPattern(Number.NaN), RangeError);
  assert.throws(() => drawTestPattern(0, { width: 0 }), RangeError);
  assert.throws(() => drawTestPattern(0, { height: 20000 }), RangeError);
  assert.throws(() => drawTestPattern(0, { width: 10.5 }), RangeError);
  assert.throws(
    () =>
      drawTestPattern(0, { width: 4, height: 4, target: new Uint8Array(63) }),
    { name: "RangeError", message: /expected 64 bytes for 4x4, got 63/ },
  );
  assert.throws(
    () =>
      drawTestPattern(0, {
        width: 4,
        height: 4,
        target: new Uint8Array(68).subarray(2, 66),
      }),
    { name: "RangeError", message: /multiple of 4, got 2/ },
  );
});

Deno.test("drawTestPattern draws any size from 1x1 up, the same way twice", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 120 }),
      fc.integer({ min: 1, max: 120 }),
      fc.integer({ min: 0, max: 10_000_000 }),
      fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
      (width, height, frame, label) => {
        const options = label === undefined
          ? { width, height }
          : { width, height, label };
        const a = drawTestPattern(frame, options);
        assert.deepStrictEqual(a.data.length, width * height * 4);
        for (let i = 3; i < a.data.length; i += 4) {
          assert.deepStrictEqual(a.data[i], 255);
        }
        assert.deepStrictEqual(drawTestPattern(frame, options).data, a.data);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("drawTestPattern output encodes as a JPEG that decodes to the same size", async () => {
  const frame = drawTestPattern(42, {
    width: 640,
    height: 480,
    label: "udpimg demo",
  });
  const image = new Image(frame.width, frame.height);
  image.bitmap.set(frame.data);
  const jpeg = await image.encodeJPEG(90);
  assert.deepStrictEqual([jpeg[0], jpeg[1], jpeg[2]], [0xff, 0xd8, 0xff]);
  const decoded = await Image.decode(jpeg);
  assert.deepStrictEqual([decoded.width, decoded.height], [640, 480]);
});

Deno.test("drawText draws a glyph's bits at scale 1 and blocks at scale 3", () => {
  for (const scale of [1, 3]) {
    const width = GLYPH_WIDTH * scale, height = GLYPH_HEIGHT * scale;
    const canvas = { pixels: new Uint32Array(width * height), width, height };
    drawText(canvas, "4", { x: 0, y: 0, scale, color: 7 });
    const rows = glyph("4");
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bit = ((rows[Math.floor(y / scale)] ?? 0) >>
          (GLYPH_WIDTH - 1 - Math.floor(x / scale))) & 1;
        assert.deepStrictEqual(
          canvas.pixels[y * width + x],
          bit ? 7 : 0,
          `pixel ${x},${y} at scale ${scale}`,
        );
      }
    }
  }
});

Deno.test("drawText clips at the canvas edges", () => {
  const canvas = { pixels: new Uint32Array(6 * 4), width: 6, height: 4 };
  drawText(canvas, "88", { x: -3, y: -2, scale: 2, color: 1 });
  drawText(canvas, "W", { x: 4, y: 3, scale: 5, color: 2 });
  assert.deepStrictEqual(canvas.pixels.length, 24);
  assert.ok(canvas.pixels.some((p) => p === 1));
});

Deno.test("glyph maps lower case to upper case and unknown characters to a question mark", () => {
  assert.deepStrictEqual(glyph("a"), glyph("A"));
  assert.deepStrictEqual(glyph("€"), glyph("?"));
  assert.notDeepStrictEqual(glyph("x"), glyph("X"));
  assert.deepStrictEqual(textWidth("", 4), 0);
  assert.deepStrictEqual(textWidth("123", 2), (3 * 6 - 1) * 2);
});
