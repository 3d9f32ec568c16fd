/**
 * Reassembly of classic-protocol frames: a pure state machine that takes
 * datagrams, the sender they came from and a clock, and returns what
 * happened. It does no I/O, so it can be tested without a socket or a timer.
 *
 * @module
 */

import { type ImageFormat, sniffFormat } from "../codec/types.ts";
import { decodeHeader, HEADER_BYTES, SHORT_HEADER_BYTES } from "./header.ts";

/** Why a frame, or a would-be frame, was dropped. */
export type DropReason =
  /** Its chunks added up to more than the header announced. */
  | "overflow"
  /** The header announced zero, a negative size, or more than the limit. */
  | "bad-size"
  /** A new header arrived before the frame was whole. */
  | "restarted"
  /** The sender went silent for longer than the timeout. */
  | "timeout"
  /** Too many senders or too many pending bytes: the least recently active one gave way. */
  | "evicted";

/** All drop reasons, in a fixed order for reports. */
export const DROP_REASONS: readonly DropReason[] = [
  "overflow",
  "bad-size",
  "restarted",
  "timeout",
  "evicted",
];

/** A whole image, ready to be acknowledged and decoded. */
export interface FrameEvent {
  /** Discriminant. */
  readonly type: "frame";
  /** The sender's key, `host:port`. */
  readonly sender: string;
  /** The image bytes, exactly as sent; owned by the receiver of the event. */
  readonly bytes: Uint8Array;
  /** The format sniffed from the first bytes, if known. */
  readonly format: ImageFormat | undefined;
  /** `single` for a whole image in one datagram, `chunked` for header and chunks. */
  readonly mode: "single" | "chunked";
}

/** A frame, or a header, that was given up on. */
export interface DropEvent {
  /** Discriminant. */
  readonly type: "dropped";
  /** The sender's key, `host:port`. */
  readonly sender: string;
  /** Why it was dropped. */
  readonly reason: DropReason;
  /** The size the header announced. */
  readonly announced: number;
  /** How many bytes had arrived. */
  readonly received: number;
}

/** A datagram from an idle sender that is neither a header nor an image. */
export interface StrayEvent {
  /** Discriminant. */
  readonly type: "stray";
  /** The sender's key, `host:port`. */
  readonly sender: string;
  /** The datagram's length. */
  readonly length: number;
}

/** What a datagram, or the passing of time, caused. */
export type ReassemblerEvent = FrameEvent | DropEvent | StrayEvent;

/**
 * The largest frame a sender may announce unless told otherwise: 64 MiB.
 *
 * @example Showing the limit
 * ```ts
 * import { DEFAULT_MAX_FRAME_BYTES } from "./reassembler.ts";
 * console.log(DEFAULT_MAX_FRAME_BYTES / 1024 / 1024, "MiB"); // 64 MiB
 * ```
 */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

/**
 * How many bytes all partial frames together may reserve unless told
 * otherwise: 256 MiB.
 *
 * @example Showing the limit
 * ```ts
 * import { DEFAULT_MAX_PENDING_BYTES } from "./reassembler.ts";
 * console.log(DEFAULT_MAX_PENDING_BYTES / 1024 / 1024, "MiB"); // 256 MiB
 * ```
 */
export const DEFAULT_MAX_PENDING_BYTES = 256 * 1024 * 1024;

/** Options for {@linkcode Reassembler}. */
export interface ReassemblerOptions {
  /**
   * The largest frame a header may announce, in bytes.
   *
   * @default {67108864} (64 MiB)
   */
  maxFrameBytes?: number;
  /**
   * How long a partial frame may stay silent before it is dropped, in ms.
   *
   * @default {3000}
   */
  timeoutMs?: number;
  /**
   * How many senders may have a partial frame at once. When one more starts,
   * the least recently active partial frame is dropped.
   *
   * @default {64}
   */
  maxSenders?: number;
  /**
   * How many bytes all partial frames together may reserve. When a header
   * would exceed it, the least recently active partial frames give way.
   *
   * @default {268435456} (256 MiB)
   */
  maxPendingBytes?: number;
}

/** Counters kept by a {@linkcode Reassembler}. */
export interface ReassemblerStats {
  /** Whole frames. */
  frames: number;
  /** Bytes in whole frames. */
  bytes: number;
  /** Dropped frames, all reasons. */
  dropped: number;
  /** Dropped frames by reason. */
  droppedBy: Record<DropReason, number>;
  /** Stray datagrams. */
  strays: number;
}

interface PartialFrame {
  sender: string;
  /** The announced size; reserved against the limits from the header on. */
  announced: number;
  /** Allocated at the announced size when the first chunk arrives. */
  buffer: Uint8Array | undefined;
  received: number;
  lastActivity: number;
}

const NO_EVENTS: readonly ReassemblerEvent[] = Object.freeze([]);

/**
 * Reassembles classic frames, with one state per sender so that senders that
 * interleave do not corrupt each other.
 *
 * For an idle sender, a 4- or 8-byte datagram is a header, a datagram that
 * starts with a JPEG or PNG signature is a whole image, and anything else is
 * stray. While a frame is in progress, a datagram is a chunk, copied once
 * into a buffer allocated at the announced size, unless it is 4 or 8 bytes
 * and is not exactly what the frame still lacks: then it is a new header.
 *
 * @example Reassembling a chunked frame
 * ```ts
 * import { Reassembler } from "./reassembler.ts";
 * import { encodeHeader } from "./header.ts";
 *
 * const reassembler = new Reassembler();
 * const image = new Uint8Array(3000).fill(7);
 * reassembler.push(encodeHeader(image.length), "127.0.0.1:5000", 0);
 * for (let i = 0; i < image.length; i += 1024) {
 *   const events = reassembler.push(image.subarray(i, i + 1024), "127.0.0.1:5000", 1);
 *   for (const event of events) console.log(event.type); // "frame"
 * }
 * ```
 */
export class Reassembler {
  readonly #maxFrameBytes: number;
  readonly #timeoutMs: number;
  readonly #maxSenders: number;
  readonly #maxPendingBytes: number;
  /** Partial frames by sender; scanned, never sorted, since there are few. */
  readonly #partials = new Map<string, PartialFrame>();
  #pendingBytes = 0;
  readonly #stats: ReassemblerStats = {
    frames: 0,
    bytes: 0,
    dropped: 0,
    droppedBy: {
      overflow: 0,
      "bad-size": 0,
      restarted: 0,
      timeout: 0,
      evicted: 0,
    },
    strays: 0,
  };

  /**
   * Makes a reassembler with no partial frames.
   *
   * @param options Limits; see {@linkcode ReassemblerOptions}.
   */
  constructor(options: ReassemblerOptions = {}) {
    this.#maxFrameBytes = positive(
      "maxFrameBytes",
      options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    );
    this.#timeoutMs = positive("timeoutMs", options.timeoutMs ?? 3000);
    this.#maxSenders = positive("maxSenders", options.maxSenders ?? 64);
    this.#maxPendingBytes = positive(
      "maxPendingBytes",
      options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES,
    );
  }

  /** Counters since construction. The object is live: it changes as datagrams arrive. */
  get stats(): Readonly<ReassemblerStats> {
    return this.#stats;
  }

  /** How many senders have a partial frame. */
  get pendingSenders(): number {
    return this.#partials.size;
  }

  /** How many bytes the partial frames reserve. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * Takes one datagram.
   *
   * @param datagram The datagram; it is copied where kept, so the caller may
   * reuse its buffer.
   * @param sender A stable key for the sender, such as `host:port`.
   * @param nowMs The current time in ms, from any monotonic clock.
   * @returns What happened; usually nothing (an empty array).
   */
  push(
    datagram: Uint8Array,
    sender: string,
    nowMs: number,
  ): readonly ReassemblerEvent[] {
    let events: ReassemblerEvent[] | undefined;
    let partial = this.#partials.get(sender);
    if (
      partial !== undefined && nowMs - partial.lastActivity > this.#timeoutMs
    ) {
      events = [this.#drop(partial, "timeout")];
      partial = undefined;
    }
    const length = datagram.length;
    if (partial !== undefined) {
      const remaining = partial.announced - partial.received;
      const isHeader = (length === HEADER_BYTES ||
        length === SHORT_HEADER_BYTES) && length !== remaining;
      if (!isHeader) {
        if (length > remaining) {
          return append(events, this.#drop(partial, "overflow"));
        }
        // Allocating only now keeps a flood of bare headers cheap.
        partial.buffer ??= new Uint8Array(partial.announced);
        partial.buffer.set(datagram, partial.received);
        partial.received += length;
        partial.lastActivity = nowMs;
        if (partial.received === partial.announced) {
          this.#remove(partial);
          return append(events, this.#frame(sender, partial.buffer, "chunked"));
        }
        return events ?? NO_EVENTS;
      }
      events = append(events, this.#drop(partial, "restarted"));
    }
    if (length === HEADER_BYTES || length === SHORT_HEADER_BYTES) {
      return this.#startFrame(datagram, sender, nowMs, events);
    }
    if (sniffFormat(datagram) !== undefined) {
      return append(events, this.#frame(sender, datagram.slice(), "single"));
    }
    this.#stats.strays++;
    return append(events, { type: "stray", sender, length });
  }

  /**
   * Drops the partial frames that have been silent for longer than the
   * timeout. Call it now and then, for example every half timeout.
   *
   * @param nowMs The current time in ms, on the clock given to `push`.
   * @returns The drops, if any.
   */
  sweep(nowMs: number): readonly ReassemblerEvent[] {
    let events: ReassemblerEvent[] | undefined;
    for (const partial of this.#partials.values()) {
      if (nowMs - partial.lastActivity > this.#timeoutMs) {
        events = append(events, this.#drop(partial, "timeout"));
      }
    }
    return events ?? NO_EVENTS;
  }

  #startFrame(
    header: Uint8Array,
    sender: string,
    nowMs: number,
    events: ReassemblerEvent[] | undefined,
  ): readonly ReassemblerEvent[] {
    const announced = decodeHeader(header);
    if (
      !(announced > 0) || announced > this.#maxFrameBytes ||
      announced > this.#maxPendingBytes
    ) {
      this.#count("bad-size");
      return append(events, {
        type: "dropped",
        sender,
        reason: "bad-size",
        announced,
        received: 0,
      });
    }
    while (
      this.#partials.size >= this.#maxSenders ||
      this.#pendingBytes + announced > this.#maxPendingBytes
    ) {
      events = append(events, this.#drop(this.#leastRecent(), "evicted"));
    }
    const partial: PartialFrame = {
      sender,
      announced,
      buffer: undefined,
      received: 0,
      lastActivity: nowMs,
    };
    this.#partials.set(sender, partial);
    this.#pendingBytes += announced;
    return events ?? NO_EVENTS;
  }

  #leastRecent(): PartialFrame {
    let oldest: PartialFrame | undefined;
    for (const partial of this.#partials.values()) {
      if (oldest === undefined || partial.lastActivity < oldest.lastActivity) {
        oldest = partial;
      }
    }
    // Callers only ask while some partial frame holds the space.
    return oldest!;
  }

  #frame(
    sender: string,
    bytes: Uint8Array,
    mode: "single" | "chunked",
  ): FrameEvent {
    this.#stats.frames++;
    this.#stats.bytes += bytes.length;
    return { type: "frame", sender, bytes, format: sniffFormat(bytes), mode };
  }

  #drop(partial: PartialFrame, reason: DropReason): DropEvent {
    this.#remove(partial);
    this.#count(reason);
    return {
      type: "dropped",
      sender: partial.sender,
      reason,
      announced: partial.announced,
      received: partial.received,
    };
  }

  #remove(partial: PartialFrame): void {
    this.#partials.delete(partial.sender);
    this.#pendingBytes -= partial.announced;
  }

  #count(reason: DropReason): void {
    this.#stats.dropped++;
    this.#stats.droppedBy[reason]++;
  }
}

function append(
  events: ReassemblerEvent[] | undefined,
  event: ReassemblerEvent,
): ReassemblerEvent[] {
  if (events === undefined) return [event];
  events.push(event);
  return events;
}

function positive(name: string, value: number): number {
  if (!(value > 0)) {
    throw new RangeError(`${name} must be positive, got ${value}`);
  }
  return value;
}
