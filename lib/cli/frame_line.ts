/**
 * How `server.ts` names a frame it received: its line (`frame 3: 5120
 * bytes 640x480 jpeg from 127.0.0.1:5000`, or why it could not be decoded)
 * and its file name under `--out DIR` (`000003.jpg`).
 *
 * @module
 */

import { extensionOf } from "../codec/types.ts";
import type { ReceivedFrame } from "../server/frame_sink.ts";

/**
 * The frame's line: its index, size in bytes, size in pixels (`?x?` when
 * not decoded), format and sender, or, when decoding failed, why.
 *
 * @param frame The frame.
 * @returns The line.
 *
 * @example Usage
 * ```ts
 * import { frameLine } from "./frame_line.ts";
 * console.log(frameLine({
 *   index: 3, bytes: new Uint8Array(5120), format: "jpeg",
 *   sender: "127.0.0.1:5000", image: undefined, decodeError: undefined,
 * })); // "frame 3: 5120 bytes ?x? jpeg from 127.0.0.1:5000"
 * ```
 */
export function frameLine(
  frame: Pick<
    ReceivedFrame,
    "index" | "bytes" | "format" | "sender" | "image" | "decodeError"
  >,
): string {
  const kind = frame.format ?? "unknown format";
  if (frame.decodeError) {
    return `frame ${frame.index}: ${frame.bytes.length} bytes ${kind} from ${frame.sender}: cannot decode: ${frame.decodeError.message}`;
  }
  const size = frame.image
    ? `${frame.image.width}x${frame.image.height}`
    : "?x?";
  return `frame ${frame.index}: ${frame.bytes.length} bytes ${size} ${kind} from ${frame.sender}`;
}

/**
 * The frame's file name under `--out DIR`: its index in six digits, and
 * the extension of its format (`bin` when not known).
 *
 * @param frame The frame.
 * @returns The file name.
 *
 * @example Usage
 * ```ts
 * import { frameFileName } from "./frame_line.ts";
 * console.log(frameFileName({ index: 42, format: "png" })); // "000042.png"
 * ```
 */
export function frameFileName(
  frame: Pick<ReceivedFrame, "index" | "format">,
): string {
  const ext = frame.format ? extensionOf(frame.format) : "bin";
  return `${String(frame.index).padStart(6, "0")}.${ext}`;
}
