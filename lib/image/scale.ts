/**
 * Shrinking decoded pixels by a whole factor, averaging each square of
 * pixels into one (a box filter): what a picture too large for a format
 * needs, at a cost of one pass over the pixels.
 *
 * @module
 */

import type { DecodedImage } from "../codec/types.ts";

/**
 * The smallest whole factor that brings both sides to at most `max`.
 *
 * @param width The width in pixels.
 * @param height The height in pixels.
 * @param max The largest side allowed.
 * @returns 1 when the image already fits.
 *
 * @example A 4K frame for RTP/JPEG's 2040-pixel limit
 * ```ts
 * import { shrinkFactor } from "./scale.ts";
 * console.log(shrinkFactor(3840, 2160, 2040)); // 2
 * ```
 */
export function shrinkFactor(
  width: number,
  height: number,
  max: number,
): number {
  if (!(max >= 1)) {
    throw new RangeError(
      `Cannot shrink to a side of ${max}: it must be at least 1`,
    );
  }
  return Math.max(1, Math.ceil(width / max), Math.ceil(height / max));
}

/**
 * Shrinks an image by a whole factor: each `factor`×`factor` square
 * becomes its average; the last partial row and column of squares are
 * averaged over the pixels they have.
 *
 * @param image RGB or RGBA pixels.
 * @param factor 1 or more; 1 returns the image itself.
 * @returns A new image of `ceil(width / factor)` × `ceil(height / factor)`.
 * @throws {RangeError} For a factor that is not a positive integer.
 *
 * @example Halving a 4×2 image
 * ```ts
 * import { shrinkImage } from "./scale.ts";
 * const data = new Uint8Array(4 * 2 * 3).fill(100);
 * const small = shrinkImage({ width: 4, height: 2, channels: 3, data }, 2);
 * console.log(small.width, small.height, small.data[0]); // 2 1 100
 * ```
 */
export function shrinkImage(image: DecodedImage, factor: number): DecodedImage {
  if (!Number.isInteger(factor) || factor < 1) {
    throw new RangeError(
      `Cannot shrink by ${factor}: the factor must be a positive integer`,
    );
  }
  if (factor === 1) return image;
  const { width, height, channels, data } = image;
  const outWidth = Math.ceil(width / factor);
  const outHeight = Math.ceil(height / factor);
  const out = new Uint8Array(outWidth * outHeight * channels);
  const sums = new Uint32Array(outWidth * channels);
  for (let oy = 0; oy < outHeight; oy++) {
    sums.fill(0);
    const y0 = oy * factor;
    const y1 = Math.min(height, y0 + factor);
    for (let y = y0; y < y1; y++) {
      let at = y * width * channels;
      for (let x = 0; x < width; x++) {
        const o = ((x / factor) | 0) * channels;
        for (let c = 0; c < channels; c++) sums[o + c]! += data[at++]!;
      }
    }
    const rows = y1 - y0;
    for (let ox = 0; ox < outWidth; ox++) {
      const columns = Math.min(width, (ox + 1) * factor) - ox * factor;
      const count = rows * columns;
      const o = ox * channels;
      const target = (oy * outWidth + ox) * channels;
      for (let c = 0; c < channels; c++) {
        out[target + c] = Math.round(sums[o + c]! / count);
      }
    }
  }
  return { width: outWidth, height: outHeight, channels, data: out };
}
