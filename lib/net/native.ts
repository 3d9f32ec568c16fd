/**
 * A {@linkcode DatagramSocket} over libc on Linux: `recvmmsg` fills a whole
 * batch of datagrams per call and `sendmmsg` sends many in order per call,
 * with all kernel-facing memory allocated once.
 *
 * Receiving first takes whatever is already queued with a non-blocking
 * `recvmmsg` on the calling thread (no thread hop, the common case under
 * load). When nothing is queued it runs `recvmmsg(MSG_WAITFORONE)` on an FFI
 * worker thread, so the event loop stays free while the socket waits, and the
 * call returns every datagram queued once the first arrives. `close` shuts
 * the socket down, which wakes that thread; the descriptor is closed only
 * after every thread has left it, so a recycled descriptor number is never
 * read.
 *
 * Segmentation offload, on by default, moves most per-datagram work out of
 * the kernel's socket layer without changing a byte on the wire. Sending, a
 * run of equal-size datagrams (the last may be shorter) goes down as one
 * buffer with `UDP_SEGMENT`, and the kernel or the network card cuts it into
 * those same datagrams. Receiving, `UDP_GRO` lets the kernel hand over such
 * a run as one buffer, which {@linkcode DatagramSocket.receive} splits back
 * into its datagrams. On loopback, where no card cuts anything, a run sent
 * with `UDP_SEGMENT` reaches a `UDP_GRO` socket whole. When a path refuses
 * segmentation (a datagram size past its MTU, say, or no checksum offload),
 * the socket sends one datagram per message from then on.
 *
 * Sending runs `sendmmsg(MSG_DONTWAIT)` on the calling thread: it never
 * blocks the event loop, and it measured 2 to 4 times the datagrams per
 * second of the same call on a worker thread (13 µs against 80 µs per
 * single-datagram call on loopback). When the send buffer is full (`EAGAIN`)
 * it waits on a worker thread with `poll` until the socket is writable, and
 * on `ENOBUFS` it backs off briefly, then resumes where the kernel stopped:
 * datagrams are delayed, never dropped here.
 *
 * Multicast options are socket options set through libc: `SO_REUSEADDR`
 * before bind, then `IP_MULTICAST_TTL`, `IP_MULTICAST_LOOP`,
 * `IP_MULTICAST_IF`, and `IP_ADD_MEMBERSHIP` with a `struct ip_mreq` (their
 * `IPV6_` twins for IPv6, the interface given by index). Segmented runs go
 * to groups as to any address: each member gets the datagrams one by one,
 * or, with `UDP_GRO`, as runs that it splits back.
 *
 * @module
 */

import {
  addressOf,
  AF_INET,
  AF_INET6,
  Errno,
  errnoCode,
  errnoText,
  IOVEC_BYTES,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  type Libc,
  loadLibc,
  MMSGHDR_BYTES,
  MSG_DONTWAIT,
  MSG_WAITFORONE,
  POLLOUT,
  SHUT_RDWR,
  SO_REUSEADDR,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCKADDR_BYTES,
  SOL_SOCKET,
  SOL_UDP,
  UDP_GRO,
  UDP_SEGMENT,
  writeAddress,
} from "./_libc.ts";
import {
  checkPort,
  endpointKey,
  formatIp,
  type IpBytes,
  parseIp,
} from "./_ip.ts";
import { EndpointCache, type SenderEntry } from "./_endpoint_cache.ts";
import {
  applySendOptions,
  changeMembership,
  checkGroup,
  checkInterface,
  type MulticastPlan,
  planMulticast,
} from "./_multicast.ts";
import { bindError, sendError } from "./_error_messages.ts";
import {
  claimedFds,
  readSockaddr,
  setBufferSize,
  setIntOption,
  writeSockaddr,
} from "./_sockopt.ts";
import {
  type DatagramBatch,
  type DatagramSocket,
  DEFAULT_RECEIVE_BUFFER_BYTES,
  type Endpoint,
  type MulticastSocketOptions,
} from "./types.ts";

/** Options for {@linkcode openNativeDatagramSocket}. */
export interface NativeDatagramSocketOptions extends MulticastSocketOptions {
  /** Local address: an IPv4 or IPv6 literal, or `localhost`. */
  hostname: string;
  /** Local port; 0 lets the kernel choose. */
  port: number;
  /**
   * Kernel receive buffer to ask for, in bytes. Past `net.core.rmem_max` it
   * is forced when the process may (root or CAP_NET_ADMIN).
   *
   * @default {4194304}
   */
  receiveBufferBytes?: number;
  /**
   * Kernel send buffer to ask for, in bytes.
   *
   * @default {1048576}
   */
  sendBufferBytes?: number;
  /**
   * Messages one `recvmmsg` call takes. Each batch holds
   * `batchSize * 65536` bytes; with receive offload a message may hold many
   * datagrams, so one `receive` can return more than `batchSize`.
   *
   * @default {64}
   */
  batchSize?: number;
  /**
   * Whether to use UDP segmentation offload: `UDP_SEGMENT` for runs of
   * equal-size datagrams sent together, and `UDP_GRO` on receive. The
   * datagrams on the wire are the same either way.
   *
   * @default {true}
   */
  offload?: boolean;
}

/** Bytes reserved per received datagram: more than any UDP payload. */
const SLOT_BYTES = 65536;
/** The kernel's cap on messages per `sendmmsg` (UIO_MAXIOV). */
const MAX_SEND_MESSAGES = 1024;
/** Datagrams are copied here so that their addresses are known in advance. */
const STAGING_BYTES = 2 * 1024 * 1024;
const HEADER_WORDS = MMSGHDR_BYTES / 4;
const IOVEC_WORDS = IOVEC_BYTES / 4;
/** Word index of `msg_len` in an `mmsghdr`. */
const MSG_LEN_WORD = 14;
/** Word index of `msg_namelen` in an `mmsghdr`. */
const NAMELEN_WORD = 2;
/** Word index of `msg_control` (a pointer) in an `mmsghdr`. */
const CONTROL_WORD = 8;
/** Word index of `msg_controllen` (its low half) in an `mmsghdr`. */
const CONTROLLEN_WORD = 10;
/**
 * One control message, `CMSG_SPACE(4)`: `cmsg_len` (u64), `cmsg_level`
 * (i32), `cmsg_type` (i32), then the value at word 4.
 */
const CONTROL_BYTES = 24;
const CONTROL_WORDS = CONTROL_BYTES / 4;
/** `cmsg_len` of a `UDP_SEGMENT` message: `CMSG_LEN(sizeof(u16))`. */
const SEGMENT_CMSG_LEN = 18;
/** Datagrams per `UDP_SEGMENT` send: the kernel's limit before Linux 6.11. */
const MAX_SEGMENTS = 64;
/** Bytes per `UDP_SEGMENT` send: one IPv4 packet's payload at most. */
const MAX_SEGMENTED_BYTES = 65507;
/** Errors with which a path refuses `UDP_SEGMENT`. */
const OFFLOAD_REFUSED: ReadonlySet<number> = new Set([
  Errno.EMSGSIZE,
  Errno.EINVAL,
  Errno.EIO,
  Errno.ENOPROTOOPT,
  Errno.EOPNOTSUPP,
]);
/**
 * Datagrams one `receive` can return, per message slot. Offloaded messages
 * with more datagrams than fit are handed out over further `receive` calls
 * without another system call.
 */
const ENTRIES_PER_SLOT = 16;
const ENOBUFS_BACKOFF_MS = 1;
const POLL_TIMEOUT_MS = 100;
/**
 * Receives served from already-queued datagrams before one goes through the
 * worker thread anyway, which lets timers and other I/O run.
 */
const MAX_READY_STREAK = 8;
const NO_SENDER: Endpoint = Object.freeze({ hostname: "", port: 0 });
const EMPTY = new Uint8Array(0);

/** The kernel-facing memory of a batch, out of the caller's sight. */
interface BatchMemory {
  readonly size: number;
  readonly headerWords: Uint32Array;
  readonly headers: Deno.PointerObject;
  readonly names: DataView;
  /** One control message per slot, where `UDP_GRO` reports its size. */
  readonly control: Uint32Array;
  /** Referenced by raw address from the headers; kept alive here. */
  readonly iovecs: Uint32Array;
  busy: boolean;
  /** Messages the last `recvmmsg` returned. */
  received: number;
  /** The first message not yet handed out in full. */
  next: number;
  /** Bytes of message `next` already handed out. */
  nextOffset: number;
}

const batchMemory = new WeakMap<DatagramBatch, BatchMemory>();

/**
 * Opens a UDP socket bound to `hostname:port` that receives and sends in
 * batches through libc. Needs Linux on x86_64 or aarch64 and FFI permission.
 *
 * @param options Address, port and buffer sizes.
 * @returns The bound socket; `receiveBufferBytes` is what the kernel granted
 * (Linux reports twice the usable payload room).
 * @throws {BindError} When the address cannot be bound, such as a port in use.
 * @throws {TypeError} When a multicast group or interface is not an address
 * or cannot work with the bound address.
 * @throws {RangeError} When a group is not multicast or a TTL is out of range.
 * @throws {MulticastError} When the kernel refuses a group or interface.
 * @throws {Error} When libc cannot be used here.
 *
 * @example Echoing one datagram to itself
 * ```ts
 * import { openNativeDatagramSocket } from "./native.ts";
 *
 * const socket = openNativeDatagramSocket({ hostname: "127.0.0.1", port: 0 });
 * const batch = socket.createBatch();
 * await socket.send(new TextEncoder().encode("hello"), socket.addr);
 * await socket.receive(batch);
 * const start = batch.offsets[0]!;
 * const text = new TextDecoder().decode(
 *   batch.buffer.subarray(start, start + batch.lengths[0]!),
 * );
 * console.log(text, "from", batch.senderKeys[0]);
 * socket.close();
 * ```
 */
export function openNativeDatagramSocket(
  options: NativeDatagramSocketOptions,
): DatagramSocket {
  const libc = loadLibc();
  if (libc === undefined) {
    throw new Error(
      "Cannot open a native UDP socket: it needs Linux on x86_64 or aarch64, FFI permission (--allow-ffi) and libc.so.6; use the deno implementation instead",
    );
  }
  const {
    hostname,
    port,
    receiveBufferBytes = DEFAULT_RECEIVE_BUFFER_BYTES,
    sendBufferBytes = 1024 * 1024,
    batchSize = 64,
    offload = true,
  } = options;
  checkPort(port, "local");
  checkPositive(receiveBufferBytes, "receiveBufferBytes");
  checkPositive(sendBufferBytes, "sendBufferBytes");
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1024) {
    throw new RangeError(
      `Cannot use batchSize ${batchSize}: expected an integer from 1 to 1024`,
    );
  }
  const ip = parseIp(hostname);
  if (ip === undefined) {
    throw new TypeError(
      `Cannot bind UDP to "${hostname}": expected an IPv4 or IPv6 address or localhost`,
    );
  }
  const plan = planMulticast(options, ip);
  const endpoint = { hostname: formatIp(ip), port };
  const family = ip.length === 4 ? AF_INET : AF_INET6;
  const { symbols } = libc;
  const fd = symbols.socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const errno = libc.errno();
    throw bindError(errnoCode(errno), errnoText(errno), endpoint);
  }
  try {
    const bound = bind(libc, fd, family, ip, endpoint, plan);
    const granted = setBufferSize(libc, fd, "receive", receiveBufferBytes);
    setBufferSize(libc, fd, "send", sendBufferBytes);
    const coalesce = offload && setIntOption(libc, fd, SOL_UDP, UDP_GRO, 1);
    applySendOptions(libc, fd, family, plan);
    for (const group of plan.groups) {
      changeMembership(libc, fd, family, "join", group, plan.joinInterface);
    }
    claimedFds.add(fd);
    return new NativeDatagramSocket(libc, fd, family, ip, bound, granted, {
      batchSize,
      segment: offload,
      coalesce,
    });
  } catch (error) {
    symbols.close(fd);
    throw error;
  }
}

function checkPositive(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot use ${name} ${value}: expected a positive integer`,
    );
  }
}

/** Binds and returns the bound endpoint with the port the kernel chose. */
function bind(
  libc: Libc,
  fd: number,
  family: number,
  ip: IpBytes,
  endpoint: Endpoint,
  plan: MulticastPlan,
): Endpoint {
  if (family === AF_INET6) {
    // Accept IPv4 too on "::", whatever net.ipv6.bindv6only says.
    setIntOption(libc, fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
  }
  if (plan.reuseAddress) setIntOption(libc, fd, SOL_SOCKET, SO_REUSEADDR, 1);
  const name = new Uint8Array(SOCKADDR_BYTES);
  const view = new DataView(name.buffer);
  const length = writeSockaddr(view, 0, family, ip, endpoint.port);
  if (libc.symbols.bind(fd, name, length) !== 0) {
    const errno = libc.errno();
    throw bindError(errnoCode(errno), errnoText(errno), endpoint);
  }
  const nameLength = new Uint32Array([SOCKADDR_BYTES]);
  if (libc.symbols.getsockname(fd, name, nameLength) !== 0) {
    const errno = libc.errno();
    throw bindError(errnoCode(errno), errnoText(errno), endpoint);
  }
  const actual = readSockaddr(view, 0);
  return { hostname: endpoint.hostname, port: actual?.port ?? endpoint.port };
}

/** How a socket batches and offloads. */
interface Batching {
  readonly batchSize: number;
  /** Whether to send runs of equal-size datagrams with `UDP_SEGMENT`. */
  readonly segment: boolean;
  /** Whether `UDP_GRO` is on, so that received messages may hold runs. */
  readonly coalesce: boolean;
}

class NativeDatagramSocket implements DatagramSocket {
  readonly kind = "native" as const;
  readonly #libc: Libc;
  readonly #family: number;
  readonly #boundIp: IpBytes;
  readonly #addr: Endpoint;
  readonly #receiveBufferBytes: number | undefined;
  readonly #batchSize: number;
  readonly #coalesce: boolean;
  /** Cleared for good when a path refuses `UDP_SEGMENT`. */
  #segment: boolean;
  readonly #senders = new EndpointCache();
  #fd: number;
  #closed = false;
  /** Worker-thread calls still using the descriptor. */
  #pending = 0;
  #readyStreak = 0;

  readonly #staging = new Uint8Array(STAGING_BYTES);
  readonly #stagingAddress: number;
  readonly #sendHeaderWords = new Uint32Array(
    MAX_SEND_MESSAGES * HEADER_WORDS,
  );
  readonly #sendHeaders: Deno.PointerObject;
  readonly #sendIovecs = new Uint32Array(MAX_SEND_MESSAGES * IOVEC_WORDS);
  readonly #sendControl = new Uint32Array(MAX_SEND_MESSAGES * CONTROL_WORDS);
  /** Index of the first datagram after each staged message. */
  readonly #messageEnds = new Int32Array(MAX_SEND_MESSAGES);
  readonly #target = new Uint8Array(SOCKADDR_BYTES);
  readonly #targetView = new DataView(this.#target.buffer);
  #targetHost = "";
  #targetPort = -1;
  readonly #one: Uint8Array[] = [EMPTY];
  /** The last queued send, while sends wait for buffer space. */
  #sendTail: Promise<void> | undefined;
  #blockedBy = 0;
  readonly #pollFd = new Int32Array(2);
  readonly #pollFdPointer: Deno.PointerObject;

  constructor(
    libc: Libc,
    fd: number,
    family: number,
    boundIp: IpBytes,
    addr: Endpoint,
    receiveBufferBytes: number | undefined,
    batching: Batching,
  ) {
    this.#libc = libc;
    this.#fd = fd;
    this.#family = family;
    this.#boundIp = boundIp;
    this.#addr = Object.freeze(addr);
    this.#receiveBufferBytes = receiveBufferBytes;
    this.#batchSize = batching.batchSize;
    this.#segment = batching.segment;
    this.#coalesce = batching.coalesce;
    this.#stagingAddress = addressOf(this.#staging);
    this.#sendHeaders = pointerTo(this.#sendHeaderWords);
    this.#pollFdPointer = pointerTo(this.#pollFd);
    this.#pollFd[0] = fd;
    this.#pollFd[1] = POLLOUT;
    const targetAddress = addressOf(this.#target);
    const iovecAddress = addressOf(this.#sendIovecs);
    const controlAddress = addressOf(this.#sendControl);
    const nameLength = family === AF_INET ? 16 : 28;
    const words = this.#sendHeaderWords;
    for (let i = 0; i < MAX_SEND_MESSAGES; i++) {
      const h = i * HEADER_WORDS;
      writeAddress(words, h, targetAddress);
      words[h + NAMELEN_WORD] = nameLength;
      writeAddress(words, h + 4, iovecAddress + i * IOVEC_BYTES);
      words[h + 6] = 1;
      // msg_controllen stays 0, and the control message unread, unless the
      // message is a segmented run.
      writeAddress(words, h + CONTROL_WORD, controlAddress + i * CONTROL_BYTES);
      const c = i * CONTROL_WORDS;
      this.#sendControl[c] = SEGMENT_CMSG_LEN;
      this.#sendControl[c + 2] = SOL_UDP;
      this.#sendControl[c + 3] = UDP_SEGMENT;
    }
  }

  get addr(): Endpoint {
    return this.#addr;
  }

  get receiveBufferBytes(): number | undefined {
    return this.#receiveBufferBytes;
  }

  createBatch(): DatagramBatch {
    const size = this.#batchSize;
    const buffer = new Uint8Array(size * SLOT_BYTES);
    const headerWords = new Uint32Array(size * HEADER_WORDS);
    const iovecs = new Uint32Array(size * IOVEC_WORDS);
    const names = new Uint8Array(size * SOCKADDR_BYTES);
    const control = new Uint32Array(size * CONTROL_WORDS);
    const bufferAddress = addressOf(buffer);
    const iovecAddress = addressOf(iovecs);
    const namesAddress = addressOf(names);
    const controlAddress = addressOf(control);
    for (let i = 0; i < size; i++) {
      writeAddress(iovecs, i * IOVEC_WORDS, bufferAddress + i * SLOT_BYTES);
      iovecs[i * IOVEC_WORDS + 2] = SLOT_BYTES;
      const h = i * HEADER_WORDS;
      writeAddress(headerWords, h, namesAddress + i * SOCKADDR_BYTES);
      writeAddress(headerWords, h + 4, iovecAddress + i * IOVEC_BYTES);
      headerWords[h + 6] = 1;
      if (this.#coalesce) {
        writeAddress(
          headerWords,
          h + CONTROL_WORD,
          controlAddress + i * CONTROL_BYTES,
        );
      }
    }
    const entries = size * (this.#coalesce ? ENTRIES_PER_SLOT : 1);
    const batch: DatagramBatch = {
      count: 0,
      buffer,
      offsets: new Int32Array(entries),
      lengths: new Int32Array(entries),
      senders: new Array<Endpoint>(entries).fill(NO_SENDER),
      senderKeys: new Array<string>(entries).fill(""),
    };
    batchMemory.set(batch, {
      size,
      headerWords,
      headers: pointerTo(headerWords),
      names: new DataView(names.buffer),
      control,
      iovecs,
      busy: false,
      received: 0,
      next: 0,
      nextOffset: 0,
    });
    return batch;
  }

  async receive(batch: DatagramBatch): Promise<number> {
    const memory = batchMemory.get(batch);
    if (memory === undefined) {
      throw new TypeError(
        "Cannot receive into this batch: it was not made by a native socket's createBatch()",
      );
    }
    if (memory.busy) {
      throw new TypeError(
        "Cannot receive into a batch that is already receiving: use one batch per receive loop",
      );
    }
    batch.count = 0;
    if (this.#closed) return 0;
    // The rest of the last call's messages, with no system call.
    if (memory.next < memory.received) return this.#fill(batch, memory);
    const { symbols } = this.#libc;
    memory.busy = true;
    this.#pending++;
    try {
      for (;;) {
        if (this.#readyStreak < MAX_READY_STREAK) {
          const ready = this.#receiveReady(memory);
          if (ready > 0) {
            this.#readyStreak++;
            return this.#take(batch, memory, ready);
          }
        }
        this.#readyStreak = 0;
        this.#resetHeaders(memory);
        const count = await symbols.recvmmsgBlocking(
          this.#fd,
          memory.headers,
          memory.size,
          MSG_WAITFORONE,
          null,
        );
        if (this.#closed) return 0;
        // On failure the worker thread's errno is out of reach; the next
        // receiveReady repeats the call here and reads it.
        if (count >= 0) return this.#take(batch, memory, count);
      }
    } finally {
      memory.busy = false;
      this.#release();
    }
  }

  /**
   * Takes what is already queued without blocking or leaving this thread;
   * returns 0 when nothing is.
   */
  #receiveReady(memory: BatchMemory): number {
    this.#resetHeaders(memory);
    const count = this.#libc.symbols.recvmmsg(
      this.#fd,
      memory.headers,
      memory.size,
      MSG_DONTWAIT,
      null,
    );
    if (count >= 0) return count;
    const errno = this.#libc.errno();
    if (errno === Errno.EAGAIN || errno === Errno.EINTR) return 0;
    throw new Error(
      `Cannot receive on UDP ${endpointKey(this.#addr)}: ${errnoText(errno)} (${
        errnoCode(errno)
      })`,
    );
  }

  /** Hands out the messages one `recvmmsg` call returned. */
  #take(batch: DatagramBatch, memory: BatchMemory, received: number): number {
    memory.received = received;
    memory.next = 0;
    memory.nextOffset = 0;
    return this.#fill(batch, memory);
  }

  /**
   * Fills `batch` with the datagrams of the messages not yet handed out,
   * splitting offloaded runs, as far as the batch has room.
   */
  #fill(batch: DatagramBatch, memory: BatchMemory): number {
    const { headerWords, names, received } = memory;
    const { offsets, lengths, senders, senderKeys } = batch;
    const capacity = offsets.length;
    let count = 0;
    let message = memory.next;
    let at = memory.nextOffset;
    while (message < received && count < capacity) {
      const length = headerWords[message * HEADER_WORDS + MSG_LEN_WORD]!;
      const step = (this.#coalesce && segmentSize(memory, message)) || length;
      const { endpoint, key } = this.#sender(names, message * SOCKADDR_BYTES);
      const base = message * SLOT_BYTES;
      do {
        const part = Math.min(step, length - at);
        offsets[count] = base + at;
        lengths[count] = part;
        senders[count] = endpoint;
        senderKeys[count] = key;
        count++;
        at += part;
      } while (at < length && count < capacity);
      if (at < length) break;
      at = 0;
      message++;
    }
    memory.next = message;
    memory.nextOffset = at;
    batch.count = count;
    return count;
  }

  /** The cached sender whose sockaddr starts at `at`. */
  #sender(names: DataView, at: number): SenderEntry {
    const cache = this.#senders;
    const port = names.getUint16(at + 2, false);
    if (names.getUint16(at, true) === AF_INET) {
      return cache.ipv4(names.getUint32(at + 4, false), port);
    }
    const w0 = names.getUint32(at + 8, false);
    const w1 = names.getUint32(at + 12, false);
    const w2 = names.getUint32(at + 16, false);
    const w3 = names.getUint32(at + 20, false);
    // Report IPv4-mapped senders as plain IPv4.
    return w0 === 0 && w1 === 0 && w2 === 0xffff
      ? cache.ipv4(w3, port)
      : cache.ipv6(w0, w1, w2, w3, port);
  }

  /** Restores the lengths that `recvmmsg` overwrites in each header. */
  #resetHeaders(memory: BatchMemory): void {
    const words = memory.headerWords;
    const controlBytes = this.#coalesce ? CONTROL_BYTES : 0;
    for (let i = 0; i < memory.size; i++) {
      const h = i * HEADER_WORDS;
      words[h + NAMELEN_WORD] = SOCKADDR_BYTES;
      words[h + CONTROLLEN_WORD] = controlBytes;
    }
  }

  send(data: Uint8Array, to: Endpoint): Promise<void> {
    if (this.#sendTail === undefined) {
      this.#one[0] = data;
      try {
        if (this.#sendNow(this.#one, 0, to) === 1) return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      } finally {
        this.#one[0] = EMPTY;
      }
    }
    return this.#queue([data], to);
  }

  sendMany(datagrams: readonly Uint8Array[], to: Endpoint): Promise<void> {
    if (this.#sendTail === undefined) {
      try {
        const sent = this.#sendNow(datagrams, 0, to);
        if (sent === datagrams.length) return Promise.resolve();
        return this.#queue(datagrams, to, sent);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#queue(datagrams, to);
  }

  /** Sends after every earlier send that had to wait, to keep the order. */
  #queue(
    datagrams: readonly Uint8Array[],
    to: Endpoint,
    start = 0,
  ): Promise<void> {
    const run = () => this.#sendRest(datagrams, start, to);
    const previous = this.#sendTail;
    const op = previous === undefined ? run() : previous.then(run, run);
    this.#sendTail = op;
    const settle = () => {
      if (this.#sendTail === op) this.#sendTail = undefined;
    };
    op.then(settle, settle);
    return op;
  }

  async #sendRest(
    datagrams: readonly Uint8Array[],
    start: number,
    to: Endpoint,
  ): Promise<void> {
    let index = this.#sendNow(datagrams, start, to);
    while (index < datagrams.length) {
      await this.#waitWritable();
      index = this.#sendNow(datagrams, index, to);
    }
  }

  async #waitWritable(): Promise<void> {
    if (this.#blockedBy === Errno.ENOBUFS) {
      // A queue below the socket is full; poll would report writable at once.
      await new Promise((resolve) => setTimeout(resolve, ENOBUFS_BACKOFF_MS));
      return;
    }
    if (this.#closed) return;
    this.#pending++;
    try {
      await this.#libc.symbols.pollBlocking(
        this.#pollFdPointer,
        1n,
        POLL_TIMEOUT_MS,
      );
    } finally {
      this.#release();
    }
  }

  /**
   * Sends from `start` without blocking and returns the index of the first
   * datagram not sent (all of them unless the send buffer is full).
   */
  #sendNow(
    datagrams: readonly Uint8Array[],
    start: number,
    to: Endpoint,
  ): number {
    if (this.#closed) {
      throw new Deno.errors.BadResource(
        "Cannot send: the UDP socket is closed",
      );
    }
    this.#setTarget(to, datagrams[start]?.length ?? 0);
    const { sendmmsg } = this.#libc.symbols;
    const ends = this.#messageEnds;
    let index = start;
    while (index < datagrams.length) {
      const messages = this.#stage(datagrams, index, to);
      let sent = 0;
      while (sent < messages) {
        const headers = sent === 0
          ? this.#sendHeaders
          : Deno.UnsafePointer.offset(this.#sendHeaders, sent * MMSGHDR_BYTES);
        const result = sendmmsg(
          this.#fd,
          headers,
          messages - sent,
          MSG_DONTWAIT,
        );
        if (result > 0) {
          sent += result;
          continue;
        }
        const errno = this.#libc.errno();
        if (errno === Errno.EINTR) continue;
        const reached = sent === 0 ? index : ends[sent - 1]!;
        if (errno === Errno.EAGAIN || errno === Errno.ENOBUFS) {
          this.#blockedBy = errno;
          return reached;
        }
        const segmented =
          this.#sendHeaderWords[sent * HEADER_WORDS + CONTROLLEN_WORD] !== 0;
        if (segmented && OFFLOAD_REFUSED.has(errno)) {
          // Stage the rest again, one datagram per message.
          this.#segment = false;
          break;
        }
        throw sendError(
          errnoCode(errno),
          errnoText(errno),
          datagrams[reached]?.length ?? 0,
          to,
        );
      }
      index = sent === 0 ? index : ends[sent - 1]!;
    }
    return index;
  }

  /**
   * Copies datagrams from `start` into the staging buffer as messages for
   * `sendmmsg`, each a single datagram or, with segmentation on, a run of
   * equal-size datagrams whose last may be shorter. Returns how many
   * messages it staged; `#messageEnds` tells where each one ends.
   */
  #stage(
    datagrams: readonly Uint8Array[],
    start: number,
    to: Endpoint,
  ): number {
    const staging = this.#staging;
    const iovecs = this.#sendIovecs;
    const words = this.#sendHeaderWords;
    const segment = this.#segment;
    let index = start;
    let messages = 0;
    let offset = 0;
    while (index < datagrams.length && messages < MAX_SEND_MESSAGES) {
      const first = datagrams[index]!;
      const size = first.length;
      if (offset + size > STAGING_BYTES) {
        if (messages > 0) break;
        throw sendError("EMSGSIZE", "message too long", size, to);
      }
      staging.set(first, offset);
      index++;
      let bytes = size;
      let count = 1;
      while (segment && index < datagrams.length && count < MAX_SEGMENTS) {
        const next = datagrams[index]!;
        const length = next.length;
        if (
          length > size || length === 0 ||
          bytes + length > MAX_SEGMENTED_BYTES ||
          offset + bytes + length > STAGING_BYTES
        ) break;
        staging.set(next, offset + bytes);
        index++;
        bytes += length;
        count++;
        if (length < size) break;
      }
      const v = messages * IOVEC_WORDS;
      writeAddress(iovecs, v, this.#stagingAddress + offset);
      iovecs[v + 2] = bytes;
      words[messages * HEADER_WORDS + CONTROLLEN_WORD] = count > 1
        ? CONTROL_BYTES
        : 0;
      this.#sendControl[messages * CONTROL_WORDS + 4] = size;
      this.#messageEnds[messages] = index;
      offset += bytes;
      messages++;
    }
    return messages;
  }

  /** Writes the destination sockaddr unless it is the last one used. */
  #setTarget(to: Endpoint, size: number): void {
    if (to.hostname === this.#targetHost && to.port === this.#targetPort) {
      return;
    }
    checkPort(to.port, "destination");
    const ip = parseIp(to.hostname);
    if (ip === undefined) {
      throw new TypeError(
        `Cannot send to "${to.hostname}": expected an IPv4 or IPv6 address or localhost; resolve host names first with resolveEndpoint()`,
      );
    }
    this.#targetPort = -1;
    const length = writeSockaddr(
      this.#targetView,
      0,
      this.#family,
      ip,
      to.port,
    );
    if (length === 0) {
      throw sendError("EAFNOSUPPORT", "address family not supported", size, to);
    }
    this.#targetHost = to.hostname;
    this.#targetPort = to.port;
  }

  joinGroup(group: string, interfaceAddress?: string): Promise<void> {
    return this.#membership("join", group, interfaceAddress);
  }

  leaveGroup(group: string, interfaceAddress?: string): Promise<void> {
    return this.#membership("leave", group, interfaceAddress);
  }

  #membership(
    action: "join" | "leave",
    group: string,
    interfaceAddress: string | undefined,
  ): Promise<void> {
    try {
      if (this.#closed) {
        throw new Deno.errors.BadResource(
          `Cannot ${action} multicast group ${group}: the UDP socket is closed`,
        );
      }
      const checked = checkGroup(group, this.#boundIp);
      checkInterface(interfaceAddress, checked.ip, "join");
      changeMembership(
        this.#libc,
        this.#fd,
        this.#family,
        action,
        checked,
        interfaceAddress,
      );
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Wakes threads blocked in recvmmsg or poll on this socket.
    this.#libc.symbols.shutdown(this.#fd, SHUT_RDWR);
    if (this.#pending === 0) this.#closeFd();
  }

  #release(): void {
    this.#pending--;
    if (this.#closed && this.#pending === 0) this.#closeFd();
  }

  #closeFd(): void {
    if (this.#fd < 0) return;
    claimedFds.delete(this.#fd);
    this.#libc.symbols.close(this.#fd);
    this.#fd = -1;
  }
}

/**
 * The datagram size of an offloaded run that `UDP_GRO` reported for a
 * received message, or 0 when the message is one datagram.
 */
function segmentSize(memory: BatchMemory, message: number): number {
  const length = memory.headerWords[message * HEADER_WORDS + CONTROLLEN_WORD]!;
  if (length < CONTROL_BYTES - 4) return 0;
  const c = message * CONTROL_WORDS;
  const { control } = memory;
  if (control[c + 2] !== SOL_UDP || control[c + 3] !== UDP_GRO) return 0;
  return control[c + 4]!;
}

function pointerTo(words: Uint32Array | Int32Array): Deno.PointerObject {
  const pointer = Deno.UnsafePointer.of(words);
  if (pointer === null) throw new Error("Cannot take the address of a buffer");
  return pointer;
}
