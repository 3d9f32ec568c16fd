/**
 * Pacing a frame's packets: a receiver that gets a whole frame back to
 * back may overflow its socket buffer and lose it (GStreamer's `udpsrc`
 * loses most frames of a flood), so a sender spreads each frame's packets
 * over the frame interval in small bursts, and may cap its bit rate.
 *
 * @module
 */

/** Options for {@linkcode burstSchedule}. */
export interface BurstScheduleOptions {
  /**
   * The time to spread the frame over, in ms: most of the frame interval.
   * 0 sends the bursts back to back unless a rate is set.
   */
  spreadMs: number;
  /** Packets per burst, at most, while the spread allows. @default {8} */
  burstPackets?: number;
  /** A cap on the rate, in bits per second; 0 for none. @default {0} */
  rateBitsPerSecond?: number;
  /**
   * The shortest time between bursts, in ms: a timer cannot wait much less
   * than a millisecond, so when the spread is short the bursts grow instead.
   *
   * @default {1}
   */
  minIntervalMs?: number;
}

/** One burst: packets `start` to `end` (exclusive), sent `atMs` after the first. */
export interface Burst {
  /** The first packet. */
  readonly start: number;
  /** Past the last packet. */
  readonly end: number;
  /** When to send it, in ms from the frame's first burst. */
  readonly atMs: number;
}

/**
 * Cuts a frame's packets into bursts spread evenly over `spreadMs`, at
 * least `minIntervalMs` apart, and no faster than the rate cap allows.
 *
 * @param lengths Each packet's length in bytes.
 * @param options The spread, burst size and rate cap.
 * @returns The bursts, in order.
 *
 * @example 20 packets over 10 ms in bursts of 8
 * ```ts
 * import { burstSchedule } from "./pacing.ts";
 * const bursts = burstSchedule(new Array(20).fill(1400), { spreadMs: 10 });
 * console.log(bursts.map((b) => b.atMs.toFixed(1))); // [ "0.0", "3.3", "6.7" ]
 * ```
 */
export function burstSchedule(
  lengths: readonly number[],
  options: BurstScheduleOptions,
): Burst[] {
  const rate = options.rateBitsPerSecond ?? 0;
  const spread = Math.max(0, options.spreadMs);
  const minInterval = Math.max(0.001, options.minIntervalMs ?? 1);
  const count = Math.min(
    Math.ceil(
      lengths.length / Math.max(1, Math.floor(options.burstPackets ?? 8)),
    ),
    // A rate cap paces the bursts itself; then keep them small.
    rate > 0 ? Infinity : Math.max(1, Math.floor(spread / minInterval)),
  );
  const size = Math.ceil(lengths.length / Math.max(1, count));
  const step = count > 0 ? spread / count : 0;
  const bursts: Burst[] = [];
  let at = 0;
  for (let start = 0; start < lengths.length; start += size) {
    const end = Math.min(lengths.length, start + size);
    bursts.push({ start, end, atMs: at });
    let bytes = 0;
    for (let i = start; i < end; i++) bytes += lengths[i]!;
    at += Math.max(step, rate > 0 ? (bytes * 8 * 1000) / rate : 0);
  }
  return bursts;
}
