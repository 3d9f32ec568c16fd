/**
 * Reads an encoded image's width and height from its headers, without
 * decoding it: the codecs' header walk ({@linkcode inspectImage}), with
 * `undefined` for what it cannot read.
 *
 * @module
 */

import { inspectImage } from "../codec/_inspect.ts";
import { DecodeError, type ImageFormat } from "../codec/types.ts";

/** Width and height in pixels. */
export interface Dimensions {
  width: number;
  height: number;
}

/**
 * The dimensions written in a JPEG's start-of-frame segment or a PNG's IHDR
 * chunk.
 *
 * @param bytes An encoded image, or at least its headers.
 * @param format Its format.
 * @returns The dimensions, or `undefined` when the headers are not readable
 * or say 0 pixels.
 *
 * @example A PNG's size
 * ```ts
 * import { imageDimensions } from "./_dimensions.ts";
 * const png = await Deno.readFile("tests/fixtures/astronaut.png");
 * console.log(imageDimensions(png, "png")); // { width: 512, height: 512 }
 * console.log(imageDimensions(png, "jpeg")); // undefined
 * ```
 */
export function imageDimensions(
  bytes: Uint8Array,
  format: ImageFormat,
): Dimensions | undefined {
  let width, height;
  try {
    ({ width, height } = inspectImage(bytes, format));
  } catch (error) {
    if (error instanceof DecodeError) return undefined;
    throw error;
  }
  return width > 0 && height > 0 ? { width, height } : undefined;
}
