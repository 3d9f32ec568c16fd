/**
 * Turning any frame into a JPEG that RTP/JPEG (RFC 2435) can carry:
 * baseline, 4:2:0, the standard Huffman tables, at most 2040 pixels a
 * side. PNG frames, progressive or 4:4:4 JPEGs and JPEGs with optimized
 * Huffman tables are decoded and encoded again; a frame larger than 2040
 * pixels is first shrunk by the smallest whole factor that fits.
 *
 * @module
 */

import type {
  ImageDecoder,
  ImageEncoder,
  ImageFormat,
} from "../codec/types.ts";
import { shrinkFactor, shrinkImage } from "../image/scale.ts";
import { MAX_DIMENSION } from "../rtp/payload_header.ts";

/** Options for {@linkcode rtpJpegTranscoder}. */
export interface RtpJpegTranscoderOptions {
  /** JPEG quality, 1 to 100. @default {85} */
  quality?: number;
}

/** A transcoder: any frame in, a JPEG RTP/JPEG can carry out. */
export type Transcode = (
  bytes: Uint8Array,
  format: ImageFormat,
) => Promise<Uint8Array>;

/**
 * Makes a transcoder from a decoder and an encoder. The encoder must
 * write baseline 4:2:0 JPEG with the standard tables, as the native
 * (libjpeg-turbo) one does.
 *
 * @param decoder Decodes JPEG and PNG.
 * @param encoder Encodes JPEG.
 * @param options Quality.
 * @returns The transcoder.
 *
 * @example A PNG frame for RTSP
 * ```ts
 * import { createDecoder, createEncoder } from "../codec/mod.ts";
 * import { parseJpeg } from "../rtp/jpeg.ts";
 * import { rtpJpegTranscoder } from "./transcode.ts";
 * const { decoder } = await createDecoder("auto");
 * const { encoder } = await createEncoder("auto");
 * const transcode = rtpJpegTranscoder(decoder!, encoder);
 * const png = await Deno.readFile("tests/fixtures/astronaut.png");
 * const jpeg = parseJpeg(await transcode(png, "png"));
 * console.log(jpeg.width, jpeg.height); // 512 512
 * decoder?.close();
 * encoder.close();
 * ```
 */
export function rtpJpegTranscoder(
  decoder: ImageDecoder,
  encoder: ImageEncoder,
  options: RtpJpegTranscoderOptions = {},
): Transcode {
  const { quality = 85 } = options;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new RangeError(
      `Cannot make a transcoder: quality must be an integer from 1 to 100, got ${quality}`,
    );
  }
  return async (bytes, format) => {
    const image = await decoder.decode(bytes, format);
    const factor = shrinkFactor(image.width, image.height, MAX_DIMENSION);
    return await encoder.encode(shrinkImage(image, factor), {
      format: "jpeg",
      quality,
    });
  };
}
