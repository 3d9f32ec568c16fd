/**
 * Multicast helpers for command lines and servers: telling a group address
 * from a unicast one, and the address a receiver of a group binds.
 *
 * @module
 */

import { isMulticastIp } from "./_multicast.ts";
import { parseIp } from "./_ip.ts";

/**
 * Whether `hostname` is a multicast group address: IPv4 224.0.0.0/4 or IPv6
 * ff00::/8 (IPv4-mapped groups included). Host names are not looked up and
 * give `false`.
 *
 * @param hostname An address, such as a `--host` flag's value.
 * @returns `true` for a multicast address.
 *
 * @example Choosing between unicast and multicast
 * ```ts
 * import { isMulticast } from "./multicast.ts";
 *
 * console.log(isMulticast("239.255.0.1")); // true
 * console.log(isMulticast("ff02::1")); // true
 * console.log(isMulticast("127.0.0.1")); // false
 * ```
 */
export function isMulticast(hostname: string): boolean {
  const ip = parseIp(hostname);
  return ip !== undefined && isMulticastIp(ip);
}

/**
 * The address a receiver of `group` binds: the wildcard of its family
 * (`0.0.0.0`, or `::` for an IPv6 group), at the group's port. Bound there,
 * a socket that joins the group gets the group's datagrams and unicast to
 * its port alike, so that it can take replies and feedback too; bound to
 * the group address itself it would get the group's datagrams only.
 *
 * @param group A multicast group address.
 * @returns `0.0.0.0` or `::`.
 * @throws {RangeError} When `group` is not a multicast address.
 *
 * @example Opening a receiver of a group
 * ```ts ignore
 * import { multicastBindAddress } from "./multicast.ts";
 * import { openDatagramSocket } from "./open.ts";
 *
 * const group = "239.255.0.1";
 * const socket = await openDatagramSocket({
 *   hostname: multicastBindAddress(group),
 *   port: 0,
 *   reuseAddress: true,
 *   multicast: { join: group, interface: "127.0.0.1" },
 * });
 * socket.close();
 * ```
 */
export function multicastBindAddress(group: string): "0.0.0.0" | "::" {
  const ip = parseIp(group);
  if (ip === undefined || !isMulticastIp(ip)) {
    throw new RangeError(
      `Cannot bind for group "${group}": not a multicast address; use one in 224.0.0.0/4 (239.0.0.0/8 is for local use) or ff00::/8`,
    );
  }
  return ip.length === 4 || ip[0] !== 0xff ? "0.0.0.0" : "::";
}
