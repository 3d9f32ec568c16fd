/**
 * Run inside a private network namespace by tests/multicast_cli_test.ts: one
 * client.ts sends to a multicast group, several server.ts join it, and each
 * server's saved frames are reported as JSON on stdout.
 *
 * Arguments: one JSON object, a {@linkcode MulticastCliPlan}.
 *
 * @module
 */

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
}

/** What each member saved: file names and their bytes' hex digests. */
export interface MulticastCliResult {
  /** Per member, the SHA-256 of each saved frame, in order. */
  frames: string[][];
  /** Per member, its summary line. */
  summaries: string[];
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
  const servers = [];
  for (let i = 0; i < plan.members; i++) {
    const out = `${plan.dir}/member${i}`;
    const server = script("server.ts", [
      "--join",
      plan.group,
      "--join-if",
      "127.0.0.1",
      "--port",
      String(plan.port),
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
    "--quiet",
  ]);
  const sent = await client.exit(60_000);
  if (!sent.success) {
    throw new Error(`client.ts failed: ${client.stderr.join("\n")}`);
  }
  const result: MulticastCliResult = { frames: [], summaries: [] };
  for (const { server, out } of servers) {
    const status = await server.exit(30_000);
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
  console.log(JSON.stringify({ result }));
}
