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

import { intFlag, numberFlag, UsageError } from "../lib/cli/cli.ts";
import { benchMain } from "./_cli.ts";
import { LossyRelay } from "../lib/net/lossy_relay.ts";

const HELP =
  `Usage: deno run -P=bench bench/lossy_relay.ts --target HOST:PORT [options]

Relays datagrams from a port to a target through two simulated paths (to
the target and back) until stopped, then prints what each path did.

Options:
  --target HOST:PORT   where to relay to (required)
  --port N             the port to listen on (default 0, any free one)
  --loss P             share of datagrams lost each way, 0 to 1 (default 0)
  --duplicate P        share duplicated, 0 to 1 (default 0)
  --reorder P          share reordered, 0 to 1 (default 0)
  --delay-ms N         delay each way in ms (default 0)
  --jitter-ms N        up to this much more delay in ms (default 0)
  --rate-mbit R        a bottleneck each way in Mbit/s (default none)
  --seed N             the forward path's seed, the backward's N+1 (default 1)
  --help               show this help`;

await benchMain(HELP, {
  target: { type: "string" },
  port: { type: "string" },
  loss: { type: "string" },
  duplicate: { type: "string" },
  reorder: { type: "string" },
  "delay-ms": { type: "string" },
  "jitter-ms": { type: "string" },
  "rate-mbit": { type: "string" },
  seed: { type: "string" },
}, async (values) => {
  const match = /^(.+):(\d+)$/.exec(values.target ?? "");
  if (!match) {
    throw new UsageError(
      values.target === undefined
        ? "--target HOST:PORT is required; see --help"
        : `--target must be HOST:PORT, such as 127.0.0.1:9999, got '${values.target}'`,
    );
  }
  const targetPort = Number(match[2]);
  if (targetPort < 1 || targetPort > 65535) {
    throw new UsageError(
      `--target's port must be from 1 to 65535, got '${values.target}'`,
    );
  }
  const share = (name: "loss" | "duplicate" | "reorder") =>
    numberFlag(name, values[name], 0, { min: 0, max: 1 });
  const ms = (name: "delay-ms" | "jitter-ms") =>
    numberFlag(name, values[name], 0, { min: 0, max: 60_000, unit: "ms" });
  const rateMbit = numberFlag("rate-mbit", values["rate-mbit"], undefined, {
    min: 0.001,
    max: 100_000,
    unit: "Mbit/s",
  });
  const path = (seed: number) => ({
    loss: share("loss"),
    duplicate: share("duplicate"),
    reorder: share("reorder"),
    delayMs: ms("delay-ms"),
    jitterMs: ms("jitter-ms"),
    ...(rateMbit !== undefined && { rate: (rateMbit * 1e6) / 8 }),
    seed,
  });
  const seed = intFlag("seed", values.seed, 1, { max: 2 ** 31 - 2 });
  const forward = path(seed);
  const backward = path(seed + 1);
  const port = intFlag("port", values.port, 0, { max: 65535 });
  const relay = await LossyRelay.start({
    target: { hostname: match[1]!, port: targetPort },
    port,
    forward,
    backward,
  });
  console.log(`relay 127.0.0.1:${relay.addr.port} -> ${values.target}`);
  const stopped = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGINT", stopped.resolve);
  Deno.addSignalListener("SIGTERM", stopped.resolve);
  await stopped.promise;
  await relay.close();
  console.log(JSON.stringify(relay.stats));
  return 0;
});
