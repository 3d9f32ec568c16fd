/**
 * PNG to JPEG for the viewer, from any decoder and encoder, and a
 * transcoder that makes its own codecs on first use.
 *
 * @module
 */

import { createDecoder, createEncoder } from "../codec/select.ts";
import type {
  ImageDecoder,
  ImageEncoder,
  ImageFormat,
} from "../codec/types.ts";

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

/** A transcoder with codecs of its own; see {@linkcode lazyTranscoder}. */
export interface LazyTranscoder<F extends ImageFormat> extends AsyncDisposable {
  /**
   * Transcodes a frame; the first call makes the codecs. Rejects once
   * {@linkcode LazyTranscoder.close} has been called.
   */
  readonly transcode: (bytes: Uint8Array, format: F) => Promise<Uint8Array>;
  /** Closes the codecs, if they were made; it never rejects. */
  close(): Promise<void>;
}

/**
 * Makes a transcoder whose decoder and encoder (`auto`: native where it
 * runs, else imagescript) are made at its first frame, so that a server
 * that never sees a frame to transcode loads no codec.
 *
 * @param make Builds the transcoder from the codecs, such as
 * {@linkcode pngToJpeg}.
 * @returns The transcoder, and a `close` for its codecs.
 *
 * @example PNG to JPEG on demand
 * ```ts
 * import { lazyTranscoder, pngToJpeg } from "./transcode.ts";
 * await using png = lazyTranscoder(pngToJpeg);
 * const jpeg = await png.transcode(await Deno.readFile("tests/fixtures/astronaut.png"), "png");
 * console.log(jpeg[0] === 0xff && jpeg[1] === 0xd8); // true
 * ```
 */
export function lazyTranscoder<F extends ImageFormat>(
  make: (
    decoder: ImageDecoder,
    encoder: ImageEncoder,
  ) => (bytes: Uint8Array, format: F) => Promise<Uint8Array>,
): LazyTranscoder<F> {
  let codecs:
    | Promise<{
      decoder: ImageDecoder;
      encoder: ImageEncoder;
      transcode: (bytes: Uint8Array, format: F) => Promise<Uint8Array>;
    }>
    | undefined;
  let closed = false;
  const close = async () => {
    closed = true;
    const own = await codecs?.catch(() => undefined);
    own?.decoder.close();
    own?.encoder.close();
  };
  return {
    async transcode(bytes, format) {
      if (closed) {
        throw new TypeError("Cannot transcode: the transcoder is closed");
      }
      codecs ??= Promise.all([createDecoder("auto"), createEncoder("auto")])
        .then(([{ decoder }, { encoder }]) => {
          try {
            if (decoder === undefined) {
              throw new Error(
                "Cannot transcode: no image decoder can run here",
              );
            }
            return { decoder, encoder, transcode: make(decoder, encoder) };
          } catch (error) {
            decoder?.close();
            encoder.close();
            throw error;
          }
        });
      return await (await codecs).transcode(bytes, format);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
