/**
 * The codec interface shared by every image decoder and encoder.
 *
 * @module
 */

/** An encoded image format that travels on the wire. */
export type ImageFormat = "jpeg" | "png";

/** Pixels of a decoded image, row-major, `channels` bytes per pixel. */
export interface DecodedImage {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** 3 for RGB, 4 for RGBA. */
  readonly channels: 3 | 4;
  /** `width * height * channels` bytes. */
  readonly data: Uint8Array;
}

/** Options for {@linkcode ImageEncoder.encode}. */
export interface EncodeOptions {
  /** The format to produce. */
  format: ImageFormat;
  /**
   * JPEG quality, 1 to 100. Ignored for PNG.
   *
   * @default {95}
   */
  quality?: number;
}

/** Turns encoded bytes into pixels. */
export interface ImageDecoder {
  /** A short name for logs, such as `native` or `imagescript`. */
  readonly name: string;
  /** Whether this decoder can decode `format`. */
  supports(format: ImageFormat): boolean;
  /**
   * Decodes `bytes`. Rejects with a {@linkcode DecodeError} when the bytes
   * are not a valid image.
   */
  decode(bytes: Uint8Array, format: ImageFormat): Promise<DecodedImage>;
  /** Releases native resources, if any. */
  close(): void;
}

/** Turns pixels into encoded bytes. */
export interface ImageEncoder {
  /** A short name for logs, such as `native` or `imagescript`. */
  readonly name: string;
  /** Whether this encoder can produce `format`. */
  supports(format: ImageFormat): boolean;
  /**
   * Encodes `image`. The encoder may read `image.data` until the promise
   * settles, with no copy: leave the pixels unchanged until then.
   */
  encode(image: DecodedImage, options: EncodeOptions): Promise<Uint8Array>;
  /** Releases native resources, if any. */
  close(): void;
}

/**
 * Thrown when encoded bytes cannot be decoded: corrupt, truncated or of an
 * unsupported kind.
 *
 * @example Catching a decode failure
 * ```ts
 * import { DecodeError } from "./types.ts";
 * const err = new DecodeError("Cannot decode JPEG: premature end of data", { truncated: true });
 * console.log(err.name, err.truncated);
 * ```
 */
export class DecodeError extends Error {
  /** Whether the input ended before the image did. */
  readonly truncated: boolean;

  /**
   * Makes the error.
   *
   * @param message What was wrong.
   * @param options `truncated` and an optional `cause`.
   */
  constructor(
    message: string,
    options: { truncated?: boolean; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "DecodeError";
    this.truncated = options.truncated ?? false;
  }
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Tells an encoded image's format from its first bytes: JPEG starts with
 * `FF D8 FF`, PNG with its 8-byte signature.
 *
 * @param bytes The start of an encoded image.
 * @returns The format, or `undefined` when the bytes are neither.
 *
 * @example Sniffing a JPEG
 * ```ts
 * import { sniffFormat } from "./types.ts";
 * console.log(sniffFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))); // "jpeg"
 * ```
 */
export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (
    bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 &&
    bytes[2] === 0xff
  ) {
    return "jpeg";
  }
  if (bytes.length >= 8) {
    for (let i = 0; i < 8; i++) {
      if (bytes[i] !== PNG_SIGNATURE[i]) return undefined;
    }
    return "png";
  }
  return undefined;
}

/**
 * The file extension for a format, without the dot.
 *
 * @param format An image format.
 * @returns `jpg` or `png`.
 *
 * @example Usage
 * ```ts
 * import { extensionOf } from "./types.ts";
 * console.log(extensionOf("jpeg")); // "jpg"
 * ```
 */
export function extensionOf(format: ImageFormat): "jpg" | "png" {
  return format === "jpeg" ? "jpg" : "png";
}
