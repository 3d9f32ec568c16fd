/**
 * Stop-and-wait requests over UDP: send datagrams, wait for one reply, send
 * again after a timeout. Both classic clients are built on it.
 *
 * @module
 */

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
}

const decoder = new TextDecoder();

/**
 * Sends requests to one peer and waits for each reply in turn.
 *
 * Replies from other addresses are ignored. The classic protocol has no
 * sequence numbers, so a late reply to an earlier attempt counts as the
 * reply to the current one.
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
  readonly #batch: DatagramBatch;
  #pending: Promise<number> | undefined;

  /**
   * @param socket A bound socket; the requester receives on it.
   * @param peer Where requests go and replies come from.
   */
  constructor(socket: DatagramSocket, peer: Endpoint) {
    this.#socket = socket;
    this.#peer = peer;
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
   * @param options Timeout and retries.
   * @returns The reply, decoded as UTF-8.
   */
  async request(
    datagrams: readonly Uint8Array[],
    options: RequestOptions,
  ): Promise<string> {
    for (let attempt = 0; attempt <= options.retries; attempt++) {
      await this.#socket.sendMany(datagrams, this.#peer);
      const reply = await this.#reply(options.timeoutMs);
      if (reply !== undefined) return reply;
    }
    throw new ReplyTimeoutError(
      this.#peer,
      options.retries + 1,
      options.timeoutMs,
    );
  }

  async #reply(timeoutMs: number): Promise<string | undefined> {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      this.#pending ??= this.#socket.receive(this.#batch);
      const count = await withTimeout(
        this.#pending,
        deadline - performance.now(),
      );
      if (count === undefined) return undefined;
      this.#pending = undefined;
      if (count === 0) {
        throw new Error("Cannot wait for a reply: the socket is closed");
      }
      for (let i = 0; i < count; i++) {
        const from = this.#batch.senders[i]!;
        if (from.port !== this.#peer.port) continue;
        const offset = this.#batch.offsets[i]!;
        return decoder.decode(
          this.#batch.buffer.subarray(offset, offset + this.#batch.lengths[i]!),
        );
      }
    }
  }
}

function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | undefined> {
  if (ms === Infinity) return promise;
  if (ms <= 0) return Promise.resolve(undefined);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
