/**
 * Reads a frame size flag such as `client.ts --size 1280x720`, with the
 * parser the capture code uses, and the bounds a sender accepts.
 *
 * @module
 */

import { UsageError } from "./cli.ts";
import { type FrameSize, parseFrameSize } from "../capture/ffmpeg.ts";

/** The smallest width or height {@linkcode sizeFlag} takes. */
const MIN_SIDE = 16;
/** The largest width or height {@linkcode sizeFlag} takes. */
const MAX_SIDE = 8192;

/**
 * Reads `--NAME WIDTHxHEIGHT`, each side from 16 to 8192.
 *
 * @param name The flag's name, without dashes.
 * @param value The flag's text, or `undefined` when not given.
 * @returns The size, or an empty object when the flag is not given (to
 * spread into options).
 * @throws {UsageError} When the text is not a size in bounds.
 *
 * @example Usage
 * ```ts
 * import { sizeFlag } from "./size_flag.ts";
 * console.log(sizeFlag("size", "1280x720")); // { width: 1280, height: 720 }
 * console.log(sizeFlag("size", undefined)); // {}
 * ```
 */
export function sizeFlag(
  name: string,
  value: string | undefined,
): Partial<FrameSize> {
  if (value === undefined) return {};
  let size: FrameSize | undefined;
  try {
    size = parseFrameSize(value);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
  }
  if (
    size === undefined || size.width < MIN_SIDE || size.height < MIN_SIDE ||
    size.width > MAX_SIDE || size.height > MAX_SIDE
  ) {
    throw new UsageError(
      `--${name} must be WIDTHxHEIGHT, each from ${MIN_SIDE} to ${MAX_SIDE}, got '${value}'`,
    );
  }
  return size;
}
