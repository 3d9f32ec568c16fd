/**
 * The receive log: which packet numbers of a stream arrived, as a bitmap
 * ring over the most recent ones (pion/interceptor's receive log), so that
 * duplicates are dropped at once and reports can say how many datagrams
 * came and which was the highest.
 *
 * @module
 */

/** Packet numbers remembered behind the highest. */
const WINDOW = 4096;
const WORDS = WINDOW / 32;
/** A larger step forward is ignored for the window, as forged. */
const MAX_JUMP = 1 << 20;

/**
 * Tracks the packet numbers received in one direction of a stream.
 *
 * @example A duplicate is refused
 * ```ts
 * import { ReceiveLog } from "./receive_log.ts";
 * const log = new ReceiveLog();
 * console.log(log.add(0), log.add(2), log.add(2), log.received); // true true false 2
 * ```
 */
export class ReceiveLog {
  readonly #bits = new Uint32Array(WORDS);
  #highest = -1;
  #received = 0;

  /** The highest packet number received, or -1 before the first. */
  get highest(): number {
    return this.#highest;
  }

  /** Packet numbers received, each counted once. */
  get received(): number {
    return this.#received;
  }

  /**
   * Records packet number `n`.
   *
   * @param n The packet number.
   * @returns `false` when it was already received (a duplicate), `true`
   * otherwise, including a number too old to tell.
   */
  add(n: number): boolean {
    const highest = this.#highest;
    // A jump this far is no sender's counting: it must not move the window.
    if (highest >= 0 && n - highest > MAX_JUMP) {
      this.#received++;
      return true;
    }
    if (n > highest) {
      // Clear the slots the window slides over.
      const steps = Math.min(n - highest, WINDOW);
      for (let k = 1; k <= steps; k++) this.#clear(highest + k);
      this.#highest = n;
    } else if (highest - n >= WINDOW) {
      this.#received++;
      return true;
    } else if (this.#has(n)) {
      return false;
    }
    this.#set(n);
    this.#received++;
    return true;
  }

  #has(n: number): boolean {
    const slot = n % WINDOW;
    return (this.#bits[slot >>> 5]! & (1 << (slot & 31))) !== 0;
  }

  #set(n: number): void {
    const slot = n % WINDOW;
    this.#bits[slot >>> 5]! |= 1 << (slot & 31);
  }

  #clear(n: number): void {
    const slot = n % WINDOW;
    this.#bits[slot >>> 5]! &= ~(1 << (slot & 31));
  }
}
