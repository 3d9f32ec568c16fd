/**
 * The stream protocol's sending side, as a pure state machine in the manner
 * of quinn-proto: frames, datagrams and the time in; datagrams, events and
 * the next time it wants to be woken out. It owns no socket and no timer:
 * {@linkcode StreamClient} drives it.
 *
 * It never waits for the receiver. Frames are cut into chunks and paced
 * out; a new frame replaces one still waiting to be sent (counted as
 * stale); NACKs are answered from a bounded history, within a share of the
 * rate; `fec` adds parity; reports drive the rate controller. With a `key`
 * every datagram is sealed in place, and only feedback whose tag verifies,
 * and that no replay window has seen, is taken.
 *
 * @module
 */

import { MAX_DATAGRAM_BYTES } from "../classic/constants.ts";
import type { Aead, AeadMode } from "../crypto/aead.ts";
import { ReplayWindowSet } from "../crypto/replay_window.ts";
import { createStreamAead } from "../crypto/stream_aead.ts";
import { endpointKey } from "../net/_ip.ts";
import type { Endpoint } from "../net/types.ts";
import type { Transmit } from "../server/types.ts";
import { wallClockLead } from "./_clock.ts";
import { Queue } from "./_queue.ts";
import { crc32c } from "./crc32c.ts";
import { buildParity, type ParityGroup, parityGroups } from "./fec.ts";
import { SendHistory, type SentFrame } from "./history.ts";
import { Pacer } from "./pacer.ts";
import { RateController } from "./rate_controller.ts";
import { frameDiff } from "./reassembler.ts";
import { RttEstimator } from "./reports.ts";
import { AuthFailureLog } from "./_rate_limits.ts";
import {
  chunkCountFor,
  DATA_HEADER_BYTES,
  decodeMessage,
  decodeNotice,
  decodeReport,
  DEFAULT_DATAGRAM_BYTES,
  encodeMessage,
  encodeSenderReport,
  FIXED_HEADER_BYTES,
  Flags,
  MIN_DATAGRAM_BYTES,
  type NackEntry,
  nackEntryCount,
  newFixedHeader,
  NONCE_OFFSET,
  NoticeCode,
  PacketType,
  type PacketTypeNumber,
  PARITY_HEADER_BYTES,
  readHeader,
  readNackEntry,
  type Report,
  SEAL_OVERHEAD,
  u32,
  writeChunkHeader,
  writeHeader,
  writeSendOffset,
} from "./wire.ts";

/** Options for {@linkcode StreamSender}. */
export interface StreamSenderOptions {
  /** The receiver (or, with `multicast`, the group) datagrams go to. */
  peer: Endpoint;
  /** The stream id. @default a random one */
  streamId?: number;
  /**
   * The first packet number, below 2^52.
   *
   * @default 0, or with a `key` a random one (see docs/PROTOCOL.md, Sealing)
   */
  firstPacketNumber?: number;
  /** The largest datagram, headers included. @default {1200} */
  datagramBytes?: number;
  /** One parity datagram per this many data chunks; 0 for none. @default {0} */
  fec?: number;
  /**
   * The most bytes a second, retransmissions included; the rate controller
   * stays below it.
   *
   * @default {1250000000} (10 Gbit/s)
   */
  maxRate?: number;
  /** The rate to start at, bytes a second. @default {12500000} (100 Mbit/s) */
  initialRate?: number;
  /** Whether the rate adapts to reports. @default {true} */
  adaptive?: boolean;
  /** The receiver's latency budget, in ms: how long frames are held. @default {120} */
  latencyMs?: number;
  /** The most frame bytes held for NACKs. @default {33554432} (32 MiB) */
  historyBytes?: number;
  /** The share of the rate retransmissions may take. @default {0.25} */
  retransmitShare?: number;
  /**
   * Multicast: NACKs are taken from any address, and each chunk is sent
   * again, to the group, at most once per interval however many ask.
   *
   * @default {false}
   */
  multicast?: boolean;
  /**
   * The wall clock at time 0 of the `now` the sender is driven with, in ms
   * since the epoch: timestamps on the wire are `wallClockOrigin + now`. A
   * fixed number (for simulations), or by default the current lead of the
   * wall clock over `performance.now()`, sampled as it goes, since the two
   * drift apart.
   */
  wallClockOrigin?: number;
  /** How long a message waits for its ack in all, in ms. @default {2000} */
  messageTimeoutMs?: number;
  /**
   * The 32-byte shared key: every datagram is sealed with AES-256-GCM, and
   * only feedback sealed with the same key is taken.
   *
   * @default {undefined} (not sealed)
   */
  key?: Uint8Array;
  /** The AES-GCM implementation, with a `key`. @default {"auto"} */
  aeadImplementation?: AeadMode;
  /**
   * With a `key`: how long after the first datagram to say so once when
   * nothing from the receiver could be authenticated, in ms.
   *
   * @default {3000}
   */
  silenceMs?: number;
}

/** What a sender hands out besides datagrams. */
export type StreamSenderEvent =
  | {
    readonly type: "message-ack";
    readonly id: number;
    readonly ok: boolean;
    readonly reply: string;
  }
  | { readonly type: "message-timeout"; readonly id: number }
  | { readonly type: "closed"; readonly delivered: boolean }
  | {
    /** A line for the user: a key mismatch, or feedback that failed. */
    readonly type: "notice";
    readonly text: string;
  };

/** A sender's counters. */
export interface StreamSenderStats {
  /** Frames whose datagrams all went out. */
  framesSent: number;
  /** Frames replaced before they were sent. */
  framesStale: number;
  /** Datagrams sent, all types. */
  datagramsSent: number;
  /** Bytes of those datagrams. */
  bytesSent: number;
  /** Data chunks sent again. */
  retransmitted: number;
  /** Chunks asked for but not sent: over the retransmission share. */
  retransmitSkipped: number;
  /** Parity datagrams sent. */
  fecSent: number;
  /** NACK datagrams taken. */
  nacks: number;
  /** Chunks asked for before they were first sent (ignored). */
  unsent: number;
  /** NACKs and reports ignored: from another address, or another stream. */
  foreign: number;
  /** Datagrams that could not be read. */
  malformed: number;
  /** With a key: feedback whose tag failed, or that was not sealed. */
  unauthenticated: number;
  /** With a key: feedback already taken, or too old for the window. */
  replayed: number;
  /** Without a key: sealed feedback, dropped. */
  sealed: number;
  /** The smoothed RTT, ms, once measured. */
  rttMs: number | undefined;
  /** Loss over the last report interval, 0 to 1. */
  lossFraction: number;
  /** The pacing rate, bytes a second. */
  rate: number;
  /** The receiver's last report, if any. */
  report: Report | undefined;
}

interface Outgoing {
  readonly sent: SentFrame;
  readonly block: Uint8Array;
  readonly dataStride: number;
  readonly groups: readonly ParityGroup[];
  readonly parityOffset: number;
  next: number;
}

interface PendingMessage {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly deadline: number;
  nextAt: number;
  interval: number;
}

/** Send times are kept for this many packet numbers, for RTT samples. */
const SEND_TIMES = 4096;
const SR_MIN_INTERVAL_MS = 100;
const SR_IDLE_INTERVAL_MS = 500;
/** Multicast: receivers heard from within this long count for closing. */
const RECEIVER_ACTIVE_MS = 2000;
/** Multicast: receivers whose reports are kept. */
const MAX_RECEIVERS = 256;
/** Sealed streams number their datagrams from a random start below this. */
const SEALED_START_LIMIT = 2 ** 52;

interface ReceiverState {
  report: Report;
  at: number;
  lossFraction: number;
}

/**
 * The sending side of one stream.
 *
 * @example A frame becomes datagrams
 * ```ts
 * import { StreamSender } from "./sender.ts";
 *
 * const sender = new StreamSender({ peer: { hostname: "127.0.0.1", port: 9999 } });
 * sender.sendFrame(0, new Uint8Array(3000));
 * sender.handleTimeout(0);
 * let datagrams = 0;
 * while (sender.pollTransmit() !== undefined) datagrams++;
 * console.log(datagrams); // 4: a sender report and three chunks
 * ```
 */
export class StreamSender {
  readonly #peer: Endpoint;
  readonly #streamId: number;
  readonly #fec: number;
  readonly #multicast: boolean;
  readonly #adaptive: boolean;
  readonly #wallOrigin: () => number;
  readonly #latencyMs: number;
  readonly #retransmitShare: number;
  readonly #messageTimeoutMs: number;
  readonly #history: SendHistory;
  readonly #pacer: Pacer;
  readonly #controller: RateController;
  readonly #rtt = new RttEstimator(20);
  readonly #header = newFixedHeader();
  readonly #entry: NackEntry = { frameId: 0, first: 0, bitmap: 0 };
  readonly #sendTimes = new Float64Array(SEND_TIMES).fill(-1);
  readonly #sendNumbers = new Float64Array(SEND_TIMES).fill(-1);
  readonly #transmits = new Queue<Transmit>();
  readonly #control = new Queue<Uint8Array>();
  readonly #resends = new Queue<{ frame: SentFrame; index: number }>();
  readonly #events = new Queue<StreamSenderEvent>();
  readonly #messages = new Map<number, PendingMessage>();
  readonly #receivers = new Map<number, ReceiverState>();
  readonly #aead: Aead | undefined;
  readonly #overhead: number;
  readonly #windows = new ReplayWindowSet();
  readonly #authFailures = new AuthFailureLog();
  readonly #hints = new Set<number>();
  readonly #silenceMs: number;
  /** The receiver the last feedback came from, by its counter space. */
  #party = -1;
  #firstSentAt = Infinity;
  #heard = false;
  #silenceTold = false;
  #datagramBytes: number;
  #current: Outgoing | undefined;
  #waiting:
    | { bytes: Uint8Array; timestamp: number; queuedAt: number }
    | undefined;
  #nextFrameId = 0;
  #nextMessageId = 0;
  #packetNumber = 0;
  #retransmitTokens = 0;
  #retransmitUpdated = -Infinity;
  #backlogged = false;
  #lastReport: Report | undefined;
  #lastReportAt = -Infinity;
  #lastSenderReportAt = -Infinity;
  #senderReportDue = 0;
  #closing = false;
  #closeDeadline = Infinity;
  #closed = false;
  /** While closing: when to say again where the stream ends. */
  #finalReportDue = -Infinity;
  /** The latest time seen, for the pacer's next send time. */
  #pacerNow = 0;
  readonly #stats: StreamSenderStats;

  /**
   * Makes a sender with nothing to send.
   *
   * @param options The receiver, the datagram size, FEC and rate limits.
   */
  constructor(options: StreamSenderOptions) {
    this.#peer = options.peer;
    this.#streamId = options.streamId ??
      crypto.getRandomValues(new Uint32Array(1))[0]!;
    this.#datagramBytes = checkDatagramBytes(
      options.datagramBytes ?? DEFAULT_DATAGRAM_BYTES,
    );
    const fec = options.fec ?? 0;
    if (!Number.isInteger(fec) || fec < 0 || fec > 255) {
      throw new RangeError(`FEC must be an integer from 0 to 255, got ${fec}`);
    }
    this.#fec = fec;
    this.#multicast = options.multicast ?? false;
    this.#adaptive = options.adaptive ?? true;
    const origin = options.wallClockOrigin;
    this.#wallOrigin = origin === undefined ? wallClockLead : () => origin;
    this.#latencyMs = options.latencyMs ?? 120;
    this.#retransmitShare = options.retransmitShare ?? 0.25;
    this.#messageTimeoutMs = options.messageTimeoutMs ?? 2000;
    this.#silenceMs = options.silenceMs ?? 3000;
    this.#aead = options.key === undefined ? undefined : createStreamAead(
      options.key,
      "sender",
      { implementation: options.aeadImplementation ?? "auto" },
    );
    this.#overhead = this.#aead === undefined ? 0 : SEAL_OVERHEAD;
    const first = options.firstPacketNumber;
    if (first !== undefined) {
      if (
        !Number.isSafeInteger(first) || first < 0 || first >= SEALED_START_LIMIT
      ) {
        throw new RangeError(
          `The first packet number must be an integer from 0 to 2^52 - 1, got ${first}`,
        );
      }
      this.#packetNumber = first;
    } else if (this.#aead !== undefined) {
      // A stream id met again under the same key (2^-32 a pair) must not
      // bring its nonces back with it.
      const random = crypto.getRandomValues(new Uint32Array(2));
      this.#packetNumber = (random[0]! >>> 12) * 2 ** 32 + random[1]!;
    }
    const maxRate = options.maxRate ?? 1_250_000_000;
    if (!(maxRate > 0)) {
      throw new RangeError(`The rate must be positive, got ${maxRate}`);
    }
    this.#controller = new RateController({
      maxRate,
      initialRate: Math.min(maxRate, options.initialRate ?? 12_500_000),
    });
    this.#pacer = new Pacer({ rate: this.#controller.rate });
    this.#history = new SendHistory({
      maxBytes: options.historyBytes ?? 32 * 1024 * 1024,
      maxAgeMs: this.#latencyMs + 200,
    });
    this.#stats = {
      framesSent: 0,
      framesStale: 0,
      datagramsSent: 0,
      bytesSent: 0,
      retransmitted: 0,
      retransmitSkipped: 0,
      fecSent: 0,
      nacks: 0,
      unsent: 0,
      foreign: 0,
      malformed: 0,
      unauthenticated: 0,
      replayed: 0,
      sealed: 0,
      rttMs: undefined,
      lossFraction: 0,
      rate: this.#controller.rate,
      report: undefined,
    };
  }

  /** The stream id. */
  get streamId(): number {
    return this.#streamId;
  }

  /** The largest datagram, headers included. */
  get datagramBytes(): number {
    return this.#datagramBytes;
  }

  /**
   * With a key, which AES-GCM implementation seals, in one line (such as
   * `sealing: AES-256-GCM by libcrypto (OpenSSL 3.0.19)`); else `undefined`.
   */
  get sealing(): string | undefined {
    return this.#aead?.reason;
  }

  /** Frees the AEAD's native state. */
  [Symbol.dispose](): void {
    this.#aead?.close();
  }

  /** A snapshot of the counters. */
  get stats(): Readonly<StreamSenderStats> {
    return {
      ...this.#stats,
      rttMs: this.#rtt.measured ? this.#rtt.smoothed : undefined,
      rate: this.#pacer.rate,
      report: this.#lastReport,
    };
  }

  /** Whether a frame given now would go next, rather than replace one. */
  get wantsFrame(): boolean {
    return !this.#closing && this.#waiting === undefined;
  }

  /** Whether {@linkcode StreamSender.close} finished: bye sent. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Takes a frame to send. It goes after the frame being sent; a frame
   * already waiting is replaced, and counted as stale.
   *
   * @param now The time, in ms.
   * @param bytes The encoded frame; held, not copied, until acknowledged or
   * aged out, so it must not change.
   * @param timestampUs When it was captured, µs since the epoch on this
   * machine's clock. @default the wall clock now
   * @returns `false` when it replaced a waiting frame.
   * @throws {RangeError} When the frame is empty, too large for the chunk
   * count field, or the sender is closing.
   */
  sendFrame(now: number, bytes: Uint8Array, timestampUs?: number): boolean {
    if (this.#closing) {
      throw new RangeError("Cannot send a frame: the stream is closing");
    }
    if (bytes.length === 0 || bytes.length > 0xffffffff) {
      throw new RangeError(
        `Cannot send a ${bytes.length}-byte frame: a frame has 1 to ${0xffffffff} bytes`,
      );
    }
    chunkCountFor(bytes.length, this.#datagramBytes - this.#overhead);
    const replaced = this.#waiting !== undefined;
    if (replaced) this.#stats.framesStale++;
    this.#waiting = {
      bytes,
      timestamp: timestampUs ?? Math.round((this.#wallOrigin() + now) * 1000),
      queuedAt: now,
    };
    this.#fill(now);
    return !replaced;
  }

  /**
   * Sends a JSON message, again until its ack comes; the ack, or the
   * timeout, comes as an event with the returned id.
   *
   * @param now The time, in ms.
   * @param text The message, UTF-8 JSON.
   * @returns The message id.
   */
  sendMessage(now: number, text: Uint8Array): number {
    const id = this.#nextMessageId;
    const bytes = encodeMessage(PacketType.message, id, text);
    if (bytes.length + this.#overhead > MAX_DATAGRAM_BYTES) {
      throw new RangeError(
        `Cannot send a ${text.length}-byte message sealed: at most ${
          MAX_DATAGRAM_BYTES - this.#overhead - (bytes.length - text.length)
        } bytes fit in a datagram with its tag`,
      );
    }
    this.#nextMessageId = (id + 1) >>> 0;
    const interval = Math.max(20, 2 * this.#rtt.smoothed);
    this.#messages.set(id, {
      id,
      bytes,
      deadline: now + this.#messageTimeoutMs,
      nextAt: now + interval,
      interval,
    });
    this.#control.push(bytes);
    this.#fill(now);
    return id;
  }

  /**
   * Finishes: sends what is queued, waits until the receiver's report says
   * the last frame is resolved (or a latency budget and a second pass), then
   * says bye and hands out a `closed` event.
   *
   * @param now The time, in ms.
   */
  close(now: number): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#closeDeadline = now + this.#latencyMs + 1000;
    this.#fill(now);
  }

  /**
   * Halves the datagram size after the path refused one as too large
   * (EMSGSIZE). The frame being sent is given up on.
   *
   * @returns The new size, or `undefined` when it is already the least.
   */
  halveDatagramSize(): number | undefined {
    if (this.#datagramBytes <= MIN_DATAGRAM_BYTES) return undefined;
    this.#datagramBytes = Math.max(
      MIN_DATAGRAM_BYTES,
      Math.floor(this.#datagramBytes / 2),
    );
    if (this.#current !== undefined) {
      this.#current = undefined;
      this.#stats.framesStale++;
    }
    return this.#datagramBytes;
  }

  /**
   * Takes a datagram from the network: a NACK, a report or a message-ack.
   * Anything from an address other than the receiver's is ignored, unless
   * `multicast`.
   *
   * @param now The time, in ms.
   * @param datagram The datagram.
   * @param from Where it came from.
   */
  handleDatagram(now: number, datagram: Uint8Array, from: Endpoint): void {
    const header = this.#header;
    if (readHeader(datagram, header) !== undefined || !header.fromReceiver) {
      this.#stats.malformed++;
      return;
    }
    if (
      header.streamId !== this.#streamId ||
      (!this.#multicast &&
        (from.port !== this.#peer.port ||
          from.hostname !== this.#peer.hostname))
    ) {
      this.#stats.foreign++;
      return;
    }
    if (header.type === PacketType.notice) {
      this.#onNotice(datagram, from);
      return;
    }
    const body = this.#open(now, datagram, header.flags, from);
    if (body === undefined) return;
    switch (header.type) {
      case PacketType.nack:
        this.#onNack(now, body);
        break;
      case PacketType.report:
        this.#onReport(now, body);
        break;
      case PacketType.messageAck:
        this.#onMessageAck(body);
        break;
    }
    this.#fill(now);
  }

  /**
   * The datagram's plaintext, opened in place when sealed; `undefined`
   * when it must be dropped: unsealed or forged with a key, replayed, or
   * sealed without one.
   */
  #open(
    now: number,
    datagram: Uint8Array,
    flags: number,
    from: Endpoint,
  ): Uint8Array | undefined {
    const aead = this.#aead;
    const sealed = (flags & Flags.sealed) !== 0;
    // Feedback counters start at random 62-bit numbers, one per receiver:
    // how the receivers of a multicast stream are told apart, even when
    // they share an address.
    const high = u32(datagram, 12) & 0x7fffffff;
    const low = u32(datagram, 16);
    if (aead === undefined) {
      if (!sealed) {
        this.#heard = true;
        if (this.#multicast) {
          this.#windows.accept(high, low);
          this.#party = this.#windows.partyOf(high, low);
        }
        return datagram;
      }
      this.#stats.sealed++;
      this.#hint(
        0,
        `${
          endpointKey(from)
        } seals its replies: it has a key and this client has none; give --key-file with the server's key`,
      );
      return undefined;
    }
    if (!sealed) {
      this.#authFailed(now, from);
      return undefined;
    }
    if (this.#windows.check(high, low) !== "ok") {
      this.#stats.replayed++;
      return undefined;
    }
    const length = aead.openWithHeaderNonce(
      datagram,
      FIXED_HEADER_BYTES,
      datagram.length,
      NONCE_OFFSET,
    );
    if (length < 0) {
      this.#authFailed(now, from);
      return undefined;
    }
    this.#windows.accept(high, low);
    this.#party = this.#windows.partyOf(high, low);
    this.#heard = true;
    return datagram.subarray(0, FIXED_HEADER_BYTES + length);
  }

  #authFailed(now: number, from: Endpoint): void {
    this.#stats.unauthenticated++;
    const line = this.#authFailures.fail(now, endpointKey(from));
    if (line !== undefined) this.#events.push({ type: "notice", text: line });
  }

  /** Hands out a line once per kind. */
  #hint(kind: number, text: string): void {
    if (this.#hints.has(kind)) return;
    this.#hints.add(kind);
    this.#events.push({ type: "notice", text });
  }

  /**
   * A receiver's unsealed notice. Anyone on the path could forge one, so it
   * only ever makes a line for the user, never a change of state.
   */
  #onNotice(datagram: Uint8Array, from: Endpoint): void {
    const notice = decodeNotice(datagram);
    if (notice === undefined) {
      this.#stats.malformed++;
      return;
    }
    const who = endpointKey(from);
    const keyed = this.#aead !== undefined;
    if (notice.code === NoticeCode.noKey && keyed) {
      this.#hint(
        notice.code,
        `${who} says it has no key, so it cannot open sealed datagrams: give the server --key-file too, or drop --key-file here (an unauthenticated hint)`,
      );
    } else if (notice.code === NoticeCode.needsKey && !keyed) {
      this.#hint(
        notice.code,
        `${who} says it needs a key: give --key-file FILE (or UDPIMG_KEY_FILE) with the server's key (an unauthenticated hint)`,
      );
    } else if (notice.code === NoticeCode.unauthenticated && keyed) {
      this.#hint(
        notice.code,
        `${who} says our datagrams failed authentication: is --key-file the server's key? (an unauthenticated hint)`,
      );
    }
  }

  /**
   * The next time {@linkcode StreamSender.handleTimeout} is due.
   *
   * @returns The time in ms, or `undefined` when nothing is pending.
   */
  pollTimeout(): number | undefined {
    if (this.#closed) return undefined;
    let due = this.#senderReportDue;
    if (this.#hasPaced()) {
      const at = this.#pacer.nextSendTime(
        this.#pacerNow,
        this.#datagramBytes,
      );
      if (at < due) due = at;
    }
    for (const message of this.#messages.values()) {
      if (message.nextAt < due) due = message.nextAt;
    }
    if (this.#closing) {
      due = Math.min(due, this.#closeDeadline, this.#finalReportDue);
    }
    const silence = this.#silenceDue();
    if (silence < due) due = silence;
    return due;
  }

  /**
   * Lets time pass: paced datagrams, sender reports, message retries, the
   * end of closing.
   *
   * @param now The time, in ms.
   */
  handleTimeout(now: number): void {
    if (this.#closed) return;
    for (const message of this.#messages.values()) {
      if (now < message.nextAt) continue;
      if (now >= message.deadline) {
        this.#messages.delete(message.id);
        this.#events.push({ type: "message-timeout", id: message.id });
        continue;
      }
      this.#control.push(message.bytes);
      message.interval *= 2;
      // The last wait ends at the deadline, where the timeout is told.
      message.nextAt = Math.min(now + message.interval, message.deadline);
    }
    if (now >= this.#silenceDue()) {
      this.#silenceTold = true;
      if (this.#hints.size === 0) {
        this.#events.push({
          type: "notice",
          text: `no reply could be authenticated within ${
            this.#silenceMs / 1000
          } s: wrong key, or the server has none?`,
        });
      }
    }
    // While closing, the last frames stay answerable until the end.
    if (!this.#closing) this.#history.expire(now);
    this.#fill(now);
  }

  /** When to say that nothing could be authenticated, if it comes to that. */
  #silenceDue(): number {
    return this.#aead === undefined || this.#heard || this.#silenceTold
      ? Infinity
      : this.#firstSentAt + this.#silenceMs;
  }

  /**
   * The next datagram to send.
   *
   * @returns The datagram and where to, or `undefined`.
   */
  pollTransmit(): Transmit | undefined {
    return this.#transmits.shift();
  }

  /**
   * The next event: a message's ack or timeout, or the end of closing.
   *
   * @returns The event, or `undefined`.
   */
  pollEvent(): StreamSenderEvent | undefined {
    return this.#events.shift();
  }

  /** Whether datagrams wait for the pacer. */
  #hasPaced(): boolean {
    return this.#resends.length > 0 || this.#current !== undefined ||
      this.#waiting !== undefined;
  }

  /** Moves what may go now into the transmit queue. */
  #fill(now: number): void {
    if (this.#closed) return;
    this.#pacerNow = now;
    const pacer = this.#pacer;
    // A due sender report goes first: at the start, the receiver learns of
    // the stream and the sender's clock before the first data.
    if (now >= this.#senderReportDue) this.#queueSenderReport(now);
    // Control datagrams are small and go at once, but count against the rate.
    for (let bytes; (bytes = this.#control.shift()) !== undefined;) {
      const datagram = this.#withTagRoom(bytes);
      this.#emit(now, datagram, bytes[3] as PacketTypeNumber, 0);
      pacer.consume(now, datagram.length);
    }
    let held = false;
    while (true) {
      const size = this.#nextPacedSize();
      if (size === 0) break;
      if (!pacer.canSend(now, size)) {
        held = true;
        break;
      }
      pacer.consume(now, size);
      this.#sendPaced(now);
    }
    if (held) this.#backlogged = true;
    if (this.#closing && !this.#hasPaced()) this.#tryFinish(now);
  }

  /** The size of the next paced datagram, 0 when there is none. */
  #nextPacedSize(): number {
    const resend = this.#resends.peek();
    if (resend !== undefined) {
      const { frame, index } = resend;
      return DATA_HEADER_BYTES + this.#overhead +
        Math.min(frame.size, frame.bytes.length - index * frame.size);
    }
    if (this.#current === undefined) {
      if (this.#waiting === undefined) return 0;
      this.#startFrame();
    }
    return this.#datagramBytes;
  }

  #sendPaced(now: number): void {
    const resend = this.#resends.shift();
    if (resend !== undefined) {
      this.#sendResend(now, resend.frame, resend.index);
      return;
    }
    const out = this.#current!;
    const { sent, block, dataStride } = out;
    const wallUs = (this.#wallOrigin() + now) * 1000;
    if (out.next < sent.count) {
      const index = out.next++;
      const start = index * dataStride;
      const length = DATA_HEADER_BYTES + this.#overhead +
        Math.min(sent.size, sent.bytes.length - index * sent.size);
      const datagram = block.subarray(start, start + length);
      writeSendOffset(datagram, wallUs - sent.timestamp);
      this.#emit(
        now,
        datagram,
        PacketType.data,
        out.groups.length > 0 ? Flags.parityFollows : 0,
      );
    } else {
      const g = out.next++ - sent.count;
      const parityBytes = PARITY_HEADER_BYTES + sent.size + this.#overhead;
      const start = out.parityOffset + g * parityBytes;
      const datagram = block.subarray(start, start + parityBytes);
      if (g === 0) {
        // Parity is computed once the data is out, off the first chunk's path.
        for (let k = 0; k < out.groups.length; k++) {
          const at = out.parityOffset + k * parityBytes;
          buildParity(
            sent.bytes,
            sent.size,
            out.groups[k]!,
            block.subarray(
              at + PARITY_HEADER_BYTES,
              at + PARITY_HEADER_BYTES + sent.size,
            ),
          );
        }
      }
      writeSendOffset(datagram, wallUs - sent.timestamp);
      this.#emit(now, datagram, PacketType.parity, 0);
      this.#stats.fecSent++;
    }
    if (out.next >= sent.count + out.groups.length) {
      this.#current = undefined;
      this.#stats.framesSent++;
    }
  }

  /** Cuts the waiting frame into datagrams, headers written. */
  #startFrame(): void {
    const waiting = this.#waiting!;
    this.#waiting = undefined;
    const bytes = waiting.bytes;
    const count = chunkCountFor(
      bytes.length,
      this.#datagramBytes - this.#overhead,
    );
    const size = Math.ceil(bytes.length / count);
    const id = this.#nextFrameId;
    this.#nextFrameId = (id + 1) >>> 0;
    const sent: SentFrame = {
      id,
      bytes,
      count,
      size,
      crc: crc32c(bytes),
      timestamp: waiting.timestamp,
      queuedAt: waiting.queuedAt,
      resentAt: undefined,
    };
    const groups = this.#fec > 0 ? parityGroups(count, this.#fec) : [];
    // Room for each datagram's tag, so that it is sealed where it lies.
    const overhead = this.#overhead;
    const dataStride = DATA_HEADER_BYTES + size + overhead;
    const parityStride = PARITY_HEADER_BYTES + size + overhead;
    const parityOffset = count * dataStride;
    const block = new Uint8Array(parityOffset + groups.length * parityStride);
    const fields = {
      frameId: id,
      index: 0,
      count,
      frameLength: bytes.length,
      crc: sent.crc,
      timestamp: sent.timestamp,
      sendOffset: 0,
    };
    for (let i = 0; i < count; i++) {
      const start = i * dataStride;
      const datagram = block.subarray(start, start + dataStride);
      fields.index = i;
      writeChunkHeader(datagram, fields);
      datagram.set(
        bytes.subarray(i * size, Math.min((i + 1) * size, bytes.length)),
        DATA_HEADER_BYTES,
      );
    }
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!;
      const at = parityOffset + g * parityStride;
      writeChunkHeader(block.subarray(at), {
        ...fields,
        index: group.first,
        stride: group.stride,
        groupLength: group.length,
      });
    }
    this.#history.add(sent);
    this.#current = {
      sent,
      block,
      dataStride,
      groups,
      parityOffset,
      next: 0,
    };
  }

  #sendResend(now: number, frame: SentFrame, index: number): void {
    const start = index * frame.size;
    const payload = frame.bytes.subarray(
      start,
      Math.min(start + frame.size, frame.bytes.length),
    );
    const datagram = new Uint8Array(
      DATA_HEADER_BYTES + payload.length + this.#overhead,
    );
    writeChunkHeader(datagram, {
      frameId: frame.id,
      index,
      count: frame.count,
      frameLength: frame.bytes.length,
      crc: frame.crc,
      timestamp: frame.timestamp,
      sendOffset: (this.#wallOrigin() + now) * 1000 - frame.timestamp,
    });
    datagram.set(payload, DATA_HEADER_BYTES);
    this.#emit(now, datagram, PacketType.data, Flags.retransmission);
    this.#stats.retransmitted++;
  }

  /** Stamps the fixed header and queues the datagram. */
  #emit(
    now: number,
    datagram: Uint8Array,
    type: PacketTypeNumber,
    flags: number,
  ): void {
    const n = this.#packetNumber++;
    const aead = this.#aead;
    writeHeader(
      datagram,
      type,
      aead === undefined ? flags : flags | Flags.sealed,
      this.#streamId,
      false,
      n,
    );
    if (aead !== undefined) {
      // A datagram sent again comes here again: a new number, a new nonce.
      aead.sealWithHeaderNonce(
        datagram,
        FIXED_HEADER_BYTES,
        datagram.length - FIXED_HEADER_BYTES - SEAL_OVERHEAD,
        NONCE_OFFSET,
      );
    }
    if (this.#firstSentAt === Infinity) this.#firstSentAt = now;
    const slot = n % SEND_TIMES;
    this.#sendTimes[slot] = now;
    this.#sendNumbers[slot] = n;
    this.#stats.datagramsSent++;
    this.#stats.bytesSent += datagram.length;
    this.#transmits.push({ to: this.#peer, bytes: datagram });
  }

  /** A control datagram as it will be sent: with room for a tag if sealed. */
  #withTagRoom(bytes: Uint8Array): Uint8Array {
    if (this.#overhead === 0) return bytes;
    const datagram = new Uint8Array(bytes.length + this.#overhead);
    datagram.set(bytes);
    return datagram;
  }

  #onNack(now: number, datagram: Uint8Array): void {
    const count = nackEntryCount(datagram);
    if (count < 0) {
      this.#stats.malformed++;
      return;
    }
    this.#stats.nacks++;
    this.#refillRetransmitTokens(now);
    const entry = this.#entry;
    const interval = this.#multicast
      ? Math.max(10, this.#rtt.smoothed)
      : this.#rtt.smoothed / 2;
    const current = this.#current;
    const resend = (frame: SentFrame, index: number): boolean => {
      // Not sent yet: it is on its way.
      if (
        current !== undefined && frame === current.sent && index >= current.next
      ) {
        this.#stats.unsent++;
        return true;
      }
      const cost = DATA_HEADER_BYTES + frame.size + this.#overhead;
      if (this.#retransmitTokens < cost) {
        this.#stats.retransmitSkipped++;
        return false;
      }
      this.#retransmitTokens -= cost;
      this.#resends.push({ frame, index });
      return true;
    };
    for (let k = 0; k < count; k++) {
      readNackEntry(datagram, k, entry);
      this.#history.answer(entry, now, interval, resend);
    }
  }

  #refillRetransmitTokens(now: number): void {
    const rate = this.#pacer.rate * this.#retransmitShare;
    const depth = Math.max(64 * 1024, rate * 0.05);
    if (this.#retransmitUpdated === -Infinity) this.#retransmitTokens = depth;
    else {
      this.#retransmitTokens = Math.min(
        depth,
        this.#retransmitTokens +
          ((now - this.#retransmitUpdated) * rate) / 1000,
      );
    }
    this.#retransmitUpdated = now;
  }

  #onReport(now: number, datagram: Uint8Array): void {
    const report = decodeReport(datagram);
    if (report === undefined) {
      this.#stats.malformed++;
      return;
    }
    const slot = report.highestPacket % SEND_TIMES;
    if (this.#sendNumbers[slot] === report.highestPacket) {
      const rtt = now - this.#sendTimes[slot]! - report.delaySince / 1000;
      // A report that claims a delay longer than the round trip is wrong.
      if (rtt >= 0) this.#rtt.sample(rtt, now);
    }
    // Each receiver's reports are told apart (a multicast stream has many):
    // differences are only taken between reports of one receiver.
    const key = this.#multicast ? this.#party : -1;
    const state = this.#receivers.get(key);
    const previous = state?.report;
    this.#lastReport = report;
    this.#lastReportAt = now;
    let lossFraction = state?.lossFraction ?? 0;
    if (
      previous !== undefined &&
      report.highestPacket >= previous.highestPacket
    ) {
      const expected = report.highestPacket - previous.highestPacket;
      const received = (report.packetsReceived - previous.packetsReceived) >>>
        0;
      const loss = expected > 0 ? Math.max(0, 1 - received / expected) : 0;
      lossFraction = Math.min(1, loss);
      const elapsedUs = report.receiverClock - previous.receiverClock;
      const bytes = (report.bytesReceived - previous.bytesReceived) >>> 0;
      // A multicast stream goes at a fixed rate: no one receiver's reports
      // may pull it around.
      if (this.#adaptive && !this.#multicast && expected >= 0) {
        const seconds = elapsedUs / 1e6;
        const stats = this.#stats;
        // Frames the receiving program took: those that came, less those
        // it skipped and those added to its queue.
        const taken = ((report.framesDelivered - previous.framesDelivered) >>>
          0) -
          ((report.framesSkipped - previous.framesSkipped) >>> 0) -
          (report.framesWaiting - previous.framesWaiting);
        const sane = elapsedUs > 0 && elapsedUs < 10e6;
        this.#controller.onSample(now, {
          lossFraction,
          queueingDelayMs: report.queueingDelay / 1000,
          minRttMs: this.#rtt.min,
          receiveRate: sane ? bytes / seconds : undefined,
          backlogged: this.#backlogged,
          overrun: report.framesSkipped !== previous.framesSkipped,
          backlogFrames: report.framesWaiting,
          ...(sane && taken >= 0 && stats.framesSent > 0 && {
            drainRate: (taken * stats.bytesSent) / stats.framesSent / seconds,
          }),
        });
        this.#pacer.rate = this.#controller.rate;
      }
      this.#backlogged = false;
    }
    if (state === undefined) {
      if (this.#receivers.size >= MAX_RECEIVERS) {
        this.#receivers.delete(this.#receivers.keys().next().value!);
      }
      this.#receivers.set(key, { report, at: now, lossFraction });
    } else {
      state.report = report;
      state.at = now;
      state.lossFraction = lossFraction;
    }
    // The worst receiver's loss, over those heard from lately.
    let worst = 0;
    for (const receiver of this.#receivers.values()) {
      if (now - receiver.at <= RECEIVER_ACTIVE_MS) {
        worst = Math.max(worst, receiver.lossFraction);
      }
    }
    this.#stats.lossFraction = worst;
    if (now - this.#lastSenderReportAt >= SR_MIN_INTERVAL_MS) {
      this.#senderReportDue = now;
    }
  }

  #onMessageAck(datagram: Uint8Array): void {
    const ack = decodeMessage(datagram);
    if (ack === undefined) {
      this.#stats.malformed++;
      return;
    }
    if (!this.#messages.delete(ack.id)) return;
    this.#events.push({
      type: "message-ack",
      id: ack.id,
      ok: ack.status === 0,
      reply: new TextDecoder().decode(ack.text),
    });
  }

  #queueSenderReport(now: number): void {
    const last = this.#lastReport;
    this.#control.push(encodeSenderReport({
      senderClock: Math.round((this.#wallOrigin() + now) * 1000),
      echoedClock: last?.receiverClock ?? 0,
      delaySince: last === undefined ? 0 : (now - this.#lastReportAt) * 1000,
      nextFrameId: this.#nextFrameId,
    }));
    this.#lastSenderReportAt = now;
    this.#senderReportDue = now + SR_IDLE_INTERVAL_MS;
  }

  #tryFinish(now: number): void {
    // Every receiver has every frame: the one, or in multicast those heard
    // from lately.
    let active = 0;
    let done = 0;
    for (const receiver of this.#receivers.values()) {
      if (this.#multicast && now - receiver.at > RECEIVER_ACTIVE_MS) continue;
      active++;
      if (frameDiff(receiver.report.nextFrameId, this.#nextFrameId) >= 0) {
        done++;
      }
    }
    const delivered = this.#nextFrameId === 0 ||
      (active > 0 && done === active);
    if (!delivered && now < this.#closeDeadline) {
      if (now >= this.#finalReportDue) {
        // Says where the stream ends, so that the receiver can ask for a
        // lost last frame; again every few round trips, in case it is lost.
        this.#finalReportDue = now + Math.max(10, 2 * this.#rtt.smoothed);
        this.#queueSenderReport(now);
        this.#fill(now);
      }
      return;
    }
    for (let i = 0; i < 2; i++) {
      this.#emit(
        now,
        new Uint8Array(FIXED_HEADER_BYTES + this.#overhead),
        PacketType.bye,
        0,
      );
    }
    this.#closed = true;
    this.#events.push({ type: "closed", delivered });
  }
}

function checkDatagramBytes(bytes: number): number {
  if (
    !Number.isInteger(bytes) || bytes < MIN_DATAGRAM_BYTES ||
    bytes > MAX_DATAGRAM_BYTES
  ) {
    throw new RangeError(
      `The datagram size must be an integer from ${MIN_DATAGRAM_BYTES} to ${MAX_DATAGRAM_BYTES}, got ${bytes}`,
    );
  }
  return bytes;
}
