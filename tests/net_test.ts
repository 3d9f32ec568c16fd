import assert from "node:assert/strict";
import fc from "fast-check";
import { EndpointCache } from "../lib/net/_endpoint_cache.ts";
import {
  endpointKey,
  formatIp,
  parseIp,
  reachableHost,
  urlHost,
} from "../lib/net/_ip.ts";
import { BindError, SendError } from "../lib/net/errors.ts";
import {
  clientBindOptions,
  openDatagramSocket,
  receiveBufferTooSmall,
  receiveBufferWarning,
  resolveEndpoint,
} from "../lib/net/open.ts";
import type { DatagramBatch, DatagramSocket } from "../lib/net/types.ts";
import { receiveLoop } from "../lib/net/receive_loop.ts";

const IMPLEMENTATIONS = ["native", "deno"] as const;
type Implementation = typeof IMPLEMENTATIONS[number];
const notLinux = Deno.build.os !== "linux";
const TIMEOUT_MS = 10_000;

function ignored(implementation: Implementation): boolean {
  return implementation === "native" && notLinux;
}

function open(
  implementation: Implementation,
  hostname = "127.0.0.1",
  port = 0,
): Promise<DatagramSocket> {
  return openDatagramSocket({ hostname, port, implementation });
}

/** Fails after `ms`, closing `sockets` so that pending receives end. */
async function within<T>(
  promise: Promise<T>,
  sockets: DatagramSocket[],
  ms = TIMEOUT_MS,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      for (const socket of sockets) socket.close();
      reject(new Error(`Timed out after ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function datagramAt(batch: DatagramBatch, i: number): Uint8Array {
  const start = batch.offsets[i]!;
  return batch.buffer.subarray(start, start + batch.lengths[i]!);
}

/** Receives until `count` datagrams arrived; returns copies of them. */
async function receiveCount(
  socket: DatagramSocket,
  count: number,
): Promise<Uint8Array[]> {
  const batch = socket.createBatch();
  const received: Uint8Array[] = [];
  while (received.length < count) {
    const n = await socket.receive(batch);
    if (n === 0) break;
    for (let i = 0; i < n; i++) received.push(datagramAt(batch, i).slice());
  }
  return received;
}

function sequenced(count: number, size: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => {
    const datagram = new Uint8Array(size).fill(i & 0xff);
    new DataView(datagram.buffer).setUint32(0, i);
    return datagram;
  });
}

for (const implementation of IMPLEMENTATIONS) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({
      name: `${implementation} socket ${name}`,
      ignore: ignored(implementation),
      fn,
    });

  test("binds port 0 to a real port and reports its kind", async () => {
    const socket = await open(implementation);
    try {
      assert.equal(socket.kind, implementation);
      assert.equal(socket.addr.hostname, "127.0.0.1");
      assert.ok(socket.addr.port > 0);
    } finally {
      socket.close();
    }
  });

  test("round-trips a datagram and names its sender", async () => {
    const a = await open(implementation);
    const b = await open(implementation);
    try {
      const batch = b.createBatch();
      await a.send(new TextEncoder().encode("get message!!!"), b.addr);
      const count = await within(b.receive(batch), [a, b]);
      assert.equal(count, 1);
      assert.equal(
        new TextDecoder().decode(datagramAt(batch, 0)),
        "get message!!!",
      );
      assert.deepEqual(batch.senders[0], a.addr);
      assert.equal(batch.senderKeys[0], `127.0.0.1:${a.addr.port}`);
    } finally {
      a.close();
      b.close();
    }
  });

  test("reuses the sender endpoint object for a repeat sender", async () => {
    const a = await open(implementation);
    const b = await open(implementation);
    try {
      await a.sendMany([new Uint8Array([1]), new Uint8Array([2])], b.addr);
      const batch = b.createBatch();
      const first = [];
      let seen = 0;
      while (seen < 2) {
        const n = await within(b.receive(batch), [a, b]);
        for (let i = 0; i < n; i++) first.push(batch.senders[i]);
        seen += n;
      }
      assert.equal(first.length, 2);
      assert.equal(first[0], first[1]);
    } finally {
      a.close();
      b.close();
    }
  });

  test("round-trips a 65507-byte datagram whole", async () => {
    const a = await open(implementation);
    const b = await open(implementation);
    try {
      const big = new Uint8Array(65507);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
      await a.send(big, b.addr);
      const [received] = await within(receiveCount(b, 1), [a, b]);
      assert.equal(received?.length, 65507);
      assert.deepEqual(received, big);
    } finally {
      a.close();
      b.close();
    }
  });

  test("rejects a 65508-byte datagram with SendError EMSGSIZE", async () => {
    const socket = await open(implementation);
    try {
      const to = { hostname: "127.0.0.1", port: socket.addr.port };
      await assert.rejects(
        socket.send(new Uint8Array(65508), to),
        (error: unknown) => {
          assert.ok(error instanceof SendError);
          assert.equal(error.code, "EMSGSIZE");
          assert.equal(error.size, 65508);
          assert.deepEqual(error.to, to);
          assert.match(error.message, /^Cannot send a 65508-byte datagram/);
          assert.ok(!error.message.includes("\n"));
          return true;
        },
      );
    } finally {
      socket.close();
    }
  });

  test("sends after a failed send still go out in order", async () => {
    const a = await open(implementation);
    const b = await open(implementation);
    try {
      const tooBig = a.send(new Uint8Array(70000), b.addr);
      const ok = a.send(new Uint8Array([7]), b.addr);
      await assert.rejects(tooBig, SendError);
      await ok;
      const [received] = await within(receiveCount(b, 1), [a, b]);
      assert.deepEqual(received, new Uint8Array([7]));
    } finally {
      a.close();
      b.close();
    }
  });

  test("keeps unawaited sends in call order", async () => {
    const a = await open(implementation);
    const b = await open("native");
    try {
      const datagrams = sequenced(200, 64);
      const sends = datagrams.map((datagram) => a.send(datagram, b.addr));
      const received = await within(receiveCount(b, 200), [a, b]);
      await Promise.all(sends);
      const order = received.map((d) => new DataView(d.buffer).getUint32(0));
      assert.deepEqual(order, datagrams.map((_, i) => i));
    } finally {
      a.close();
      b.close();
    }
  });

  test("sendMany delivers 2,000 datagrams complete and in order", async () => {
    const a = await open(implementation);
    const b = await open("native");
    try {
      assert.ok(!receiveBufferTooSmall(b));
      const datagrams = sequenced(2000, 1024);
      const receiving = receiveCount(b, datagrams.length);
      await a.sendMany(datagrams, b.addr);
      const received = await within(receiving, [a, b]);
      assert.equal(received.length, 2000);
      received.forEach((datagram, i) => {
        assert.equal(datagram.length, 1024);
        assert.equal(new DataView(datagram.buffer).getUint32(0), i);
      });
    } finally {
      a.close();
      b.close();
    }
  });

  test("close wakes a pending receive, which resolves with 0", async () => {
    const socket = await open(implementation);
    const batch = socket.createBatch();
    const pending = socket.receive(batch);
    socket.close();
    assert.equal(await within(pending, [socket]), 0);
    assert.equal(batch.count, 0);
    assert.equal(await socket.receive(batch), 0);
    await assert.rejects(
      socket.send(new Uint8Array(1), socket.addr),
      Deno.errors.BadResource,
    );
  });

  test("close during a receive loop of another socket's traffic ends it", async () => {
    const a = await open(implementation);
    const b = await open(implementation);
    try {
      const batch = b.createBatch();
      const loop = (async () => {
        let total = 0;
        for (;;) {
          const n = await b.receive(batch);
          if (n === 0) return total;
          total += n;
          if (total === 3) b.close();
        }
      })();
      await a.sendMany(sequenced(3, 10), b.addr);
      assert.equal(await within(loop, [a, b]), 3);
    } finally {
      a.close();
      b.close();
    }
  });

  test("gives a clear BindError for a port in use", async () => {
    const first = await open(implementation);
    try {
      const port = first.addr.port;
      await assert.rejects(open(implementation, "127.0.0.1", port), {
        name: "BindError",
        code: "EADDRINUSE",
        message: new RegExp(
          `^Cannot bind UDP 127\\.0\\.0\\.1:${port}: address already in use`,
        ),
      });
      await assert.rejects(
        open(implementation, "127.0.0.1", port),
        BindError,
      );
    } finally {
      first.close();
    }
  });

  test("rejects a batch made by the other implementation", async () => {
    const socket = await open(implementation);
    const other = await open(implementation === "native" ? "deno" : "native");
    try {
      await assert.rejects(socket.receive(other.createBatch()), TypeError);
    } finally {
      socket.close();
      other.close();
    }
  });

  test("on :: reports an IPv4 sender as plain IPv4 and replies to it", async () => {
    let server: DatagramSocket;
    try {
      server = await open(implementation, "::");
    } catch (error) {
      if (error instanceof BindError) return; // no IPv6 on this host
      throw error;
    }
    const client = await open(implementation);
    try {
      const to = { hostname: "127.0.0.1", port: server.addr.port };
      await client.send(new Uint8Array([4]), to);
      const batch = server.createBatch();
      assert.equal(await within(server.receive(batch), [server, client]), 1);
      assert.deepEqual(batch.senders[0], client.addr);
      assert.equal(batch.senderKeys[0], endpointKey(client.addr));
      await server.send(new Uint8Array([5]), batch.senders[0]!);
      const [reply] = await within(receiveCount(client, 1), [server, client]);
      assert.deepEqual(reply, new Uint8Array([5]));
    } finally {
      server.close();
      client.close();
    }
  });

  test("binds and round-trips on IPv6 loopback", async () => {
    let a: DatagramSocket;
    try {
      a = await open(implementation, "::1");
    } catch (error) {
      if (error instanceof BindError) return; // no IPv6 on this host
      throw error;
    }
    const b = await open(implementation, "::1");
    try {
      assert.equal(a.addr.hostname, "::1");
      await a.send(new Uint8Array([6]), b.addr);
      const batch = b.createBatch();
      assert.equal(await within(b.receive(batch), [a, b]), 1);
      assert.equal(batch.senderKeys[0], `[::1]:${a.addr.port}`);
    } finally {
      a.close();
      b.close();
    }
  });
}

Deno.test({
  name: "native socket gets a receive buffer of at least 4 MiB here",
  ignore: notLinux,
  async fn() {
    const socket = await open("native");
    try {
      assert.ok((socket.receiveBufferBytes ?? 0) >= 4 * 1024 * 1024);
      assert.equal(receiveBufferWarning(socket), undefined);
    } finally {
      socket.close();
    }
  },
});

Deno.test({
  name: "auto picks the native socket on Linux with FFI allowed",
  ignore: notLinux,
  async fn() {
    const socket = await openDatagramSocket({ hostname: "127.0.0.1", port: 0 });
    socket.close();
    assert.equal(socket.kind, "native");
  },
});

Deno.test({
  name: "native socket rejects an IPv6 destination from an IPv4 socket",
  ignore: notLinux,
  async fn() {
    const socket = await open("native");
    try {
      await assert.rejects(
        socket.send(new Uint8Array(1), { hostname: "::1", port: 9 }),
        { name: "SendError", code: "EAFNOSUPPORT" },
      );
    } finally {
      socket.close();
    }
  },
});

Deno.test({
  name: "native and deno sockets talk to each other both ways",
  ignore: notLinux,
  async fn() {
    const native = await open("native");
    const deno = await open("deno");
    try {
      await native.sendMany(sequenced(50, 100), deno.addr);
      const atDeno = await within(receiveCount(deno, 50), [native, deno]);
      assert.deepEqual(
        atDeno.map((d) => new DataView(d.buffer).getUint32(0)),
        [...Array(50).keys()],
      );
      await deno.send(new Uint8Array([42]), native.addr);
      const batch = native.createBatch();
      assert.equal(await within(native.receive(batch), [native, deno]), 1);
      assert.deepEqual(datagramAt(batch, 0), new Uint8Array([42]));
      assert.equal(batch.senderKeys[0], endpointKey(deno.addr));
    } finally {
      native.close();
      deno.close();
    }
  },
});

Deno.test("receiveBufferWarning explains a small or unknown buffer in one line", () => {
  const fake = (receiveBufferBytes: number | undefined) =>
    ({ receiveBufferBytes }) as DatagramSocket;
  assert.equal(receiveBufferTooSmall(fake(8 << 20), 4 << 20), false);
  assert.equal(receiveBufferTooSmall(fake(425984), 4 << 20), true);
  assert.equal(receiveBufferTooSmall(fake(undefined)), true);
  const warning = receiveBufferWarning(fake(425984)) ?? "";
  assert.match(
    warning,
    /^UDP receive buffer is 416 KiB, less than the 4096 KiB/,
  );
  assert.match(warning, /rmem_max/);
  assert.ok(!warning.includes("\n"));
});

Deno.test("openDatagramSocket rejects an unknown implementation", async () => {
  await assert.rejects(
    openDatagramSocket({
      hostname: "127.0.0.1",
      port: 0,
      implementation: "fast" as "auto",
    }),
    TypeError,
  );
});

Deno.test("openDatagramSocket rejects a port out of range", async () => {
  for (const implementation of IMPLEMENTATIONS) {
    await assert.rejects(open(implementation, "127.0.0.1", 70000), RangeError);
  }
});

Deno.test("resolveEndpoint maps localhost and keeps literals", async () => {
  assert.deepEqual(await resolveEndpoint({ hostname: "localhost", port: 1 }), {
    hostname: "127.0.0.1",
    port: 1,
  });
  assert.deepEqual(
    await resolveEndpoint({ hostname: "[0:0::1]", port: 2 }),
    { hostname: "::1", port: 2 },
  );
});

Deno.test("parseIp accepts IPv4, IPv6 and localhost and rejects the rest", () => {
  assert.deepEqual(parseIp("10.0.0.255"), new Uint8Array([10, 0, 0, 255]));
  assert.deepEqual(parseIp("localhost"), new Uint8Array([127, 0, 0, 1]));
  assert.equal(formatIp(parseIp("::")!), "::");
  assert.equal(formatIp(parseIp("::ffff:1.2.3.4")!), "::ffff:102:304");
  assert.equal(formatIp(parseIp("2001:DB8:0:0:1:0:0:1")!), "2001:db8::1:0:0:1");
  assert.equal(formatIp(parseIp("1:0:0:2:0:0:0:3")!), "1:0:0:2::3");
  assert.equal(formatIp(parseIp("fe80:0:0:0:1::")!), "fe80::1:0:0:0");
  for (
    const bad of [
      "256.1.1.1",
      "1.2.3",
      "01.2.3.4",
      "example.com",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "fe80::1%eth0",
      "",
    ]
  ) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

Deno.test("reachableHost and urlHost turn a wildcard bind into loopback, and urlHost brackets IPv6", () => {
  for (
    const [bound, reachable, host] of [
      ["0.0.0.0", "127.0.0.1", "127.0.0.1"],
      ["::", "::1", "[::1]"],
      ["127.0.0.1", "127.0.0.1", "127.0.0.1"],
      ["192.0.2.7", "192.0.2.7", "192.0.2.7"],
      ["::1", "::1", "[::1]"],
      ["2001:db8::5", "2001:db8::5", "[2001:db8::5]"],
      ["localhost", "localhost", "localhost"],
    ]
  ) {
    assert.equal(reachableHost(bound!), reachable, bound);
    assert.equal(urlHost(bound!), host, bound);
    assert.equal(new URL(`http://${urlHost(bound!)}:80/`).hostname, host);
  }
});

Deno.test("clientBindOptions binds a free port on the wildcard of the server's family, or the given address", () => {
  assert.deepEqual(
    clientBindOptions({ hostname: "127.0.0.1", port: 9999 }, {}),
    { hostname: "0.0.0.0", port: 0, implementation: "auto" },
  );
  assert.equal(
    clientBindOptions({ hostname: "::1", port: 9999 }, {}).hostname,
    "::",
  );
  assert.deepEqual(
    clientBindOptions({ hostname: "239.1.2.3", port: 5004 }, {
      bindHostname: "127.0.0.1",
      implementation: "deno",
      multicastTtl: 4,
      multicastInterface: "127.0.0.1",
    }),
    {
      hostname: "127.0.0.1",
      port: 0,
      implementation: "deno",
      multicastTtl: 4,
      multicastInterface: "127.0.0.1",
    },
  );
});

Deno.test("formatIp and parseIp round-trip any IPv4 or IPv6 address", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.ipV4(), fc.ipV6()),
      (text) => {
        const bytes = parseIp(text);
        assert.ok(bytes !== undefined, text);
        assert.deepEqual(parseIp(formatIp(bytes)), bytes);
      },
    ),
  );
});

Deno.test("EndpointCache returns one object per sender and evicts the oldest", () => {
  const cache = new EndpointCache(2);
  const a = cache.ipv4(0x7f000001, 5000);
  assert.equal(a.key, "127.0.0.1:5000");
  assert.equal(cache.ipv4(0x0a000001, 5000).key, "10.0.0.1:5000");
  assert.equal(cache.ipv4(0x7f000001, 5000), a);
  const v6 = cache.ipv6(0x20010db8, 0, 0, 1, 80);
  assert.equal(v6.key, "[2001:db8::1]:80");
  assert.deepEqual(v6.endpoint, { hostname: "2001:db8::1", port: 80 });
  assert.equal(cache.ipv6(0x20010db8, 0, 0, 1, 80), v6);
  assert.notEqual(cache.ipv4(0x7f000001, 5000), a);
});

Deno.test("receiveLoop hands on no datagram of a batch that lands after the owner closed, nor past a handler that closes", async () => {
  /** A socket whose receives each land a batch of `count` datagrams. */
  function fakeSocket(batches: number[], onReceive: () => void) {
    const batch: DatagramBatch = {
      count: 0,
      buffer: new Uint8Array(8),
      offsets: new Int32Array(4),
      lengths: new Int32Array(4).fill(1),
      senders: Array(4).fill({ hostname: "127.0.0.1", port: 1 }),
      senderKeys: Array(4).fill("127.0.0.1:1"),
    };
    return {
      createBatch: () => batch,
      receive: () => {
        onReceive();
        return Promise.resolve(batches.shift() ?? 0);
      },
    } as unknown as DatagramSocket;
  }
  // The owner closes while the receive is under way; its batch still lands.
  let closed = false;
  const late: number[] = [];
  await receiveLoop(fakeSocket([3, 3], () => closed = true), {
    onDatagram: (_, __, i) => late.push(i),
    onBatch: () => late.push(-1),
    closed: () => closed,
  });
  assert.deepEqual(late, []);
  // A handler that closes at the second datagram of the first batch.
  closed = false;
  const seen: number[] = [];
  await receiveLoop(fakeSocket([3, 3], () => {}), {
    onDatagram: (_, __, i) => {
      seen.push(i);
      if (i === 1) closed = true;
    },
    onBatch: () => seen.push(-1),
    closed: () => closed,
  });
  assert.deepEqual(seen, [0, 1]);
});
