import assert from "node:assert/strict";
import { missing } from "./_deps.ts";
import { Child, root } from "./_process.ts";
import type {
  Failure,
  ScenarioPlan,
  ScenarioResult,
} from "./_multicast_peer.ts";
import {
  IP_MULTICAST_IF,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  IPPROTO_IP,
  loadLibc,
  SO_REUSEADDR,
  SOL_SOCKET,
} from "../lib/net/_libc.ts";
import { parseIp } from "../lib/net/_ip.ts";
import { findUdpSocketFd, getIntOption } from "../lib/net/_sockopt.ts";
import { isMulticast, multicastBindAddress } from "../lib/net/multicast.ts";
import { openDatagramSocket } from "../lib/net/open.ts";
import type { DatagramSocket } from "../lib/net/types.ts";

// Everything that joins a group or sends to one runs in a private network
// namespace (unshare -n) with only its loopback up, so that no packet can
// leave the machine. The tests here read what the scenarios report.

const IMPLEMENTATIONS = ["native", "deno"] as const;
const notLinux = Deno.build.os !== "linux";
const PEER = `${root}tests/_multicast_peer.ts`;
/** SO_REUSEPORT: not set by reuseAddress. */
const SO_REUSEPORT = 15;

/**
 * A veth pair whose both ends stay in the namespace, with an IPv6 address
 * on v0: Linux does not loop IPv6 multicast through lo.
 */
const VETH = "ip link add v0 type veth peer name v1 && ip link set v0 up && " +
  "ip link set v1 up && ip -6 addr add fd00::1/64 dev v0 nodad";

/** Runs a role of the peer script in a fresh namespace; returns its result. */
async function inNamespace<T>(
  role: string,
  args: unknown[],
  setup = "true",
): Promise<T> {
  const child = new Child("unshare", [
    "-n",
    "bash",
    "-c",
    `ip link set lo up && ${setup} && exec "$0" run -q -P=test "$@"`,
    Deno.execPath(),
    PEER,
    role,
    ...args.map((arg) => JSON.stringify(arg)),
  ], { cwd: root });
  try {
    const [line] = await child.waitFor(/^\{"result":.*$/, 60_000);
    const status = await child.exit();
    assert.ok(status.success, `the ${role} scenario failed: ${child.stderr}`);
    return (JSON.parse(line) as { result: T }).result;
  } finally {
    await child[Symbol.asyncDispose]();
  }
}

function scenario(
  plan: Partial<ScenarioPlan>,
  setup?: string,
): Promise<ScenarioResult> {
  return inNamespace<ScenarioResult>("scenario", [{
    group: "239.255.0.1",
    port: 5004,
    interface: "127.0.0.1",
    sender: "native",
    offload: true,
    count: 200,
    size: 1024,
    members: [],
    ...plan,
  }], setup);
}

/** Every member got datagrams 0 to count − 1, intact and in order. */
function assertEveryMemberGotAll(
  result: ScenarioResult,
  plan: Partial<ScenarioPlan>,
): void {
  const members = (plan.members ?? []).reduce((n, m) => n + m.sockets, 0);
  assert.equal(result.members.length, members);
  const all = [...Array(plan.count).keys()];
  for (const member of result.members) {
    assert.equal(member.damaged, 0, `${member.implementation} damaged`);
    assert.deepEqual(member.indexes, all, `${member.implementation} indexes`);
  }
  // The unicast datagram sent to the shared port went to one socket only.
  const unicast = result.members.reduce((sum, m) => sum + m.unicast, 0);
  assert.equal(unicast, 1);
}

const SCENARIOS: {
  name: string;
  plan: Partial<ScenarioPlan>;
  setup?: string;
}[] = [
  {
    name:
      "native members, two in one process and one in each of two others, and a Python member, each get every datagram of an offloaded 2,000-datagram burst",
    plan: {
      sender: "native",
      offload: true,
      count: 2000,
      members: [
        { implementation: "native", sockets: 2, child: false },
        { implementation: "native", sockets: 1, child: true },
        { implementation: "native", sockets: 1, child: true },
        { implementation: "python", sockets: 1, child: true },
      ],
    },
  },
  {
    name:
      "deno members, two in one process and one in each of two others, each get every datagram a deno sender sends",
    plan: {
      sender: "deno",
      offload: false,
      count: 300,
      members: [
        { implementation: "deno", sockets: 2, child: false },
        { implementation: "deno", sockets: 1, child: true },
        { implementation: "deno", sockets: 1, child: true },
      ],
    },
  },
  {
    name:
      "a segmented burst to a group reaches members without receive offload as the separate datagrams sent",
    plan: {
      sender: "native",
      offload: true,
      count: 2000,
      size: 1400,
      members: [
        { implementation: "native", sockets: 1, child: false, offload: false },
        { implementation: "deno", sockets: 1, child: false },
        { implementation: "native", sockets: 1, child: true },
        { implementation: "deno", sockets: 1, child: true },
      ],
    },
  },
  {
    name:
      "IPv6 members of ff15::1234 on a veth interface, native and deno, in this process and another, each get every datagram",
    plan: {
      group: "ff15::1234",
      interface: "fd00::1",
      sender: "native",
      offload: true,
      count: 500,
      members: [
        { implementation: "native", sockets: 2, child: false },
        { implementation: "deno", sockets: 1, child: false },
        { implementation: "deno", sockets: 1, child: true },
      ],
    },
    setup: VETH,
  },
];

for (const { name, plan, setup } of SCENARIOS) {
  Deno.test({
    name,
    ignore: notLinux || missing("netns"),
    async fn() {
      const result = await scenario(plan, setup);
      assertEveryMemberGotAll(result, plan);
      if (plan.offload && setup === undefined) {
        // Segmented: the kernel counted a few dozen sends, not thousands.
        const sends = result.udpOutDatagrams;
        assert.ok(sends > 0 && sends < plan.count! / 10, `${sends} sends`);
      }
    },
  });
}

for (const implementation of IMPLEMENTATIONS) {
  Deno.test({
    name:
      `${implementation} socket refusals from the kernel come as one-line MulticastErrors, and leaveGroup takes effect`,
    ignore: (implementation === "native" && notLinux) || missing("netns"),
    async fn() {
      const { report, afterLeave, afterRejoin } = await inNamespace<{
        report: Record<string, Failure>;
        afterLeave: string;
        afterRejoin: string;
      }>("errors", [implementation]);
      const expect: Record<string, [string, string, RegExp]> = {
        noRoute: [
          "MulticastError",
          "ENODEV",
          /^Cannot join multicast group 239\.1\.2\.3: no route picks an interface .*such as 127\.0\.0\.1$/,
        ],
        foreignInterface: [
          "MulticastError",
          "ENODEV",
          /^Cannot join multicast group 239\.1\.2\.3 on 10\.9\.9\.9: no interface has that address/,
        ],
        foreignSendInterface: [
          "MulticastError",
          "EADDRNOTAVAIL",
          /^Cannot send multicast from 10\.9\.9\.9: no interface has that address/,
        ],
        joinTwice: ["MulticastError", "EADDRINUSE", /already a member/],
        leaveOther: ["MulticastError", "EADDRNOTAVAIL", /not a member/],
        tooMany: [
          "MulticastError",
          "ENOBUFS",
          /too many groups .*igmp_max_memberships/,
        ],
        sendNoRoute: [
          "SendError",
          "ENETUNREACH",
          /no route leads to the group; name the interface to send from .*multicastInterface/,
        ],
      };
      for (const [what, [name, code, message]] of Object.entries(expect)) {
        const failure = report[what];
        assert.ok(failure !== undefined, what);
        assert.equal(failure.name, name, `${what}: ${failure.message}`);
        assert.equal(failure.code, code, what);
        assert.match(failure.message, message, what);
        assert.ok(!failure.message.includes("\n"), what);
      }
      assert.equal(afterLeave, "unicast");
      assert.equal(afterRejoin, "group");
    },
  });

  Deno.test({
    name:
      `${implementation} socket sets multicast TTL, loopback, interface and SO_REUSEADDR as asked, and the kernel's defaults otherwise`,
    ignore: notLinux,
    async fn() {
      const libc = loadLibc();
      assert.ok(libc !== undefined, "libc must load to read the options");
      const read = (socket: DatagramSocket) => {
        const ip = parseIp(socket.addr.hostname)!;
        const fd = findUdpSocketFd(libc, ip, socket.addr.port);
        assert.ok(fd !== undefined, "the socket's descriptor must be found");
        const address = new Uint8Array(4);
        libc.symbols.getsockopt(
          fd,
          IPPROTO_IP,
          IP_MULTICAST_IF,
          address,
          new Uint32Array([4]),
        );
        return {
          ttl: getIntOption(libc, fd, IPPROTO_IP, IP_MULTICAST_TTL),
          loopback: getIntOption(libc, fd, IPPROTO_IP, IP_MULTICAST_LOOP),
          interface: address.join("."),
          reuseAddress: getIntOption(libc, fd, SOL_SOCKET, SO_REUSEADDR),
          reusePort: getIntOption(libc, fd, SOL_SOCKET, SO_REUSEPORT),
        };
      };
      const plain = await openDatagramSocket({
        hostname: "127.0.0.1",
        port: 0,
        implementation,
      });
      const set = await openDatagramSocket({
        hostname: "127.0.0.1",
        port: 0,
        implementation,
        reuseAddress: true,
        multicastTtl: 7,
        multicastLoopback: false,
        multicastInterface: "127.0.0.1",
      });
      try {
        assert.deepEqual(read(plain), {
          ttl: 1,
          loopback: 1,
          interface: "0.0.0.0",
          reuseAddress: 0,
          reusePort: 0,
        });
        assert.deepEqual(read(set), {
          ttl: 7,
          loopback: 0,
          interface: "127.0.0.1",
          reuseAddress: 1,
          reusePort: 0,
        });
      } finally {
        plain.close();
        set.close();
      }
    },
  });

  Deno.test({
    name:
      `${implementation} sockets share a port with reuseAddress and not without`,
    ignore: implementation === "native" && notLinux,
    async fn() {
      const open = (port: number, reuseAddress: boolean) =>
        openDatagramSocket({
          hostname: "127.0.0.1",
          port,
          implementation,
          reuseAddress,
        });
      const first = await open(0, true);
      const port = first.addr.port;
      try {
        const second = await open(port, true);
        second.close();
        await assert.rejects(open(port, false), { code: "EADDRINUSE" });
      } finally {
        first.close();
      }
    },
  });

  Deno.test({
    name:
      `${implementation} socket rejects bad groups, TTLs and interfaces in one line before opening anything`,
    ignore: implementation === "native" && notLinux,
    async fn() {
      const cases: [Record<string, unknown>, ErrorConstructor, RegExp][] = [
        [
          { multicast: { join: "10.0.0.1" } },
          RangeError,
          /^Cannot join 10\.0\.0\.1: not a multicast address; use one in 224\.0\.0\.0\/4/,
        ],
        [
          { multicast: { join: "example.com" } },
          TypeError,
          /^Cannot join multicast group "example\.com": expected an IPv4 or IPv6 address/,
        ],
        [
          {
            multicast: { join: ["239.1.1.1", "224.0.0.0", "223.255.255.255"] },
          },
          RangeError,
          /^Cannot join 223\.255\.255\.255: not a multicast address/,
        ],
        [
          { multicast: { join: "ff02::1" } },
          TypeError,
          /^Cannot join IPv6 group ff02::1 on a socket bound to an IPv4 address; bind ::/,
        ],
        [
          { hostname: "127.0.0.1", multicast: { join: "239.1.1.1" } },
          TypeError,
          /^Cannot join 239\.1\.1\.1 on a socket bound to 127\.0\.0\.1: multicast reaches only sockets bound to 0\.0\.0\.0 or to the group; bind 0\.0\.0\.0$/,
        ],
        [
          { multicast: { join: "239.1.1.1", interface: "eth0" } },
          TypeError,
          /^Cannot join multicast on interface "eth0": expected the interface's IPv4 or IPv6 address/,
        ],
        [
          { multicast: { join: "239.1.1.1", interface: "::1" } },
          TypeError,
          /an IPv4 group needs an IPv4 address of the interface$/,
        ],
        [
          { multicastInterface: "239.1.1.1" },
          TypeError,
          /^Cannot send multicast on interface "239\.1\.1\.1": expected the interface's/,
        ],
        [
          { multicastTtl: 256 },
          RangeError,
          /^Cannot use multicast TTL 256: expected an integer from 0 to 255/,
        ],
        [{ multicastTtl: -1 }, RangeError, /multicast TTL -1/],
        [{ multicastTtl: 1.5 }, RangeError, /multicast TTL 1\.5/],
      ];
      for (const [options, type, message] of cases) {
        await assert.rejects(
          openDatagramSocket({
            hostname: "0.0.0.0",
            port: 0,
            implementation,
            ...options,
          }),
          (error: unknown) => {
            assert.ok(error instanceof type, `${error} for ${message}`);
            assert.match(error.message, message);
            assert.ok(!error.message.includes("\n"));
            return true;
          },
        );
      }
      const socket = await openDatagramSocket({
        hostname: "0.0.0.0",
        port: 0,
        implementation,
      });
      try {
        await assert.rejects(socket.joinGroup("127.0.0.1"), RangeError);
        await assert.rejects(socket.joinGroup("ff02::1"), TypeError);
        await assert.rejects(socket.joinGroup("239.1.1.1", "lo"), TypeError);
      } finally {
        socket.close();
      }
      await assert.rejects(socket.joinGroup("239.1.1.1"), {
        name: "BadResource",
      });
    },
  });
}

Deno.test("isMulticast tells group addresses from the rest", () => {
  for (
    const group of [
      "224.0.0.1",
      "239.255.0.1",
      "ff02::1",
      "::ffff:239.1.2.3",
      "[ff15::1234]",
    ]
  ) {
    assert.equal(isMulticast(group), true, group);
  }
  for (
    const other of [
      "223.255.255.255",
      "240.0.0.1",
      "127.0.0.1",
      "::1",
      "fe80::1",
      "example.com",
      "",
    ]
  ) {
    assert.equal(isMulticast(other), false, other);
  }
});

Deno.test("multicastBindAddress is the wildcard of the group's family", () => {
  assert.equal(multicastBindAddress("239.255.0.1"), "0.0.0.0");
  assert.equal(multicastBindAddress("::ffff:239.255.0.1"), "0.0.0.0");
  assert.equal(multicastBindAddress("ff15::1234"), "::");
  assert.throws(() => multicastBindAddress("10.0.0.1"), RangeError);
});
