/**
 * The status lines `client.ts` redraws on a terminal instead of a line per
 * frame: one for the classic and RTP links (fps, KB/s, frames, dropped) and
 * one for the stream protocol (fps, Mbit/s, loss, RTT, retransmissions).
 *
 * Each redraw returns the cursor to the start of the line and clears it;
 * `end()` moves to a new line, so that the summary that follows stands on
 * its own.
 *
 * @module
 */

import type { StreamSenderStats } from "../stream/sender.ts";

/** Options for {@linkcode FrameStatusLine} and {@linkcode StreamStatusLine}. */
export interface StatusLineOptions {
  /**
   * Where the text goes, as it is (with its `\r` and erase sequence).
   *
   * @default {writing to stdout synchronously}
   */
  write?: (text: string) => void;
  /**
   * The clock, in milliseconds.
   *
   * @default {performance.now}
   */
  now?: () => number;
}

/** The figures of a stream sender that its status line shows. */
export type StreamStatusStats = Pick<
  StreamSenderStats,
  "bytesSent" | "lossFraction" | "rttMs" | "retransmitted" | "framesStale"
>;

const CLEAR_LINE = "\r\x1b[K";

function stdoutWriter(): (text: string) => void {
  const encoder = new TextEncoder();
  return (text) => {
    Deno.stdout.writeSync(encoder.encode(text));
  };
}

/** What both status lines share: where they go, the clock, the last redraw. */
class TerminalLine {
  readonly #write: (text: string) => void;
  readonly #now: () => number;
  #last: number;

  constructor(options: StatusLineOptions) {
    this.#write = options.write ?? stdoutWriter();
    this.#now = options.now ?? (() => performance.now());
    this.#last = this.#now();
  }

  /** Starts a redraw: the time now, and the seconds since the last one. */
  protected lap(): { now: number; elapsed: number } {
    const now = this.#now();
    return { now, elapsed: (now - this.#last) / 1000 };
  }

  /** Redraws the line with `text`, as of `now` (from {@linkcode lap}). */
  protected draw(now: number, text: string): void {
    this.#last = now;
    this.#write(`${CLEAR_LINE}${text}`);
  }

  /** Ends the line. */
  end(): void {
    this.#write("\n");
  }
}

/**
 * A status line for frames sent over a classic or RTP link, redrawn at
 * most once a second.
 *
 * @example Usage
 * ```ts
 * import { FrameStatusLine } from "./status_line.ts";
 * let t = 0;
 * const shown: string[] = [];
 * const status = new FrameStatusLine({ write: (s) => shown.push(s), now: () => t });
 * t = 1000;
 * status.update(25, 25 * 40_960, 0);
 * status.end();
 * console.log(JSON.stringify(shown[0])); // "\r\u001b[K25.0 fps  1000 KB/s  frames 25  dropped 0"
 * ```
 */
export class FrameStatusLine extends TerminalLine {
  #frames = 0;
  #bytes = 0;

  /** @param options Where the line goes, and the clock. */
  constructor(options: StatusLineOptions = {}) {
    super(options);
  }

  /**
   * Redraws the line, if a second has passed since the last redraw.
   *
   * @param frames Frames sent so far.
   * @param bytes Bytes sent so far.
   * @param dropped Frames the source skipped so far.
   */
  update(frames: number, bytes: number, dropped: number): void {
    const { now, elapsed } = this.lap();
    if (elapsed < 1) return;
    const fps = (frames - this.#frames) / elapsed;
    const kbps = (bytes - this.#bytes) / 1024 / elapsed;
    this.#frames = frames;
    this.#bytes = bytes;
    this.draw(
      now,
      `${fps.toFixed(1)} fps  ${
        kbps.toFixed(0)
      } KB/s  frames ${frames}  dropped ${dropped}`,
    );
  }
}

/**
 * The stream protocol's status line, redrawn at each `update` (the caller
 * calls it once a second).
 *
 * @example Usage
 * ```ts
 * import { StreamStatusLine } from "./status_line.ts";
 * let t = 0;
 * const shown: string[] = [];
 * const status = new StreamStatusLine({ write: (s) => shown.push(s), now: () => t });
 * t = 1000;
 * status.update({
 *   bytesSent: 1_250_000,
 *   lossFraction: 0.01,
 *   rttMs: 2.5,
 *   retransmitted: 3,
 *   framesStale: 0,
 * }, 30);
 * console.log(JSON.stringify(shown[0])); // "\r\u001b[K30.0 fps  10.0 Mbit/s  loss 1.0%  rtt 2.5 ms  retransmitted 3  stale 0"
 * ```
 */
export class StreamStatusLine extends TerminalLine {
  #frames = 0;
  #bytes = 0;

  /** @param options Where the line goes, and the clock. */
  constructor(options: StatusLineOptions = {}) {
    super(options);
  }

  /**
   * Redraws the line with the rates since the last update.
   *
   * @param stats The sender's figures.
   * @param frames Frames sent so far.
   */
  update(stats: Readonly<StreamStatusStats>, frames: number): void {
    const { now, elapsed } = this.lap();
    const fps = (frames - this.#frames) / elapsed;
    const mbit = ((stats.bytesSent - this.#bytes) * 8) / 1e6 / elapsed;
    this.#frames = frames;
    this.#bytes = stats.bytesSent;
    const rtt = stats.rttMs === undefined ? "?" : stats.rttMs.toFixed(1);
    this.draw(
      now,
      `${fps.toFixed(1)} fps  ${mbit.toFixed(1)} Mbit/s  loss ${
        (stats.lossFraction * 100).toFixed(1)
      }%  rtt ${rtt} ms  retransmitted ${stats.retransmitted}  stale ${stats.framesStale}`,
    );
  }
}
