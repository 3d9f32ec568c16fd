/**
 * CPython's `struct` module, byte for byte and error for error: the
 * tutorial's frame header is `pack("l", n)`. See {@linkcode pack},
 * {@linkcode unpack} and {@linkcode Struct}.
 *
 * @example The tutorial's frame header
 * ```ts
 * import { pack, unpack } from "./mod.ts";
 *
 * const header = pack("l", 813000);
 * console.log(header); // Uint8Array(8) [200, 103, 12, 0, 0, 0, 0, 0]
 * console.log(unpack("l", header)); // [ 813000n ]
 * ```
 *
 * @module
 */

export * from "./struct.ts";
