/**
 * What reports measure: round-trip time from a timestamp echo, the offset
 * between two machines' clocks (NTP's estimate over an RTCP-style
 * exchange), interarrival jitter (RFC 3550 §6.4.1) and queueing delay (the
 * one-way delay above the smallest seen lately, as LEDBAT measures it).
 * Pure arithmetic over the times given; no clock is read here.
 *
 * @module
 */

/**
 * A smoothed round-trip time, as TCP keeps one (RFC 6298), and the
 * smallest sample of the last ten seconds.
 *
 * @example Two samples
 * ```ts
 * import { RttEstimator } from "./reports.ts";
 * const rtt = new RttEstimator();
 * rtt.sample(10, 0);
 * rtt.sample(20, 1000);
 * console.log(rtt.smoothed, rtt.min); // 11.25 10
 * ```
 */
export class RttEstimator {
  #smoothed: number | undefined;
  #variation = 0;
  #min = Infinity;
  #minAt = -Infinity;
  #previousMin = Infinity;
  #latest: number | undefined;
  readonly #initial: number;

  /**
   * Makes an estimator with no sample.
   *
   * @param initialMs The RTT assumed before the first sample.
   */
  constructor(initialMs = 20) {
    this.#initial = initialMs;
  }

  /** The smoothed RTT in ms, or the initial guess before a sample. */
  get smoothed(): number {
    return this.#smoothed ?? this.#initial;
  }

  /** The mean deviation, in ms. */
  get variation(): number {
    return this.#smoothed === undefined ? this.#initial / 2 : this.#variation;
  }

  /** The smallest sample lately, in ms, or the initial guess. */
  get min(): number {
    const min = Math.min(this.#min, this.#previousMin);
    return min === Infinity ? this.smoothed : min;
  }

  /** The latest sample, if any. */
  get latest(): number | undefined {
    return this.#latest;
  }

  /** Whether a sample came. */
  get measured(): boolean {
    return this.#smoothed !== undefined;
  }

  /**
   * Takes one sample.
   *
   * @param ms The round-trip time measured; ignored unless finite and ≥ 0.
   * @param now The time, in ms, for the window of the minimum.
   */
  sample(ms: number, now: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.#latest = ms;
    if (this.#smoothed === undefined) {
      this.#smoothed = ms;
      this.#variation = ms / 2;
    } else {
      this.#variation = 0.75 * this.#variation +
        0.25 * Math.abs(this.#smoothed - ms);
      this.#smoothed = 0.875 * this.#smoothed + 0.125 * ms;
    }
    // The minimum of the last two five-second windows.
    if (now - this.#minAt >= 5000) {
      this.#previousMin = this.#min;
      this.#min = ms;
      this.#minAt = now;
    } else if (ms < this.#min) this.#min = ms;
  }
}

/**
 * Estimates how far the sender's clock is ahead of the receiver's from
 * the four timestamps of a report and its echo, NTP-style, keeping the
 * median of the estimates from the exchanges with the smallest RTTs (those
 * least skewed by asymmetric queueing).
 *
 * @example One exchange with the sender 5 ms ahead
 * ```ts
 * import { ClockOffsetEstimator } from "./reports.ts";
 * const offset = new ClockOffsetEstimator();
 * // t1 receiver sends, t2 sender gets it, t3 sender answers, t4 receiver gets it (µs)
 * offset.sample(1_000, 6_500, 6_600, 2_100);
 * console.log(offset.offsetUs); // 5000
 * ```
 */
export class ClockOffsetEstimator {
  readonly #samples: { offset: number; rtt: number }[] = [];
  #offset: number | undefined;

  /** The estimate in µs (sender minus receiver), or `undefined` before one. */
  get offsetUs(): number | undefined {
    return this.#offset;
  }

  /**
   * Takes one exchange, all in µs.
   *
   * @param t1 The receiver's clock when it sent the report.
   * @param t2 The sender's clock when the report arrived.
   * @param t3 The sender's clock when it sent its answer.
   * @param t4 The receiver's clock when the answer arrived.
   * @returns The RTT of this exchange, in µs, or `undefined` when the
   * timestamps cannot be right.
   */
  sample(t1: number, t2: number, t3: number, t4: number): number | undefined {
    const rtt = (t4 - t1) - (t3 - t2);
    if (!(rtt >= 0) || t3 < t2 || rtt > 60e6) return undefined;
    const offset = ((t2 - t1) + (t3 - t4)) / 2;
    const samples = this.#samples;
    samples.push({ offset, rtt });
    if (samples.length > 16) samples.shift();
    const best = samples.slice().sort((a, b) => a.rtt - b.rtt).slice(0, 8)
      .map((s) => s.offset).sort((a, b) => a - b);
    this.#offset = best[best.length >> 1]!;
    return rtt;
  }
}

/**
 * Interarrival jitter and queueing delay of one stream's data datagrams,
 * from their send times and arrival times.
 *
 * @example Steady arrivals have no jitter
 * ```ts
 * import { DelayMeter } from "./reports.ts";
 * const meter = new DelayMeter();
 * for (let i = 0; i < 10; i++) meter.sample(i * 1000, i * 1000 + 300, i);
 * console.log(meter.jitterUs, meter.queueingDelayUs); // 0 0
 * ```
 */
export class DelayMeter {
  #lastTransit: number | undefined;
  #jitter = 0;
  #smoothed: number | undefined;
  #min = Infinity;
  #previousMin = Infinity;
  #minAt = -Infinity;

  /** Interarrival jitter, µs. */
  get jitterUs(): number {
    return this.#jitter;
  }

  /** The smoothed one-way delay above the smallest of the last 10 s, µs. */
  get queueingDelayUs(): number {
    if (this.#smoothed === undefined) return 0;
    return Math.max(0, this.#smoothed - Math.min(this.#min, this.#previousMin));
  }

  /**
   * Takes one datagram.
   *
   * @param sentUs When it was sent, on the sender's clock, µs.
   * @param arrivedUs When it arrived, on the receiver's clock, µs.
   * @param nowMs The receiver's time in ms, for the window of the minimum.
   */
  sample(sentUs: number, arrivedUs: number, nowMs: number): void {
    // The offset between the clocks is constant, so it cancels out.
    const transit = arrivedUs - sentUs;
    if (this.#lastTransit !== undefined) {
      const d = Math.abs(transit - this.#lastTransit);
      this.#jitter += (d - this.#jitter) / 16;
    }
    this.#lastTransit = transit;
    this.#smoothed = this.#smoothed === undefined
      ? transit
      : this.#smoothed + (transit - this.#smoothed) / 8;
    if (nowMs - this.#minAt >= 5000) {
      this.#previousMin = this.#min;
      this.#min = transit;
      this.#minAt = nowMs;
    } else if (transit < this.#min) this.#min = transit;
  }
}
