/**
 * What a protocol's receiving side and the server exchange: the
 * {@linkcode ProtocolReceiver} interface that each wire format implements,
 * the frames and events it hands out, and the datagrams it asks to send.
 *
 * A receiver is a pure state machine in the manner of quinn-proto: the
 * server feeds it datagrams and the time, and polls it for datagrams to
 * send, events, and the next time it wants to be woken. It owns no socket
 * and no timer.
 *
 * @module
 */

import type { ImageFormat } from "../codec/types.ts";
import type { Endpoint } from "../net/types.ts";

/** The wire formats one image port can serve. */
export type ProtocolName = "classic" | "stream" | "rtp";

/** A datagram a receiver wants sent. */
export interface Transmit {
  /** Where to. */
  readonly to: Endpoint;
  /** The bytes; the receiver does not reuse them. */
  readonly bytes: Uint8Array;
  /**
   * `control` to send it from the control port (image port + 1, where
   * RTCP goes) when the server has one; otherwise from the image port.
   */
  readonly via?: "control";
}

/** A whole frame, as a receiver hands it to the server. */
export interface IncomingFrame {
  /** Which wire format it came by. */
  readonly protocol: ProtocolName;
  /** The sender's name, such as `host:port`, stable for a session. */
  readonly sender: string;
  /** The encoded image, exactly as sent; owned by the server from here on. */
  readonly bytes: Uint8Array;
  /** The format sniffed from the bytes, if known. */
  readonly format: ImageFormat | undefined;
  /** `single` when the frame came in one datagram, `chunked` otherwise. */
  readonly mode: "single" | "chunked";
  /**
   * When the sender captured or sent the frame, on the clock the receiver
   * is driven with, when the protocol carries it. The server measures the
   * end-to-end latency from it.
   */
  readonly sentAt?: number;
  /**
   * Whether `sentAt` rests on an estimate of the offset between the two
   * machines' clocks, rather than a shared clock.
   */
  readonly sentAtEstimated?: boolean;
  /**
   * A reply that tells a stop-and-wait sender to send the next frame. The
   * server sends it once the frame is queued, or holds it while too many
   * frames wait, so that such senders slow to the decoder's pace.
   */
  readonly ack?: Transmit;
}

/** A frame, or a would-be frame, that was given up on. */
export interface FrameDropEvent {
  /** Discriminant. */
  readonly type: "dropped";
  /** The wire format. */
  readonly protocol: ProtocolName;
  /** The sender's name. */
  readonly sender: string;
  /**
   * Why, as a short word for counters: `lost`, `late`, `corrupt`,
   * `timeout`, `overflow` and so on.
   */
  readonly reason: string;
  /** What happened, in words, for a log line. */
  readonly detail: string;
  /** How many frames this stands for (a gap may stand for several). */
  readonly frames?: number;
}

/** A datagram that belongs to no frame. */
export interface StrayDatagramEvent {
  /** Discriminant. */
  readonly type: "stray";
  /** The wire format of its sender, or `undefined` when none claimed it. */
  readonly protocol: ProtocolName | undefined;
  /** The sender's name. */
  readonly sender: string;
  /** The datagram's length. */
  readonly length: number;
  /** Why it belongs nowhere, for a log line. */
  readonly detail: string;
}

/** A JSON message that came over the image port. */
export interface MessageReceivedEvent {
  /** Discriminant. */
  readonly type: "message";
  /** The wire format. */
  readonly protocol: ProtocolName;
  /** The sender's name. */
  readonly sender: string;
  /** The parsed value, or what was wrong with it. */
  readonly result:
    | { readonly ok: true; readonly value: unknown }
    | { readonly ok: false; readonly error: string };
}

/** Something the user should hear about, such as a wrong key. */
export interface NoticeEvent {
  /** Discriminant. */
  readonly type: "notice";
  /** The wire format. */
  readonly protocol: ProtocolName;
  /** The sender's name. */
  readonly sender: string;
  /** One line, already rate-limited by the receiver. */
  readonly text: string;
}

/** What a receiver hands out besides datagrams. */
export type ReceiverEvent =
  | { readonly type: "frame"; readonly frame: IncomingFrame }
  | FrameDropEvent
  | StrayDatagramEvent
  | MessageReceivedEvent
  | NoticeEvent;

/**
 * The receiving side of one wire format, as the server drives it. Every
 * call takes the time in milliseconds from one monotonic clock; nothing
 * here does I/O or throws for what a peer sends.
 */
export interface ProtocolReceiver {
  /** The wire format. */
  readonly protocol: ProtocolName;
  /**
   * Whether a datagram from a sender the server has not seen yet starts a
   * session of this protocol. The server asks each receiver in turn and
   * sends that sender's datagrams to the first that says yes.
   */
  matches(datagram: Uint8Array): boolean;
  /**
   * Takes one datagram. It is a view into a buffer the server reuses:
   * copy what must be kept. The receiver may change it (a sealed datagram
   * is opened in place).
   */
  handleDatagram(
    now: number,
    datagram: Uint8Array,
    from: Endpoint,
    fromKey: string,
  ): void;
  /**
   * Takes one datagram from the control port (image port + 1), for
   * protocols with a control channel beside the media, as RTP has RTCP.
   * The server binds the control port only when a receiver has this.
   */
  handleControlDatagram?(
    now: number,
    datagram: Uint8Array,
    from: Endpoint,
    fromKey: string,
  ): void;
  /** The next time {@linkcode handleTimeout} is due, or `undefined`. */
  pollTimeout(): number | undefined;
  /**
   * Lets timers fire: retransmission requests, reports, expiry. It may come
   * before the time {@linkcode pollTimeout} gave (one timer serves every
   * receiver, and is not moved later): do only what is due at `now`.
   */
  handleTimeout(now: number): void;
  /** The next datagram to send, or `undefined`. */
  pollTransmit(): Transmit | undefined;
  /** The next event, or `undefined`. */
  pollEvent(): ReceiverEvent | undefined;
  /**
   * Protocol counters for the server's statistics, by name in camelCase
   * (`recoveredNack`, `unauthenticated`, …). Counters with the same name
   * in several protocols are added up.
   */
  counters(): Readonly<Record<string, number>>;
  /**
   * The server had to skip a whole frame of `fromKey`'s because the frames
   * before it still wait to be decoded or taken: a protocol with flow
   * control tells the sender to slow down.
   */
  frameSkipped?(fromKey: string): void;
  /**
   * How many whole frames wait in the server, all senders together, to be
   * decoded or taken: told after each batch, for flow control.
   */
  setBacklog?(frames: number): void;
  /** The server has forgotten `fromKey`; state kept for it may go. */
  forget?(fromKey: string): void;
  /**
   * The server is about to close: queue any last datagrams, such as a final
   * report that lets senders finish at once instead of waiting for one.
   */
  finish?(now: number): void;
  /** The server is closing: native state (such as an AEAD's) may go. */
  close?(): void;
}
