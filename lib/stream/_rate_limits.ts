/**
 * Rate limits per source for what a keyed end says about datagrams it
 * could not authenticate: the log line (the first failure from a source,
 * then at most one a minute with the count since), and the unsealed hints
 * a receiver sends back (a few a second per source, and a cap over all of
 * them, so that spoofed sources cannot turn the server into a reflector).
 *
 * @module
 */

/** Sources remembered; past it the table starts afresh. */
const MAX_SOURCES = 1024;

/**
 * Counts authentication failures per source and says when to log them.
 *
 * @example The first failure is logged, the next ones a minute later
 * ```ts
 * import { AuthFailureLog } from "./_rate_limits.ts";
 * const log = new AuthFailureLog();
 * console.log(log.fail(0, "192.0.2.1:5000")); // 1 datagram from 192.0.2.1:5000 failed authentication, wrong key?
 * console.log(log.fail(10, "192.0.2.1:5000")); // undefined
 * console.log(log.fail(60_000, "192.0.2.1:5000")); // 2 datagrams from 192.0.2.1:5000 failed authentication, wrong key?
 * ```
 */
export class AuthFailureLog {
  readonly #sources = new Map<string, { count: number; nextAt: number }>();
  readonly #intervalMs: number;

  /**
   * Makes an empty log.
   *
   * @param intervalMs The least time between two lines for one source.
   */
  constructor(intervalMs = 60_000) {
    this.#intervalMs = intervalMs;
  }

  /**
   * Counts one failure.
   *
   * @param now The time, in ms.
   * @param source The source, `host:port`.
   * @returns The line to log now, or `undefined`.
   */
  fail(now: number, source: string): string | undefined {
    let entry = this.#sources.get(source);
    if (entry === undefined) {
      if (this.#sources.size >= MAX_SOURCES) this.#sources.clear();
      entry = { count: 0, nextAt: -Infinity };
      this.#sources.set(source, entry);
    }
    entry.count++;
    if (now < entry.nextAt) return undefined;
    const count = entry.count;
    entry.count = 0;
    entry.nextAt = now + this.#intervalMs;
    return `${count} datagram${
      count === 1 ? "" : "s"
    } from ${source} failed authentication, wrong key?`;
  }
}

/**
 * Allows a reply to a source at most every `intervalMs`, and at most
 * `maxPerSecond` over all sources.
 *
 * @example Two replies to one source, close together
 * ```ts
 * import { ReplyLimiter } from "./_rate_limits.ts";
 * const limiter = new ReplyLimiter();
 * console.log(limiter.allow(0, "192.0.2.1:5000"), limiter.allow(1, "192.0.2.1:5000")); // true false
 * ```
 */
export class ReplyLimiter {
  readonly #lastAt = new Map<string, number>();
  readonly #intervalMs: number;
  readonly #maxPerSecond: number;
  #second = -Infinity;
  #inSecond = 0;

  /**
   * Makes a limiter.
   *
   * @param intervalMs The least time between two replies to one source.
   * @param maxPerSecond Replies a second over all sources.
   */
  constructor(intervalMs = 250, maxPerSecond = 32) {
    this.#intervalMs = intervalMs;
    this.#maxPerSecond = maxPerSecond;
  }

  /**
   * Whether a reply to `source` may go now; if so, it is counted.
   *
   * @param now The time, in ms.
   * @param source The source, `host:port`.
   * @returns Whether to reply.
   */
  allow(now: number, source: string): boolean {
    if (now - this.#second >= 1000) {
      this.#second = now;
      this.#inSecond = 0;
    }
    if (this.#inSecond >= this.#maxPerSecond) return false;
    const last = this.#lastAt.get(source);
    if (last !== undefined && now - last < this.#intervalMs) return false;
    if (last === undefined && this.#lastAt.size >= MAX_SOURCES) {
      this.#lastAt.clear();
    }
    this.#lastAt.set(source, now);
    this.#inSecond++;
    return true;
  }
}
