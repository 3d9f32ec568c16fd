/**
 * A protocol that a keyed server refuses: its senders are recognised as
 * that protocol's (so that they are not taken for another), and every
 * datagram of theirs is counted and dropped, with one line per sender that
 * says why and which flag lets them in. The classic protocol and RTP carry
 * no authentication, so a server with a key refuses them unless told.
 *
 * @module
 */

import type { Endpoint } from "../net/types.ts";
import type {
  ProtocolName,
  ProtocolReceiver,
  ReceiverEvent,
  Transmit,
} from "./types.ts";

/** Senders remembered for the one line each; past it, no more lines. */
const MAX_NOTICED = 1024;

/**
 * Refuses one protocol's senders, with a notice once per sender.
 *
 * @example A keyed server's classic port
 * ```ts
 * import { ClassicReceiver } from "../classic/receiver.ts";
 * import { RefusingReceiver } from "./refusing_receiver.ts";
 * const refusing = new RefusingReceiver(new ClassicReceiver(), "--allow-classic");
 * refusing.handleDatagram(0, new Uint8Array(8), { hostname: "127.0.0.1", port: 5000 }, "127.0.0.1:5000");
 * console.log(refusing.counters().refused, refusing.pollEvent()?.type); // 1 notice
 * ```
 */
export class RefusingReceiver implements ProtocolReceiver {
  /** The protocol refused. */
  readonly protocol: ProtocolName;
  readonly #inner: ProtocolReceiver;
  readonly #flag: string;
  readonly #noticed = new Set<string>();
  readonly #events: ReceiverEvent[] = [];
  #refused = 0;

  /**
   * Wraps a protocol's receiver, which only recognises its senders.
   *
   * @param inner The protocol's receiver.
   * @param flag The flag that would let its senders in, for the notice.
   */
  constructor(inner: ProtocolReceiver, flag: string) {
    this.#inner = inner;
    this.protocol = inner.protocol;
    this.#flag = flag;
  }

  /**
   * Whether the datagram starts this protocol's session.
   *
   * @param datagram A new sender's first datagram.
   * @returns What the wrapped receiver says.
   */
  matches(datagram: Uint8Array): boolean {
    return this.#inner.matches(datagram);
  }

  /**
   * Counts and drops a datagram, telling the user once per sender.
   *
   * @param _now The time, in ms.
   * @param _datagram The datagram.
   * @param _from Where it came from.
   * @param fromKey The sender's key.
   */
  handleDatagram(
    _now: number,
    _datagram: Uint8Array,
    _from: Endpoint,
    fromKey: string,
  ): void {
    this.#refused++;
    if (this.#noticed.has(fromKey) || this.#noticed.size >= MAX_NOTICED) {
      return;
    }
    this.#noticed.add(fromKey);
    this.#events.push({
      type: "notice",
      protocol: this.protocol,
      sender: fromKey,
      text: refusalLine(fromKey, this.protocol, this.#flag),
    });
  }

  /** Never due. @returns `undefined`. */
  pollTimeout(): number | undefined {
    return undefined;
  }

  /** Nothing to do. */
  handleTimeout(): void {}

  /** Nothing to send. @returns `undefined`. */
  pollTransmit(): Transmit | undefined {
    return undefined;
  }

  /** The next notice. @returns It, or `undefined`. */
  pollEvent(): ReceiverEvent | undefined {
    return this.#events.shift();
  }

  /** `refused`: datagrams dropped. @returns The counters. */
  counters(): Readonly<Record<string, number>> {
    return { refused: this.#refused };
  }
}

/**
 * The line a keyed server says once per sender of a protocol it refuses.
 *
 * @param sender The sender's key.
 * @param protocol Its protocol.
 * @param flag The flag that lets such senders in.
 * @returns One line.
 *
 * @example Usage
 * ```ts
 * import { refusalLine } from "./refusing_receiver.ts";
 * console.log(refusalLine("127.0.0.1:5000", "rtp", "--allow-rtp"));
 * ```
 */
export function refusalLine(
  sender: string,
  protocol: ProtocolName | "message",
  flag: string,
): string {
  const what = protocol === "rtp"
    ? "RTP"
    : protocol === "message"
    ? "classic messages"
    : "classic frames";
  return `${sender} sends ${what}, which cannot be authenticated; this server has a key and refuses them (${flag} lets them in)`;
}
