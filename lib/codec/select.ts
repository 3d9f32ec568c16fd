/**
 * Chooses codecs: native libjpeg-turbo for JPEG when it loads, imagescript
 * for PNG and as the JPEG fallback, and says in one line what was chosen so
 * a server can print it once at start.
 *
 * @module
 */

import {
  ImagescriptDecoder,
  ImagescriptEncoder,
  loadImagescript,
} from "./imagescript.ts";
import {
  CodecUnavailableError,
  TURBOJPEG_INSTALL_COMMAND,
  TurboJpegDecoder,
  TurboJpegEncoder,
} from "./turbojpeg.ts";
import type {
  DecodedImage,
  EncodeOptions,
  ImageDecoder,
  ImageEncoder,
  ImageFormat,
} from "./types.ts";

/** How to decode: pick automatically, force one codec, or do not decode. */
export type DecoderMode = "auto" | "native" | "imagescript" | "none";
/** How to encode: pick automatically or force one codec. */
export type EncoderMode = "auto" | "native" | "imagescript";

/** The decoder modes, for flag parsing and help text. */
export const DECODER_MODES: readonly DecoderMode[] = [
  "auto",
  "native",
  "imagescript",
  "none",
];
/** The encoder modes, for flag parsing and help text. */
export const ENCODER_MODES: readonly EncoderMode[] = [
  "auto",
  "native",
  "imagescript",
];

/** Options for {@linkcode createDecoder} and {@linkcode createEncoder}. */
export interface CodecOptions {
  /**
   * The one libturbojpeg file or name to load, instead of the usual names.
   *
   * @default {undefined}
   */
  libraryPath?: string;
  /**
   * How many native calls may run at once.
   *
   * @default {2}
   */
  concurrency?: number;
  /**
   * Channels of decoded pixels: 4 for RGBA, 3 for RGB.
   *
   * @default {4}
   */
  channels?: 3 | 4;
  /**
   * Largest decoded width or height.
   *
   * @default {16384}
   */
  maxDimension?: number;
  /**
   * Largest decoded `width * height`.
   *
   * @default {40000000}
   */
  maxPixels?: number;
}

/** A decoder and the line that says what it is. */
export interface DecoderChoice {
  /** The decoder, or `undefined` in mode `none`. */
  decoder: ImageDecoder | undefined;
  /** One line for the log, such as `decoder: imagescript for JPEG and PNG`. */
  reason: string;
}

/** An encoder and the line that says what it is. */
export interface EncoderChoice {
  /** The encoder. */
  encoder: ImageEncoder;
  /** One line for the log. */
  reason: string;
}

/**
 * Decodes each format with the decoder routed to it.
 *
 * @example Routing JPEG and PNG to imagescript
 * ```ts
 * import { CompositeDecoder } from "./select.ts";
 * import { ImagescriptDecoder } from "./imagescript.ts";
 * const imagescript = new ImagescriptDecoder();
 * const decoder = new CompositeDecoder({ jpeg: imagescript, png: imagescript });
 * console.log(decoder.name, decoder.supports("png")); // "imagescript" true
 * decoder.close();
 * ```
 */
export class CompositeDecoder implements ImageDecoder {
  /** The routed decoders' names joined by `+`, such as `native+imagescript`. */
  readonly name: string;
  #routes: Partial<Record<ImageFormat, ImageDecoder>>;

  /**
   * Makes a decoder that routes by format.
   *
   * @param routes The decoder for each format.
   */
  constructor(routes: Partial<Record<ImageFormat, ImageDecoder>>) {
    this.#routes = { ...routes };
    this.name = [...new Set(Object.values(routes).map((d) => d.name))].join(
      "+",
    );
  }

  /**
   * Whether a decoder is routed for `format`.
   *
   * @param format An image format.
   * @returns `true` when one is.
   */
  supports(format: ImageFormat): boolean {
    return this.#routes[format] !== undefined;
  }

  /**
   * Decodes with the decoder routed for `format`.
   *
   * @param bytes A whole encoded image.
   * @param format Its format.
   * @returns The pixels.
   */
  decode(bytes: Uint8Array, format: ImageFormat): Promise<DecodedImage> {
    const decoder = this.#routes[format];
    if (decoder === undefined) {
      return Promise.reject(
        new TypeError(`Cannot decode ${format}: no decoder is routed for it`),
      );
    }
    return decoder.decode(bytes, format);
  }

  /**
   * Hands an image's pixel memory back to the routed decoders that reuse
   * memory (the native one does; see `TurboJpegDecoder.recycle`). Call it
   * only once nothing reads `image.data` any more.
   *
   * @param image An image this decoder returned.
   */
  recycle(image: DecodedImage): void {
    for (const decoder of new Set(Object.values(this.#routes))) {
      if (decoder instanceof TurboJpegDecoder) decoder.recycle(image);
    }
  }

  /** Closes every routed decoder once. */
  close(): void {
    for (const decoder of new Set(Object.values(this.#routes))) {
      decoder.close();
    }
  }
}

/**
 * Encodes each format with the encoder routed to it.
 *
 * @example Routing PNG to imagescript
 * ```ts
 * import { CompositeEncoder } from "./select.ts";
 * import { ImagescriptEncoder } from "./imagescript.ts";
 * const encoder = new CompositeEncoder({ png: new ImagescriptEncoder() });
 * console.log(encoder.supports("jpeg")); // false
 * encoder.close();
 * ```
 */
export class CompositeEncoder implements ImageEncoder {
  /** The routed encoders' names joined by `+`. */
  readonly name: string;
  #routes: Partial<Record<ImageFormat, ImageEncoder>>;

  /**
   * Makes an encoder that routes by format.
   *
   * @param routes The encoder for each format.
   */
  constructor(routes: Partial<Record<ImageFormat, ImageEncoder>>) {
    this.#routes = { ...routes };
    this.name = [...new Set(Object.values(routes).map((e) => e.name))].join(
      "+",
    );
  }

  /**
   * Whether an encoder is routed for `format`.
   *
   * @param format An image format.
   * @returns `true` when one is.
   */
  supports(format: ImageFormat): boolean {
    return this.#routes[format] !== undefined;
  }

  /**
   * Encodes with the encoder routed for `options.format`.
   *
   * @param image The pixels.
   * @param options The format and JPEG quality.
   * @returns The encoded bytes.
   */
  encode(image: DecodedImage, options: EncodeOptions): Promise<Uint8Array> {
    const encoder = this.#routes[options.format];
    if (encoder === undefined) {
      return Promise.reject(
        new TypeError(
          `Cannot encode ${options.format}: no encoder is routed for it`,
        ),
      );
    }
    return encoder.encode(image, options);
  }

  /** Closes every routed encoder once. */
  close(): void {
    for (const encoder of new Set(Object.values(this.#routes))) {
      encoder.close();
    }
  }
}

function nativeLabel(version: string | undefined): string {
  return version === undefined
    ? "native libjpeg-turbo"
    : `native libjpeg-turbo ${version}`;
}

function absenceLabel(err: CodecUnavailableError): string {
  return err.message.includes("FFI is not permitted")
    ? "libturbojpeg not loaded: FFI is not permitted"
    : `libturbojpeg not found: ${TURBOJPEG_INSTALL_COMMAND}`;
}

/**
 * Creates the decoder for a mode.
 *
 * - `auto`: native libjpeg-turbo for JPEG when it loads, imagescript for PNG
 *   and for JPEG otherwise.
 * - `native`: native for JPEG, imagescript for PNG; rejects with a
 *   {@linkcode CodecUnavailableError} when libjpeg-turbo is missing.
 * - `imagescript`: imagescript for both.
 * - `none`: no decoder.
 *
 * imagescript is loaded here, so a missing permission shows at start rather
 * than on the first PNG.
 *
 * @param mode How to decode.
 * @param options Library path, concurrency, channels and limits.
 * @returns The decoder (or `undefined` for `none`) and one line to print.
 *
 * @example Printing the choice
 * ```ts
 * import { createDecoder } from "./select.ts";
 * const { decoder, reason } = await createDecoder("auto");
 * console.log(reason); // decoder: native libjpeg-turbo 2.1.5 for JPEG, imagescript for PNG
 * decoder?.close();
 * ```
 */
export async function createDecoder(
  mode: DecoderMode,
  options: CodecOptions = {},
): Promise<DecoderChoice> {
  if (!DECODER_MODES.includes(mode)) {
    throw new TypeError(
      `Cannot use decoder mode "${mode}": expected one of ${
        DECODER_MODES.join(", ")
      }`,
    );
  }
  if (mode === "none") {
    return {
      decoder: undefined,
      reason: "decoder: none (images are not decoded)",
    };
  }
  const { libraryPath, concurrency, channels, maxDimension, maxPixels } =
    options;
  const limits = {
    ...(channels === undefined ? {} : { channels }),
    ...(maxDimension === undefined ? {} : { maxDimension }),
    ...(maxPixels === undefined ? {} : { maxPixels }),
  };
  let native: TurboJpegDecoder | undefined;
  let absence: CodecUnavailableError | undefined;
  if (mode !== "imagescript") {
    try {
      native = new TurboJpegDecoder({
        ...limits,
        ...(libraryPath === undefined ? {} : { libraryPath }),
        ...(concurrency === undefined ? {} : { concurrency }),
      });
    } catch (err) {
      if (mode === "native" || !(err instanceof CodecUnavailableError)) {
        throw err;
      }
      absence = err;
    }
  }
  try {
    await loadImagescript();
  } catch (err) {
    native?.close();
    throw err;
  }
  const imagescript = new ImagescriptDecoder(limits);
  if (native !== undefined) {
    return {
      decoder: new CompositeDecoder({ jpeg: native, png: imagescript }),
      reason: `decoder: ${
        nativeLabel(native.version)
      } for JPEG, imagescript for PNG`,
    };
  }
  return {
    decoder: new CompositeDecoder({ jpeg: imagescript, png: imagescript }),
    reason: absence === undefined
      ? "decoder: imagescript for JPEG and PNG"
      : `decoder: imagescript for JPEG and PNG (${absenceLabel(absence)})`,
  };
}

/**
 * Creates the encoder for a mode: JPEG by native libjpeg-turbo when it
 * loads (`auto`) or must (`native`), otherwise by imagescript; PNG always by
 * imagescript.
 *
 * @param mode How to encode.
 * @param options Library path and concurrency.
 * @returns The encoder and one line to print.
 *
 * @example Encoding with whatever is available
 * ```ts
 * import { createEncoder } from "./select.ts";
 * const { encoder, reason } = await createEncoder("auto");
 * console.log(reason); // encoder: native libjpeg-turbo 2.1.5 for JPEG, imagescript for PNG
 * encoder.close();
 * ```
 */
export async function createEncoder(
  mode: EncoderMode,
  options: Pick<CodecOptions, "libraryPath" | "concurrency"> = {},
): Promise<EncoderChoice> {
  if (!ENCODER_MODES.includes(mode)) {
    throw new TypeError(
      `Cannot use encoder mode "${mode}": expected one of ${
        ENCODER_MODES.join(", ")
      }`,
    );
  }
  const { libraryPath, concurrency } = options;
  let native: TurboJpegEncoder | undefined;
  let absence: CodecUnavailableError | undefined;
  if (mode !== "imagescript") {
    try {
      native = new TurboJpegEncoder({
        ...(libraryPath === undefined ? {} : { libraryPath }),
        ...(concurrency === undefined ? {} : { concurrency }),
      });
    } catch (err) {
      if (mode === "native" || !(err instanceof CodecUnavailableError)) {
        throw err;
      }
      absence = err;
    }
  }
  try {
    await loadImagescript();
  } catch (err) {
    native?.close();
    throw err;
  }
  const imagescript = new ImagescriptEncoder();
  if (native !== undefined) {
    return {
      encoder: new CompositeEncoder({ jpeg: native, png: imagescript }),
      reason: `encoder: ${
        nativeLabel(native.version)
      } for JPEG, imagescript for PNG`,
    };
  }
  return {
    encoder: new CompositeEncoder({ jpeg: imagescript, png: imagescript }),
    reason: absence === undefined
      ? "encoder: imagescript for JPEG and PNG"
      : `encoder: imagescript for JPEG and PNG (${absenceLabel(absence)})`,
  };
}
