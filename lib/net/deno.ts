/**
 * A {@linkcode DatagramSocket} over `Deno.listenDatagram`, for systems where
 * the native one cannot run. Each receive returns one datagram into a reused
 * 65536-byte buffer, and sends go out one at a time, awaited, in call order.
 *
 * Deno cannot size the kernel receive buffer, so when FFI is allowed this
 * finds the socket's descriptor (the one whose `getsockname` matches the
 * bound address) and sets SO_RCVBUF on it through libc.
 *
 * @module
 */

import { errnoCode, errnoText, loadLibc } from "./_libc.ts";
import { checkPort, endpointKey, parseIp } from "./_ip.ts";
import { bindError, sendError } from "./_error_messages.ts";
import { findUdpSocketFd, setBufferSize } from "./_sockopt.ts";
import {
  type DatagramBatch,
  type DatagramSocket,
  DEFAULT_RECEIVE_BUFFER_BYTES,
  type Endpoint,
} from "./types.ts";

/** Options for {@linkcode openDenoDatagramSocket}. */
export interface DenoDatagramSocketOptions {
  /** Local address: an IPv4 or IPv6 literal, `localhost` or a host name. */
  hostname: string;
  /** Local port; 0 lets the kernel choose. */
  port: number;
  /**
   * Kernel receive buffer to ask for, in bytes; applied only when FFI is
   * allowed and libc loads.
   *
   * @default {4194304}
   */
  receiveBufferBytes?: number;
}

const BUFFER_BYTES = 65536;
const SENDER_LIMIT = 1024;
const NO_SENDER: Endpoint = Object.freeze({ hostname: "", port: 0 });

interface Sender {
  readonly endpoint: Endpoint;
  readonly key: string;
}

const batches = new WeakMap<DatagramBatch, { busy: boolean }>();

/**
 * Opens a UDP socket bound to `hostname:port` with `Deno.listenDatagram`.
 * Needs `--unstable-net` (or `"unstable": ["net"]` in deno.json).
 *
 * @param options Address, port and receive buffer size.
 * @returns The bound socket; `receiveBufferBytes` is `undefined` unless FFI
 * is allowed and the buffer could be set.
 * @throws {BindError} When the address cannot be bound, such as a port in use.
 *
 * @example Echoing one datagram to itself
 * ```ts
 * import { openDenoDatagramSocket } from "./deno.ts";
 *
 * const socket = openDenoDatagramSocket({ hostname: "127.0.0.1", port: 0 });
 * const batch = socket.createBatch();
 * await socket.send(new TextEncoder().encode("hello"), socket.addr);
 * await socket.receive(batch);
 * console.log(batch.lengths[0], "bytes from", batch.senderKeys[0]);
 * socket.close();
 * ```
 */
export function openDenoDatagramSocket(
  options: DenoDatagramSocketOptions,
): DatagramSocket {
  const { port, receiveBufferBytes = DEFAULT_RECEIVE_BUFFER_BYTES } = options;
  checkPort(port, "local");
  if (!Number.isInteger(receiveBufferBytes) || receiveBufferBytes < 1) {
    throw new RangeError(
      `Cannot use receiveBufferBytes ${receiveBufferBytes}: expected a positive integer`,
    );
  }
  const hostname = options.hostname === "localhost"
    ? "127.0.0.1"
    : options.hostname;
  let conn: Deno.DatagramConn;
  try {
    conn = Deno.listenDatagram({ hostname, port, transport: "udp" });
  } catch (error) {
    const [code, text] = describeOsError(error);
    throw bindError(code, text, { hostname, port }, error);
  }
  const local = conn.addr as Deno.NetAddr;
  const addr = Object.freeze({ hostname: local.hostname, port: local.port });
  return new DenoDatagramSocket(conn, addr, enlarge(addr, receiveBufferBytes));
}

/** Sets the receive buffer through libc when possible. */
function enlarge(addr: Endpoint, bytes: number): number | undefined {
  const libc = loadLibc();
  const ip = parseIp(addr.hostname);
  if (libc === undefined || ip === undefined) return undefined;
  const fd = findUdpSocketFd(libc, ip, addr.port);
  if (fd === undefined) return undefined;
  return setBufferSize(libc, fd, "receive", bytes);
}

/** The errno name and text of an error thrown by Deno's socket calls. */
function describeOsError(error: unknown): [code: string, text: string] {
  const message = error instanceof Error ? error.message : String(error);
  const errno = /os error (\d+)/.exec(message)?.[1];
  if (errno !== undefined) {
    return [errnoCode(Number(errno)), errnoText(Number(errno))];
  }
  const code = (error as { code?: unknown }).code;
  const name = error instanceof Error ? error.name : "Error";
  return [typeof code === "string" ? code : name, message];
}

class DenoDatagramSocket implements DatagramSocket {
  readonly kind = "deno" as const;
  readonly #conn: Deno.DatagramConn;
  readonly #addr: Endpoint;
  readonly #receiveBufferBytes: number | undefined;
  #closed = false;
  readonly #senders = new Map<string, Map<number, Sender>>();
  #senderCount = 0;
  #target: Deno.NetAddr = { transport: "udp", hostname: "", port: -1 };
  #targetHost = "";
  #sendTail: Promise<void> = Promise.resolve();

  constructor(
    conn: Deno.DatagramConn,
    addr: Endpoint,
    receiveBufferBytes: number | undefined,
  ) {
    this.#conn = conn;
    this.#addr = addr;
    this.#receiveBufferBytes = receiveBufferBytes;
  }

  get addr(): Endpoint {
    return this.#addr;
  }

  get receiveBufferBytes(): number | undefined {
    return this.#receiveBufferBytes;
  }

  createBatch(): DatagramBatch {
    const batch: DatagramBatch = {
      count: 0,
      buffer: new Uint8Array(BUFFER_BYTES),
      offsets: new Int32Array(1),
      lengths: new Int32Array(1),
      senders: [NO_SENDER],
      senderKeys: [""],
    };
    batches.set(batch, { busy: false });
    return batch;
  }

  async receive(batch: DatagramBatch): Promise<number> {
    const state = batches.get(batch);
    if (state === undefined) {
      throw new TypeError(
        "Cannot receive into this batch: it was not made by a deno socket's createBatch()",
      );
    }
    if (state.busy) {
      throw new TypeError(
        "Cannot receive into a batch that is already receiving: use one batch per receive loop",
      );
    }
    batch.count = 0;
    if (this.#closed) return 0;
    state.busy = true;
    try {
      const [data, from] = await this.#conn.receive(batch.buffer);
      const sender = this.#sender(from as Deno.NetAddr);
      batch.lengths[0] = data.length;
      batch.senders[0] = sender.endpoint;
      batch.senderKeys[0] = sender.key;
      batch.count = 1;
      return 1;
    } catch (error) {
      if (this.#closed) return 0;
      const [code, text] = describeOsError(error);
      throw new Error(
        `Cannot receive on UDP ${endpointKey(this.#addr)}: ${text} (${code})`,
        { cause: error },
      );
    } finally {
      state.busy = false;
    }
  }

  #sender(from: Deno.NetAddr): Sender {
    let byPort = this.#senders.get(from.hostname);
    let sender = byPort?.get(from.port);
    if (sender !== undefined) return sender;
    if (this.#senderCount >= SENDER_LIMIT) {
      this.#senders.clear();
      this.#senderCount = 0;
      byPort = undefined;
    }
    if (byPort === undefined) {
      byPort = new Map();
      this.#senders.set(from.hostname, byPort);
    }
    // Report IPv4-mapped senders as plain IPv4, like the native socket.
    const hostname = /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(from.hostname)
      ? from.hostname.slice(7)
      : from.hostname;
    const endpoint = Object.freeze({ hostname, port: from.port });
    sender = { endpoint, key: endpointKey(endpoint) };
    byPort.set(from.port, sender);
    this.#senderCount++;
    return sender;
  }

  send(data: Uint8Array, to: Endpoint): Promise<void> {
    return this.#enqueue(async () => {
      await this.#sendOne(data, to);
    });
  }

  sendMany(datagrams: readonly Uint8Array[], to: Endpoint): Promise<void> {
    return this.#enqueue(async () => {
      for (const datagram of datagrams) await this.#sendOne(datagram, to);
    });
  }

  /** Runs sends one after another: unawaited Deno sends can reorder. */
  #enqueue(run: () => Promise<void>): Promise<void> {
    const op = this.#sendTail.then(run, run);
    this.#sendTail = op.catch(() => {});
    return op;
  }

  async #sendOne(data: Uint8Array, to: Endpoint): Promise<void> {
    if (this.#closed) {
      throw new Deno.errors.BadResource(
        "Cannot send: the UDP socket is closed",
      );
    }
    const target = this.#targetOf(to);
    try {
      await this.#conn.send(data, target);
    } catch (error) {
      const [code, text] = describeOsError(error);
      throw sendError(code, text, data.length, to, error);
    }
  }

  #targetOf(to: Endpoint): Deno.NetAddr {
    if (to.hostname === this.#targetHost && to.port === this.#target.port) {
      return this.#target;
    }
    checkPort(to.port, "destination");
    const hostname = to.hostname === "localhost" ? "127.0.0.1" : to.hostname;
    this.#target = { transport: "udp", hostname, port: to.port };
    this.#targetHost = to.hostname;
    return this.#target;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
  }
}
