/**
 * Sealing benchmark: datagrams per second that one core seals and opens
 * with AES-256-GCM, libcrypto through FFI against `node:crypto`, side by
 * side in one run, with `openssl speed` on the same payload size as the
 * ceiling (C calling libcrypto with no FFI in between).
 *
 * ```sh
 * deno run -P=bench bench/crypto_bench.ts           # 7 rounds of 300 ms per row
 * deno run -P=bench bench/crypto_bench.ts --quick   # 3 rounds of 150 ms
 * ```
 *
 * Each datagram is a 24-byte header (the associated data) and a 1200-byte
 * payload, sealed in place in one reused buffer. To open a datagram again
 * and again, each open first copies the sealed 1240 bytes back into the
 * buffer, so the open rows include a 1240-byte copy.
 *
 * @module
 */

import { benchMain } from "./_cli.ts";
import {
  type Aead,
  type AeadImplementation,
  createAead,
  TAG_BYTES,
} from "../lib/crypto/mod.ts";
import { median } from "./_report.ts";

const HEADER = 24;
const PAYLOAD = 1200;
const PACKET = HEADER + PAYLOAD + TAG_BYTES;
/** Datagrams in the batch buffer of the "new offset" row, as for sendmmsg. */
const BATCH = 64;

/** Options for {@linkcode runCryptoBench}. */
export interface CryptoBenchOptions {
  /**
   * 3 rounds of 150 ms per row instead of 7 of 300 ms.
   *
   * @default {false}
   */
  quick?: boolean;
}

/** One measured operation: `op(i)` handles datagram number `i`. */
interface Task {
  readonly op: (i: number) => void;
  readonly rates: number[];
}

/**
 * Runs each task for `roundMs`, round-robin, `rounds` times, so that a
 * burst of load from other jobs hits every row alike.
 */
function measure(tasks: Task[], rounds: number, roundMs: number): void {
  for (const task of tasks) for (let i = 0; i < 2000; i++) task.op(i);
  for (let round = 0; round < rounds; round++) {
    for (const task of tasks) {
      let count = 0;
      const start = performance.now();
      let elapsed = 0;
      while (elapsed < roundMs) {
        for (let i = 0; i < 500; i++) task.op(count + i);
        count += 500;
        elapsed = performance.now() - start;
      }
      task.rates.push(count / (elapsed / 1000));
    }
  }
}

interface Rows {
  seal: Task;
  sealBatch: Task;
  open: Task;
  forged: Task;
}

function tasksFor(aead: Aead): Rows {
  const packet = crypto.getRandomValues(new Uint8Array(PACKET));
  const batch = new Uint8Array(BATCH * PACKET).map((_, i) => i * 131);
  const sealed = packet.slice();
  aead.seal(1, 0, sealed, HEADER, PAYLOAD);
  const forged = sealed.slice();
  forged[PACKET - 1]! ^= 1;
  const fail = (what: string) => {
    throw new Error(`${aead.implementation}: ${what}`);
  };
  return {
    seal: {
      op: (i) => void aead.seal(1, i, packet, HEADER, PAYLOAD),
      rates: [],
    },
    sealBatch: {
      op: (i) =>
        void aead.seal(1, i, batch, HEADER, PAYLOAD, (i % BATCH) * PACKET),
      rates: [],
    },
    open: {
      op: () => {
        packet.set(sealed);
        if (aead.open(1, 0, packet, HEADER, PACKET) !== PAYLOAD) fail("open");
      },
      rates: [],
    },
    forged: {
      op: () => {
        packet.set(forged);
        if (aead.open(1, 0, packet, HEADER, PACKET) !== -1) fail("forgery");
      },
      rates: [],
    },
  };
}

/** `openssl speed` for AES-256-GCM at the payload size, in datagrams/s. */
async function opensslSpeed(seconds: number): Promise<number | undefined> {
  try {
    const { success, stdout } = await new Deno.Command("openssl", {
      args: [
        "speed",
        "-seconds",
        String(seconds),
        "-bytes",
        String(PAYLOAD),
        "-evp",
        "aes-256-gcm",
      ],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!success) return undefined;
    const text = new TextDecoder().decode(stdout);
    // "AES-256-GCM    2309847.44k": thousands of bytes per second.
    const match = /^AES-256-GCM\s+([\d.]+)k/im.exec(text);
    return match === null ? undefined : Number(match[1]) * 1000 / PAYLOAD;
  } catch {
    return undefined;
  }
}

function count(rate: number): string {
  return Math.round(rate).toLocaleString("en-US");
}

function mb(rate: number): string {
  return (rate * PAYLOAD / 1e6).toFixed(0);
}

/**
 * Runs the benchmark. Needs ffi permission for the libcrypto rows, and run
 * permission for the `openssl speed` row.
 *
 * @param options `quick` for shorter rounds.
 * @returns A markdown table and notes.
 *
 * @example Printing a quick run
 * ```ts ignore
 * import { runCryptoBench } from "./crypto_bench.ts";
 * console.log(await runCryptoBench({ quick: true }));
 * ```
 */
export async function runCryptoBench(
  options: CryptoBenchOptions = {},
): Promise<string> {
  const quick = options.quick === true;
  const rounds = quick ? 3 : 7;
  const roundMs = quick ? 150 : 300;
  const key = crypto.getRandomValues(new Uint8Array(32));
  const aeads = new Map<AeadImplementation, Aead>();
  const notes: string[] = [];
  try {
    for (const implementation of ["libcrypto", "node"] as const) {
      try {
        aeads.set(implementation, createAead(key, { implementation }));
      } catch (err) {
        notes.push(
          `${implementation} not measured: ${
            err instanceof Error ? err.message : String(err)
          }`,
        );
      }
    }
    const rows = new Map(
      [...aeads].map(([name, aead]) => [name, tasksFor(aead)] as const),
    );
    measure(
      [...rows.values()].flatMap((
        r,
      ) => [r.seal, r.sealBatch, r.open, r.forged]),
      rounds,
      roundMs,
    );
    const ceiling = await opensslSpeed(quick ? 1 : 3);
    const native = rows.get("libcrypto");
    const node = rows.get("node");
    const cell = (task: Task | undefined) =>
      task === undefined
        ? "– | –"
        : `${count(median(task.rates))} | ${mb(median(task.rates))}`;
    const ratio = (a: Task | undefined, b: Task | undefined) =>
      a === undefined || b === undefined
        ? "–"
        : `${(median(a.rates) / median(b.rates)).toFixed(1)}×`;
    const lines = [
      `Datagrams of a ${HEADER}-byte header and a ${PAYLOAD}-byte payload, one core, median of ${rounds} interleaved rounds of ${roundMs} ms; ${
        aeads.get("libcrypto")?.reason.replace(/^sealing: /, "") ??
          "libcrypto not loaded"
      }`,
      "",
      "| Operation | libcrypto datagrams/s | libcrypto MB/s | node:crypto datagrams/s | node:crypto MB/s | libcrypto / node:crypto |",
      "|---|---:|---:|---:|---:|---:|",
    ];
    const labels: [keyof Rows, string][] = [
      ["seal", "seal in place, one reused buffer"],
      [
        "sealBatch",
        `seal in place, each at a new offset of a ${BATCH}-datagram buffer`,
      ],
      ["open", "copy in + open in place"],
      ["forged", "copy in + open a forgery (bad tag)"],
    ];
    for (const [name, label] of labels) {
      lines.push(
        `| ${label} | ${cell(native?.[name])} | ${cell(node?.[name])} | ${
          ratio(native?.[name], node?.[name])
        } |`,
      );
    }
    if (ceiling !== undefined && native !== undefined) {
      lines.push(
        "",
        `\`openssl speed -evp aes-256-gcm -bytes ${PAYLOAD}\` (C, no FFI, no associated data): ${
          count(ceiling)
        } datagrams/s, ${mb(ceiling)} MB/s; libcrypto through FFI seals at ${
          (median(native.seal.rates) / ceiling).toFixed(2)
        }× that.`,
      );
    }
    if (notes.length > 0) lines.push("", ...notes.map((n) => `- ${n}`));
    return lines.join("\n");
  } finally {
    for (const aead of aeads.values()) aead.close();
  }
}

const HELP = `Usage: deno run -P=bench bench/crypto_bench.ts [options]

AES-256-GCM seals and opens per second on one core, libcrypto through FFI
against node:crypto, with openssl speed as the ceiling, as markdown.

Options:
  --quick   3 rounds of 150 ms per row (default 7 rounds of 300 ms)
  --help    show this help`;

if (import.meta.main) {
  await benchMain(HELP, {
    quick: { type: "boolean", default: false },
  }, async (values) => {
    console.log(await runCryptoBench({ quick: values.quick }));
  });
}
