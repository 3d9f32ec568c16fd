/**
 * Replay protection for one stream direction: a sliding window over packet
 * counters, as in IPsec (RFC 4303 §3.4.3) and DTLS (RFC 6347 §4.1.2.6).
 *
 * The window remembers, for the `size` counters up to the highest accepted
 * one, which were accepted, in a ring of 32-bit words. A counter above the
 * highest is new; one inside the window is new unless its bit is set; one
 * below the window is too old to tell, and refused. Reordering by up to
 * `size − 1` packets is accepted, which suits video, whose bursts of a
 * frame's datagrams are long.
 *
 * Check a datagram's counter before opening it (cheap, and a replay costs no
 * decryption), and accept it only after its tag verified: a forged datagram
 * must not move the window.
 *
 * ```ts ignore
 * if (window.check(counter) !== "ok") return; // replayed or too old
 * if (aead.open(id, counter, packet, headerLength, length) < 0) return; // forged
 * window.accept(counter);
 * ```
 *
 * @module
 */

/** What {@linkcode ReplayWindow.check} says of a counter. */
export type ReplayVerdict = "ok" | "replayed" | "too-old";

/** Options for {@linkcode ReplayWindow}. */
export interface ReplayWindowOptions {
  /**
   * Counters remembered below the highest accepted one, itself included: a
   * positive multiple of 32, at most 2^20.
   *
   * @default {4096}
   */
  size?: number;
}

/** The default window: 4096 packets, about 4.9 MB of 1200-byte datagrams. */
export const DEFAULT_REPLAY_WINDOW = 4096;
const MAX_WINDOW = 1 << 20;

/**
 * A sliding replay window over one direction's packet counters.
 *
 * @example Duplicates and stale counters are refused, reordering is not
 * ```ts
 * import { ReplayWindow } from "./replay_window.ts";
 * const window = new ReplayWindow({ size: 64 });
 * window.accept(10);
 * window.accept(12);
 * console.log(window.check(11)); // "ok": late, but within the window
 * console.log(window.check(12)); // "replayed"
 * window.accept(100);
 * console.log(window.check(20)); // "too-old": 100 − 20 ≥ 64
 * ```
 */
export class ReplayWindow {
  /** Counters the window spans, the highest accepted one included. */
  readonly size: number;
  #bits: Uint32Array;
  #highest = -1;

  /**
   * Makes an empty window: every counter is new.
   *
   * @param options The window size.
   */
  constructor(options: ReplayWindowOptions = {}) {
    const size = options.size ?? DEFAULT_REPLAY_WINDOW;
    if (
      !Number.isSafeInteger(size) || size <= 0 || size % 32 !== 0 ||
      size > MAX_WINDOW
    ) {
      throw new RangeError(
        `Cannot use a replay window of ${size}: expected a multiple of 32 from 32 to ${MAX_WINDOW}`,
      );
    }
    this.size = size;
    this.#bits = new Uint32Array(size / 32);
  }

  /** The highest accepted counter, or -1 before the first. */
  get highest(): number {
    return this.#highest;
  }

  /**
   * Says whether `counter` is new, without remembering it.
   *
   * @param counter A packet counter, 0 to 2^53 − 1.
   * @returns `ok` when new, `replayed` when accepted before, `too-old` when
   *   below the window.
   */
  check(counter: number): ReplayVerdict {
    if (!Number.isSafeInteger(counter) || counter < 0) {
      throw new RangeError(
        `Cannot check packet counter ${counter}: expected an integer from 0 to 2^53 - 1`,
      );
    }
    if (counter > this.#highest) return "ok";
    if (this.#highest - counter >= this.size) return "too-old";
    const bit = counter % this.size;
    return (this.#bits[bit >>> 5]! & (1 << (bit & 31))) === 0
      ? "ok"
      : "replayed";
  }

  /**
   * Remembers `counter` if it is new, sliding the window up when it is the
   * highest yet. Call it only for a datagram whose tag verified.
   *
   * @param counter A packet counter, 0 to 2^53 − 1.
   * @returns What {@linkcode ReplayWindow.check} said; only `ok` changed
   *   the window.
   */
  accept(counter: number): ReplayVerdict {
    const verdict = this.check(counter);
    if (verdict !== "ok") return verdict;
    if (counter > this.#highest) this.#slide(counter);
    const bit = counter % this.size;
    this.#bits[bit >>> 5]! |= 1 << (bit & 31);
    return "ok";
  }

  /** Forgets the bits of the counters that the window leaves behind. */
  #slide(to: number): void {
    const bits = this.#bits;
    const size = this.size;
    if (to - this.#highest >= size) {
      bits.fill(0);
    } else {
      // Clear the slots of highest+1 … to, whole words where they can be.
      let counter = this.#highest + 1;
      while (counter <= to) {
        const bit = counter % size;
        if ((bit & 31) === 0 && to - counter >= 31) {
          bits[bit >>> 5] = 0;
          counter += 32;
        } else {
          bits[bit >>> 5]! &= ~(1 << (bit & 31));
          counter++;
        }
      }
    }
    this.#highest = to;
  }
}

/** Options for {@linkcode ReplayWindowSet}. */
export interface ReplayWindowSetOptions extends ReplayWindowOptions {
  /**
   * Parties remembered at once; past it the one heard from least recently
   * is forgotten.
   *
   * @default {256}
   */
  maxParties?: number;
}

const TWO_32 = 0x1_0000_0000;
/** How far past a party's highest counter a counter is still its own. */
const PARTY_SPAN = TWO_32;
/** High words further apart than this belong to different parties. */
const MAX_HIGH_APART = 1 << 20;

interface Party {
  readonly id: number;
  readonly baseHigh: number;
  readonly baseLow: number;
  readonly window: ReplayWindow;
  used: number;
}

/**
 * Replay windows for several parties that seal under one key and one
 * stream id, each counting up from its own random start in a 63-bit
 * counter space: the receivers of a multicast stream, or one receiver
 * that restarted. Each party's counters fall near each other and far from
 * any other party's, so a counter is checked against the window of the
 * party whose counters it is near (within 2^32 above its highest), or is
 * a new party's. The source address plays no part: a capture replayed from
 * elsewhere meets the same window.
 *
 * Counters come as two words, `high` (bits 32–62) and `low` (bits 0–31),
 * since a 63-bit counter is no exact JavaScript number. Check before
 * opening, accept after the tag verified.
 *
 * @example Two parties far apart, and a replay of each
 * ```ts
 * import { ReplayWindowSet } from "./replay_window.ts";
 * const windows = new ReplayWindowSet();
 * windows.accept(0x1234_5678, 10);
 * windows.accept(0x2000_0000, 99);
 * console.log(windows.parties); // 2
 * console.log(windows.check(0x1234_5678, 11)); // "ok"
 * console.log(windows.check(0x1234_5678, 10)); // "replayed"
 * console.log(windows.check(0x2000_0000, 99)); // "replayed"
 * ```
 */
export class ReplayWindowSet {
  readonly #size: number;
  readonly #maxParties: number;
  readonly #parties: Party[] = [];
  #tick = 0;
  #nextId = 0;

  /**
   * Makes a set with no parties.
   *
   * @param options The window size per party and how many parties.
   */
  constructor(options: ReplayWindowSetOptions = {}) {
    // Checks the size once, here.
    this.#size = new ReplayWindow(options).size;
    const maxParties = options.maxParties ?? 256;
    if (!Number.isSafeInteger(maxParties) || maxParties < 1) {
      throw new RangeError(
        `Cannot keep ${maxParties} parties: expected a positive integer`,
      );
    }
    this.#maxParties = maxParties;
  }

  /** Parties remembered now. */
  get parties(): number {
    return this.#parties.length;
  }

  /**
   * Says whether a counter is new, without remembering it.
   *
   * @param high Bits 32–62 of the counter.
   * @param low Bits 0–31.
   * @returns `ok` when new (a new party's counters are new), `replayed` or
   *   `too-old` as {@linkcode ReplayWindow.check} says.
   */
  check(high: number, low: number): ReplayVerdict {
    const party = this.#find(high, low);
    if (party === undefined) return "ok";
    return party.window.check(this.#relative(party, high, low));
  }

  /**
   * Remembers a counter whose datagram's tag verified: in its party's
   * window, or as the first of a new party.
   *
   * @param high Bits 32–62 of the counter.
   * @param low Bits 0–31.
   * @returns What {@linkcode ReplayWindowSet.check} said.
   */
  accept(high: number, low: number): ReplayVerdict {
    checkWords(high, low);
    let party = this.#find(high, low);
    if (party === undefined) {
      if (this.#parties.length >= this.#maxParties) this.#forgetOldest();
      party = {
        id: this.#nextId++,
        baseHigh: high,
        baseLow: low,
        window: new ReplayWindow({ size: this.#size }),
        used: 0,
      };
      this.#parties.push(party);
    }
    party.used = ++this.#tick;
    return party.window.accept(this.#relative(party, high, low));
  }

  /**
   * Which party a counter belongs to: a number that stays the party's while
   * it is remembered, for telling senders apart by their counters.
   *
   * @param high Bits 32–62 of the counter.
   * @param low Bits 0–31.
   * @returns The party's id, or -1 for a counter of no party yet.
   */
  partyOf(high: number, low: number): number {
    return this.#find(high, low)?.id ?? -1;
  }

  /**
   * The counter relative to the party's first, offset by the window size so
   * that counters a little older than the first are still in the window.
   */
  #relative(party: Party, high: number, low: number): number {
    return (high - party.baseHigh) * TWO_32 + (low - party.baseLow) +
      this.#size;
  }

  #find(high: number, low: number): Party | undefined {
    checkWords(high, low);
    for (const party of this.#parties) {
      if (Math.abs(high - party.baseHigh) > MAX_HIGH_APART) continue;
      const relative = this.#relative(party, high, low);
      if (relative >= 0 && relative <= party.window.highest + PARTY_SPAN) {
        return party;
      }
    }
    return undefined;
  }

  #forgetOldest(): void {
    let oldest = 0;
    for (let i = 1; i < this.#parties.length; i++) {
      if (this.#parties[i]!.used < this.#parties[oldest]!.used) oldest = i;
    }
    this.#parties.splice(oldest, 1);
  }
}

function checkWords(high: number, low: number): void {
  if (
    (high >>> 0) !== high || high > 0x7fff_ffff || (low >>> 0) !== low
  ) {
    throw new RangeError(
      `Cannot check packet counter words ${high}, ${low}: expected a high word from 0 to 2^31 - 1 and a low word from 0 to 2^32 - 1`,
    );
  }
}
