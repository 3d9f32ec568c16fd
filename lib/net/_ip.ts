/**
 * IP address text: parsing literals, formatting them back (RFC 5952 for
 * IPv6) and the `host:port` keys used for per-sender state.
 *
 * @module
 */

import type { Endpoint } from "./types.ts";

/** A parsed IP address: 4 bytes for IPv4, 16 bytes for IPv6. */
export type IpBytes = Uint8Array;

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * Parses an IPv4 or IPv6 literal, or `localhost` (as 127.0.0.1). IPv6 may be
 * wrapped in brackets. Returns `undefined` for anything else, including
 * names that need DNS and IPv6 zone ids.
 */
export function parseIp(text: string): IpBytes | undefined {
  if (text === "localhost") return new Uint8Array([127, 0, 0, 1]);
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  return parseIpv4(text) ?? parseIpv6(text);
}

function parseIpv4(text: string): IpBytes | undefined {
  const match = IPV4.exec(text);
  if (match === null) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = match[i + 1] ?? "";
    const value = Number(part);
    if (value > 255 || (part.length > 1 && part.startsWith("0"))) {
      return undefined;
    }
    bytes[i] = value;
  }
  return bytes;
}

function parseIpv6(text: string): IpBytes | undefined {
  if (!text.includes(":")) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0] ?? "", halves.length === 1);
  const tail = halves.length === 2 ? parseGroups(halves[1] ?? "", true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

/** Parses `a:b:c` groups; the last may be dotted IPv4 when `last` is true. */
function parseGroups(text: string, last: boolean): number[] | undefined {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? "";
    if (last && i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIpv4(part);
      if (v4 === undefined) return undefined;
      groups.push(
        ((v4[0] ?? 0) << 8) | (v4[1] ?? 0),
        ((v4[2] ?? 0) << 8) | (v4[3] ?? 0),
      );
    } else if (HEX_GROUP.test(part)) {
      groups.push(parseInt(part, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

/** Formats a 32-bit IPv4 address (as an unsigned number) as dotted text. */
export function formatIpv4(address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${
    (address >>> 8) & 0xff
  }.${address & 0xff}`;
}

/**
 * Formats an IPv6 address given as four big-endian 32-bit words, following
 * RFC 5952: lowercase, no leading zeros, the longest run of two or more zero
 * groups (the first on a tie) shortened to `::`.
 */
export function formatIpv6(
  w0: number,
  w1: number,
  w2: number,
  w3: number,
): string {
  const groups = [
    w0 >>> 16,
    w0 & 0xffff,
    w1 >>> 16,
    w1 & 0xffff,
    w2 >>> 16,
    w2 & 0xffff,
    w3 >>> 16,
    w3 & 0xffff,
  ];
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  const head = hex.slice(0, bestStart).join(":");
  const tail = hex.slice(bestStart + bestLength).join(":");
  return `${head}::${tail}`;
}

/** Formats parsed bytes back to canonical text. */
export function formatIp(bytes: IpBytes): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length === 4) return formatIpv4(view.getUint32(0));
  return formatIpv6(
    view.getUint32(0),
    view.getUint32(4),
    view.getUint32(8),
    view.getUint32(12),
  );
}

/**
 * The `host:port` key of an endpoint; IPv6 hosts are bracketed
 * (`[::1]:9999`) so that the key stays unambiguous.
 *
 * @param endpoint An address and port.
 * @returns `host:port`, or `[host]:port` for IPv6.
 *
 * @example Keys of an IPv4 and an IPv6 endpoint
 * ```ts
 * import { endpointKey } from "./_ip.ts";
 * console.log(endpointKey({ hostname: "127.0.0.1", port: 9999 })); // "127.0.0.1:9999"
 * console.log(endpointKey({ hostname: "::1", port: 9999 })); // "[::1]:9999"
 * ```
 */
export function endpointKey(endpoint: Endpoint): string {
  return endpoint.hostname.includes(":")
    ? `[${endpoint.hostname}]:${endpoint.port}`
    : `${endpoint.hostname}:${endpoint.port}`;
}

/**
 * The address to reach a socket bound to `hostname` on this machine: a
 * wildcard (`0.0.0.0`, `::`) becomes the loopback of its family, and any
 * other address stays as it is.
 *
 * @param hostname The address a socket is bound to.
 * @returns An address a local peer can send or connect to.
 *
 * @example The wildcards and a named address
 * ```ts
 * import { reachableHost } from "./_ip.ts";
 * console.log(reachableHost("0.0.0.0")); // "127.0.0.1"
 * console.log(reachableHost("::")); // "::1"
 * console.log(reachableHost("192.0.2.7")); // "192.0.2.7"
 * ```
 */
export function reachableHost(hostname: string): string {
  if (hostname === "0.0.0.0") return "127.0.0.1";
  if (hostname === "::") return "::1";
  return hostname;
}

/**
 * The host part of a URL for a server bound to `hostname`: as
 * {@linkcode reachableHost}, with IPv6 in brackets.
 *
 * @param hostname The address a server is bound to.
 * @returns A host to put between `scheme://` and `:port`.
 *
 * @example URLs for IPv4 and IPv6 servers
 * ```ts
 * import { urlHost } from "./_ip.ts";
 * console.log(`http://${urlHost("0.0.0.0")}:8080/`); // "http://127.0.0.1:8080/"
 * console.log(`rtsp://${urlHost("::")}:8554/`); // "rtsp://[::1]:8554/"
 * console.log(urlHost("fe80::1")); // "[fe80::1]"
 * ```
 */
export function urlHost(hostname: string): string {
  const host = reachableHost(hostname);
  return host.includes(":") ? `[${host}]` : host;
}

/** Checks a UDP port number, throwing a RangeError that says what is wrong. */
export function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `Cannot use ${what} port ${port}: expected an integer from 0 to 65535`,
    );
  }
}
