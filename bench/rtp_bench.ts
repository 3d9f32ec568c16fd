/**
 * RTP/JPEG senders side by side: udpimg's (`client.ts --protocol rtp`)
 * against GStreamer's `rtpjpegpay`, each into the same GStreamer receiver
 * (`udpsrc ! rtpjpegdepay ! jpegdec ! fakesink`), with pre-encoded frames.
 * For each sender it finds the fastest paced rate at which the receiver
 * decodes at least 99% of frames (the search of `gstreamer.ts`: a flood
 * run, then paced runs stepping by 25% and bisecting), and prints a
 * markdown table with the ratio.
 *
 * ```sh
 * deno run -P=bench bench/rtp_bench.ts                 # 1280x720, about 1-2 minutes
 * deno run -P=bench bench/rtp_bench.ts --seconds 2 --attempts 5 --rounds 2
 * ```
 *
 * @module
 */

import { choiceFlag, intFlag, numberFlag } from "../lib/cli/cli.ts";
import { benchMain } from "./_cli.ts";
import {
  type GStreamerResult,
  gstreamerSender,
  type RtpSender,
  runGStreamer,
} from "./gstreamer.ts";
import { Peer, PeerError } from "./_process.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/**
 * udpimg's sender: the client, which spreads each frame's packets over 80%
 * of the frame interval in bursts of 8; flooding, at 1000 frames/s.
 *
 * @param job What to send.
 *
 * @example Ten frames at 30 frames/s
 * ```ts ignore
 * import { udpimgSender } from "./rtp_bench.ts";
 * await udpimgSender({ file: "f.jpg", fileBytes: 50000, width: 640, height: 480, port: 5004, frames: 10, rate: 30 });
 * ```
 */
export async function udpimgSender(
  job: Parameters<RtpSender>[0],
): Promise<void> {
  const rate = job.rate ?? 1000;
  const peer = new Peer(Deno.execPath(), [
    "run",
    "-q",
    "-P",
    `${ROOT}client.ts`,
    "--protocol",
    "rtp",
    "--port",
    String(job.port),
    "--count",
    String(job.frames),
    "--fps",
    String(Math.round(rate)),
    "--quiet",
    job.file,
  ], { cwd: ROOT });
  const status = await peer.wait(15_000 + 2000 * job.frames / rate);
  if (!status.success) {
    throw new PeerError(
      `udpimg client failed with exit code ${status.code}: ${peer.stderrTail()}`,
    );
  }
}

/** Options for {@linkcode runRtpBench}. */
export interface RtpBenchOptions {
  /** The frame, a baseline JPEG. */
  file: string;
  /** Its width. */
  width: number;
  /** Its height. */
  height: number;
  /** Seconds per paced run. @default {2} */
  seconds?: number;
  /** Paced runs per search at most. @default {6} */
  attempts?: number;
  /** Searches per sender, alternating, to see the noise. @default {1} */
  rounds?: number;
}

/** One sender's searches. */
export interface RtpBenchRow {
  /** The sender's name. */
  readonly name: string;
  /** One search per round. */
  readonly results: readonly GStreamerResult[];
}

/**
 * Runs the searches for both senders, alternating them round by round.
 *
 * @param options The frame and the length of the search.
 * @returns One row per sender.
 *
 * @example A short comparison
 * ```ts ignore
 * import { runRtpBench } from "./rtp_bench.ts";
 * const rows = await runRtpBench({ file: "bench/frames/photo_1280x720.jpg", width: 1280, height: 720 });
 * console.log(rows.map((r) => r.results[0]?.best?.fps));
 * ```
 */
export async function runRtpBench(
  options: RtpBenchOptions,
): Promise<RtpBenchRow[]> {
  const senders: [string, RtpSender][] = [
    ["udpimg client.ts --protocol rtp", udpimgSender],
    ["GStreamer rtpjpegpay", gstreamerSender],
  ];
  const rows = senders.map(([name]) => ({
    name,
    results: [] as GStreamerResult[],
  }));
  for (let round = 0; round < (options.rounds ?? 1); round++) {
    for (let i = 0; i < senders.length; i++) {
      rows[i]!.results.push(
        await runGStreamer(options.file, {
          width: options.width,
          height: options.height,
          seconds: options.seconds ?? 2,
          maxAttempts: options.attempts ?? 6,
          maxStartRate: 300,
          sender: senders[i]![1],
        }),
      );
    }
  }
  return rows;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The rows as a markdown table, with the ratio of each sender's best paced
 * rate to the last row's (GStreamer's).
 *
 * @param rows From {@linkcode runRtpBench}.
 * @returns Markdown.
 */
export function rtpBenchTable(rows: readonly RtpBenchRow[]): string {
  const best = (row: RtpBenchRow) =>
    median(row.results.map((r) => r.best?.fps ?? 0));
  const reference = best(rows.at(-1)!);
  const lines = [
    "| sender | best paced fps, ≥ 99% decoded | each round | flood: decoded fps, loss | ratio |",
    "| --- | ---: | --- | --- | ---: |",
  ];
  for (const row of rows) {
    const fps = best(row);
    const rounds = row.results.map((r) => (r.best?.fps ?? 0).toFixed(0))
      .join(", ");
    const flood = row.results.map((r) =>
      `${r.flood.fps.toFixed(0)}, ${(r.flood.loss * 100).toFixed(0)}%`
    ).join("; ");
    lines.push(
      `| ${row.name} | ${fps.toFixed(1)} | ${rounds} | ${flood} | ${
        reference > 0 ? (fps / reference).toFixed(2) : "-"
      }× |`,
    );
  }
  return lines.join("\n");
}

const HELP = `Usage: deno run -P=bench bench/rtp_bench.ts [options]

The fastest paced rate with >= 99% of frames decoded by GStreamer's
receiver, udpimg's RTP/JPEG sender against rtpjpegpay, as markdown.

Options:
  --size WxH       the frame in bench/frames/: 1280x720 (default), 640x480
                   or 1920x1080
  --seconds S      seconds per paced run (default 2)
  --attempts N     paced runs per search at most (default 6)
  --rounds N       searches per sender, alternating (default 1)
  --help           show this help`;

if (import.meta.main) {
  await benchMain(HELP, {
    size: { type: "string" },
    seconds: { type: "string" },
    attempts: { type: "string" },
    rounds: { type: "string" },
  }, async (values) => {
    const size = choiceFlag("size", values.size, [
      "1280x720",
      "640x480",
      "1920x1080",
    ]);
    const seconds = numberFlag("seconds", values.seconds, 2, {
      min: 0.5,
      max: 600,
      unit: "seconds",
    });
    const attempts = intFlag("attempts", values.attempts, 6, {
      min: 1,
      max: 50,
    });
    const rounds = intFlag("rounds", values.rounds, 1, { min: 1, max: 50 });
    const [width, height] = size.split("x").map(Number) as [number, number];
    const file = `${ROOT}bench/frames/photo_${size}.jpg`;
    const rows = await runRtpBench({
      file,
      width,
      height,
      seconds,
      attempts,
      rounds,
    });
    console.log(`RTP/JPEG senders into GStreamer's receiver, ${size}:\n`);
    console.log(rtpBenchTable(rows));
    for (const row of rows) {
      for (const result of row.results) {
        console.log(
          `${row.name}: paced runs ${
            result.paced.map((r) =>
              `${r.rate}/s→${r.fps.toFixed(0)} (${(r.loss * 100).toFixed(1)}%)`
            ).join(", ")
          }`,
        );
      }
    }
  });
}
