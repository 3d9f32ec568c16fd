/**
 * Run inside a private network namespace by tests/multicast_cli_test.ts: one
 * client.ts sends to a multicast group, several server.ts join it, and each
 * server's saved frames are reported as JSON on stdout.
 *
 * Arguments: one JSON object, a {@linkcode MulticastCliPlan}.
 *
 * @module
 */

import { writeKeyFile } from "../lib/crypto/key_file.ts";
import { LossyRelay } from "../lib/net/lossy_relay.ts";
import { script } from "./_process.ts";

/** What to run. */
export interface MulticastCliPlan {
  /** The client's protocol. */
  protocol: "rtp" | "stream";
  /** The group. */
  group: string;
  /** The group's port. */
  port: number;
  /** Frames to send. */
  count: number;
  /** How many servers join. */
  members: number;
  /** A folder to save into, one subfolder per member. */
  dir: string;
  /**
   * One more member, behind a lossy relay that joins the group for it and
   * drops this share of what the group gets (and of its feedback).
   */
  lossyMember?: number;
  /** Seal the stream: the sender and every member share a new key. */
  sealed?: boolean;
}

/** What each member saved: file names and their bytes' hex digests. */
export interface MulticastCliResult {
  /** Per member, the SHA-256 of each saved frame, in order. */
  frames: string[][];
  /** Per member, its summary line. */
  summaries: string[];
  /** What the lossy relay dropped, when there is one. */
  relayLost?: number;
  /** The client's summary line. */
  client?: string;
}

async function digest(path: string): Promise<string> {
  const bytes = await Deno.readFile(path);
  const hash = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(
    new Uint8Array(hash),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

if (import.meta.main) {
  const plan = JSON.parse(Deno.args[0]!) as MulticastCliPlan;
  const keyArgs: string[] = [];
  if (plan.sealed) {
    await writeKeyFile(`${plan.dir}/group.key`);
    keyArgs.push("--key-file", `${plan.dir}/group.key`);
  }
  // Stream budgets of seconds, so that a loaded machine loses no frame.
  const budget = plan.protocol === "stream" ? ["--latency", "2000"] : [];
  const servers = [];
  const lossy = plan.lossyMember !== undefined;
  for (let i = 0; i < plan.members + (lossy ? 1 : 0); i++) {
    const out = `${plan.dir}/member${i}`;
    // The lossy member listens on a port of its own; its relay joins.
    const behindRelay = i === plan.members;
    const server = script("server.ts", [
      ...(behindRelay ? ["--port", String(plan.port + 10)] : [
        "--join",
        plan.group,
        "--join-if",
        "127.0.0.1",
        "--port",
        String(plan.port),
      ]),
      ...keyArgs,
      ...budget,
      "--msg-port",
      "0",
      "--count",
      String(plan.count),
      "--out",
      out,
      "--decoder",
      "none",
      "--quiet",
    ]);
    await server.waitFor(/^ready /);
    servers.push({ server, out });
  }
  const relay = lossy
    ? await LossyRelay.start({
      target: { hostname: "127.0.0.1", port: plan.port + 10 },
      hostname: "0.0.0.0",
      port: plan.port,
      reuseAddress: true,
      multicast: { join: plan.group, interface: "127.0.0.1" },
      forward: { loss: plan.lossyMember!, seed: 3 },
      backward: { loss: plan.lossyMember!, seed: 4 },
    })
    : undefined;
  const client = script("client.ts", [
    "--protocol",
    plan.protocol,
    "--host",
    plan.group,
    "--port",
    String(plan.port),
    "--multicast-if",
    "127.0.0.1",
    "--count",
    String(plan.count),
    "--fps",
    "50",
    "--encode",
    "jpg",
    ...(plan.protocol === "stream"
      ? ["--fec", "4", ...keyArgs, ...budget]
      : []),
    "--quiet",
  ]);
  const sent = await client.exit(60_000);
  if (!sent.success) {
    throw new Error(`client.ts failed: ${client.stderr.join("\n")}`);
  }
  const result: MulticastCliResult = {
    frames: [],
    summaries: [],
    client: client.stdout.at(-1) ?? "",
  };
  for (const { server, out } of servers) {
    // A member that missed a frame would wait for --count for ever: after a
    // grace period it is told to stop, and the test sees what it saved and
    // its summary's counts rather than a timeout.
    let grace: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      server.status,
      new Promise((resolve) => grace = setTimeout(resolve, 15_000)),
    ]);
    clearTimeout(grace);
    server.kill("SIGTERM");
    const status = await server.exit(15_000);
    if (!status.success) {
      throw new Error(`server.ts failed: ${server.stderr.join("\n")}`);
    }
    const names = [];
    for await (const entry of Deno.readDir(out)) names.push(entry.name);
    names.sort();
    result.frames.push(
      await Promise.all(names.map((name) => digest(`${out}/${name}`))),
    );
    result.summaries.push(
      server.stdout.findLast((l) => /^frames=/.test(l)) ?? "",
    );
  }
  if (relay !== undefined) {
    result.relayLost = relay.stats.forward.lost;
    await relay.close();
  }
  console.log(JSON.stringify({ result }));
}
