import assert from "node:assert/strict";
import type { DatagramSocket, Endpoint } from "../lib/net/types.ts";
import { parseJpeg } from "../lib/rtp/jpeg.ts";
import { readRtpHeader } from "../lib/rtp/packet.ts";
import { UdpPacer, UdpSink } from "../lib/rtsp/_udp.ts";
import { type PacketizedFrame, RtspStream } from "../lib/rtsp/stream.ts";

const jpeg = parseJpeg(
  await Deno.readFile(
    new URL("../bench/frames/photo_1280x720.jpg", import.meta.url),
  ),
);

/** A socket that records each sendMany; `blocked` ones never settle. */
class FakeSocket {
  readonly sends: { to: number; sequences: number[] }[] = [];
  blocked = new Set<number>();
  #waiters: [number, number, () => void][] = [];

  sendMany(datagrams: readonly Uint8Array[], to: Endpoint): Promise<void> {
    this.sends.push({
      to: to.port,
      sequences: datagrams.map((d) => {
        const header = readRtpHeader(d);
        return typeof header === "string" ? -1 : header.sequence;
      }),
    });
    this.#waiters = this.#waiters.filter(([port, count, wake]) => {
      if (this.packetsTo(port) < count) return true;
      // After the sender's own promise callbacks, as a real socket's would.
      setTimeout(wake, 0);
      return false;
    });
    return this.blocked.has(to.port)
      ? new Promise(() => {})
      : Promise.resolve();
  }

  send(): Promise<void> {
    return Promise.resolve();
  }

  packetsTo(port: number): number {
    return this.sends.filter((s) => s.to === port).reduce(
      (n, s) => n + s.sequences.length,
      0,
    );
  }

  /** Resolves once `port` has been sent `count` packets. */
  until(port: number, count: number): Promise<void> {
    if (this.packetsTo(port) >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push([port, count, resolve]));
  }
}

function setUp(offset: { ms: number }) {
  const socket = new FakeSocket();
  const rtp = socket as unknown as DatagramSocket;
  let skipped = 0;
  const pacer = new UdpPacer(rtp, {
    clock: () => performance.now() + offset.ms,
  }, () => skipped++);
  const stream = new RtspStream({ sequence: 0 });
  const sink = (port: number) => {
    const s = new UdpSink(pacer, rtp, {
      rtp: { hostname: "127.0.0.1", port },
      rtcp: { hostname: "127.0.0.1", port: port + 1 },
    }, (error) => {
      throw error;
    });
    stream.addSink(s, 0, 0);
    return s;
  };
  return { socket, pacer, stream, sink, skipped: () => skipped };
}

Deno.test("UdpPacer sends a frame's bursts to every client, spread once it knows the frame interval", async () => {
  const offset = { ms: 0 };
  const { socket, pacer, stream, sink } = setUp(offset);
  sink(5000);
  sink(6000);
  const first = stream.deliver(jpeg, 0)!;
  const count = first.packets.length;
  await Promise.all([socket.until(5000, count), socket.until(6000, count)]);
  const firstCalls = socket.sends.length;
  offset.ms += 33; // the next frame comes one 30 fps interval later
  const second: PacketizedFrame = stream.deliver(jpeg, 33)!;
  await Promise.all([
    socket.until(5000, 2 * count),
    socket.until(6000, 2 * count),
  ]);
  pacer.close();
  const bursts = socket.sends.slice(firstCalls).filter((s) => s.to === 5000);
  assert.ok(
    bursts.length > 2,
    `the second frame went in ${bursts.length} bursts`,
  );
  assert.deepEqual(
    bursts.flatMap((b) => b.sequences),
    second.packets.map((_, i) => (count + i) & 0xffff),
    "in order, each packet once",
  );
  const other = socket.sends.slice(firstCalls).filter((s) => s.to === 6000);
  assert.deepEqual(
    other.map((b) => b.sequences),
    bursts.map((b) => b.sequences),
  );
});

Deno.test("UdpPacer sends the rest of a frame at once when a newer one comes, so sequence numbers stay in order", async () => {
  const offset = { ms: 0 };
  const { socket, pacer, stream, sink } = setUp(offset);
  sink(5000);
  const first = stream.deliver(jpeg, 0)!;
  const count = first.packets.length;
  await socket.until(5000, count);
  offset.ms += 200; // a slow camera: a long spread (at most 40 ms)
  stream.deliver(jpeg, 200);
  stream.deliver(jpeg, 201); // the next frame before the spread is over
  await socket.until(5000, 3 * count);
  pacer.close();
  const sequences = socket.sends.flatMap((s) => s.sequences);
  assert.deepEqual(sequences, sequences.map((_, i) => i));
});

Deno.test("UdpPacer makes a client whose socket cannot send skip frames, and keeps serving the others", async () => {
  const offset = { ms: 0 };
  const { socket, pacer, stream, sink, skipped } = setUp(offset);
  sink(5000);
  sink(6000);
  socket.blocked.add(5000);
  const frame = stream.deliver(jpeg, 0)!;
  const count = frame.packets.length;
  await socket.until(6000, count);
  offset.ms += 100; // 100 ms later the blocked client's sends still wait
  stream.deliver(jpeg, 100);
  stream.deliver(jpeg, 133);
  await socket.until(6000, 3 * count);
  pacer.close();
  assert.equal(
    socket.packetsTo(5000),
    count,
    "only the first frame was handed over",
  );
  assert.equal(skipped(), 2);
});
