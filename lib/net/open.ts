/**
 * Opening a {@linkcode DatagramSocket}: the native batched socket where it
 * can run, `Deno.listenDatagram` otherwise; plus helpers to check the
 * receive buffer the kernel granted and to resolve host names.
 *
 * @module
 */

import { loadLibc } from "./_libc.ts";
import { formatIp, parseIp } from "./_ip.ts";
import { openDenoDatagramSocket } from "./deno.ts";
import { openNativeDatagramSocket } from "./native.ts";
import {
  type DatagramSocket,
  DEFAULT_RECEIVE_BUFFER_BYTES,
  type Endpoint,
  type MulticastSocketOptions,
} from "./types.ts";

export { DEFAULT_RECEIVE_BUFFER_BYTES };
export { endpointKey } from "./_ip.ts";

/**
 * Options for {@linkcode openDatagramSocket}; the sharing and multicast
 * options come from {@linkcode MulticastSocketOptions}.
 */
export interface OpenDatagramSocketOptions extends MulticastSocketOptions {
  /** Local address: an IPv4 or IPv6 literal, `localhost` or a host name. */
  hostname: string;
  /** Local port; 0 lets the kernel choose. */
  port: number;
  /**
   * Kernel receive buffer to ask for, in bytes.
   *
   * @default {4194304}
   */
  receiveBufferBytes?: number;
  /**
   * `native` uses libc's `recvmmsg`/`sendmmsg` (Linux, needs FFI
   * permission); `deno` uses `Deno.listenDatagram`; `auto` picks native
   * when it can run.
   *
   * @default {"auto"}
   */
  implementation?: "auto" | "native" | "deno";
  /**
   * Whether a native socket uses UDP segmentation offload (`UDP_SEGMENT`,
   * `UDP_GRO`). The datagrams on the wire are the same either way, but a
   * capture on the loopback interface shows each offloaded run as one large
   * packet; turn it off to see them one by one. The `deno` implementation
   * never offloads.
   *
   * @default {true}
   */
  offload?: boolean;
}

/**
 * Opens a UDP socket bound to `hostname:port`.
 *
 * @param options Address, port, receive buffer size and implementation.
 * @returns The bound socket; `addr.port` is the real port when bound to 0.
 * @throws {BindError} When the address cannot be bound, such as a port in use.
 * @throws {TypeError} When a multicast group or interface is not an address
 * or cannot work with the bound address.
 * @throws {RangeError} When a group is not multicast or a TTL is out of range.
 * @throws {MulticastError} When the kernel refuses a group or interface.
 * @throws {Error} When `implementation` is `native` and libc cannot be used.
 *
 * @example Receiving what was sent to the socket
 * ```ts
 * import { openDatagramSocket } from "./open.ts";
 *
 * const socket = await openDatagramSocket({ hostname: "127.0.0.1", port: 0 });
 * const batch = socket.createBatch();
 * await socket.sendMany(
 *   [new Uint8Array([1]), new Uint8Array([2])],
 *   socket.addr,
 * );
 * let received = 0;
 * while (received < 2) received += await socket.receive(batch);
 * console.log(socket.kind, "received", received);
 * socket.close();
 * ```
 *
 * @example Two members of a group on the loopback interface
 * ```ts ignore
 * import { openDatagramSocket } from "./open.ts";
 *
 * // Two receivers share the port; each gets its own copy.
 * const group = "239.255.0.1";
 * const first = await openDatagramSocket({
 *   hostname: "0.0.0.0",
 *   port: 0,
 *   reuseAddress: true,
 *   multicast: { join: group, interface: "127.0.0.1" },
 * });
 * const second = await openDatagramSocket({
 *   hostname: "0.0.0.0",
 *   port: first.addr.port,
 *   reuseAddress: true,
 *   multicast: { join: group, interface: "127.0.0.1" },
 * });
 * const sender = await openDatagramSocket({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   multicastInterface: "127.0.0.1",
 *   multicastTtl: 0,
 * });
 * await sender.send(new Uint8Array([1, 2, 3]), { hostname: group, port: first.addr.port });
 * console.log(await first.receive(first.createBatch()), await second.receive(second.createBatch()));
 * for (const socket of [first, second, sender]) socket.close();
 * ```
 */
export async function openDatagramSocket(
  options: OpenDatagramSocketOptions,
): Promise<DatagramSocket> {
  const {
    port,
    receiveBufferBytes = DEFAULT_RECEIVE_BUFFER_BYTES,
    implementation = "auto",
    offload = true,
    hostname: _,
    ...shared
  } = options;
  if (!["auto", "native", "deno"].includes(implementation)) {
    throw new TypeError(
      `Cannot open a "${implementation}" socket: expected auto, native or deno`,
    );
  }
  const { hostname } = await resolveEndpoint({
    hostname: options.hostname,
    port,
  });
  const native = implementation === "native" ||
    (implementation === "auto" && loadLibc() !== undefined);
  return native
    ? openNativeDatagramSocket({
      ...shared,
      hostname,
      port,
      receiveBufferBytes,
      offload,
    })
    : openDenoDatagramSocket({ ...shared, hostname, port, receiveBufferBytes });
}

/**
 * Whether the socket's kernel receive buffer is smaller than `askedBytes`,
 * or unknown (then the kernel default, typically 208 KiB, applies). Linux
 * reports twice the size asked for when it grants it in full.
 *
 * @param socket An open socket.
 * @param askedBytes The size that was asked for.
 * @returns `true` when bursts may overflow the buffer.
 *
 * @example Checking the buffer
 * ```ts
 * import { openDatagramSocket, receiveBufferTooSmall } from "./open.ts";
 *
 * const socket = await openDatagramSocket({ hostname: "127.0.0.1", port: 0 });
 * console.log(receiveBufferTooSmall(socket, 4 * 1024 * 1024));
 * socket.close();
 * ```
 */
export function receiveBufferTooSmall(
  socket: DatagramSocket,
  askedBytes: number = DEFAULT_RECEIVE_BUFFER_BYTES,
): boolean {
  const granted = socket.receiveBufferBytes;
  return granted === undefined || granted < askedBytes;
}

/**
 * A one-line warning when the receive buffer is smaller than asked, saying
 * what to do about it, or `undefined` when it is large enough.
 *
 * @param socket An open socket.
 * @param askedBytes The size that was asked for.
 * @returns The warning, or `undefined`.
 *
 * @example Warning at startup
 * ```ts
 * import { openDatagramSocket, receiveBufferWarning } from "./open.ts";
 *
 * const socket = await openDatagramSocket({ hostname: "127.0.0.1", port: 0 });
 * const warning = receiveBufferWarning(socket);
 * if (warning !== undefined) console.warn(warning);
 * socket.close();
 * ```
 */
export function receiveBufferWarning(
  socket: DatagramSocket,
  askedBytes: number = DEFAULT_RECEIVE_BUFFER_BYTES,
): string | undefined {
  if (!receiveBufferTooSmall(socket, askedBytes)) return undefined;
  const granted = socket.receiveBufferBytes;
  const fix =
    `raise net.core.rmem_max to ${askedBytes} (sysctl -w net.core.rmem_max=${askedBytes}) or run as root`;
  if (granted === undefined) {
    return `UDP receive buffer is the kernel default, not the ${
      kib(askedBytes)
    } asked for: bursts may drop datagrams; allow FFI (--allow-ffi) and ${fix}`;
  }
  return `UDP receive buffer is ${kib(granted)}, less than the ${
    kib(askedBytes)
  } asked for: bursts may drop datagrams; ${fix}`;
}

function kib(bytes: number): string {
  return `${Math.round(bytes / 1024)} KiB`;
}

/**
 * Resolves an endpoint's host name to an IP address: literals come back in
 * canonical form (IPv6 brackets removed), `localhost` becomes 127.0.0.1, other names are looked up with
 * `Deno.resolveDns` (IPv4 first, then IPv6). Send paths take addresses only,
 * so resolve a destination once, up front.
 *
 * @param endpoint A host name or address, and a port.
 * @returns The same port with an IP address.
 * @throws {Error} When the name does not resolve.
 *
 * @example Resolving localhost
 * ```ts
 * import { resolveEndpoint } from "./open.ts";
 *
 * const to = await resolveEndpoint({ hostname: "localhost", port: 9999 });
 * console.log(to.hostname); // 127.0.0.1
 * ```
 */
export async function resolveEndpoint(endpoint: Endpoint): Promise<Endpoint> {
  const ip = parseIp(endpoint.hostname);
  if (ip !== undefined) return { hostname: formatIp(ip), port: endpoint.port };
  const errors: unknown[] = [];
  for (const type of ["A", "AAAA"] as const) {
    try {
      const [address] = await Deno.resolveDns(endpoint.hostname, type);
      if (address !== undefined) {
        return { hostname: address, port: endpoint.port };
      }
    } catch (error) {
      errors.push(error);
    }
  }
  throw new Error(
    `Cannot resolve host "${endpoint.hostname}": no IPv4 or IPv6 address found; check the name or use an IP address`,
    { cause: errors[0] },
  );
}

/** Options for {@linkcode openClientSocket}. */
export interface OpenClientSocketOptions {
  /** The server's address or host name. */
  hostname: string;
  /** The server's port. */
  port: number;
  /**
   * The local address to bind. The default reaches other hosts too.
   *
   * @default {"0.0.0.0"}, or `"::"` for an IPv6 server
   */
  bindHostname?: string | undefined;
  /** Which datagram layer to use. @default {"auto"} */
  implementation?: "auto" | "native" | "deno" | undefined;
  /** For a multicast server address: the TTL of what is sent. @default {1} */
  multicastTtl?: number | undefined;
  /** For a multicast server address: the interface to send by, by address. */
  multicastInterface?: string | undefined;
}

/**
 * Resolves a server's address and binds a local socket, on a free port, that
 * can reach it: by default the wildcard address of its family, so that any
 * host can be. Every protocol's client opens its socket this way.
 *
 * @param options The server, and what to bind.
 * @returns The socket and the server's resolved endpoint.
 *
 * @example A socket for talking to a local server
 * ```ts
 * import { openClientSocket } from "./open.ts";
 * const { socket, peer } = await openClientSocket({ hostname: "localhost", port: 9999 });
 * console.log(peer.hostname); // 127.0.0.1
 * socket.close();
 * ```
 */
export async function openClientSocket(
  options: OpenClientSocketOptions,
): Promise<{ socket: DatagramSocket; peer: Endpoint }> {
  const peer = await resolveEndpoint({
    hostname: options.hostname,
    port: options.port,
  });
  const socket = await openDatagramSocket(clientBindOptions(peer, options));
  return { socket, peer };
}

/**
 * What {@linkcode openClientSocket} binds for a resolved server: a free
 * port on `bindHostname`, by default the wildcard address of the server's
 * family, with the multicast options. A client with a second socket for the
 * same server (RTP's RTCP) binds it with these too.
 *
 * @param peer The server's resolved address.
 * @param options What to bind.
 * @returns Options for {@linkcode openDatagramSocket}.
 *
 * @example The wildcard of an IPv6 server's family
 * ```ts
 * import { clientBindOptions } from "./open.ts";
 * const bind = clientBindOptions({ hostname: "::1", port: 9999 }, {});
 * console.log(bind.hostname, bind.port); // "::" 0
 * ```
 */
export function clientBindOptions(
  peer: Endpoint,
  options: Omit<OpenClientSocketOptions, "hostname" | "port">,
): OpenDatagramSocketOptions {
  return {
    hostname: options.bindHostname ??
      (peer.hostname.includes(":") ? "::" : "0.0.0.0"),
    port: 0,
    implementation: options.implementation ?? "auto",
    ...(options.multicastTtl !== undefined &&
      { multicastTtl: options.multicastTtl }),
    ...(options.multicastInterface !== undefined &&
      { multicastInterface: options.multicastInterface }),
  };
}
