import assert from "node:assert/strict";
import { missing } from "./_deps.ts";
import {
  CodecUnavailableError,
  TURBOJPEG_INSTALL_COMMAND,
  TURBOJPEG_LIBRARY_NAMES,
  TurboJpegDecoder,
  TurboJpegEncoder,
} from "../lib/codec/turbojpeg.ts";
import { type DecodedImage, DecodeError } from "../lib/codec/types.ts";

const ignore = missing("turbojpeg");
const rocket = Deno.readFileSync("tests/fixtures/rocket.jpg");
const hubble = Deno.readFileSync("tests/fixtures/hubble_deep_field.jpg");
const frame720 = Deno.readFileSync("bench/frames/photo_1280x720.jpg");
const absent = "/nonexistent/libturbojpeg.so";

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

function sameImage(a: DecodedImage, b: DecodedImage): boolean {
  return a.width === b.width && a.height === b.height &&
    a.channels === b.channels && a.data.length === b.data.length &&
    a.data.every((v, i) => v === b.data[i]);
}

/** Rocket with 98 stray bytes before EOI: libjpeg warns and still decodes. */
function withExtraneousBytes(jpeg: Uint8Array): Uint8Array {
  const out = new Uint8Array(jpeg.length + 98);
  out.set(jpeg.subarray(0, jpeg.length - 2));
  out.fill(0x55, jpeg.length - 2);
  out.set([0xff, 0xd9], out.length - 2);
  return out;
}

Deno.test({
  name:
    "TurboJpegDecoder decodes RGBA with opaque alpha and RGB with the same colours",
  ignore,
  async fn() {
    const rgba = new TurboJpegDecoder();
    const rgb = new TurboJpegDecoder({ channels: 3 });
    try {
      const a = await rgba.decode(rocket, "jpeg");
      const b = await rgb.decode(rocket, "jpeg");
      assert.deepEqual([a.width, a.height, a.channels], [640, 427, 4]);
      assert.deepEqual([b.width, b.height, b.channels], [640, 427, 3]);
      assert.equal(a.data.length, 640 * 427 * 4);
      assert.equal(b.data.length, 640 * 427 * 3);
      for (let p = 0; p < 640 * 427; p++) {
        assert.equal(a.data[p * 4 + 3], 255);
        for (let c = 0; c < 3; c++) {
          if (a.data[p * 4 + c] !== b.data[p * 3 + c]) {
            assert.fail(`pixel ${p} channel ${c} differs`);
          }
        }
      }
    } finally {
      rgba.close();
      rgb.close();
    }
  },
});

Deno.test({
  name:
    "TurboJpegDecoder gives correct results for 8 concurrent decodes on 2 handles",
  ignore,
  async fn() {
    const decoder = new TurboJpegDecoder({ concurrency: 2 });
    try {
      const sources = [rocket, hubble, frame720, rocket];
      const expected: DecodedImage[] = [];
      for (const source of sources) {
        expected.push(await decoder.decode(source, "jpeg"));
      }
      const results = await Promise.all(
        Array.from(
          { length: 8 },
          (_, i) => decoder.decode(sources[i % 4]!, "jpeg"),
        ),
      );
      results.forEach((image, i) => {
        assert.ok(sameImage(image, expected[i % 4]!), `decode ${i} differs`);
      });
      // Each result owns its pixels.
      assert.notEqual(results[0]!.data.buffer, results[4]!.data.buffer);
    } finally {
      decoder.close();
    }
  },
});

Deno.test({
  name: "TurboJpegDecoder decodes into recycled pixel memory of the same size",
  ignore,
  async fn() {
    const decoder = new TurboJpegDecoder();
    try {
      const first = await decoder.decode(rocket, "jpeg");
      const expected = first.data.slice();
      first.data.fill(7);
      decoder.recycle(first);
      decoder.recycle(first); // a second hand-back is ignored
      const other = await decoder.decode(frame720, "jpeg");
      assert.notEqual(other.data.buffer, first.data.buffer);
      const second = await decoder.decode(rocket, "jpeg");
      assert.equal(second.data.buffer, first.data.buffer);
      assert.deepEqual(second.data, expected);
      const third = await decoder.decode(rocket, "jpeg");
      assert.notEqual(third.data.buffer, first.data.buffer);
      // Views into larger memory are not taken.
      decoder.recycle({ ...third, data: new Uint8Array(10).subarray(2) });
    } finally {
      decoder.close();
    }
  },
});

Deno.test({
  name:
    "TurboJpegDecoder lets the caller reuse the input buffer once decode returns",
  ignore,
  async fn() {
    const decoder = new TurboJpegDecoder({ concurrency: 1 });
    try {
      const expected = await decoder.decode(rocket, "jpeg");
      // The second call waits for the pool; the third has a free handle.
      const first = rocket.slice();
      const second = rocket.slice();
      const p1 = decoder.decode(first, "jpeg");
      const p2 = decoder.decode(second, "jpeg");
      first.fill(0);
      second.fill(0);
      const [a, b] = await Promise.all([p1, p2]);
      assert.ok(sameImage(a, expected));
      assert.ok(sameImage(b, expected));
    } finally {
      decoder.close();
    }
  },
});

Deno.test({
  name:
    "TurboJpegDecoder on the main thread decodes and fails like the background one",
  ignore,
  async fn() {
    const background = new TurboJpegDecoder();
    const main = new TurboJpegDecoder({ background: false, strict: true });
    try {
      for (const source of [rocket, frame720]) {
        assert.ok(
          sameImage(
            await main.decode(source, "jpeg"),
            await background.decode(source, "jpeg"),
          ),
        );
      }
      const err = await rejection(
        () => main.decode(rocket.subarray(0, 50000), "jpeg"),
        DecodeError,
      );
      assert.equal(
        err.message,
        "Cannot decode JPEG: premature end of JPEG file",
      );
      assert.ok(err.truncated);
      const strictErr = await rejection(
        () => main.decode(withExtraneousBytes(rocket), "jpeg"),
        DecodeError,
      );
      assert.match(strictErr.message, /extraneous bytes before marker 0xd9$/);
    } finally {
      background.close();
      main.close();
    }
  },
});

Deno.test({
  name:
    "TurboJpegDecoder accepts recoverable damage by default and rejects it when strict",
  ignore,
  async fn() {
    const damaged = withExtraneousBytes(rocket);
    const lenient = new TurboJpegDecoder();
    const strict = new TurboJpegDecoder({ strict: true });
    try {
      const image = await lenient.decode(damaged, "jpeg");
      assert.deepEqual([image.width, image.height], [640, 427]);
      const err = await rejection(
        () => strict.decode(damaged, "jpeg"),
        DecodeError,
      );
      assert.match(err.message, /^Cannot decode JPEG: corrupt JPEG data/);
      assert.equal(err.truncated, false);
      // The handle that failed still decodes.
      const again = await strict.decode(rocket, "jpeg");
      assert.deepEqual([again.width, again.height], [640, 427]);
    } finally {
      lenient.close();
      strict.close();
    }
  },
});

Deno.test({
  name: "TurboJpegDecoder keeps decoding after a header it could not parse",
  ignore,
  async fn() {
    const decoder = new TurboJpegDecoder({ concurrency: 1 });
    try {
      const truncated = Deno.readFileSync("tests/fixtures/truncated.jpg");
      await rejection(() => decoder.decode(truncated, "jpeg"), DecodeError);
      const image = await decoder.decode(rocket, "jpeg");
      assert.deepEqual([image.width, image.height], [640, 427]);
    } finally {
      decoder.close();
    }
  },
});

Deno.test({
  name: "TurboJpegDecoder rejects an image over the maxPixels budget",
  ignore,
  async fn() {
    const decoder = new TurboJpegDecoder({ maxPixels: 640 * 426 });
    try {
      const err = await rejection(
        () => decoder.decode(rocket, "jpeg"),
        DecodeError,
      );
      assert.equal(
        err.message,
        "Cannot decode JPEG: 640x427 exceeds the limit of 272640 pixels",
      );
    } finally {
      decoder.close();
    }
  },
});

Deno.test({
  name:
    "TurboJpegDecoder finishes a running decode after close and rejects later ones",
  ignore,
  async fn() {
    const decoder = new TurboJpegDecoder();
    const running = decoder.decode(rocket, "jpeg");
    decoder.close();
    const image = await running;
    assert.equal(image.width, 640);
    await rejection(() => decoder.decode(rocket, "jpeg"), TypeError);
  },
});

Deno.test({
  name: "TurboJpegDecoder reports the libjpeg-turbo version",
  ignore: ignore || Deno.build.os !== "linux",
  fn() {
    const decoder = new TurboJpegDecoder();
    try {
      assert.match(decoder.version ?? "", /^\d+\.\d+\.\d+$/);
    } finally {
      decoder.close();
    }
  },
});

Deno.test("TurboJpegDecoder and TurboJpegEncoder throw CodecUnavailableError for a missing library", () => {
  for (
    const create of [
      () => new TurboJpegDecoder({ libraryPath: absent }),
      () => new TurboJpegEncoder({ libraryPath: absent }),
    ]
  ) {
    assert.throws(create, (err: unknown) => {
      assert.ok(err instanceof CodecUnavailableError);
      assert.equal(err.name, "CodecUnavailableError");
      assert.deepEqual(err.tried, [absent]);
      assert.ok(!err.message.includes("\n"));
      assert.equal(
        err.message,
        `Cannot load libturbojpeg (tried ${absent}): install it with ${TURBOJPEG_INSTALL_COMMAND}`,
      );
      return true;
    });
  }
  if (Deno.build.os === "linux") {
    assert.deepEqual(TURBOJPEG_LIBRARY_NAMES, [
      "libturbojpeg.so.0",
      "libturbojpeg.so",
    ]);
    assert.equal(TURBOJPEG_INSTALL_COMMAND, "apt-get install libturbojpeg0");
  }
});

Deno.test({
  name: "TurboJpegEncoder gives the same JPEG from RGB and RGBA pixels",
  ignore,
  async fn() {
    const rgba = new TurboJpegDecoder();
    const rgb = new TurboJpegDecoder({ channels: 3 });
    const encoder = new TurboJpegEncoder();
    try {
      const a = await encoder.encode(await rgba.decode(rocket, "jpeg"), {
        format: "jpeg",
      });
      const b = await encoder.encode(await rgb.decode(rocket, "jpeg"), {
        format: "jpeg",
      });
      assert.deepEqual(a, b);
      assert.deepEqual([...a.subarray(0, 3)], [0xff, 0xd8, 0xff]);
      assert.deepEqual([...a.subarray(-2)], [0xff, 0xd9]);
    } finally {
      rgba.close();
      rgb.close();
      encoder.close();
    }
  },
});

Deno.test({
  name:
    "TurboJpegEncoder encodes each waiting image from its own pixels when calls outnumber handles",
  ignore,
  async fn() {
    const decoder = new TurboJpegDecoder({ channels: 3 });
    const encoder = new TurboJpegEncoder({ concurrency: 1 });
    try {
      const image = await decoder.decode(frame720, "jpeg");
      const images = [0, 60, 120].map((shift) => ({
        ...image,
        data: image.data.map((value) => (value + shift) & 0xff),
      }));
      const expected = [];
      for (const each of images) {
        expected.push(await encoder.encode(each, { format: "jpeg" }));
      }
      const together = await Promise.all(
        images.map((each) => encoder.encode(each, { format: "jpeg" })),
      );
      assert.deepEqual(together, expected);
      assert.notDeepEqual(expected[0], expected[1]);
    } finally {
      decoder.close();
      encoder.close();
    }
  },
});

Deno.test({
  name: "TurboJpegEncoder makes smaller files at lower quality",
  ignore,
  async fn() {
    const decoder = new TurboJpegDecoder();
    const encoder = new TurboJpegEncoder();
    try {
      const image = await decoder.decode(rocket, "jpeg");
      const sizes = [];
      for (const quality of [30, 60, 90]) {
        sizes.push(
          (await encoder.encode(image, { format: "jpeg", quality }))
            .length,
        );
      }
      assert.ok(sizes[0]! < sizes[1]! && sizes[1]! < sizes[2]!, `${sizes}`);
    } finally {
      decoder.close();
      encoder.close();
    }
  },
});

Deno.test({
  name: "TurboJpegEncoder rejects misuse with TypeError or RangeError",
  ignore,
  async fn() {
    const encoder = new TurboJpegEncoder();
    try {
      const data = new Uint8Array(4 * 4 * 3);
      const image = { width: 4, height: 4, channels: 3 as const, data };
      await rejection(
        () => encoder.encode(image, { format: "png" }),
        TypeError,
      );
      for (const quality of [0, 101, 1.5]) {
        await rejection(
          () => encoder.encode(image, { format: "jpeg", quality }),
          RangeError,
        );
      }
      const err = await rejection(
        () => encoder.encode({ ...image, width: 5 }, { format: "jpeg" }),
        RangeError,
      );
      assert.equal(
        err.message,
        "Cannot encode a 5x4x3 image: expected 60 bytes, got 48",
      );
    } finally {
      encoder.close();
    }
    await rejection(
      () =>
        encoder.encode({
          width: 1,
          height: 1,
          channels: 3,
          data: new Uint8Array(3),
        }, { format: "jpeg" }),
      TypeError,
    );
  },
});
