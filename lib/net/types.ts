/**
 * The datagram socket interface that protocols are written against, so that
 * a native batched implementation and `Deno.listenDatagram` are
 * interchangeable.
 *
 * @module
 */

/**
 * The kernel receive buffer a socket asks for unless told otherwise: 4 MiB,
 * enough for a few whole frames sent back to back.
 *
 * @example Showing the default
 * ```ts
 * import { DEFAULT_RECEIVE_BUFFER_BYTES } from "./types.ts";
 * console.log(DEFAULT_RECEIVE_BUFFER_BYTES / 1024 / 1024, "MiB"); // 4 MiB
 * ```
 */
export const DEFAULT_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/** An IP address and UDP port. */
export interface Endpoint {
  /** IPv4 or IPv6 address in text form. */
  readonly hostname: string;
  /** UDP port. */
  readonly port: number;
}

/**
 * A batch of received datagrams. Datagram `i` is
 * `buffer.subarray(offsets[i], offsets[i] + lengths[i])` from `senders[i]`.
 * The views are valid only until the next `receive` call on the same batch.
 */
export interface DatagramBatch {
  /** How many datagrams the last receive filled in. */
  count: number;
  /** Backing memory for all datagrams in the batch. */
  readonly buffer: Uint8Array;
  /** Start of each datagram in `buffer`. */
  readonly offsets: Int32Array;
  /** Length of each datagram. */
  readonly lengths: Int32Array;
  /** Sender of each datagram. Implementations reuse Endpoint objects for repeat senders. */
  readonly senders: Endpoint[];
  /** A stable string key per sender, `host:port`, for per-sender state. */
  readonly senderKeys: string[];
}

/** A bound UDP socket. */
export interface DatagramSocket {
  /** The local address it is bound to (with the real port when bound to 0). */
  readonly addr: Endpoint;
  /** Which implementation this is: `native` or `deno`. */
  readonly kind: "native" | "deno";
  /** The kernel's receive buffer size in bytes, when known. */
  readonly receiveBufferBytes: number | undefined;
  /** Creates a batch that this socket can fill. */
  createBatch(): DatagramBatch;
  /**
   * Waits for at least one datagram and fills `batch` with as many as are
   * ready. Resolves with `batch.count`, or 0 once the socket is closed.
   */
  receive(batch: DatagramBatch): Promise<number>;
  /** Sends one datagram. */
  send(data: Uint8Array, to: Endpoint): Promise<void>;
  /** Sends datagrams in order, as one batch where the implementation can. */
  sendMany(datagrams: readonly Uint8Array[], to: Endpoint): Promise<void>;
  /** Closes the socket; a pending `receive` resolves with 0. */
  close(): void;
}
