/**
 * Counting what was given up on, by reason: one counter that every protocol
 * and the server use, so that totals and breakdowns always agree.
 *
 * @module
 */

/**
 * Counts drops by reason. The reasons given at construction always appear
 * in {@linkcode DropCounter.byReason}, at zero until counted; others are
 * added when first counted.
 *
 * @typeParam R The reasons.
 *
 * @example Counting two kinds of drop
 * ```ts
 * import { DropCounter } from "./drop_counter.ts";
 *
 * const drops = new DropCounter(["lost", "late"]);
 * drops.count("lost");
 * drops.count("late", 2);
 * console.log(drops.total, drops.byReason); // 3 { lost: 1, late: 2 }
 * ```
 */
export class DropCounter<R extends string = string> {
  #total = 0;
  readonly #byReason: Record<R, number>;

  /**
   * Makes a counter at zero.
   *
   * @param reasons The reasons reported even when none was counted, in the
   * order they are reported.
   */
  constructor(reasons: readonly R[] = []) {
    this.#byReason = Object.fromEntries(reasons.map((r) => [r, 0])) as Record<
      R,
      number
    >;
  }

  /** Drops counted, all reasons. */
  get total(): number {
    return this.#total;
  }

  /** Drops by reason. The object is live: it changes as drops are counted. */
  get byReason(): Readonly<Record<R, number>> {
    return this.#byReason;
  }

  /**
   * Counts `n` drops for `reason`.
   *
   * @param reason Why.
   * @param n How many.
   */
  count(reason: R, n = 1): void {
    this.#total += n;
    this.#byReason[reason] = (this.#byReason[reason] ?? 0) + n;
  }

  /**
   * The count for one reason.
   *
   * @param reason The reason.
   * @returns How many were counted for it.
   */
  of(reason: R): number {
    return this.#byReason[reason] ?? 0;
  }
}
