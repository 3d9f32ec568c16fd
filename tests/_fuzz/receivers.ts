/**
 * Fuzzing the server's receive path: a driver that feeds datagrams to
 * {@linkcode ProtocolReceiver}s on a virtual clock, as the server does
 * (route each sender through a {@linkcode ProtocolDemux}, fire timers when
 * they are due, drain events and transmits), and a target factory that
 * sends a good sender's frames among hostile datagrams and checks that
 * nothing throws, state stays within its bounds, and every good frame
 * arrives byte-exact.
 *
 * A new protocol's receiver is one {@linkcode receiverTarget} call: how the
 * server builds it, how its real sender makes datagrams, and its bounds.
 *
 * @module
 */

import { sniffFormat } from "../../lib/codec/types.ts";
import { ProtocolDemux } from "../../lib/server/demux.ts";
import type {
  ProtocolReceiver,
  ReceiverEvent,
} from "../../lib/server/types.ts";
import type { Corpus } from "./corpus.ts";
import {
  type Field,
  interleave,
  MAX_DATAGRAM,
  mutate,
  mutateSequence,
  randomDatagram,
} from "./mutate.ts";
import type { Prng } from "./prng.ts";
import {
  endpointOf,
  type FuzzCase,
  type FuzzDatagram,
  type FuzzTarget,
  GOOD,
  hostileSenders,
  invariant,
  keyOf,
  param,
  sameBytes,
} from "./target.ts";

/** The clock's reading at the first datagram, in ms. */
const START_MS = 1000;
/** Transmits one step may ask for: more is an amplifier. */
const MAX_TRANSMITS_PER_STEP = 256;
/** Timer rounds one case may take: more is a timer that spins. */
const MAX_TIMER_ROUNDS = 200_000;
const GOOD_KEY = keyOf(GOOD);
/** How long the clock runs on after the last datagram: past every timeout. */
const SETTLE_MS = 10_000;

/** What the receivers handed out over a case. */
export interface DriveResult {
  /** The good sender's frames, in order. */
  readonly goodFrames: Uint8Array[];
  /** Frames from every sender. */
  readonly frames: number;
  /** Datagrams the receivers asked to send, acknowledgements included. */
  readonly transmits: number;
}

/** Options for {@linkcode drive}. */
export interface DriveOptions {
  /** The receivers, as the server builds them. */
  readonly receivers: readonly ProtocolReceiver[];
  /** Routes senders to receivers as the server does; else all go to the first. */
  readonly demux?: ProtocolDemux;
  /** The largest frame a receiver may hand out. */
  readonly maxFrameBytes: number;
  /** Checks the receivers' bounds; called after every step. */
  readonly bounds?: () => void;
  /**
   * The most bytes the receivers may send a host: this many times what it
   * sent, and `slackBytes` more. A spoofed source makes a receiver a
   * reflector; more than a few times is an amplifier.
   */
  readonly amplification?: Amplification;
  /** The most datagrams one step may ask for. @default {256} */
  readonly maxTransmitsPerStep?: number;
}

/** A bound on the bytes sent to a host for the bytes it sent. */
export interface Amplification {
  /** Times the bytes received. */
  readonly factor: number;
  /** Bytes allowed besides. */
  readonly slackBytes: number;
}

/** QUIC's bound before an address is validated (RFC 9000 §8.1) is three times; four, and room for reports. */
export const DEFAULT_AMPLIFICATION: Amplification = {
  factor: 4,
  slackBytes: 4096,
};

/**
 * Feeds `datagrams` at their times (`at`, ms on the virtual clock) to the
 * receivers, as `FrameServer` does, and checks what comes out.
 */
export function drive(
  datagrams: readonly TimedDatagram[],
  options: DriveOptions,
): DriveResult {
  const { receivers, demux, maxFrameBytes, bounds } = options;
  const amplification = options.amplification ?? DEFAULT_AMPLIFICATION;
  const maxTransmits = options.maxTransmitsPerStep ?? MAX_TRANSMITS_PER_STEP;
  const bytesIn = new Map<string, number>();
  const bytesOut = new Map<string, number>();
  const sent = (to: { hostname: string }, bytes: Uint8Array) =>
    bytesOut.set(to.hostname, (bytesOut.get(to.hostname) ?? 0) + bytes.length);
  const goodFrames: Uint8Array[] = [];
  /** Hosts that sent anything: the only ones a receiver may send to. */
  const senders = new Set<string>();
  const keys = new Set<string>();
  let frames = 0;
  let transmits = 0;
  let rounds = 0;
  let clock = START_MS;

  const drain = () => {
    for (const receiver of receivers) {
      let stepTransmits = 0;
      for (let event; (event = receiver.pollEvent()) !== undefined;) {
        checkEvent(receiver, event, maxFrameBytes, keys);
        if (event.type === "frame") {
          frames++;
          if (event.frame.ack !== undefined) {
            stepTransmits++;
            checkTransmit(event.frame.ack.to, event.frame.ack.bytes, senders);
            sent(event.frame.ack.to, event.frame.ack.bytes);
          }
          if (event.frame.sender.startsWith(GOOD_KEY)) {
            goodFrames.push(event.frame.bytes);
          }
        }
        invariant(
          stepTransmits <= maxTransmits,
          `${receiver.protocol} acknowledged more than ${maxTransmits} frames in one step`,
        );
      }
      for (let t; (t = receiver.pollTransmit()) !== undefined;) {
        checkTransmit(t.to, t.bytes, senders);
        sent(t.to, t.bytes);
        invariant(
          ++stepTransmits <= maxTransmits,
          `${receiver.protocol} asked for more than ${maxTransmits} datagrams in one step`,
        );
      }
      transmits += stepTransmits;
      const counters = receiver.counters();
      for (const [name, value] of Object.entries(counters)) {
        invariant(
          Number.isFinite(value) && value >= 0,
          `${receiver.protocol} counter ${name} is ${value}`,
        );
      }
    }
    bounds?.();
  };

  /** Fires the timers due up to `until`, each at its own time, as the server's timer does. */
  const runTimers = (until: number) => {
    for (;;) {
      let due = Infinity;
      for (const receiver of receivers) {
        const at = receiver.pollTimeout();
        invariant(
          at === undefined || !Number.isNaN(at),
          `${receiver.protocol}.pollTimeout() returned NaN`,
        );
        if (at !== undefined && at < due) due = at;
      }
      if (due > until) return;
      invariant(
        ++rounds <= MAX_TIMER_ROUNDS,
        `the timers fired ${MAX_TIMER_ROUNDS} times in one case: one keeps asking for a time already past`,
      );
      // The server waits at least a millisecond, so a timer late to move on cannot spin.
      const next = Math.max(clock + (due <= clock ? 1 : 0), due);
      if (next > until) return;
      clock = next;
      for (const receiver of receivers) receiver.handleTimeout(clock);
      drain();
    }
  };

  for (const { at, from, bytes, via } of datagrams) {
    runTimers(at);
    clock = Math.max(clock, at);
    const endpoint = endpointOf(from);
    senders.add(endpoint.hostname);
    bytesIn.set(
      endpoint.hostname,
      (bytesIn.get(endpoint.hostname) ?? 0) + bytes.length,
    );
    if (via === "control") {
      // The control port: every receiver that takes control datagrams hears it.
      const control = { hostname: endpoint.hostname, port: endpoint.port + 1 };
      const key = `${control.hostname}:${control.port}`;
      for (const receiver of receivers) {
        receiver.handleControlDatagram?.(clock, bytes, control, key);
      }
    } else {
      const key = keyOf(from);
      keys.add(key);
      const receiver = demux !== undefined
        ? demux.route(bytes, key)
        : receivers[0];
      // Unrouted: the server counts a stray and drops it. A copy, as from
      // a receive buffer: a receiver may change it (opening in place).
      receiver?.handleDatagram(clock, bytes.slice(), endpoint, key);
    }
    drain();
  }
  // Let the timers fire a while: partial frames expire, state is let go.
  runTimers(clock + SETTLE_MS);
  for (const [host, out] of bytesOut) {
    const received = bytesIn.get(host) ?? 0;
    invariant(
      out <= amplification.factor * received + amplification.slackBytes,
      `${host} sent ${received} bytes and was sent ${out}: an amplifier`,
    );
  }
  return { goodFrames, frames, transmits };
}

function checkTransmit(
  to: { hostname: string; port: number },
  bytes: Uint8Array,
  senders: ReadonlySet<string>,
): void {
  invariant(
    senders.has(to.hostname) && to.port >= 1 && to.port <= 65535,
    `a datagram to ${to.hostname}:${to.port}, a host that sent nothing`,
  );
  invariant(
    bytes instanceof Uint8Array && bytes.length <= MAX_DATAGRAM,
    `a datagram of ${bytes.length} bytes to send`,
  );
}

function checkEvent(
  receiver: ProtocolReceiver,
  event: ReceiverEvent,
  maxFrameBytes: number,
  senders: ReadonlySet<string>,
): void {
  const protocol = receiver.protocol;
  switch (event.type) {
    case "frame": {
      const frame = event.frame;
      invariant(
        frame.protocol === protocol,
        `a ${frame.protocol} frame from the ${protocol} receiver`,
      );
      invariant(
        frame.bytes.length > 0 && frame.bytes.length <= maxFrameBytes,
        `a ${frame.bytes.length}-byte frame, limit ${maxFrameBytes}`,
      );
      invariant(
        frame.format === sniffFormat(frame.bytes),
        `a frame said to be ${frame.format} is ${sniffFormat(frame.bytes)}`,
      );
      invariant(
        senders.has(frame.sender) ||
          [...senders].some((key) => frame.sender.startsWith(key)),
        `a frame from ${frame.sender}, which sent nothing`,
      );
      invariant(
        frame.sentAt === undefined || Number.isFinite(frame.sentAt),
        `a frame sent at ${frame.sentAt}`,
      );
      return;
    }
    case "dropped":
      invariant(
        event.reason !== "" && event.detail !== "" &&
          !/[\r\n]/.test(event.detail),
        `a drop with reason ${JSON.stringify(event.reason)}, detail ${
          JSON.stringify(event.detail)
        }`,
      );
      invariant(
        event.frames === undefined ||
          (Number.isSafeInteger(event.frames) && event.frames > 0),
        `a drop of ${event.frames} frames`,
      );
      return;
    case "stray":
      invariant(
        Number.isSafeInteger(event.length) && event.length >= 0 &&
          event.length <= MAX_DATAGRAM,
        `a stray of ${event.length} bytes`,
      );
      return;
    case "message":
      invariant(
        event.result.ok || typeof event.result.error === "string",
        "a message that is neither parsed nor refused",
      );
      return;
    case "notice":
      invariant(
        !/[\r\n]/.test(event.text),
        `a notice of several lines: ${JSON.stringify(event.text)}`,
      );
  }
}

/** A good sender's stream: whole frames, as its real sender makes them. */
export interface GoodStream {
  /** The datagrams of each frame, in the order sent. */
  readonly frames: readonly (readonly Uint8Array[])[];
  /**
   * A datagram for the control port before some frames (an RTCP sender
   * report), by frame index.
   */
  readonly reports?: readonly (Uint8Array | undefined)[];
  /**
   * The frames as the receiver must hand them out, when the protocol
   * carries them unchanged (classic, stream; not RTP/JPEG, which rebuilds
   * the headers): kept in the case as hashes.
   */
  readonly images?: readonly Uint8Array[];
  /**
   * The longest a frame may take from its first datagram to its last, in
   * ms, before the receiver may rightly give up on it (a latency budget, a
   * timeout of silence).
   */
  readonly maxFrameMs: number;
}

/** What {@linkcode receiverTarget} needs to know of a protocol. */
export interface ReceiverTargetSpec {
  /** The target's name. */
  readonly name: string;
  /** One line. */
  readonly about: string;
  /** Share of the long run. @default {1} */
  readonly weight?: number;
  /** Fresh receivers, as the server builds them, in matching order. */
  readonly receivers: () => ProtocolReceiver[];
  /** The demux's bound on senders, or `false` to feed the first receiver directly. */
  readonly demuxSenders: number | false;
  /** The largest frame the receivers hand out. */
  readonly maxFrameBytes: number;
  /**
   * How many hostile senders a case may have while the good stream must
   * still arrive whole: with more, limits on senders or pending bytes may
   * rightly evict it, and only the bounds are checked.
   */
  readonly safeSenders: number;
  /** A good stream of one to three frames. */
  readonly good: (rng: Prng, corpus: Corpus) => GoodStream;
  /** Valid datagrams, for hostile senders to send as they are or mutated. */
  readonly seeds: (corpus: Corpus) => readonly Uint8Array[];
  /** Valid datagrams for the control port (RTCP), when the protocol has one. */
  readonly controlSeeds?: (corpus: Corpus) => readonly Uint8Array[];
  /**
   * Whether the good stream must arrive whole among these hostile
   * datagrams: more senders, or more state, than the limits leave room for
   * may rightly evict it. The default counts senders against `safeSenders`.
   */
  readonly safe?: (input: FuzzCase) => boolean;
  /** Whole valid frames from a hostile sender, to reorder and corrupt. */
  readonly hostileStream?: (rng: Prng, corpus: Corpus) => Uint8Array[];
  /** The header fields of a datagram, for boundary values. */
  readonly fields?: (datagram: Uint8Array) => readonly Field[];
  /** How much the receivers may send a host for what it sent. @default {DEFAULT_AMPLIFICATION} */
  readonly amplification?: Amplification;
  /** The most datagrams one step may ask for. @default {256} */
  readonly maxTransmitsPerStep?: number;
  /** Throws unless the receivers (and the demux) are within their bounds. */
  readonly bounds: (
    receivers: readonly ProtocolReceiver[],
    demux: ProtocolDemux | undefined,
  ) => void;
}

/** A datagram at its time on the virtual clock. */
export interface TimedDatagram {
  /** When, in ms. */
  readonly at: number;
  /** Who sent it. */
  readonly from: number;
  /** The bytes. */
  readonly bytes: Uint8Array;
  /** Which port. */
  readonly via?: "control";
}

/** Absolute times of a case's datagrams, on the virtual clock. */
export function timed(datagrams: readonly FuzzDatagram[]): TimedDatagram[] {
  let at = START_MS;
  return datagrams.map((d) => {
    at += d.dtMs;
    return {
      at,
      from: d.from,
      bytes: d.bytes,
      ...(d.via !== undefined && { via: d.via }),
    };
  });
}

/**
 * A case for a receiver: a good stream of frames, and hostile senders'
 * datagrams interleaved with it: valid ones, mutated ones, random ones and
 * whole frames reordered, from a few senders or a flood of them.
 */
export function receiverCase(
  rng: Prng,
  corpus: Corpus,
  spec: ReceiverTargetSpec,
): FuzzCase {
  const goodStream: GoodStream = rng.chance(0.9)
    ? spec.good(rng, corpus)
    : { frames: [], maxFrameMs: Infinity };
  interface Item {
    from: number;
    bytes: Uint8Array;
    via?: "control";
    first?: boolean;
    last?: boolean;
  }
  const good: Item[] = [];
  const reports = goodStream.reports ?? [];
  for (const [f, frame] of goodStream.frames.entries()) {
    const report = reports[f];
    if (report !== undefined) {
      good.push({ from: GOOD, bytes: report, via: "control" });
    }
    frame.forEach((bytes, i) =>
      good.push({
        from: GOOD,
        bytes,
        first: i === 0,
        last: i === frame.length - 1,
      })
    );
  }
  const flood = rng.chance(0.15);
  const senders = flood
    ? 1 + rng.int(spec.safeSenders, 2000)
    : 1 + rng.below(spec.safeSenders);
  const seeds = spec.seeds(corpus);
  const controlSeeds = spec.controlSeeds?.(corpus) ?? [];
  const hostile: Item[] = [];
  const count = flood ? rng.int(50, 3000) : rng.length(400);
  const sender = () => 1 + rng.below(senders);
  while (hostile.length < count) {
    const kind = rng.below(20);
    if (kind === 19 && controlSeeds.length > 0) {
      // The control port: the protocol's own reports, or mutated ones.
      const seed = rng.pick(controlSeeds);
      hostile.push({
        from: sender(),
        bytes: rng.chance(0.3)
          ? seed
          : mutate(rng, seed, { others: controlSeeds }),
        via: "control",
      });
    } else if (kind < 2 && spec.hostileStream !== undefined) {
      // A whole valid stream from one hostile sender, reordered and corrupted.
      const stream = spec.hostileStream(rng, corpus);
      if (rng.chance(0.8)) mutateSequence(rng, stream, stream.length + 64);
      const from = sender();
      for (const bytes of stream) {
        hostile.push({
          from,
          bytes: rng.chance(0.1)
            ? mutate(rng, bytes, { others: seeds })
            : bytes,
        });
      }
    } else if (kind < 4) {
      hostile.push({ from: sender(), bytes: rng.pick(seeds) });
    } else if (kind < 6) {
      hostile.push({ from: sender(), bytes: randomDatagram(rng) });
    } else {
      const seed = rng.pick(seeds);
      hostile.push({
        from: sender(),
        bytes: mutate(rng, seed, {
          others: seeds,
          ...(spec.fields !== undefined && { fields: spec.fields(seed) }),
        }),
      });
    }
  }
  const merged = interleave(rng, good, hostile);
  const datagrams: FuzzDatagram[] = [];
  // The good sender is mid-frame from a first datagram to a last one: then
  // the clock only creeps, so that it is never rightly given up on.
  let midFrame = false;
  let frameMs = 0;
  for (const item of merged) {
    let dtMs: number;
    if (midFrame) {
      dtMs = rng.chance(0.2) ? 1 : 0;
      if (frameMs + dtMs > goodStream.maxFrameMs / 2) dtMs = 0;
    } else {
      dtMs = rng.pick([0, 0, 0, 0, 1, 1, 5, 50, 500, 1001, 3001, 20_000]);
    }
    frameMs += dtMs;
    if (item.from === GOOD && item.first) {
      midFrame = true;
      frameMs = 0;
    }
    if (item.from === GOOD && item.last) midFrame = false;
    datagrams.push({
      from: item.from,
      dtMs,
      bytes: item.bytes,
      ...(item.via !== undefined && { via: item.via }),
    });
  }
  const params: Record<string, number> = {
    goodFrames: goodStream.frames.length,
  };
  goodStream.images?.forEach((image, i) =>
    params[`goodHash${i}`] = fnv1a(image)
  );
  return { datagrams, params };
}

/**
 * Runs a receiver case: all datagrams through fresh receivers, then the
 * good ones alone through others; the good frames must be the same, as
 * many as were sent, unless a flood of senders may rightly have evicted
 * them.
 */
export function runReceiverCase(
  input: FuzzCase,
  spec: ReceiverTargetSpec,
): void {
  const all = timed(input.datagrams);
  const mixed = driveFresh(all, spec);
  const goodFrames = param(input, "goodFrames", 0);
  const safe = spec.safe?.(input) ?? hostileSenders(input) <= spec.safeSenders;
  if (goodFrames === 0 || !safe) return;
  const alone = driveFresh(all.filter((d) => d.from === GOOD), spec);
  invariant(
    alone.goodFrames.length === goodFrames,
    `the good sender sent ${goodFrames} frames; alone, ${alone.goodFrames.length} arrived`,
  );
  invariant(
    mixed.goodFrames.length === goodFrames,
    `the good sender sent ${goodFrames} frames; among hostile datagrams, ${mixed.goodFrames.length} arrived`,
  );
  for (let i = 0; i < goodFrames; i++) {
    const hash = input.params[`goodHash${i}`];
    invariant(
      hash === undefined || fnv1a(alone.goodFrames[i]!) === hash,
      `good frame ${i} is not the image sent, even alone`,
    );
    invariant(
      sameBytes(mixed.goodFrames[i]!, alone.goodFrames[i]!),
      `good frame ${i} arrived altered among hostile datagrams (${
        mixed.goodFrames[i]!.length
      } bytes, sent ${alone.goodFrames[i]!.length})`,
    );
  }
}

function driveFresh(
  datagrams: readonly TimedDatagram[],
  spec: ReceiverTargetSpec,
): DriveResult {
  const receivers = spec.receivers();
  const demux = spec.demuxSenders === false
    ? undefined
    : new ProtocolDemux(receivers, { maxSenders: spec.demuxSenders });
  return drive(datagrams, {
    receivers,
    ...(demux !== undefined && { demux }),
    maxFrameBytes: spec.maxFrameBytes,
    bounds: () => spec.bounds(receivers, demux),
    ...(spec.amplification !== undefined &&
      { amplification: spec.amplification }),
    ...(spec.maxTransmitsPerStep !== undefined &&
      { maxTransmitsPerStep: spec.maxTransmitsPerStep }),
  });
}

/** FNV-1a over bytes: a frame's fingerprint in a case's params. */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h = Math.imul(h ^ bytes[i]!, 0x01000193);
  }
  return h >>> 0;
}

/** A target for receivers, from their spec. */
export function receiverTarget(spec: ReceiverTargetSpec): FuzzTarget {
  return {
    name: spec.name,
    about: spec.about,
    ...(spec.weight !== undefined && { weight: spec.weight }),
    generate: (rng, corpus) => receiverCase(rng, corpus, spec),
    run: (input) => runReceiverCase(input, spec),
  };
}
