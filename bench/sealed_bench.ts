/**
 * Sealed against plain: the paced capacity of a stream protocol stream at
 * 720p, `client.ts --protocol stream --fps R` into `server.ts --decoder
 * auto` on loopback, unsealed and sealed (`--key-file`) in the same run.
 * A rate passes when the server decodes at least 99% of the frames sent,
 * at 90% of the rate or more (a client sending files slows down rather
 * than drop frames past the path's capacity);
 * each side's search steps up by 25% from a start until a rate fails, then
 * bisects to within 10%. The two searches run alternately, step by step,
 * so that both see the same load on the machine. The goal: sealed at least
 * 0.9× plain.
 *
 * ```sh
 * deno run -P=bench bench/sealed_bench.ts            # 3 s per run, 7 steps each
 * deno run -P=bench bench/sealed_bench.ts --quick    # 2 s per run, 5 steps each
 * ```
 *
 * @module
 */

import { intFlag } from "../lib/cli/cli.ts";
import { benchMain } from "./_cli.ts";
import { writeKeyFile } from "../lib/crypto/key_file.ts";
import { lastSummary, Peer, PeerError } from "./_process.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const MIN_DECODED = 0.99;
/** The share of the asked-for rate a run must reach to pass. */
const MIN_ACHIEVED = 0.9;

/** Options for {@linkcode runSealedBench}. */
export interface SealedBenchOptions {
  /** Shorter runs and fewer steps. @default {false} */
  quick?: boolean;
  /** The frame to send. @default {"bench/frames/photo_1280x720.jpg"} */
  photo?: string;
  /** The first rate tried, frames a second. @default {60} */
  startFps?: number;
  /** Where progress lines go. @default {console.error} */
  log?: (line: string) => void;
}

/** One paced run. */
export interface Step {
  /** The rate asked for, `--fps`. */
  fps: number;
  /** Frames sent. */
  sent: number;
  /** Frames the server decoded. */
  decoded: number;
  /**
   * Decoded frames over the client's time from its first frame to its
   * close: the rate reached. A stream client sending files waits for its
   * sender to be ready, so past the path's capacity it slows down rather
   * than losing frames.
   */
  achievedFps: number;
  /** At least 99% decoded at 90% of the rate or more. */
  passed: boolean;
}

/**
 * A search for the highest rate that passes: up by 25% from the start
 * until a rate fails (down by 25% until one passes), then bisecting to
 * within 10%.
 *
 * @example
 * ```ts
 * import { Search } from "./sealed_bench.ts";
 * const search = new Search(60);
 * search.record({ fps: 60, sent: 120, decoded: 120, achievedFps: 59.8, passed: true });
 * console.log(search.rate); // 75
 * ```
 */
export class Search {
  /** The runs so far. */
  readonly steps: Step[] = [];
  /** The next rate to try. */
  rate: number;
  #passed = 0;
  #failed = Infinity;
  /** Whether the search has converged. */
  done = false;

  /** @param start The first rate to try. */
  constructor(start: number) {
    this.rate = start;
  }

  /** The highest rate that passed, 0 if none. */
  get best(): number {
    return this.#passed;
  }

  /** Takes a run's outcome and picks the next rate. */
  record(step: Step): void {
    this.steps.push(step);
    if (step.passed) this.#passed = Math.max(this.#passed, step.fps);
    else this.#failed = Math.min(this.#failed, step.fps);
    if (this.#passed === 0) this.rate = Math.floor(this.rate * 0.75);
    else if (this.#failed === Infinity) this.rate = Math.ceil(this.rate * 1.25);
    else if (this.#failed / this.#passed < 1.1) this.done = true;
    else this.rate = Math.floor((this.#passed + this.#failed) / 2);
    if (this.rate < 1) this.done = true;
  }
}

/**
 * Streams `fps × seconds` frames of `photo` at `fps` into a fresh
 * `server.ts --decoder auto`; what it decoded.
 *
 * @param photo The frame.
 * @param fps The paced rate.
 * @param seconds How long the run lasts.
 * @param keyFile A key file to seal the stream with, if any.
 * @returns The step, passed when ≥ 99% were decoded.
 *
 * @example
 * ```ts ignore
 * import { pacedRun } from "./sealed_bench.ts";
 * console.log(await pacedRun("bench/frames/photo_1280x720.jpg", 60, 2, undefined));
 * ```
 */
export async function pacedRun(
  photo: string,
  fps: number,
  seconds: number,
  keyFile: string | undefined,
): Promise<Step> {
  const deno = Deno.execPath();
  const key = keyFile === undefined ? [] : ["--key-file", keyFile];
  const count = Math.max(20, Math.round(fps * seconds));
  const server = new Peer(deno, [
    "run",
    "-P",
    "server.ts",
    "--port",
    "0",
    "--msg-port",
    "0",
    "--decoder",
    "auto",
    "--count",
    String(count),
    "--quiet",
    ...key,
  ], { cwd: ROOT });
  try {
    const ready = await server.waitFor(/ready image=\S+:(\d+)/, 30_000);
    const client = new Peer(deno, [
      "run",
      "-P",
      "client.ts",
      "--protocol",
      "stream",
      "--port",
      ready[1]!,
      "--count",
      String(count),
      "--fps",
      String(fps),
      "--quiet",
      ...key,
      photo,
    ], { cwd: ROOT });
    await client.wait(60_000 + seconds * 4000);
    const clientSeconds = lastSummary(client, "seconds")?.seconds ?? 0;
    // Frames still decoding get a moment; the server exits at --count.
    await server.wait(5000).catch(() => {});
    await server.stop("SIGTERM");
    const summary = lastSummary(server, "decoded");
    if (summary === undefined) {
      throw new PeerError(
        `The server printed no summary: ${server.stderrTail()}`,
      );
    }
    const decoded = Math.min(count, summary.decoded ?? 0);
    const achievedFps = clientSeconds > 0 ? decoded / clientSeconds : 0;
    return {
      fps,
      sent: count,
      decoded,
      achievedFps,
      passed: decoded >= count * MIN_DECODED &&
        achievedFps >= fps * MIN_ACHIEVED,
    };
  } finally {
    await server.stop("SIGTERM");
  }
}

/**
 * Runs both searches and says how they compare, as markdown.
 *
 * @param options Run length, frame and start rate.
 * @returns The section's text.
 *
 * @example A quick comparison
 * ```ts ignore
 * import { runSealedBench } from "./sealed_bench.ts";
 * console.log(await runSealedBench({ quick: true }));
 * ```
 */
export async function runSealedBench(
  options: SealedBenchOptions = {},
): Promise<string> {
  const quick = options.quick === true;
  const seconds = quick ? 2 : 3;
  const maxSteps = quick ? 5 : 7;
  const photo = options.photo ?? `${ROOT}bench/frames/photo_1280x720.jpg`;
  const log = options.log ?? console.error;
  const dir = await Deno.makeTempDir({ prefix: "udpimg-sealed-bench-" });
  try {
    const keyFile = `${dir}/bench.key`;
    await writeKeyFile(keyFile);
    const start = options.startFps ?? 60;
    const plain = new Search(start);
    const sealed = new Search(start);
    for (let step = 0; step < maxSteps; step++) {
      for (
        const [search, key] of [[plain, undefined], [sealed, keyFile]] as const
      ) {
        if (search.done) continue;
        const run = await pacedRun(photo, search.rate, seconds, key);
        log(
          `sealed bench: ${
            key === undefined ? "plain" : "sealed"
          } ${run.fps} fps: ${run.decoded}/${run.sent} decoded at ${
            run.achievedFps.toFixed(0)
          } fps`,
        );
        search.record(run);
      }
      if (plain.done && sealed.done) break;
    }
    const ratio = plain.best > 0 ? sealed.best / plain.best : 0;
    const steps = (search: Search) =>
      search.steps.map((s) => `${s.fps}${s.passed ? "✓" : "✗"}`).join(" ");
    return [
      `Goal (issue 12): a sealed stream at least 0.9× the paced capacity of a plain one at 720p, the server decoding. ${
        ratio >= 0.9 ? "Met" : "Not met"
      }: ${ratio.toFixed(2)}×.`,
      "",
      "| stream | highest paced fps with ≥ 99% decoded at ≥ 90% of the rate | steps (✓ passed, ✗ failed) |",
      "| --- | --- | --- |",
      `| plain | ${plain.best} | ${steps(plain)} |`,
      `| sealed (--key-file) | ${sealed.best} | ${steps(sealed)} |`,
      "",
      `\`client.ts --protocol stream --fps R\` into \`server.ts --decoder auto\` on loopback, ${
        photo.replace(ROOT, "")
      }, ${seconds} s of frames per run, plain and sealed alternating; the search stops within 10%, so ratios within 0.1 of each other are a tie.`,
    ].join("\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const HELP = `Usage: deno run -P=bench bench/sealed_bench.ts [options]

The paced capacity of a 720p stream protocol stream, plain against sealed
(--key-file), searched side by side, as markdown.

Options:
  --quick          2 s per run, 5 steps each (default 3 s, 7 steps)
  --start-fps R    the first rate tried, frames a second (default 60)
  --help           show this help`;

if (import.meta.main) {
  await benchMain(HELP, {
    quick: { type: "boolean", default: false },
    "start-fps": { type: "string" },
  }, async (values) => {
    const startFps = values["start-fps"] === undefined
      ? undefined
      : intFlag("start-fps", values["start-fps"], 60, { min: 1, max: 10_000 });
    console.log(
      await runSealedBench({
        quick: values.quick,
        ...(startFps !== undefined && { startFps }),
      }),
    );
  });
}
