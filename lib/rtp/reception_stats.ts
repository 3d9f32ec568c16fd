/**
 * Reception statistics of one RTP source, as a receiver report states
 * them: extended highest sequence number, packets lost in all and since
 * the last report, and interarrival jitter ([RFC 3550 Appendix A.3 and
 * A.8](https://www.rfc-editor.org/rfc/rfc3550#appendix-A.3)).
 *
 * @module
 */

import { sequenceDelta } from "./packet.ts";
import type { ReportBlock } from "./rtcp.ts";

/**
 * Counts one source's packets for receiver reports.
 *
 * @example Two packets with one lost between them
 * ```ts
 * import { ReceptionStats } from "./reception_stats.ts";
 * const stats = new ReceptionStats(65535);
 * stats.record(65535, 0, 0, 90);
 * stats.record(1, 0, 10, 90);
 * const block = stats.report(7, 0, 0);
 * console.log(block.highestSequence, block.cumulativeLost); // 65537 1
 * ```
 */
export class ReceptionStats {
  #base: number;
  #max: number;
  #cycles = 0;
  #received = 0;
  #expectedPrior = 0;
  #receivedPrior = 0;
  #transit: number | undefined;
  #jitter = 0;

  /**
   * Starts counting at a source's first packet.
   *
   * @param firstSequence Its sequence number.
   */
  constructor(firstSequence: number) {
    this.#base = firstSequence;
    this.#max = firstSequence;
  }

  /** Packets received. */
  get received(): number {
    return this.#received;
  }

  /** The extended highest sequence number received. */
  get extendedMax(): number {
    return this.#cycles + this.#max;
  }

  /** Packets expected from the first to the highest sequence number. */
  get expected(): number {
    return this.extendedMax - this.#base + 1;
  }

  /** Packets never received (negative after duplicates). */
  get lost(): number {
    return this.expected - this.#received;
  }

  /**
   * Records one packet.
   *
   * @param sequence Its sequence number.
   * @param timestamp Its RTP timestamp.
   * @param arrivalMs When it arrived, in ms.
   * @param unitsPerMs The media clock's units per ms (90 for video).
   */
  record(
    sequence: number,
    timestamp: number,
    arrivalMs: number,
    unitsPerMs: number,
  ): void {
    this.#received++;
    const delta = sequenceDelta(sequence, this.#max);
    if (delta > 0) {
      if (sequence < this.#max) this.#cycles += 65536;
      this.#max = sequence;
    }
    const transit = Math.round(arrivalMs * unitsPerMs) - timestamp;
    if (this.#transit !== undefined) {
      const d = Math.abs((transit - this.#transit) | 0);
      this.#jitter += (d - this.#jitter) / 16;
    }
    this.#transit = transit;
  }

  /**
   * A report block for this source, which starts a new reporting interval
   * for the fraction lost.
   *
   * @param ssrc The source.
   * @param lastSr The middle 32 bits of its last SR's NTP time, or 0.
   * @param delaySinceLastSr Time since that SR arrived, in 1/65536 s, or 0.
   * @returns The block.
   */
  report(ssrc: number, lastSr: number, delaySinceLastSr: number): ReportBlock {
    const expected = this.expected;
    const expectedInterval = expected - this.#expectedPrior;
    const receivedInterval = this.#received - this.#receivedPrior;
    this.#expectedPrior = expected;
    this.#receivedPrior = this.#received;
    const lostInterval = expectedInterval - receivedInterval;
    const fractionLost = expectedInterval <= 0 || lostInterval <= 0
      ? 0
      : Math.floor((lostInterval * 256) / expectedInterval);
    const lost = Math.max(-0x800000, Math.min(0x7fffff, this.lost));
    return {
      ssrc,
      fractionLost: Math.min(255, fractionLost),
      cumulativeLost: lost,
      highestSequence: this.extendedMax >>> 0,
      jitter: Math.floor(this.#jitter) >>> 0,
      lastSr,
      delaySinceLastSr,
    };
  }
}
