import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkSize,
  inspectJpeg,
  inspectPng,
  resolveLimits,
} from "../lib/codec/_inspect.ts";
import { DecodeError } from "../lib/codec/types.ts";

const rocket = Deno.readFileSync("tests/fixtures/rocket.jpg");
const astronaut = Deno.readFileSync("tests/fixtures/astronaut.png");
const frame = Deno.readFileSync("bench/frames/photo_640x480.jpg");

Deno.test("inspectJpeg reads the size and finds the end of a whole JPEG", () => {
  assert.deepEqual(inspectJpeg(rocket), {
    width: 640,
    height: 427,
    complete: true,
  });
  assert.deepEqual(inspectJpeg(frame), {
    width: 640,
    height: 480,
    complete: true,
  });
});

Deno.test("inspectJpeg says every strict prefix of a JPEG is incomplete", () => {
  // Invariant: only the whole image reaches EOI; no prefix throws.
  fc.assert(
    fc.property(fc.integer({ min: 2, max: rocket.length - 1 }), (end) => {
      assert.equal(inspectJpeg(rocket.subarray(0, end)).complete, false);
    }),
  );
});

Deno.test("inspectJpeg accepts padding after EOI", () => {
  const padded = new Uint8Array(rocket.length + 16);
  padded.set(rocket);
  assert.equal(inspectJpeg(padded).complete, true);
});

Deno.test("inspectJpeg throws a DecodeError for bytes that are not JPEG", () => {
  assert.throws(() => inspectJpeg(astronaut), DecodeError);
  assert.throws(
    () => inspectJpeg(new Uint8Array([0xff, 0xd8, 0xff, 0x85, 0, 4])),
    { message: "Cannot decode JPEG: unexpected marker 0x85 at byte 2" },
  );
  assert.throws(
    () => inspectJpeg(new Uint8Array([0xff, 0xd8, 0xff, 0xd9])),
    DecodeError,
  );
});

Deno.test("inspectPng reads the size and says every strict prefix is incomplete", () => {
  assert.deepEqual(inspectPng(astronaut), {
    width: 512,
    height: 512,
    complete: true,
  });
  fc.assert(
    fc.property(fc.integer({ min: 8, max: astronaut.length - 1 }), (end) => {
      assert.equal(inspectPng(astronaut.subarray(0, end)).complete, false);
    }),
  );
});

Deno.test("checkSize rejects empty and oversized images and accepts the rest", () => {
  const limits = resolveLimits({ maxDimension: 4096, maxPixels: 10_000_000 });
  checkSize("jpeg", 4096, 2048, limits);
  assert.throws(() => checkSize("jpeg", 0, 10, limits), {
    message: "Cannot decode JPEG: header says 0x10 pixels",
  });
  assert.throws(() => checkSize("png", 4097, 1, limits), {
    message:
      "Cannot decode PNG: 4097x1 exceeds the limit of 4096 pixels per side",
  });
  assert.throws(() => checkSize("jpeg", 4096, 4096, limits), {
    message:
      "Cannot decode JPEG: 4096x4096 exceeds the limit of 10000000 pixels",
  });
  assert.throws(() => resolveLimits({ maxDimension: -1 }), RangeError);
});
