/**
 * A first-in first-out queue whose take is O(1): arrays' `shift` copies
 * the rest, which costs dearly for the thousands of datagrams a fast
 * stream queues at once.
 *
 * @module
 */

/** A FIFO queue. */
export class Queue<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** Items queued. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Adds an item at the end. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** The first item, left in place. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** The item before the last one pushed, or `undefined`. */
  last(): T | undefined {
    return this.length > 0 ? this.#items[this.#items.length - 1] : undefined;
  }

  /** Replaces the last item. */
  replaceLast(item: T): void {
    this.#items[this.#items.length - 1] = item;
  }

  /** Takes the first item. */
  shift(): T | undefined {
    const items = this.#items;
    if (this.#head >= items.length) return undefined;
    const item = items[this.#head];
    items[this.#head++] = undefined;
    if (this.#head === items.length) {
      items.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}
