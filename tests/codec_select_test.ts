import assert from "node:assert/strict";
import { missing } from "./_deps.ts";
import {
  CodecUnavailableError,
  CompositeDecoder,
  createDecoder,
  createEncoder,
  type DecoderMode,
  type EncoderMode,
  ImagescriptDecoder,
  TURBOJPEG_INSTALL_COMMAND,
} from "../lib/codec/mod.ts";

const noNative = missing("turbojpeg");
const absent = "/nonexistent/libturbojpeg.so";
const rocket = Deno.readFileSync("tests/fixtures/rocket.jpg");
const astronaut = Deno.readFileSync("tests/fixtures/astronaut.png");

Deno.test({
  name:
    "createDecoder auto uses native for JPEG and imagescript for PNG when the library loads",
  ignore: noNative,
  async fn() {
    const { decoder, reason } = await createDecoder("auto");
    try {
      assert.ok(decoder !== undefined);
      assert.equal(decoder.name, "native+imagescript");
      assert.match(
        reason,
        /^decoder: native libjpeg-turbo( \d+\.\d+\.\d+)? for JPEG, imagescript for PNG$/,
      );
      assert.equal((await decoder.decode(rocket, "jpeg")).width, 640);
      assert.equal((await decoder.decode(astronaut, "png")).width, 512);
    } finally {
      decoder?.close();
    }
  },
});

Deno.test("createDecoder auto falls back to imagescript when the library path is wrong", async () => {
  const { decoder, reason } = await createDecoder("auto", {
    libraryPath: absent,
  });
  try {
    assert.ok(decoder !== undefined);
    assert.equal(decoder.name, "imagescript");
    assert.equal(
      reason,
      `decoder: imagescript for JPEG and PNG (libturbojpeg not found: ${TURBOJPEG_INSTALL_COMMAND})`,
    );
    assert.equal((await decoder.decode(rocket, "jpeg")).width, 640);
  } finally {
    decoder?.close();
  }
});

Deno.test("createDecoder native rejects with CodecUnavailableError when the library path is wrong", async () => {
  await assert.rejects(
    () => createDecoder("native", { libraryPath: absent }),
    CodecUnavailableError,
  );
});

Deno.test("createDecoder imagescript and none need no native library", async () => {
  const imagescript = await createDecoder("imagescript", {
    libraryPath: absent,
  });
  assert.equal(imagescript.decoder?.name, "imagescript");
  assert.equal(imagescript.reason, "decoder: imagescript for JPEG and PNG");
  imagescript.decoder?.close();
  const none = await createDecoder("none");
  assert.equal(none.decoder, undefined);
  assert.equal(none.reason, "decoder: none (images are not decoded)");
});

Deno.test("createDecoder passes channels and limits to the decoders it makes", async () => {
  const { decoder } = await createDecoder("imagescript", {
    channels: 3,
    maxPixels: 1000,
  });
  try {
    await assert.rejects(
      () => decoder!.decode(rocket, "jpeg"),
      /exceeds the limit of 1000 pixels/,
    );
  } finally {
    decoder?.close();
  }
  const rgb = await createDecoder("auto", { channels: 3 });
  try {
    assert.equal((await rgb.decoder!.decode(astronaut, "png")).channels, 3);
  } finally {
    rgb.decoder?.close();
  }
});

Deno.test("createDecoder and createEncoder reject an unknown mode with a TypeError", async () => {
  await assert.rejects(
    () => createDecoder("fast" as DecoderMode),
    {
      name: "TypeError",
      message:
        'Cannot use decoder mode "fast": expected one of auto, native, imagescript, none',
    },
  );
  await assert.rejects(
    () => createEncoder("none" as EncoderMode),
    TypeError,
  );
});

Deno.test({
  name: "createEncoder auto encodes JPEG natively and PNG with imagescript",
  ignore: noNative,
  async fn() {
    const { encoder, reason } = await createEncoder("auto");
    try {
      assert.match(
        reason,
        /^encoder: native libjpeg-turbo.* for JPEG, imagescript for PNG$/,
      );
      const image = {
        width: 4,
        height: 4,
        channels: 3 as const,
        data: new Uint8Array(48).fill(128),
      };
      const jpeg = await encoder.encode(image, { format: "jpeg" });
      const png = await encoder.encode(image, { format: "png" });
      assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8]);
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    } finally {
      encoder.close();
    }
  },
});

Deno.test("createEncoder auto falls back to imagescript and native fails when the library path is wrong", async () => {
  const { encoder, reason } = await createEncoder("auto", {
    libraryPath: absent,
  });
  assert.equal(encoder.name, "imagescript");
  assert.match(
    reason,
    /^encoder: imagescript for JPEG and PNG \(libturbojpeg not found/,
  );
  encoder.close();
  await assert.rejects(
    () => createEncoder("native", { libraryPath: absent }),
    CodecUnavailableError,
  );
});

Deno.test("CompositeDecoder rejects a format with no route with a TypeError", async () => {
  const decoder = new CompositeDecoder({ png: new ImagescriptDecoder() });
  assert.equal(decoder.supports("jpeg"), false);
  await assert.rejects(() => decoder.decode(rocket, "jpeg"), TypeError);
  decoder.close();
});
