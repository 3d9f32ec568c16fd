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

/**
 * The time to live of sent multicast unless told otherwise: 1, which keeps
 * it on the local network (routers do not forward it).
 *
 * @example Showing the default
 * ```ts
 * import { DEFAULT_MULTICAST_TTL } from "./types.ts";
 * console.log(DEFAULT_MULTICAST_TTL); // 1
 * ```
 */
export const DEFAULT_MULTICAST_TTL = 1;

/** Multicast groups a socket joins when it opens. */
export interface MulticastJoinOptions {
  /**
   * The group, or groups: IPv4 addresses in 224.0.0.0/4 (239.0.0.0/8 is for
   * local use) or IPv6 addresses in ff00::/8. An IPv6 group needs a socket
   * bound to `::`.
   */
  join: string | readonly string[];
  /**
   * The local address of the interface to join on, such as 127.0.0.1 or
   * 192.168.1.20 (an IPv6 address of the interface for an IPv6 group). By
   * default the kernel picks the interface its route to the group leads to,
   * and with no such route the join fails with ENODEV.
   */
  interface?: string;
}

/**
 * Options for sharing a port and for multicast, taken by
 * {@linkcode openDatagramSocket} and both implementations.
 *
 * A receiver binds the wildcard address (`0.0.0.0`, or `::` for IPv6 groups)
 * at the group's port and joins: it then gets the group's datagrams and
 * unicast to that port alike, and can send replies. Binding the group
 * address itself also works, and then unicast to the port does not arrive.
 * A socket that joins receives only the groups it joined
 * (`IP_MULTICAST_ALL` off), not every group another program joined at the
 * same port.
 */
export interface MulticastSocketOptions {
  /**
   * Lets several sockets, in this process or others, bind the same address
   * and port (`SO_REUSEADDR`, set before bind); each that joined a group gets
   * its own copy of every datagram sent to the group. Unicast to that port
   * reaches only one of them: on Linux, the one bound last. Every socket
   * sharing the port must set it.
   *
   * @default {false}
   */
  reuseAddress?: boolean;
  /** Groups to join when the socket opens. */
  multicast?: MulticastJoinOptions;
  /**
   * Time to live (IPv6: hop limit) of the multicast this socket sends, from
   * 0 to 255; 0 keeps it on this host.
   *
   * @default {1}
   */
  multicastTtl?: number;
  /**
   * The local address of the interface multicast sends leave by
   * (`IP_MULTICAST_IF`), such as 127.0.0.1; an IPv6 address of the
   * interface for IPv6 groups. By default the route to the group decides,
   * and with no route a send fails with ENETUNREACH.
   */
  multicastInterface?: string;
  /**
   * Whether multicast this socket sends is also delivered to members on
   * this host, itself included (`IP_MULTICAST_LOOP`). On the loopback
   * interface every member gets it either way.
   *
   * @default {true}
   */
  multicastLoopback?: boolean;
}

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
  /**
   * Joins a multicast group, so that datagrams sent to it at this socket's
   * port arrive here. The socket must be bound to the wildcard address or
   * to the group.
   *
   * @param group An IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) group address.
   * @param interfaceAddress The local address of the interface to join on;
   * by default the route to the group picks it.
   * @throws {TypeError} When the group or interface is not an IP address,
   * or the socket's address cannot receive the group.
   * @throws {RangeError} When the group is not a multicast address.
   * @throws {MulticastError} When the kernel refuses, such as for an
   * interface address this host does not have.
   */
  joinGroup(group: string, interfaceAddress?: string): Promise<void>;
  /**
   * Leaves a group joined with {@linkcode DatagramSocket.joinGroup} (or at
   * open), on the same interface.
   *
   * @param group The group address.
   * @param interfaceAddress The interface address it was joined on.
   * @throws {MulticastError} When the socket is not a member.
   */
  leaveGroup(group: string, interfaceAddress?: string): Promise<void>;
  /** Closes the socket; a pending `receive` resolves with 0. */
  close(): void;
}
