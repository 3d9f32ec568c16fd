/**
 * Checks a flag that names one host to bind or to send to, such as `--host`
 * or `--view-host`, before any socket is opened: a multicast group where one
 * host is needed, or a malformed IPv6 literal, is a usage error that says
 * what to give instead.
 *
 * @module
 */

import { UsageError } from "./cli.ts";
import { isMulticast } from "../net/multicast.ts";
import { parseIp } from "../net/_ip.ts";

/** Options for {@linkcode hostFlag}. */
export interface HostFlagOptions {
  /** The host when the flag is not given. */
  fallback: string;
  /**
   * When set, a multicast group is refused, and this says what to do
   * instead, such as "to receive the group, use --join GROUP".
   *
   * @default {undefined}
   */
  refuseMulticast?: string;
}

/**
 * Checks the value of a flag that names a host (a name or an address) and
 * returns it, or `options.fallback` when the flag is not given.
 *
 * @param name The flag's name, without dashes.
 * @param value The flag's text, or `undefined` when not given.
 * @param options The fallback, and whether a group is refused.
 * @returns The host.
 * @throws {UsageError} For a refused multicast group, or text with a colon
 * that is not an IPv6 address.
 *
 * @example Usage
 * ```ts
 * import { hostFlag } from "./host_flag.ts";
 * console.log(hostFlag("host", "::1", { fallback: "127.0.0.1" })); // "::1"
 * ```
 */
export function hostFlag(
  name: string,
  value: string | undefined,
  options: HostFlagOptions,
): string {
  if (value === undefined) return options.fallback;
  if (options.refuseMulticast !== undefined && isMulticast(value)) {
    throw new UsageError(
      `--${name} takes one host's address, and ${value} is a multicast group; ${options.refuseMulticast}`,
    );
  }
  if (value.includes(":") && parseIp(value) === undefined) {
    throw new UsageError(
      value.includes("%")
        ? `--${name} '${value}' has an IPv6 zone id, which is not supported; give a global address, or 0.0.0.0 / :: to bind all`
        : `--${name} '${value}' is not a valid IPv6 address (such as ::1 or 2001:db8::5); give the address alone, with no port`,
    );
  }
  return value;
}

/**
 * Checks a flag that names where one of the server's listeners binds, such
 * as `--view-host` or `--rtsp-host`: loopback unless given, and never a
 * multicast group.
 *
 * @param name The flag's name, without dashes.
 * @param value The flag's text, or `undefined` when not given.
 * @returns The host to bind.
 * @throws {UsageError} For a multicast group or a malformed IPv6 address.
 *
 * @example Loopback unless given
 * ```ts
 * import { listenHostFlag } from "./host_flag.ts";
 * console.log(listenHostFlag("view-host", undefined)); // "127.0.0.1"
 * ```
 */
export function listenHostFlag(
  name: string,
  value: string | undefined,
): string {
  return hostFlag(name, value, {
    fallback: "127.0.0.1",
    refuseMulticast:
      "give an address of this host, such as 127.0.0.1, or 0.0.0.0 for all",
  });
}
