/**
 * The classic client: sends images to the tutorial's image port and
 * messages to its message port, waiting for each reply as the tutorial does.
 *
 * @module
 */

import { openClientSocket } from "../net/open.ts";
import type { DatagramSocket, Endpoint } from "../net/types.ts";
import {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_HOST,
  DEFAULT_IMAGE_PORT,
  DEFAULT_MESSAGE_PORT,
  MAX_DATAGRAM_BYTES,
} from "./constants.ts";
import { encodeHeader } from "./header.ts";
import { Requester } from "./requester.ts";

/** Options for {@linkcode ClassicClient.connect}. */
export interface ClassicClientOptions {
  /**
   * The server's address.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The server's port.
   *
   * @default {9999}
   */
  port?: number;
  /**
   * The local address to bind. The default reaches other hosts too.
   *
   * @default {"0.0.0.0"}, or `"::"` for an IPv6 server
   */
  bindHostname?: string;
  /**
   * Image bytes per datagram after the header.
   *
   * @default {1024}
   */
  chunkSize?: number;
  /**
   * How long to wait for each reply, in ms.
   *
   * @default {2000}
   */
  timeoutMs?: number;
  /**
   * How many times to send a frame again when its reply does not come.
   *
   * @default {3}
   */
  retries?: number;
  /** Which datagram layer to use. @default {"auto"} */
  socketImplementation?: "auto" | "native" | "deno";
  /**
   * Sends at most this many datagrams back to back, then pauses a
   * millisecond: for servers whose receive buffer cannot hold a whole
   * image, such as the tutorial's. 0 sends a frame all at once.
   *
   * @default {0}
   */
  burst?: number;
}

/** Options for {@linkcode ClassicClient.send}. */
export interface SendImageOptions {
  /**
   * Sends the whole image in one datagram, as in part 1 of the tutorial.
   *
   * @default {false}
   */
  single?: boolean;
  /** Stops waiting for the reply: `send` rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/**
 * Splits an image into the classic datagrams: the 8-byte header, then the
 * bytes in `chunkSize` pieces (views, not copies), or the image alone.
 *
 * @param image The encoded image.
 * @param options Chunk size, and whether to send it in one datagram.
 * @returns The datagrams, in the order they must leave.
 *
 * @example Splitting 2500 bytes
 * ```ts
 * import { frameDatagrams } from "./client.ts";
 * const datagrams = frameDatagrams(new Uint8Array(2500), { chunkSize: 1024 });
 * console.log(datagrams.map((d) => d.length)); // [8, 1024, 1024, 452]
 * ```
 */
export function frameDatagrams(
  image: Uint8Array,
  options: { chunkSize?: number; single?: boolean } = {},
): Uint8Array[] {
  if (options.single) {
    if (image.length > MAX_DATAGRAM_BYTES) {
      throw new RangeError(
        `Cannot send ${image.length} bytes in one datagram: the limit is ${MAX_DATAGRAM_BYTES} bytes; send it in chunks instead`,
      );
    }
    return [image];
  }
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  checkChunkSize(chunkSize);
  const datagrams = [encodeHeader(image.length)];
  for (let i = 0; i < image.length; i += chunkSize) {
    datagrams.push(image.subarray(i, i + chunkSize));
  }
  return datagrams;
}

/** Opens a client's socket toward a classic port. */
function openFor(
  options: MessageClientOptions & { bindHostname?: string },
  defaultPort: number,
): Promise<{ socket: DatagramSocket; peer: Endpoint }> {
  return openClientSocket({
    hostname: options.hostname ?? DEFAULT_HOST,
    port: options.port ?? defaultPort,
    bindHostname: options.bindHostname,
    implementation: options.socketImplementation,
  });
}

function checkChunkSize(chunkSize: number): void {
  // 8 bytes or fewer could be taken for a header by the server.
  if (
    !Number.isInteger(chunkSize) || chunkSize < 9 ||
    chunkSize > MAX_DATAGRAM_BYTES
  ) {
    throw new RangeError(
      `Chunk size must be an integer from 9 to ${MAX_DATAGRAM_BYTES}, got ${chunkSize}`,
    );
  }
}

/**
 * Sends images to a classic server, stop-and-wait: each `send` resolves with
 * the server's reply.
 *
 * @example Sending a file
 * ```ts ignore
 * import { ClassicClient } from "./client.ts";
 *
 * await using client = await ClassicClient.connect({ port: 9999 });
 * const reply = await client.send(await Deno.readFile("photo.jpg"));
 * console.log(reply); // "get message!!!"
 * ```
 */
export class ClassicClient {
  readonly #socket: DatagramSocket;
  readonly #requester: Requester;
  readonly #chunkSize: number;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #burst: number;

  private constructor(
    socket: DatagramSocket,
    peer: Endpoint,
    options: ClassicClientOptions,
  ) {
    this.#socket = socket;
    this.#requester = new Requester(socket, peer);
    this.#chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#retries = options.retries ?? 3;
    this.#burst = options.burst ?? 0;
  }

  /**
   * Binds a local socket for talking to a classic server.
   *
   * @param options The server's address, chunk size, timeout and retries.
   * @returns A client.
   */
  static async connect(
    options: ClassicClientOptions = {},
  ): Promise<ClassicClient> {
    checkChunkSize(options.chunkSize ?? DEFAULT_CHUNK_SIZE);
    const { socket, peer } = await openFor(options, DEFAULT_IMAGE_PORT);
    return new ClassicClient(socket, peer, options);
  }

  /** The local address. */
  get localAddr(): Endpoint {
    return this.#socket.addr;
  }

  /**
   * Sends one image and waits for the server's reply, sending it again
   * after each timeout.
   *
   * @param image The encoded image.
   * @param options Whether to send it in one datagram.
   * @returns The reply, normally `get message!!!`.
   * @throws {ReplyTimeoutError} When no reply came after the last retry.
   */
  send(image: Uint8Array, options: SendImageOptions = {}): Promise<string> {
    const datagrams = frameDatagrams(image, {
      chunkSize: this.#chunkSize,
      single: options.single ?? false,
    });
    return this.#requester.request(datagrams, {
      timeoutMs: this.#timeoutMs,
      retries: this.#retries,
      signal: options.signal,
      burst: this.#burst,
    });
  }

  /** Closes the socket. */
  close(): void {
    this.#socket.close();
  }

  /** Closes the socket. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/**
 * Sends one image to a classic server and waits for its reply: a one-shot
 * {@linkcode ClassicClient}.
 *
 * @param image The encoded image.
 * @param options The server's address, chunking, timeout and retries.
 * @returns The reply, normally `get message!!!`.
 *
 * @example Sending a file once
 * ```ts ignore
 * import { sendImage } from "./client.ts";
 * console.log(await sendImage(await Deno.readFile("photo.jpg"), { port: 9999 }));
 * ```
 */
export async function sendImage(
  image: Uint8Array,
  options: ClassicClientOptions & SendImageOptions = {},
): Promise<string> {
  await using client = await ClassicClient.connect(options);
  return await client.send(image, options);
}

/** Options for {@linkcode MessageClient.connect}. */
export interface MessageClientOptions {
  /** The server's address. @default {"127.0.0.1"} */
  hostname?: string;
  /** The server's message port. @default {6666} */
  port?: number;
  /** How long to wait for each reply, in ms. @default {2000} */
  timeoutMs?: number;
  /** How many times to send a message again. @default {0} */
  retries?: number;
  /** Which datagram layer to use. @default {"auto"} */
  socketImplementation?: "auto" | "native" | "deno";
}

const encoder = new TextEncoder();

/**
 * Sends JSON messages to a classic message port, one at a time, as the
 * tutorial's message client does every 10 ms.
 *
 * @example Sending the tutorial's message
 * ```ts ignore
 * import { MessageClient } from "./client.ts";
 * await using client = await MessageClient.connect({ port: 6666 });
 * console.log(await client.send([0, 0, 0, 1])); // "get the msg"
 * ```
 */
export class MessageClient {
  readonly #socket: DatagramSocket;
  readonly #requester: Requester;
  readonly #options: { timeoutMs: number; retries: number };

  private constructor(
    socket: DatagramSocket,
    peer: Endpoint,
    options: MessageClientOptions,
  ) {
    this.#socket = socket;
    this.#requester = new Requester(socket, peer);
    this.#options = {
      timeoutMs: options.timeoutMs ?? 2000,
      retries: options.retries ?? 0,
    };
  }

  /**
   * Binds a local socket for talking to a message port.
   *
   * @param options The server's address, timeout and retries.
   * @returns A client.
   */
  static async connect(
    options: MessageClientOptions = {},
  ): Promise<MessageClient> {
    const { socket, peer } = await openFor(options, DEFAULT_MESSAGE_PORT);
    return new MessageClient(socket, peer, options);
  }

  /**
   * Sends one value as JSON and waits for the reply.
   *
   * @param value Any JSON-serialisable value.
   * @param options An abort signal, to stop waiting.
   * @returns The reply, normally `get the msg`.
   * @throws {ReplyTimeoutError} When no reply came.
   */
  send(
    value: unknown,
    options: { signal?: AbortSignal } = {},
  ): Promise<string> {
    return this.sendRaw(encoder.encode(JSON.stringify(value)), options);
  }

  /**
   * Sends a datagram as it is and waits for the reply.
   *
   * @param datagram The bytes to send.
   * @param options An abort signal, to stop waiting.
   * @returns The reply.
   */
  sendRaw(
    datagram: Uint8Array,
    options: { signal?: AbortSignal } = {},
  ): Promise<string> {
    return this.#requester.request([datagram], {
      ...this.#options,
      signal: options.signal,
    });
  }

  /** Closes the socket. */
  close(): void {
    this.#socket.close();
  }

  /** Closes the socket. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/**
 * Sends one JSON value to a classic message port and waits for the reply: a
 * one-shot {@linkcode MessageClient}.
 *
 * @param value Any JSON-serialisable value, such as the tutorial's `[0,0,0,1]`.
 * @param options The server's address and the timeout.
 * @returns The reply, normally `get the msg`.
 *
 * @example Sending the tutorial's message once
 * ```ts ignore
 * import { sendMessage } from "./client.ts";
 * console.log(await sendMessage([0, 0, 0, 1], { port: 6666 })); // "get the msg"
 * ```
 */
export async function sendMessage(
  value: unknown,
  options: MessageClientOptions = {},
): Promise<string> {
  await using client = await MessageClient.connect(options);
  return await client.send(value);
}
