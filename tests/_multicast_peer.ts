/**
 * Multicast scenarios for `tests/multicast_test.ts`, run inside a private
 * network namespace (`unshare -n`) so that no packet can leave the machine.
 * The test starts `scenario` with a JSON plan; it may start `members` in
 * child processes, which inherit the namespace. Each prints JSON lines:
 * `{"ready": …}` once joined, then `{"result": …}`.
 *
 * @module
 */

import { multicastBindAddress } from "../lib/net/multicast.ts";
import { openDatagramSocket } from "../lib/net/open.ts";
import type { DatagramSocket, Endpoint } from "../lib/net/types.ts";

/** Where and how a set of receivers runs. */
export interface MemberPlan {
  /**
   * Which implementation the receivers use; `python` is one socket of
   * `tests/peers/multicast_member.py`, always in a child process.
   */
  implementation: "native" | "deno" | "python";
  /** Sockets bound to the group's port in one process. */
  sockets: number;
  /** Whether they run in a child process rather than in the scenario's. */
  child: boolean;
  /** Whether they turn receive offload on. @default {true} */
  offload?: boolean;
}

/** One sender, several receivers, one group. */
export interface ScenarioPlan {
  group: string;
  port: number;
  /** The interface address to join on and send from. */
  interface: string;
  sender: "native" | "deno";
  /** Whether the sender uses segmentation offload. */
  offload: boolean;
  /** Datagrams to send, each `size` bytes, in one `sendMany`. */
  count: number;
  size: number;
  members: MemberPlan[];
}

/** What a scenario reports. */
export interface ScenarioResult {
  members: MemberResult[];
  /** UDP datagrams the kernel counted out, segmented runs as one. */
  udpOutDatagrams: number;
}

/** What one receiving socket got. */
export interface MemberResult {
  implementation: string;
  /** The index in each datagram, in arrival order. */
  indexes: number[];
  /** How many datagrams had the wrong length or bytes. */
  damaged: number;
  /** Unicast datagrams that arrived. */
  unicast: number;
}

const GIVE_UP_MS = 20_000;

/** Datagram `i`: its index in the first 4 bytes, then a pattern. */
export function datagram(i: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let j = 4; j < size; j++) bytes[j] = (i + j) & 0xff;
  new DataView(bytes.buffer).setUint32(0, i);
  return bytes;
}

function openMember(
  plan: ScenarioPlan,
  member: MemberPlan,
): Promise<DatagramSocket> {
  if (member.implementation === "python") {
    throw new TypeError("Python members run in a child process");
  }
  return openDatagramSocket({
    hostname: multicastBindAddress(plan.group),
    port: plan.port,
    implementation: member.implementation,
    offload: member.offload ?? true,
    reuseAddress: true,
    multicast: { join: plan.group, interface: plan.interface },
  });
}

/** Receives until `count` group datagrams came, or a deadline. */
async function collect(
  socket: DatagramSocket,
  plan: ScenarioPlan,
): Promise<MemberResult> {
  const result: MemberResult = {
    implementation: socket.kind,
    indexes: [],
    damaged: 0,
    unicast: 0,
  };
  const batch = socket.createBatch();
  const timer = setTimeout(() => socket.close(), GIVE_UP_MS);
  try {
    while (result.indexes.length < plan.count) {
      const n = await socket.receive(batch);
      if (n === 0) break;
      for (let k = 0; k < n; k++) {
        const start = batch.offsets[k]!;
        const bytes = batch.buffer.subarray(start, start + batch.lengths[k]!);
        if (bytes.length === 1) {
          result.unicast++;
          continue;
        }
        const i = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);
        result.indexes.push(i);
        const expected = datagram(i, plan.size);
        if (
          bytes.length !== plan.size || bytes.some((b, j) => b !== expected[j])
        ) result.damaged++;
      }
    }
  } finally {
    clearTimeout(timer);
    socket.close();
  }
  return result;
}

function print(value: unknown): void {
  console.log(JSON.stringify(value));
}

/** A child's part: open the sockets, say so, and report what came. */
async function members(plan: ScenarioPlan, member: MemberPlan): Promise<void> {
  const sockets: DatagramSocket[] = [];
  for (let i = 0; i < member.sockets; i++) {
    sockets.push(await openMember(plan, member));
  }
  print({ ready: sockets.length });
  print({ result: await Promise.all(sockets.map((s) => collect(s, plan))) });
}

/** Waits for a child's JSON line that has `key`. */
async function line(
  reader: ReadableStreamDefaultReader<string>,
  key: string,
): Promise<Record<string, unknown>> {
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`A member process ended before "${key}"`);
    for (const text of value.split("\n")) {
      if (!text.startsWith("{")) continue;
      const parsed = JSON.parse(text) as Record<string, unknown>;
      if (key in parsed) return parsed;
    }
  }
}

/** The whole scenario: members, a send, every member's report. */
async function scenario(plan: ScenarioPlan): Promise<void> {
  const children = plan.members.filter((m) => m.child).map((member) => {
    const [command, ...args] = member.implementation === "python"
      ? [
        "python3",
        "-u",
        new URL("peers/multicast_member.py", import.meta.url).pathname,
        plan.group,
        `${plan.port}`,
        plan.interface,
        `${plan.count}`,
        `${plan.size}`,
      ]
      : [
        Deno.execPath(),
        "run",
        "-q",
        "-P=test",
        import.meta.filename!,
        "members",
        JSON.stringify(plan),
        JSON.stringify(member),
      ];
    const process = new Deno.Command(command!, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = process.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    return { process, reader };
  });
  for (const child of children) await line(child.reader, "ready");
  const local: DatagramSocket[] = [];
  for (const member of plan.members.filter((m) => !m.child)) {
    for (let i = 0; i < member.sockets; i++) {
      local.push(await openMember(plan, member));
    }
  }
  const collecting = local.map((socket) => collect(socket, plan));
  const sender = await openDatagramSocket({
    hostname: plan.interface,
    port: 0,
    implementation: plan.sender,
    offload: plan.offload,
    multicastInterface: plan.interface,
  });
  const to: Endpoint = { hostname: plan.group, port: plan.port };
  const datagrams = Array.from(
    { length: plan.count },
    (_, i) => datagram(i, plan.size),
  );
  // Unicast to the shared port reaches one socket, not all; sent first, it
  // is queued ahead of the group's datagrams.
  await sender.send(new Uint8Array([1]), {
    hostname: plan.interface,
    port: plan.port,
  });
  await sender.sendMany(datagrams, to);
  const results: MemberResult[] = await Promise.all(collecting);
  for (const child of children) {
    const reported = await line(child.reader, "result");
    results.push(...(reported.result as MemberResult[]));
    await child.reader.cancel();
    await child.process.status;
  }
  sender.close();
  print({ result: { members: results, udpOutDatagrams: udpOutDatagrams() } });
}

/**
 * UDP datagrams this namespace sent, as the kernel counts them: one per
 * segmented run, so fewer than were sent when offload was used.
 */
function udpOutDatagrams(): number {
  // Deno reads /proc/net only with --allow-all; cat may.
  const { stdout } = new Deno.Command("cat", { args: ["/proc/net/snmp"] })
    .outputSync();
  const lines = new TextDecoder().decode(stdout).split("\n")
    .filter((line) => line.startsWith("Udp:"))
    .map((line) => line.split(/\s+/));
  const [names, values] = lines;
  const at = names?.indexOf("OutDatagrams") ?? -1;
  return at < 0 ? -1 : Number(values?.[at]);
}

/** How an attempt failed: the error's class, errno name and message. */
export interface Failure {
  name: string;
  code: string | undefined;
  message: string;
}

async function failure(attempt: () => Promise<unknown>): Promise<Failure> {
  try {
    const value = await attempt();
    if (value !== null && typeof value === "object" && "close" in value) {
      (value as DatagramSocket).close();
    }
  } catch (error) {
    const { name, message } = error as Error;
    return { name, code: (error as { code?: string }).code, message };
  }
  return { name: "none", code: undefined, message: "" };
}

/**
 * Refusals that only the kernel can give, for one implementation: no route
 * to pick an interface, an interface this host does not have, a second join,
 * a leave of a group not joined, too many groups, a send with no route. Then
 * a leave that takes effect: after it, a unicast marker comes first.
 */
async function errors(implementation: "native" | "deno"): Promise<void> {
  const open = (options: Partial<Parameters<typeof openDatagramSocket>[0]>) =>
    openDatagramSocket({
      hostname: "0.0.0.0",
      port: 0,
      implementation,
      ...options,
    });
  const group = "239.1.2.3";
  const report: Record<string, Failure> = {
    noRoute: await failure(() => open({ multicast: { join: group } })),
    foreignInterface: await failure(() =>
      open({ multicast: { join: group, interface: "10.9.9.9" } })
    ),
    foreignSendInterface: await failure(() =>
      open({ multicastInterface: "10.9.9.9" })
    ),
  };
  const socket = await open({
    multicast: { join: group, interface: "127.0.0.1" },
  });
  report.joinTwice = await failure(() => socket.joinGroup(group, "127.0.0.1"));
  report.leaveOther = await failure(() =>
    socket.leaveGroup("239.7.7.7", "127.0.0.1")
  );
  report.tooMany = await failure(async () => {
    for (let i = 1; i <= 64; i++) {
      await socket.joinGroup(`239.2.0.${i}`, "127.0.0.1");
    }
  });
  report.sendNoRoute = await failure(() =>
    socket.send(new Uint8Array(4), { hostname: group, port: 9 })
  );
  const sender = await openDatagramSocket({
    hostname: "127.0.0.1",
    port: 0,
    implementation,
    multicastInterface: "127.0.0.1",
  });
  const to = { hostname: group, port: socket.addr.port };
  await socket.leaveGroup(group, "127.0.0.1");
  await sender.send(new Uint8Array([2, 2]), to);
  await sender.send(new Uint8Array([1]), {
    hostname: "127.0.0.1",
    port: to.port,
  });
  const batch = socket.createBatch();
  await socket.receive(batch);
  const afterLeave = batch.lengths[0] === 1 ? "unicast" : "group";
  await socket.joinGroup(group, "127.0.0.1");
  await sender.send(new Uint8Array([2, 2]), to);
  await socket.receive(batch);
  const afterRejoin = batch.lengths[0] === 1 ? "unicast" : "group";
  sender.close();
  socket.close();
  print({ result: { report, afterLeave, afterRejoin } });
}

if (import.meta.main) {
  const [role, plan, member] = Deno.args;
  if (role === "scenario") await scenario(JSON.parse(plan!));
  else if (role === "members") {
    await members(JSON.parse(plan!), JSON.parse(member!));
  } else if (role === "errors") await errors(JSON.parse(plan!));
  else throw new Error(`Unknown role ${role}`);
}
