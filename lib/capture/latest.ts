/**
 * A one-value mailbox that keeps only the newest value: the hand-off between
 * a live source that must not block (a camera) and a consumer that may be
 * slow (a stop-and-wait sender).
 *
 * @module
 */

/**
 * Holds at most one value. {@linkcode LatestSlot.put} replaces a value that
 * nobody took yet and counts it as stale; {@linkcode LatestSlot.take} returns
 * the value or waits for the next one. There is never a queue, so a slow
 * consumer always gets the newest value, never a backlog.
 *
 * @typeParam T The value type; `undefined` is reserved for "ended".
 *
 * @example A slow consumer gets the newest value
 * ```ts
 * import { LatestSlot } from "./latest.ts";
 * import assert from "node:assert/strict";
 *
 * const slot = new LatestSlot<string>();
 * slot.put("frame 1");
 * slot.put("frame 2");
 * assert.equal(await slot.take(), "frame 2");
 * assert.equal(slot.stale, 1);
 * slot.end();
 * assert.equal(await slot.take(), undefined);
 * ```
 */
export class LatestSlot<T> {
  #value: T | undefined;
  #waiter:
    | { resolve(value: T | undefined): void; reject(error: unknown): void }
    | undefined;
  #ended = false;
  #error: { error: unknown } | undefined;
  #stale = 0;

  /**
   * Values replaced before anyone took them.
   *
   * @returns The number of dropped values.
   *
   * @example Usage
   * ```ts
   * import { LatestSlot } from "./latest.ts";
   * const slot = new LatestSlot<number>();
   * slot.put(1);
   * slot.put(2);
   * console.log(slot.stale); // 1
   * ```
   */
  get stale(): number {
    return this.#stale;
  }

  /**
   * Whether {@linkcode LatestSlot.end} was called.
   *
   * @returns True once ended.
   *
   * @example Usage
   * ```ts
   * import { LatestSlot } from "./latest.ts";
   * const slot = new LatestSlot<number>();
   * slot.end();
   * console.log(slot.ended); // true
   * ```
   */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Offers a value: hands it to a waiting {@linkcode LatestSlot.take}, or
   * keeps it in place of the value held (which counts as stale). Ignored
   * after {@linkcode LatestSlot.end}.
   *
   * @param value The newest value.
   *
   * @example Usage
   * ```ts
   * import { LatestSlot } from "./latest.ts";
   * const slot = new LatestSlot<number>();
   * const taken = slot.take();
   * slot.put(7);
   * console.log(await taken); // 7
   * ```
   */
  put(value: T): void {
    if (this.#ended) return;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.resolve(value);
      return;
    }
    if (this.#value !== undefined) this.#stale += 1;
    this.#value = value;
  }

  /**
   * Takes the held value, or waits for the next one. After
   * {@linkcode LatestSlot.end} it still returns a held value once, then
   * `undefined`, or rejects with the error passed to `end`.
   *
   * @returns The newest value not taken yet, or `undefined` once ended.
   * @throws {TypeError} When another `take` is still waiting.
   *
   * @example Usage
   * ```ts
   * import { LatestSlot } from "./latest.ts";
   * const slot = new LatestSlot<number>();
   * slot.put(1);
   * console.log(await slot.take()); // 1
   * ```
   */
  take(): Promise<T | undefined> {
    const value = this.#value;
    if (value !== undefined) {
      this.#value = undefined;
      return Promise.resolve(value);
    }
    if (this.#ended) {
      return this.#error === undefined
        ? Promise.resolve(undefined)
        : Promise.reject(this.#error.error);
    }
    if (this.#waiter !== undefined) {
      return Promise.reject(
        new TypeError(
          "Cannot take a value: another take() is still waiting for one",
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /**
   * Ends the slot: a waiting and every later {@linkcode LatestSlot.take}
   * (after the held value, if any) resolves with `undefined`, or rejects with
   * `error` when one is given. Only the first call counts.
   *
   * @param error Why the source ended, if it failed.
   *
   * @example Ending with an error
   * ```ts
   * import { LatestSlot } from "./latest.ts";
   * const slot = new LatestSlot<number>();
   * slot.end(new Error("Camera unplugged"));
   * await slot.take().catch((error) => console.log(error.message));
   * ```
   */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error !== undefined) this.#error = { error };
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    this.#waiter = undefined;
    if (error === undefined) waiter.resolve(undefined);
    else waiter.reject(error);
  }

  /**
   * Drops the held value, if any, without counting it as stale.
   *
   * @example Usage
   * ```ts
   * import { LatestSlot } from "./latest.ts";
   * const slot = new LatestSlot<number>();
   * slot.put(1);
   * slot.clear();
   * slot.end();
   * console.log(await slot.take()); // undefined
   * ```
   */
  clear(): void {
    this.#value = undefined;
  }
}
