/**
 * One-line messages for {@linkcode SendError} and {@linkcode BindError}, with
 * a hint saying what to do.
 *
 * @module
 */

import { endpointKey, parseIp } from "./_ip.ts";
import { isMulticastIp } from "./_multicast.ts";
import { BindError, SendError } from "./errors.ts";
import type { Endpoint } from "./types.ts";

const SEND_HINTS: Record<string, string> = {
  EMSGSIZE: "UDP over IPv4 carries at most 65507 bytes per datagram",
  ENETUNREACH: "check the address and this host's routes",
  EHOSTUNREACH: "check the address and that the host is up",
  EAFNOSUPPORT: "bind the socket to :: to reach IPv6 hosts",
  EADDRNOTAVAIL: "bind the socket to 0.0.0.0 to reach other hosts",
  EACCES: "sending to a broadcast address is not allowed",
  ECONNREFUSED: "nothing listens on that port",
};

const BIND_HINTS: Record<string, string> = {
  EADDRINUSE: "stop the other program or choose another port",
  EADDRNOTAVAIL: "use an address of this host, or 0.0.0.0",
  EACCES: "ports below 1024 need root; choose a higher port",
  EAFNOSUPPORT: "this host has no IPv6; use an IPv4 address",
};

/** Builds a {@linkcode SendError} with a one-line message and hint. */
export function sendError(
  code: string,
  text: string,
  size: number,
  to: Endpoint,
  cause?: unknown,
): SendError {
  const ip = parseIp(to.hostname);
  const multicast = ip !== undefined && isMulticastIp(ip);
  const hint = multicast && code === "ENETUNREACH"
    ? "no route leads to the group; name the interface to send from by its address (multicastInterface), such as 127.0.0.1"
    : SEND_HINTS[code];
  const message = `Cannot send a ${size}-byte datagram to ${
    endpointKey(to)
  }: ${text} (${code})${hint === undefined ? "" : `; ${hint}`}`;
  return new SendError(message, { code, size, to, cause });
}

/** Builds a {@linkcode BindError} with a one-line message and hint. */
export function bindError(
  code: string,
  text: string,
  endpoint: Endpoint,
  cause?: unknown,
): BindError {
  const hint = BIND_HINTS[code];
  const message = `Cannot bind UDP ${endpointKey(endpoint)}: ${text}${
    hint === undefined ? "" : `; ${hint}`
  }`;
  return new BindError(message, { code, endpoint, cause });
}
