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
}

/** What happened. */
export interface SimResult {
  delivered: Uint8Array[];
  events: ReceiverEvent[];
  sender: StreamSenderStats;
  counters: Readonly<Record<string, number>>;
  closed: boolean;
  endedAt: number;
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
  const maxTime = options.maxTimeMs ?? 60_000;
  const { frames, fps } = options;
  let next = 0;
  let closed = false;
  let now = 0;
  for (let steps = 0; steps < 5_000_000; steps++) {
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
      if (e.type === "frame") delivered.push(e.frame.bytes);
    }
    while (sender.pollEvent() !== undefined);
    options.onStep?.(receiver, now);
    if (sender.closed && up.inFlight === 0 && down.inFlight === 0) break;
    let at = Infinity;
    for (
      const t of [
        up.nextDue(),
        down.nextDue(),
        sender.pollTimeout(),
        receiver.pollTimeout(),
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
