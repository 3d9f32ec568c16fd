/**
 * Capture benchmark: the client's CPU per frame for a 1280×720, 30 fps
 * MJPEG source, forwarded as it is (MJPEG passthrough, `-c:v copy`) and
 * decoded and re-encoded by ffmpeg (`--camera-format raw`), as markdown.
 *
 * The source is a 720p30 MJPEG file that ffmpeg makes from the benchmark
 * photo; `client.ts --video FILE` reads it in real time (`-re`), as a
 * camera delivers, and sends it to `server.ts --decoder none`. CPU is the
 * user and system time of the client and its ffmpeg, which the client
 * reaps: the `times` of a shell that runs only the client. A one-frame run
 * measures start-up, which is taken off, so that the figure is per
 * streamed frame.
 *
 * ```sh
 * deno run -P=bench bench/capture_bench.ts            # 10 s per run, 3 runs
 * deno run -P=bench bench/capture_bench.ts --quick    # 4 s, 1 run
 * ```
 *
 * @module
 */

import { benchMain } from "./_cli.ts";
import { freeUdpPort, lastSummary, Peer, PeerError } from "./_process.ts";
import { framePath } from "./make_frames.ts";
import { median } from "./_report.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Options for {@linkcode runCaptureBench}. */
export interface CaptureBenchOptions {
  /** 4-second runs, one of each, instead of 10-second runs, three of each. @default {false} */
  quick?: boolean;
}

interface Sample {
  cpuSeconds: number;
  frames: number;
  bytes: number;
}

async function makeClip(dir: string, seconds: number): Promise<string> {
  const clip = `${dir}/clip_1280x720_30.avi`;
  const { success, stderr } = await new Deno.Command("ffmpeg", {
    args: [
      ...["-hide_banner", "-loglevel", "error", "-nostdin", "-y"],
      ...["-loop", "1", "-framerate", "30", "-i", framePath(1280, 720)],
      // A slow pan, so that frames differ as a camera's do.
      ...["-vf", "crop=1240:698:20+20*sin(t):11+11*cos(t),scale=1280:720"],
      ...["-t", String(seconds), "-r", "30", "-c:v", "mjpeg", "-q:v", "4"],
      ...["-pix_fmt", "yuvj420p", clip],
    ],
  }).output();
  if (!success) {
    throw new PeerError(
      `Cannot make the 720p30 MJPEG clip: ${new TextDecoder().decode(stderr)}`,
    );
  }
  return clip;
}

/** Runs the client alone in a shell and reads the shell's children's CPU time. */
async function runClient(
  port: number,
  clip: string,
  format: "auto" | "raw",
  count: number | undefined,
): Promise<Sample> {
  const client = [
    Deno.execPath(),
    ...["run", "-q", "-P", `${ROOT}client.ts`, "--quiet"],
    ...["--port", String(port), "--video", clip, "--camera-format", format],
    ...(count === undefined ? [] : ["--count", String(count)]),
  ].map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(" ");
  // `times` prints the shell's own times, then its children's: the client
  // and, reaped by it, its ffmpeg.
  const peer = new Peer("bash", ["-c", `${client}; times`], { cwd: ROOT });
  const status = await peer.wait(120_000);
  if (!status.success) {
    throw new PeerError(`The client failed: ${peer.stderrTail()}`);
  }
  const summary = lastSummary(peer, "frames");
  const times = peer.lines.at(-1)?.text ?? "";
  const match = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(times);
  if (summary === undefined || match === null) {
    throw new PeerError(`Cannot read the client's summary or times: ${times}`);
  }
  const [, um, us, sm, ss] = match.map(Number) as number[];
  return {
    cpuSeconds: um! * 60 + us! + sm! * 60 + ss!,
    frames: summary.frames ?? 0,
    bytes: summary.bytes ?? 0,
  };
}

/**
 * Measures the client's CPU per frame with MJPEG passthrough and with
 * re-encoding, and returns a markdown table.
 *
 * @param options Quick or full.
 * @returns The markdown.
 */
export async function runCaptureBench(
  options: CaptureBenchOptions = {},
): Promise<string> {
  const seconds = options.quick ? 4 : 10;
  const runs = options.quick ? 1 : 3;
  const dir = await Deno.makeTempDir({ prefix: "udpimg_capture_bench_" });
  const port = freeUdpPort();
  const server = new Peer(Deno.execPath(), [
    ...["run", "-q", "-P", `${ROOT}server.ts`, "--quiet", "--decoder", "none"],
    ...["--port", String(port), "--msg-port", "0"],
  ], { cwd: ROOT });
  try {
    await server.waitFor(/^ready image=/, 30_000);
    const clip = await makeClip(dir, seconds);
    const modes = [
      { name: "passthrough (`-c:v copy`)", format: "auto" as const },
      {
        name: "re-encode (`--camera-format raw`, q:v 3)",
        format: "raw" as const,
      },
    ];
    const perFrame = new Map<string, number[]>();
    const startup = new Map<string, number[]>();
    const frames = new Map<string, number[]>();
    const bytes = new Map<string, number[]>();
    // Round-robin, so that a burst of load from other jobs hits both alike.
    for (let run = 0; run < runs; run++) {
      for (const mode of modes) {
        const one = await runClient(port, clip, mode.format, 1);
        const all = await runClient(port, clip, mode.format, undefined);
        const streamed = Math.max(1, all.frames - 1);
        const push = (map: Map<string, number[]>, value: number) =>
          map.set(mode.name, [...(map.get(mode.name) ?? []), value]);
        push(perFrame, (all.cpuSeconds - one.cpuSeconds) / streamed * 1000);
        push(startup, one.cpuSeconds * 1000);
        push(frames, all.frames);
        push(bytes, all.bytes / Math.max(1, all.frames));
      }
    }
    const rows = modes.map((mode) => {
      const ms = median(perFrame.get(mode.name)!);
      return {
        name: mode.name,
        ms,
        startup: median(startup.get(mode.name)!),
        frames: median(frames.get(mode.name)!),
        bytes: median(bytes.get(mode.name)!),
      };
    });
    const [copy, encode] = rows as [typeof rows[0], typeof rows[0]];
    return [
      "| client (1280x720 MJPEG at 30 fps) | CPU ms/frame | % of a core at 30 fps | start-up CPU ms | frames sent | bytes/frame |",
      "| --- | --: | --: | --: | --: | --: |",
      ...rows.map((r) =>
        `| ${r.name} | ${r.ms.toFixed(2)} | ${(r.ms * 30 / 10).toFixed(1)} | ${
          r.startup.toFixed(0)
        } | ${r.frames} | ${r.bytes.toFixed(0)} |`
      ),
      "",
      `Re-encoding costs ${
        (encode.ms / copy.ms).toFixed(1)
      }× the CPU of passthrough per frame. Medians of ${runs} run(s) of ${seconds} s each; CPU is user + system of the client and its ffmpeg (bash \`times\`), less a one-frame run's start-up, per frame sent.`,
    ].join("\n");
  } finally {
    await server.stop("SIGTERM");
    await Deno.remove(dir, { recursive: true });
  }
}

const HELP = `Usage: deno run -P=bench bench/capture_bench.ts [options]

Client CPU per frame for a 720p30 MJPEG source, passthrough against
re-encoding, as markdown.

Options:
  --quick   4 s per run, 1 run (default 10 s, 3 runs)
  --help    show this help`;

if (import.meta.main) {
  await benchMain(HELP, {
    quick: { type: "boolean", default: false },
  }, async (values) => {
    console.log(await runCaptureBench({ quick: values.quick }));
  });
}
