/**
 * The last minute of each sender's rates, one sample a second, for the
 * viewer's plots: pure state, fed with running totals and a clock.
 *
 * @module
 */

/** Running totals of one sender, or of all of them, at one instant. */
export interface HistoryInput {
  /** Frames received so far. */
  frames: number;
  /** Bytes received so far. */
  bytes: number;
  /** Frames lost so far, when the protocol reports it. */
  lost?: number | undefined;
  /** Frames that came too late so far, when the protocol reports it. */
  late?: number | undefined;
  /** The current latency in milliseconds, when the protocol reports it. */
  latencyMs?: number | undefined;
}

/** Running totals of all senders, with the server's dropped frames. */
export interface HistoryTotalInput extends HistoryInput {
  /** Frames the server dropped so far (incomplete, timed out). */
  dropped: number;
}

/**
 * One sender's samples, oldest first, newest last, one per sample interval.
 * A series that the protocol never reported is `null`.
 */
export interface HistorySeries {
  /** Frames per second. */
  fps: number[];
  /** Kilobytes (1000 bytes) per second. */
  kbps: number[];
  /** Frames lost per second, or `null` when never reported. */
  lost: number[] | null;
  /** Frames per second that came too late, or `null` when never reported. */
  late: number[] | null;
  /**
   * Latency in milliseconds, `null` in a sample where it was unknown, or
   * `null` for the whole series when never reported.
   */
  latencyMs: (number | null)[] | null;
}

/** All senders' samples together. */
export interface HistoryTotal extends HistorySeries {
  /** Frames dropped by the server per second. */
  dropped: number[];
}

/** The JSON document served at `/history`. */
export interface HistoryDocument {
  /** Milliseconds between samples. */
  intervalMs: number;
  /** The most samples a series holds. */
  capacity: number;
  /**
   * Milliseconds since the newest sample was taken, or `null` before the
   * first.
   */
  lastSampleAgoMs: number | null;
  /** All senders together. */
  total: HistoryTotal;
  /**
   * Each sender's series, by `host:port`. A sender seen after the first
   * sample has fewer samples; every series ends at the newest sample.
   */
  senders: Record<string, HistorySeries>;
}

/** Options for {@linkcode ViewerHistory}. */
export interface ViewerHistoryOptions {
  /**
   * How many samples each series keeps.
   *
   * @default {60}
   */
  capacity?: number;
  /**
   * The interval the caller samples at, in milliseconds, reported in the
   * document for the plots' time axis.
   *
   * @default {1000}
   */
  intervalMs?: number;
}

/** A fixed-size ring of numbers; NaN stands for an unknown sample. */
class Ring {
  readonly #values: Float64Array;
  #next = 0;
  #count = 0;

  constructor(capacity: number) {
    this.#values = new Float64Array(capacity);
  }

  push(value: number): void {
    this.#values[this.#next] = value;
    this.#next = (this.#next + 1) % this.#values.length;
    if (this.#count < this.#values.length) this.#count++;
  }

  toArray(): (number | null)[] {
    const capacity = this.#values.length;
    const out: (number | null)[] = new Array(this.#count);
    for (let i = 0; i < this.#count; i++) {
      const value = this
        .#values[(this.#next - this.#count + i + capacity) % capacity]!;
      out[i] = Number.isNaN(value) ? null : Math.round(value * 10) / 10;
    }
    return out;
  }
}

/** The previous totals and the rings of one sender, or of all. */
class Track {
  readonly fps: Ring;
  readonly kbps: Ring;
  readonly lost: Ring;
  readonly late: Ring;
  readonly latencyMs: Ring;
  readonly dropped: Ring;
  hasLost = false;
  hasLate = false;
  hasLatency = false;
  previous: HistoryTotalInput;

  constructor(capacity: number, start: HistoryTotalInput) {
    this.fps = new Ring(capacity);
    this.kbps = new Ring(capacity);
    this.lost = new Ring(capacity);
    this.late = new Ring(capacity);
    this.latencyMs = new Ring(capacity);
    this.dropped = new Ring(capacity);
    this.previous = start;
  }

  record(input: HistoryTotalInput, seconds: number): void {
    const before = this.previous;
    this.fps.push(perSecond(input.frames, before.frames, seconds));
    this.kbps.push(perSecond(input.bytes, before.bytes, seconds) / 1000);
    this.dropped.push(perSecond(input.dropped, before.dropped, seconds));
    this.hasLost ||= input.lost !== undefined;
    this.hasLate ||= input.late !== undefined;
    this.hasLatency ||= input.latencyMs !== undefined;
    // A count first reported now starts from its current value.
    this.lost.push(perSecond(input.lost, before.lost ?? input.lost, seconds));
    this.late.push(perSecond(input.late, before.late ?? input.late, seconds));
    this.latencyMs.push(input.latencyMs ?? Number.NaN);
    this.previous = input;
  }

  series(): HistorySeries {
    return {
      fps: this.fps.toArray() as number[],
      kbps: this.kbps.toArray() as number[],
      lost: this.hasLost ? this.lost.toArray() as number[] : null,
      late: this.hasLate ? this.late.toArray() as number[] : null,
      latencyMs: this.hasLatency ? this.latencyMs.toArray() : null,
    };
  }
}

/** The rate of a running count; 0 when it is unknown or went backwards. */
function perSecond(
  now: number | undefined,
  before: number | undefined,
  seconds: number,
): number {
  if (now === undefined || before === undefined || now < before) return 0;
  return (now - before) / seconds;
}

function checkCount(name: string, value: number, least: number): number {
  if (!Number.isInteger(value) || value < least) {
    throw new RangeError(
      `Cannot create viewer history: ${name} must be an integer of at least ${least}, got ${value}`,
    );
  }
  return value;
}

/**
 * Keeps, for each sender and for all together, the last `capacity` samples
 * of frames and kilobytes per second, lost and late frames per second, and
 * latency. Each {@linkcode ViewerHistory.record} turns the running totals
 * since the previous call into one sample. Memory is fixed per sender; a
 * sender missing from a call is forgotten.
 *
 * @example Two seconds of one sender at 10 frames a second
 * ```ts
 * import { ViewerHistory } from "./history.ts";
 * const history = new ViewerHistory();
 * const sender = "127.0.0.1:50000";
 * history.record(0, { frames: 0, bytes: 0, dropped: 0 }, new Map());
 * history.record(1000, { frames: 10, bytes: 50_000, dropped: 0 }, new Map([[sender, { frames: 10, bytes: 50_000 }]]));
 * history.record(2000, { frames: 20, bytes: 100_000, dropped: 1 }, new Map([[sender, { frames: 20, bytes: 100_000 }]]));
 * const doc = history.toJSON(2000);
 * console.log(doc.total.fps, doc.total.dropped); // [10, 10] [0, 1]
 * console.log(doc.senders[sender]?.kbps); // [50, 50]
 * ```
 */
export class ViewerHistory {
  readonly #capacity: number;
  readonly #intervalMs: number;
  #total: Track | undefined;
  readonly #senders = new Map<string, Track>();
  #lastMs: number | undefined;

  /**
   * @param options How many samples to keep, and the sampling interval.
   */
  constructor(options: ViewerHistoryOptions = {}) {
    this.#capacity = checkCount("capacity", options.capacity ?? 60, 2);
    this.#intervalMs = checkCount("intervalMs", options.intervalMs ?? 1000, 1);
  }

  /**
   * Takes one sample: the change of every running total since the previous
   * call, per second. The first call only sets the starting point.
   *
   * @param nowMs The current time, on any monotonic clock.
   * @param total The running totals of all senders.
   * @param senders The running totals of each sender, by `host:port`. A
   * sender's frames and bytes count from 0 when it is first seen.
   *
   * @example Usage
   * ```ts
   * import { ViewerHistory } from "./history.ts";
   * const history = new ViewerHistory();
   * history.record(0, { frames: 0, bytes: 0, dropped: 0 }, new Map());
   * ```
   */
  record(
    nowMs: number,
    total: HistoryTotalInput,
    senders: ReadonlyMap<string, HistoryInput>,
  ): void {
    const lastMs = this.#lastMs;
    if (lastMs !== undefined && !(nowMs > lastMs)) return;
    this.#lastMs = nowMs;
    if (this.#total === undefined || lastMs === undefined) {
      this.#total = new Track(this.#capacity, total);
      for (const [sender, input] of senders) {
        this.#senders.set(
          sender,
          new Track(this.#capacity, { ...input, dropped: 0 }),
        );
      }
      return;
    }
    const seconds = (nowMs - lastMs) / 1000;
    this.#total.record(total, seconds);
    for (const sender of this.#senders.keys()) {
      if (!senders.has(sender)) this.#senders.delete(sender);
    }
    for (const [sender, input] of senders) {
      let track = this.#senders.get(sender);
      if (track === undefined) {
        track = new Track(this.#capacity, {
          frames: 0,
          bytes: 0,
          dropped: 0,
          lost: input.lost,
          late: input.late,
        });
        this.#senders.set(sender, track);
      }
      track.record({ ...input, dropped: 0 }, seconds);
    }
  }

  /**
   * The samples as the JSON document of `/history`.
   *
   * @param nowMs The current time, for `lastSampleAgoMs`.
   * @param sender Only this sender's series; omit it for all senders.
   * @returns The document.
   *
   * @example Before any sample
   * ```ts
   * import { ViewerHistory } from "./history.ts";
   * console.log(new ViewerHistory().toJSON(0).total.fps); // []
   * ```
   */
  toJSON(nowMs: number, sender?: string): HistoryDocument {
    const senders: Record<string, HistorySeries> = {};
    for (const [name, track] of this.#senders) {
      if (sender === undefined || sender === name) {
        senders[name] = track.series();
      }
    }
    const total = this.#total;
    const empty = {
      fps: [],
      kbps: [],
      lost: null,
      late: null,
      latencyMs: null,
    };
    return {
      intervalMs: this.#intervalMs,
      capacity: this.#capacity,
      lastSampleAgoMs: this.#lastMs === undefined
        ? null
        : Math.max(0, Math.round(nowMs - this.#lastMs)),
      total: total === undefined ? { ...empty, dropped: [] } : {
        ...total.series(),
        dropped: total.dropped.toArray() as number[],
      },
      senders,
    };
  }
}
