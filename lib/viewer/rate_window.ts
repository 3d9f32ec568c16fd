/**
 * Frame and byte rates over a sliding time window.
 *
 * @module
 */

/** Options for {@linkcode RateWindow}. */
export interface RateWindowOptions {
  /**
   * Length of the window in milliseconds.
   *
   * @default {2000}
   */
  windowMs?: number;
  /**
   * How many events the window remembers. Above `capacity / windowMs` events
   * per millisecond the rate is computed over the newest `capacity` events.
   *
   * @default {1024}
   */
  capacity?: number;
}

/** A rate measured by {@linkcode RateWindow.rate}. */
export interface Rate {
  /** Events per second. */
  perSecond: number;
  /** Bytes per second. */
  bytesPerSecond: number;
}

/**
 * Counts events (frames) and their sizes over the last `windowMs`
 * milliseconds. Memory is fixed at construction: recording never allocates.
 * Time is passed in, so the class has no clock and no timers.
 *
 * @example Measuring 30 frames per second
 * ```ts
 * import { RateWindow } from "./rate_window.ts";
 * const window = new RateWindow({ windowMs: 2000 });
 * for (let i = 0; i < 90; i++) window.record(i * 1000 / 30, 10_000);
 * const rate = window.rate(3000);
 * console.log(Math.round(rate.perSecond)); // 30
 * ```
 */
export class RateWindow {
  #windowMs: number;
  #times: Float64Array;
  #sizes: Float64Array;
  #next = 0;
  #count = 0;
  #firstMs = Number.NaN;

  /**
   * @param options Window length and capacity.
   */
  constructor(options: RateWindowOptions = {}) {
    const { windowMs = 2000, capacity = 1024 } = options;
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) {
      throw new RangeError(
        `Cannot create rate window: windowMs must be a positive number, got ${windowMs}`,
      );
    }
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(
        `Cannot create rate window: capacity must be a positive integer, got ${capacity}`,
      );
    }
    this.#windowMs = windowMs;
    this.#times = new Float64Array(capacity);
    this.#sizes = new Float64Array(capacity);
  }

  /**
   * Records one event.
   *
   * @param nowMs The time of the event, in milliseconds on any monotonic clock.
   * @param bytes The size of the event.
   *
   * @example Usage
   * ```ts
   * import { RateWindow } from "./rate_window.ts";
   * const window = new RateWindow();
   * window.record(performance.now(), 1500);
   * ```
   */
  record(nowMs: number, bytes: number): void {
    if (Number.isNaN(this.#firstMs)) this.#firstMs = nowMs;
    this.#times[this.#next] = nowMs;
    this.#sizes[this.#next] = bytes;
    this.#next = (this.#next + 1) % this.#times.length;
    if (this.#count < this.#times.length) this.#count++;
  }

  /**
   * The rate over the window that ends at `nowMs`. It falls to zero
   * `windowMs` after the last event.
   *
   * @param nowMs The end of the window, on the clock passed to `record`.
   * @returns Events and bytes per second.
   *
   * @example A source that stopped
   * ```ts
   * import { RateWindow } from "./rate_window.ts";
   * const window = new RateWindow({ windowMs: 1000 });
   * window.record(0, 100);
   * console.log(window.rate(5000).perSecond); // 0
   * ```
   */
  rate(nowMs: number): Rate {
    const capacity = this.#times.length;
    const since = nowMs - this.#windowMs;
    let events = 0;
    let bytes = 0;
    let oldest = nowMs;
    for (let i = 1; i <= this.#count; i++) {
      const slot = (this.#next - i + capacity) % capacity;
      const time = this.#times[slot]!;
      if (time <= since) break;
      events++;
      bytes += this.#sizes[slot]!;
      oldest = time;
    }
    if (events === 0) return { perSecond: 0, bytesPerSecond: 0 };
    if (events === capacity) {
      // More events than the window can hold: measure between the oldest
      // remembered one and the newest.
      const newest = this.#times[(this.#next - 1 + capacity) % capacity]!;
      const spanMs = Math.max(newest - oldest, 1);
      const perSecond = (events - 1) * 1000 / spanMs;
      return { perSecond, bytesPerSecond: perSecond * bytes / events };
    }
    if (this.#firstMs > since) {
      // Started within the window: measure from the first event to the
      // newest, so a new stream shows its rate at once and one image is not
      // a rate at all.
      const newest = this.#times[(this.#next - 1 + capacity) % capacity]!;
      if (events < 2 || newest <= oldest) {
        return { perSecond: 0, bytesPerSecond: 0 };
      }
      const perSecond = (events - 1) * 1000 / (newest - oldest);
      return { perSecond, bytesPerSecond: perSecond * bytes / events };
    }
    return {
      perSecond: events * 1000 / this.#windowMs,
      bytesPerSecond: bytes * 1000 / this.#windowMs,
    };
  }
}
