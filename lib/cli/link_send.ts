/**
 * `client.ts`'s send loop over a {@linkcode FrameLink} (the classic
 * protocol or RTP): each frame waits for the link, paced by a frame rate,
 * with a line per frame or a status line on a terminal, until the count,
 * the end of the source or Ctrl-C, then the summary line.
 *
 * @module
 */

import { errorLine, onShutdown } from "./cli.ts";
import type { FrameLink } from "./frame_link.ts";
import { sendSummary } from "./send_summary.ts";
import { FrameStatusLine } from "./status_line.ts";
import { MAX_DATAGRAM_BYTES } from "../classic/constants.ts";
import { ReplyTimeoutError } from "../classic/requester.ts";
import type { FrameSource } from "../frame_source.ts";
import { FrameClock } from "../frame_clock.ts";
import { SendError } from "../net/errors.ts";

/** How {@linkcode sendFrames} runs. */
export interface LinkSendOptions {
  /** Frames to send at most (`Infinity` for all the source gives). */
  count: number;
  /** Frames a second at most; 0 for as fast as the link goes. */
  frameRate: number;
  /** A camera or video: a status line on a terminal, not a line per frame. */
  live: boolean;
  /** Print only the summary. */
  quiet: boolean;
  /** `--single`: a frame larger than one datagram is an error. */
  single: boolean;
  /** `--burst`, for the hint when replies time out (0: none given). */
  burst: number;
  /** `--chunk-size`, for the hints when replies time out or a datagram is too long. */
  chunkSize: number;
  /**
   * The flag that sets the datagram size, for the hint when one is too
   * long: RTP's is `--mtu`. @default {"--chunk-size"}
   */
  datagramFlag?: "--chunk-size" | "--mtu";
  /** Where lines go. @default {console.log} */
  log?: (line: string) => void;
}

/**
 * The one-line error for a datagram the OS would not send: for one too
 * long, the limits and what to do.
 */
function sendErrorLine(
  error: SendError,
  flag: string,
  size: number,
): string {
  if (error.code !== "EMSGSIZE") return errorLine(error);
  return `Cannot send a ${error.size}-byte datagram to ${error.to.hostname}:${error.to.port}: message too long for this OS (the limit is ${MAX_DATAGRAM_BYTES} bytes on Linux, 9216 by default on macOS); use a smaller ${flag} (now ${size}), or on macOS run sudo sysctl -w net.inet.udp.maxdgram=65535`;
}

/**
 * Sends the source's frames over the link, printing a line per frame
 * (`frame N: BYTES bytes, reply: …`) and the summary line.
 *
 * @param source The frames.
 * @param link Where they go.
 * @param options The count, the pace, and what to print.
 * @returns Nothing; resolves when the frames are sent or Ctrl-C stopped it.
 * @throws {Error} With a one-line message, with a hint where there is one,
 * when a frame cannot be sent.
 *
 * @example Two frames over a link that answers each one
 * ```ts
 * import { sendFrames } from "./link_send.ts";
 * const frames = [1, 2].map((n) => ({ name: `f${n}`, bytes: new Uint8Array(n) }));
 * await sendFrames({
 *   next: () => Promise.resolve(frames.shift()),
 *   dropped: 0,
 *   stop() {},
 *   [Symbol.asyncDispose]: () => Promise.resolve(),
 * }, {
 *   send: () => Promise.resolve("reply: ok"),
 *   [Symbol.asyncDispose]: () => Promise.resolve(),
 * }, {
 *   count: Infinity,
 *   frameRate: 0,
 *   live: false,
 *   quiet: false,
 *   single: false,
 *   burst: 0,
 *   chunkSize: 1024,
 * });
 * // frame 1: 1 bytes, reply: ok
 * // frame 2: 2 bytes, reply: ok
 * // frames=2 seconds=… fps=… bytes=3
 * ```
 */
export async function sendFrames(
  source: FrameSource,
  link: FrameLink,
  options: LinkSendOptions,
): Promise<void> {
  const { count, quiet, burst, chunkSize } = options;
  const log = options.log ?? console.log;
  const stop = new AbortController();
  const { signal } = stop;
  const removeSignals = onShutdown(() => {
    stop.abort();
    source.stop();
  });
  const status = options.live && !quiet && Deno.stdout.isTerminal()
    ? new FrameStatusLine()
    : undefined;
  const clock = options.frameRate > 0
    ? new FrameClock(options.frameRate)
    : undefined;
  const started = performance.now();
  let frames = 0;
  let bytes = 0;
  // Once a second, also while a reply is awaited: a server away shows as 0 fps.
  const ticker = status &&
    setInterval(() => status.update(frames, bytes, source.dropped), 1000);
  try {
    while (frames < count && !signal.aborted) {
      // A camera's frame is taken once it is due, so that it is the newest;
      // a file or the pattern is read (or encoded) first, within the wait.
      if (options.live) await clock?.wait(signal);
      const frame = await source.next();
      if (frame === undefined || signal.aborted) break;
      if (options.single && frame.bytes.length > MAX_DATAGRAM_BYTES) {
        throw new Error(
          `Cannot send ${frame.name} in one datagram: it is ${frame.bytes.length} bytes and the limit is ${MAX_DATAGRAM_BYTES}; drop --single to send it in chunks`,
        );
      }
      if (!options.live) await clock?.wait(signal);
      let result: string;
      try {
        result = await link.send(frame, signal);
      } catch (error) {
        if (signal.aborted) break;
        if (
          error instanceof ReplyTimeoutError && burst === 0 &&
          frame.bytes.length > 64 * chunkSize
        ) {
          throw new Error(
            `${error.message} If it is up, it may be losing datagrams of this ${frame.bytes.length}-byte image (the tutorial's server does with large images): try --burst 16`,
            { cause: error },
          );
        }
        if (error instanceof SendError) {
          const flag = options.datagramFlag ?? "--chunk-size";
          const size = flag === "--mtu" ? error.size : chunkSize;
          throw new Error(sendErrorLine(error, flag, size), { cause: error });
        }
        throw error;
      }
      frames++;
      bytes += frame.bytes.length;
      if (!status && !quiet) {
        log(`frame ${frames}: ${frame.bytes.length} bytes, ${result}`);
      }
    }
  } finally {
    removeSignals();
    clearInterval(ticker);
    status?.end();
  }
  const seconds = (performance.now() - started) / 1000;
  log(sendSummary({ frames, seconds, bytes, dropped: source.dropped }));
}
