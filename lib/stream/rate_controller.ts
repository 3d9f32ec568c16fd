/**
 * Rate control from the receiver's reports: back off on queueing delay or
 * on loss above the path's usual loss, probe upward otherwise — fast until
 * the first sign of congestion, gently after it. Random loss (Wi-Fi, a
 * lossy relay) is told from congestion by comparing each interval's loss
 * with the median of the recent ones, so that it does not throttle the
 * stream the way it throttles TCP.
 *
 * @module
 */

/** What one report interval showed. */
export interface RateSample {
  /** Datagrams lost in the interval, 0 to 1. */
  lossFraction: number;
  /** The receiver's queueing delay, in ms. */
  queueingDelayMs: number;
  /** The smallest RTT lately, in ms. */
  minRttMs: number;
  /** Bytes a second the receiver got in the interval, if known. */
  receiveRate: number | undefined;
  /** Whether the pacer held datagrams back in the interval (not app-limited). */
  backlogged: boolean;
  /** Whether the receiving program skipped frames: it cannot keep up. */
  overrun?: boolean;
  /**
   * Whole frames waiting in the receiving program to be decoded or taken,
   * if known. A queue that stays long and does not shrink is an overrun
   * too; one that is long but shrinking holds the rate.
   */
  backlogFrames?: number;
  /**
   * Bytes a second of frames the receiving program took in the interval
   * (its decode rate, when it had frames waiting), if known: what an
   * overrun backs off to.
   */
  drainRate?: number;
}

/** Options for {@linkcode RateController}. */
export interface RateControllerOptions {
  /** The starting rate, bytes a second. @default {12500000} (100 Mbit/s) */
  initialRate?: number;
  /** The least rate, bytes a second. @default {62500} (500 kbit/s) */
  minRate?: number;
  /** The most rate, bytes a second. @default {1250000000} (10 Gbit/s) */
  maxRate?: number;
}

/** Loss above the recent median by this much is congestion. */
const LOSS_MARGIN = 0.1;
/**
 * More frames than this waiting in the receiving program is a queue: two
 * keep a decoder's two handles busy, a few more absorb its jitter. In the
 * first climb, half as many end it.
 */
const BACKLOG_FRAMES = 8;
/** So many waiting is an overrun at once: the server skips at 32. */
const BACKLOG_LIMIT = 16;
/** An overrun backs off to this share of the receiving program's rate. */
const DRAIN_SHARE = 0.95;

/**
 * Adapts a sending rate to the receiver's reports.
 *
 * @example Backing off on queueing delay
 * ```ts
 * import { RateController } from "./rate_controller.ts";
 * const rate = new RateController({ initialRate: 1_000_000 });
 * rate.onSample(0, { lossFraction: 0, queueingDelayMs: 50, minRttMs: 10, receiveRate: 900_000, backlogged: true });
 * console.log(rate.rate); // 850000
 * ```
 */
export class RateController {
  #rate: number;
  readonly #min: number;
  readonly #max: number;
  #startup = true;
  #lastDecrease = -Infinity;
  #lastBacklog = 0;
  #lastSample: number | undefined;
  /** The receiving program's rate, smoothed over intervals it was busy. */
  #drain: number | undefined;
  readonly #losses: number[] = [];
  /** Times the rate was lowered. */
  decreases = 0;

  /**
   * Makes a controller at its starting rate.
   *
   * @param options Starting, least and most rate.
   */
  constructor(options: RateControllerOptions = {}) {
    this.#min = options.minRate ?? 62_500;
    this.#max = options.maxRate ?? 1_250_000_000;
    this.#rate = Math.min(
      this.#max,
      Math.max(this.#min, options.initialRate ?? 12_500_000),
    );
  }

  /** The rate, bytes a second. */
  get rate(): number {
    return this.#rate;
  }

  /** Whether it is still in its first, fast climb. */
  get startup(): boolean {
    return this.#startup;
  }

  /**
   * Takes one report interval.
   *
   * @param now The time, in ms.
   * @param sample What the interval showed.
   */
  onSample(now: number, sample: RateSample): void {
    const losses = this.#losses;
    const usual = median(losses);
    losses.push(sample.lossFraction);
    if (losses.length > 20) losses.shift();
    const delayed = sample.queueingDelayMs > Math.max(5, sample.minRttMs / 4);
    const lossy = sample.lossFraction > 0.02 &&
      sample.lossFraction > usual + LOSS_MARGIN;
    // After the first climb the rate grows with time, whatever the report
    // interval; in it, a step per report.
    const step = this.#lastSample === undefined
      ? 1
      : Math.min(1, Math.max(0, now - this.#lastSample) / 100);
    this.#lastSample = now;
    const backlog = sample.backlogFrames ?? 0;
    const previousBacklog = this.#lastBacklog;
    this.#lastBacklog = backlog;
    // One report of a long queue may be the decoder's jitter (a core taken
    // for a moment); two in a row that do not shrink are not.
    const queued = backlog > BACKLOG_LIMIT ||
      (backlog > BACKLOG_FRAMES && previousBacklog > BACKLOG_FRAMES &&
        backlog >= previousBacklog);
    const overrun = sample.overrun === true || queued;
    // One interval's count is coarse (a few frames in 25 to 100 ms), so an
    // overrun backs off to the smoothed rate unless this one was higher.
    let drain = sample.drainRate;
    if (drain !== undefined && backlog > 1) {
      this.#drain = this.#drain === undefined
        ? drain
        : this.#drain + (drain - this.#drain) / 4;
      drain = Math.max(drain, this.#drain);
    } else {
      // With no queue to measure by, one short interval's count may be
      // near 0: only the smoothed rate, when there is one, says anything.
      drain = this.#drain;
    }
    if (delayed || lossy || overrun) {
      // Once per RTT at most: the reports of one episode say it again.
      if (now - this.#lastDecrease < Math.max(sample.minRttMs, 50)) return;
      this.#lastDecrease = now;
      this.#startup = false;
      this.decreases++;
      let next = this.#rate * 0.85;
      if (overrun && !delayed && !lossy && drain !== undefined) {
        // The receiving program, not the path, is the bottleneck: just
        // under the rate it takes frames at, its queue drains.
        next = Math.min(
          this.#rate,
          Math.max(this.#rate * 0.5, drain * DRAIN_SHARE),
        );
      } else {
        // A sender that filled the path learns its capacity from what
        // came; one that sends a camera's frames in bursts does not (its
        // average rate says nothing of what a burst may be paced at).
        const received = sample.receiveRate ?? 0;
        if (received > this.#rate * 0.5) {
          next = Math.min(next, received * 0.95);
        }
      }
      this.#rate = Math.max(this.#min, next);
      return;
    }
    if (backlog > BACKLOG_FRAMES / 2) this.#startup = false;
    // A queue that is draining: more would only refill it.
    if (!sample.backlogged || backlog > BACKLOG_FRAMES) return;
    this.#rate = Math.min(
      this.#max,
      this.#startup ? this.#rate * 1.5 + 1250 : this.#rate * 1.05 ** step +
        1250 * step,
    );
  }
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}
