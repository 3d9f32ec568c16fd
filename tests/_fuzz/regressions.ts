/**
 * Regression fixtures: a failing case saved as `<target>-<hash>.bin` (its
 * datagrams' bytes, one after another) and `<target>-<hash>.json` (how to
 * cut them, who sent each and when, the case's params, and where it came
 * from), replayed by `tests/fuzz_test.ts`.
 *
 * @module
 */

import type { FuzzFailure } from "./run.ts";
import { concatBytes, type FuzzCase } from "./target.ts";

/** Where the fixtures live. */
export const REGRESSIONS_DIR = new URL("../fixtures/fuzz/", import.meta.url);

/** The JSON beside a fixture's bytes. */
export interface RegressionContext {
  /** The target that failed. */
  readonly target: string;
  /** What it threw, in one line, when the fixture was saved. */
  readonly error: string;
  /** The run's seed and the case's index, to regenerate the unshrunk case. */
  readonly seed: number;
  /** The case's index. */
  readonly caseIndex: number;
  /** What was wrong, and what fixed it; for people. */
  readonly note?: string;
  /** The case's params. */
  readonly params: Readonly<Record<string, number>>;
  /** Each datagram: sender, time since the previous, length in the `.bin`. */
  readonly datagrams: readonly {
    from: number;
    dtMs: number;
    length: number;
    via?: "control";
  }[];
}

/** A fixture read back. */
export interface Regression {
  /** The file name without extension. */
  readonly name: string;
  /** Its context. */
  readonly context: RegressionContext;
  /** The case to replay. */
  readonly input: FuzzCase;
}

function oneLine(error: unknown): string {
  const text = error instanceof Error
    ? `${error.name}: ${error.message}`
    : String(error);
  return text.split("\n")[0]!.slice(0, 300);
}

/**
 * Saves a failure's shrunk case in `dir`, named by its target and a hash of
 * its content; saving the same case twice writes the same files.
 *
 * @returns The path of the `.bin`.
 */
export async function saveRegression(
  failure: FuzzFailure,
  dir: URL = REGRESSIONS_DIR,
  note?: string,
): Promise<string> {
  const { input } = failure;
  const bytes = concatBytes(input.datagrams.map((d) => d.bytes));
  const context: RegressionContext = {
    target: failure.target,
    error: oneLine(failure.error),
    seed: failure.seed,
    caseIndex: failure.caseIndex,
    ...(note !== undefined && { note }),
    params: input.params,
    datagrams: input.datagrams.map((d) => ({
      from: d.from,
      dtMs: d.dtMs,
      length: d.bytes.length,
      ...(d.via !== undefined && { via: d.via }),
    })),
  };
  const framing = new TextEncoder().encode(
    JSON.stringify([failure.target, input.params, context.datagrams]),
  );
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", concatBytes([framing, bytes])),
  );
  const hash = Array.from(
    digest.subarray(0, 6),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const name = `${failure.target}-${hash}`;
  await Deno.mkdir(dir, { recursive: true });
  const bin = new URL(`${name}.bin`, dir);
  await Deno.writeFile(bin, bytes);
  // One datagram a line: a fixture of many stays readable.
  const json = JSON.stringify(context, null, 2).replace(
    /\{\s+"from": (\d+),\s+"dtMs": (\d+),\s+"length": (\d+)(,\s+"via": "control")?\s+\}/g,
    (_, from, dtMs, length, via) =>
      `{ "from": ${from}, "dtMs": ${dtMs}, "length": ${length}${
        via ? ', "via": "control"' : ""
      } }`,
  );
  await Deno.writeTextFile(new URL(`${name}.json`, dir), json + "\n");
  return bin.pathname;
}

/** Reads every fixture in `dir`, in name order; none when it does not exist. */
export async function loadRegressions(
  dir: URL = REGRESSIONS_DIR,
): Promise<Regression[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.endsWith(".json")) {
        names.push(entry.name.slice(0, -".json".length));
      }
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  names.sort();
  const regressions: Regression[] = [];
  for (const name of names) {
    const context = JSON.parse(
      await Deno.readTextFile(new URL(`${name}.json`, dir)),
    ) as RegressionContext;
    const bytes = await Deno.readFile(new URL(`${name}.bin`, dir));
    const total = context.datagrams.reduce((n, d) => n + d.length, 0);
    if (total !== bytes.length) {
      throw new Error(
        `Fixture ${name}: its JSON cuts ${total} bytes, its .bin holds ${bytes.length}`,
      );
    }
    let at = 0;
    const datagrams = context.datagrams.map((d) => {
      const slice = bytes.subarray(at, at + d.length);
      at += d.length;
      return {
        from: d.from,
        dtMs: d.dtMs,
        bytes: slice,
        ...(d.via !== undefined && { via: d.via }),
      };
    });
    regressions.push({
      name,
      context,
      input: { datagrams, params: context.params },
    });
  }
  return regressions;
}
