/**
 * A real UDP relay with a simulated path in between: datagrams from clients
 * go to a target through one {@linkcode LinkModel}, its replies come back
 * through another, so that tests and benchmarks can put loss, duplication,
 * reordering, delay and a bottleneck between two real programs on
 * loopback. Each client gets its own upstream socket, so the target sees
 * one sender per client and its replies find their way back.
 *
 * @module
 */

import {
  LinkModel,
  type LinkModelStats,
  type LinkOptions,
} from "./link_model.ts";
import { openDatagramSocket } from "./open.ts";
import type { DatagramSocket, Endpoint } from "./types.ts";
import { endpointKey } from "./_ip.ts";

/** Options for {@linkcode LossyRelay.start}. */
export interface LossyRelayOptions {
  /** Where datagrams go: the server. */
  target: Endpoint;
  /** The address to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** The port to listen on; 0 picks a free one. @default {0} */
  port?: number;
  /** The path from clients to the target. */
  forward?: LinkOptions;
  /** The path from the target back to clients. */
  backward?: LinkOptions;
  /** Clients served at once; past it the oldest is dropped. @default {64} */
  maxClients?: number;
  /**
   * Multicast groups for the listening socket to join (bind the wildcard
   * address), so that the relay stands in for one member of a group: what
   * the group gets goes to the target through the forward path.
   */
  multicast?: { join: string | readonly string[]; interface?: string };
  /** Shares the listening port with other sockets (`SO_REUSEADDR`). */
  reuseAddress?: boolean;
  /** Sees every datagram that leaves the relay, either way. */
  tap?: (bytes: Uint8Array, direction: "forward" | "backward") => void;
}

interface Client {
  readonly endpoint: Endpoint;
  readonly upstream: DatagramSocket;
  readonly loop: Promise<void>;
}

interface Packet {
  readonly bytes: Uint8Array;
  /** Forward: the client it came from; backward: the client it goes to. */
  readonly client: Client;
}

/**
 * Relays datagrams between clients and a target through simulated paths.
 *
 * @example Five percent loss each way in front of a server
 * ```ts ignore
 * import { LossyRelay } from "./lossy_relay.ts";
 *
 * await using relay = await LossyRelay.start({
 *   target: { hostname: "127.0.0.1", port: 9999 },
 *   forward: { loss: 0.05, duplicate: 0.01, reorder: 0.02, seed: 1 },
 *   backward: { loss: 0.05, seed: 2 },
 * });
 * console.log(`send to 127.0.0.1:${relay.addr.port}`);
 * ```
 */
export class LossyRelay implements AsyncDisposable {
  readonly #socket: DatagramSocket;
  readonly #target: Endpoint;
  readonly #forward: LinkModel<Packet>;
  readonly #backward: LinkModel<Packet>;
  readonly #clients = new Map<string, Client>();
  readonly #maxClients: number;
  readonly #tap: LossyRelayOptions["tap"];
  readonly #loop: Promise<void>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDue = Infinity;
  #closed = false;

  private constructor(socket: DatagramSocket, options: LossyRelayOptions) {
    this.#socket = socket;
    this.#target = options.target;
    this.#forward = new LinkModel(options.forward);
    this.#backward = new LinkModel({ seed: 2, ...options.backward });
    this.#maxClients = options.maxClients ?? 64;
    this.#tap = options.tap;
    this.#loop = this.#receiveClients();
  }

  /**
   * Binds the relay's port.
   *
   * @param options The target and the two paths.
   * @returns A running relay.
   */
  static async start(options: LossyRelayOptions): Promise<LossyRelay> {
    const socket = await openDatagramSocket({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 0,
      // One datagram per message, as a network would carry them.
      offload: false,
      ...(options.multicast !== undefined && { multicast: options.multicast }),
      ...(options.reuseAddress !== undefined &&
        { reuseAddress: options.reuseAddress }),
    });
    return new LossyRelay(socket, options);
  }

  /** Where clients send to. */
  get addr(): Endpoint {
    return this.#socket.addr;
  }

  /** What each path did. */
  get stats(): { forward: LinkModelStats; backward: LinkModelStats } {
    return { forward: this.#forward.stats, backward: this.#backward.stats };
  }

  /**
   * Moves every client to a new upstream socket, so that the target sees
   * each client come from a new port mid-stream, as after a NAT rebinding.
   * Replies to the old sockets are no longer relayed.
   */
  async rebind(): Promise<void> {
    for (const [key, client] of [...this.#clients]) {
      const upstream = await this.#openUpstream();
      const moved: Client = { ...client, upstream, loop: Promise.resolve() };
      const withLoop = { ...moved, loop: this.#receiveTarget(moved) };
      this.#clients.set(key, withLoop);
      client.upstream.close();
      await client.loop;
    }
  }

  /** Stops relaying and closes every socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#socket.close();
    for (const client of this.#clients.values()) client.upstream.close();
    await Promise.all([
      this.#loop,
      ...[...this.#clients.values()].map((c) => c.loop),
    ]);
  }

  /** Closes the relay. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #receiveClients(): Promise<void> {
    const socket = this.#socket;
    const batch = socket.createBatch();
    while (true) {
      const count = await socket.receive(batch).catch(() => 0);
      if (count === 0 || this.#closed) return;
      const now = performance.now();
      for (let i = 0; i < count; i++) {
        const client = await this.#client(
          batch.senders[i]!,
          batch.senderKeys[i]!,
        );
        if (client === undefined) continue;
        const offset = batch.offsets[i]!;
        const bytes = batch.buffer.slice(offset, offset + batch.lengths[i]!);
        this.#forward.send(now, { bytes, client }, bytes.length);
      }
      this.#deliver();
    }
  }

  async #client(endpoint: Endpoint, key: string): Promise<Client | undefined> {
    const known = this.#clients.get(key);
    if (known !== undefined) return known;
    if (this.#closed) return undefined;
    if (this.#clients.size >= this.#maxClients) {
      const [oldestKey, oldest] = this.#clients.entries().next().value!;
      this.#clients.delete(oldestKey);
      oldest.upstream.close();
    }
    const upstream = await this.#openUpstream();
    const client: Client = {
      endpoint,
      upstream,
      loop: Promise.resolve(),
    };
    const withLoop = { ...client, loop: this.#receiveTarget(client) };
    this.#clients.set(key, withLoop);
    return withLoop;
  }

  #openUpstream(): Promise<DatagramSocket> {
    return openDatagramSocket({
      hostname: this.#target.hostname.includes(":") ? "::1" : "127.0.0.1",
      port: 0,
      offload: false,
    });
  }

  async #receiveTarget(client: Client): Promise<void> {
    const batch = client.upstream.createBatch();
    while (true) {
      const count = await client.upstream.receive(batch).catch(() => 0);
      if (count === 0 || this.#closed) return;
      const now = performance.now();
      for (let i = 0; i < count; i++) {
        // Only the target may answer through the relay.
        if (endpointKey(batch.senders[i]!) !== endpointKey(this.#target)) {
          continue;
        }
        const offset = batch.offsets[i]!;
        const bytes = batch.buffer.slice(offset, offset + batch.lengths[i]!);
        this.#backward.send(now, { bytes, client }, bytes.length);
      }
      this.#deliver();
    }
  }

  /** Sends what is due on both paths, and waits for the next. */
  #deliver(): void {
    if (this.#closed) return;
    const now = performance.now();
    for (let p; (p = this.#forward.receive(now)) !== undefined;) {
      // The client's current socket: it may have moved since it queued.
      const client = this.#clients.get(endpointKey(p.client.endpoint)) ??
        p.client;
      this.#tap?.(p.bytes, "forward");
      client.upstream.send(p.bytes, this.#target).catch(() => {});
    }
    for (let p; (p = this.#backward.receive(now)) !== undefined;) {
      this.#tap?.(p.bytes, "backward");
      this.#socket.send(p.bytes, p.client.endpoint).catch(() => {});
    }
    const due = Math.min(
      this.#forward.nextDue() ?? Infinity,
      this.#backward.nextDue() ?? Infinity,
    );
    if (due === Infinity || due >= this.#timerDue) return;
    clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerDue = Infinity;
      this.#deliver();
    }, Math.max(0, due - performance.now()));
  }
}
