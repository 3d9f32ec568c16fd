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

import { parseArgs } from "node:util";
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

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      "blast": { type: "string" },
      "size": { type: "string", default: "1024" },
      "duration-ms": { type: "string", default: "2000" },
      "implementation": { type: "string", default: "native" },
    },
  });
  if (values.blast !== undefined) {
    await blast(
      values.blast,
      Number(values.size),
      Number(values["duration-ms"]),
      values.implementation === "deno" ? "deno" : "native",
    );
  } else {
    console.log(
      await runUdpBench({ durationMs: Number(values["duration-ms"]) }),
    );
  }
}
