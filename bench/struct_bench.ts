/**
 * Measures pack and unpack rates of lib/struct against CPython's struct
 * module (`python3 -m timeit`) in the same run, for the tutorial's header
 * format `l` and a mixed 10-field format, and prints a markdown table.
 *
 * Run: `deno run -P=bench bench/struct_bench.ts` (STRUCT_BENCH_PYTHON picks
 * the interpreter; python3 by default).
 *
 * @module
 */

import { benchMain } from "./_cli.ts";
import { pack, Struct, unpack } from "../lib/struct/mod.ts";

const PYTHON = Deno.env.get("STRUCT_BENCH_PYTHON") ?? "python3";
const MIXED = "<hHiIqQfd?4s";
const MIXED_VALUES = [-2, 3, -4, 5, -6, 7, 1.5, 2.5, true, new Uint8Array(4)];
const MIXED_PY = "-2, 3, -4, 5, -6, 7, 1.5, 2.5, True, b'abcd'";
const ROUND_MS = 300;
const ROUNDS = 5;

interface Row {
  name: string;
  deno: number;
  python: number;
}

// Results land here so that the optimizer cannot drop the calls.
let sink: unknown;

/** Best rate in operations per second of `op` over a few timed rounds. */
function rate(op: () => unknown): number {
  let best = 0;
  let batch = 1000;
  for (let round = 0; round < ROUNDS; round++) {
    let count = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < ROUND_MS) {
      for (let i = 0; i < batch; i++) sink = op();
      count += batch;
      elapsed = performance.now() - start;
    }
    best = Math.max(best, count / (elapsed / 1000));
    batch = Math.max(1000, Math.round(best / 100));
  }
  return best;
}

const UNITS: Record<string, number> = {
  nsec: 1e-9,
  usec: 1e-6,
  msec: 1e-3,
  sec: 1,
};

/** CPython's rate for a statement, from `python3 -m timeit`'s best loop. */
async function pythonRate(setup: string, statement: string): Promise<number> {
  const { success, stdout, stderr } = await new Deno.Command(PYTHON, {
    args: ["-m", "timeit", "-s", setup, statement],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(success ? stdout : stderr);
  const match = /best of \d+: ([\d.]+) (nsec|usec|msec|sec) per loop/.exec(
    text,
  );
  if (!success || match === null) {
    throw new Error(`Cannot time ${statement} with ${PYTHON}: ${text.trim()}`);
  }
  return 1 / (Number(match[1]) * UNITS[match[2]!]!);
}

function format(opsPerSecond: number): string {
  return `${(opsPerSecond / 1e6).toFixed(2)} M/s`;
}

/**
 * Runs the benchmark and returns its results as a markdown table.
 *
 * @returns A markdown table of Deno and CPython rates and their ratios.
 */
export async function runStructBench(): Promise<string> {
  const header = pack("l", 123456);
  const mixedBytes = pack(MIXED, ...MIXED_VALUES);
  const headerStruct = new Struct("l");
  const mixedStruct = new Struct(MIXED);
  const target = new Uint8Array(64);
  const setup = `import struct; h = struct.pack('l', 123456); ` +
    `m = struct.pack('${MIXED}', ${MIXED_PY}); sl = struct.Struct('l'); ` +
    `sm = struct.Struct('${MIXED}'); buf = bytearray(64)`;

  const rows: Row[] = [];
  const add = async (
    name: string,
    op: () => unknown,
    statement: string,
  ): Promise<void> => {
    rows.push({
      name,
      deno: rate(op),
      python: await pythonRate(setup, statement),
    });
  };
  let n = 0;
  await add(
    "pack('l', n)",
    () => pack("l", n++),
    "struct.pack('l', 123456)",
  );
  await add(
    "unpack('l', b)",
    () => unpack("l", header),
    "struct.unpack('l', h)",
  );
  await add(
    "Struct('l').pack(n)",
    () => headerStruct.pack(n++),
    "sl.pack(123456)",
  );
  await add(
    "Struct('l').packInto(buf, 0, n)",
    () => headerStruct.packInto(target, 0, n++),
    "sl.pack_into(buf, 0, 123456)",
  );
  await add(
    "Struct('l').unpack(b)",
    () => headerStruct.unpack(header),
    "sl.unpack(h)",
  );
  await add(
    `pack('${MIXED}', …10)`,
    () => pack(MIXED, ...MIXED_VALUES),
    `struct.pack('${MIXED}', ${MIXED_PY})`,
  );
  await add(
    `unpack('${MIXED}', b)`,
    () => unpack(MIXED, mixedBytes),
    `struct.unpack('${MIXED}', m)`,
  );
  await add(
    `Struct('${MIXED}').pack(…10)`,
    () => mixedStruct.pack(...MIXED_VALUES),
    `sm.pack(${MIXED_PY})`,
  );
  await add(
    `Struct('${MIXED}').unpack(b)`,
    () => mixedStruct.unpack(mixedBytes),
    "sm.unpack(m)",
  );

  const lines = [
    "| Operation | Deno | CPython | Deno / CPython |",
    "| --- | ---: | ---: | ---: |",
    ...rows.map((row) =>
      `| \`${row.name}\` | ${format(row.deno)} | ${format(row.python)} | ${
        (row.deno / row.python).toFixed(2)
      }× |`
    ),
  ];
  return lines.join("\n");
}

const HELP = `Usage: deno run -P=bench bench/struct_bench.ts [options]

Pack and unpack rates of lib/struct against CPython's struct module, for
the formats l and a mixed 10-field one, as markdown. STRUCT_BENCH_PYTHON
picks the interpreter (default python3).

Options:
  --help    show this help`;

if (import.meta.main) {
  await benchMain(HELP, {}, async () => {
    console.log(await runStructBench());
    if (sink === null) console.log("");
  });
}
