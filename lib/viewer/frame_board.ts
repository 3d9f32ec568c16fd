/**
 * The newest frame of each sender, with counts and rates: the state behind
 * the live viewer, with no I/O and no clock.
 *
 * @module
 */

import { type Dimensions, imageDimensions } from "./_dimensions.ts";
import { type Rate, RateWindow } from "./rate_window.ts";
import type { SenderStats, ViewerFrame } from "./types.ts";

/** Options for {@linkcode FrameBoard}. */
export interface FrameBoardOptions {
  /**
   * How many senders to remember. When a new sender exceeds it, the least
   * recently active one is forgotten, so clients that restart on new ports
   * do not grow memory.
   *
   * @default {16}
   */
  maxSenders?: number;
  /**
   * The sliding window for frame and byte rates, in milliseconds.
   *
   * @default {2000}
   */
  windowMs?: number;
  /**
   * How long the default sender may stay silent, in milliseconds, before
   * another active sender replaces it. The default sender does not flicker
   * between several that stream at once.
   *
   * @default {2000}
   */
  switchAfterMs?: number;
  /**
   * How long a sender may stay silent, in milliseconds, before its
   * statistics call it stale.
   *
   * @default {3000}
   */
  staleAfterMs?: number;
  /**
   * How long a sender may stay silent, in milliseconds, before
   * {@linkcode FrameBoard.expire} forgets it.
   *
   * @default {60000}
   */
  forgetAfterMs?: number;
}

/** The newest frame of one sender, as the board holds it. */
export interface BoardEntry {
  /** The sender, `host:port`. */
  readonly sender: string;
  /** The newest frame from this sender. */
  readonly frame: ViewerFrame;
  /**
   * The board-wide sequence number of `frame`: it grows with each frame
   * published from any sender, so a newer frame always has a larger one.
   */
  readonly seq: number;
  /** Frames published from this sender. */
  readonly frames: number;
  /** Bytes published from this sender. */
  readonly bytes: number;
  /** When the newest frame was published. */
  readonly lastMs: number;
}

class Entry implements BoardEntry {
  readonly sender: string;
  frame: ViewerFrame;
  seq = 0;
  frames = 0;
  bytes = 0;
  lastMs = 0;
  readonly window: RateWindow;
  dimensionsOf: ViewerFrame | undefined;
  dimensions: Dimensions | undefined;

  constructor(frame: ViewerFrame, windowMs: number) {
    this.sender = frame.sender;
    this.frame = frame;
    this.window = new RateWindow({ windowMs });
  }
}

function checkFrame(frame: ViewerFrame): void {
  if (typeof frame?.sender !== "string") {
    throw new TypeError("Cannot publish frame: sender must be a string");
  }
  if (!(frame.bytes instanceof Uint8Array)) {
    throw new TypeError("Cannot publish frame: bytes must be a Uint8Array");
  }
  if (frame.format !== "jpeg" && frame.format !== "png") {
    throw new TypeError(
      `Cannot publish frame: format must be "jpeg" or "png", got ${
        String(frame.format)
      }`,
    );
  }
  if (frame.protocol !== undefined && typeof frame.protocol !== "string") {
    throw new TypeError("Cannot publish frame: protocol must be a string");
  }
}

function positive(name: string, value: number): number {
  if (!(value > 0)) {
    throw new RangeError(
      `Cannot create frame board: ${name} must be a positive number, got ${value}`,
    );
  }
  return value;
}

/**
 * Keeps the newest frame of each sender, never a queue, and counts frames
 * and bytes per sender and in total. Publishing is O(1) and allocates only
 * for a sender it has not seen. Times are passed in.
 *
 * @example Two senders, and the default one
 * ```ts
 * import { FrameBoard } from "./frame_board.ts";
 * const board = new FrameBoard();
 * const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);
 * board.publish({ sender: "10.0.0.2:5000", bytes: jpeg, format: "jpeg" }, 0);
 * board.publish({ sender: "10.0.0.3:5000", bytes: jpeg, format: "jpeg" }, 10);
 * console.log(board.primary); // "10.0.0.2:5000", still active
 * console.log(board.newest("10.0.0.3:5000")?.seq); // 2
 * ```
 */
export class FrameBoard {
  #senders = new Map<string, Entry>();
  #maxSenders: number;
  #windowMs: number;
  #switchAfterMs: number;
  #staleAfterMs: number;
  #forgetAfterMs: number;
  #total: RateWindow;
  #primary: Entry | undefined;
  #seq = 0;
  #bytes = 0;

  /**
   * @param options Limits and windows.
   */
  constructor(options: FrameBoardOptions = {}) {
    const {
      maxSenders = 16,
      windowMs = 2000,
      switchAfterMs = 2000,
      staleAfterMs = 3000,
      forgetAfterMs = 60_000,
    } = options;
    if (!Number.isInteger(maxSenders) || maxSenders < 1) {
      throw new RangeError(
        `Cannot create frame board: maxSenders must be a positive integer, got ${maxSenders}`,
      );
    }
    this.#maxSenders = maxSenders;
    this.#windowMs = windowMs;
    this.#switchAfterMs = switchAfterMs;
    this.#staleAfterMs = positive("staleAfterMs", staleAfterMs);
    this.#forgetAfterMs = positive("forgetAfterMs", forgetAfterMs);
    this.#total = new RateWindow({ windowMs, capacity: 4096 });
  }

  /** Frames published, from all senders. */
  get frames(): number {
    return this.#seq;
  }

  /** Bytes published, from all senders. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * The sender shown by default: the one that sent the first frame, until it
   * has been silent for `switchAfterMs` while another sends.
   */
  get primary(): string | undefined {
    return this.#primary?.sender;
  }

  /**
   * Makes `frame` the newest of its sender. The board keeps the reference.
   *
   * @param frame The frame; its `bytes` must not be modified afterwards.
   * @param nowMs When it arrived.
   * @returns The sequence number given to the frame.
   *
   * @example Usage
   * ```ts
   * import { FrameBoard } from "./frame_board.ts";
   * const board = new FrameBoard();
   * const bytes = new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);
   * console.log(board.publish({ sender: "127.0.0.1:9", bytes, format: "jpeg" }, 0)); // 1
   * ```
   */
  publish(frame: ViewerFrame, nowMs: number): number {
    checkFrame(frame);
    let entry = this.#senders.get(frame.sender);
    if (entry === undefined) {
      if (this.#senders.size >= this.#maxSenders) this.#evictOldest();
      entry = new Entry(frame, this.#windowMs);
      this.#senders.set(frame.sender, entry);
    }
    const size = frame.bytes.byteLength;
    entry.frame = frame;
    entry.seq = ++this.#seq;
    entry.frames++;
    entry.bytes += size;
    entry.lastMs = nowMs;
    entry.window.record(nowMs, size);
    this.#total.record(nowMs, size);
    this.#bytes += size;
    const primary = this.#primary;
    if (
      primary === undefined || primary === entry ||
      nowMs - primary.lastMs > this.#switchAfterMs
    ) {
      this.#primary = entry;
    }
    return entry.seq;
  }

  /**
   * The newest frame of `sender`, or of the default sender.
   *
   * @param sender A sender, `host:port`; omit it for the default sender.
   * @returns The entry, or `undefined` when that sender has sent nothing.
   *
   * @example Usage
   * ```ts
   * import { FrameBoard } from "./frame_board.ts";
   * console.log(new FrameBoard().newest()); // undefined
   * ```
   */
  newest(sender?: string): BoardEntry | undefined {
    return sender === undefined ? this.#primary : this.#senders.get(sender);
  }

  /**
   * The remembered senders' entries, in the order they were first seen.
   *
   * @returns An iterator over the entries.
   *
   * @example Usage
   * ```ts
   * import { FrameBoard } from "./frame_board.ts";
   * const board = new FrameBoard();
   * const bytes = new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);
   * board.publish({ sender: "127.0.0.1:9", bytes, format: "jpeg" }, 0);
   * console.log([...board.entries()].map((entry) => entry.sender)); // ["127.0.0.1:9"]
   * ```
   */
  entries(): IterableIterator<BoardEntry> {
    return this.#senders.values();
  }

  /** How many senders the board remembers. */
  get size(): number {
    return this.#senders.size;
  }

  /**
   * Forgets the senders that have been silent longer than `forgetAfterMs`.
   * When the default sender goes, the most recently active one takes its
   * place.
   *
   * @param nowMs The current time.
   * @returns The senders forgotten.
   *
   * @example A sender silent for a minute is forgotten
   * ```ts
   * import { FrameBoard } from "./frame_board.ts";
   * const board = new FrameBoard({ forgetAfterMs: 60_000 });
   * const bytes = new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);
   * board.publish({ sender: "127.0.0.1:9", bytes, format: "jpeg" }, 0);
   * console.log(board.expire(30_000)); // []
   * console.log(board.expire(61_000)); // ["127.0.0.1:9"]
   * ```
   */
  expire(nowMs: number): string[] {
    const forgotten: string[] = [];
    for (const entry of this.#senders.values()) {
      if (nowMs - entry.lastMs > this.#forgetAfterMs) {
        forgotten.push(entry.sender);
      }
    }
    for (const sender of forgotten) this.#forget(sender);
    return forgotten;
  }

  /**
   * The frame and byte rate of all senders together.
   *
   * @param nowMs The current time.
   * @returns Frames and bytes per second over the window.
   *
   * @example Usage
   * ```ts
   * import { FrameBoard } from "./frame_board.ts";
   * console.log(new FrameBoard().rate(0).perSecond); // 0
   * ```
   */
  rate(nowMs: number): Rate {
    return this.#total.rate(nowMs);
  }

  /**
   * Statistics of each sender, in the order they were first seen.
   *
   * @param nowMs The current time.
   * @returns One entry per remembered sender.
   *
   * @example Usage
   * ```ts
   * import { FrameBoard } from "./frame_board.ts";
   * console.log(new FrameBoard().senderStats(0).length); // 0
   * ```
   */
  senderStats(nowMs: number): SenderStats[] {
    const stats: SenderStats[] = [];
    for (const entry of this.#senders.values()) {
      const { perSecond, bytesPerSecond } = entry.window.rate(nowMs);
      const { width, height } = this.#dimensions(entry);
      stats.push({
        sender: entry.sender,
        frames: entry.frames,
        bytes: entry.bytes,
        fps: round(perSecond, 1),
        kbps: round(bytesPerSecond / 1000, 1),
        width,
        height,
        format: entry.frame.format,
        lastFrameAgoMs: Math.max(0, Math.round(nowMs - entry.lastMs)),
        stale: nowMs - entry.lastMs > this.#staleAfterMs,
        protocol: entry.frame.protocol ?? null,
        lost: null,
        late: null,
        latencyMs: null,
      });
    }
    return stats;
  }

  #dimensions(entry: Entry): { width: number | null; height: number | null } {
    const { frame } = entry;
    if (frame.width !== undefined && frame.height !== undefined) {
      return { width: frame.width, height: frame.height };
    }
    // Parsed on demand, so that publishing stays O(1).
    if (entry.dimensionsOf !== frame) {
      entry.dimensionsOf = frame;
      entry.dimensions = imageDimensions(frame.bytes, frame.format);
    }
    return {
      width: entry.dimensions?.width ?? null,
      height: entry.dimensions?.height ?? null,
    };
  }

  #evictOldest(): void {
    let oldest: Entry | undefined;
    for (const entry of this.#senders.values()) {
      if (oldest === undefined || entry.lastMs < oldest.lastMs) oldest = entry;
    }
    if (oldest === undefined) return;
    this.#senders.delete(oldest.sender);
    // The frame being published becomes the default one.
    if (this.#primary === oldest) this.#primary = undefined;
  }

  #forget(sender: string): void {
    const entry = this.#senders.get(sender);
    this.#senders.delete(sender);
    if (entry === undefined || this.#primary !== entry) return;
    let newest: Entry | undefined;
    for (const other of this.#senders.values()) {
      if (newest === undefined || other.lastMs > newest.lastMs) newest = other;
    }
    this.#primary = newest;
  }
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
