/**
 * The stream protocol's receiving side, as the server drives it: a
 * {@linkcode ProtocolReceiver} that keeps one state per stream (the
 * sender's address with its stream id), reassembles frames, asks for what
 * is missing, reports a few times a second, answers messages, and hands out
 * whole frames with their send time on the receiver's clock. With a key
 * it opens every datagram in place before reading anything of its body,
 * and keeps a replay window per stream.
 *
 * @module
 */

import { handleMessage } from "../classic/message.ts";
import { sniffFormat } from "../codec/types.ts";
import type { Aead, AeadMode } from "../crypto/aead.ts";
import { ReplayWindow } from "../crypto/replay_window.ts";
import { createStreamAead } from "../crypto/stream_aead.ts";
import type { Endpoint } from "../net/types.ts";
import { SenderTable } from "../server/sender_table.ts";
import type {
  ProtocolReceiver,
  ReceiverEvent,
  Transmit,
} from "../server/types.ts";
import { wallClockLead } from "./_clock.ts";
import { Queue } from "./_queue.ts";
import { collectNacks } from "./nack_generator.ts";
import {
  FrameBudget,
  newReassemblyStats,
  type ReassemblyStats,
  StreamReassembler,
} from "./reassembler.ts";
import { ReceiveLog } from "./receive_log.ts";
import { ClockOffsetEstimator, DelayMeter, RttEstimator } from "./reports.ts";
import { AuthFailureLog, ReplyLimiter } from "./_rate_limits.ts";
import {
  decodeMessage,
  decodeSenderReport,
  DEFAULT_DATAGRAM_BYTES,
  encodeMessage,
  encodeNacks,
  encodeNotice,
  encodeReport,
  FIXED_HEADER_BYTES,
  Flags,
  looksLikeStream,
  type NackEntry,
  newChunkHeader,
  newFixedHeader,
  NONCE_OFFSET,
  NOTICE_HEADER_BYTES,
  NoticeCode,
  type NoticeCodeNumber,
  PacketType,
  readChunkHeader,
  readHeader,
  REPORT_BYTES,
  SEAL_OVERHEAD,
  u32,
  writeHeader,
  writePacketWords,
} from "./wire.ts";

/** Options for {@linkcode StreamReceiver}. */
export interface StreamReceiverOptions {
  /**
   * How long a frame may take, in ms, before it is given up on.
   *
   * @default {120}
   */
  latencyMs?: number;
  /** The largest frame a header may announce. @default {67108864} (64 MiB) */
  maxFrameBytes?: number;
  /** Bytes all partial frames may hold together. @default {268435456} (256 MiB) */
  maxPendingBytes?: number;
  /** Streams kept at once; past it the least recently active goes. @default {256} */
  maxStreams?: number;
  /** Frames open at once per stream. @default {64} */
  maxFramesInFlight?: number;
  /** The largest datagram this receiver sends. @default {1200} */
  datagramBytes?: number;
  /** Report interval, in ms. @default {100} */
  reportIntervalMs?: number;
  /**
   * Whether a sender's address is on this machine, so that its clock is
   * this one's.
   *
   * @default loopback addresses only
   */
  isLocalAddress?: (hostname: string) => boolean;
  /**
   * The wall clock at time 0 of the `now` the receiver is driven with, in
   * ms since the epoch: a fixed number (for simulations), or by default the
   * current lead of the wall clock over `performance.now()`, sampled as it
   * goes, since the two drift apart.
   */
  wallClockOrigin?: number;
  /**
   * The 32-byte shared key: only sealed datagrams that open under it are
   * taken, and feedback is sealed too.
   *
   * @default {undefined} (sealed datagrams are refused)
   */
  key?: Uint8Array;
  /** The AES-GCM implementation, with a `key`. @default {"auto"} */
  aeadImplementation?: AeadMode;
}

interface Stream {
  readonly key: string;
  /** The sender's name in events: its address when the stream began. */
  readonly name: string;
  /** Where it sends from now (a sealed stream may move: NAT rebinding). */
  fromKey: string;
  from: Endpoint;
  readonly streamId: number;
  /** Sealed streams: the replay window over the sender's packet numbers. */
  readonly window: ReplayWindow | undefined;
  /** This end's packet counter, in two words, from a random 62-bit start. */
  feedbackHigh: number;
  feedbackLow: number;
  /** The receiver clocks of the last reports, to tell our echoes apart. */
  readonly reportClocks: Float64Array;
  reportClockNext: number;
  readonly assembler: StreamReassembler;
  readonly log: ReceiveLog;
  readonly delay: DelayMeter;
  readonly rtt: RttEstimator;
  readonly offset: ClockOffsetEstimator;
  readonly sameClock: boolean;
  readonly acks: Map<number, Uint8Array>;
  bytesReceived: number;
  /** Bytes of NACKs and reports sent to this stream: never more than it sent us. */
  feedbackBytes: number;
  framesSkipped: number;
  highestArrival: number;
  readonly startedAt: number;
  lastHeard: number;
  nextReportAt: number;
  nackDue: number;
  byeAt: number;
  live: boolean;
}

const STREAM_IDLE_MS = 10_000;
const REPORT_SILENCE_MS = 1000;
const FIRST_REPORT_MS = 20;
/**
 * For its first half second a stream is reported on this often: its
 * sender's first climb goes a step per report, so that it finds the path's
 * (or the decoder's) rate in a tenth of a second and overshoots it by one
 * short step, not by a whole report interval.
 */
const EARLY_REPORT_MS = 25;
const EARLY_MS = 500;
const MAX_ACKS = 32;
/** Notices given once per sender. */
const NOTICE_KINDS = ["unsupported", "sealed", "unsealed"] as const;
/** Reports whose clocks are remembered, for sender-report echoes. */
const REPORT_CLOCKS = 8;
/** Sealed streams gone whose highest packet number is remembered. */
const MAX_TOMBSTONES = 4096;
const TWO_32 = 2 ** 32;

/** Counters kept across streams, beyond the reassemblers'. */
const RECEIVER_COUNTERS = [
  "malformed",
  "unsupported",
  "sealed",
  "unauthenticated",
  "replayed",
  "hintsSent",
  "duplicates",
  "nacksSent",
  "reportsSent",
  "streamsEvicted",
  "afterBye",
  "feedbackCapped",
] as const;

/**
 * Receives the stream protocol for the server.
 *
 * @example Serving both protocols on one port
 * ```ts ignore
 * import { FrameServer } from "../server/server.ts";
 * import { ClassicReceiver } from "../classic/receiver.ts";
 * import { StreamReceiver } from "./receiver.ts";
 *
 * await using server = await FrameServer.listen({
 *   port: 9999,
 *   receivers: [new StreamReceiver(), new ClassicReceiver()],
 * });
 * ```
 *
 * @example Driving it by hand
 * ```ts
 * import { StreamReceiver } from "./receiver.ts";
 * const receiver = new StreamReceiver();
 * console.log(receiver.matches(new Uint8Array(8))); // false: a classic header
 * ```
 */
export class StreamReceiver implements ProtocolReceiver {
  /** The wire format. */
  readonly protocol = "stream" as const;
  readonly #latencyMs: number;
  readonly #maxFrameBytes: number;
  readonly #maxFramesInFlight: number;
  readonly #datagramBytes: number;
  readonly #reportMs: number;
  readonly #isLocal: (hostname: string) => boolean;
  readonly #wallOrigin: () => number;
  readonly #budget: FrameBudget;
  readonly #streams: SenderTable<Stream>;
  readonly #events = new Queue<ReceiverEvent>();
  readonly #transmits = new Queue<Transmit>();
  readonly #header = newFixedHeader();
  readonly #chunk = newChunkHeader();
  readonly #entries: NackEntry[] = [];
  /** Per sender, the kinds of notice it was given (bits of NOTICE_KINDS). */
  readonly #noticed = new Map<string, number>();
  readonly #aead: Aead | undefined;
  readonly #overhead: number;
  readonly #sealedById = new Map<number, Stream>();
  /**
   * Streams gone, and the highest packet number each had: a datagram of
   * theirs that comes late (or a capture replayed) must not start them anew
   * and deliver their frames twice. Sealed streams by stream id, others by
   * key.
   */
  readonly #tombstones = new Map<number | string, number>();
  readonly #authFailures = new AuthFailureLog();
  readonly #replies = new ReplyLimiter();
  #openBuffer: ArrayBufferLike | undefined;
  #openView: Uint8Array = new Uint8Array(0);
  #backlog = 0;
  #last: Stream | undefined;
  #lastTouches = 0;
  readonly #retired: ReassemblyStats = newReassemblyStats();
  readonly #counters: Record<typeof RECEIVER_COUNTERS[number], number> = Object
    .fromEntries(RECEIVER_COUNTERS.map((name) => [name, 0])) as Record<
      typeof RECEIVER_COUNTERS[number],
      number
    >;

  /**
   * Makes a receiver with no streams.
   *
   * @param options Latency budget and memory bounds.
   */
  constructor(options: StreamReceiverOptions = {}) {
    this.#latencyMs = options.latencyMs ?? 120;
    this.#maxFrameBytes = options.maxFrameBytes ?? 64 * 1024 * 1024;
    this.#maxFramesInFlight = options.maxFramesInFlight ?? 64;
    this.#datagramBytes = options.datagramBytes ?? DEFAULT_DATAGRAM_BYTES;
    this.#reportMs = options.reportIntervalMs ?? 100;
    this.#isLocal = options.isLocalAddress ?? isLoopback;
    const origin = options.wallClockOrigin;
    this.#wallOrigin = origin === undefined ? wallClockLead : () => origin;
    this.#aead = options.key === undefined ? undefined : createStreamAead(
      options.key,
      "receiver",
      { implementation: options.aeadImplementation ?? "auto" },
    );
    this.#overhead = this.#aead === undefined ? 0 : SEAL_OVERHEAD;
    this.#budget = new FrameBudget(
      Math.max(
        options.maxPendingBytes ?? 256 * 1024 * 1024,
        this.#maxFrameBytes,
      ),
    );
    this.#streams = new SenderTable<Stream>({
      maxEntries: options.maxStreams ?? 256,
      onEvict: (_, stream) => {
        this.#counters.streamsEvicted++;
        this.#retire(stream);
      },
    });
  }

  /** Streams kept now. */
  get streams(): number {
    return this.#streams.size;
  }

  /** Bytes the partial frames of every stream reserve. */
  get pendingBytes(): number {
    return this.#budget.reserved;
  }

  /**
   * With a key, which AES-GCM implementation opens, in one line; else
   * `undefined`.
   */
  get sealing(): string | undefined {
    return this.#aead?.reason;
  }

  /**
   * Sends each live stream a last report, so that a sender waiting for the
   * end of its stream to be confirmed (a server that stops at `--count`)
   * finishes at once.
   *
   * @param now The time, in ms.
   */
  finish(now: number): void {
    for (const stream of this.#streams.values()) {
      if (stream.live) this.#sendReport(now, stream);
    }
  }

  /** Frees the AEAD's native state. */
  close(): void {
    this.#aead?.close();
  }

  /**
   * Whether `datagram` starts a stream: the magic and a known type.
   *
   * @param datagram A new sender's first datagram.
   * @returns Whether it is this protocol's.
   */
  matches(datagram: Uint8Array): boolean {
    return looksLikeStream(datagram);
  }

  /**
   * Takes one datagram; malformed ones are counted and dropped.
   *
   * @param now The time, in ms.
   * @param datagram The datagram, a view the server reuses.
   * @param from Where it came from.
   * @param fromKey The sender's key, `host:port`.
   */
  handleDatagram(
    now: number,
    datagram: Uint8Array,
    from: Endpoint,
    fromKey: string,
  ): void {
    const header = this.#header;
    const error = readHeader(datagram, header);
    if (error !== undefined) {
      this.#refuse(fromKey, datagram.length, error);
      return;
    }
    // A receiver takes what senders send only: feedback sent to it would
    // open a stream and draw feedback back, toward whoever it names.
    if (header.fromReceiver) {
      this.#refuse(fromKey, datagram.length, "direction");
      return;
    }
    const sealed = (header.flags & Flags.sealed) !== 0;
    let stream: Stream;
    if (this.#aead !== undefined) {
      const opened = this.#openSealed(now, datagram, from, fromKey, sealed);
      if (opened === undefined) return;
      stream = opened;
      datagram = datagram.subarray(
        0,
        datagram.length - SEAL_OVERHEAD,
      );
    } else {
      if (sealed) {
        this.#refuse(fromKey, datagram.length, "sealed");
        this.#hint(
          now,
          from,
          fromKey,
          NoticeCode.noKey,
          "this server has no key",
          datagram.length,
        );
        return;
      }
      const found = this.#stream(now, from, fromKey, header.streamId, false);
      if (found === undefined) {
        // A datagram that lagged behind its stream's end, such as a copy.
        this.#counters.afterBye++;
        return;
      }
      stream = found;
    }
    stream.lastHeard = now;
    // Reports stop after a silence; a sender that comes back gets them again.
    if (stream.nextReportAt === Infinity) {
      stream.nextReportAt = now + FIRST_REPORT_MS;
    }
    if (!stream.log.add(header.packetNumber)) {
      this.#counters.duplicates++;
      return;
    }
    if (header.packetNumber === stream.log.highest) {
      stream.highestArrival = now;
    }
    stream.bytesReceived += datagram.length;
    switch (header.type) {
      case PacketType.data:
      case PacketType.parity:
        this.#onChunk(now, stream, datagram, header.type, header.flags);
        break;
      case PacketType.senderReport:
        this.#onSenderReport(now, stream, datagram);
        break;
      case PacketType.message:
        this.#onMessage(stream, datagram);
        break;
      case PacketType.bye:
        stream.byeAt = now;
        break;
    }
    this.#drain(stream);
  }

  /**
   * Opens a datagram in place, tag first: its stream, or `undefined` when it
   * is unsealed, forged, replayed or too old. A datagram refused here
   * allocates nothing (a hint back is rate-limited) and changes no state
   * but counters.
   */
  #openSealed(
    now: number,
    datagram: Uint8Array,
    from: Endpoint,
    fromKey: string,
    sealed: boolean,
  ): Stream | undefined {
    const header = this.#header;
    if (!sealed) {
      this.#counters.unauthenticated++;
      this.#noticeOnce(
        fromKey,
        "unsealed",
        `${fromKey} sends unsealed stream datagrams and this server has a key; they are dropped (the sender needs --key-file)`,
      );
      this.#hint(
        now,
        from,
        fromKey,
        NoticeCode.needsKey,
        "this server needs a key (--key-file)",
        datagram.length,
      );
      return undefined;
    }
    const streamId = header.streamId;
    const n = header.packetNumber;
    // No sender of ours numbers past 2^53 - 1 (it starts below 2^52).
    if (!Number.isSafeInteger(n)) {
      this.#counters.unauthenticated++;
      return undefined;
    }
    let stream = this.#last;
    if (stream === undefined || !stream.live || stream.streamId !== streamId) {
      stream = this.#sealedById.get(streamId);
    }
    if (stream !== undefined) {
      if (stream.window!.check(n) !== "ok") {
        this.#counters.replayed++;
        return undefined;
      }
    } else {
      const gone = this.#tombstones.get(streamId);
      if (gone !== undefined && n <= gone) {
        this.#counters.replayed++;
        return undefined;
      }
    }
    const buffer = datagram.buffer;
    if (buffer !== this.#openBuffer) {
      // One view per receive buffer, so that opening in it makes none.
      this.#openBuffer = buffer;
      this.#openView = new Uint8Array(buffer);
    }
    const length = this.#aead!.openWithHeaderNonce(
      this.#openView,
      FIXED_HEADER_BYTES,
      datagram.length,
      NONCE_OFFSET,
      datagram.byteOffset,
    );
    if (length < 0) {
      this.#counters.unauthenticated++;
      const line = this.#authFailures.fail(now, fromKey);
      if (line !== undefined) {
        this.#events.push({
          type: "notice",
          protocol: "stream",
          sender: fromKey,
          text: line,
        });
      }
      this.#hint(
        now,
        from,
        fromKey,
        NoticeCode.unauthenticated,
        "authentication failed",
        datagram.length,
      );
      return undefined;
    }
    stream ??= this.#stream(now, from, fromKey, streamId, true)!;
    const newest = n > stream.window!.highest;
    stream.window!.accept(n);
    if (newest && fromKey !== stream.fromKey) {
      // The sender's address changed (NAT rebinding): the key vouches for
      // it, and replies follow the newest datagram.
      stream.from = from;
      stream.fromKey = fromKey;
    }
    // The table's order renewed now and then only.
    if ((++this.#lastTouches & 63) === 0) this.#streams.get(stream.key);
    this.#last = stream;
    return stream;
  }

  /**
   * Answers a datagram that could not be taken with an unsealed notice, at
   * most a few a second per source and never longer than the datagram: a
   * hint for the sender's user that a forger could also send, so it asks
   * for nothing.
   */
  #hint(
    now: number,
    to: Endpoint,
    toKey: string,
    code: NoticeCodeNumber,
    text: string,
    causeLength: number,
  ): void {
    if (causeLength < NOTICE_HEADER_BYTES || !this.#replies.allow(now, toKey)) {
      return;
    }
    const notice = encodeNotice(code, text, causeLength);
    writeHeader(
      notice,
      PacketType.notice,
      0,
      this.#header.streamId,
      true,
      0,
    );
    this.#counters.hintsSent++;
    this.#transmits.push({ to, bytes: notice });
  }

  /**
   * The next time a stream has something to do: a NACK, a report, a frame's
   * budget running out, or forgetting it.
   *
   * @returns The time in ms, or `undefined` with no streams.
   */
  pollTimeout(): number | undefined {
    let due = Infinity;
    for (const stream of this.#streams.values()) {
      const at = Math.min(
        stream.nackDue,
        stream.nextReportAt,
        stream.assembler.nextDeadline(),
        this.#forgetAt(stream),
      );
      if (at < due) due = at;
    }
    return due === Infinity ? undefined : due;
  }

  /**
   * Lets timers fire: NACKs, reports, budgets, forgetting idle streams.
   *
   * @param now The time, in ms.
   */
  handleTimeout(now: number): void {
    const forgotten: Stream[] = [];
    for (const stream of this.#streams.values()) {
      stream.assembler.expire(now);
      if (now >= stream.nackDue) this.#sendNacks(now, stream);
      if (now >= stream.nextReportAt) {
        if (now - stream.lastHeard > REPORT_SILENCE_MS) {
          stream.nextReportAt = Infinity;
        } else {
          this.#sendReport(now, stream);
          stream.nextReportAt = now +
            (now - stream.startedAt < EARLY_MS
              ? Math.min(EARLY_REPORT_MS, this.#reportMs)
              : this.#reportMs);
        }
      }
      this.#drain(stream);
      if (now >= this.#forgetAt(stream)) forgotten.push(stream);
    }
    for (const stream of forgotten) {
      this.#streams.delete(stream.key);
      this.#retire(stream);
    }
  }

  /**
   * The next datagram to send: a NACK, a report or a message-ack.
   *
   * @returns The datagram, or `undefined`.
   */
  pollTransmit(): Transmit | undefined {
    return this.#transmits.shift();
  }

  /**
   * The next frame, drop, stray, message or notice.
   *
   * @returns The event, or `undefined`.
   */
  pollEvent(): ReceiverEvent | undefined {
    return this.#events.shift();
  }

  /**
   * Counters over every stream, live and gone: `recoveredNack`,
   * `recoveredFec`, `chunksLate`, `duplicates`, `malformed` and so on.
   *
   * @returns The counters by name.
   */
  counters(): Readonly<Record<string, number>> {
    const total = { ...this.#retired };
    for (const stream of this.#streams.values()) {
      addStats(total, stream.assembler.stats);
    }
    return {
      recoveredNack: total.recoveredNack,
      recoveredFec: total.recoveredFec,
      chunksLate: total.chunksLate,
      inconsistent: total.inconsistent,
      overBudget: total.overBudget,
      ...this.#counters,
    };
  }

  /**
   * Counts a frame the server could not take, for the sender's reports: its
   * rate controller backs off.
   *
   * @param fromKey The sender's key.
   */
  frameSkipped(fromKey: string): void {
    for (const stream of this.#streams.values()) {
      if (stream.name === fromKey) stream.framesSkipped++;
    }
  }

  /**
   * Takes how many frames wait in the server, for the reports.
   *
   * @param frames Whole frames waiting to be decoded or taken.
   */
  setBacklog(frames: number): void {
    this.#backlog = frames;
  }

  /**
   * Forgets the streams of a sender the server no longer remembers.
   *
   * @param fromKey The sender's key.
   */
  forget(fromKey: string): void {
    for (const stream of [...this.#streams.values()]) {
      if (stream.fromKey !== fromKey) continue;
      this.#streams.delete(stream.key);
      this.#retire(stream);
    }
  }

  #stream(
    now: number,
    from: Endpoint,
    fromKey: string,
    streamId: number,
    sealed: boolean,
  ): Stream | undefined {
    // The same stream as the last datagram's, mostly: no key to build, and
    // the table's order renewed now and then only.
    const last = this.#last;
    if (
      last !== undefined && last.live && last.streamId === streamId &&
      (sealed || last.fromKey === fromKey) && (++this.#lastTouches & 63) !== 0
    ) return last;
    // A sealed stream is its stream id and key, wherever it comes from.
    const key = sealed ? `#${streamId}` : `${fromKey}#${streamId}`;
    let stream = this.#streams.get(key);
    if (stream === undefined) {
      if (!sealed) {
        const gone = this.#tombstones.get(key);
        if (gone !== undefined && this.#header.packetNumber <= gone) {
          return undefined;
        }
      }
      const random = crypto.getRandomValues(new Uint32Array(2));
      stream = {
        key,
        name: fromKey,
        fromKey,
        from,
        streamId,
        window: sealed ? new ReplayWindow() : undefined,
        // A random 62-bit start: the receivers of one multicast stream, or
        // one receiver restarted, never seal under the same nonce, and the
        // sender tells them apart even when they share an address.
        feedbackHigh: random[0]! >>> 2,
        feedbackLow: random[1]!,
        reportClocks: new Float64Array(REPORT_CLOCKS).fill(-1),
        reportClockNext: 0,
        assembler: new StreamReassembler({
          latencyMs: this.#latencyMs,
          maxFramesInFlight: this.#maxFramesInFlight,
          budget: this.#budget,
        }),
        log: new ReceiveLog(),
        delay: new DelayMeter(),
        rtt: new RttEstimator(10),
        offset: new ClockOffsetEstimator(),
        sameClock: this.#isLocal(from.hostname),
        acks: new Map(),
        bytesReceived: 0,
        feedbackBytes: 0,
        framesSkipped: 0,
        highestArrival: now,
        startedAt: now,
        lastHeard: now,
        nextReportAt: now + FIRST_REPORT_MS,
        nackDue: Infinity,
        byeAt: Infinity,
        live: true,
      };
      this.#streams.set(key, stream);
      if (sealed) this.#sealedById.set(streamId, stream);
    }
    this.#last = stream;
    return stream;
  }

  #onChunk(
    now: number,
    stream: Stream,
    datagram: Uint8Array,
    type: number,
    flags: number,
  ): void {
    const chunk = this.#chunk;
    const parity = type === PacketType.parity;
    const error = readChunkHeader(
      datagram,
      parity,
      this.#maxFrameBytes,
      chunk,
    );
    if (error !== undefined) {
      this.#refuse(
        stream.name,
        datagram.length,
        error,
        error === "bad-size"
          ? `a ${
            u32(datagram, 28)
          }-byte frame, over the ${this.#maxFrameBytes}-byte limit`
          : undefined,
      );
      return;
    }
    const retransmission = (flags & Flags.retransmission) !== 0;
    if (!retransmission) {
      const wallUs = (this.#wallOrigin() + now) * 1000;
      stream.delay.sample(chunk.timestamp + chunk.sendOffset, wallUs, now);
    }
    const assembler = stream.assembler;
    if (parity) assembler.addParity(now, chunk, datagram);
    else {
      assembler.addChunk(
        now,
        chunk,
        datagram,
        retransmission,
        (flags & Flags.parityFollows) !== 0,
      );
    }
    if (assembler.holeSeen) {
      assembler.holeSeen = false;
      stream.nackDue = now;
    }
  }

  #onSenderReport(now: number, stream: Stream, datagram: Uint8Array): void {
    const report = decodeSenderReport(datagram);
    if (report === undefined) {
      this.#refuse(stream.name, datagram.length, "malformed");
      return;
    }
    stream.assembler.reveal(now, report.nextFrameId);
    // Only an echo of one of our own reports: a multicast sender echoes
    // whichever receiver's report came last.
    if (
      report.echoedClock !== 0 &&
      stream.reportClocks.includes(report.echoedClock)
    ) {
      const t4 = (this.#wallOrigin() + now) * 1000;
      const t3 = report.senderClock;
      const rttUs = stream.offset.sample(
        report.echoedClock,
        t3 - report.delaySince,
        t3,
        t4,
      );
      if (rttUs !== undefined) stream.rtt.sample(rttUs / 1000, now);
    }
    stream.nackDue = Math.min(stream.nackDue, now);
    // A sender that has sent everything we have delivered may be closing:
    // tell it at once rather than at the next report.
    if (report.nextFrameId === stream.assembler.nextFrameId) {
      stream.nextReportAt = Math.min(stream.nextReportAt, now);
    }
  }

  #onMessage(stream: Stream, datagram: Uint8Array): void {
    const decoded = decodeMessage(datagram);
    if (decoded === undefined) {
      this.#refuse(stream.name, datagram.length, "malformed");
      return;
    }
    let ack = stream.acks.get(decoded.id);
    if (ack === undefined) {
      const { message, reply } = handleMessage(decoded.text, stream.name);
      this.#events.push({
        type: "message",
        protocol: "stream",
        sender: stream.name,
        result: message.ok
          ? { ok: true, value: message.value }
          : { ok: false, error: message.error },
      });
      ack = encodeMessage(
        PacketType.messageAck,
        decoded.id,
        reply,
        message.ok ? 0 : 1,
      );
      stream.acks.set(decoded.id, ack);
      if (stream.acks.size > MAX_ACKS) {
        stream.acks.delete(stream.acks.keys().next().value!);
      }
    }
    this.#send(stream, ack.slice());
  }

  #sendNacks(now: number, stream: Stream): void {
    const entries = this.#entries;
    entries.length = 0;
    const rtt = stream.rtt.smoothed;
    stream.nackDue = collectNacks(
      stream.assembler.pending(),
      stream.assembler.newestFrameId,
      now,
      {
        retryMs: Math.max(2, 1.5 * rtt + stream.rtt.variation),
        reorderMs: Math.max(1, Math.min(10, rtt / 2)),
      },
      entries,
    );
    if (entries.length === 0) return;
    for (
      const nack of encodeNacks(entries, this.#datagramBytes - this.#overhead)
    ) {
      if (!this.#mayAnswer(stream, nack.length + this.#overhead)) return;
      this.#counters.nacksSent++;
      this.#send(stream, nack);
    }
  }

  /**
   * Whether `bytes` more of feedback keep what the stream was sent within
   * what it sent us, so that a forged chunk count or a trickle of spoofed
   * headers cannot turn the server into an amplifier toward their source.
   */
  #mayAnswer(stream: Stream, bytes: number): boolean {
    if (stream.feedbackBytes + bytes > stream.bytesReceived) {
      this.#counters.feedbackCapped++;
      return false;
    }
    stream.feedbackBytes += bytes;
    return true;
  }

  #sendReport(now: number, stream: Stream): void {
    const { assembler, log, delay } = stream;
    const stats = assembler.stats;
    if (!this.#mayAnswer(stream, REPORT_BYTES + this.#overhead)) return;
    this.#counters.reportsSent++;
    const receiverClock = Math.round((this.#wallOrigin() + now) * 1000);
    stream.reportClocks[stream.reportClockNext] = receiverClock;
    stream.reportClockNext = (stream.reportClockNext + 1) % REPORT_CLOCKS;
    this.#send(
      stream,
      encodeReport({
        highestPacket: Math.max(0, log.highest),
        delaySince: (now - stream.highestArrival) * 1000,
        receiverClock,
        packetsReceived: log.received,
        bytesReceived: stream.bytesReceived,
        nextFrameId: assembler.nextFrameId,
        framesDelivered: stats.framesDelivered,
        framesLost: stats.framesLost,
        framesLate: stats.framesLate,
        framesCorrupt: stats.framesCorrupt,
        recoveredNack: stats.recoveredNack,
        recoveredFec: stats.recoveredFec,
        chunksLate: stats.chunksLate,
        jitter: delay.jitterUs,
        queueingDelay: delay.queueingDelayUs,
        framesSkipped: stream.framesSkipped,
        framesWaiting: this.#backlog,
      }),
    );
  }

  /**
   * Stamps the fixed header, seals the datagram when the stream is sealed,
   * and queues it to the stream's sender.
   */
  #send(stream: Stream, datagram: Uint8Array): void {
    const type = datagram[3] as 3 | 4 | 6;
    const aead = this.#aead;
    const bytes = aead === undefined
      ? datagram
      : new Uint8Array(datagram.length + SEAL_OVERHEAD);
    if (aead !== undefined) bytes.set(datagram);
    writeHeader(
      bytes,
      type,
      aead === undefined ? 0 : Flags.sealed,
      stream.streamId,
      true,
      0,
    );
    writePacketWords(bytes, stream.feedbackHigh, stream.feedbackLow, true);
    if (++stream.feedbackLow === TWO_32) {
      stream.feedbackLow = 0;
      stream.feedbackHigh++;
    }
    if (aead === undefined) {
      this.#transmits.push({ to: stream.from, bytes });
      return;
    }
    const sealed = bytes;
    aead.sealWithHeaderNonce(
      sealed,
      FIXED_HEADER_BYTES,
      datagram.length - FIXED_HEADER_BYTES,
      NONCE_OFFSET,
    );
    this.#transmits.push({ to: stream.from, bytes: sealed });
  }

  /** Turns the reassembler's events into the server's. */
  #drain(stream: Stream): void {
    const assembler = stream.assembler;
    for (let event; (event = assembler.poll()) !== undefined;) {
      if (event.type === "frame") {
        this.#events.push({
          type: "frame",
          frame: {
            protocol: "stream",
            sender: stream.name,
            bytes: event.bytes,
            format: sniffFormat(event.bytes),
            mode: "chunked",
            ...this.#sentAt(stream, event.timestamp),
          },
        });
      } else {
        this.#events.push({
          type: "dropped",
          protocol: "stream",
          sender: stream.name,
          reason: event.reason,
          detail: event.detail,
          frames: event.frames,
        });
      }
    }
  }

  #sentAt(
    stream: Stream,
    timestampUs: number,
  ): { sentAt?: number; sentAtEstimated?: boolean } {
    if (stream.sameClock) {
      return { sentAt: timestampUs / 1000 - this.#wallOrigin() };
    }
    const offset = stream.offset.offsetUs;
    if (offset === undefined) return {};
    return {
      sentAt: (timestampUs - offset) / 1000 - this.#wallOrigin(),
      sentAtEstimated: true,
    };
  }

  #forgetAt(stream: Stream): number {
    const idle = stream.lastHeard + STREAM_IDLE_MS;
    if (stream.byeAt === Infinity) return idle;
    // After a bye: once nothing is open, or the budget has passed.
    if (stream.assembler.openFrames === 0) return stream.byeAt;
    return Math.min(idle, stream.byeAt + this.#latencyMs);
  }

  #retire(stream: Stream): void {
    stream.live = false;
    const sealed = stream.window !== undefined;
    if (sealed) this.#sealedById.delete(stream.streamId);
    const key = sealed ? stream.streamId : stream.key;
    this.#tombstones.delete(key);
    if (this.#tombstones.size >= MAX_TOMBSTONES) {
      this.#tombstones.delete(this.#tombstones.keys().next().value!);
    }
    this.#tombstones.set(key, stream.log.highest);
    stream.assembler.expire(Infinity);
    this.#drain(stream);
    addStats(this.#retired, stream.assembler.stats);
    stream.assembler.clear();
  }

  /** A notice, once per sender and kind; allocates nothing when it is not. */
  #noticeOnce(
    fromKey: string,
    kind: typeof NOTICE_KINDS[number],
    text: string,
  ): void {
    const bit = 1 << NOTICE_KINDS.indexOf(kind);
    const given = this.#noticed.get(fromKey);
    if (given !== undefined && (given & bit) !== 0) return;
    if (given === undefined && this.#noticed.size >= 1024) return;
    this.#noticed.set(fromKey, (given ?? 0) | bit);
    this.#events.push({
      type: "notice",
      protocol: "stream",
      sender: fromKey,
      text,
    });
  }

  #refuse(
    fromKey: string,
    length: number,
    reason: string,
    detail?: string,
  ): void {
    const counter = reason === "unsupported" || reason === "sealed"
      ? reason
      : "malformed";
    this.#counters[counter]++;
    if (counter !== "malformed") {
      this.#noticeOnce(
        fromKey,
        counter,
        counter === "sealed"
          ? `${fromKey} sends sealed stream datagrams and this server has no key; they are dropped (give the server --key-file)`
          : `${fromKey} speaks another version of the stream protocol; this server speaks version 1`,
      );
    }
    this.#events.push({
      type: "stray",
      protocol: "stream",
      sender: fromKey,
      length,
      detail: detail ?? `${reason} stream datagram`,
    });
  }
}

function addStats(total: ReassemblyStats, add: Readonly<ReassemblyStats>) {
  for (const key of Object.keys(total) as (keyof ReassemblyStats)[]) {
    total[key] += add[key];
  }
}

/**
 * Whether `hostname` is a loopback address: 127.0.0.0/8, ::1, or an
 * IPv4-mapped loopback address.
 *
 * @param hostname An IP address in text form.
 * @returns Whether it is on this machine for certain.
 *
 * @example Loopback or not
 * ```ts
 * import { isLoopback } from "./receiver.ts";
 * console.log(isLoopback("127.0.0.1"), isLoopback("192.0.2.1")); // true false
 * ```
 */
export function isLoopback(hostname: string): boolean {
  return hostname.startsWith("127.") || hostname === "::1" ||
    hostname.toLowerCase().startsWith("::ffff:127.");
}

/**
 * Whether an address belongs to this machine: loopback, or an address of
 * one of its interfaces (read once, when this is called; without the
 * permission to read them, loopback only). A sender there shares this
 * machine's clock.
 *
 * @returns A test for addresses.
 *
 * @example Loopback is local
 * ```ts
 * import { localAddressTest } from "./receiver.ts";
 * console.log(localAddressTest()("127.0.0.1")); // true
 * ```
 */
export function localAddressTest(): (hostname: string) => boolean {
  const local = new Set<string>();
  try {
    for (const nic of Deno.networkInterfaces()) local.add(nic.address);
  } catch {
    // No permission: loopback only.
  }
  return (hostname) => isLoopback(hostname) || local.has(hostname);
}
