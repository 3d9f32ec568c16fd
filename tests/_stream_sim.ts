/**
 * A whole stream over a simulated path with a virtual clock: a
 * StreamSender and a StreamReceiver joined by two LinkModels, with no
 * socket and no real time.
 *
 * @module
 */

import {
  LinkModel,
  type LinkOptions,
  seededRandom,
} from "../lib/net/link_model.ts";
import type { Endpoint } from "../lib/net/types.ts";
import {
  StreamSender,
  type StreamSenderOptions,
  type StreamSenderStats,
} from "../lib/stream/sender.ts";
import {
  StreamReceiver,
  type StreamReceiverOptions,
} from "../lib/stream/receiver.ts";
import type { ReceiverEvent } from "../lib/server/types.ts";

export const SERVER: Endpoint = { hostname: "127.0.0.1", port: 9999 };
export const CLIENT: Endpoint = { hostname: "127.0.0.1", port: 5000 };
const CLIENT_KEY = "127.0.0.1:5000";

/** What to simulate. */
export interface SimOptions {
  /** The frames, sent in order. */
  frames: readonly Uint8Array[];
  /** Frames a second; 0 sends each as soon as the sender wants one. */
  fps: number;
  /** Sender to receiver. */
  up?: LinkOptions;
  /** Receiver to sender. */
  down?: LinkOptions;
  sender?: Partial<StreamSenderOptions>;
  receiver?: StreamReceiverOptions;
  /** Stop after this much virtual time, ms. */
  maxTimeMs?: number;
  /** Share of sender datagrams with one byte flipped on the way. */
  corrupt?: number;
  /** Called after each step, to check invariants. */
  onStep?: (receiver: StreamReceiver, now: number) => void;
  /** Sees every datagram the sender sends, before the path. */
  tap?: (bytes: Uint8Array) => void;
  /**
   * A receiving program that takes whole frames at a fixed pace, as a
   * decoder does, from a bounded queue (the server's frame sink): a frame
   * that finds it full is skipped and counted into the reports.
   */
  sink?: SimSinkOptions;
}

/** A simulated decoder behind the receiver. */
export interface SimSinkOptions {
  /** Frames it takes a second. */
  fps: number;
  /** Frames that may wait; more are skipped. @default {32} */
  maxQueued?: number;
  /** Every this many ms it stalls (CPU taken by another process). */
  stallEveryMs?: number;
  /** For this long, ms. @default {0} */
  stallMs?: number;
}

/** What happened. */
export interface SimResult {
  delivered: Uint8Array[];
  events: ReceiverEvent[];
  sender: StreamSenderStats;
  counters: Readonly<Record<string, number>>;
  closed: boolean;
  endedAt: number;
  /** The sender's notice lines. */
  senderNotices: string[];
  /** With `sink`: frames it took, and frames it skipped. */
  sinkTaken: number;
  sinkSkipped: number;
}

/** Runs the stream to its end, or to `maxTimeMs`. */
export function simulate(options: SimOptions): SimResult {
  const sender = new StreamSender({
    peer: SERVER,
    wallClockOrigin: 1_700_000_000_000,
    ...options.sender,
  });
  const receiver = new StreamReceiver({
    wallClockOrigin: 1_700_000_000_000,
    ...options.receiver,
  });
  const up = new LinkModel<Uint8Array>({ seed: 11, ...options.up });
  const down = new LinkModel<Uint8Array>({ seed: 12, ...options.down });
  const flip = seededRandom(99);
  const delivered: Uint8Array[] = [];
  const events: ReceiverEvent[] = [];
  const senderNotices: string[] = [];
  const maxTime = options.maxTimeMs ?? 60_000;
  const { frames, fps } = options;
  let next = 0;
  let closed = false;
  let now = 0;
  const sink = options.sink;
  let waiting = 0;
  let taken = 0;
  let skipped = 0;
  let doneAt = Infinity;
  const decodeMs = sink === undefined ? 0 : 1000 / sink.fps;
  // When the decode started now ends, counting the stalls it runs into.
  const decodeEnd = (from: number) => {
    let end = from + decodeMs;
    const every = sink?.stallEveryMs;
    if (
      every !== undefined && Math.floor(end / every) > Math.floor(from / every)
    ) {
      end += sink?.stallMs ?? 0;
    }
    return end;
  };
  for (let steps = 0; steps < 5_000_000; steps++) {
    while (waiting > 0 && doneAt <= now) {
      waiting--;
      taken++;
      doneAt = waiting > 0 ? decodeEnd(doneAt) : Infinity;
    }
    // Frames due.
    while (next < frames.length) {
      const due = fps > 0 ? (next * 1000) / fps : now;
      if (due > now || (fps === 0 && !sender.wantsFrame)) break;
      sender.sendFrame(now, frames[next++]!);
    }
    if (next === frames.length && !closed) {
      sender.close(now);
      closed = true;
    }
    for (let d; (d = up.receive(now)) !== undefined;) {
      receiver.handleDatagram(now, d, CLIENT, CLIENT_KEY);
    }
    for (let d; (d = down.receive(now)) !== undefined;) {
      sender.handleDatagram(now, d, SERVER);
    }
    const st = sender.pollTimeout();
    if (st !== undefined && st <= now) sender.handleTimeout(now);
    const rt = receiver.pollTimeout();
    if (rt !== undefined && rt <= now) receiver.handleTimeout(now);
    for (let t; (t = sender.pollTransmit()) !== undefined;) {
      options.tap?.(t.bytes);
      const bytes = t.bytes.slice();
      if (options.corrupt && flip() < options.corrupt) {
        bytes[Math.floor(flip() * bytes.length)]! ^= 1 <<
          Math.floor(flip() * 8);
      }
      up.send(now, bytes, bytes.length);
    }
    for (let t; (t = receiver.pollTransmit()) !== undefined;) {
      down.send(now, t.bytes.slice(), t.bytes.length);
    }
    for (let e; (e = receiver.pollEvent()) !== undefined;) {
      events.push(e);
      if (e.type !== "frame") continue;
      delivered.push(e.frame.bytes);
      if (sink === undefined) continue;
      if (waiting >= (sink.maxQueued ?? 32)) {
        skipped++;
        receiver.frameSkipped(CLIENT_KEY);
      } else if (waiting++ === 0) doneAt = decodeEnd(now);
    }
    if (sink !== undefined) receiver.setBacklog(waiting);
    for (let e; (e = sender.pollEvent()) !== undefined;) {
      if (e.type === "notice") senderNotices.push(e.text);
    }
    options.onStep?.(receiver, now);
    if (sender.closed && up.inFlight === 0 && down.inFlight === 0) break;
    let at = Infinity;
    for (
      const t of [
        up.nextDue(),
        down.nextDue(),
        sender.pollTimeout(),
        receiver.pollTimeout(),
        doneAt,
      ]
    ) if (t !== undefined && t < at) at = t;
    if (next < frames.length && fps > 0) {
      at = Math.min(at, (next * 1000) / fps);
    }
    const step = Math.max(at, now + 0.01);
    if (step > maxTime) break;
    now = step;
  }
  return {
    delivered,
    events,
    sender: sender.stats,
    counters: receiver.counters(),
    closed: sender.closed,
    endedAt: now,
    senderNotices,
    sinkTaken: taken,
    sinkSkipped: skipped,
  };
}

/** Frames of random bytes with a JPEG signature, of the given sizes. */
export function makeFrames(sizes: readonly number[], seed = 1): Uint8Array[] {
  let state = seed;
  return sizes.map((size) => {
    const frame = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      state = (state * 1103515245 + 12345) >>> 0;
      frame[i] = state >>> 24;
    }
    frame.set([0xff, 0xd8, 0xff].slice(0, size));
    return frame;
  });
}

/** What to simulate for {@linkcode simulateGroup}. */
export interface GroupSimOptions {
  /** The frames, sent in order at `fps`. */
  frames: readonly Uint8Array[];
  /** Frames a second. */
  fps: number;
  /** Per receiver: its path from the group, and its path back. */
  paths: readonly { up?: LinkOptions; down?: LinkOptions }[];
  sender?: Partial<StreamSenderOptions>;
  /** Per receiver, or one for all. */
  receiver?: StreamReceiverOptions | readonly StreamReceiverOptions[];
  /** Stop after this much virtual time, ms. */
  maxTimeMs?: number;
  /** Sees every datagram the sender sends, before the paths. */
  tap?: (bytes: Uint8Array) => void;
  /** Sees every datagram a receiver sends, before its path. */
  onFeedback?: (bytes: Uint8Array, receiver: number) => void;
}

/** What happened, per receiver. */
export interface GroupSimResult {
  delivered: Uint8Array[][];
  counters: Readonly<Record<string, number>>[];
  sender: StreamSenderStats;
  senderNotices: string[];
  closed: boolean;
}

/**
 * One multicast sender and several receivers, each behind its own path:
 * what the sender sends to the group reaches every receiver through its
 * path, and each receiver's feedback comes back through its own, from its
 * own address.
 */
export function simulateGroup(options: GroupSimOptions): GroupSimResult {
  const group: Endpoint = { hostname: "239.1.2.3", port: 5004 };
  const sender = new StreamSender({
    peer: group,
    multicast: true,
    wallClockOrigin: 1_700_000_000_000,
    ...options.sender,
  });
  const members = options.paths.map((path, i) => {
    const receiverOptions = Array.isArray(options.receiver)
      ? options.receiver[i]
      : options.receiver;
    return {
      receiver: new StreamReceiver({
        wallClockOrigin: 1_700_000_000_000,
        ...receiverOptions,
      }),
      address: { hostname: `127.0.0.${i + 2}`, port: 9999 },
      up: new LinkModel<Uint8Array>({ seed: 21 + 2 * i, ...path.up }),
      down: new LinkModel<Uint8Array>({ seed: 22 + 2 * i, ...path.down }),
      delivered: [] as Uint8Array[],
    };
  });
  const senderNotices: string[] = [];
  const { frames, fps } = options;
  const maxTime = options.maxTimeMs ?? 60_000;
  let next = 0;
  let closing = false;
  let now = 0;
  for (let steps = 0; steps < 5_000_000; steps++) {
    while (next < frames.length && (next * 1000) / fps <= now) {
      sender.sendFrame(now, frames[next++]!);
    }
    if (next === frames.length && !closing) {
      sender.close(now);
      closing = true;
    }
    for (const m of members) {
      for (let d; (d = m.up.receive(now)) !== undefined;) {
        m.receiver.handleDatagram(now, d, CLIENT, CLIENT_KEY);
      }
      for (let d; (d = m.down.receive(now)) !== undefined;) {
        sender.handleDatagram(now, d, m.address);
      }
    }
    const st = sender.pollTimeout();
    if (st !== undefined && st <= now) sender.handleTimeout(now);
    for (const m of members) {
      const rt = m.receiver.pollTimeout();
      if (rt !== undefined && rt <= now) m.receiver.handleTimeout(now);
    }
    for (let t; (t = sender.pollTransmit()) !== undefined;) {
      options.tap?.(t.bytes);
      for (const m of members) {
        m.up.send(now, t.bytes.slice(), t.bytes.length);
      }
    }
    for (const [i, m] of members.entries()) {
      for (let t; (t = m.receiver.pollTransmit()) !== undefined;) {
        options.onFeedback?.(t.bytes, i);
        m.down.send(now, t.bytes.slice(), t.bytes.length);
      }
      for (let e; (e = m.receiver.pollEvent()) !== undefined;) {
        if (e.type === "frame") m.delivered.push(e.frame.bytes);
      }
    }
    for (let e; (e = sender.pollEvent()) !== undefined;) {
      if (e.type === "notice") senderNotices.push(e.text);
    }
    const idle = members.every((m) => m.up.inFlight + m.down.inFlight === 0);
    if (sender.closed && idle) break;
    let at = Infinity;
    const times = [sender.pollTimeout()];
    for (const m of members) {
      times.push(m.up.nextDue(), m.down.nextDue(), m.receiver.pollTimeout());
    }
    for (const t of times) if (t !== undefined && t < at) at = t;
    if (next < frames.length) at = Math.min(at, (next * 1000) / fps);
    const step = Math.max(at, now + 0.01);
    if (step > maxTime) break;
    now = step;
  }
  return {
    delivered: members.map((m) => m.delivered),
    counters: members.map((m) => m.receiver.counters()),
    sender: sender.stats,
    senderNotices,
    closed: sender.closed,
  };
}
