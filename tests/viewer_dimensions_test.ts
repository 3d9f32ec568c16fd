import assert from "node:assert/strict";
import fc from "fast-check";
import { imageDimensions } from "../lib/viewer/_dimensions.ts";

const rocket = Deno.readFileSync("tests/fixtures/rocket.jpg");
const astronaut = Deno.readFileSync("tests/fixtures/astronaut.png");
const progressive = Deno.readFileSync("tests/fixtures/rtp_progressive.jpg");

Deno.test("imageDimensions reads a JPEG's and a PNG's size from the headers", () => {
  assert.deepEqual(imageDimensions(rocket, "jpeg"), {
    width: 640,
    height: 427,
  });
  assert.deepEqual(imageDimensions(astronaut, "png"), {
    width: 512,
    height: 512,
  });
  const sof2 = imageDimensions(progressive, "jpeg");
  assert.ok(sof2 !== undefined && sof2.width > 0 && sof2.height > 0);
});

Deno.test("imageDimensions is undefined for the wrong format, a header of 0 pixels or a bad segment length", () => {
  assert.equal(imageDimensions(rocket, "png"), undefined);
  assert.equal(imageDimensions(astronaut, "jpeg"), undefined);
  assert.equal(imageDimensions(new Uint8Array(), "jpeg"), undefined);
  assert.equal(imageDimensions(new Uint8Array(), "png"), undefined);
  // SOI, SOF0 saying 0x0 pixels.
  const empty = new Uint8Array([
    0xff,
    0xd8,
    ...[0xff, 0xc0, 0x00, 0x0b, 8, 0, 0, 0, 0, 1, 1, 0x11, 0],
  ]);
  assert.equal(imageDimensions(empty, "jpeg"), undefined);
  // SOI, then an APP0 whose length (0) cannot hold its own length field.
  const zero = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x00, 0xff]);
  assert.equal(imageDimensions(zero, "jpeg"), undefined);
});

Deno.test("imageDimensions reads the size from any prefix that holds the start of frame, and never throws on a shorter one", () => {
  // Invariant: a prefix gives the whole image's size or undefined.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: rocket.length }), (end) => {
      const size = imageDimensions(rocket.subarray(0, end), "jpeg");
      assert.ok(
        size === undefined || (size.width === 640 && size.height === 427),
      );
    }),
  );
  const whole = imageDimensions(rocket.subarray(0, 1024), "jpeg");
  assert.deepEqual(whole, { width: 640, height: 427 });
});

Deno.test("imageDimensions never throws on random or mutated bytes", () => {
  // Invariant: hostile bytes give undefined or a size within the field's range.
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 256 }),
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom("jpeg" as const, "png" as const),
      (noise, at, format) => {
        const base = format === "jpeg" ? rocket : astronaut;
        const mutated = base.slice(0, 512);
        mutated.set(noise.subarray(0, 512 - at), at);
        for (const bytes of [noise, mutated]) {
          const size = imageDimensions(bytes, format);
          assert.ok(size === undefined || (size.width > 0 && size.height > 0));
        }
      },
    ),
  );
});
