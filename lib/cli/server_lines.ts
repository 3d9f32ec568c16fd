/**
 * The lines `server.ts` prints about what arrives: a frame (`frame 3: 5120
 * bytes 640x480 jpeg from 127.0.0.1:5000`, or why it could not be
 * decoded), a message, a dropped frame or a stray datagram; and a frame's
 * file name under `--out DIR` (`000003.jpg`).
 *
 * @module
 */

import type { ReceivedMessage } from "../classic/message.ts";
import { extensionOf } from "../codec/types.ts";
import type { ReceivedFrame } from "../server/frame_sink.ts";
import type { FrameDropEvent, StrayDatagramEvent } from "../server/types.ts";

/**
 * The frame's line: its index, size in bytes, size in pixels (`?x?` when
 * not decoded), format and sender, or, when decoding failed, why.
 *
 * @param frame The frame.
 * @returns The line.
 *
 * @example Usage
 * ```ts
 * import { frameLine } from "./server_lines.ts";
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
 * import { frameFileName } from "./server_lines.ts";
 * console.log(frameFileName({ index: 42, format: "png" })); // "000042.png"
 * ```
 */
export function frameFileName(
  frame: Pick<ReceivedFrame, "index" | "format">,
): string {
  const ext = frame.format ? extensionOf(frame.format) : "bin";
  return `${String(frame.index).padStart(6, "0")}.${ext}`;
}

/**
 * A message's line: its JSON, or why it was not JSON.
 *
 * @param message The message.
 * @returns The line.
 *
 * @example Usage
 * ```ts
 * import { messageLine } from "./server_lines.ts";
 * console.log(messageLine({ sender: "127.0.0.1:5000", ok: true, value: { hi: 1 } }));
 * // 'message from 127.0.0.1:5000: {"hi":1}'
 * ```
 */
export function messageLine(message: ReceivedMessage): string {
  return message.ok
    ? `message from ${message.sender}: ${JSON.stringify(message.value)}`
    : `bad message from ${message.sender}: ${message.error}`;
}

/**
 * The line for a frame dropped on the way, or a datagram that belongs to
 * no frame.
 *
 * @param event The drop or the stray.
 * @returns The line.
 *
 * @example Usage
 * ```ts
 * import { dropLine } from "./server_lines.ts";
 * console.log(dropLine({
 *   type: "stray", protocol: undefined, sender: "127.0.0.1:5000",
 *   length: 3, detail: "too short for a header",
 * })); // "stray 3-byte datagram from 127.0.0.1:5000: too short for a header"
 * ```
 */
export function dropLine(event: FrameDropEvent | StrayDatagramEvent): string {
  return event.type === "stray"
    ? `stray ${event.length}-byte datagram from ${event.sender}: ${event.detail}`
    : `dropped a frame from ${event.sender}: ${event.detail}`;
}
