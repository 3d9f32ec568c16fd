/**
 * Per-sender state with a bound: the table that every protocol keeps its
 * senders (or streams) in, so that a peer that keeps changing its source
 * port or stream id cannot grow memory.
 *
 * @module
 */

/** Options for {@linkcode SenderTable}. */
export interface SenderTableOptions<V> {
  /**
   * How many entries the table holds. Adding one more evicts the least
   * recently used.
   */
  maxEntries: number;
  /**
   * Called with each entry the table evicts to make room (not with entries
   * removed by {@linkcode SenderTable.delete}).
   */
  onEvict?: (key: string, value: V) => void;
}

/**
 * A map from a sender's key to its state that holds at most `maxEntries`,
 * evicting the least recently used. Lookups, insertions and evictions are
 * O(1): the order is the map's own insertion order, renewed on each
 * {@linkcode SenderTable.get} and {@linkcode SenderTable.set}.
 *
 * @typeParam V The state kept per sender.
 *
 * @example Evicting the least recently used sender
 * ```ts
 * import { SenderTable } from "./sender_table.ts";
 *
 * const evicted: string[] = [];
 * const table = new SenderTable<number>({
 *   maxEntries: 2,
 *   onEvict: (key) => evicted.push(key),
 * });
 * table.set("a", 1);
 * table.set("b", 2);
 * table.get("a"); // "a" is now the most recently used
 * table.set("c", 3);
 * console.log(evicted); // ["b"]
 * ```
 */
export class SenderTable<V> implements Iterable<[string, V]> {
  readonly #entries = new Map<string, V>();
  readonly #maxEntries: number;
  readonly #onEvict: ((key: string, value: V) => void) | undefined;
  // The last key set or moved to the end. While it is in the map it is the
  // last entry (removals never touch the last but by removing it), so a get
  // of it, the common case of a run of datagrams from one sender, needs no
  // reordering.
  #newest: string | undefined;

  /**
   * Makes an empty table.
   *
   * @param options The bound, and what to do with evicted entries.
   */
  constructor(options: SenderTableOptions<V>) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new RangeError(
        `maxEntries must be a positive integer, got ${options.maxEntries}`,
      );
    }
    this.#maxEntries = options.maxEntries;
    this.#onEvict = options.onEvict;
  }

  /** How many entries the table holds. */
  get size(): number {
    return this.#entries.size;
  }

  /** The bound given at construction. */
  get maxEntries(): number {
    return this.#maxEntries;
  }

  /**
   * The state of `key`, which becomes the most recently used.
   *
   * @param key The sender's key.
   * @returns Its state, or `undefined`.
   */
  get(key: string): V | undefined {
    const entries = this.#entries;
    const value = entries.get(key);
    if (value !== undefined && key !== this.#newest) {
      entries.delete(key);
      entries.set(key, value);
      this.#newest = key;
    }
    return value;
  }

  /**
   * The state of `key`, without changing the order.
   *
   * @param key The sender's key.
   * @returns Its state, or `undefined`.
   */
  peek(key: string): V | undefined {
    return this.#entries.get(key);
  }

  /**
   * Stores the state of `key` as the most recently used, evicting the least
   * recently used entry when the table is full.
   *
   * @param key The sender's key.
   * @param value Its state.
   */
  set(key: string, value: V): void {
    const entries = this.#entries;
    if (!entries.delete(key) && entries.size >= this.#maxEntries) {
      this.evictOldest();
    }
    entries.set(key, value);
    this.#newest = key;
  }

  /**
   * Removes `key`, without calling `onEvict`.
   *
   * @param key The sender's key.
   * @returns Whether it was there.
   */
  delete(key: string): boolean {
    return this.#entries.delete(key);
  }

  /**
   * The least recently used entry, without changing the order.
   *
   * @returns The key and state, or `undefined` when empty.
   */
  oldest(): [string, V] | undefined {
    const first = this.#entries.entries().next();
    return first.done ? undefined : first.value;
  }

  /**
   * Evicts the least recently used entry, calling `onEvict`.
   *
   * @returns The evicted key and state, or `undefined` when empty.
   */
  evictOldest(): [string, V] | undefined {
    const oldest = this.oldest();
    if (oldest === undefined) return undefined;
    this.#entries.delete(oldest[0]);
    this.#onEvict?.(oldest[0], oldest[1]);
    return oldest;
  }

  /** Removes every entry, without calling `onEvict`. */
  clear(): void {
    this.#entries.clear();
  }

  /** The states, least recently used first. */
  values(): IterableIterator<V> {
    return this.#entries.values();
  }

  /** The keys and states, least recently used first. */
  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.#entries.entries();
  }
}
