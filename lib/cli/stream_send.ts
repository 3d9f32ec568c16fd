/**
 * `client.ts`'s send loop for the stream protocol: open loop, each frame
 * handed to the {@linkcode StreamClient} as the path allows (files and the
 * pattern) or as the camera gives it, with a status line on a terminal,
 * until the count, the end of the source or Ctrl-C, then the summary line
 * with the sender's figures.
 *
 * @module
 */

import { errorLine, LogLimiter, onShutdown } from "./cli.ts";
import { sendSummary } from "./send_summary.ts";
import { StreamStatusLine } from "./status_line.ts";
import type { FrameSource } from "../frame_source.ts";
import { FrameClock } from "../frame_clock.ts";
import { StreamClient, type StreamClientOptions } from "../stream/client.ts";

/** How {@linkcode streamFrames} runs. */
export interface StreamSendOptions {
  /** Frames to send at most (`Infinity` for all the source gives). */
  count: number;
  /** Frames a second at most; 0 for as fast as the path allows. */
  fps: number;
  /**
   * A camera or video: frames go as it gives them, the newest winning,
   * with no line per frame.
   */
  live: boolean;
  /** Print only the summary. */
  quiet: boolean;
}

/**
 * Connects a stream client and streams the source's frames to it, open
 * loop, printing a line per frame (files and the pattern), the sealing line
 * with a key, at most 5 warnings a second, and the summary line.
 *
 * @param source The frames.
 * @param client The stream client's options (`onNotice` and `onError` are
 * set here).
 * @param options The count, the pace, and what to print.
 * @returns Nothing; resolves when the frames are sent and the client has
 * closed, or Ctrl-C stopped it.
 *
 * @example One frame to a server on a free port
 * ```ts
 * import { streamFrames } from "./stream_send.ts";
 * import { FrameServer } from "../server/server.ts";
 * const server = await FrameServer.listen({ port: 0, messagePort: 0, decoder: "none" });
 * const frames = [{ name: "f1", bytes: new Uint8Array(5000) }];
 * try {
 *   await streamFrames({
 *     next: () => Promise.resolve(frames.shift()),
 *     dropped: 0,
 *     stop() {},
 *     [Symbol.asyncDispose]: () => Promise.resolve(),
 *   }, { port: server.imageAddr.port }, { count: 1, fps: 0, live: false, quiet: true });
 *   // frames=1 seconds=… fps=… bytes=5000 sent=… retransmitted=0 fec=0 rtt_ms=…
 * } finally {
 *   await server.close();
 * }
 * ```
 */
export async function streamFrames(
  source: FrameSource,
  client: StreamClientOptions,
  options: StreamSendOptions,
): Promise<void> {
  const { count, live, quiet } = options;
  const warnings = new LogLimiter(5, console.error);
  await using stream = await StreamClient.connect({
    ...client,
    onNotice: (text) => warnings.line(`warning: ${text}`),
    onError: (error) => warnings.line(`warning: ${errorLine(error)}`),
  });
  if (stream.sealing !== undefined && !quiet) console.log(stream.sealing);
  const stop = new AbortController();
  const { signal } = stop;
  const removeSignals = onShutdown(() => {
    stop.abort();
    source.stop();
  });
  const status = !quiet && Deno.stdout.isTerminal()
    ? new StreamStatusLine()
    : undefined;
  const ticker = status &&
    setInterval(() => status.update(stream.stats, frames), 1000);
  const clock = options.fps > 0 ? new FrameClock(options.fps) : undefined;
  const started = performance.now();
  let frames = 0;
  let bytes = 0;
  try {
    while (frames < count && !signal.aborted) {
      // A camera goes at its own pace, the newest frame winning; files and
      // the pattern go as the path allows, at --fps at most, each one whole.
      if (!live) await stream.ready(signal);
      // A camera's frame is taken once it is due, so that it is the newest;
      // a file or the pattern is read (or encoded) first, within the wait.
      if (live) await clock?.wait(signal);
      const frame = await source.next();
      if (frame === undefined || signal.aborted) break;
      if (!live) await clock?.wait(signal);
      if (signal.aborted) break;
      stream.send(frame.bytes);
      frames++;
      bytes += frame.bytes.length;
      if (!status && !quiet && !live) {
        console.log(`frame ${frames}: ${frame.bytes.length} bytes`);
      }
    }
    await stream.close({ signal });
  } finally {
    removeSignals();
    clearInterval(ticker);
    status?.end();
    warnings.flush();
  }
  const seconds = (performance.now() - started) / 1000;
  const stats = stream.stats;
  console.log(sendSummary(
    { frames, seconds, bytes, dropped: stats.framesStale + source.dropped },
    { stats, sealed: stream.sealing !== undefined },
  ));
}
