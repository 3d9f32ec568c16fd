/**
 * A model of one direction of a network path, for tests and the lossy
 * relay: loss, duplication, reordering, delay with jitter, and optionally
 * a bottleneck rate with a bounded queue, all drawn from a seeded PRNG so
 * that a run can be repeated exactly. Pure: packets and the time in,
 * packets out when due; no socket and no timer.
 *
 * @module
 */

/** How one direction of a path treats packets. */
export interface LinkOptions {
  /** Share of packets lost, 0 to 1. @default {0} */
  loss?: number;
  /** Share of packets delivered twice. @default {0} */
  duplicate?: number;
  /** Share of packets held back by `reorderDelayMs`, so that later ones pass them. @default {0} */
  reorder?: number;
  /** The delay every packet has, in ms. @default {0} */
  delayMs?: number;
  /** Up to this much more delay, uniform, in ms (reorders too). @default {0} */
  jitterMs?: number;
  /** How much longer a reordered packet takes, in ms. @default {2} */
  reorderDelayMs?: number;
  /** A bottleneck, bytes a second; packets queue behind it. @default no limit */
  rate?: number;
  /** Bytes the bottleneck's queue holds; past it packets are lost. @default {262144} */
  queueBytes?: number;
  /** The PRNG's seed. @default {1} */
  seed?: number;
}

/** What a link did, by count. */
export interface LinkModelStats {
  /** Packets offered. */
  sent: number;
  /** Packets lost at random. */
  lost: number;
  /** Packets lost to the full queue. */
  overflowed: number;
  /** Extra copies made. */
  duplicated: number;
  /** Packets held back to be overtaken. */
  reordered: number;
  /** Packets handed out. */
  delivered: number;
}

/**
 * A seeded PRNG (mulberry32): uniform numbers in [0, 1).
 *
 * @param seed Any 32-bit integer.
 * @returns The generator.
 *
 * @example The same seed, the same numbers
 * ```ts
 * import { seededRandom } from "./link_model.ts";
 * const a = seededRandom(7), b = seededRandom(7);
 * console.log(a() === b()); // true
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface InFlight<T> {
  readonly at: number;
  readonly order: number;
  readonly packet: T;
}

/**
 * One direction of a path. Offer packets with {@linkcode LinkModel.send},
 * take them out when due with {@linkcode LinkModel.receive}.
 *
 * @typeParam T The packet type.
 *
 * @example Half the packets lost, the rest 5 ms late
 * ```ts
 * import { LinkModel } from "./link_model.ts";
 * const link = new LinkModel<number>({ loss: 0.5, delayMs: 5, seed: 3 });
 * for (let i = 0; i < 10; i++) link.send(0, i, 100);
 * const got: number[] = [];
 * for (let p; (p = link.receive(5)) !== undefined;) got.push(p);
 * console.log(got.length === link.stats.delivered); // true
 * ```
 */
export class LinkModel<T> {
  readonly #random: () => number;
  readonly #loss: number;
  readonly #duplicate: number;
  readonly #reorder: number;
  readonly #delayMs: number;
  readonly #jitterMs: number;
  readonly #reorderDelayMs: number;
  readonly #rate: number | undefined;
  readonly #queueBytes: number;
  /** In flight, by due time then order. */
  readonly #queue: InFlight<T>[] = [];
  #order = 0;
  /** When the bottleneck is free again, in ms. */
  #busyUntil = 0;
  /** The counters. */
  readonly stats: LinkModelStats = {
    sent: 0,
    lost: 0,
    overflowed: 0,
    duplicated: 0,
    reordered: 0,
    delivered: 0,
  };

  /**
   * Makes a link.
   *
   * @param options Loss, duplication, reordering, delay and rate.
   */
  constructor(options: LinkOptions = {}) {
    for (const name of ["loss", "duplicate", "reorder"] as const) {
      const value = options[name] ?? 0;
      if (!(value >= 0 && value <= 1)) {
        throw new RangeError(`${name} must be from 0 to 1, got ${value}`);
      }
    }
    this.#random = seededRandom(options.seed ?? 1);
    this.#loss = options.loss ?? 0;
    this.#duplicate = options.duplicate ?? 0;
    this.#reorder = options.reorder ?? 0;
    this.#delayMs = options.delayMs ?? 0;
    this.#jitterMs = options.jitterMs ?? 0;
    this.#reorderDelayMs = options.reorderDelayMs ?? 2;
    this.#rate = options.rate;
    this.#queueBytes = options.queueBytes ?? 256 * 1024;
  }

  /** Packets in flight. */
  get inFlight(): number {
    return this.#queue.length;
  }

  /**
   * Offers a packet.
   *
   * @param now The time, in ms.
   * @param packet The packet.
   * @param bytes Its size, for the bottleneck.
   */
  send(now: number, packet: T, bytes: number): void {
    this.stats.sent++;
    const random = this.#random;
    if (random() < this.#loss) {
      this.stats.lost++;
      return;
    }
    let departs = now;
    if (this.#rate !== undefined) {
      const start = Math.max(now, this.#busyUntil);
      const queued = ((start - now) * this.#rate) / 1000;
      if (queued + bytes > this.#queueBytes) {
        this.stats.overflowed++;
        return;
      }
      this.#busyUntil = start + (bytes * 1000) / this.#rate;
      departs = this.#busyUntil;
    }
    const copies = random() < this.#duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let c = 0; c < copies; c++) {
      let at = departs + this.#delayMs + random() * this.#jitterMs;
      if (random() < this.#reorder) {
        this.stats.reordered++;
        at += this.#reorderDelayMs;
      }
      this.#insert({ at, order: this.#order++, packet });
    }
  }

  /**
   * The next packet due by `now`.
   *
   * @param now The time, in ms.
   * @returns The packet, or `undefined` when none is due.
   */
  receive(now: number): T | undefined {
    const head = this.#queue[0];
    if (head === undefined || head.at > now) return undefined;
    this.#queue.shift();
    this.stats.delivered++;
    return head.packet;
  }

  /**
   * When the next packet is due.
   *
   * @returns The time in ms, or `undefined` when nothing is in flight.
   */
  nextDue(): number | undefined {
    return this.#queue[0]?.at;
  }

  #insert(item: InFlight<T>): void {
    const queue = this.#queue;
    let lo = 0;
    let hi = queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = queue[mid]!;
      if (
        other.at < item.at || (other.at === item.at && other.order < item.order)
      ) {
        lo = mid + 1;
      } else hi = mid;
    }
    queue.splice(lo, 0, item);
  }
}
