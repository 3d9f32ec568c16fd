/**
 * The libc calls behind the native datagram socket, loaded once per process
 * with `Deno.dlopen`. Struct layouts in this folder assume 64-bit
 * little-endian Linux (x86_64 and aarch64 share them).
 *
 * @module
 */

/** Address family of IPv4 sockets. */
export const AF_INET = 2;
/** Address family of IPv6 sockets. */
export const AF_INET6 = 10;
/** Datagram socket type. */
export const SOCK_DGRAM = 2;
/** Keeps the socket out of child processes. */
export const SOCK_CLOEXEC = 0o2000000;
/** Socket-level options. */
export const SOL_SOCKET = 1;
/** Lets sockets share an address and port; set before bind. */
export const SO_REUSEADDR = 2;
/** Socket type option (read-only). */
export const SO_TYPE = 3;
/** Send buffer size, capped by `net.core.wmem_max`. */
export const SO_SNDBUF = 7;
/** Receive buffer size, capped by `net.core.rmem_max`. */
export const SO_RCVBUF = 8;
/** Send buffer size past `wmem_max`; needs CAP_NET_ADMIN. */
export const SO_SNDBUFFORCE = 32;
/** Receive buffer size past `rmem_max`; needs CAP_NET_ADMIN. */
export const SO_RCVBUFFORCE = 33;
/** UDP-level options. */
export const SOL_UDP = 17;
/**
 * Send option (a `u16` control message): the kernel cuts the payload into
 * datagrams of this size, the last one possibly shorter (Linux 4.18).
 */
export const UDP_SEGMENT = 103;
/**
 * Receive option: the kernel may hand over equal-size datagrams of one flow
 * as one buffer, with their size in a control message (Linux 5.0).
 */
export const UDP_GRO = 104;
/** IPv4-level options. */
export const IPPROTO_IP = 0;
/** Interface multicast leaves by: an `in_addr` (or `ip_mreqn`). */
export const IP_MULTICAST_IF = 32;
/** Time to live of sent multicast, an int from 0 to 255 (default 1). */
export const IP_MULTICAST_TTL = 33;
/** Whether sent multicast loops back to members on this host (default 1). */
export const IP_MULTICAST_LOOP = 34;
/** Joins a group: a `struct ip_mreq` (group, interface address). */
export const IP_ADD_MEMBERSHIP = 35;
/** Leaves a group: a `struct ip_mreq`. */
export const IP_DROP_MEMBERSHIP = 36;
/**
 * When 1 (the default) a socket bound to the wildcard address receives every
 * group any socket on the host joined at its port; 0 limits it to its own.
 */
export const IP_MULTICAST_ALL = 49;
/** IPv6-level options. */
export const IPPROTO_IPV6 = 41;
/** Interface IPv6 multicast leaves by: an int interface index. */
export const IPV6_MULTICAST_IF = 17;
/** Hop limit of sent IPv6 multicast, an int from 0 to 255 (default 1). */
export const IPV6_MULTICAST_HOPS = 18;
/** Whether sent IPv6 multicast loops back to local members (default 1). */
export const IPV6_MULTICAST_LOOP = 19;
/** Joins an IPv6 group: a `struct ipv6_mreq` (group, interface index). */
export const IPV6_JOIN_GROUP = 20;
/** Leaves an IPv6 group: a `struct ipv6_mreq`. */
export const IPV6_LEAVE_GROUP = 21;
/** Whether an IPv6 socket refuses IPv4-mapped traffic. */
export const IPV6_V6ONLY = 26;
/** The IPv6 twin of {@linkcode IP_MULTICAST_ALL}. */
export const IPV6_MULTICAST_ALL = 29;
/** Do not block this one call. */
export const MSG_DONTWAIT = 0x40;
/** `recvmmsg`: block for the first datagram only. */
export const MSG_WAITFORONE = 0x10000;
/** Shut down both directions; wakes threads blocked on the socket. */
export const SHUT_RDWR = 2;
/** `poll`: writable. */
export const POLLOUT = 4;

/** Size of `struct mmsghdr` (a 56-byte `msghdr` plus `msg_len`, padded). */
export const MMSGHDR_BYTES = 64;
/** Size of `struct iovec`. */
export const IOVEC_BYTES = 16;
/** Room for a `sockaddr_in6` (28 bytes), rounded up for alignment. */
export const SOCKADDR_BYTES = 32;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "u32"],
    result: "i32",
  },
  getsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "buffer"],
    result: "i32",
  },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  // Runs on a worker thread so that a blocking wait for the first datagram
  // does not stall the event loop.
  recvmmsgBlocking: {
    name: "recvmmsg",
    parameters: ["i32", "pointer", "u32", "i32", "pointer"],
    result: "i32",
    nonblocking: true,
  },
  // Same call on this thread, used with MSG_DONTWAIT to read errno, which a
  // worker thread's call leaves in that thread's errno.
  recvmmsg: {
    parameters: ["i32", "pointer", "u32", "i32", "pointer"],
    result: "i32",
  },
  sendmmsg: { parameters: ["i32", "pointer", "u32", "i32"], result: "i32" },
  pollBlocking: {
    name: "poll",
    parameters: ["pointer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** The loaded libc symbols. */
export type LibcSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Loaded libc with a cheap reader for this thread's errno. */
export interface Libc {
  /** The foreign functions. */
  readonly symbols: LibcSymbols;
  /** The errno of the last failed call made on the main thread. */
  errno(): number;
}

let loaded: Libc | null | undefined;

/**
 * Loads libc once, or returns `undefined` when it cannot be used here: not
 * Linux on x86_64 or aarch64, FFI permission not granted, or no libc.so.6.
 * Never prompts for permission.
 */
export function loadLibc(): Libc | undefined {
  if (loaded !== undefined) return loaded ?? undefined;
  loaded = null;
  if (!nativeSupported()) return undefined;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
      return undefined;
    }
    const library = Deno.dlopen("libc.so.6", SYMBOLS);
    const where = library.symbols.__errno_location();
    if (where === null) return undefined;
    const view = new Deno.UnsafePointerView(where);
    loaded = { symbols: library.symbols, errno: () => view.getInt32() };
  } catch {
    loaded = null;
  }
  return loaded ?? undefined;
}

/** Whether this OS and CPU match the struct layouts used here. */
export function nativeSupported(): boolean {
  return Deno.build.os === "linux" &&
    (Deno.build.arch === "x86_64" || Deno.build.arch === "aarch64");
}

/** Linux errno values (shared by x86_64 and aarch64), with readable text. */
const ERRNO: Record<number, readonly [code: string, text: string]> = {
  1: ["EPERM", "operation not permitted"],
  4: ["EINTR", "interrupted"],
  5: ["EIO", "input/output error"],
  9: ["EBADF", "bad file descriptor"],
  11: ["EAGAIN", "resource temporarily unavailable"],
  12: ["ENOMEM", "out of memory"],
  13: ["EACCES", "permission denied"],
  14: ["EFAULT", "bad address"],
  19: ["ENODEV", "no such device"],
  22: ["EINVAL", "invalid argument"],
  23: ["ENFILE", "too many open files in system"],
  24: ["EMFILE", "too many open files"],
  32: ["EPIPE", "socket is shut down"],
  88: ["ENOTSOCK", "not a socket"],
  89: ["EDESTADDRREQ", "destination address required"],
  90: ["EMSGSIZE", "message too long"],
  92: ["ENOPROTOOPT", "protocol not available"],
  93: ["EPROTONOSUPPORT", "protocol not supported"],
  95: ["EOPNOTSUPP", "operation not supported"],
  97: ["EAFNOSUPPORT", "address family not supported"],
  98: ["EADDRINUSE", "address already in use"],
  99: ["EADDRNOTAVAIL", "address not available on this host"],
  100: ["ENETDOWN", "network is down"],
  101: ["ENETUNREACH", "network is unreachable"],
  104: ["ECONNRESET", "connection reset by peer"],
  105: ["ENOBUFS", "no buffer space available"],
  107: ["ENOTCONN", "socket is not connected"],
  110: ["ETIMEDOUT", "timed out"],
  111: ["ECONNREFUSED", "connection refused"],
  112: ["EHOSTDOWN", "host is down"],
  113: ["EHOSTUNREACH", "no route to host"],
};

/** The symbolic name of a Linux errno value, such as `EMSGSIZE`. */
export function errnoCode(errno: number): string {
  return ERRNO[errno]?.[0] ?? `E${errno}`;
}

/** A short lowercase description of a Linux errno value. */
export function errnoText(errno: number): string {
  return ERRNO[errno]?.[1] ?? `error ${errno}`;
}

/** Linux errno values the socket code branches on. */
export const Errno = {
  EINTR: 4,
  EIO: 5,
  EAGAIN: 11,
  EINVAL: 22,
  EMSGSIZE: 90,
  ENOPROTOOPT: 92,
  EOPNOTSUPP: 95,
  ENOBUFS: 105,
} as const;

/**
 * Writes a 64-bit little-endian pointer into `words` at `index` (two 32-bit
 * words). User-space addresses fit in 48 bits, so a `number` holds them
 * exactly and no BigInt is allocated.
 */
export function writeAddress(
  words: Uint32Array,
  index: number,
  address: number,
): void {
  words[index] = address % 0x1_0000_0000;
  words[index + 1] = Math.floor(address / 0x1_0000_0000);
}

/** The address of a buffer's first byte, as a number. */
export function addressOf(buffer: Uint8Array | Uint32Array): number {
  return Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
}
