/**
 * The stream protocol's benchmark, in five sections, each side by side in
 * one run so that load from other jobs hits every row alike:
 *
 * - **loss**: 300 distinct 720p frames at 30 fps with a 120 ms budget
 *   through a {@linkcode LossyRelay} that loses 0, 1, 5 or 20% of datagrams
 *   each way, duplicates 1% and reorders 2%: the classic protocol
 *   (stop-and-wait), the stream protocol with NACK alone and with FEC, and
 *   SRT (ffmpeg's libsrt). It counts the frames each receiver saved byte
 *   for byte, and those it saved damaged, and draws an SVG chart.
 * - **latency**: end-to-end latency at 720p30 on loopback, decoding
 *   included, from the server's summary and from per-frame output lines,
 *   against GStreamer RTP/JPEG measured by the same lines.
 * - **capacity**: the highest paced rate with ≥ 99% of frames decoded,
 *   against GStreamer RTP/JPEG's (`gstreamer.ts`).
 * - **unpaced**: `--fps 0`, delivered rate and loss, against GStreamer's
 *   flood.
 * - **senders**: 1, 4 and 16 concurrent 720p30 streams into one server,
 *   its CPU per stream and the frames lost.
 *
 * ```sh
 * deno run -P=bench bench/stream_bench.ts                       # all sections
 * deno run -P=bench bench/stream_bench.ts --quick               # fewer frames, shorter searches
 * deno run -P=bench bench/stream_bench.ts --sections loss --svg docs/stream_loss.svg
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { LossyRelay } from "../lib/net/lossy_relay.ts";
import { JpegSplitter } from "../lib/capture/jpeg_splitter.ts";
import {
  commandWorks,
  freeUdpPort,
  lastSummary,
  Peer,
  PeerError,
} from "./_process.ts";
import {
  type ChartSeries,
  countDelivered,
  type DeliveryCount,
  frameKey,
  lossChart,
} from "./_stream_report.ts";
import { median } from "./_report.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const PHOTO = `${ROOT}bench/frames/photo_1280x720.jpg`;
const FPS = 30;
const BUDGET_MS = 120;
const LOSS_RATES = [0, 0.01, 0.05, 0.2] as const;
const DUPLICATE = 0.01;
const REORDER = 0.02;
/** The stream protocol's FEC setting: one parity datagram per K. */
const FEC_K = 4;

/** The sections, in order. */
export const SECTIONS = [
  "loss",
  "latency",
  "capacity",
  "unpaced",
  "senders",
] as const;
/** One section's name. */
export type Section = typeof SECTIONS[number];

/** Options for {@linkcode runStreamBench}. */
export interface StreamBenchOptions {
  /** Fewer frames and shorter searches. @default {false} */
  quick?: boolean;
  /** The sections to run. @default {SECTIONS} */
  sections?: readonly Section[];
  /** Where to write the loss chart, if anywhere. */
  svgPath?: string;
  /** How the markdown refers to the chart. @default {"stream_loss.svg"} */
  svgLink?: string;
  /** Where progress lines go. @default {console.error} */
  log?: (line: string) => void;
}

/** The distinct frames a run sends, as files and as one MJPEG stream. */
interface FrameSet {
  readonly files: readonly string[];
  readonly frames: readonly Uint8Array[];
  readonly mjpeg: string;
  readonly meanBytes: number;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * `count` distinct 720p JPEGs: the benchmark photo panned by a pixel a
 * frame, encoded by ffmpeg (4:2:0 baseline), so that a damaged or
 * misplaced frame cannot pass for a whole one.
 */
async function makeFrames(dir: string, count: number): Promise<FrameSet> {
  const mjpeg = `${dir}/frames.mjpeg`;
  const { success, stderr } = await new Deno.Command("ffmpeg", {
    args: [
      ...["-hide_banner", "-loglevel", "error", "-nostdin", "-y"],
      ...["-loop", "1", "-framerate", String(FPS), "-i", PHOTO],
      ...["-vf", "crop=960:540:'mod(n,320)':'mod(n,180)',scale=1280:720"],
      ...["-frames:v", String(count), "-c:v", "mjpeg", "-q:v", "3"],
      ...["-pix_fmt", "yuvj420p", "-f", "mjpeg", mjpeg],
    ],
  }).output();
  if (!success) {
    throw new PeerError(
      `Cannot make the test frames with ffmpeg: ${
        new TextDecoder().decode(stderr).trim()
      }`,
    );
  }
  const frames = new JpegSplitter().push(await Deno.readFile(mjpeg));
  const keys = new Set(frames.map(frameKey));
  if (frames.length !== count || keys.size !== count) {
    throw new PeerError(
      `ffmpeg made ${frames.length} frames (${keys.size} distinct), not ${count}`,
    );
  }
  const files: string[] = [];
  for (const [i, frame] of frames.entries()) {
    const file = `${dir}/frame_${String(i + 1).padStart(4, "0")}.jpg`;
    await Deno.writeFile(file, frame);
    files.push(file);
  }
  const meanBytes = frames.reduce((n, f) => n + f.length, 0) / frames.length;
  return { files, frames, mjpeg, meanBytes };
}

async function readDir(dir: string): Promise<Uint8Array[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile) names.push(entry.name);
  }
  names.sort();
  return await Promise.all(names.map((name) => Deno.readFile(`${dir}/${name}`)));
}

function denoRun(script: string, args: string[]): [string, string[]] {
  return [Deno.execPath(), ["run", "-q", "-P", `${ROOT}${script}`, ...args]];
}

/** A server.ts on a free port, ready. */
async function startServer(args: string[]): Promise<[Peer, number]> {
  const [command, base] = denoRun("server.ts", [
    ...["--host", "127.0.0.1", "--port", "0", "--msg-port", "0"],
    ...args,
  ]);
  const server = new Peer(command, base, { cwd: ROOT });
  const ready = await server.waitFor(/ready image=\S+:(\d+)/, 30_000);
  return [server, Number(ready[1])];
}

/** A relay in front of 127.0.0.1:`port` with the benchmark's impairments. */
function startRelay(
  port: number,
  loss: number,
  seed: number,
): Promise<LossyRelay> {
  const path = (s: number) => ({
    loss,
    duplicate: DUPLICATE,
    reorder: REORDER,
    seed: s,
  });
  return LossyRelay.start({
    target: { hostname: "127.0.0.1", port },
    forward: path(seed),
    backward: path(seed + 1),
  });
}

/** The protocols of the loss section. */
export const LOSS_PROTOCOLS = [
  "classic",
  "stream NACK",
  `stream NACK+FEC`,
  "SRT",
] as const;
type LossProtocol = typeof LOSS_PROTOCOLS[number];

/** One protocol at one loss rate. */
export interface LossRun extends DeliveryCount {
  readonly protocol: LossProtocol;
  readonly loss: number;
  readonly sent: number;
  /** Files the receiver wrote, whatever their state. */
  readonly written: number;
  readonly seconds: number;
  readonly note?: string;
  readonly error?: string;
}

/** Ours, classic or stream, through the relay into server.ts --out. */
async function runOursLossy(
  protocol: LossProtocol,
  set: FrameSet,
  loss: number,
  seed: number,
  dir: string,
): Promise<Omit<LossRun, "protocol" | "loss">> {
  const out = await Deno.makeTempDir({ dir, prefix: "out-" });
  const classic = protocol === "classic";
  const [server, port] = await startServer([
    ...["--decoder", "none", "--out", out, "--latency", String(BUDGET_MS)],
    "--quiet",
  ]);
  const relay = await startRelay(port, loss, seed);
  const wallMs = (set.frames.length / FPS) * 1000;
  const started = performance.now();
  let note = "";
  try {
    const [command, args] = denoRun("client.ts", [
      ...["--host", "127.0.0.1", "--port", String(relay.addr.port)],
      ...["--fps", String(FPS), "--quiet"],
      ...(classic
        // Stop-and-wait: a frame not answered within the budget is sent
        // again, at most 3 times, then the next.
        ? ["--timeout", String(BUDGET_MS), "--retries", "3"]
        : [
          ...["--protocol", "stream", "--latency", String(BUDGET_MS)],
          ...(protocol === "stream NACK+FEC" ? ["--fec", String(FEC_K)] : []),
        ]),
      ...set.files,
    ]);
    const client = new Peer(command, args, { cwd: ROOT });
    // Classic gets the stream's wall time and a little more, then stops.
    const limit = classic ? wallMs + 2000 : wallMs * 4 + 20_000;
    try {
      await client.wait(limit);
    } catch (error) {
      if (!classic) throw error;
      note = `stopped after ${(limit / 1000).toFixed(0)} s`;
    }
    const summary = lastSummary(client, "frames");
    if (summary !== undefined && !classic) {
      note = `sent at ${summary.fps?.toFixed(1)} fps, ${
        summary.retransmitted ?? 0
      } retransmitted, ${summary.fec ?? 0} FEC`;
    } else if (summary !== undefined) {
      note = `${summary.frames ?? 0} replies, ${summary.lost ?? 0} lost`;
    }
    // Frames still in the budget, and the last repairs.
    await new Promise((resolve) => setTimeout(resolve, BUDGET_MS * 3));
  } finally {
    await relay.close();
    await server.stop("SIGTERM");
  }
  const seconds = (performance.now() - started) / 1000;
  const received = await readDir(out);
  await Deno.remove(out, { recursive: true });
  return {
    ...countDelivered(set.frames, received),
    sent: set.frames.length,
    written: received.length,
    seconds,
    note,
  };
}

/**
 * SRT through the relay: `ffmpeg -re` reads the MJPEG file at 30 fps and
 * sends it as a caller with a 120 ms latency; an ffmpeg listener writes
 * what arrives to a file, split into frames here.
 */
async function runSrtLossy(
  set: FrameSet,
  loss: number,
  seed: number,
  dir: string,
): Promise<Omit<LossRun, "protocol" | "loss">> {
  const port = freeUdpPort();
  const out = `${dir}/srt_out_${seed}.mjpeg`;
  const latencyUs = BUDGET_MS * 1000;
  const receiver = new Peer("ffmpeg", [
    ...["-hide_banner", "-nostdin", "-y", "-loglevel", "info"],
    ...["-f", "mjpeg", "-i"],
    `srt://127.0.0.1:${port}?mode=listener&latency=${latencyUs}`,
    ...["-c", "copy", "-f", "mjpeg", out],
  ]);
  const relay = await startRelay(port, loss, seed);
  const started = performance.now();
  try {
    // The listener needs a moment to bind.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const sender = new Peer("ffmpeg", [
      ...["-hide_banner", "-nostdin", "-loglevel", "error"],
      ...["-re", "-f", "mjpeg", "-framerate", String(FPS), "-i", set.mjpeg],
      ...["-c", "copy", "-f", "mjpeg"],
      `srt://127.0.0.1:${relay.addr.port}?mode=caller&latency=${latencyUs}`,
    ]);
    const wallMs = (set.frames.length / FPS) * 1000;
    try {
      await sender.wait(wallMs * 3 + 15_000);
    } catch {
      // counted by what arrived
    }
    await receiver.wait(5000).catch(() => {});
  } finally {
    await receiver.stop("SIGINT");
    await relay.close();
  }
  const seconds = (performance.now() - started) / 1000;
  let bytes = new Uint8Array();
  try {
    bytes = await Deno.readFile(out);
  } catch {
    // nothing arrived
  }
  const splitter = new JpegSplitter();
  const received = splitter.push(bytes);
  const count = countDelivered(set.frames, received);
  return {
    ...count,
    // Frames the splitter threw away as broken are damaged too.
    corrupt: count.corrupt + splitter.stats.corrupt,
    sent: set.frames.length,
    written: received.length + splitter.stats.corrupt,
    seconds,
    note: `${bytes.length} bytes written`,
  };
}

async function measureLoss(
  set: FrameSet,
  dir: string,
  log: (line: string) => void,
): Promise<LossRun[]> {
  const runs: LossRun[] = [];
  for (const [i, loss] of LOSS_RATES.entries()) {
    for (const protocol of LOSS_PROTOCOLS) {
      const seed = 1000 * (i + 1) + 2 * LOSS_PROTOCOLS.indexOf(protocol);
      log(`stream bench: loss ${loss * 100}% ${protocol}`);
      try {
        const run = protocol === "SRT"
          ? await runSrtLossy(set, loss, seed, dir)
          : await runOursLossy(protocol, set, loss, seed, dir);
        runs.push({ protocol, loss, ...run });
        log(
          `  ${run.exact}/${run.sent} exact, ${run.corrupt} corrupt, ${run.written} written in ${
            run.seconds.toFixed(1)
          } s; ${run.note ?? ""}`,
        );
      } catch (error) {
        const message = errorMessage(error);
        log(`  failed: ${message}`);
        runs.push({
          protocol,
          loss,
          sent: set.frames.length,
          exact: 0,
          corrupt: 0,
          duplicates: 0,
          written: 0,
          seconds: 0,
          error: message,
        });
      }
    }
  }
  return runs;
}

function pct(part: number, whole: number, digits = 1): string {
  return whole > 0 ? `${(100 * part / whole).toFixed(digits)}%` : "–";
}

function lossGoals(runs: readonly LossRun[]): string[] {
  const at = (protocol: LossProtocol, loss: number) =>
    runs.find((r) => r.protocol === protocol && r.loss === loss);
  const share = (r: LossRun | undefined) =>
    r === undefined || r.error !== undefined ? NaN : r.exact / r.sent;
  const lines: string[] = [];
  for (const protocol of ["stream NACK", "stream NACK+FEC"] as const) {
    const at5 = share(at(protocol, 0.05));
    const at20 = share(at(protocol, 0.2));
    const verdict = (ok: boolean) => ok ? "**met**" : "**missed**";
    const beatsSrt = LOSS_RATES.every((loss) =>
      (at(protocol, loss)?.exact ?? -1) >= (at("SRT", loss)?.exact ?? 0)
    );
    const corrupt = runs.filter((r) => r.protocol === protocol)
      .reduce((n, r) => n + r.corrupt, 0);
    lines.push(
      `- ${protocol}: ≥ 99.5% whole at 5% loss ${verdict(at5 >= 0.995)} (${
        (100 * at5).toFixed(1)
      }%); ≥ 99% at 20% ${verdict(at20 >= 0.99)} (${
        (100 * at20).toFixed(1)
      }%); at least SRT's count at every rate ${
        verdict(beatsSrt)
      }; zero corrupt frames ${verdict(corrupt === 0)} (${corrupt})`,
    );
  }
  return lines;
}

function lossTable(runs: readonly LossRun[]): string[] {
  const lines = [
    "| loss each way | protocol | byte-exact frames | delivered | corrupt | files written | wall s | notes |",
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const r of runs) {
    lines.push(
      `| ${r.loss * 100}% | ${r.protocol} | ${r.exact}/${r.sent} | ${
        pct(r.exact, r.sent)
      } | ${r.corrupt} | ${r.written} | ${r.seconds.toFixed(1)} | ${
        (r.error ?? r.note ?? "").replaceAll("|", "\\|")
      } |`,
    );
  }
  return lines;
}

function lossSeries(runs: readonly LossRun[]): ChartSeries[] {
  return LOSS_PROTOCOLS.map((protocol) => ({
    name: protocol,
    points: runs.filter((r) => r.protocol === protocol && r.error === undefined)
      .map((r) => [r.loss * 100, (100 * r.exact) / r.sent] as const),
  }));
}

/**
 * Runs the chosen sections and returns their results as markdown.
 *
 * @param options Sections, length and where the chart goes.
 * @returns The markdown.
 *
 * @example The loss section alone, quickly
 * ```ts ignore
 * import { runStreamBench } from "./stream_bench.ts";
 * console.log(await runStreamBench({ quick: true, sections: ["loss"] }));
 * ```
 */
export async function runStreamBench(
  options: StreamBenchOptions = {},
): Promise<string> {
  const quick = options.quick === true;
  const sections = options.sections ?? SECTIONS;
  const log = options.log ?? console.error;
  const dir = await Deno.makeTempDir({ prefix: "udpimg-stream-bench-" });
  const text: string[] = [];
  try {
    if (sections.includes("loss")) {
      const count = quick ? 90 : 300;
      const set = await makeFrames(dir, count);
      const haveSrt = await commandWorks("sh", [
        "-c",
        "ffmpeg -hide_banner -protocols 2>/dev/null | grep -qx '  srt'",
      ]);
      if (!haveSrt) log("stream bench: ffmpeg has no srt protocol");
      const runs = await measureLoss(set, dir, log);
      if (options.svgPath !== undefined) {
        await Deno.writeTextFile(
          options.svgPath,
          lossChart(lossSeries(runs), {
            title:
              `${count} distinct 720p frames at ${FPS} fps, ${BUDGET_MS} ms budget`,
          }),
        );
      }
      text.push(
        "### Through loss",
        "",
        ...lossGoals(runs),
        "",
        ...lossTable(runs),
        "",
        `${count} distinct 1280×720 JPEGs (the benchmark photo panned a pixel a frame, ${
          Math.round(set.meanBytes)
        } bytes on average) at ${FPS} fps, ${BUDGET_MS} ms budget, through a LossyRelay in front of the receiver that loses the given share of datagrams each way and duplicates ${
          DUPLICATE * 100
        }% and reorders ${
          REORDER * 100
        }% each way (seeded). A frame counts when the receiver saved its exact bytes; corrupt counts saved frames that match no sent frame. classic: \`client.ts --fps ${FPS} --timeout ${BUDGET_MS} --retries 3\`, stopped after the stream's wall time + 2 s; stream: \`client.ts --protocol stream --fps ${FPS} --latency ${BUDGET_MS}\` (NACK+FEC: \`--fec ${FEC_K}\`) into \`server.ts --decoder none --out DIR --latency ${BUDGET_MS}\`; SRT: \`ffmpeg -re -f mjpeg -framerate ${FPS} -i frames.mjpeg -c copy -f mjpeg 'srt://…?mode=caller&latency=${
          BUDGET_MS * 1000
        }'\` into \`ffmpeg -f mjpeg -i 'srt://…?mode=listener&latency=${
          BUDGET_MS * 1000
        }' -c copy -f mjpeg out.mjpeg\`, split by JpegSplitter.${
          options.svgPath === undefined
            ? ""
            : ` Chart: [${options.svgLink ?? "stream_loss.svg"}](${
              options.svgLink ?? "stream_loss.svg"
            }).`
        }`,
        "",
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return text.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      sections: { type: "string" },
      svg: { type: "string" },
      out: { type: "string" },
    },
  });
  const sections = values.sections?.split(",").map((s) => s.trim());
  for (const name of sections ?? []) {
    if (!(SECTIONS as readonly string[]).includes(name)) {
      console.error(
        `error: cannot run section "${name}": choose from ${
          SECTIONS.join(", ")
        }`,
      );
      Deno.exit(2);
    }
  }
  const markdown = await runStreamBench({
    quick: values.quick,
    ...(sections !== undefined && { sections: sections as Section[] }),
    ...(values.svg !== undefined && { svgPath: values.svg }),
  });
  console.log(markdown);
  if (values.out !== undefined) await Deno.writeTextFile(values.out, markdown);
}
