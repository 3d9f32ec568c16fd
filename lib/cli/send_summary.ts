/**
 * The summary line `client.ts` prints when it has sent its frames:
 * `frames=… seconds=… fps=… bytes=…`, with `dropped=…` when the source
 * skipped frames, and for the stream protocol the sender's figures after it.
 *
 * @module
 */

import type { StreamSenderStats } from "../stream/sender.ts";

/** What was sent, for {@linkcode sendSummary}. */
export interface SendTotals {
  /** Frames sent. */
  frames: number;
  /** Seconds from the first frame to the end. */
  seconds: number;
  /** Image bytes sent. */
  bytes: number;
  /** Frames skipped (by the source, or stale in the stream sender). */
  dropped: number;
}

/** The stream sender's figures in the summary. */
export interface StreamSummary {
  /** The sender's counters. */
  stats: Pick<
    StreamSenderStats,
    | "datagramsSent"
    | "retransmitted"
    | "fecSent"
    | "rttMs"
    | "unauthenticated"
    | "replayed"
  >;
  /** Whether the stream was sealed: adds `unauthenticated=… replayed=…`. */
  sealed: boolean;
}

/**
 * Formats the summary line.
 *
 * @param totals What was sent.
 * @param stream For the stream protocol, the sender's figures.
 * @returns The line.
 *
 * @example Usage
 * ```ts
 * import { sendSummary } from "./send_summary.ts";
 * console.log(sendSummary({ frames: 30, seconds: 2, bytes: 1200, dropped: 0 }));
 * // "frames=30 seconds=2.00 fps=15.0 bytes=1200"
 * ```
 */
export function sendSummary(
  totals: SendTotals,
  stream?: StreamSummary,
): string {
  const { frames, seconds, bytes, dropped } = totals;
  let line = `frames=${frames} seconds=${seconds.toFixed(2)} fps=${
    (seconds > 0 ? frames / seconds : 0).toFixed(1)
  } bytes=${bytes}${dropped > 0 ? ` dropped=${dropped}` : ""}`;
  if (stream === undefined) return line;
  const { stats } = stream;
  line +=
    ` sent=${stats.datagramsSent} retransmitted=${stats.retransmitted} fec=${stats.fecSent} rtt_ms=${
      stats.rttMs === undefined ? "?" : stats.rttMs.toFixed(2)
    }`;
  if (stream.sealed) {
    line +=
      ` unauthenticated=${stats.unauthenticated} replayed=${stats.replayed}`;
  }
  return line;
}
