import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ImagescriptDecoder,
  ImagescriptEncoder,
  loadImagescript,
} from "../lib/codec/imagescript.ts";
import { DecodeError } from "../lib/codec/types.ts";

const astronaut = Deno.readFileSync("tests/fixtures/astronaut.png");
const rocket = Deno.readFileSync("tests/fixtures/rocket.jpg");

async function rejection<E extends Error>(
  fn: () => Promise<unknown>,
  type: new (...args: never[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof type, `expected ${type.name}, got ${err}`);
    return err;
  }
  assert.fail(`expected ${type.name}, but it resolved`);
}

/** A copy of a PNG whose IHDR says `width` x `height` (the CRC is left stale). */
function withPngSize(png: Uint8Array, width: number, height: number) {
  const out = png.slice();
  const view = new DataView(out.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  return out;
}

Deno.test("ImagescriptDecoder decodes PNG and JPEG to RGBA, and to RGB when asked", async () => {
  const rgba = new ImagescriptDecoder();
  const rgb = new ImagescriptDecoder({ channels: 3 });
  const png = await rgba.decode(astronaut, "png");
  assert.deepEqual([png.width, png.height, png.channels], [512, 512, 4]);
  assert.equal(png.data.length, 512 * 512 * 4);
  const jpeg = await rgb.decode(rocket, "jpeg");
  assert.deepEqual([jpeg.width, jpeg.height, jpeg.channels], [640, 427, 3]);
  const jpegRgba = await rgba.decode(rocket, "jpeg");
  for (let p = 0; p < 640 * 427; p += 997) {
    for (let c = 0; c < 3; c++) {
      assert.equal(jpeg.data[p * 3 + c], jpegRgba.data[p * 4 + c]);
    }
  }
});

Deno.test("ImagescriptEncoder PNG round trip is lossless for RGB and RGBA", async () => {
  const decoder = new ImagescriptDecoder();
  const encoder = new ImagescriptEncoder();
  const original = await decoder.decode(astronaut, "png");
  const png = await encoder.encode(original, { format: "png" });
  const back = await decoder.decode(png, "png");
  assert.deepEqual(back.data, original.data);

  const data = new Uint8Array(7 * 5 * 3).map((_, i) => (i * 37) % 256);
  const rgbPng = await encoder.encode({
    width: 7,
    height: 5,
    channels: 3,
    data,
  }, {
    format: "png",
  });
  const rgbBack = await new ImagescriptDecoder({ channels: 3 }).decode(
    rgbPng,
    "png",
  );
  assert.deepEqual(rgbBack.data, data);
});

Deno.test("ImagescriptDecoder flags a cut PNG as truncated", async () => {
  const decoder = new ImagescriptDecoder();
  for (const length of [40, astronaut.length / 2, astronaut.length - 1]) {
    const err = await rejection(
      () => decoder.decode(astronaut.subarray(0, length), "png"),
      DecodeError,
    );
    assert.ok(err.truncated, err.message);
  }
});

Deno.test("ImagescriptDecoder rejects a PNG header of 100000x100000 pixels", async () => {
  const decoder = new ImagescriptDecoder();
  const err = await rejection(
    () => decoder.decode(withPngSize(astronaut, 100000, 100000), "png"),
    DecodeError,
  );
  assert.equal(
    err.message,
    "Cannot decode PNG: 100000x100000 exceeds the limit of 16384 pixels per side",
  );
});

Deno.test("ImagescriptDecoder reports a PNG with a broken zlib stream as a DecodeError", async () => {
  const decoder = new ImagescriptDecoder();
  const damaged = astronaut.slice();
  const idat = new TextDecoder("latin1").decode(damaged).indexOf("IDAT");
  assert.ok(idat > 0);
  damaged.fill(0xff, idat + 4, idat + 4 + 64);
  const err = await rejection(
    () => decoder.decode(damaged, "png"),
    DecodeError,
  );
  assert.equal(err.truncated, false);
  assert.equal(err.message, "Cannot decode PNG: the data is corrupt");
});

Deno.test("ImagescriptDecoder survives random damage inside a valid PNG", async () => {
  // Invariant: a 512x512 image (imagescript skips CRCs) or a DecodeError.
  const decoder = new ImagescriptDecoder();
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 8, max: astronaut.length - 1 }),
      fc.uint8Array({ minLength: 1, maxLength: 32 }),
      async (at, damage) => {
        const damaged = astronaut.slice();
        damaged.set(damage.subarray(0, damaged.length - at), at);
        try {
          const image = await decoder.decode(damaged, "png");
          assert.ok(image.width * image.height <= 40_000_000);
        } catch (err) {
          assert.ok(err instanceof DecodeError, String(err));
        }
      },
    ),
    { numRuns: 10 },
  );
});

Deno.test("ImagescriptDecoder lets the caller reuse the input buffer once decode returns", async () => {
  const decoder = new ImagescriptDecoder();
  const expected = await decoder.decode(rocket, "jpeg");
  const bytes = rocket.slice();
  const pending = decoder.decode(bytes, "jpeg");
  bytes.fill(0);
  assert.deepEqual((await pending).data, expected.data);
});

Deno.test("ImagescriptEncoder lets the caller reuse the pixels once encode returns", async () => {
  await loadImagescript();
  const encoder = new ImagescriptEncoder();
  const data = new Uint8Array(8 * 8 * 4).fill(90);
  const image = { width: 8, height: 8, channels: 4 as const, data };
  const expected = await encoder.encode(image, { format: "png" });
  const pending = encoder.encode({ ...image, data: data.slice() }, {
    format: "png",
  });
  data.fill(0);
  assert.deepEqual(await pending, expected);
});

Deno.test("ImagescriptEncoder rejects misuse with TypeError or RangeError", async () => {
  const encoder = new ImagescriptEncoder();
  const image = {
    width: 2,
    height: 2,
    channels: 3 as const,
    data: new Uint8Array(12),
  };
  await rejection(
    () => encoder.encode(image, { format: "gif" as "png" }),
    TypeError,
  );
  await rejection(
    () => encoder.encode(image, { format: "jpeg", quality: 0 }),
    RangeError,
  );
  await rejection(
    () => encoder.encode({ ...image, height: 3 }, { format: "jpeg" }),
    RangeError,
  );
  assert.throws(
    () => new ImagescriptEncoder({ pngCompression: 10 }),
    RangeError,
  );
  assert.throws(() => new ImagescriptDecoder({ maxPixels: 0 }), RangeError);
});
