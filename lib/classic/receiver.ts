/**
 * The classic protocol's receiving side, as the server drives it: the
 * {@linkcode Reassembler}, with the tutorial's reply attached to each whole
 * frame.
 *
 * @module
 */

import type { Endpoint } from "../net/types.ts";
import type {
  ProtocolReceiver,
  ReceiverEvent,
  Transmit,
} from "../server/types.ts";
import { IMAGE_REPLY } from "./constants.ts";
import { HEADER_BYTES, SHORT_HEADER_BYTES } from "./header.ts";
import { sniffFormat } from "../codec/types.ts";
import {
  Reassembler,
  type ReassemblerEvent,
  type ReassemblerOptions,
  type ReassemblerStats,
} from "./reassembler.ts";

const REPLY = new TextEncoder().encode(IMAGE_REPLY);

/**
 * Receives the tutorial's frames for the server: each whole frame carries
 * the reply `get message!!!` as its acknowledgement, which the server sends
 * when it has room for the next frame.
 *
 * @example Receiving a frame sent in one datagram
 * ```ts
 * import { ClassicReceiver } from "./receiver.ts";
 *
 * const receiver = new ClassicReceiver();
 * const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0xff, 0xd9]);
 * const from = { hostname: "127.0.0.1", port: 50000 };
 * receiver.handleDatagram(0, jpeg, from, "127.0.0.1:50000");
 * const event = receiver.pollEvent();
 * console.log(event?.type === "frame" && event.frame.bytes.length); // 8
 * ```
 */
export class ClassicReceiver implements ProtocolReceiver {
  /** The wire format. */
  readonly protocol = "classic" as const;
  readonly #reassembler: Reassembler;
  readonly #sweepMs: number;
  readonly #events: ReceiverEvent[] = [];
  #nextSweep = 0;

  /**
   * Makes a receiver with no partial frames.
   *
   * @param options The reassembler's limits.
   */
  constructor(options: ReassemblerOptions = {}) {
    this.#reassembler = new Reassembler(options);
    const timeoutMs = options.timeoutMs ?? 3000;
    this.#sweepMs = Math.max(10, Math.min(timeoutMs / 2, 500));
  }

  /** The reassembler's counters. */
  get stats(): Readonly<ReassemblerStats> {
    return this.#reassembler.stats;
  }

  /** How many senders have a partial frame: at most `maxSenders`. */
  get pendingSenders(): number {
    return this.#reassembler.pendingSenders;
  }

  /** How many bytes the partial frames reserve: at most `maxPendingBytes`. */
  get pendingBytes(): number {
    return this.#reassembler.pendingBytes;
  }

  /**
   * Whether `datagram` can start a classic frame: a 4- or 8-byte header, or
   * a whole JPEG or PNG.
   *
   * @param datagram The first datagram of a sender.
   * @returns Whether it looks like the tutorial's.
   */
  matches(datagram: Uint8Array): boolean {
    const length = datagram.length;
    return length === HEADER_BYTES || length === SHORT_HEADER_BYTES ||
      sniffFormat(datagram) !== undefined;
  }

  /**
   * Takes one datagram.
   *
   * @param now The time, in ms.
   * @param datagram The datagram; copied where kept.
   * @param from Where it came from, for the reply.
   * @param fromKey The sender's key, `host:port`.
   */
  handleDatagram(
    now: number,
    datagram: Uint8Array,
    from: Endpoint,
    fromKey: string,
  ): void {
    const events = this.#reassembler.push(datagram, fromKey, now);
    for (let i = 0; i < events.length; i++) this.#translate(events[i]!, from);
  }

  /**
   * When the next sweep for silent partial frames is due.
   *
   * @returns The time, or `undefined` while no frame is partial.
   */
  pollTimeout(): number | undefined {
    return this.#reassembler.pendingSenders > 0 ? this.#nextSweep : undefined;
  }

  /**
   * Drops partial frames that have been silent for longer than the timeout.
   *
   * @param now The time, in ms.
   */
  handleTimeout(now: number): void {
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + this.#sweepMs;
    for (const event of this.#reassembler.sweep(now)) this.#translate(event);
  }

  /**
   * Classic receivers send nothing of their own: replies travel as the
   * frames' acknowledgements.
   *
   * @returns Always `undefined`.
   */
  pollTransmit(): Transmit | undefined {
    return undefined;
  }

  /**
   * The next frame, drop or stray.
   *
   * @returns The event, or `undefined`.
   */
  pollEvent(): ReceiverEvent | undefined {
    return this.#events.shift();
  }

  /**
   * No counters beyond what the events say.
   *
   * @returns An empty record.
   */
  counters(): Readonly<Record<string, number>> {
    return {};
  }

  #translate(event: ReassemblerEvent, from?: Endpoint): void {
    const sender = event.sender;
    switch (event.type) {
      case "frame":
        this.#events.push({
          type: "frame",
          frame: {
            protocol: "classic",
            sender,
            bytes: event.bytes,
            format: event.format,
            mode: event.mode,
            ...(from !== undefined && { ack: { to: from, bytes: REPLY } }),
          },
        });
        return;
      case "dropped":
        this.#events.push({
          type: "dropped",
          protocol: "classic",
          sender,
          reason: event.reason,
          detail:
            `${event.reason} (announced ${event.announced} bytes, received ${event.received})`,
        });
        return;
      case "stray":
        this.#events.push({
          type: "stray",
          protocol: "classic",
          sender,
          length: event.length,
          detail: "not a header or an image",
        });
    }
  }
}
