/**
 * The sender's history and NACK responder: the frames sent lately, bounded
 * in bytes and in age, and which chunks a NACK may have sent again. A
 * chunk is sent again at most once per interval, however many times (or by
 * however many receivers) it is asked for; frames no longer held, or never
 * sent, are ignored.
 *
 * @module
 */

import { frameDiff } from "./reassembler.ts";
import { type NackEntry, WHOLE_FRAME } from "./wire.ts";

/** A frame as sent, kept to answer NACKs. */
export interface SentFrame {
  /** The frame id. */
  readonly id: number;
  /** The frame's bytes, as the caller gave them (not copied). */
  readonly bytes: Uint8Array;
  /** Its chunk count. */
  readonly count: number;
  /** Its chunk size. */
  readonly size: number;
  /** CRC-32C of the bytes. */
  readonly crc: number;
  /** The frame timestamp, µs on the sender's clock. */
  readonly timestamp: number;
  /** When it was handed to the sender, in ms. */
  readonly queuedAt: number;
  /** Per chunk: when it was last sent again, in ms; made on first need. */
  resentAt: Float64Array | undefined;
}

/** Options for {@linkcode SendHistory}. */
export interface SendHistoryOptions {
  /** The most frame bytes held. @default {33554432} (32 MiB) */
  maxBytes?: number;
  /** How long a frame is held, in ms. @default {1000} */
  maxAgeMs?: number;
}

/**
 * Frames sent lately, oldest first.
 *
 * @example Answering a NACK
 * ```ts
 * import { SendHistory } from "./history.ts";
 * const history = new SendHistory();
 * history.add({ id: 0, bytes: new Uint8Array(10), count: 2, size: 5, crc: 0, timestamp: 0, queuedAt: 0, resentAt: undefined });
 * const asked: number[] = [];
 * history.answer({ frameId: 0, first: 1, bitmap: 0 }, 1, 5, (_, index) => {
 *   asked.push(index);
 * });
 * console.log(asked); // [1]
 * ```
 */
export class SendHistory {
  readonly #frames = new Map<number, SentFrame>();
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;
  #bytes = 0;
  /** Chunks asked for of frames not held (never sent, or gone). */
  unknown = 0;
  /** Chunks asked for again within the interval, not sent. */
  suppressed = 0;

  /**
   * Makes an empty history.
   *
   * @param options Bounds in bytes and age.
   */
  constructor(options: SendHistoryOptions = {}) {
    this.#maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
    this.#maxAgeMs = options.maxAgeMs ?? 1000;
  }

  /** Frames held. */
  get size(): number {
    return this.#frames.size;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Holds a frame just sent, letting the oldest go past the byte bound.
   *
   * @param frame The frame.
   */
  add(frame: SentFrame): void {
    this.#frames.set(frame.id, frame);
    this.#bytes += frame.bytes.length;
    while (this.#bytes > this.#maxBytes && this.#frames.size > 1) {
      this.#dropOldest();
    }
  }

  /**
   * Lets frames older than the age bound go.
   *
   * @param now The time, in ms.
   */
  expire(now: number): void {
    for (const frame of this.#frames.values()) {
      if (now - frame.queuedAt <= this.#maxAgeMs) return;
      this.#dropOldest();
    }
  }

  /**
   * A held frame.
   *
   * @param id The frame id.
   * @returns The frame, or `undefined`.
   */
  get(id: number): SentFrame | undefined {
    return this.#frames.get(id);
  }

  /** The newest frame id held, or `undefined`. */
  newestId(): number | undefined {
    let newest: number | undefined;
    for (const id of this.#frames.keys()) {
      if (newest === undefined || frameDiff(id, newest) > 0) newest = id;
    }
    return newest;
  }

  /**
   * Calls `send` for each chunk of `entry` that may be sent again now:
   * held, in range, and not sent again within `minIntervalMs`.
   *
   * @param entry A NACK entry.
   * @param now The time, in ms.
   * @param minIntervalMs The least time between two resends of a chunk.
   * @param send Called with the frame and the chunk index; returns `false`
   * to stop (the budget is spent).
   */
  answer(
    entry: NackEntry,
    now: number,
    minIntervalMs: number,
    send: (frame: SentFrame, index: number) => boolean | void,
  ): void {
    const frame = this.#frames.get(entry.frameId);
    if (frame === undefined) {
      this.unknown++;
      return;
    }
    const resentAt = frame.resentAt ??= new Float64Array(frame.count).fill(
      -Infinity,
    );
    const visit = (index: number): boolean => {
      if (index >= frame.count) {
        this.unknown++;
        return true;
      }
      if (now - resentAt[index]! < minIntervalMs) {
        this.suppressed++;
        return true;
      }
      if (send(frame, index) === false) return false;
      resentAt[index] = now;
      return true;
    };
    if (entry.first === WHOLE_FRAME) {
      for (let i = 0; i < frame.count; i++) if (!visit(i)) return;
      return;
    }
    if (!visit(entry.first)) return;
    for (let b = 0; b < 16; b++) {
      if ((entry.bitmap & (1 << b)) !== 0 && !visit(entry.first + 1 + b)) {
        return;
      }
    }
  }

  #dropOldest(): void {
    const oldest = this.#frames.values().next();
    if (oldest.done) return;
    this.#frames.delete(oldest.value.id);
    this.#bytes -= oldest.value.bytes.length;
  }
}
