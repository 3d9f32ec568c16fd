/**
 * Pacing frames at a rate: each frame is due one interval after the last
 * one was. A frame a little late keeps the schedule, so that the rate holds
 * on average; a sender a whole interval or more behind (a slow spell, a
 * server away for a while) starts again from now, at the rate, instead of
 * sending a burst to catch up.
 *
 * @module
 */

import { sleep } from "./_sleep.ts";

/**
 * Hands out frame times at a fixed rate, never in a burst.
 *
 * @example Three frames at 100 fps
 * ```ts
 * import { FrameClock } from "./frame_clock.ts";
 *
 * const clock = new FrameClock(100);
 * for (let i = 0; i < 3; i++) await clock.wait();
 * ```
 */
export class FrameClock {
  readonly #intervalMs: number;
  #due: number | undefined;

  /**
   * Makes a clock whose first frame is due at once.
   *
   * @param fps Frames a second; more than 0.
   */
  constructor(fps: number) {
    if (!(fps > 0) || !Number.isFinite(fps)) {
      throw new RangeError(
        `Frames a second must be a positive number, got ${fps}`,
      );
    }
    this.#intervalMs = 1000 / fps;
  }

  /**
   * Waits until the next frame is due.
   *
   * @param signal Ends the wait early; check `signal.aborted` afterwards.
   * @returns When the frame is due, or the signal aborted.
   */
  async wait(signal?: AbortSignal): Promise<void> {
    const delay = this.take(performance.now());
    if (delay > 0) await sleep(delay, signal);
  }

  /**
   * Takes the next frame's time: how long after `now` it is due, and the
   * clock moves on to the one after.
   *
   * @param now The time, in ms.
   * @returns The wait in ms, 0 when the frame is due already.
   *
   * @example A stall, then no burst
   * ```ts
   * import { FrameClock } from "./frame_clock.ts";
   *
   * const clock = new FrameClock(10);
   * console.log(clock.take(0), clock.take(0)); // 0 100
   * console.log(clock.take(500), clock.take(500)); // 0 100
   * ```
   */
  take(now: number): number {
    const due = this.#next(now);
    this.#due = due + this.#intervalMs;
    return Math.max(0, due - now);
  }

  /**
   * When the next frame is due: on schedule, even if that was a moment ago,
   * so that the rate holds on average; but a frame a whole interval late or
   * more starts the schedule again from now, so that no burst follows.
   */
  #next(now: number): number {
    const due = this.#due ?? now;
    return now - due >= this.#intervalMs ? now : due;
  }

  /**
   * Whether the next frame is due now, without waiting; when it is, the
   * clock moves on to the one after.
   *
   * @returns `true` when due.
   *
   * @example Something once a second, checked as often as convenient
   * ```ts
   * import { FrameClock } from "./frame_clock.ts";
   *
   * const everySecond = new FrameClock(1);
   * console.log(everySecond.due(), everySecond.due()); // true false
   * ```
   */
  due(): boolean {
    const now = performance.now();
    const due = this.#next(now);
    if (due > now) return false;
    this.#due = due + this.#intervalMs;
    return true;
  }
}
