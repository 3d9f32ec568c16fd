/**
 * Multicast for both socket implementations: checking groups, interfaces
 * and TTLs up front, the socket options through libc, and one-line errors.
 *
 * ```text
 * struct ip_mreq    0: group (4)      | 4: interface address (4)
 * struct ipv6_mreq  0: group (16)     | 16: interface index u32
 * ```
 *
 * @module
 */

import {
  AF_INET6,
  errnoCode,
  errnoText,
  IP_ADD_MEMBERSHIP,
  IP_DROP_MEMBERSHIP,
  IP_MULTICAST_ALL,
  IP_MULTICAST_IF,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_JOIN_GROUP,
  IPV6_LEAVE_GROUP,
  IPV6_MULTICAST_ALL,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  IPV6_MULTICAST_LOOP,
  type Libc,
} from "./_libc.ts";
import { formatIp, type IpBytes, parseIp } from "./_ip.ts";
import { setOption } from "./_sockopt.ts";
import { MulticastError } from "./errors.ts";
import type { MulticastSocketOptions } from "./types.ts";

/** Whether parsed bytes are a multicast address (224.0.0.0/4, ff00::/8). */
export function isMulticastIp(ip: IpBytes): boolean {
  if (ip.length === 4) return (ip[0]! & 0xf0) === 0xe0;
  // IPv4-mapped groups count too: an IPv6 socket sends to them as IPv4.
  if (isMapped(ip)) return (ip[12]! & 0xf0) === 0xe0;
  return ip[0] === 0xff;
}

function isMapped(ip: IpBytes): boolean {
  return ip.length === 16 && ip[10] === 0xff && ip[11] === 0xff &&
    ip.subarray(0, 10).every((byte) => byte === 0);
}

function isWildcard(ip: IpBytes): boolean {
  return ip.every((byte) => byte === 0);
}

/** A group, parsed and checked. */
export interface Group {
  /** Canonical text; IPv4-mapped groups as plain IPv4. */
  readonly text: string;
  readonly ip: IpBytes;
}

/** What a socket does about sharing and multicast, checked. */
export interface MulticastPlan {
  readonly reuseAddress: boolean;
  readonly groups: readonly Group[];
  readonly joinInterface: string | undefined;
  readonly ttl: number | undefined;
  readonly loopback: boolean | undefined;
  readonly sendInterface: string | undefined;
}

/**
 * Checks the multicast options of a socket that will be bound to `bound`,
 * before anything is opened, and throws a one-line `TypeError` or
 * `RangeError` for what cannot work.
 */
export function planMulticast(
  options: MulticastSocketOptions,
  bound: IpBytes,
): MulticastPlan {
  const { multicast, multicastTtl, multicastInterface } = options;
  if (multicastTtl !== undefined) checkTtl(multicastTtl);
  const joins = multicast === undefined
    ? []
    : typeof multicast.join === "string"
    ? [multicast.join]
    : multicast.join;
  const groups = joins.map((group) => checkGroup(group, bound));
  const joinInterface = multicast?.interface;
  for (const group of groups) checkInterface(joinInterface, group.ip, "join");
  if (multicastInterface !== undefined) {
    checkSendInterface(multicastInterface, bound);
  }
  return {
    reuseAddress: options.reuseAddress ?? false,
    groups,
    joinInterface,
    ttl: multicastTtl,
    loopback: options.multicastLoopback,
    sendInterface: multicastInterface,
  };
}

function checkTtl(ttl: number): void {
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) {
    throw new RangeError(
      `Cannot use multicast TTL ${ttl}: expected an integer from 0 to 255 (1 keeps multicast on the local network)`,
    );
  }
}

/** Parses a group for a socket bound to `bound`, or throws why not. */
export function checkGroup(group: string, bound: IpBytes): Group {
  const parsed = typeof group === "string" ? parseIp(group) : undefined;
  if (parsed === undefined) {
    throw new TypeError(
      `Cannot join multicast group "${group}": expected an IPv4 or IPv6 address, such as 239.255.0.1`,
    );
  }
  if (!isMulticastIp(parsed)) {
    throw new RangeError(
      `Cannot join ${group}: not a multicast address; use one in 224.0.0.0/4 (239.0.0.0/8 is for local use) or ff00::/8`,
    );
  }
  const ip = isMapped(parsed) ? parsed.slice(12) : parsed;
  const text = formatIp(ip);
  if (ip.length === 16 && bound.length === 4) {
    throw new TypeError(
      `Cannot join IPv6 group ${text} on a socket bound to an IPv4 address; bind :: instead`,
    );
  }
  if (!isWildcard(bound) && formatIp(bound) !== text) {
    const wildcard = bound.length === 4 ? "0.0.0.0" : "::";
    throw new TypeError(
      `Cannot join ${text} on a socket bound to ${
        formatIp(bound)
      }: multicast reaches only sockets bound to ${wildcard} or to the group; bind ${wildcard}`,
    );
  }
  return { text, ip };
}

/** Checks an interface address against a group's family. */
export function checkInterface(
  address: string | undefined,
  group: IpBytes,
  action: "join" | "send",
): void {
  if (address === undefined) return;
  const ip = typeof address === "string" ? parseIp(address) : undefined;
  if (ip === undefined || isMulticastIp(ip)) {
    throw new TypeError(
      `Cannot ${action} multicast on interface "${address}": expected the interface's IPv4 or IPv6 address, such as 127.0.0.1`,
    );
  }
  if (ip.length !== group.length) {
    const family = group.length === 4 ? "IPv4" : "IPv6";
    throw new TypeError(
      `Cannot ${action} multicast on interface ${address}: an ${family} group needs an ${family} address of the interface`,
    );
  }
}

function checkSendInterface(address: string, bound: IpBytes): void {
  const ip = typeof address === "string" ? parseIp(address) : undefined;
  // An IPv6 socket sends IPv4 multicast too, so either family is fine there.
  const family = ip === undefined || bound.length === 4 ? bound : ip;
  checkInterface(address, family, "send");
}

/** One line for a multicast option the kernel refused. */
export function multicastError(
  action: "join" | "leave" | "send",
  errno: { code: string; text: string },
  group: string | undefined,
  interfaceAddress: string | undefined,
  cause?: unknown,
): MulticastError {
  const { code } = errno;
  const on = interfaceAddress === undefined ? "" : ` on ${interfaceAddress}`;
  const what = action === "send"
    ? `Cannot send multicast from ${interfaceAddress}`
    : `Cannot ${action} multicast group ${group}${on}`;
  let reason = `${errno.text} (${code})`;
  if (code === "ENODEV" || (code === "EADDRNOTAVAIL" && action !== "leave")) {
    reason = interfaceAddress === undefined
      ? `no route picks an interface for it (${code}); name the interface by one of its addresses, such as 127.0.0.1`
      : `no interface has that address (${code}); use an address of one of this host's interfaces`;
  } else if (code === "EADDRINUSE" && action === "join") {
    reason = `this socket is already a member (${code})`;
  } else if (code === "EADDRNOTAVAIL") {
    reason = `this socket is not a member (${code})`;
  } else if (code === "ENOBUFS" && action === "join") {
    reason =
      `this socket has joined too many groups (${code}); join fewer, or raise net.ipv4.igmp_max_memberships (20 by default) with sysctl`;
  }
  const options = {
    code,
    ...(group === undefined ? {} : { group }),
    ...(interfaceAddress === undefined ? {} : { interfaceAddress }),
    cause,
  };
  return new MulticastError(`${what}: ${reason}`, options);
}

function libcError(
  errno: number,
  action: "join" | "leave" | "send",
  group: string | undefined,
  interfaceAddress: string | undefined,
): MulticastError {
  return multicastError(
    action,
    { code: errnoCode(errno), text: errnoText(errno) },
    group,
    interfaceAddress,
  );
}

/**
 * The index of the interface that has `address`, for IPv6 options; asks
 * `Deno.networkInterfaces` (sys permission) and `if_nametoindex`.
 */
export function interfaceIndex(
  address: string,
  libc: Libc | undefined,
  action: "join" | "leave" | "send",
  group?: string,
): number {
  const ip = parseIp(address);
  let interfaces: Deno.NetworkInterfaceInfo[];
  try {
    interfaces = Deno.networkInterfaces();
  } catch (error) {
    throw new TypeError(
      `Cannot find the interface of ${address}: listing interfaces needs --allow-sys`,
      { cause: error },
    );
  }
  const text = ip === undefined ? address : formatIp(ip);
  const name = interfaces.find((entry) => {
    const other = parseIp(entry.address);
    return other !== undefined && formatIp(other) === text;
  })?.name;
  const notFound = () =>
    multicastError(
      action,
      { code: "ENODEV", text: "no such device" },
      group,
      address,
    );
  if (name === undefined) throw notFound();
  if (libc !== undefined) {
    const index = libc.symbols.if_nametoindex(
      new TextEncoder().encode(`${name}\0`),
    );
    if (index > 0) return index;
  }
  // Link-local addresses carry their interface's index.
  const scoped = interfaces.find((entry) =>
    entry.name === name && (entry.scopeid ?? 0) > 0
  );
  if (scoped?.scopeid) return scoped.scopeid;
  throw notFound();
}

/**
 * Joins or leaves `group` on a socket through libc. The first join turns
 * `IP_MULTICAST_ALL` off, so that the socket gets only its own groups.
 */
export function changeMembership(
  libc: Libc,
  fd: number,
  family: number,
  action: "join" | "leave",
  group: Group,
  interfaceAddress: string | undefined,
): void {
  const join = action === "join";
  let errno: number;
  if (group.ip.length === 4) {
    if (join) {
      setOption(libc, fd, IPPROTO_IP, IP_MULTICAST_ALL, new Int32Array([0]));
    }
    const request = new Uint8Array(8);
    request.set(group.ip, 0);
    if (interfaceAddress !== undefined) {
      request.set(parseIp(interfaceAddress)!, 4);
    }
    errno = setOption(
      libc,
      fd,
      IPPROTO_IP,
      join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP,
      request,
    );
  } else {
    if (family !== AF_INET6) {
      throw new TypeError(
        `Cannot ${action} IPv6 group ${group.text} on an IPv4 socket; bind :: instead`,
      );
    }
    const index = interfaceAddress === undefined
      ? 0
      : interfaceIndex(interfaceAddress, libc, action, group.text);
    if (join) {
      setOption(
        libc,
        fd,
        IPPROTO_IPV6,
        IPV6_MULTICAST_ALL,
        new Int32Array([0]),
      );
    }
    const request = new Uint8Array(20);
    request.set(group.ip, 0);
    new DataView(request.buffer).setUint32(16, index, true);
    errno = setOption(
      libc,
      fd,
      IPPROTO_IPV6,
      join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP,
      request,
    );
  }
  if (errno !== 0) {
    throw libcError(errno, action, group.text, interfaceAddress);
  }
}

/**
 * Sets the send-side options a plan asks for: TTL, loopback and interface.
 * An IPv6 socket gets the IPv4 options too, for the IPv4 groups it sends to.
 */
export function applySendOptions(
  libc: Libc,
  fd: number,
  family: number,
  plan: MulticastPlan,
): void {
  const { ttl, loopback, sendInterface } = plan;
  const int = (level: number, option: number, value: number) =>
    setOption(libc, fd, level, option, new Int32Array([value]));
  const v6 = family === AF_INET6;
  if (ttl !== undefined) {
    int(IPPROTO_IP, IP_MULTICAST_TTL, ttl);
    if (v6) int(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl);
  }
  if (loopback !== undefined) {
    int(IPPROTO_IP, IP_MULTICAST_LOOP, loopback ? 1 : 0);
    if (v6) int(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, loopback ? 1 : 0);
  }
  if (sendInterface === undefined) return;
  const ip = parseIp(sendInterface)!;
  const errno = ip.length === 4
    ? setOption(libc, fd, IPPROTO_IP, IP_MULTICAST_IF, ip)
    : int(
      IPPROTO_IPV6,
      IPV6_MULTICAST_IF,
      interfaceIndex(sendInterface, libc, "send"),
    );
  if (errno !== 0) {
    throw libcError(errno, "send", undefined, sendInterface);
  }
}
