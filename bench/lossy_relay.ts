/**
 * The lossy relay as a program, for benchmarks that put loss, duplication,
 * reordering and delay in front of a peer this project did not write (SRT
 * through ffmpeg, GStreamer): it listens on one port and relays to a target
 * through two simulated paths, until stopped, then prints what each path
 * did.
 *
 * ```sh
 * deno run -P=bench bench/lossy_relay.ts --target 127.0.0.1:9999 --port 9000 --loss 0.05
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { LossyRelay } from "../lib/net/lossy_relay.ts";

const { values } = parseArgs({
  options: {
    target: { type: "string" },
    port: { type: "string", default: "0" },
    loss: { type: "string", default: "0" },
    duplicate: { type: "string", default: "0" },
    reorder: { type: "string", default: "0" },
    "delay-ms": { type: "string", default: "0" },
    "jitter-ms": { type: "string", default: "0" },
    "rate-mbit": { type: "string" },
    seed: { type: "string", default: "1" },
  },
});
const match = /^(.+):(\d+)$/.exec(values.target ?? "");
if (!match) {
  console.error("error: --target HOST:PORT is required");
  Deno.exit(2);
}
const path = (seed: number) => ({
  loss: Number(values.loss),
  duplicate: Number(values.duplicate),
  reorder: Number(values.reorder),
  delayMs: Number(values["delay-ms"]),
  jitterMs: Number(values["jitter-ms"]),
  ...(values["rate-mbit"] !== undefined &&
    { rate: (Number(values["rate-mbit"]) * 1e6) / 8 }),
  seed,
});
const seed = Number(values.seed);
const relay = await LossyRelay.start({
  target: { hostname: match[1]!, port: Number(match[2]) },
  port: Number(values.port),
  forward: path(seed),
  backward: path(seed + 1),
});
console.log(`relay 127.0.0.1:${relay.addr.port} -> ${values.target}`);
const stopped = Promise.withResolvers<void>();
Deno.addSignalListener("SIGINT", stopped.resolve);
Deno.addSignalListener("SIGTERM", stopped.resolve);
await stopped.promise;
await relay.close();
console.log(JSON.stringify(relay.stats));
Deno.exit(0);
