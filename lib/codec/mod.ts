/**
 * Image codecs: native libjpeg-turbo through FFI, imagescript as the
 * fallback and for PNG, and the selection between them.
 *
 * @example Decoding whatever arrives
 * ```ts
 * import { createDecoder, sniffFormat } from "./mod.ts";
 * const { decoder, reason } = await createDecoder("auto");
 * console.log(reason);
 * const bytes = await Deno.readFile("tests/fixtures/rocket.jpg");
 * const format = sniffFormat(bytes);
 * if (decoder !== undefined && format !== undefined) {
 *   const image = await decoder.decode(bytes, format);
 *   console.log(image.width, image.height); // 640 427
 * }
 * decoder?.close();
 * ```
 *
 * @module
 */

export * from "./types.ts";
export * from "./turbojpeg.ts";
export * from "./imagescript.ts";
export * from "./select.ts";
