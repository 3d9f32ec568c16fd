/**
 * The summary line `server.ts` prints on exit (and every 5 seconds with
 * `--demo`): `frames=… decoded=… errors=… dropped=… bytes=… seconds=…
 * fps=…` as the tutorial's server would, then the stream protocol's loss,
 * repair and latency figures after stream senders, and the sealing
 * counters with a key.
 *
 * @module
 */

import type { ServerStats } from "../server/server.ts";

/** The figures of a server's stats that the summary shows. */
export type SummaryStats = Pick<
  ServerStats,
  | "frames"
  | "decoded"
  | "errors"
  | "dropped"
  | "bytes"
  | "seconds"
  | "lost"
  | "late"
  | "skipped"
  | "strays"
  | "framesBy"
  | "counters"
  | "latency"
>;

/**
 * Formats the summary line.
 *
 * Lost, skipped and strays appear only when there were any, to keep the
 * tutorial-like line, except after stream senders, whose loss and repair
 * figures always appear.
 *
 * @param stats The server's stats.
 * @param keyed Whether the server has a key: adds `unauthenticated=…
 * replayed=…`.
 * @returns The line.
 *
 * @example Usage
 * ```ts
 * import { serverSummary } from "./server_summary.ts";
 * console.log(serverSummary({
 *   frames: 20, decoded: 20, errors: 0, dropped: 0, bytes: 81_920,
 *   seconds: 2, lost: 0, late: 0, skipped: 0, strays: 0,
 *   framesBy: { classic: 20, stream: 0, rtp: 0 }, counters: {},
 *   latency: undefined,
 * }, false));
 * // "frames=20 decoded=20 errors=0 dropped=0 bytes=81920 seconds=2.00 fps=10.0"
 * ```
 */
export function serverSummary(stats: SummaryStats, keyed: boolean): string {
  const fps = stats.seconds > 0 ? stats.frames / stats.seconds : 0;
  const counters = stats.counters;
  const stream = stats.framesBy.stream > 0 || (counters.reportsSent ?? 0) > 0;
  const latency = stats.latency;
  const extra =
    (stream
      ? ` lost=${stats.lost} late=${stats.late} recovered_nack=${
        counters.recoveredNack ?? 0
      } recovered_fec=${counters.recoveredFec ?? 0}`
      : stats.lost > 0
      ? ` lost=${stats.lost}`
      : "") +
    (keyed
      ? ` unauthenticated=${counters.unauthenticated ?? 0} replayed=${
        counters.replayed ?? 0
      }`
      : "") +
    ((counters.refused ?? 0) > 0 ? ` refused=${counters.refused}` : "") +
    (stats.skipped > 0 ? ` skipped=${stats.skipped}` : "") +
    (stats.strays > 0 ? ` strays=${stats.strays}` : "") +
    (stream && latency !== undefined
      ? ` latency_p50_ms=${latency.p50Ms.toFixed(2)} latency_p99_ms=${
        latency.p99Ms.toFixed(2)
      }${latency.estimated ? " latency=estimated" : ""}`
      : "");
  return `frames=${stats.frames} decoded=${stats.decoded} errors=${stats.errors} dropped=${stats.dropped} bytes=${stats.bytes} seconds=${
    stats.seconds.toFixed(2)
  } fps=${fps.toFixed(1)}${extra}`;
}
