/**
 * The fuzz loop: cases of one target, each from its own seed, until a
 * number of datagrams has been fed; a failing case is shrunk (fewer
 * datagrams, shorter ones) while it fails the same way.
 *
 * @module
 */

import type { Corpus } from "./corpus.ts";
import { caseSeed, Prng } from "./prng.ts";
import {
  countHostile,
  type FuzzCase,
  type FuzzTarget,
  GOOD,
} from "./target.ts";

/** A case that failed, shrunk. */
export interface FuzzFailure {
  /** The target. */
  readonly target: string;
  /** The run's seed. */
  readonly seed: number;
  /** The case's index: with the seed and target, it regenerates the case. */
  readonly caseIndex: number;
  /** What was thrown, for the shrunk case. */
  readonly error: unknown;
  /** The shrunk case. */
  readonly input: FuzzCase;
  /** The case as generated, before shrinking. */
  readonly original: FuzzCase;
}

/** What one target's run did. */
export interface TargetReport {
  /** The target. */
  readonly target: string;
  /** Cases run. */
  readonly cases: number;
  /** Hostile inputs fed (mutated, random or replayed datagrams, chunks, strings). */
  readonly datagrams: number;
  /** The good sender's datagrams fed beside them. */
  readonly goodDatagrams: number;
  /** Wall-clock seconds. */
  readonly seconds: number;
  /** The failures, at most `maxFailures`. */
  readonly failures: readonly FuzzFailure[];
}

/** Options for {@linkcode runTarget}. */
export interface RunTargetOptions {
  /** The run's seed. */
  readonly seed: number;
  /** Stop once this many hostile inputs have been fed. */
  readonly datagrams: number;
  /** Run only this case. */
  readonly caseIndex?: number;
  /** Stop after this many failures. @default {3} */
  readonly maxFailures?: number;
  /** Shrink failing cases. @default {true} */
  readonly shrink?: boolean;
  /** Called every 64 cases and at the end, for progress and memory checks. */
  readonly onProgress?: (cases: number, datagrams: number) => void;
}

/** Generates case `index` of `target` for `seed`. */
export function generateCase(
  target: FuzzTarget,
  corpus: Corpus,
  seed: number,
  index: number,
): FuzzCase {
  return target.generate(new Prng(caseSeed(seed, target.name, index)), corpus);
}

/**
 * Runs a case; resolves with what it threw, or `undefined`. Synchronous
 * targets are not awaited, so their loop stays a plain loop.
 */
export function tryCase(
  target: FuzzTarget,
  input: FuzzCase,
): unknown | Promise<unknown> {
  try {
    const result = target.run(input);
    if (result instanceof Promise) {
      return result.then(() => undefined, (e) => e ?? new Error(String(e)));
    }
    return undefined;
  } catch (error) {
    return error ?? new Error(String(error));
  }
}

/** Runs cases of `target` until `options.datagrams` hostile inputs have been fed. */
export async function runTarget(
  target: FuzzTarget,
  corpus: Corpus,
  options: RunTargetOptions,
): Promise<TargetReport> {
  const maxFailures = options.maxFailures ?? 3;
  const failures: FuzzFailure[] = [];
  const seen = new Set<string>();
  const started = performance.now();
  let cases = 0;
  let datagrams = 0;
  let goodDatagrams = 0;
  const first = options.caseIndex ?? 0;
  for (let index = first;; index++) {
    if (options.caseIndex !== undefined && index > first) break;
    if (options.caseIndex === undefined && datagrams >= options.datagrams) {
      break;
    }
    const input = generateCase(target, corpus, options.seed, index);
    const hostile = countHostile(input);
    datagrams += hostile;
    goodDatagrams += input.datagrams.length - hostile;
    cases++;
    let error = tryCase(target, input);
    if (error instanceof Promise) error = await error;
    if (error !== undefined) {
      const shrunk = options.shrink === false
        ? { input, error }
        : await shrinkCase(target, input, error);
      const key = signature(shrunk.error);
      if (!seen.has(key)) {
        seen.add(key);
        failures.push({
          target: target.name,
          seed: options.seed,
          caseIndex: index,
          error: shrunk.error,
          input: shrunk.input,
          original: input,
        });
      }
      if (failures.length >= maxFailures) break;
    }
    if (cases % 64 === 0) options.onProgress?.(cases, datagrams);
  }
  options.onProgress?.(cases, datagrams);
  return {
    target: target.name,
    cases,
    datagrams,
    goodDatagrams,
    seconds: (performance.now() - started) / 1000,
    failures,
  };
}

/**
 * What kind of failure an error is: its name and the start of its message,
 * before any quoted value or colon, with the numbers taken out, so that
 * the same bug with other sizes or bytes is one.
 */
export function signature(error: unknown): string {
  const name = error instanceof Error ? error.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  const kind = message.split(/[\n:"']/)[0]!.replace(/\d+/g, "#");
  return `${name}: ${kind.slice(0, 100)}`;
}

/** Attempts a shrink may make, and the time it may take. */
const MAX_SHRINK_RUNS = 1000;
const MAX_SHRINK_MS = 30_000;

/**
 * Shrinks a failing case while it fails with the same signature: drops the
 * good sender's stream whole if it can, then runs of hostile datagrams
 * (halves, then quarters, down to single ones), then, with no good stream
 * left, of any datagrams; then shortens each remaining datagram.
 */
export async function shrinkCase(
  target: FuzzTarget,
  input: FuzzCase,
  error: unknown,
): Promise<{ input: FuzzCase; error: unknown }> {
  const wanted = signature(error);
  const deadline = performance.now() + MAX_SHRINK_MS;
  let best = input;
  let bestError = error;
  let runs = 0;
  const spent = () => runs >= MAX_SHRINK_RUNS || performance.now() > deadline;
  const fails = async (candidate: FuzzCase): Promise<boolean> => {
    if (spent()) return false;
    runs++;
    let e = tryCase(target, candidate);
    if (e instanceof Promise) e = await e;
    if (e !== undefined && signature(e) === wanted) {
      best = candidate;
      bestError = e;
      return true;
    }
    return false;
  };
  // The good sender's datagrams are what the others are checked against,
  // and the params count its frames: it goes whole, or stays whole.
  if (best.datagrams.some((d) => d.from === GOOD)) {
    const params = Object.fromEntries(
      Object.entries(best.params).filter(([name]) => !name.startsWith("good")),
    );
    await fails({
      datagrams: best.datagrams.filter((d) => d.from !== GOOD),
      params,
    });
  }
  const goodStays = best.datagrams.some((d) => d.from === GOOD);
  for (const hostileOnly of goodStays ? [true] : [true, false]) {
    const eligible = () =>
      best.datagrams.flatMap((d, i) =>
        !hostileOnly || d.from !== GOOD ? [i] : []
      );
    for (
      let size = Math.max(1, eligible().length >> 1);
      size >= 1 && !spent();
      size >>= 1
    ) {
      for (let at = 0; !spent();) {
        const indices = eligible();
        if (at >= indices.length || best.datagrams.length <= 1) break;
        const drop = new Set(indices.slice(at, at + size));
        const datagrams = best.datagrams.filter((_, i) => !drop.has(i));
        if (!(await fails({ ...best, datagrams }))) at += size;
      }
    }
  }
  for (let i = 0; i < best.datagrams.length && !spent(); i++) {
    for (;;) {
      const datagram = best.datagrams[i]!;
      if (
        datagram.bytes.length === 0 || (goodStays && datagram.from === GOOD)
      ) {
        break;
      }
      const datagrams = [...best.datagrams];
      datagrams[i] = {
        ...datagram,
        bytes: datagram.bytes.subarray(0, datagram.bytes.length >> 1),
      };
      if (!(await fails({ ...best, datagrams }))) break;
    }
  }
  return { input: best, error: bestError };
}
