/**
 * The benchmark: frames per second and MB/s of the tutorial's Python pair,
 * of GStreamer RTP/JPEG and of our server and client, on loopback, at three
 * frame sizes and in two modes (re-encode every frame, or send pre-encoded
 * bytes), with the limits of the machine (JPEG decode rate, UDP datagram
 * rate), a datagram size sweep, the codec, struct and sealing
 * micro-benchmarks, and sealed streams against plain ones, as markdown.
 *
 * ```sh
 * deno task bench            # medians of 5 runs, about 15 minutes
 * deno task bench --quick    # one run each, 1280x720 only, under two minutes
 * deno run -P=bench bench/run.ts --sizes 640x480 --peers tutorial,ours --sections main --out /tmp/bench.md
 * ```
 *
 * fps is measured on the client side for every stop-and-wait peer: frames
 * over the time from the first send to the last reply. GStreamer has no
 * reply, so its row is the fastest paced rate whose frames the receiver
 * decodes with at most 1% loss (see `gstreamer.ts`). Peak RSS is the
 * server's (receiver's) VmHWM, read just before it is stopped.
 *
 * @module
 */

import { intFlag, type parseFlags, UsageError } from "../lib/cli/cli.ts";
import { benchMain } from "./_cli.ts";
import { runGStreamer } from "./gstreamer.ts";
import { decodeRate } from "./_limits.ts";
import {
  commandOutput,
  commandWorks,
  lastSummary,
  Peer,
  PeerError,
} from "./_process.ts";
import {
  goalSummary,
  mainTable,
  median,
  type Mode,
  MODES,
  type PeerNames,
  ratioTable,
  type Row,
  type Run,
  sweepTable,
} from "./_report.ts";
import { runUdpBench } from "./udp_bench.ts";
import { runCodecBench } from "./codec_bench.ts";
import { runStructBench } from "./struct_bench.ts";
import { runCaptureBench } from "./capture_bench.ts";
import { runCryptoBench } from "./crypto_bench.ts";
import { runSealedBench } from "./sealed_bench.ts";
import { runStreamBench } from "./stream_bench.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const PYTHON = "/usr/bin/python3";
const SIZES = ["640x480", "1280x720", "1920x1080"] as const;
const QUICK_SIZES = ["1280x720"] as const;
/** The frame size the issue states its goal for, and the sweep's. */
const GOAL_SIZE = "1280x720";
const CHUNK_SIZES = [1024, 1400, 8192, 65000] as const;
const SECTIONS = [
  "main",
  "chunks",
  "limits",
  "codec",
  "struct",
  "capture",
  "crypto",
  "sealed",
  "stream",
] as const;
type Section = typeof SECTIONS[number];
const QUALITY = 95;

const HELP = `Usage: deno run -P=bench bench/run.ts [options]

Options:
  --quick             one run per row, ${QUICK_SIZES.join(",")} only, short
                      GStreamer and limit runs, no struct or stream section
                      (under 2 minutes)
  --runs K            runs per row; the tables show medians (default 5, quick 1)
  --frames N          frames per stop-and-wait run (default 1000, quick 150)
  --sizes LIST        frame sizes, comma-separated (default ${SIZES.join(",")})
  --peers LIST        tutorial,tutorial-rcvbuf,gstreamer,ours (default all)
  --chunk-sizes LIST  datagram sizes for the sweep (default ${
  CHUNK_SIZES.join(",")
})
  --sections LIST     ${SECTIONS.join(",")} (default all, the
                      stream section about 10 minutes; quick: no struct or stream)
  --out FILE          also write the markdown to FILE
  --help              show this help`;

/** One frame size's input files. */
interface Frame {
  readonly size: string;
  readonly width: number;
  readonly height: number;
  /** The photo: what the pre-encoded clients send, and what the re-encoding clients decode once. */
  readonly photo: string;
  readonly photoBytes: number;
  /** The photo as OpenCV encodes it at quality 95: what the tutorial client sends when re-encoding. */
  readonly q95Bytes: number | undefined;
  /** Where the photo came from, for the notes. */
  readonly origin: string;
}

interface Settings {
  readonly runs: number;
  readonly frames: number;
  readonly quick: boolean;
}

function log(message: string): void {
  console.error(message);
}

function portOf(address: string | undefined): number {
  const port = Number(address?.split(":").pop());
  if (!Number.isInteger(port) || port <= 0) {
    throw new PeerError(`Cannot read a port from "${address}"`);
  }
  return port;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The photos for each size: bench/frames/photo_WxH.jpg when present,
 * otherwise cut from a test fixture with ffmpeg into a temporary directory.
 */
async function prepareFrames(
  sizes: readonly string[],
  tmp: string,
  haveOpenCv: boolean,
): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (const size of sizes) {
    const [width, height] = size.split("x").map(Number) as [number, number];
    let photo = `${ROOT}bench/frames/photo_${size}.jpg`;
    let origin = `bench/frames/photo_${size}.jpg`;
    if (!await exists(photo)) {
      photo = `${tmp}/photo_${size}.jpg`;
      origin =
        `tests/fixtures/hubble_deep_field.jpg scaled and cropped by ffmpeg (bench/frames/photo_${size}.jpg is missing)`;
      const scaled = await new Deno.Command("ffmpeg", {
        args: [
          "-loglevel",
          "error",
          "-y",
          "-i",
          `${ROOT}tests/fixtures/hubble_deep_field.jpg`,
          "-vf",
          `scale=${width}:${height}:force_original_aspect_ratio=increase,crop=${width}:${height}`,
          "-q:v",
          "2",
          photo,
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!scaled.success) {
        throw new PeerError(
          `Cannot make a ${size} frame with ffmpeg: ${
            new TextDecoder().decode(scaled.stderr).trim()
          }; add bench/frames/photo_${size}.jpg`,
        );
      }
    }
    let q95Bytes: number | undefined;
    if (haveOpenCv) {
      const q95 = `${tmp}/q95_${size}.jpg`;
      const script =
        "import cv2,sys;ok,b=cv2.imencode('.jpg',cv2.imread(sys.argv[1]),[cv2.IMWRITE_JPEG_QUALITY,int(sys.argv[3])]);open(sys.argv[2],'wb').write(b.tobytes())";
      const done = await commandWorks(PYTHON, [
        "-c",
        script,
        photo,
        q95,
        String(QUALITY),
      ]);
      if (done) q95Bytes = (await Deno.stat(q95)).size;
    }
    frames.push({
      size,
      width,
      height,
      photo,
      photoBytes: (await Deno.stat(photo)).size,
      q95Bytes,
      origin,
    });
  }
  return frames;
}

/** Runs a server and a client to completion and reads both summaries. */
async function stopAndWait(
  server: { command: string; args: string[] },
  client: (port: number) => { command: string; args: string[] },
  budgetMs: number,
): Promise<Run> {
  const serverPeer = new Peer(server.command, server.args, { cwd: ROOT });
  try {
    const ready = await serverPeer.waitFor(/ready image=(\S+)/, 30_000);
    const { command, args } = client(portOf(ready[1]));
    const clientPeer = new Peer(command, args, { cwd: ROOT });
    const status = await clientPeer.wait(budgetMs);
    const result = lastSummary(clientPeer, "fps");
    if (result === undefined || result.fps === undefined) {
      throw new PeerError(
        `The client printed no summary (exit code ${status.code}): ${clientPeer.stderrTail()}`,
      );
    }
    const peakRssBytes = await serverPeer.peakRssBytes();
    await serverPeer.stop("SIGTERM");
    const serverSummary = lastSummary(serverPeer, "frames");
    if (serverSummary === undefined) {
      throw new PeerError(
        `The server printed no summary: ${serverPeer.stderrTail()}`,
      );
    }
    // The tutorial client counts frames it sent and lost; ours counts replies.
    const sent = result.frames ?? 0;
    const lost = result.lost ?? 0;
    // Both clients print fps = replied frames / seconds, with more
    // significant digits than seconds (ours prints seconds to 0.01 s).
    const replied = sent - lost;
    const seconds = replied > 0 && (result.fps ?? 0) > 0
      ? replied / (result.fps as number)
      : result.seconds ?? 0;
    const undecodable = serverSummary.errors ?? 0;
    const decoded = serverSummary.decoded ??
      (serverSummary.frames ?? 0) - undecodable;
    // A server that lost sync answers junk "frames", which a stop-and-wait
    // client takes for replies: count only frames the server decoded.
    const good = Math.min(sent - lost, decoded);
    const bytesPerFrame = sent > 0 ? (result.bytes ?? 0) / sent : 0;
    const fps = seconds > 0 ? good / seconds : 0;
    return {
      fps,
      bytesPerFrame,
      mbPerSecond: fps * bytesPerFrame / 1e6,
      frames: sent,
      lost: sent - good,
      peakRssBytes,
      undecodable,
    };
  } finally {
    await serverPeer.stop("SIGTERM");
  }
}

/**
 * The tutorial's pair: the Python server decodes every frame with OpenCV.
 * Re-encoding, the client reads the photo once and encodes it at quality 95
 * for every frame, as the tutorial does with each camera frame; pre-encoded
 * (`--raw`), it sends the photo's bytes every frame. With
 * `receiveBufferBytes` the server asks for that SO_RCVBUF, which the
 * tutorial does not; 0 keeps the OS default.
 */
function runTutorial(
  frame: Frame,
  settings: Settings,
  mode: Mode,
  receiveBufferBytes = 0,
): Promise<Run> {
  return stopAndWait(
    {
      command: PYTHON,
      args: [
        "tests/peers/tutorial_server.py",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--msg-port",
        "0",
        "--rcvbuf",
        String(receiveBufferBytes),
        "--quiet",
      ],
    },
    (port) => ({
      command: PYTHON,
      args: [
        "tests/peers/tutorial_client.py",
        frame.photo,
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--count",
        String(settings.frames),
        ...(mode === "re-encode" ? ["--quality", String(QUALITY)] : ["--raw"]),
        "--timeout",
        "2",
        "--quiet",
      ],
    }),
    60_000 + settings.frames * 1000,
  );
}

/**
 * Our pair, on the same terms as the tutorial's: `server.ts` decodes every
 * frame (`--decoder auto`); `client.ts` re-encodes the photo at quality 95
 * for every frame (`--encode jpg --quality 95`) or sends its bytes, and
 * waits for each reply.
 */
function runOurs(
  frame: Frame,
  settings: Settings,
  mode: Mode,
  chunkSize?: number,
): Promise<Run> {
  const deno = Deno.execPath();
  return stopAndWait(
    {
      command: deno,
      args: [
        "run",
        "-P",
        "server.ts",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--msg-port",
        "0",
        "--decoder",
        "auto",
        "--quiet",
      ],
    },
    (port) => ({
      command: deno,
      args: [
        "run",
        "-P",
        "client.ts",
        frame.photo,
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--count",
        String(settings.frames),
        ...(mode === "re-encode"
          ? ["--encode", "jpg", "--quality", String(QUALITY)]
          : []),
        ...(chunkSize === undefined ? [] : ["--chunk-size", String(chunkSize)]),
        "--quiet",
      ],
    }),
    60_000 + settings.frames * 1000,
  );
}

/** GStreamer sends the photo's bytes, like the pre-encoded clients. */
async function runGStreamerRow(
  frame: Frame,
  settings: Settings,
): Promise<Run> {
  const result = await runGStreamer(frame.photo, {
    width: frame.width,
    height: frame.height,
    seconds: settings.quick ? 1 : 3,
    maxAttempts: settings.quick ? 4 : 7,
  });
  const best = result.best;
  const flood = `flood: ${result.flood.decoded}/${result.flood.sent} decoded, ${
    result.flood.fps.toFixed(0)
  } fps`;
  if (best === undefined) {
    throw new PeerError(
      `No paced rate lost under 1% (tried ${
        result.paced.map((run) => run.rate).join(", ")
      } fps; ${flood})`,
    );
  }
  return {
    fps: best.fps,
    bytesPerFrame: frame.photoBytes,
    mbPerSecond: best.fps * frame.photoBytes / 1e6,
    frames: best.decoded,
    lost: best.sent - best.decoded,
    peakRssBytes: best.peakRssBytes,
    note: `paced at ${best.rate} fps; ${flood}`,
  };
}

type Runner = (frame: Frame, settings: Settings, mode: Mode) => Promise<Run>;

interface PeerSpec {
  /** The name for --peers. */
  readonly key: string;
  /** The name in the table. */
  readonly name: string;
  readonly runner: Runner;
  readonly modes: readonly Mode[];
  readonly runs: number;
  /** Why it cannot run here, if it cannot. */
  readonly missing: string | undefined;
}

/** One row to measure: how, how often, or why not. */
interface Job {
  readonly row: Row;
  readonly runs: number;
  readonly run: () => Promise<Run>;
}

const NAMES: PeerNames = {
  tutorial: "tutorial (Python)",
  tuned: "tutorial + 4 MiB SO_RCVBUF",
  gstreamer: "GStreamer RTP/JPEG",
  ours: "ours",
};

/**
 * Runs the jobs round-robin, one run of each in turn, so that a burst of
 * load on a shared machine hits every row alike rather than one row. A row
 * that fails stops there and keeps its error.
 */
async function measureRoundRobin(jobs: readonly Job[]): Promise<void> {
  const most = Math.max(0, ...jobs.map((job) => job.runs));
  for (let k = 0; k < most; k++) {
    for (const { row, runs, run } of jobs) {
      if (row.error !== undefined || k >= runs) continue;
      const chunk = row.chunkSize === undefined
        ? ""
        : ` --chunk-size ${row.chunkSize}`;
      log(
        `${row.peer} ${row.mode} ${row.size}${chunk}: run ${k + 1} of ${runs}`,
      );
      try {
        const result = await run();
        log(
          `  ${result.fps.toFixed(1)} fps, ${
            result.mbPerSecond.toFixed(1)
          } MB/s${result.lost ? `, ${result.lost} lost` : ""}`,
        );
        row.runs.push(result);
      } catch (error) {
        row.error = errorMessage(error);
        log(`  failed: ${row.error}`);
      }
    }
  }
}

/** Decode-only frames per second through our binding, per size and handles. */
async function decodeLimits(
  frames: readonly Frame[],
  settings: Settings,
): Promise<string[]> {
  const runs = settings.quick ? 1 : 3;
  const durationMs = settings.quick ? 500 : 1000;
  const lines = [
    "| Frame | JPEG bytes | decode frames/s, 1 handle | decode frames/s, 2 handles |",
    "|---|---:|---:|---:|",
  ];
  for (const frame of frames) {
    try {
      const jpeg = await Deno.readFile(frame.photo);
      const one: number[] = [];
      const two: number[] = [];
      for (let k = 0; k < runs; k++) {
        one.push(await decodeRate(jpeg, { concurrency: 1, durationMs }));
        two.push(await decodeRate(jpeg, { concurrency: 2, durationMs }));
      }
      log(
        `decode ${frame.size}: ${median(one).toFixed(0)} and ${
          median(two).toFixed(0)
        } frames/s`,
      );
      lines.push(
        `| ${frame.size} | ${jpeg.length} | ${median(one).toFixed(0)} | ${
          median(two).toFixed(0)
        } |`,
      );
    } catch (error) {
      lines.push(
        `| ${frame.size} | | – | – (${
          errorMessage(error).replaceAll("|", "\\|")
        }) |`,
      );
    }
  }
  lines.push(
    "",
    `Medians of ${runs} run(s) of ${durationMs} ms; two decodes in flight per handle, pixels recycled. The stop-and-wait pairs decode the same bytes in pre-encoded mode.`,
  );
  return lines;
}

async function udpLimits(settings: Settings): Promise<string[]> {
  const durationMs = settings.quick ? 500 : 2000;
  try {
    log("UDP datagram rates");
    const table = await runUdpBench({ durationMs, sizes: [1024, 8192] });
    return [
      table,
      "",
      `One ${durationMs} ms window per row (\`bench/udp_bench.ts\`): a sender process blasts datagrams at a receiver in this process; native is our batched socket (recvmmsg/sendmmsg), deno is \`Deno.listenDatagram\`. The kernel drops what the receiver cannot take.`,
    ];
  } catch (error) {
    return [`Not measured: ${errorMessage(error)}`];
  }
}

async function section(
  name: string,
  body: () => Promise<string>,
): Promise<string> {
  log(name);
  try {
    return await body();
  } catch (error) {
    return `Not measured: ${errorMessage(error)}`;
  }
}

function loadAverage(): string {
  try {
    return Deno.loadavg().map((n) => n.toFixed(2)).join(", ");
  } catch {
    return "unknown";
  }
}

async function machine(): Promise<string[]> {
  const cpuinfo = await commandOutput("cat", ["/proc/cpuinfo"]) ?? "";
  const model = cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown";
  const memory = Deno.systemMemoryInfo().total;
  const python = await commandOutput(PYTHON, [
    "-c",
    "import sys,cv2;print(sys.version.split()[0], 'OpenCV', cv2.__version__)",
  ]);
  const gst = (await commandOutput("gst-launch-1.0", ["--version"]))
    ?.split("\n")[0];
  return [
    `- CPU: ${model}, ${navigator.hardwareConcurrency} cores; ${
      (memory / (1 << 30)).toFixed(1)
    } GiB RAM; Linux ${Deno.osRelease()}`,
    `- Deno ${Deno.version.deno}; Python ${python ?? "missing"}; ${
      gst ?? "GStreamer missing"
    }`,
  ];
}

function list(value: string | undefined): string[] | undefined {
  return value?.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

const FLAGS = {
  quick: { type: "boolean", default: false },
  runs: { type: "string" },
  frames: { type: "string" },
  sizes: { type: "string" },
  peers: { type: "string" },
  "chunk-sizes": { type: "string" },
  sections: { type: "string" },
  out: { type: "string" },
} as const;

async function main(
  values: ReturnType<typeof parseFlags<typeof FLAGS>>["values"],
): Promise<number> {
  const started = performance.now();
  const loadAtStart = loadAverage();
  const quick = values.quick ?? false;
  const settings: Settings = {
    quick,
    runs: intFlag("runs", values.runs, quick ? 1 : 5, { min: 1, max: 1000 }),
    frames: intFlag("frames", values.frames, quick ? 150 : 1000, {
      min: 1,
      max: 1_000_000,
    }),
  };
  const sizes = list(values.sizes) ?? [...(quick ? QUICK_SIZES : SIZES)];
  for (const size of sizes) {
    if (!/^\d+x\d+$/.test(size)) {
      throw new UsageError(
        `--sizes takes WxH sizes, such as 640x480, got '${size}'`,
      );
    }
  }
  const chunkSizes = (list(values["chunk-sizes"]) ?? CHUNK_SIZES.map(String))
    .map((value) =>
      intFlag("chunk-sizes", value, 1024, { min: 9, max: 65_507 })
    );
  const sections = list(values.sections) ??
    SECTIONS.filter((s) => !(quick && (s === "struct" || s === "stream")));
  for (const name of sections) {
    if (!(SECTIONS as readonly string[]).includes(name)) {
      throw new UsageError(
        `--sections takes ${SECTIONS.join(", ")}, got '${name}'`,
      );
    }
  }
  const want = (name: Section): boolean => sections.includes(name);
  const haveOpenCv = await commandWorks(PYTHON, ["-c", "import cv2"]);
  const haveGst = await commandWorks("gst-inspect-1.0", ["rtpjpegpay"]) &&
    await commandWorks("gst-inspect-1.0", ["jpegdec"]) &&
    await commandWorks("stdbuf", ["--version"]);
  const haveOurs = await exists(`${ROOT}server.ts`) &&
    await exists(`${ROOT}client.ts`);
  const noOpenCv =
    "not run: /usr/bin/python3 has no cv2 (apt-get install python3-opencv)";
  const all: PeerSpec[] = [
    {
      key: "tutorial",
      name: NAMES.tutorial,
      runner: (frame, s, mode) => runTutorial(frame, s, mode),
      modes: MODES,
      runs: settings.runs,
      missing: haveOpenCv ? undefined : noOpenCv,
    },
    {
      key: "tutorial-rcvbuf",
      name: NAMES.tuned,
      runner: (frame, s, mode) => runTutorial(frame, s, mode, 4 << 20),
      modes: MODES,
      runs: settings.runs,
      missing: haveOpenCv ? undefined : noOpenCv,
    },
    {
      key: "gstreamer",
      name: NAMES.gstreamer,
      runner: runGStreamerRow,
      // It never encodes: the same bytes every frame.
      modes: ["pre-encoded"],
      // Each run is a search of several paced runs.
      runs: Math.min(settings.runs, 3),
      missing: haveGst
        ? undefined
        : "not run: needs gst-launch-1.0 with rtpjpegpay and jpegdec, and stdbuf (apt-get install gstreamer1.0-tools gstreamer1.0-plugins-good)",
    },
    {
      key: "ours",
      name: NAMES.ours,
      runner: runOurs,
      modes: MODES,
      runs: settings.runs,
      missing: haveOurs ? undefined : "not run: server.ts or client.ts missing",
    },
  ];
  const keys = list(values.peers) ?? all.map((p) => p.key);
  for (const key of keys) {
    if (!all.some((p) => p.key === key)) {
      throw new UsageError(
        `--peers takes ${all.map((p) => p.key).join(", ")}, got '${key}'`,
      );
    }
  }
  const chosen = all.filter((p) => keys.includes(p.key));
  const ours = all.find((p) => p.key === "ours") as PeerSpec;

  const tmp = await Deno.makeTempDir({ prefix: "udpimg-bench-" });
  try {
    const frames = await prepareFrames(sizes, tmp, haveOpenCv);
    const text: string[] = ["## Results", ""];
    const header = await machine();

    const rows: Row[] = [];
    if (want("main")) {
      for (const frame of frames) {
        const jobs: Job[] = [];
        for (const mode of MODES) {
          for (const peer of chosen) {
            if (!peer.modes.includes(mode)) continue;
            const row: Row = {
              peer: peer.name,
              mode,
              size: frame.size,
              runs: [],
              ...(peer.missing === undefined ? {} : { error: peer.missing }),
            };
            rows.push(row);
            jobs.push({
              row,
              runs: peer.runs,
              run: () => peer.runner(frame, settings, mode),
            });
          }
        }
        await measureRoundRobin(jobs);
      }
    }

    const sweep: Row[] = [];
    const sweepFrame = frames.find((f) => f.size === GOAL_SIZE) ?? frames[0];
    if (want("chunks") && sweepFrame !== undefined) {
      const jobs = chunkSizes.map((chunkSize): Job => {
        const row: Row = {
          peer: NAMES.ours,
          mode: "pre-encoded",
          size: sweepFrame.size,
          chunkSize,
          runs: [],
          ...(ours.missing === undefined ? {} : { error: ours.missing }),
        };
        sweep.push(row);
        return {
          row,
          runs: settings.runs,
          run: () => runOurs(sweepFrame, settings, "pre-encoded", chunkSize),
        };
      });
      await measureRoundRobin(jobs);
    }

    const limits: string[] = [];
    if (want("limits")) {
      log("libjpeg-turbo decode rates");
      limits.push(...await decodeLimits(frames, settings), "");
      limits.push(...await udpLimits(settings));
    }
    const codec = want("codec")
      ? await section("codec bench", () => runCodecBench({ quick }))
      : undefined;
    const struct = want("struct")
      ? await section("struct bench", () => runStructBench())
      : undefined;
    const capture = want("capture")
      ? await section("capture bench", () => runCaptureBench({ quick }))
      : undefined;
    const sealing = want("crypto")
      ? await section("crypto bench", () => runCryptoBench({ quick }))
      : undefined;
    const sealedStream = want("sealed")
      ? await section("sealed bench", () => runSealedBench({ quick, log }))
      : undefined;
    const stream = want("stream")
      ? await section("stream bench", () => runStreamBench({ quick, log }))
      : undefined;

    const seconds = (performance.now() - started) / 1000;
    const command = ["deno task bench", ...Deno.args].join(" ");
    text.push(
      ...header,
      `- Command: \`${command}\`; ${new Date().toISOString().slice(0, 10)}`,
      `- Took ${
        (seconds / 60).toFixed(1)
      } minutes; load average (1, 5, 15 min) ${loadAtStart} at start, ${loadAverage()} at end`,
      `- Medians of ${settings.runs} run(s) per stop-and-wait row, taken round-robin across the rows of one frame size (GStreamer: ${
        Math.min(settings.runs, 3)
      } searches); ${settings.frames} frames per stop-and-wait run; loopback (127.0.0.1)`,
      "",
    );
    if (want("main")) {
      text.push(
        `### Against the tutorial and GStreamer`,
        "",
        `Goal (issue): ours at least ${3}× the tutorial's scripts in both modes at ${GOAL_SIZE}.`,
        "",
        ...goalSummary(rows, GOAL_SIZE, NAMES),
        "",
        ...ratioTable(rows, sizes, NAMES),
        "",
        "GStreamer never encodes, so it is compared with the pre-encoded mode only.",
        "",
        "### Every row",
        "",
        ...mainTable(rows),
        "",
        "Frames:",
        ...frames.map((f) =>
          `- ${f.size}: ${f.origin}, ${f.photoBytes} bytes (pre-encoded mode and GStreamer send these); OpenCV quality ${QUALITY}: ${
            f.q95Bytes ?? "?"
          } bytes (the tutorial's re-encode)`
        ),
        "",
      );
    }
    if (want("chunks") && sweepFrame !== undefined) {
      text.push(
        `### Frames/s against datagram size (ours, pre-encoded, ${sweepFrame.size})`,
        "",
        ...sweepTable(sweep),
        "",
        "Datagrams/frame counts the 8-byte header datagram.",
        "",
      );
    }
    if (want("limits")) {
      text.push("### Limits on this machine", "", ...limits, "");
    }
    if (codec !== undefined) text.push("### Codec", "", codec, "");
    if (struct !== undefined) {
      text.push(
        "### struct.pack/unpack (lib/struct) against CPython",
        "",
        struct,
        "",
      );
    }
    if (capture !== undefined) {
      text.push(
        "### Capture: MJPEG passthrough against re-encoding",
        "",
        capture,
        "",
      );
    }
    if (sealing !== undefined) {
      text.push("### Sealing (AES-256-GCM)", "", sealing, "");
    }
    if (sealedStream !== undefined) {
      text.push("### Sealed streams against plain", "", sealedStream, "");
    }
    if (stream !== undefined) {
      text.push(
        "### Stream protocol (bench/stream_bench.ts)",
        "",
        stream.replaceAll(/^### /gm, "#### "),
        "",
      );
    }
    const markdown = text.join("\n");
    console.log(markdown);
    if (values.out !== undefined) {
      await Deno.writeTextFile(values.out, markdown);
    }
    return 0;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) await benchMain(HELP, FLAGS, main);
