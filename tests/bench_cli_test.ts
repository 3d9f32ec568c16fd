import assert from "node:assert/strict";
import { Child, root } from "./_process.ts";

/** Each bench script, a wrong command line for it, and what the line says. */
const CASES: readonly [script: string, args: string[], says: RegExp][] = [
  ["capture_bench.ts", ["--bogus"], /Unknown option --bogus/],
  ["codec_bench.ts", ["--bogus"], /Unknown option --bogus/],
  ["crypto_bench.ts", ["--bogus"], /Unknown option --bogus/],
  ["lossy_relay.ts", ["--bogus"], /Unknown option --bogus/],
  ["make_frames.ts", ["--bogus"], /Unknown option --bogus/],
  ["rtp_bench.ts", ["--bogus"], /Unknown option --bogus/],
  ["rtsp_bench.ts", ["--bogus"], /Unknown option --bogus/],
  ["run.ts", ["--bogus"], /Unknown option --bogus/],
  ["sealed_bench.ts", ["--bogus"], /Unknown option --bogus/],
  ["stream_bench.ts", ["--bogus"], /Unknown option --bogus/],
  ["struct_bench.ts", ["--bogus"], /Unknown option --bogus/],
  ["udp_bench.ts", ["--bogus"], /Unknown option --bogus/],
  ["codec_bench.ts", ["--quick", "extra"], /Unexpected argument 'extra'/],
  ["lossy_relay.ts", ["--port", "1"], /--target HOST:PORT is required/],
  [
    "lossy_relay.ts",
    ["--target", "127.0.0.1:9", "--loss", "2"],
    /--loss must be a number from 0 to 1/,
  ],
  ["rtp_bench.ts", ["--rounds", "abc"], /--rounds must be an integer/],
  ["rtp_bench.ts", ["--seconds", "-1"], /--seconds must be a number/],
  ["rtp_bench.ts", ["--size", "12"], /--size must be one of/],
  ["rtsp_bench.ts", ["--clients", "1,x"], /--clients must be an integer/],
  ["run.ts", ["--runs", "0"], /--runs must be an integer/],
  ["sealed_bench.ts", ["--start-fps", "x"], /--start-fps must be an integer/],
  ["stream_bench.ts", ["--seed", "-1"], /--seed must be an integer/],
  ["udp_bench.ts", ["--duration-ms", "abc"], /--duration-ms must be/],
];

/** At most this many scripts start at once, on a machine of two cores. */
const CONCURRENCY = 4;

async function wrongCommandLine(
  [script, args, says]: typeof CASES[number],
): Promise<void> {
  await using child = new Child(Deno.execPath(), [
    "run",
    "--quiet",
    "-P=bench",
    `${root}bench/${script}`,
    ...args,
  ], { cwd: root });
  const status = await child.exit(20_000);
  const what = `${script} ${args.join(" ")}: ${child.stderr.join("\n")}`;
  assert.equal(status.code, 2, what);
  assert.equal(child.stderr.length, 1, what);
  assert.match(child.stderr[0]!, /^error: /, what);
  assert.doesNotMatch(child.stderr[0]!, /Uncaught/, what);
  assert.match(child.stderr[0]!, says, what);
  assert.deepEqual(child.stdout, [], what);
}

Deno.test("every bench script answers a wrong command line with one error line and exit code 2", async () => {
  const queue = [...CASES];
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        await wrongCommandLine(next);
      }
    }),
  );
});
