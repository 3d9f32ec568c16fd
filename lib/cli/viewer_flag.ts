/**
 * What `server.ts` needs to serve its viewer (`--view PORT`, `--view-host`,
 * `--view-token`, `--view-open`, and `--demo`'s port 8080): the server's
 * counters as the viewer shows them, and a viewer started beside a running
 * server, with a one-line error that names the flag to change.
 *
 * @module
 */

import { errorLine } from "./cli.ts";
import { listenOrFallBack } from "./fall_back.ts";
import type { FrameServer, ServerStats } from "../server/server.ts";
import type { ViewerCounters } from "../viewer/types.ts";
import { Viewer, type ViewerOptions } from "../viewer/viewer.ts";

/**
 * The server's stats as the viewer's counters.
 *
 * @param stats The server's stats.
 * @param keyed Whether the server has a key: adds the sealing counters.
 * @returns The counters.
 *
 * @example Usage
 * ```ts
 * import { viewerCounters } from "./viewer_flag.ts";
 * const counters = viewerCounters({
 *   frames: 3, decoded: 3, errors: 0, dropped: 1, skipped: 0, bytes: 900,
 *   lost: 1, late: 0, counters: { recoveredNack: 2 }, latency: undefined,
 * }, false);
 * console.log(counters.recoveredNack, counters.latency); // 2 null
 * ```
 */
export function viewerCounters(
  stats: Pick<
    ServerStats,
    | "frames"
    | "decoded"
    | "dropped"
    | "errors"
    | "skipped"
    | "bytes"
    | "lost"
    | "late"
    | "counters"
    | "latency"
  >,
  keyed: boolean,
): ViewerCounters {
  const counters = stats.counters;
  return {
    frames: stats.frames,
    decoded: stats.decoded,
    dropped: stats.dropped,
    errors: stats.errors,
    skipped: stats.skipped,
    bytes: stats.bytes,
    lost: stats.lost,
    late: stats.late,
    recoveredNack: counters.recoveredNack ?? 0,
    recoveredFec: counters.recoveredFec ?? 0,
    ...(keyed && {
      unauthenticated: counters.unauthenticated ?? 0,
      replayed: counters.replayed ?? 0,
      refused: counters.refused ?? 0,
    }),
    latency: stats.latency === undefined ? null : {
      p50Ms: stats.latency.p50Ms,
      p99Ms: stats.latency.p99Ms,
      estimated: stats.latency.estimated,
    },
  };
}

/** Options for {@linkcode startViewer}. */
export interface StartViewerOptions {
  /** The address to serve on (`--view-host`). */
  hostname: string;
  /** The port (`--view`); 0 picks a free one. */
  port: number;
  /** Take a free port if this one is in use (`--demo` with no `--view`). */
  fallBack: boolean;
  /** The token (`--view-token`); a random one when not given. */
  token?: string | undefined;
  /** No token beyond loopback (`--view-open`). */
  open: boolean;
  /** Whether the server has a key: the viewer shows the sealing counters. */
  keyed: boolean;
  /** Makes JPEG of PNG frames for the page. */
  transcode?: ViewerOptions["transcode"];
}

/**
 * Starts a viewer for a running server: its counters, each sender's link
 * figures, and hints that name the server's ports.
 *
 * @param server The running server.
 * @param options Where to serve, and how.
 * @returns The viewer.
 * @throws {Error} With one line naming `--view` for a port in use, or
 * `--view-host` otherwise.
 *
 * @example Usage
 * ```ts
 * import { startViewer } from "./viewer_flag.ts";
 * import { FrameServer } from "../server/server.ts";
 * const server = await FrameServer.listen({ port: 0, messagePort: 0, decoder: "none" });
 * const viewer = await startViewer(server, {
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   fallBack: false,
 *   open: false,
 *   keyed: false,
 * });
 * console.log(viewer.openUrl.startsWith("http://127.0.0.1:")); // true
 * await viewer.close();
 * await server.close();
 * ```
 */
export async function startViewer(
  server: FrameServer,
  options: StartViewerOptions,
): Promise<Viewer> {
  const { hostname, port, token, keyed } = options;
  const image = server.imageAddr;
  const msg = server.messageAddr;
  try {
    return await listenOrFallBack(
      options.fallBack,
      (free) =>
        Promise.resolve().then(() =>
          new Viewer({
            hostname,
            port: free ? 0 : port,
            ...(token !== undefined && { token }),
            open: options.open,
            counters: () => viewerCounters(server.stats, keyed),
            linkStats: (sender) => server.senderStats(sender),
            ...(options.transcode !== undefined &&
              { transcode: options.transcode }),
            frameHint: `deno task client --port ${image.port}`,
            ...(msg !== undefined && {
              messageHint:
                `deno task msg --port ${msg.port} --data '{"hello":"world"}'`,
            }),
          })
        ),
    );
  } catch (error) {
    if (/in use/i.test(errorLine(error))) {
      throw new Error(`${errorLine(error)} (--view ${port})`, {
        cause: error,
      });
    }
    throw new Error(
      `Cannot start the viewer on ${hostname}:${port}: ${
        errorLine(error)
      }; check --view-host`,
      { cause: error },
    );
  }
}
