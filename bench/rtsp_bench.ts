/**
 * RTSP fan-out: one 720p camera at 30 frames/s (client.ts sending a
 * pre-encoded 1280x720 JPEG, paced at 30 fps) into `server.ts --rtsp`, and
 * 1, 8 and 32 RTSP clients reading it over TCP (interleaved) and UDP. It
 * reports the server's CPU (from /proc/PID/stat, with no client as the
 * baseline) and the frames each client got.
 *
 * The clients are {@linkcode RtspClient}s in this process: they count
 * frames by their marker bits and do not decode, so that the machine's two
 * cores go to the server. `--ffmpeg N` adds a row with N ffmpeg clients
 * (`-c copy -f null`, TCP), real players that do not decode either.
 *
 * ```sh
 * deno run -P=bench bench/rtsp_bench.ts               # about a minute
 * deno run -P=bench bench/rtsp_bench.ts --seconds 3 --clients 1,8
 * ```
 *
 * @module
 */

import { choiceFlag, intFlag, numberFlag } from "../lib/cli/cli.ts";
import { benchMain } from "./_cli.ts";
import { RtspClient } from "../lib/rtsp/client.ts";
import { commandOutput, Peer } from "./_process.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const PHOTO = `${ROOT}bench/frames/photo_1280x720.jpg`;
const FPS = 30;

const HELP = `Usage: deno run -P=bench bench/rtsp_bench.ts [options]

Options:
  --seconds S      measuring window per row (default 5)
  --clients LIST   client counts (default 1,8,32)
  --transports L   tcp,udp (default both)
  --ffmpeg N       also a row with N ffmpeg clients over TCP (default 0)
  --help           show this help`;

/** One row of the table. */
export interface FanOutRow {
  /** `tcp`, `udp`, `ffmpeg tcp` or `-` for the baseline. */
  transport: string;
  /** Clients watching. */
  clients: number;
  /** The server's CPU, in percent of one core. */
  serverCpu: number;
  /** The clients' CPU (this process, or the ffmpeg processes), in percent of one core. */
  clientCpu: number;
  /** Frames a second per client: the slowest, the median, the fastest. */
  fps: [number, number, number];
  /** RTP packets the clients saw missing, all together. */
  lost: number;
}

/** CPU seconds (user + system) a process has used. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await commandOutput("cat", [`/proc/${pid}/stat`]);
  if (stat === undefined) throw new Error(`Cannot read /proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15; fields[0] is field 3.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function measure(
  pid: number,
  clientPids: number[],
  seconds: number,
  counters: () => number[],
): Promise<{ cpu: number; clientCpu: number; fps: number[] }> {
  const clients = async () => {
    let total = 0;
    for (const p of clientPids) total += await cpuSeconds(p);
    return total;
  };
  const cpu0 = await cpuSeconds(pid);
  const client0 = await clients();
  const frames0 = counters();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const cpu1 = await cpuSeconds(pid);
  const client1 = await clients();
  const frames1 = counters();
  const elapsed = (performance.now() - t0) / 1000;
  return {
    cpu: (cpu1 - cpu0) / elapsed * 100,
    clientCpu: (client1 - client0) / elapsed * 100,
    fps: frames1.map((f, i) => (f - frames0[i]!) / elapsed),
  };
}

/**
 * Runs the fan-out benchmark.
 *
 * @param options Window, client counts, transports, ffmpeg clients.
 * @returns One row per case, the baseline first.
 */
export async function runRtspBench(options: {
  seconds?: number;
  clients?: number[];
  transports?: ("tcp" | "udp")[];
  ffmpeg?: number;
} = {}): Promise<FanOutRow[]> {
  const {
    seconds = 5,
    clients = [1, 8, 32],
    transports = ["tcp", "udp"],
    ffmpeg = 0,
  } = options;
  const deno = Deno.execPath();
  const server = new Peer(deno, [
    "run",
    "-P",
    "--quiet",
    "server.ts",
    "--port",
    "0",
    "--msg-port",
    "0",
    "--rtsp",
    "0",
    "--decoder",
    "none",
    "--quiet",
  ], { cwd: ROOT });
  const rows: FanOutRow[] = [];
  let sender: Peer | undefined;
  try {
    const [, port] = await server.waitFor(/^ready image=\S+:(\d+) /, 30_000);
    const [, url] = await server.waitFor(/^rtsp: (\S+)$/, 30_000);
    sender = new Peer(deno, [
      "run",
      "-P",
      "--quiet",
      "client.ts",
      PHOTO,
      "--count",
      "1000000",
      "--fps",
      String(FPS),
      "--port",
      port!,
      "--quiet",
    ], { cwd: ROOT });
    await sleep(2000);
    const idle = await measure(server.pid, [], seconds, () => []);
    rows.push({
      transport: "-",
      clients: 0,
      serverCpu: idle.cpu,
      clientCpu: 0,
      fps: [0, 0, 0],
      lost: 0,
    });
    for (const transport of transports) {
      for (const count of clients) {
        const players: RtspClient[] = [];
        try {
          for (let i = 0; i < count; i++) {
            const player = await RtspClient.connect(url!);
            players.push(player);
            await player.play({ transport });
          }
          await sleep(1000);
          const lost0 = players.reduce((sum, p) => sum + p.lost, 0);
          const result = await measure(
            server.pid,
            [Deno.pid],
            seconds,
            () => players.map((p) => p.frames),
          );
          const fps = result.fps;
          rows.push({
            transport,
            clients: count,
            serverCpu: result.cpu,
            clientCpu: result.clientCpu,
            fps: [Math.min(...fps), median(fps), Math.max(...fps)],
            lost: players.reduce((sum, p) => sum + p.lost, 0) - lost0,
          });
        } finally {
          await Promise.allSettled(players.map(async (p) => {
            await p.teardown().catch(() => {});
            await p.close();
          }));
        }
      }
    }
    if (ffmpeg > 0) {
      rows.push(await ffmpegRow(server.pid, url!, ffmpeg, seconds));
    }
  } finally {
    await sender?.stop();
    await server.stop();
  }
  return rows;
}

/** N ffmpeg processes copying the stream to the null muxer, frames counted from -progress. */
async function ffmpegRow(
  pid: number,
  url: string,
  count: number,
  seconds: number,
): Promise<FanOutRow> {
  const players: Peer[] = [];
  const frames: number[] = new Array(count).fill(0);
  try {
    for (let i = 0; i < count; i++) {
      players.push(
        new Peer("ffmpeg", [
          "-hide_banner",
          "-loglevel",
          "error",
          "-rtsp_transport",
          "tcp",
          "-i",
          url,
          "-c",
          "copy",
          "-f",
          "null",
          "-progress",
          "pipe:1",
          "-",
        ], {
          onLine: (line) => {
            const match = /^frame=(\d+)/.exec(line.text);
            if (match) frames[i] = Number(match[1]);
          },
        }),
      );
    }
    await sleep(3000);
    const result = await measure(
      pid,
      players.map((p) => p.pid),
      seconds,
      () => [...frames],
    );
    const fps = result.fps;
    return {
      transport: "ffmpeg tcp",
      clients: count,
      serverCpu: result.cpu,
      clientCpu: result.clientCpu,
      fps: [Math.min(...fps), median(fps), Math.max(...fps)],
      lost: NaN,
    };
  } finally {
    await Promise.allSettled(players.map((p) => p.stop("SIGINT")));
  }
}

/**
 * The rows as a markdown table.
 *
 * @param rows From {@linkcode runRtspBench}.
 * @returns The table.
 */
export function fanOutTable(rows: FanOutRow[]): string {
  const lines = [
    "| transport | clients | server CPU (% of a core) | clients' CPU | fps per client (min / median / max) | packets lost |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const row of rows) {
    const fps = row.clients === 0
      ? "-"
      : row.fps.map((f) => f.toFixed(1)).join(" / ");
    lines.push(
      `| ${row.transport} | ${row.clients} | ${row.serverCpu.toFixed(1)} | ${
        row.clientCpu.toFixed(1)
      } | ${fps} | ${Number.isNaN(row.lost) ? "-" : row.lost} |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  await benchMain(HELP, {
    seconds: { type: "string" },
    clients: { type: "string" },
    transports: { type: "string" },
    ffmpeg: { type: "string" },
  }, async (values) => {
    const rows = await runRtspBench({
      seconds: numberFlag("seconds", values.seconds, 5, {
        min: 0.5,
        max: 600,
        unit: "seconds",
      }),
      clients: (values.clients ?? "1,8,32").split(",").map((count) =>
        intFlag("clients", count, 0, { min: 1, max: 256 })
      ),
      transports: (values.transports ?? "tcp,udp").split(",").map((name) =>
        choiceFlag("transports", name, ["tcp", "udp"])
      ),
      ffmpeg: intFlag("ffmpeg", values.ffmpeg, 0, { max: 64 }),
    });
    console.log(
      `RTSP fan-out: 1280x720 JPEG (${
        (await Deno.stat(PHOTO)).size
      } bytes) at ${FPS} fps into server.ts --rtsp --decoder none\n`,
    );
    console.log(fanOutTable(rows));
  });
}
