/**
 * The benchmark: frames per second and MB/s of the tutorial's Python pair,
 * of GStreamer RTP/JPEG and of our server and client, on loopback, at three
 * frame sizes, as a markdown table.
 *
 * ```sh
 * deno task bench            # medians of 5 runs
 * deno task bench --quick    # one run each, under two minutes
 * deno run -P=bench bench/run.ts --sizes 640x480 --peers tutorial,ours --out /tmp/bench.md
 * ```
 *
 * fps is measured on the client side for every peer: frames over the time
 * from the first send to the last reply (stop-and-wait). GStreamer has no
 * reply, so its row is the fastest paced rate whose frames the receiver
 * decodes with at most 1% loss (see `gstreamer.ts`). Peak RSS is the
 * server's (receiver's) VmHWM, read just before it is stopped.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { runGStreamer } from "./gstreamer.ts";
import {
  commandOutput,
  commandWorks,
  lastSummary,
  Peer,
  PeerError,
} from "./_process.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const PYTHON = "/usr/bin/python3";
const SIZES = ["640x480", "1280x720", "1920x1080"] as const;
const QUALITY = 95;

const HELP = `Usage: deno run -P=bench bench/run.ts [options]

Options:
  --quick           one run per row and short GStreamer runs (under 2 minutes)
  --runs K          runs per row; the table shows medians (default 5, quick 1)
  --frames N        frames per stop-and-wait run (default 300, quick 60)
  --sizes LIST      frame sizes, comma-separated (default ${SIZES.join(",")})
  --peers LIST      tutorial,tutorial-rcvbuf,gstreamer,ours (default all)
  --out FILE        also write the markdown to FILE
  --help            show this help`;

/** One frame size's input files. */
interface Frame {
  readonly size: string;
  readonly width: number;
  readonly height: number;
  /** The photo the clients read. */
  readonly photo: string;
  /** The photo as OpenCV encodes it at quality 95: what the tutorial client sends. */
  readonly q95: string;
  readonly q95Bytes: number;
  /** Where the photo came from, for the notes. */
  readonly origin: string;
}

/** One stop-and-wait or GStreamer measurement. */
interface Run {
  readonly fps: number;
  readonly bytesPerFrame: number;
  readonly mbPerSecond: number;
  readonly frames: number;
  readonly lost: number;
  readonly peakRssBytes: number | undefined;
  /** Frames the server could not decode: junk after losing sync. */
  readonly undecodable?: number;
  /** Details for the notes column. */
  readonly note?: string;
}

/** A table row: medians over runs, or why there are none. */
interface Row {
  readonly peer: string;
  readonly size: string;
  readonly runs: readonly Run[];
  readonly error?: string;
}

interface Settings {
  readonly runs: number;
  readonly frames: number;
  readonly quick: boolean;
}

function log(message: string): void {
  console.error(message);
}

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? sorted[mid] as number
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
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
    let q95 = photo;
    if (haveOpenCv) {
      q95 = `${tmp}/q95_${size}.jpg`;
      const script =
        "import cv2,sys;ok,b=cv2.imencode('.jpg',cv2.imread(sys.argv[1]),[cv2.IMWRITE_JPEG_QUALITY,int(sys.argv[3])]);open(sys.argv[2],'wb').write(b.tobytes())";
      const done = await commandWorks(PYTHON, [
        "-c",
        script,
        photo,
        q95,
        String(QUALITY),
      ]);
      if (!done) q95 = photo;
    }
    frames.push({
      size,
      width,
      height,
      photo,
      q95,
      q95Bytes: (await Deno.stat(q95)).size,
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
    const seconds = result.seconds ?? 0;
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
 * The tutorial's pair: the Python server decodes every frame with OpenCV;
 * the client reads the photo once and re-encodes it at quality 95 for every
 * frame, as the tutorial does with each camera frame. With
 * `receiveBufferBytes` the server asks for that SO_RCVBUF, which the
 * tutorial does not; 0 keeps the OS default.
 */
function runTutorial(
  frame: Frame,
  settings: Settings,
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
        "--quality",
        String(QUALITY),
        "--timeout",
        "2",
        "--quiet",
      ],
    }),
    60_000 + settings.frames * 1000,
  );
}

// ---------------------------------------------------------------------------
// OUR ROW: plug our server and client in here.
// ---------------------------------------------------------------------------

/**
 * Our pair, on the same terms as the tutorial's: `server.ts` decodes every
 * frame (`--decoder auto`), `client.ts` re-encodes the photo at quality 95
 * for every frame and waits for each reply.
 */
function runOurs(frame: Frame, settings: Settings): Promise<Run> {
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
        "--encode",
        "jpg",
        "--quality",
        String(QUALITY),
        "--quiet",
      ],
    }),
    60_000 + settings.frames * 1000,
  );
}

async function runGStreamerRow(
  frame: Frame,
  settings: Settings,
): Promise<Run> {
  const result = await runGStreamer(frame.q95, {
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
    bytesPerFrame: frame.q95Bytes,
    mbPerSecond: best.fps * frame.q95Bytes / 1e6,
    frames: best.decoded,
    lost: best.sent - best.decoded,
    peakRssBytes: best.peakRssBytes,
    note: `paced at ${best.rate} fps; ${flood}`,
  };
}

type Runner = (frame: Frame, settings: Settings) => Promise<Run>;

interface PeerSpec {
  /** The name for --peers. */
  readonly key: string;
  /** The name in the table. */
  readonly name: string;
  readonly runner: Runner;
  readonly runs: number;
  /** Why it cannot run here, if it cannot. */
  readonly missing: string | undefined;
}

const TUTORIAL = "tutorial (Python)";
const TUTORIAL_RCVBUF = "tutorial + 4 MiB SO_RCVBUF";
const GSTREAMER = "GStreamer RTP/JPEG";
const OURS = "ours";

async function measure(
  peer: string,
  frame: Frame,
  runner: Runner,
  runs: number,
  settings: Settings,
): Promise<Row> {
  const results: Run[] = [];
  for (let k = 0; k < runs; k++) {
    log(`${peer} ${frame.size}: run ${k + 1} of ${runs}`);
    try {
      const run = await runner(frame, settings);
      log(
        `  ${run.fps.toFixed(1)} fps, ${run.mbPerSecond.toFixed(1)} MB/s${
          run.lost ? `, ${run.lost} lost` : ""
        }`,
      );
      results.push(run);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`  failed: ${message}`);
      return { peer, size: frame.size, runs: results, error: message };
    }
  }
  return { peer, size: frame.size, runs: results };
}

function formatBytes(bytes: number | undefined): string {
  return bytes === undefined ? "?" : `${(bytes / (1 << 20)).toFixed(0)} MiB`;
}

function rowFps(rows: readonly Row[], peer: string, size: string): number {
  const row = rows.find((r) => r.peer === peer && r.size === size);
  return row && !row.error ? median(row.runs.map((r) => r.fps)) : Number.NaN;
}

function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0
    ? `${(a / b).toFixed(2)}×`
    : "–";
}

function fmt(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "–";
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

function markdown(
  rows: readonly Row[],
  frames: readonly Frame[],
  settings: Settings,
  header: readonly string[],
  command: string,
): string {
  const lines: string[] = [];
  lines.push(
    `| Peer | Frame | Bytes/frame | fps (median) | MB/s | Lost | Server peak RSS | Notes |`,
  );
  lines.push("|---|---|---:|---:|---:|---:|---:|---|");
  for (const row of rows) {
    if (row.error !== undefined) {
      lines.push(
        `| ${row.peer} | ${row.size} | | – | – | | | ${
          row.error.replaceAll("|", "\\|")
        } |`,
      );
      continue;
    }
    const fps = median(row.runs.map((r) => r.fps));
    const mb = median(row.runs.map((r) => r.mbPerSecond));
    const lost = row.runs.reduce((sum, r) => sum + r.lost, 0);
    const sent = row.runs.reduce((sum, r) => sum + r.frames, 0);
    const rss = Math.max(...row.runs.map((r) => r.peakRssBytes ?? 0));
    const notes: string[] = [];
    const desynced = row.runs.filter((r) => (r.undecodable ?? 0) > 0);
    if (desynced.length > 0) {
      notes.push(
        `server lost sync in ${desynced.length} of ${row.runs.length} runs (${
          desynced.reduce((sum, r) => sum + (r.undecodable ?? 0), 0)
        } undecodable frames)`,
      );
    }
    const typical = [...row.runs].sort((a, b) => a.fps - b.fps)[
      Math.floor(row.runs.length / 2)
    ];
    if (typical?.note !== undefined) notes.push(`median run: ${typical.note}`);
    const bytes = median(row.runs.map((r) => r.bytesPerFrame));
    lines.push(
      `| ${row.peer} | ${row.size} | ${Math.round(bytes)} | ${fmt(fps)} | ${
        fmt(mb)
      } | ${lost}/${sent} | ${formatBytes(rss || undefined)} | ${
        notes.join("; ")
      } |`,
    );
  }
  const ratios = [
    "| Frame | ours fps | tutorial fps | tutorial + rcvbuf fps | GStreamer fps | ours/tutorial | ours/(tutorial + rcvbuf) | ours/GStreamer |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const frame of frames) {
    const ours = rowFps(rows, OURS, frame.size);
    const tutorial = rowFps(rows, TUTORIAL, frame.size);
    const tuned = rowFps(rows, TUTORIAL_RCVBUF, frame.size);
    const gst = rowFps(rows, GSTREAMER, frame.size);
    ratios.push(
      `| ${frame.size} | ${fmt(ours)} | ${fmt(tutorial)} | ${fmt(tuned)} | ${
        fmt(gst)
      } | ${ratio(ours, tutorial)} | ${ratio(ours, tuned)} | ${
        ratio(ours, gst)
      } |`,
    );
  }
  return [
    "## Results",
    "",
    ...header,
    `- Command: \`${command}\``,
    `- Medians of ${settings.runs} run(s) per row (GStreamer: ${
      Math.min(settings.runs, 3)
    }), ${settings.frames} frames per stop-and-wait run; loopback (127.0.0.1)`,
    "",
    ...lines,
    "",
    ...ratios,
    "",
    "Frames:",
    ...frames.map((f) =>
      `- ${f.size}: ${f.origin}; OpenCV quality ${QUALITY}: ${f.q95Bytes} bytes`
    ),
    "",
    "fps is frames over the time from the first send to the last reply, measured by the client, counting only frames the server decoded (so stale replies from a server that lost sync do not count). The tutorial client re-encodes the photo at quality 95 for every frame and its server decodes every frame; ours does the same (`--encode jpg --quality 95`, `--decoder auto`). GStreamer has no reply to wait for: its fps is the fastest paced rate (udpsink sync=true) at which the receiver decoded at least 99% of frames, measured at the receiver; it sends OpenCV's quality-95 bytes and does not encode per frame. Peak RSS is the server's (receiver's) VmHWM.",
    "",
    "Lost counts frames sent but not decoded by the server: no reply within 2 s (the tutorial client then moves on; ours retries) or swallowed by a server that lost sync. The tutorial's server never resynchronises after a lost datagram: it fills the frame with the next frame's header and chunks, then takes each remaining 1024-byte chunk for a whole image, fails to decode it and still replies, so one lost datagram shows up as hundreds of undecodable frames and stale replies. With the OS default receive buffer (208 KiB here) a burst of 1024-byte datagrams larger than about 100 of them can overflow it whenever the server is late to read; the `tutorial + 4 MiB SO_RCVBUF` row is the same Python code with a larger buffer, which the tutorial does not set.",
    "",
  ].join("\n");
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      runs: { type: "string" },
      frames: { type: "string" },
      sizes: { type: "string" },
      peers: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const quick = values.quick ?? false;
  const settings: Settings = {
    quick,
    runs: positive("--runs", values.runs, quick ? 1 : 5),
    frames: positive("--frames", values.frames, quick ? 60 : 300),
  };
  const sizes = values.sizes?.split(",").map((s) => s.trim()) ?? [...SIZES];
  for (const size of sizes) {
    if (!/^\d+x\d+$/.test(size)) {
      throw new RangeError(
        `Cannot use frame size "${size}": expected WxH, such as 640x480`,
      );
    }
  }
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
      name: TUTORIAL,
      runner: runTutorial,
      runs: settings.runs,
      missing: haveOpenCv ? undefined : noOpenCv,
    },
    {
      key: "tutorial-rcvbuf",
      name: TUTORIAL_RCVBUF,
      runner: (frame, s) => runTutorial(frame, s, 4 << 20),
      runs: settings.runs,
      missing: haveOpenCv ? undefined : noOpenCv,
    },
    {
      key: "gstreamer",
      name: GSTREAMER,
      runner: runGStreamerRow,
      // Each run is a search of several paced runs.
      runs: Math.min(settings.runs, 3),
      missing: haveGst
        ? undefined
        : "not run: needs gst-launch-1.0 with rtpjpegpay and jpegdec, and stdbuf (apt-get install gstreamer1.0-tools gstreamer1.0-plugins-good)",
    },
    {
      key: "ours",
      name: OURS,
      runner: runOurs,
      runs: settings.runs,
      missing: haveOurs ? undefined : "not run: server.ts or client.ts missing",
    },
  ];
  const keys = values.peers?.split(",").map((s) => s.trim()) ??
    all.map((p) => p.key);
  for (const key of keys) {
    if (!all.some((p) => p.key === key)) {
      throw new RangeError(
        `Cannot benchmark peer "${key}": choose from ${
          all.map((p) => p.key).join(", ")
        }`,
      );
    }
  }
  const chosen = all.filter((p) => keys.includes(p.key));

  const tmp = await Deno.makeTempDir({ prefix: "udpimg-bench-" });
  try {
    const frames = await prepareFrames(sizes, tmp, haveOpenCv);
    const rows: Row[] = [];
    for (const frame of frames) {
      for (const peer of chosen) {
        rows.push(
          peer.missing === undefined
            ? await measure(peer.name, frame, peer.runner, peer.runs, settings)
            : {
              peer: peer.name,
              size: frame.size,
              runs: [],
              error: peer.missing,
            },
        );
      }
    }
    const command = ["deno run -P=bench bench/run.ts", ...Deno.args].join(" ");
    const text = markdown(rows, frames, settings, await machine(), command);
    console.log(text);
    if (values.out !== undefined) await Deno.writeTextFile(values.out, text);
    return 0;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

function positive(
  flag: string,
  value: string | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(
      `Cannot use ${flag} ${value}: expected a positive integer`,
    );
  }
  return n;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`${message}; see --help`);
    Deno.exit(2);
  }
}
