/**
 * JPEG and PNG decoding and encoding with imagescript, the fallback when
 * libjpeg-turbo is missing and the codec for PNG. imagescript decodes in
 * WebAssembly on the main thread and encodes JPEG with a bundled native
 * addon, which needs the FFI permission.
 *
 * imagescript is imported on first use, so that importing this module costs
 * nothing and needs no permission until an image is actually coded.
 *
 * @module
 */

import type { Image as ImageType, JPEGQuality } from "imagescript";
import {
  checkSize,
  type ImageLimits,
  inspectImage,
  resolveLimits,
} from "./_inspect.ts";
import {
  type DecodedImage,
  DecodeError,
  type EncodeOptions,
  type ImageDecoder,
  type ImageEncoder,
  type ImageFormat,
} from "./types.ts";

/** The imagescript module, as loaded. */
export type ImagescriptModule = typeof import("imagescript");

let loading: Promise<ImagescriptModule> | undefined;
let loaded: ImagescriptModule | undefined;

/**
 * Loads imagescript once. Rejects with a one-line error when it cannot be
 * loaded, such as without the FFI permission.
 *
 * @returns The imagescript module.
 *
 * @example Loading imagescript ahead of the first frame
 * ```ts
 * import { loadImagescript } from "./imagescript.ts";
 * const { Image } = await loadImagescript();
 * console.log(new Image(2, 2).width); // 2
 * ```
 */
export function loadImagescript(): Promise<ImagescriptModule> {
  loading ??= import("imagescript").then((module) => {
    loaded = module;
    return module;
  }, (err: unknown) => {
    loading = undefined;
    const hint = err instanceof Deno.errors.NotCapable
      ? "run with --allow-ffi (or -P)"
      : "check that npm:imagescript@1.3.1 is cached (deno install)";
    throw new Error(`Cannot load imagescript: ${hint}`, { cause: err });
  });
  return loading;
}

/** Options for {@linkcode ImagescriptDecoder}. */
export interface ImagescriptDecoderOptions {
  /**
   * Channels of the decoded pixels: 4 for RGBA, 3 for RGB. imagescript
   * decodes to RGBA, so RGB costs one more pass.
   *
   * @default {4}
   */
  channels?: 3 | 4;
  /**
   * Largest width or height accepted; larger headers are rejected before
   * anything is allocated.
   *
   * @default {16384}
   */
  maxDimension?: number;
  /**
   * Largest `width * height` accepted.
   *
   * @default {40000000}
   */
  maxPixels?: number;
}

function toRgb(rgba: Uint8Array, pixels: number): Uint8Array {
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    rgb[i] = rgba[j]!;
    rgb[i + 1] = rgba[j + 1]!;
    rgb[i + 2] = rgba[j + 2]!;
  }
  return rgb;
}

/**
 * Decodes JPEG and PNG with imagescript. The header is checked against the
 * size limits first, and an image whose bytes stop before the format's end
 * marker is reported as truncated.
 *
 * @example Decoding a PNG
 * ```ts
 * import { ImagescriptDecoder } from "./imagescript.ts";
 * const decoder = new ImagescriptDecoder();
 * const bytes = await Deno.readFile("tests/fixtures/astronaut.png");
 * const image = await decoder.decode(bytes, "png");
 * console.log(image.width, image.height, image.channels); // 512 512 4
 * decoder.close();
 * ```
 */
export class ImagescriptDecoder implements ImageDecoder {
  /** Always `imagescript`. */
  readonly name = "imagescript";
  #channels: 3 | 4;
  #limits: ImageLimits;

  /**
   * Makes a decoder.
   *
   * @param options Output channels and size limits.
   */
  constructor(options: ImagescriptDecoderOptions = {}) {
    const channels = options.channels ?? 4;
    if (channels !== 3 && channels !== 4) {
      throw new RangeError(`Cannot use ${channels} channels: expected 3 or 4`);
    }
    this.#channels = channels;
    this.#limits = resolveLimits(options);
  }

  /**
   * Whether this decoder can decode `format`: JPEG and PNG.
   *
   * @param format An image format.
   * @returns `true`.
   */
  supports(format: ImageFormat): boolean {
    return format === "jpeg" || format === "png";
  }

  /**
   * Decodes a JPEG or PNG. Rejects with a {@linkcode DecodeError} when the
   * bytes are corrupt, truncated or too large.
   *
   * @param bytes A whole encoded image.
   * @param format Its format.
   * @returns The pixels, in a new array owned by the caller.
   */
  async decode(bytes: Uint8Array, format: ImageFormat): Promise<DecodedImage> {
    if (!this.supports(format)) {
      throw new TypeError(`Cannot decode ${format}: unknown format`);
    }
    const kind = format.toUpperCase();
    // Inspection throws for bytes that are not this format at all.
    const inspection = inspectImage(bytes, format);
    if (inspection.width > 0 || inspection.complete) {
      checkSize(format, inspection.width, inspection.height, this.#limits);
    }
    if (!inspection.complete) {
      throw new DecodeError(
        `Cannot decode ${kind}: the data ends after ${bytes.length} bytes, before the image does`,
        { truncated: true },
      );
    }
    // imagescript reads the bytes after an await; the caller may reuse them.
    const copy = bytes.slice();
    const { Image } = await loadImagescript();
    let image: ImageType;
    try {
      image = await Image.decode(copy);
    } catch (err) {
      throw new DecodeError(`Cannot decode ${kind}: the data is corrupt`, {
        cause: err,
      });
    }
    const { width, height } = image;
    const rgba = new Uint8Array(
      image.bitmap.buffer,
      image.bitmap.byteOffset,
      image.bitmap.byteLength,
    );
    const data = this.#channels === 4 ? rgba : toRgb(rgba, width * height);
    return { width, height, channels: this.#channels, data };
  }

  /** Does nothing: imagescript holds no resources between calls. */
  close(): void {}
}

/** Options for {@linkcode ImagescriptEncoder}. */
export interface ImagescriptEncoderOptions {
  /**
   * zlib compression level for PNG, 0 (none, fastest) to 9 (smallest).
   *
   * @default {1}
   */
  pngCompression?: number;
}

function fillRgba(
  rgba: Uint8Array | Uint8ClampedArray,
  data: Uint8Array,
  channels: 3 | 4,
): void {
  if (channels === 4) {
    rgba.set(data);
    return;
  }
  for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
    rgba[j] = data[i]!;
    rgba[j + 1] = data[i + 1]!;
    rgba[j + 2] = data[i + 2]!;
    rgba[j + 3] = 255;
  }
}

/**
 * Encodes RGB or RGBA pixels to JPEG or PNG with imagescript. JPEG drops
 * the alpha channel.
 *
 * @example Encoding a PNG
 * ```ts
 * import { ImagescriptEncoder } from "./imagescript.ts";
 * const encoder = new ImagescriptEncoder();
 * const data = new Uint8Array(16 * 16 * 4).fill(200);
 * const png = await encoder.encode({ width: 16, height: 16, channels: 4, data }, {
 *   format: "png",
 * });
 * console.log(png[1] === 0x50); // true ("P" of the PNG signature)
 * encoder.close();
 * ```
 */
export class ImagescriptEncoder implements ImageEncoder {
  /** Always `imagescript`. */
  readonly name = "imagescript";
  #pngCompression: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

  /**
   * Makes an encoder.
   *
   * @param options PNG compression level.
   */
  constructor(options: ImagescriptEncoderOptions = {}) {
    const level = options.pngCompression ?? 1;
    if (!Number.isInteger(level) || level < 0 || level > 9) {
      throw new RangeError(
        `Cannot use PNG compression ${level}: expected an integer from 0 to 9`,
      );
    }
    this.#pngCompression = level as 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
  }

  /**
   * Whether this encoder can produce `format`: JPEG and PNG.
   *
   * @param format An image format.
   * @returns `true`.
   */
  supports(format: ImageFormat): boolean {
    return format === "jpeg" || format === "png";
  }

  /**
   * Encodes pixels. The pixels are copied before the first `await`, so the
   * caller may reuse them as soon as this returns a promise.
   *
   * @param image RGB or RGBA pixels.
   * @param options The format and, for JPEG, a quality from 1 to 100.
   * @returns The encoded bytes.
   */
  async encode(
    image: DecodedImage,
    options: EncodeOptions,
  ): Promise<Uint8Array> {
    if (!this.supports(options.format)) {
      throw new TypeError(`Cannot encode ${options.format}: unknown format`);
    }
    const { width, height, channels, data } = image;
    if (
      !Number.isSafeInteger(width) || !Number.isSafeInteger(height) ||
      width < 1 || height < 1
    ) {
      throw new RangeError(
        `Cannot encode a ${width}x${height} image: expected positive integer sizes`,
      );
    }
    if (channels !== 3 && channels !== 4) {
      throw new RangeError(
        `Cannot encode ${channels} channels: expected 3 or 4`,
      );
    }
    if (data.length !== width * height * channels) {
      throw new RangeError(
        `Cannot encode a ${width}x${height}x${channels} image: expected ${
          width * height * channels
        } bytes, got ${data.length}`,
      );
    }
    const quality = options.quality ?? 95;
    if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
      throw new RangeError(
        `Cannot use JPEG quality ${quality}: expected an integer from 1 to 100`,
      );
    }
    // Fill the bitmap now: the caller may reuse `data` once this returns.
    const target = loaded === undefined
      ? { bitmap: new Uint8Array(width * height * 4) }
      : new loaded.Image(width, height);
    fillRgba(target.bitmap, data, channels);
    const { Image } = await loadImagescript();
    let encodable: ImageType;
    if (target instanceof Image) {
      encodable = target;
    } else {
      encodable = new Image(width, height);
      encodable.bitmap.set(target.bitmap);
    }
    if (options.format === "png") {
      return await encodable.encode(this.#pngCompression);
    }
    return await encodable.encodeJPEG(quality as JPEGQuality);
  }

  /** Does nothing: imagescript holds no resources between calls. */
  close(): void {}
}
