/**
 * The stream protocol's client: a thin driver that owns the socket and the
 * timer of a {@linkcode StreamSender}, so that a program can stream frames
 * and send messages in-process.
 *
 * @module
 */

import { DEFAULT_HOST, DEFAULT_IMAGE_PORT } from "../classic/constants.ts";
import { ReplyTimeoutError } from "../classic/requester.ts";
import { SendError } from "../net/errors.ts";
import { openClientSocket } from "../net/open.ts";
import { receiveLoop } from "../net/receive_loop.ts";
import type { DatagramSocket, Endpoint } from "../net/types.ts";
import {
  StreamSender,
  type StreamSenderOptions,
  type StreamSenderStats,
} from "./sender.ts";

/** Options for {@linkcode StreamClient.connect}. */
export interface StreamClientOptions
  extends Omit<StreamSenderOptions, "peer" | "wallClockOrigin"> {
  /** The server's address. @default {"127.0.0.1"} */
  hostname?: string;
  /** The server's image port. @default {9999} */
  port?: number;
  /** The local address to bind. @default the wildcard of the server's family */
  bindHostname?: string;
  /** Which datagram layer to use. @default {"auto"} */
  socketImplementation?: "auto" | "native" | "deno";
  /** With `multicast` to a group: the TTL of its datagrams. @default {1} */
  multicastTtl?: number;
  /** With `multicast`: the local address of the interface to send by. */
  multicastInterface?: string;
  /**
   * Called with lines the user should see: a smaller datagram size, a key
   * mismatch, feedback that failed authentication.
   */
  onNotice?: (text: string) => void;
  /** Called when a datagram cannot be sent or received; the client carries on. */
  onError?: (error: Error) => void;
}

const encoder = new TextEncoder();

/**
 * Streams frames to a server over the stream protocol, open loop.
 *
 * @example Streaming ten frames of a file
 * ```ts ignore
 * import { StreamClient } from "./client.ts";
 *
 * await using client = await StreamClient.connect({ port: 9999, fec: 8 });
 * const photo = await Deno.readFile("photo.jpg");
 * for (let i = 0; i < 10; i++) {
 *   await client.ready();
 *   client.send(photo);
 * }
 * console.log(await client.sendMessage({ hello: "world" })); // "get the msg"
 * await client.close();
 * console.log(client.stats.retransmitted);
 * ```
 */
export class StreamClient implements AsyncDisposable {
  readonly #socket: DatagramSocket;
  readonly #peer: Endpoint;
  readonly #sender: StreamSender;
  readonly #onNotice: ((text: string) => void) | undefined;
  readonly #onError: (error: Error) => void;
  readonly #receiving: Promise<void>;
  readonly #messages = new Map<
    number,
    { resolve: (reply: string) => void; reject: (error: Error) => void }
  >();
  readonly #readyWaiters: (() => void)[] = [];
  readonly #messageTimeoutMs: number;
  #closedWaiters: ((delivered: boolean) => void)[] = [];
  #delivered: boolean | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDue = Infinity;
  #closed = false;

  private constructor(
    socket: DatagramSocket,
    peer: Endpoint,
    options: StreamClientOptions,
  ) {
    this.#socket = socket;
    this.#peer = peer;
    this.#messageTimeoutMs = options.messageTimeoutMs ?? 2000;
    this.#sender = new StreamSender({ ...options, peer });
    this.#onNotice = options.onNotice;
    this.#onError = options.onError ?? (() => {});
    this.#receiving = this.#receive();
    this.#pump();
  }

  /**
   * Binds a local socket and starts a stream toward the server.
   *
   * @param options The server, and the sender's options.
   * @returns A client.
   */
  static async connect(
    options: StreamClientOptions = {},
  ): Promise<StreamClient> {
    // Check the options before a socket is opened.
    new StreamSender({ ...options, peer: { hostname: "127.0.0.1", port: 1 } });
    const { socket, peer } = await openClientSocket({
      hostname: options.hostname ?? DEFAULT_HOST,
      port: options.port ?? DEFAULT_IMAGE_PORT,
      bindHostname: options.bindHostname,
      implementation: options.socketImplementation,
      multicastTtl: options.multicastTtl,
      multicastInterface: options.multicastInterface,
    });
    return new StreamClient(socket, peer, options);
  }

  /** The local address. */
  get localAddr(): Endpoint {
    return this.#socket.addr;
  }

  /** The server's resolved address. */
  get peer(): Endpoint {
    return this.#peer;
  }

  /** The stream id. */
  get streamId(): number {
    return this.#sender.streamId;
  }

  /**
   * With a key, which AES-GCM implementation seals, in one line; else
   * `undefined`.
   */
  get sealing(): string | undefined {
    return this.#sender.sealing;
  }

  /** The sender's counters. */
  get stats(): Readonly<StreamSenderStats> {
    return this.#sender.stats;
  }

  /**
   * Queues a frame. It never waits: a frame already waiting is replaced
   * (the newest wins) and counted as stale.
   *
   * @param frame The encoded frame; it must not change afterwards.
   * @param timestampUs When it was captured, µs since the epoch.
   * @returns `false` when it replaced a waiting frame.
   */
  send(frame: Uint8Array, timestampUs?: number): boolean {
    if (this.#closed) throw new RangeError("Cannot send: the client is closed");
    const queued = this.#sender.sendFrame(
      performance.now(),
      frame,
      timestampUs,
    );
    this.#pump();
    return queued;
  }

  /**
   * Resolves when a frame given now would go next rather than replace one:
   * for sending as fast as the path allows.
   *
   * @param signal Stops waiting.
   * @returns When the sender wants a frame.
   */
  ready(signal?: AbortSignal): Promise<void> {
    if (this.#sender.wantsFrame || this.#closed || signal?.aborted) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener("abort", done);
        resolve();
      };
      signal?.addEventListener("abort", done, { once: true });
      this.#readyWaiters.push(done);
    });
  }

  /**
   * Sends a JSON value over the image port, again until the server
   * acknowledges it.
   *
   * @param value Any JSON-serialisable value.
   * @param options An abort signal.
   * @returns The server's reply, normally `get the msg`.
   * @throws {ReplyTimeoutError} When no ack came in time.
   */
  sendMessage(
    value: unknown,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<string> {
    return this.sendRawMessage(encoder.encode(JSON.stringify(value)), options);
  }

  /**
   * Sends message text as it is, valid JSON or not.
   *
   * @param text The bytes.
   * @param options An abort signal.
   * @returns The server's reply.
   */
  sendRawMessage(
    text: Uint8Array,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<string> {
    if (this.#closed) {
      return Promise.reject(
        new RangeError("Cannot send: the client is closed"),
      );
    }
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const id = this.#sender.sendMessage(performance.now(), text);
    const reply = new Promise<string>((resolve, reject) => {
      const abort = () => {
        this.#messages.delete(id);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", abort, { once: true });
      this.#messages.set(id, {
        resolve: (reply) => {
          signal?.removeEventListener("abort", abort);
          resolve(reply);
        },
        reject: (error) => {
          signal?.removeEventListener("abort", abort);
          reject(error);
        },
      });
    });
    this.#pump();
    return reply;
  }

  /**
   * Finishes the stream: sends what is queued, waits until the server has
   * every frame or the latency budget has passed, says bye, and closes the
   * socket.
   *
   * @param options An abort signal, to stop waiting and close at once.
   * @returns Whether the server's report showed every frame resolved.
   */
  async close(
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<boolean> {
    if (!this.#closed) {
      this.#sender.close(performance.now());
      this.#pump();
      if (this.#delivered === undefined && !options.signal?.aborted) {
        await new Promise<void>((resolve) => {
          const done = () => {
            options.signal?.removeEventListener("abort", done);
            resolve();
          };
          options.signal?.addEventListener("abort", done, { once: true });
          this.#closedWaiters.push(done);
        });
      }
      this.#shutDown();
    }
    await this.#receiving;
    return this.#delivered ?? false;
  }

  /** Closes the client. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #shutDown(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#socket.close();
    this.#sender[Symbol.dispose]();
    for (const [, waiter] of this.#messages) {
      waiter.reject(
        new ReplyTimeoutError(this.#peer, 1, this.#messageTimeoutMs),
      );
    }
    this.#messages.clear();
    for (const wake of this.#readyWaiters.splice(0)) wake();
  }

  #receive(): Promise<void> {
    let now = 0;
    return receiveLoop(this.#socket, {
      onDatagram: (datagram, batch, i) => {
        if (i === 0) now = performance.now();
        this.#sender.handleDatagram(now, datagram, batch.senders[i]!);
      },
      onBatch: () => this.#pump(),
      onError: (error) => this.#onError(error),
      closed: () => this.#closed,
    });
  }

  /** Sends what the sender has, hands out its events, re-arms the timer. */
  #pump(): void {
    if (this.#closed) return;
    const sender = this.#sender;
    const datagrams: Uint8Array[] = [];
    for (let t; (t = sender.pollTransmit()) !== undefined;) {
      datagrams.push(t.bytes);
    }
    if (datagrams.length > 0) {
      this.#socket.sendMany(datagrams, this.#peer).catch((error) =>
        this.#sendFailed(error)
      );
    }
    for (let event; (event = sender.pollEvent()) !== undefined;) {
      switch (event.type) {
        case "message-ack":
          this.#messages.get(event.id)?.resolve(event.reply);
          this.#messages.delete(event.id);
          break;
        case "message-timeout":
          this.#messages.get(event.id)?.reject(
            new ReplyTimeoutError(this.#peer, 1, this.#messageTimeoutMs),
          );
          this.#messages.delete(event.id);
          break;
        case "closed":
          this.#delivered = event.delivered;
          for (const wake of this.#closedWaiters.splice(0)) {
            wake(event.delivered);
          }
          break;
        case "notice":
          this.#onNotice?.(event.text);
      }
    }
    if (sender.wantsFrame) {
      for (const wake of this.#readyWaiters.splice(0)) wake();
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    const due = this.#sender.pollTimeout() ?? Infinity;
    if (due >= this.#timerDue && this.#timer !== undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDue = due;
    if (due === Infinity) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerDue = Infinity;
      this.#sender.handleTimeout(performance.now());
      this.#pump();
    }, Math.max(0, due - performance.now()));
  }

  #sendFailed(error: unknown): void {
    if (this.#closed) return;
    if (error instanceof SendError && error.code === "EMSGSIZE") {
      const before = this.#sender.datagramBytes;
      const after = this.#sender.halveDatagramSize();
      if (after !== undefined) {
        this.#onNotice?.(
          `the path refused ${error.size}-byte datagrams (EMSGSIZE): sending datagrams of at most ${after} bytes instead of ${before}`,
        );
        return;
      }
    }
    this.#onError(asError(error));
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
