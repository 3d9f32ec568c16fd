/**
 * Reads an encoded image's width and height from its headers, without
 * decoding it.
 *
 * @module
 */

import type { ImageFormat } from "../codec/types.ts";

/** Width and height in pixels. */
export interface Dimensions {
  width: number;
  height: number;
}

function isStartOfFrame(marker: number): boolean {
  // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC).
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 &&
    marker !== 0xc8 && marker !== 0xcc;
}

function jpegDimensions(bytes: Uint8Array): Dimensions | undefined {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let at = 2;
  while (at + 3 < bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // no length field
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined;
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    if (isStartOfFrame(marker)) {
      if (at + 8 >= bytes.length) return undefined;
      const height = (bytes[at + 5]! << 8) | bytes[at + 6]!;
      const width = (bytes[at + 7]! << 8) | bytes[at + 8]!;
      return width > 0 && height > 0 ? { width, height } : undefined;
    }
    at += 2 + length;
  }
  return undefined;
}

function pngDimensions(bytes: Uint8Array): Dimensions | undefined {
  // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4).
  if (bytes.length < 24) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 24);
  if (view.getUint32(12) !== 0x49484452) return undefined;
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  return width > 0 && height > 0 ? { width, height } : undefined;
}

/**
 * The dimensions written in a JPEG's start-of-frame segment or a PNG's IHDR
 * chunk.
 *
 * @param bytes An encoded image, or at least its headers.
 * @param format Its format.
 * @returns The dimensions, or `undefined` when the headers are not readable.
 */
export function imageDimensions(
  bytes: Uint8Array,
  format: ImageFormat,
): Dimensions | undefined {
  return format === "jpeg" ? jpegDimensions(bytes) : pngDimensions(bytes);
}
