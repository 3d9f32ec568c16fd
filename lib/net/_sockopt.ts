/**
 * Socket addresses and buffer sizes through libc, shared by the native
 * socket and by the `Deno.listenDatagram` fallback (which finds its socket's
 * file descriptor to enlarge the receive buffer).
 *
 * @module
 */

import {
  AF_INET,
  AF_INET6,
  type Libc,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SO_TYPE,
  SOCK_DGRAM,
  SOCKADDR_BYTES,
  SOL_SOCKET,
} from "./_libc.ts";
import type { IpBytes } from "./_ip.ts";

/**
 * Writes `ip` and `port` as a `sockaddr_in` (for an AF_INET socket) or a
 * `sockaddr_in6` (for AF_INET6, mapping IPv4 to `::ffff:a.b.c.d`) and
 * returns its length, or 0 when an IPv6 address meets an IPv4 socket.
 *
 * ```text
 * sockaddr_in   0: family u16 LE | 2: port u16 BE | 4: address (4) | 8: zero (8)
 * sockaddr_in6  0: family u16 LE | 2: port u16 BE | 4: flowinfo u32
 *               8: address (16)  | 24: scope id u32
 * ```
 */
export function writeSockaddr(
  view: DataView,
  offset: number,
  family: number,
  ip: IpBytes,
  port: number,
): number {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, 28);
  bytes.fill(0);
  view.setUint16(offset, family, true);
  view.setUint16(offset + 2, port, false);
  if (family === AF_INET) {
    if (ip.length !== 4) return 0;
    bytes.set(ip, 4);
    return 16;
  }
  if (ip.length === 4) {
    bytes[18] = 0xff;
    bytes[19] = 0xff;
    bytes.set(ip, 20);
  } else {
    bytes.set(ip, 8);
  }
  return 28;
}

/** The port of a sockaddr, and its address as 4 or 16 bytes. */
export function readSockaddr(
  view: DataView,
  offset: number,
): { ip: IpBytes; port: number } | undefined {
  const family = view.getUint16(offset, true);
  const port = view.getUint16(offset + 2, false);
  const start = view.byteOffset + offset;
  if (family === AF_INET) {
    return { ip: new Uint8Array(view.buffer, start + 4, 4).slice(), port };
  }
  if (family === AF_INET6) {
    return { ip: new Uint8Array(view.buffer, start + 8, 16).slice(), port };
  }
  return undefined;
}

/** Reads an integer socket option, or `undefined` when the call fails. */
export function getIntOption(
  libc: Libc,
  fd: number,
  level: number,
  option: number,
): number | undefined {
  const value = new Int32Array(1);
  const length = new Uint32Array([4]);
  const result = libc.symbols.getsockopt(fd, level, option, value, length);
  return result === 0 ? value[0] : undefined;
}

/** Sets an integer socket option; returns whether the kernel accepted it. */
export function setIntOption(
  libc: Libc,
  fd: number,
  level: number,
  option: number,
  value: number,
): boolean {
  return libc.symbols.setsockopt(
    fd,
    level,
    option,
    new Int32Array([value]),
    4,
  ) === 0;
}

/**
 * Sets a socket option whose value is a struct or an int; returns 0, or the
 * errno with which the kernel refused it.
 */
export function setOption(
  libc: Libc,
  fd: number,
  level: number,
  option: number,
  value: Uint8Array | Int32Array,
): number {
  const result = libc.symbols.setsockopt(
    fd,
    level,
    option,
    value,
    value.byteLength,
  );
  return result === 0 ? 0 : libc.errno();
}

/**
 * Asks for a kernel buffer of `bytes` and returns what the kernel granted
 * (Linux reports twice the asked size, the rest being bookkeeping). When
 * `net.core.rmem_max` (or `wmem_max`) caps the plain option, the FORCE
 * variant is tried, which works for root or CAP_NET_ADMIN.
 */
export function setBufferSize(
  libc: Libc,
  fd: number,
  direction: "receive" | "send",
  bytes: number,
): number | undefined {
  const [option, force] = direction === "receive"
    ? [SO_RCVBUF, SO_RCVBUFFORCE]
    : [SO_SNDBUF, SO_SNDBUFFORCE];
  // The kernel doubles the value in an int.
  const asked = Math.min(bytes, 0x3fff_ffff);
  setIntOption(libc, fd, SOL_SOCKET, option, asked);
  const granted = getIntOption(libc, fd, SOL_SOCKET, option);
  if (granted !== undefined && granted >= 2 * asked) return granted;
  setIntOption(libc, fd, SOL_SOCKET, force, asked);
  return getIntOption(libc, fd, SOL_SOCKET, option);
}

/**
 * Finds the file descriptor of this process's UDP socket bound to `ip` and
 * `port` by asking `getsockname` of each candidate descriptor. Descriptors
 * in `skip` are passed over: sockets that share an address and port
 * (`SO_REUSEADDR`) cannot be told apart otherwise, so a new socket's finder
 * skips {@linkcode claimedFds}.
 */
export function findUdpSocketFd(
  libc: Libc,
  ip: IpBytes,
  port: number,
  skip?: ReadonlySet<number>,
): number | undefined {
  const name = new Uint8Array(SOCKADDR_BYTES);
  const view = new DataView(name.buffer);
  const length = new Uint32Array(1);
  for (const fd of candidateFds()) {
    if (skip?.has(fd)) continue;
    length[0] = SOCKADDR_BYTES;
    if (libc.symbols.getsockname(fd, name, length) !== 0) continue;
    const bound = readSockaddr(view, 0);
    if (bound === undefined || bound.port !== port) continue;
    if (!sameIp(bound.ip, ip)) continue;
    if (getIntOption(libc, fd, SOL_SOCKET, SO_TYPE) !== SOCK_DGRAM) continue;
    return fd;
  }
  return undefined;
}

function sameIp(a: IpBytes, b: IpBytes): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function* candidateFds(): Generator<number> {
  const listed = listOpenFds();
  if (listed !== undefined) {
    yield* listed;
    return;
  }
  for (let fd = 3; fd < 4096; fd++) yield fd;
}

/**
 * Descriptors of the sockets this module's callers opened and still hold,
 * native and Deno alike: added when a socket opens, removed as it closes.
 */
export const claimedFds: Set<number> = new Set();

function listOpenFds(): number[] | undefined {
  // Query first: reading without the permission would prompt.
  const read = { name: "read", path: "/proc/self/fd" } as const;
  if (Deno.permissions.querySync(read).state !== "granted") return undefined;
  try {
    return [...Deno.readDirSync("/proc/self/fd")]
      .map((entry) => Number(entry.name))
      .filter((fd) => fd > 2);
  } catch {
    return undefined;
  }
}
