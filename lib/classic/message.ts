/**
 * The classic message port: one UTF-8 JSON value per datagram, answered with
 * `get the msg`, or with a line that begins with `error:`.
 *
 * @module
 */

import { MESSAGE_REPLY } from "./constants.ts";

/** A datagram from the message port, parsed or not. */
export type ReceivedMessage =
  | {
    /** The sender's key, `host:port`. */
    readonly sender: string;
    /** Parsed. */
    readonly ok: true;
    /** The parsed JSON value. */
    readonly value: unknown;
  }
  | {
    /** The sender's key, `host:port`. */
    readonly sender: string;
    /** Not parsed. */
    readonly ok: false;
    /** What was wrong, in one line. */
    readonly error: string;
  };

const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });
const OK_REPLY = encoder.encode(MESSAGE_REPLY);
const MAX_ERROR_TEXT = 200;

/**
 * Parses one message datagram and makes the reply the tutorial's server
 * would send, or an `error:` reply for invalid UTF-8 or JSON.
 *
 * @param datagram The datagram's bytes.
 * @param sender The sender's key, `host:port`.
 * @returns The parsed message and the reply bytes.
 *
 * @example Parsing the tutorial's message
 * ```ts
 * import { handleMessage } from "./message.ts";
 * const { message } = handleMessage(new TextEncoder().encode("[0,0,0,1]"), "127.0.0.1:5000");
 * console.log(message.ok && message.value); // [0, 0, 0, 1]
 * ```
 */
export function handleMessage(
  datagram: Uint8Array,
  sender: string,
): { message: ReceivedMessage; reply: Uint8Array } {
  let text: string;
  try {
    text = utf8.decode(datagram);
  } catch {
    return failed(sender, `invalid UTF-8 in a ${datagram.length}-byte message`);
  }
  try {
    return {
      message: { sender, ok: true, value: JSON.parse(text) },
      reply: OK_REPLY,
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return failed(sender, `invalid JSON: ${oneLine(reason)}`);
  }
}

function failed(
  sender: string,
  error: string,
): { message: ReceivedMessage; reply: Uint8Array } {
  return {
    message: { sender, ok: false, error },
    reply: encoder.encode(`error: ${error}`),
  };
}

function oneLine(text: string): string {
  // V8 quotes the offending text, which a peer chose: no line breaks or
  // terminal escapes (C0, DEL, C1) may reach a log line or the reply, nor
  // half a character (V8 quotes one UTF-16 unit; the cut below may split).
  const line = text.replace(/\s+/g, " ").replace(
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return (line.length > MAX_ERROR_TEXT
    ? `${line.slice(0, MAX_ERROR_TEXT)}…`
    : line).toWellFormed();
}
