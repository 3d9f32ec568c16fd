/**
 * Reads an encoded image's size and tells whether its bytes are complete,
 * without decoding it, so that a hostile header is rejected before any pixel
 * memory is allocated.
 *
 * JPEG is walked segment by segment from SOI to the first SOS; after that the
 * entropy-coded data is byte-stuffed, so the EOI marker `FF D9` cannot occur
 * inside it and its presence means the image is complete.
 *
 * ```text
 *  FF D8 | FF Cn len(2) P Y(2) X(2) ... | FF DA len(2) ... data ... | FF D9
 *  SOI     SOFn: height Y, width X        SOS                          EOI
 * ```
 *
 * PNG is an 8-byte signature followed by chunks; IHDR comes first and holds
 * the size, IEND comes last.
 *
 * ```text
 *  sig(8) | len(4) "IHDR" width(4) height(4) ... crc(4) | ... | 0 "IEND" crc(4)
 * ```
 *
 * @module
 */

import { DecodeError, type ImageFormat } from "./types.ts";

/** The largest width or height accepted by default. */
export const DEFAULT_MAX_DIMENSION = 16384;
/** The largest pixel count accepted by default: 8K UHD with room to spare. */
export const DEFAULT_MAX_PIXELS = 40_000_000;

/** Size limits for decoded images. */
export interface ImageLimits {
  /** Largest width or height in pixels. */
  maxDimension: number;
  /** Largest `width * height`. */
  maxPixels: number;
}

/** What the structure of an encoded image says. */
export interface ImageInspection {
  /** Width from the header, or 0 when the header was not reached. */
  width: number;
  /** Height from the header, or 0 when the header was not reached. */
  height: number;
  /** Whether the bytes run to the format's end marker. */
  complete: boolean;
}

/** Validates and fills in limit options. */
export function resolveLimits(
  options: { maxDimension?: number; maxPixels?: number },
): ImageLimits {
  const maxDimension = options.maxDimension ?? DEFAULT_MAX_DIMENSION;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!Number.isSafeInteger(maxDimension) || maxDimension < 1) {
    throw new RangeError(
      `Cannot use maxDimension ${maxDimension}: expected a positive integer`,
    );
  }
  if (!Number.isSafeInteger(maxPixels) || maxPixels < 1) {
    throw new RangeError(
      `Cannot use maxPixels ${maxPixels}: expected a positive integer`,
    );
  }
  return { maxDimension, maxPixels };
}

/** Throws a DecodeError when a header's size is empty or over the limits. */
export function checkSize(
  format: ImageFormat,
  width: number,
  height: number,
  limits: ImageLimits,
): void {
  const kind = format.toUpperCase();
  if (width < 1 || height < 1) {
    throw new DecodeError(
      `Cannot decode ${kind}: header says ${width}x${height} pixels`,
    );
  }
  if (width > limits.maxDimension || height > limits.maxDimension) {
    throw new DecodeError(
      `Cannot decode ${kind}: ${width}x${height} exceeds the limit of ${limits.maxDimension} pixels per side`,
    );
  }
  if (width * height > limits.maxPixels) {
    throw new DecodeError(
      `Cannot decode ${kind}: ${width}x${height} exceeds the limit of ${limits.maxPixels} pixels`,
    );
  }
}

/** Inspects an encoded image of a known format. */
export function inspectImage(
  bytes: Uint8Array,
  format: ImageFormat,
): ImageInspection {
  return format === "jpeg" ? inspectJpeg(bytes) : inspectPng(bytes);
}

function isStandalone(marker: number): boolean {
  // TEM and RST0..RST7 carry no length field.
  return marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7);
}

function isStartOfFrame(marker: number): boolean {
  // C4 is DHT, C8 is reserved (JPG), CC is DAC; the other Cn are SOFn.
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 &&
    marker !== 0xc8 && marker !== 0xcc;
}

function isHeaderSegment(marker: number): boolean {
  // SOFn, DHT, DAC (C0..CF), DQT, DNL, DRI, DHP, EXP (DB..DF), SOS (DA),
  // APPn (E0..EF), JPGn (F0..FD) and COM (FE).
  return (marker >= 0xc0 && marker <= 0xcf) ||
    (marker >= 0xda && marker <= 0xdf) || (marker >= 0xe0 && marker <= 0xfe);
}

/** Inspects a JPEG. Throws a DecodeError when it is not one. */
export function inspectJpeg(bytes: Uint8Array): ImageInspection {
  const result: ImageInspection = { width: 0, height: 0, complete: false };
  if (bytes.length < 2 || bytes[0] !== 0xff || bytes[1] !== 0xd8) {
    throw new DecodeError("Cannot decode JPEG: it does not start with SOI");
  }
  let i = 2;
  while (i + 1 < bytes.length) {
    if (bytes[i] !== 0xff) {
      throw new DecodeError(
        `Cannot decode JPEG: expected a marker at byte ${i}, got 0x${
          bytes[i]!.toString(16).padStart(2, "0")
        }`,
      );
    }
    const marker = bytes[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (isStandalone(marker)) {
      i += 2;
      continue;
    }
    if (marker === 0xd9) {
      throw new DecodeError("Cannot decode JPEG: EOI comes before any scan");
    }
    if (!isHeaderSegment(marker)) {
      throw new DecodeError(
        `Cannot decode JPEG: unexpected marker 0x${
          marker.toString(16)
        } at byte ${i}`,
      );
    }
    if (i + 3 >= bytes.length) return result;
    const length = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    if (length < 2) {
      throw new DecodeError(
        `Cannot decode JPEG: segment 0x${
          marker.toString(16)
        } at byte ${i} has length ${length}`,
      );
    }
    if (isStartOfFrame(marker) && i + 8 < bytes.length) {
      result.height = (bytes[i + 5]! << 8) | bytes[i + 6]!;
      result.width = (bytes[i + 7]! << 8) | bytes[i + 8]!;
    }
    const next = i + 2 + length;
    if (next > bytes.length) return result;
    if (marker === 0xda) {
      // Scan backwards: a complete image ends in EOI, perhaps with padding.
      for (let j = bytes.length - 2; j >= next; j--) {
        if (bytes[j] === 0xff && bytes[j + 1] === 0xd9) {
          result.complete = true;
          break;
        }
      }
      return result;
    }
    i = next;
  }
  return result;
}

const PNG_SIGNATURE_LENGTH = 8;
const IHDR = 0x49484452;
const IEND = 0x49454e44;

/** Inspects a PNG. Throws a DecodeError when it is not one. */
export function inspectPng(bytes: Uint8Array): ImageInspection {
  const result: ImageInspection = { width: 0, height: 0, complete: false };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let i = PNG_SIGNATURE_LENGTH;
  if (bytes.length < i) {
    throw new DecodeError(
      `Cannot decode PNG: expected an 8-byte signature, got ${bytes.length} bytes`,
    );
  }
  let first = true;
  while (i + 8 <= bytes.length) {
    const length = view.getUint32(i);
    const type = view.getUint32(i + 4);
    if (first) {
      if (type !== IHDR) {
        throw new DecodeError("Cannot decode PNG: the first chunk is not IHDR");
      }
      if (i + 16 <= bytes.length) {
        result.width = view.getUint32(i + 8);
        result.height = view.getUint32(i + 12);
      }
      first = false;
    }
    const next = i + 12 + length;
    if (next > bytes.length) return result;
    if (type === IEND) {
      result.complete = true;
      return result;
    }
    i = next;
  }
  return result;
}
