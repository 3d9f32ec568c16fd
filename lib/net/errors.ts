/**
 * Errors of the datagram layer that callers are expected to catch: a send
 * the kernel refused, a bind that failed, and a multicast group or interface
 * that the kernel would not take.
 *
 * @module
 */

import type { Endpoint } from "./types.ts";

/** Options for {@linkcode SendError}. */
export interface SendErrorOptions {
  /** The errno name, such as `EMSGSIZE` or `ENETUNREACH`. */
  code: string;
  /** Size of the refused datagram in bytes. */
  size: number;
  /** Where it was going. */
  to: Endpoint;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * A datagram could not be sent. `code` says why (`EMSGSIZE`: larger than
 * UDP allows; `ENETUNREACH`, `EHOSTUNREACH`: no route; `EAFNOSUPPORT`: IPv6
 * destination from an IPv4 socket).
 *
 * @example Telling an oversized datagram apart
 * ```ts
 * import { SendError } from "./errors.ts";
 *
 * const error = new SendError(
 *   "Cannot send a 70000-byte datagram to 127.0.0.1:9999: message too long",
 *   { code: "EMSGSIZE", size: 70000, to: { hostname: "127.0.0.1", port: 9999 } },
 * );
 * if (error.code === "EMSGSIZE") console.log(`${error.size} bytes is too big`);
 * ```
 */
export class SendError extends Error {
  /** The errno name, such as `EMSGSIZE`. */
  readonly code: string;
  /** Size of the refused datagram in bytes. */
  readonly size: number;
  /** Where it was going. */
  readonly to: Endpoint;

  /**
   * Creates a send error.
   *
   * @param message One line saying what failed and what to do.
   * @param options The errno name, datagram size, destination and cause.
   */
  constructor(message: string, options: SendErrorOptions) {
    super(message, { cause: options.cause });
    this.name = "SendError";
    this.code = options.code;
    this.size = options.size;
    this.to = options.to;
  }
}

/** Options for {@linkcode BindError}. */
export interface BindErrorOptions {
  /** The errno name, such as `EADDRINUSE`. */
  code: string;
  /** The address and port that could not be bound. */
  endpoint: Endpoint;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * A UDP socket could not be bound. The message names the address and port,
 * such as `Cannot bind UDP 127.0.0.1:9999: address already in use`.
 *
 * @example Reporting a busy port in one line
 * ```ts
 * import { BindError } from "./errors.ts";
 * import { openDatagramSocket } from "./open.ts";
 *
 * const first = await openDatagramSocket({ hostname: "127.0.0.1", port: 0 });
 * try {
 *   const second = await openDatagramSocket({
 *     hostname: "127.0.0.1",
 *     port: first.addr.port,
 *   });
 *   second.close();
 * } catch (error) {
 *   if (!(error instanceof BindError)) throw error;
 *   console.log(error.message);
 * }
 * first.close();
 * ```
 */
export class BindError extends Error {
  /** The errno name, such as `EADDRINUSE`. */
  readonly code: string;
  /** The address and port that could not be bound. */
  readonly endpoint: Endpoint;

  /**
   * Creates a bind error.
   *
   * @param message One line naming the address and port and the reason.
   * @param options The errno name, endpoint and cause.
   */
  constructor(message: string, options: BindErrorOptions) {
    super(message, { cause: options.cause });
    this.name = "BindError";
    this.code = options.code;
    this.endpoint = options.endpoint;
  }
}

/** Options for {@linkcode MulticastError}. */
export interface MulticastErrorOptions {
  /** The errno name, such as `ENODEV` or `ENOBUFS`. */
  code: string;
  /** The group being joined or left; absent for a send interface. */
  group?: string;
  /** The local interface address given, if any. */
  interfaceAddress?: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * The kernel refused a multicast group or interface: `ENODEV` (no interface
 * has the address given, or no route picks one for the group),
 * `EADDRNOTAVAIL` (not an address of this host, or not a member when
 * leaving), `EADDRINUSE` (already a member), `ENOBUFS` (too many groups on
 * one socket). The message is one line that says what to do; a command line
 * may catch it to name its own flags instead.
 *
 * @example Telling a missing interface apart
 * ```ts
 * import { MulticastError } from "./errors.ts";
 *
 * const error = new MulticastError(
 *   "Cannot join multicast group 239.1.2.3 on 10.9.9.9: no interface has that address (ENODEV)",
 *   { code: "ENODEV", group: "239.1.2.3", interfaceAddress: "10.9.9.9" },
 * );
 * if (error.code === "ENODEV") console.log(`${error.interfaceAddress} is not here`);
 * ```
 */
export class MulticastError extends Error {
  /** The errno name, such as `ENODEV`. */
  readonly code: string;
  /** The group being joined or left; `undefined` for a send interface. */
  readonly group: string | undefined;
  /** The local interface address given, if any. */
  readonly interfaceAddress: string | undefined;

  /**
   * Creates a multicast error.
   *
   * @param message One line naming the group or interface, the reason and what to do.
   * @param options The errno name, group, interface and cause.
   */
  constructor(message: string, options: MulticastErrorOptions) {
    super(message, { cause: options.cause });
    this.name = "MulticastError";
    this.code = options.code;
    this.group = options.group;
    this.interfaceAddress = options.interfaceAddress;
  }
}
