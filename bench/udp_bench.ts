/**
 * How many datagrams per second one Deno process receives from a blaster in
 * another process, for the native batched socket and the `Deno.listenDatagram`
 * fallback, at 1024 and 8192 bytes.
 *
 * The blaster sends as fast as it can, so the receiver runs at its limit and
 * the kernel drops what it cannot take; "delivered" is the received rate over
 * the sent rate. Run with `deno run -P=bench bench/udp_bench.ts`.
 *
 * @module
 */

import { choiceFlag, intFlag, UsageError } from "../lib/cli/cli.ts";
import { benchMain } from "./_cli.ts";
import { openDatagramSocket } from "../lib/net/open.ts";

/** Options for {@linkcode runUdpBench}. */
export interface UdpBenchOptions {
  /**
   * How long each case measures, in milliseconds.
   *
   * @default {2000}
   */
  durationMs?: number;
  /**
   * Datagram sizes in bytes.
   *
   * @default {[1024, 8192]}
   */
  sizes?: number[];
}

type Implementation = "native" | "deno";

interface Case {
  receiver: Implementation;
  sender: Implementation;
  size: number;
}

interface Result extends Case {
  receivedPerSecond: number;
  perReceive: number;
  sentPerSecond: number;
}

/** Datagrams per `sendMany` in the blaster. */
const BLAST_BATCH = 64;
/** The blaster keeps sending this long past the measured window. */
const BLAST_MARGIN_MS = 1500;

/**
 * Runs every case and returns a markdown table of the rates.
 *
 * @param options Window length and datagram sizes.
 * @returns A markdown table, one row per receiver, sender and size.
 *
 * @example A short run
 * ```ts ignore
 * import { runUdpBench } from "./udp_bench.ts";
 *
 * console.log(await runUdpBench({ durationMs: 500, sizes: [1024] }));
 * ```
 */
export async function runUdpBench(
  options: UdpBenchOptions = {},
): Promise<string> {
  const { durationMs = 2000, sizes = [1024, 8192] } = options;
  const cases: Case[] = [];
  for (const size of sizes) {
    cases.push(
      { receiver: "native", sender: "native", size },
      { receiver: "deno", sender: "native", size },
      { receiver: "native", sender: "deno", size },
    );
  }
  const results: Result[] = [];
  for (const benchCase of cases) {
    results.push(await runCase(benchCase, durationMs));
  }
  return formatTable(results);
}

async function runCase(benchCase: Case, durationMs: number): Promise<Result> {
  const socket = await openDatagramSocket({
    hostname: "127.0.0.1",
    port: 0,
    implementation: benchCase.receiver,
  });
  const blaster = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-ffi",
      "--allow-read",
      "--unstable-net",
      new URL(import.meta.url).pathname,
      "--blast",
      `${socket.addr.hostname}:${socket.addr.port}`,
      "--size",
      String(benchCase.size),
      "--duration-ms",
      String(durationMs + BLAST_MARGIN_MS),
      "--implementation",
      benchCase.sender,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const batch = socket.createBatch();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let received = 0;
  let receives = 0;
  let elapsedMs = 0;
  try {
    // The window starts at the first datagram, once the blaster is running.
    await socket.receive(batch);
    const start = performance.now();
    timer = setTimeout(() => socket.close(), durationMs);
    for (;;) {
      const count = await socket.receive(batch);
      if (count === 0) break;
      received += count;
      receives++;
    }
    elapsedMs = performance.now() - start;
  } finally {
    clearTimeout(timer);
    socket.close();
  }
  const output = await blaster.output();
  const { sent, seconds } = JSON.parse(new TextDecoder().decode(output.stdout));
  return {
    ...benchCase,
    receivedPerSecond: received / (elapsedMs / 1000),
    perReceive: received / Math.max(1, receives),
    sentPerSecond: sent / seconds,
  };
}

function formatTable(results: Result[]): string {
  const rows = results.map((r) => {
    const delivered = Math.min(
      100,
      100 * r.receivedPerSecond / r.sentPerSecond,
    );
    const cells = [
      r.receiver,
      r.sender,
      String(r.size),
      Math.round(r.receivedPerSecond).toLocaleString("en"),
      (r.receivedPerSecond * r.size / 1e6).toFixed(0),
      Math.round(r.sentPerSecond).toLocaleString("en"),
      `${delivered.toFixed(0)}%`,
      r.perReceive.toFixed(1),
    ];
    return `| ${cells.join(" | ")} |`;
  });
  return [
    "| Receiver | Sender | Bytes | Received datagrams/s | Received MB/s | Sent datagrams/s | Delivered | Datagrams per receive |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
  ].join("\n");
}

/** The blaster: sends `size`-byte datagrams as fast as it can, then reports. */
async function blast(
  target: string,
  size: number,
  durationMs: number,
  implementation: Implementation,
): Promise<void> {
  const colon = target.lastIndexOf(":");
  const to = {
    hostname: target.slice(0, colon),
    port: Number(target.slice(colon + 1)),
  };
  const socket = await openDatagramSocket({
    hostname: "127.0.0.1",
    port: 0,
    implementation,
  });
  const datagrams = Array.from(
    { length: BLAST_BATCH },
    () => new Uint8Array(size),
  );
  let sent = 0;
  const start = performance.now();
  const end = start + durationMs;
  try {
    while (performance.now() < end) {
      await socket.sendMany(datagrams, to);
      sent += BLAST_BATCH;
    }
  } finally {
    socket.close();
  }
  const seconds = (performance.now() - start) / 1000;
  console.log(JSON.stringify({ sent, seconds }));
}

const HELP = `Usage: deno run -P=bench bench/udp_bench.ts [options]

Datagrams per second one process receives from a blaster in another, the
native batched socket against Deno.listenDatagram, at 1024 and 8192 bytes,
as markdown.

Options:
  --duration-ms N       each case's window in ms (default 2000)
  --help                show this help

The blaster, which the benchmark starts itself:
  --blast HOST:PORT     send to HOST:PORT instead of measuring
  --size N              datagram bytes (default 1024)
  --implementation I    native (default) or deno`;

if (import.meta.main) {
  await benchMain(HELP, {
    "blast": { type: "string" },
    "size": { type: "string" },
    "duration-ms": { type: "string" },
    "implementation": { type: "string" },
  }, async (values) => {
    const durationMs = intFlag("duration-ms", values["duration-ms"], 2000, {
      min: 100,
      max: 600_000,
    });
    const size = intFlag("size", values.size, 1024, { min: 1, max: 65_507 });
    const implementation = choiceFlag(
      "implementation",
      values.implementation,
      ["native", "deno"],
    );
    if (values.blast !== undefined) {
      if (!/^.+:\d+$/.test(values.blast)) {
        throw new UsageError(
          `--blast must be HOST:PORT, such as 127.0.0.1:9999, got '${values.blast}'`,
        );
      }
      await blast(values.blast, size, durationMs, implementation);
    } else {
      if (values.size !== undefined || values.implementation !== undefined) {
        throw new UsageError(
          "--size and --implementation are the blaster's, with --blast; drop them to measure",
        );
      }
      console.log(await runUdpBench({ durationMs }));
    }
  });
}
