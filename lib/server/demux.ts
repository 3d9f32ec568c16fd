/**
 * Deciding, per sender, which wire format a datagram belongs to, so that
 * one image port serves every protocol at once.
 *
 * @module
 */

import { SenderTable } from "./sender_table.ts";
import type { ProtocolReceiver } from "./types.ts";

/** Options for {@linkcode ProtocolDemux}. */
export interface ProtocolDemuxOptions {
  /**
   * How many senders to remember. Past it, the least recently active one is
   * forgotten, and its receiver is told.
   *
   * @default {4096}
   */
  maxSenders?: number;
}

/**
 * Routes each datagram to a protocol's receiver. A sender's first datagram
 * decides: the receivers are asked in turn whether it starts their
 * protocol, and the first to say yes gets that sender's datagrams from then
 * on. A datagram that no receiver claims is left unrouted, and the sender
 * stays undecided, so that a stray datagram does not fix its protocol.
 *
 * @example A classic sender and a sender of another protocol on one port
 * ```ts
 * import { ProtocolDemux } from "./demux.ts";
 * import { ClassicReceiver } from "../classic/receiver.ts";
 *
 * const classic = new ClassicReceiver();
 * const demux = new ProtocolDemux([classic]);
 * const header = new Uint8Array(8);
 * console.log(demux.route(header, "127.0.0.1:5000") === classic); // true
 * console.log(demux.route(new Uint8Array(3), "127.0.0.1:6000")); // undefined
 * ```
 */
export class ProtocolDemux {
  readonly #receivers: readonly ProtocolReceiver[];
  readonly #senders: SenderTable<ProtocolReceiver>;

  /**
   * Makes a demultiplexer over `receivers`, asked in this order.
   *
   * @param receivers One receiver per protocol served.
   * @param options How many senders to remember.
   */
  constructor(
    receivers: readonly ProtocolReceiver[],
    options: ProtocolDemuxOptions = {},
  ) {
    if (receivers.length === 0) {
      throw new RangeError("Cannot serve no protocol: give at least one");
    }
    this.#receivers = receivers;
    this.#senders = new SenderTable({
      maxEntries: options.maxSenders ?? 4096,
      onEvict: (key, receiver) => receiver.forget?.(key),
    });
  }

  /** The receivers, in the order they are asked. */
  get receivers(): readonly ProtocolReceiver[] {
    return this.#receivers;
  }

  /** How many senders have a protocol decided. */
  get senders(): number {
    return this.#senders.size;
  }

  /**
   * The receiver for a datagram from `fromKey`.
   *
   * @param datagram The datagram.
   * @param fromKey The sender's key, `host:port`.
   * @returns The receiver, or `undefined` when the sender is undecided and
   * no receiver claims the datagram.
   */
  route(datagram: Uint8Array, fromKey: string): ProtocolReceiver | undefined {
    const known = this.#senders.get(fromKey);
    if (known !== undefined) return known;
    const receivers = this.#receivers;
    // Only one protocol: it takes everything, as when forced.
    if (receivers.length === 1) return this.#decide(fromKey, receivers[0]!);
    for (let i = 0; i < receivers.length; i++) {
      const receiver = receivers[i]!;
      if (receiver.matches(datagram)) return this.#decide(fromKey, receiver);
    }
    return undefined;
  }

  /**
   * The protocol decided for `fromKey`.
   *
   * @param fromKey The sender's key.
   * @returns Its protocol's receiver, or `undefined` while undecided.
   */
  protocolOf(fromKey: string): ProtocolReceiver | undefined {
    return this.#senders.peek(fromKey);
  }

  #decide(fromKey: string, receiver: ProtocolReceiver): ProtocolReceiver {
    this.#senders.set(fromKey, receiver);
    return receiver;
  }
}
