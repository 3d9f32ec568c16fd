/**
 * PNG to JPEG for the viewer, from any decoder and encoder.
 *
 * @module
 */

import type { ImageDecoder, ImageEncoder } from "../codec/types.ts";

/** Options for {@linkcode pngToJpeg}. */
export interface PngToJpegOptions {
  /**
   * JPEG quality, 1 to 100.
   *
   * @default {85}
   */
  quality?: number;
}

/**
 * Makes the `transcode` option of the viewer from a decoder that
 * reads PNG and an encoder that writes JPEG, so that PNG frames reach the
 * browser as JPEG: smaller, and faster to show in an MJPEG stream.
 *
 * @param decoder Decodes PNG.
 * @param encoder Encodes JPEG.
 * @param options JPEG quality.
 * @returns A function from PNG bytes to JPEG bytes.
 *
 * @example With the project's codecs
 * ```ts
 * import { createDecoder, createEncoder } from "../codec/mod.ts";
 * import { pngToJpeg } from "./transcode.ts";
 * const { decoder } = await createDecoder("auto");
 * const { encoder } = await createEncoder("auto");
 * const transcode = pngToJpeg(decoder!, encoder, { quality: 80 });
 * const png = await Deno.readFile("tests/fixtures/astronaut.png");
 * const jpeg = await transcode(png, "png");
 * console.log(jpeg[0] === 0xff && jpeg[1] === 0xd8); // true
 * decoder?.close();
 * encoder.close();
 * ```
 */
export function pngToJpeg(
  decoder: ImageDecoder,
  encoder: ImageEncoder,
  options: PngToJpegOptions = {},
): (bytes: Uint8Array, format: "png") => Promise<Uint8Array> {
  const { quality = 85 } = options;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new RangeError(
      `Cannot make transcoder: quality must be an integer from 1 to 100, got ${quality}`,
    );
  }
  return async (bytes, format) => {
    const image = await decoder.decode(bytes, format);
    return await encoder.encode(image, { format: "jpeg", quality });
  };
}
