/**
 * Stop-and-wait requests over UDP: send datagrams, wait for one reply, send
 * again after a timeout. Both classic clients are built on it.
 *
 * @module
 */

import { sleep } from "../_sleep.ts";
import type { DatagramBatch, DatagramSocket, Endpoint } from "../net/types.ts";

/**
 * Thrown when no reply came after the last retry.
 *
 * @example Catching a timeout
 * ```ts
 * import { ReplyTimeoutError } from "./requester.ts";
 * const error = new ReplyTimeoutError({ hostname: "127.0.0.1", port: 9999 }, 3, 1000);
 * console.log(error.message);
 * ```
 */
export class ReplyTimeoutError extends Error {
  /** Who did not answer. */
  readonly peer: Endpoint;
  /** How many times the request was sent. */
  readonly attempts: number;
  /** How long each attempt waited, in ms. */
  readonly timeoutMs: number;

  /**
   * Makes the error for a request that went unanswered.
   *
   * @param peer Who did not answer.
   * @param attempts How many times the request was sent.
   * @param timeoutMs How long each attempt waited.
   */
  constructor(peer: Endpoint, attempts: number, timeoutMs: number) {
    super(
      `No reply from ${peer.hostname}:${peer.port} after ${attempts} ${
        attempts === 1 ? "try" : "tries"
      } of ${timeoutMs} ms: is the server running there?`,
    );
    this.name = "ReplyTimeoutError";
    this.peer = peer;
    this.attempts = attempts;
    this.timeoutMs = timeoutMs;
  }
}

/** Options for {@linkcode Requester.request}. */
export interface RequestOptions {
  /** How long to wait for a reply, in ms. `Infinity` waits forever, as the tutorial does. */
  timeoutMs: number;
  /** How many times to send again when no reply comes. */
  retries: number;
  /** Stops waiting: the request rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * Sends at most this many datagrams back to back, then pauses a
   * millisecond, for receivers with small buffers, such as the tutorial's
   * server. 0 sends them all at once.
   *
   * @default {0}
   */
  burst?: number;
}

const decoder = new TextDecoder();

/**
 * Sends requests to one peer and waits for each reply in turn.
 *
 * Replies from other addresses are ignored. The classic protocol has no
 * sequence numbers: a reply that arrives between requests is dropped as
 * stale, but a late reply to an earlier attempt that arrives while a request
 * waits counts as its reply.
 *
 * @example Asking once
 * ```ts ignore
 * import { Requester } from "./requester.ts";
 * import { openDatagramSocket } from "../net/open.ts";
 *
 * const socket = await openDatagramSocket({ hostname: "0.0.0.0", port: 0 });
 * const requester = new Requester(socket, { hostname: "127.0.0.1", port: 6666 });
 * const reply = await requester.request([new TextEncoder().encode("[0,0,0,1]")], { timeoutMs: 1000, retries: 2 });
 * console.log(reply);
 * socket.close();
 * ```
 */
export class Requester {
  readonly #socket: DatagramSocket;
  readonly #peer: Endpoint;
  readonly #peerIsLiteral: boolean;
  readonly #batch: DatagramBatch;
  #pending: { promise: Promise<number>; settled: boolean } | undefined;

  /**
   * Makes a requester that talks to `peer` over `socket`.
   *
   * @param socket A bound socket; the requester receives on it.
   * @param peer Where requests go and replies come from: resolve a host name
   * first, so that replies can be matched by address.
   */
  constructor(socket: DatagramSocket, peer: Endpoint) {
    this.#socket = socket;
    this.#peer = peer;
    this.#peerIsLiteral = /^[\d.]+$|:/.test(peer.hostname);
    this.#batch = socket.createBatch();
  }

  /** Where requests go. */
  get peer(): Endpoint {
    return this.#peer;
  }

  /**
   * Sends `datagrams` in order and waits for a reply, sending them again
   * after each timeout.
   *
   * @param datagrams The request.
   * @param options Timeout, retries and an abort signal.
   * @returns The reply, decoded as UTF-8.
   * @throws {ReplyTimeoutError} When no reply came after the last retry.
   */
  async request(
    datagrams: readonly Uint8Array[],
    options: RequestOptions,
  ): Promise<string> {
    options.signal?.throwIfAborted();
    // A reply that came in while nobody asked answers an earlier attempt.
    if (this.#pending?.settled) this.#pending = undefined;
    for (let attempt = 0; attempt <= options.retries; attempt++) {
      await this.#send(datagrams, options.burst ?? 0, options.signal);
      const reply = await this.#reply(options.timeoutMs, options.signal);
      if (reply !== undefined) return reply;
    }
    throw new ReplyTimeoutError(
      this.#peer,
      options.retries + 1,
      options.timeoutMs,
    );
  }

  async #send(
    datagrams: readonly Uint8Array[],
    burst: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (burst <= 0 || datagrams.length <= burst) {
      return await this.#socket.sendMany(datagrams, this.#peer);
    }
    for (let i = 0; i < datagrams.length; i += burst) {
      if (i > 0) await sleep(1, signal);
      signal?.throwIfAborted();
      await this.#socket.sendMany(datagrams.slice(i, i + burst), this.#peer);
    }
  }

  #receive(): Promise<number> {
    if (this.#pending === undefined) {
      const pending = {
        promise: this.#socket.receive(this.#batch),
        settled: false,
      };
      pending.promise.then(
        () => pending.settled = true,
        () => {
          // A failed receive is not kept: the next request tries again.
          if (this.#pending === pending) this.#pending = undefined;
        },
      );
      this.#pending = pending;
    }
    return this.#pending.promise;
  }

  async #reply(
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      const count = await wait(
        this.#receive(),
        deadline - performance.now(),
        signal,
      );
      if (count === undefined) return undefined;
      this.#pending = undefined;
      if (count === 0) {
        throw new Error("Cannot wait for a reply: the socket is closed");
      }
      for (let i = 0; i < count; i++) {
        const from = this.#batch.senders[i]!;
        if (
          from.port !== this.#peer.port ||
          (this.#peerIsLiteral && from.hostname !== this.#peer.hostname)
        ) {
          continue;
        }
        const offset = this.#batch.offsets[i]!;
        return decoder.decode(
          this.#batch.buffer.subarray(offset, offset + this.#batch.lengths[i]!),
        );
      }
    }
  }
}

/**
 * Waits for `promise` for at most `ms` milliseconds: `undefined` on timeout,
 * a rejection with the signal's reason on abort.
 */
function wait<T>(
  promise: Promise<T>,
  ms: number,
  signal: AbortSignal | undefined,
): Promise<T | undefined> {
  if (ms <= 0) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const timer = ms === Infinity
      ? undefined
      : setTimeout(() => settle(() => resolve(undefined)), ms);
    const onAbort = () => settle(() => reject(signal!.reason));
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => settle(() => resolve(value)),
      (error) => settle(() => reject(error)),
    );
    function settle(done: () => void): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      done();
    }
  });
}
