import assert from "node:assert/strict";
import fc from "fast-check";
import { loadLibc, SOL_SOCKET } from "../lib/net/_libc.ts";
import { findUdpSocketFd, setIntOption } from "../lib/net/_sockopt.ts";
import { openNativeDatagramSocket } from "../lib/net/native.ts";
import { openDatagramSocket } from "../lib/net/open.ts";
import type { DatagramSocket } from "../lib/net/types.ts";

// UDP segmentation offload: runs of equal-size datagrams go down as one
// buffer (UDP_SEGMENT) and may come up as one (UDP_GRO). Whatever the
// kernel does with them, a receiver must see exactly the datagrams sent.

const ignore = Deno.build.os !== "linux";
const TIMEOUT_MS = 10_000;
/** `SO_NO_CHECK`: no UDP checksums sent, which makes Linux refuse UDP_SEGMENT. */
const SO_NO_CHECK = 11;

/** Datagram `i` of a list: its index, then a byte pattern of its length. */
function datagram(i: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let j = 0; j < length; j++) bytes[j] = (i * 7 + j) & 0xff;
  if (length >= 2) new DataView(bytes.buffer).setUint16(0, i);
  return bytes;
}

/** The classic protocol's shape: an 8-byte header, full chunks, a short end. */
function frameLike(bytes: number, chunk = 1024): number[] {
  const lengths = [8];
  for (let at = 0; at < bytes; at += chunk) {
    lengths.push(Math.min(chunk, bytes - at));
  }
  return lengths;
}

/** Receives `count` datagrams, copied, and the size of each receive. */
async function receiveAll(
  socket: DatagramSocket,
  count: number,
): Promise<{ datagrams: Uint8Array[]; receives: number[] }> {
  const batch = socket.createBatch();
  const datagrams: Uint8Array[] = [];
  const receives: number[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      socket.close();
      reject(
        new Error(`Timed out with ${datagrams.length} of ${count} datagrams`),
      );
    }, TIMEOUT_MS);
  });
  const loop = (async () => {
    while (datagrams.length < count) {
      const n = await socket.receive(batch);
      if (n === 0) break;
      receives.push(n);
      for (let i = 0; i < n; i++) {
        const start = batch.offsets[i]!;
        datagrams.push(
          batch.buffer.slice(start, start + batch.lengths[i]!),
        );
      }
    }
  })();
  try {
    await Promise.race([loop, timeout]);
  } finally {
    clearTimeout(timer);
  }
  return { datagrams, receives };
}

async function roundTrip(
  sender: DatagramSocket,
  receiver: DatagramSocket,
  lengths: readonly number[],
): Promise<number[]> {
  const sent = lengths.map((length, i) => datagram(i, length));
  const receiving = receiveAll(receiver, sent.length);
  await sender.sendMany(sent, receiver.addr);
  const { datagrams, receives } = await receiving;
  assert.deepEqual(datagrams.map((d) => d.length), [...lengths]);
  assert.deepEqual(datagrams, sent);
  return receives;
}

Deno.test({
  name:
    "offload hands a frame's run of chunks to a native receiver in fewer receives than datagrams, split back exactly",
  ignore,
  async fn() {
    const sender = openNativeDatagramSocket({ hostname: "127.0.0.1", port: 0 });
    const receiver = openNativeDatagramSocket({
      hostname: "127.0.0.1",
      port: 0,
      batchSize: 1,
    });
    try {
      // 150 KB: the header, then three runs of up to 63 chunks.
      const lengths = frameLike(150_000);
      const receives = await roundTrip(sender, receiver, lengths);
      // One message per receive call, yet some receives held many datagrams:
      // the kernel coalesced them, and the socket split them back.
      assert.ok(
        receives.some((n) => n > 1),
        `expected a receive of more than one datagram, got ${receives}`,
      );
      assert.ok(receives.length < lengths.length);
    } finally {
      sender.close();
      receiver.close();
    }
  },
});

Deno.test({
  name:
    "offload keeps every datagram's bounds for any mix of sizes, to native and deno receivers",
  ignore,
  async fn() {
    const sender = openNativeDatagramSocket({ hostname: "127.0.0.1", port: 0 });
    const native = openNativeDatagramSocket({
      hostname: "127.0.0.1",
      port: 0,
      batchSize: 3,
    });
    const deno = await openDatagramSocket({
      hostname: "127.0.0.1",
      port: 0,
      implementation: "deno",
    });
    try {
      // Runs of equal sizes, with shorter, longer and empty datagrams.
      const run = fc.tuple(
        fc.constantFrom(0, 1, 2, 7, 512, 1024, 1400, 9000),
        fc.integer({ min: 1, max: 80 }),
      ).map(([length, count]) => Array<number>(count).fill(length));
      const lengths = fc.array(run, { minLength: 1, maxLength: 6 })
        .map((runs) => runs.flat())
        .filter((all) => all.reduce((a, b) => a + b, 0) < 1_000_000);
      await fc.assert(
        fc.asyncProperty(lengths, async (all) => {
          await roundTrip(sender, native, all);
          await roundTrip(sender, deno, all);
        }),
        { numRuns: 25 },
      );
    } finally {
      sender.close();
      native.close();
      deno.close();
    }
  },
});

Deno.test({
  name: "offload works between native sockets on IPv6 loopback",
  ignore,
  async fn() {
    const sender = openNativeDatagramSocket({ hostname: "::1", port: 0 });
    const receiver = openNativeDatagramSocket({ hostname: "::1", port: 0 });
    try {
      await roundTrip(sender, receiver, frameLike(100_000));
    } finally {
      sender.close();
      receiver.close();
    }
  },
});

Deno.test({
  name: "with offload off, native sockets send and receive one datagram each",
  ignore,
  async fn() {
    const sender = openNativeDatagramSocket({
      hostname: "127.0.0.1",
      port: 0,
      offload: false,
    });
    const receiver = openNativeDatagramSocket({
      hostname: "127.0.0.1",
      port: 0,
      batchSize: 4,
      offload: false,
    });
    try {
      const receives = await roundTrip(sender, receiver, frameLike(50_000));
      assert.ok(receives.every((n) => n <= 4), `got receives of ${receives}`);
    } finally {
      sender.close();
      receiver.close();
    }
  },
});

Deno.test({
  name:
    "a sender whose path refuses segmentation falls back to one datagram per message and loses nothing",
  ignore,
  async fn() {
    const libc = loadLibc();
    assert.ok(libc !== undefined, "libc must load for the native socket");
    const sender = openNativeDatagramSocket({ hostname: "127.0.0.1", port: 0 });
    const receiver = openNativeDatagramSocket({
      hostname: "127.0.0.1",
      port: 0,
    });
    try {
      const fd = findUdpSocketFd(
        libc,
        new Uint8Array([127, 0, 0, 1]),
        sender.addr.port,
      );
      assert.ok(fd !== undefined, "the sender's descriptor must be found");
      // Without checksums Linux rejects UDP_SEGMENT with EINVAL.
      assert.ok(setIntOption(libc, fd, SOL_SOCKET, SO_NO_CHECK, 1));
      const lengths = frameLike(80_000);
      await roundTrip(sender, receiver, lengths);
      // And again, now that the socket knows.
      await roundTrip(sender, receiver, lengths);
    } finally {
      sender.close();
      receiver.close();
    }
  },
});

Deno.test({
  name:
    "openDatagramSocket passes offload: false to a native socket, which then takes one datagram per message",
  ignore,
  async fn() {
    const sender = await openDatagramSocket({
      hostname: "127.0.0.1",
      port: 0,
      implementation: "native",
      offload: false,
    });
    const receiver = await openDatagramSocket({
      hostname: "127.0.0.1",
      port: 0,
      implementation: "native",
      offload: false,
    });
    try {
      // 200 chunks: offloaded, a receive could hand out up to 1024 of them.
      const lengths = Array<number>(200).fill(1024);
      const receives = await roundTrip(sender, receiver, lengths);
      const largest = Math.max(...receives);
      assert.ok(largest <= 64, `a receive returned ${largest} datagrams`);
    } finally {
      sender.close();
      receiver.close();
    }
  },
});
