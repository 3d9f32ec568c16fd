/**
 * `deno task fuzz`: feeds a million hostile datagrams (and chunks and
 * strings) to every fuzz target, shared out by weight, prints the seed and
 * each target's rate, and saves each failing case, shrunk, as a regression
 * fixture in `tests/fixtures/fuzz/`, which `tests/fuzz_test.ts` replays.
 *
 * ```sh
 * deno task fuzz                                  # 1,000,000 datagrams, a random seed
 * FUZZ_SEED=1234 deno task fuzz                   # the same run again
 * deno task fuzz --target classic-receiver --datagrams 50000
 * FUZZ_SEED=1234 deno task fuzz --target classic-receiver --case 17   # one case, with its stack
 * ```
 *
 * It lives with the tests, not in `lib/` (it is no part of the library) nor
 * in `bench/` (it measures no speed goal): its targets are what the tests
 * replay, and its fixtures are theirs.
 *
 * @module
 */

import {
  errorLine,
  intFlag,
  parseFlags,
  runMain,
  UsageError,
} from "../../lib/cli/cli.ts";
import { loadCorpus } from "./corpus.ts";
import { runSeed } from "./prng.ts";
import { REGRESSIONS_DIR, saveRegression } from "./regressions.ts";
import { runTarget, type TargetReport } from "./run.ts";
import { TARGETS } from "./targets/mod.ts";

const HELP = `Usage: deno task fuzz [options]

Feeds mutated and random datagrams to every parser and reassembler of
udpimg, checks that nothing throws, that state stays bounded and that a good
sender's frames still arrive whole, and saves each failing input, shrunk, to
tests/fixtures/fuzz/ (replayed by tests/fuzz_test.ts). FUZZ_SEED=N replays a run.

Options:
  --datagrams N     hostile inputs in all, shared out by weight (default 1000000)
  --target A,B      only these targets (see --list)
  --case I          only case I of one --target, with its stack (needs FUZZ_SEED)
  --max-rss-mb N    fail when the process grows past N MiB (default 768)
  --max-failures N  stop a target after N different failures (default 3)
  --no-save         do not write fixtures for failures
  --list            list the targets
  --help            show this help`;

/**
 * The script's body.
 *
 * @param args The arguments.
 * @returns The exit code: 0 when every target held, 1 when one failed.
 */
export async function fuzzMain(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    datagrams: { type: "string" },
    target: { type: "string" },
    case: { type: "string" },
    "max-rss-mb": { type: "string" },
    "max-failures": { type: "string" },
    "no-save": { type: "boolean", default: false },
    list: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.list) {
    for (const target of TARGETS) {
      console.log(`${target.name.padEnd(24)} ${target.about}`);
    }
    return 0;
  }
  const total = intFlag("datagrams", values.datagrams, 1_000_000, { min: 1 });
  const maxRss = intFlag("max-rss-mb", values["max-rss-mb"], 768, { min: 64 }) *
    1024 * 1024;
  const maxFailures = intFlag("max-failures", values["max-failures"], 3, {
    min: 1,
  });
  const names = values.target?.split(",").map((name) => name.trim()).filter(
    Boolean,
  );
  const targets = names === undefined ? TARGETS : names.map((name) => {
    const target = TARGETS.find((t) => t.name === name);
    if (target === undefined) {
      throw new UsageError(`no target ${JSON.stringify(name)}; see --list`);
    }
    return target;
  });
  const caseIndex = values.case === undefined
    ? undefined
    : intFlag("case", values.case, 0);
  if (caseIndex !== undefined && targets.length !== 1) {
    throw new UsageError("--case needs exactly one --target");
  }
  const seed = runSeed();
  console.log(`fuzz: seed ${seed} (replay with FUZZ_SEED=${seed})`);
  const corpus = await loadCorpus();
  const weights = targets.reduce((sum, t) => sum + (t.weight ?? 1), 0);
  const reports: TargetReport[] = [];
  let peakRss = Deno.memoryUsage().rss;
  let failed = false;
  const started = performance.now();
  for (const target of targets) {
    const share = Math.max(
      1,
      Math.round(total * (target.weight ?? 1) / weights),
    );
    let overgrown: string | undefined;
    const report = await runTarget(target, corpus, {
      seed,
      datagrams: share,
      maxFailures,
      ...(caseIndex !== undefined && { caseIndex }),
      onProgress: () => {
        const rss = Deno.memoryUsage().rss;
        if (rss > peakRss) peakRss = rss;
        if (rss > maxRss && overgrown === undefined) {
          overgrown = `the process grew to ${mib(rss)} MiB, past --max-rss-mb ${
            mib(maxRss)
          }`;
        }
      },
    });
    reports.push(report);
    const rate = report.datagrams / Math.max(report.seconds, 1e-9);
    console.log(
      `${
        target.name.padEnd(24)
      } cases=${report.cases} datagrams=${report.datagrams} good=${report.goodDatagrams} seconds=${
        report.seconds.toFixed(1)
      } rate=${Math.round(rate)}/s failures=${report.failures.length}`,
    );
    if (overgrown !== undefined) {
      failed = true;
      console.log(`  FAILED ${target.name}: ${overgrown}`);
    }
    for (const failure of report.failures) {
      failed = true;
      console.log(
        `  FAILED ${target.name} case ${failure.caseIndex}: ${
          errorLine(failure.error)
        }`,
      );
      if (caseIndex !== undefined && failure.error instanceof Error) {
        console.log(failure.error.stack);
      }
      console.log(
        `    ${failure.input.datagrams.length} of ${failure.original.datagrams.length} datagrams after shrinking; replay: FUZZ_SEED=${seed} deno task fuzz --target ${target.name} --case ${failure.caseIndex}`,
      );
      if (!values["no-save"]) {
        const path = await saveRegression(failure, REGRESSIONS_DIR);
        console.log(`    saved ${path}`);
      }
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const datagrams = reports.reduce((n, r) => n + r.datagrams, 0);
  const good = reports.reduce((n, r) => n + r.goodDatagrams, 0);
  console.log(
    `fuzz: ${datagrams} hostile datagrams (and ${good} good ones) in ${
      seconds.toFixed(1)
    } s, ${Math.round(datagrams / seconds)}/s; peak RSS ${mib(peakRss)} MiB; ${
      failed ? "FAILED" : "no failures"
    } (seed ${seed})`,
  );
  return failed ? 1 : 0;
}

function mib(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}

if (import.meta.main) await runMain(() => fuzzMain(Deno.args));
