/**
 * A {@linkcode DatagramSocket} over `Deno.listenDatagram`, for systems where
 * the native one cannot run. Each receive returns one datagram into a reused
 * 65536-byte buffer, and sends go out one at a time, awaited, in call order.
 *
 * Deno cannot size the kernel receive buffer, so when FFI is allowed this
 * finds the socket's descriptor (the new one whose `getsockname` matches the
 * bound address) and sets SO_RCVBUF on it through libc.
 *
 * Multicast goes through Deno where it can: `reuseAddress` and `loopback`
 * when listening, `joinMulticastV4`/`joinMulticastV6` for groups, and the
 * membership's `setTTL`. What Deno has no call for needs FFI: the send
 * interface (`IP_MULTICAST_IF`), a TTL on a socket that joined nothing, and
 * `IP_MULTICAST_ALL` off (without FFI a socket bound to the wildcard
 * address also gets groups that other sockets joined at its port).
 *
 * @module
 */

import {
  AF_INET,
  AF_INET6,
  errnoCode,
  errnoText,
  IP_MULTICAST_ALL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_MULTICAST_ALL,
  type Libc,
  loadLibc,
} from "./_libc.ts";
import { checkPort, endpointKey, type IpBytes, parseIp } from "./_ip.ts";
import { bindError, sendError } from "./_error_messages.ts";
import {
  applySendOptions,
  checkGroup,
  checkInterface,
  type Group,
  interfaceIndex,
  multicastError,
  type MulticastPlan,
  planMulticast,
} from "./_multicast.ts";
import {
  claimedFds,
  findUdpSocketFd,
  setBufferSize,
  setOption,
} from "./_sockopt.ts";
import {
  type DatagramBatch,
  type DatagramSocket,
  DEFAULT_MULTICAST_TTL,
  DEFAULT_RECEIVE_BUFFER_BYTES,
  type Endpoint,
  type MulticastSocketOptions,
} from "./types.ts";

/** Options for {@linkcode openDenoDatagramSocket}. */
export interface DenoDatagramSocketOptions extends MulticastSocketOptions {
  /** Local address: an IPv4 or IPv6 literal, `localhost` or a host name. */
  hostname: string;
  /** Local port; 0 lets the kernel choose. */
  port: number;
  /**
   * Kernel receive buffer to ask for, in bytes; applied only when FFI is
   * allowed and libc loads.
   *
   * @default {4194304}
   */
  receiveBufferBytes?: number;
}

const BUFFER_BYTES = 65536;
const SENDER_LIMIT = 1024;
const NO_SENDER: Endpoint = Object.freeze({ hostname: "", port: 0 });

interface Sender {
  readonly endpoint: Endpoint;
  readonly key: string;
}

const batches = new WeakMap<DatagramBatch, { busy: boolean }>();

/**
 * Opens a UDP socket bound to `hostname:port` with `Deno.listenDatagram`.
 * Needs `--unstable-net` (or `"unstable": ["net"]` in deno.json).
 *
 * @param options Address, port and receive buffer size.
 * @returns The bound socket; `receiveBufferBytes` is `undefined` unless FFI
 * is allowed and the buffer could be set.
 * @throws {BindError} When the address cannot be bound, such as a port in use.
 * @throws {TypeError} When a multicast group or interface is not an address,
 * cannot work with the bound address, or needs FFI that is not allowed.
 * @throws {RangeError} When a group is not multicast or a TTL is out of range.
 * @throws {MulticastError} When the kernel refuses a group or interface.
 *
 * @example Echoing one datagram to itself
 * ```ts
 * import { openDenoDatagramSocket } from "./deno.ts";
 *
 * const socket = await openDenoDatagramSocket({ hostname: "127.0.0.1", port: 0 });
 * const batch = socket.createBatch();
 * await socket.send(new TextEncoder().encode("hello"), socket.addr);
 * await socket.receive(batch);
 * console.log(batch.lengths[0], "bytes from", batch.senderKeys[0]);
 * socket.close();
 * ```
 */
export async function openDenoDatagramSocket(
  options: DenoDatagramSocketOptions,
): Promise<DatagramSocket> {
  const { port, receiveBufferBytes = DEFAULT_RECEIVE_BUFFER_BYTES } = options;
  checkPort(port, "local");
  if (!Number.isInteger(receiveBufferBytes) || receiveBufferBytes < 1) {
    throw new RangeError(
      `Cannot use receiveBufferBytes ${receiveBufferBytes}: expected a positive integer`,
    );
  }
  const hostname = options.hostname === "localhost"
    ? "127.0.0.1"
    : options.hostname;
  const boundIp = parseIp(hostname);
  // Host names are bound as Deno resolves them; multicast needs a literal.
  const plan = boundIp === undefined
    ? undefined
    : planMulticast(options, boundIp);
  if (plan === undefined && hasMulticast(options)) {
    throw new TypeError(
      `Cannot use multicast on a socket bound to "${hostname}": bind an IP address, such as 0.0.0.0`,
    );
  }
  const libc = loadLibc();
  if (libc === undefined && plan !== undefined) needsFfi(plan);
  let conn: Deno.DatagramConn;
  try {
    conn = Deno.listenDatagram({
      hostname,
      port,
      transport: "udp",
      reuseAddress: options.reuseAddress ?? false,
      // Deno's default is off; the kernel's, and the native socket's, on.
      loopback: options.multicastLoopback ?? true,
    });
  } catch (error) {
    const [code, text] = describeOsError(error);
    throw bindError(code, text, { hostname, port }, error);
  }
  const local = conn.addr as Deno.NetAddr;
  const addr = Object.freeze({ hostname: local.hostname, port: local.port });
  const ip = parseIp(addr.hostname);
  const fd = libc === undefined || ip === undefined
    ? undefined
    : findUdpSocketFd(libc, ip, addr.port, claimedFds);
  if (fd !== undefined) claimedFds.add(fd);
  const native = libc === undefined || fd === undefined
    ? undefined
    : { libc, fd };
  const granted = native === undefined
    ? undefined
    : setBufferSize(native.libc, native.fd, "receive", receiveBufferBytes);
  const socket = new DenoDatagramSocket(
    conn,
    addr,
    boundIp ?? new Uint8Array(4),
    granted,
    native,
  );
  try {
    if (plan !== undefined) await socket.apply(plan);
  } catch (error) {
    socket.close();
    throw error;
  }
  return socket;
}

function hasMulticast(options: MulticastSocketOptions): boolean {
  return options.multicast !== undefined ||
    options.multicastInterface !== undefined ||
    options.multicastTtl !== undefined ||
    options.multicastLoopback !== undefined;
}

/** Throws for what only libc can set, when FFI is not allowed. */
function needsFfi(plan: MulticastPlan): void {
  const what = plan.sendInterface !== undefined
    ? `a multicast interface (${plan.sendInterface})`
    : plan.ttl !== undefined && plan.ttl !== DEFAULT_MULTICAST_TTL &&
        !plan.groups.some((group) => group.ip.length === 4)
    ? "a multicast TTL on a socket that joins no IPv4 group"
    : undefined;
  if (what === undefined) return;
  throw new TypeError(
    `Cannot set ${what} with the deno implementation without FFI: allow FFI (--allow-ffi) on Linux, or rely on the route to the group`,
  );
}

function membershipKey(group: Group, interfaceAddress: string | undefined) {
  const ip = interfaceAddress === undefined
    ? undefined
    : parseIp(interfaceAddress);
  return `${group.text} ${ip === undefined ? "" : ip.join(".")}`;
}

function isOsError(error: unknown): boolean {
  return error instanceof Error && /os error \d+/.test(error.message);
}

/** The errno name and text of an error thrown by Deno's socket calls. */
function describeOsError(error: unknown): [code: string, text: string] {
  const message = error instanceof Error ? error.message : String(error);
  const errno = /os error (\d+)/.exec(message)?.[1];
  if (errno !== undefined) {
    return [errnoCode(Number(errno)), errnoText(Number(errno))];
  }
  const code = (error as { code?: unknown }).code;
  const name = error instanceof Error ? error.name : "Error";
  return [typeof code === "string" ? code : name, message];
}

/** The descriptor behind a Deno socket, when FFI is allowed. */
interface NativeHandle {
  readonly libc: Libc;
  readonly fd: number;
}

type Membership = Deno.MulticastV4Membership | Deno.MulticastV6Membership;

class DenoDatagramSocket implements DatagramSocket {
  readonly kind = "deno" as const;
  readonly #conn: Deno.DatagramConn;
  readonly #addr: Endpoint;
  readonly #boundIp: IpBytes;
  readonly #native: NativeHandle | undefined;
  readonly #memberships = new Map<string, Membership>();
  /** TTL to set on each membership: Deno sets it through one. */
  #ttl: number | undefined;
  readonly #receiveBufferBytes: number | undefined;
  #closed = false;
  readonly #senders = new Map<string, Map<number, Sender>>();
  #senderCount = 0;
  #target: Deno.NetAddr = { transport: "udp", hostname: "", port: -1 };
  #targetHost = "";
  #sendTail: Promise<void> = Promise.resolve();

  constructor(
    conn: Deno.DatagramConn,
    addr: Endpoint,
    boundIp: IpBytes,
    receiveBufferBytes: number | undefined,
    native: NativeHandle | undefined,
  ) {
    this.#conn = conn;
    this.#addr = addr;
    this.#boundIp = boundIp;
    this.#receiveBufferBytes = receiveBufferBytes;
    this.#native = native;
  }

  /** Sets a checked plan's send options and joins its groups. */
  async apply(plan: MulticastPlan): Promise<void> {
    const native = this.#native;
    if (native === undefined) this.#ttl = plan.ttl;
    else {
      const family = this.#boundIp.length === 4 ? AF_INET : AF_INET6;
      applySendOptions(native.libc, native.fd, family, plan);
    }
    for (const group of plan.groups) {
      await this.#join(group, plan.joinInterface);
    }
  }

  joinGroup(group: string, interfaceAddress?: string): Promise<void> {
    return this.#checked(
      group,
      interfaceAddress,
      (checked) => this.#join(checked, interfaceAddress),
    );
  }

  leaveGroup(group: string, interfaceAddress?: string): Promise<void> {
    return this.#checked(group, interfaceAddress, async (checked) => {
      const key = membershipKey(checked, interfaceAddress);
      const membership = this.#memberships.get(key);
      if (membership === undefined) {
        throw multicastError(
          "leave",
          { code: "EADDRNOTAVAIL", text: "not a member" },
          checked.text,
          interfaceAddress,
        );
      }
      this.#memberships.delete(key);
      await membership.leave();
    });
  }

  async #checked(
    group: string,
    interfaceAddress: string | undefined,
    run: (group: Group) => Promise<void>,
  ): Promise<void> {
    if (this.#closed) {
      throw new Deno.errors.BadResource(
        `Cannot join or leave multicast group ${group}: the UDP socket is closed`,
      );
    }
    const checked = checkGroup(group, this.#boundIp);
    checkInterface(interfaceAddress, checked.ip, "join");
    await run(checked);
  }

  async #join(group: Group, interfaceAddress: string | undefined) {
    const key = membershipKey(group, interfaceAddress);
    if (this.#memberships.has(key)) {
      throw multicastError(
        "join",
        { code: "EADDRINUSE", text: "already a member" },
        group.text,
        interfaceAddress,
      );
    }
    const native = this.#native;
    if (native !== undefined) {
      // Only the groups this socket joined, not every group at its port.
      const [level, option] = group.ip.length === 4
        ? [IPPROTO_IP, IP_MULTICAST_ALL]
        : [IPPROTO_IPV6, IPV6_MULTICAST_ALL];
      setOption(native.libc, native.fd, level, option, new Int32Array([0]));
    }
    try {
      if (group.ip.length === 4) {
        const membership = await this.#conn.joinMulticastV4(
          group.text,
          interfaceAddress ?? "0.0.0.0",
        );
        this.#memberships.set(key, membership);
        if (this.#ttl !== undefined) await membership.setTTL(this.#ttl);
      } else {
        const index = interfaceAddress === undefined
          ? 0
          : interfaceIndex(interfaceAddress, native?.libc, "join", group.text);
        const membership = await this.#conn.joinMulticastV6(group.text, index);
        this.#memberships.set(key, membership);
      }
    } catch (error) {
      if (!isOsError(error)) throw error;
      const [code, text] = describeOsError(error);
      throw multicastError(
        "join",
        { code, text },
        group.text,
        interfaceAddress,
        error,
      );
    }
  }

  get addr(): Endpoint {
    return this.#addr;
  }

  get receiveBufferBytes(): number | undefined {
    return this.#receiveBufferBytes;
  }

  createBatch(): DatagramBatch {
    const batch: DatagramBatch = {
      count: 0,
      buffer: new Uint8Array(BUFFER_BYTES),
      offsets: new Int32Array(1),
      lengths: new Int32Array(1),
      senders: [NO_SENDER],
      senderKeys: [""],
    };
    batches.set(batch, { busy: false });
    return batch;
  }

  async receive(batch: DatagramBatch): Promise<number> {
    const state = batches.get(batch);
    if (state === undefined) {
      throw new TypeError(
        "Cannot receive into this batch: it was not made by a deno socket's createBatch()",
      );
    }
    if (state.busy) {
      throw new TypeError(
        "Cannot receive into a batch that is already receiving: use one batch per receive loop",
      );
    }
    batch.count = 0;
    if (this.#closed) return 0;
    state.busy = true;
    try {
      const [data, from] = await this.#conn.receive(batch.buffer);
      const sender = this.#sender(from as Deno.NetAddr);
      batch.lengths[0] = data.length;
      batch.senders[0] = sender.endpoint;
      batch.senderKeys[0] = sender.key;
      batch.count = 1;
      return 1;
    } catch (error) {
      if (this.#closed) return 0;
      const [code, text] = describeOsError(error);
      throw new Error(
        `Cannot receive on UDP ${endpointKey(this.#addr)}: ${text} (${code})`,
        { cause: error },
      );
    } finally {
      state.busy = false;
    }
  }

  #sender(from: Deno.NetAddr): Sender {
    let byPort = this.#senders.get(from.hostname);
    let sender = byPort?.get(from.port);
    if (sender !== undefined) return sender;
    if (this.#senderCount >= SENDER_LIMIT) {
      this.#senders.clear();
      this.#senderCount = 0;
      byPort = undefined;
    }
    if (byPort === undefined) {
      byPort = new Map();
      this.#senders.set(from.hostname, byPort);
    }
    // Report IPv4-mapped senders as plain IPv4, like the native socket.
    const hostname = /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(from.hostname)
      ? from.hostname.slice(7)
      : from.hostname;
    const endpoint = Object.freeze({ hostname, port: from.port });
    sender = { endpoint, key: endpointKey(endpoint) };
    byPort.set(from.port, sender);
    this.#senderCount++;
    return sender;
  }

  send(data: Uint8Array, to: Endpoint): Promise<void> {
    return this.#enqueue(async () => {
      await this.#sendOne(data, to);
    });
  }

  sendMany(datagrams: readonly Uint8Array[], to: Endpoint): Promise<void> {
    return this.#enqueue(async () => {
      for (const datagram of datagrams) await this.#sendOne(datagram, to);
    });
  }

  /** Runs sends one after another: unawaited Deno sends can reorder. */
  #enqueue(run: () => Promise<void>): Promise<void> {
    const op = this.#sendTail.then(run, run);
    this.#sendTail = op.catch(() => {});
    return op;
  }

  async #sendOne(data: Uint8Array, to: Endpoint): Promise<void> {
    if (this.#closed) {
      throw new Deno.errors.BadResource(
        "Cannot send: the UDP socket is closed",
      );
    }
    const target = this.#targetOf(to);
    try {
      await this.#conn.send(data, target);
    } catch (error) {
      const [code, text] = describeOsError(error);
      throw sendError(code, text, data.length, to, error);
    }
  }

  #targetOf(to: Endpoint): Deno.NetAddr {
    if (to.hostname === this.#targetHost && to.port === this.#target.port) {
      return this.#target;
    }
    checkPort(to.port, "destination");
    const hostname = to.hostname === "localhost" ? "127.0.0.1" : to.hostname;
    this.#target = { transport: "udp", hostname, port: to.port };
    this.#targetHost = to.hostname;
    return this.#target;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#memberships.clear();
    this.#conn.close();
    if (this.#native !== undefined) claimedFds.delete(this.#native.fd);
  }
}
