/**
 * Pacing: a token bucket that spreads datagrams out at a rate, letting them
 * go in small bursts (about a few milliseconds' worth, and at least a few
 * datagrams) so that the path's queues never see a whole frame at once,
 * while runs of datagrams stay long enough for segmentation offload.
 *
 * @module
 */

/** Options for {@linkcode Pacer}. */
export interface PacerOptions {
  /** Bytes a second. */
  rate: number;
  /** How many ms of the rate may go back to back. @default {4} */
  burstMs?: number;
  /** The least burst, in bytes (a few datagrams). @default {4800} */
  minBurstBytes?: number;
}

/**
 * Says when datagrams may go.
 *
 * @example Two bursts at 8 Mbit/s
 * ```ts
 * import { Pacer } from "./pacer.ts";
 * const pacer = new Pacer({ rate: 1_000_000, burstMs: 1, minBurstBytes: 2400 });
 * console.log(pacer.canSend(0, 1200)); // true
 * pacer.consume(0, 2400);
 * console.log(pacer.canSend(0, 1200), pacer.nextSendTime(0, 1200)); // false 1.2
 * ```
 */
export class Pacer {
  #rate: number;
  readonly #burstMs: number;
  readonly #minBurst: number;
  #tokens: number;
  #updated = -Infinity;

  /**
   * Makes a pacer with a full bucket.
   *
   * @param options Rate and burst.
   */
  constructor(options: PacerOptions) {
    this.#rate = options.rate;
    this.#burstMs = options.burstMs ?? 4;
    this.#minBurst = options.minBurstBytes ?? 4800;
    this.#tokens = this.#depth();
  }

  /** Bytes a second. */
  get rate(): number {
    return this.#rate;
  }

  /** Changes the rate, from now on. */
  set rate(bytesPerSecond: number) {
    this.#rate = bytesPerSecond;
  }

  /**
   * Whether `bytes` may go now.
   *
   * @param now The time, in ms.
   * @param bytes The datagram's size.
   * @returns Whether the bucket holds them.
   */
  canSend(now: number, bytes: number): boolean {
    this.#refill(now);
    return this.#tokens >= Math.min(bytes, this.#depth());
  }

  /**
   * Takes `bytes` from the bucket (it may go below zero, for a datagram
   * larger than the bucket).
   *
   * @param now The time, in ms.
   * @param bytes The datagram's size.
   */
  consume(now: number, bytes: number): void {
    this.#refill(now);
    this.#tokens -= bytes;
  }

  /**
   * When `bytes` may go.
   *
   * @param now The time, in ms.
   * @param bytes The datagram's size.
   * @returns The time, in ms (`now` when it may go at once).
   */
  nextSendTime(now: number, bytes: number): number {
    this.#refill(now);
    const lacking = Math.min(bytes, this.#depth()) - this.#tokens;
    return lacking <= 0 ? now : now + (lacking / this.#rate) * 1000;
  }

  #depth(): number {
    return Math.max(this.#minBurst, (this.#rate * this.#burstMs) / 1000);
  }

  #refill(now: number): void {
    if (now > this.#updated) {
      const depth = this.#depth();
      if (this.#updated !== -Infinity) {
        this.#tokens = Math.min(
          depth,
          this.#tokens + ((now - this.#updated) * this.#rate) / 1000,
        );
      }
      this.#updated = now;
    }
  }
}
