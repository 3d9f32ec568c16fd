/**
 * The server: one image port that serves every wire format at once,
 * decided per sender, and the tutorial's message port. Frames from every
 * protocol come out of one async iterator, in arrival order, decoded.
 *
 * @module
 */

import type { ImageDecoder } from "../codec/types.ts";
import { createDecoder, type DecoderMode } from "../codec/select.ts";
import {
  DEFAULT_RECEIVE_BUFFER_BYTES,
  openDatagramSocket,
  receiveBufferWarning,
} from "../net/open.ts";
import { receiveLoop } from "../net/receive_loop.ts";
import type { DatagramBatch, DatagramSocket, Endpoint } from "../net/types.ts";
import {
  DEFAULT_HOST,
  DEFAULT_IMAGE_PORT,
  DEFAULT_MESSAGE_PORT,
} from "../classic/constants.ts";
import { handleMessage, type ReceivedMessage } from "../classic/message.ts";
import {
  DEFAULT_MAX_PENDING_BYTES,
  DROP_REASONS,
  type ReassemblerOptions,
} from "../classic/reassembler.ts";
import { ClassicReceiver } from "../classic/receiver.ts";
import { RtpReceiver, type RtpReceiverOptions } from "../rtp/receiver.ts";
import {
  StreamReceiver,
  type StreamReceiverOptions,
} from "../stream/receiver.ts";
import { ProtocolDemux } from "./demux.ts";
import { refusalLine, RefusingReceiver } from "./refusing_receiver.ts";
import type { AeadMode } from "../crypto/aead.ts";
import { DropCounter } from "./drop_counter.ts";
import { FrameSink, type ReceivedFrame } from "./frame_sink.ts";
import { LatencyHistogram } from "./latency.ts";
import { SenderTable } from "./sender_table.ts";
import type {
  FrameDropEvent,
  ProtocolName,
  ProtocolReceiver,
  StrayDatagramEvent,
  Transmit,
} from "./types.ts";

/** Latency percentiles, in ms. */
export interface LatencyStats {
  /** Frames measured. */
  samples: number;
  /** The median. */
  p50Ms: number;
  /** The 99th percentile. */
  p99Ms: number;
  /** Whether the figures rest on an estimate of the clock offset. */
  estimated: boolean;
}

/** Counters of one sender, for the viewer and for logs. */
export interface ServerSenderStats {
  /** The wire format. */
  protocol: ProtocolName;
  /** Whole frames. */
  frames: number;
  /** Bytes in whole frames. */
  bytes: number;
  /** Frames given up on, all reasons. */
  dropped: number;
  /** Frames given up on because parts of them never came. */
  lost: number;
  /** Frames that came after a newer one had been handed out. */
  late: number;
  /** The latest frame's latency in ms, when the protocol carries it. */
  latencyMs: number | undefined;
  /** Latency percentiles, when the protocol carries the sender's time. */
  latency: LatencyStats | undefined;
}

/** Counters of a {@linkcode FrameServer}. */
export interface ServerStats {
  /** Whole frames received. */
  frames: number;
  /** Frames decoded. */
  decoded: number;
  /** Frames that failed to decode. */
  errors: number;
  /** Frames dropped on the way, all reasons. */
  dropped: number;
  /**
   * Dropped frames by reason: the classic reasons (`overflow`, `bad-size`,
   * `restarted`, `timeout`, `evicted`) always, and others (`lost`, `late`,
   * `corrupt`, …) once counted.
   */
  droppedBy: Readonly<Record<string, number>>;
  /** Frames that never arrived whole (the `lost` drops). */
  lost: number;
  /** Frames that arrived after a newer one (the `late` drops). */
  late: number;
  /** Whole frames not handed out because the consumer fell too far behind. */
  skipped: number;
  /** Datagrams that belonged to no frame. */
  strays: number;
  /** Bytes in whole frames. */
  bytes: number;
  /** Messages, on the message port and over the image port. */
  messages: number;
  /** Seconds since the server started. */
  seconds: number;
  /** Whole frames by protocol. */
  framesBy: Readonly<Record<ProtocolName, number>>;
  /**
   * The protocols' own counters, added up by name: `recoveredNack`,
   * `recoveredFec`, `unauthenticated`, `replayed` and so on.
   */
  counters: Readonly<Record<string, number>>;
  /** End-to-end latency, over the frames whose protocol carries it. */
  latency: LatencyStats | undefined;
}

/** Options for {@linkcode FrameServer.listen}. */
export interface FrameServerOptions extends ReassemblerOptions {
  /**
   * The address to bind both ports to.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The image port; 0 picks a free one.
   *
   * @default {9999}
   */
  port?: number;
  /**
   * The message port; 0 picks a free one, `null` serves none.
   *
   * @default {6666}
   */
  messagePort?: number | null;
  /**
   * The kernel receive buffer to ask for on the image port, in bytes. The
   * tutorial's client sends a whole image back to back, so it must hold a
   * whole burst.
   *
   * @default {4194304}
   */
  receiveBufferBytes?: number;
  /** Which datagram layer to use. @default {"auto"} */
  socketImplementation?: "auto" | "native" | "deno";
  /**
   * Multicast groups for the image port to join, and the interface to join
   * them on (by one of its addresses). Bind the wildcard address
   * (`multicastBindAddress`) to receive them; unicast still arrives.
   */
  multicast?: { join: string | readonly string[]; interface?: string };
  /**
   * Lets other sockets bind the image port too (`SO_REUSEADDR`), so that
   * several servers on one host can receive the same multicast group.
   *
   * @default {false}
   */
  reuseAddress?: boolean;
  /**
   * Decodes each whole frame: a decoder, or a mode for
   * {@linkcode createDecoder} (`none` turns decoding off). A decoder made
   * from a mode is closed with the server.
   *
   * @default {"auto"}
   */
  decoder?: ImageDecoder | DecoderMode;
  /**
   * The receivers of the wire formats to serve, asked in this order which
   * protocol a new sender speaks. With one, every sender speaks it.
   *
   * @default {[new StreamReceiver(options.stream), new RtpReceiver(options.rtp), new ClassicReceiver(options)]}
   */
  receivers?: readonly ProtocolReceiver[];
  /**
   * Which of the built-in protocols to serve, when `receivers` is not
   * given; with one, every sender is taken as speaking it.
   *
   * @default {every one}
   */
  protocols?: readonly ProtocolName[];
  /** Options of the default RTP/JPEG receiver. */
  rtp?: RtpReceiverOptions;
  /** Options of the default stream receiver, such as its `latencyMs`. */
  stream?: StreamReceiverOptions;
  /**
   * The 32-byte shared key of sealed streams. With it, the default stream
   * receiver takes only datagrams sealed under it, and classic and RTP
   * senders, whose datagrams cannot be authenticated, are refused (on the
   * message port too) unless `allowClassic` or `allowRtp` lets them in.
   *
   * @default {undefined}
   */
  key?: Uint8Array;
  /** With a `key`: take classic senders and messages anyway. @default {false} */
  allowClassic?: boolean;
  /** With a `key`: take RTP senders anyway. @default {false} */
  allowRtp?: boolean;
  /** The AES-GCM implementation, with a `key`. @default {"auto"} */
  aeadImplementation?: AeadMode;
  /**
   * The control port, where RTCP comes and goes, bound only when a
   * receiver takes control datagrams (RTP does); `null` binds none. When
   * it cannot be bound the server runs without it and says so in
   * {@linkcode FrameServer.controlWarning}.
   *
   * @default {the image port + 1}
   */
  controlPort?: number | null;
  /**
   * How many frames may wait for decoding, or for the consumer, before the
   * server holds back its replies so that stop-and-wait senders slow down.
   * Sixteen keep both decoder handles busy (measured at 720p on 2 cores:
   * about 4% more frames a second than eight, 10% more than four); the
   * frames wait encoded, so they cost their encoded size.
   *
   * @default {16}
   */
  maxPendingFrames?: number;
  /**
   * How many frames may wait before new ones are skipped, which only
   * happens to senders that do not wait for replies; the first 32 are
   * decoded ahead, the rest wait encoded.
   *
   * @default {128}
   */
  maxQueuedFrames?: number;
  /**
   * How many bytes of whole frames may wait before new ones are skipped.
   * With the reassembler's `maxPendingBytes`, this bounds the memory that
   * senders can make the server hold, plus the pixels of decoded frames.
   *
   * @default {268435456} (256 MiB)
   */
  maxQueuedBytes?: number;
  /**
   * How many senders to keep counters and a decided protocol for.
   *
   * @default {4096}
   */
  maxSenders?: number;
  /** Called for each message, from the message port or the image port. */
  onMessage?: (message: ReceivedMessage) => void;
  /** Called for each dropped frame and stray datagram. */
  onDrop?: (event: FrameDropEvent | StrayDatagramEvent) => void;
  /** Called with lines a receiver wants the user to see, such as a wrong key. */
  onNotice?: (text: string, sender: string) => void;
  /** Called when a datagram cannot be sent or received. */
  onError?: (error: Error) => void;
}

/** Counters per sender are kept for this many senders. */
const MAX_SENDER_STATS = 256;

/** A sender's counters as kept: the latency as a histogram, not percentiles. */
interface SenderRecord extends Omit<ServerSenderStats, "latency"> {
  latencyEstimated: boolean;
  latency: LatencyHistogram | undefined;
}

/**
 * Serves one image port for every wire format given (by default RTP/JPEG,
 * with RTCP on the next port, and the tutorial's classic one), and the
 * tutorial's message port.
 *
 * Each sender's first datagram decides its protocol. Whatever protocol a
 * frame came by, it is counted, decoded and handed out the same way. Classic
 * replies go out as soon as a frame is whole, while at most
 * `maxPendingFrames` frames wait; past that they are held back until one is
 * consumed, so that stop-and-wait senders slow to the decoder's pace
 * instead of losing frames.
 *
 * @example Receiving frames in-process
 * ```ts ignore
 * import { FrameServer } from "./server.ts";
 *
 * await using server = await FrameServer.listen({ port: 0, messagePort: null });
 * console.log("listening on", server.imageAddr.port);
 * for await (const frame of server) {
 *   console.log(frame.index, frame.protocol, frame.bytes.length, frame.sender);
 *   break;
 * }
 * ```
 */
export class FrameServer implements AsyncIterable<ReceivedFrame> {
  readonly #images: DatagramSocket;
  readonly #messages: DatagramSocket | undefined;
  readonly #control: DatagramSocket | undefined;
  readonly #controlWarning: string | undefined;
  readonly #receivers: readonly ProtocolReceiver[];
  readonly #demux: ProtocolDemux;
  readonly #sink: FrameSink;
  readonly #askedReceiveBuffer: number;
  readonly #decoder: ImageDecoder | undefined;
  readonly #ownsDecoder: boolean;
  readonly #onMessage: ((message: ReceivedMessage) => void) | undefined;
  readonly #onDrop:
    | ((event: FrameDropEvent | StrayDatagramEvent) => void)
    | undefined;
  readonly #onNotice: ((text: string, sender: string) => void) | undefined;
  readonly #onError: (error: Error) => void;
  readonly #started = performance.now();
  readonly #loops: Promise<void>[];
  readonly #drops = new DropCounter<string>(DROP_REASONS);
  readonly #framesBy: Record<ProtocolName, number> = {
    classic: 0,
    stream: 0,
    rtp: 0,
  };
  readonly #senders = new SenderTable<SenderRecord>({
    maxEntries: MAX_SENDER_STATS,
  });
  readonly #latency = new LatencyHistogram();
  readonly #strayDetail: string;
  readonly #refuseMessages: boolean;
  readonly #messageNoticed = new Set<string>();
  #messagesRefused = 0;
  #latencyEstimated = false;
  #frames = 0;
  #bytes = 0;
  #strays = 0;
  #messageCount = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDue = Infinity;
  #closing: Promise<void> | undefined;
  #closed = false;

  private constructor(
    sockets: {
      images: DatagramSocket;
      messages: DatagramSocket | undefined;
      control: DatagramSocket | undefined;
      controlWarning: string | undefined;
    },
    receivers: readonly ProtocolReceiver[],
    decoder: ImageDecoder | undefined,
    options: FrameServerOptions,
  ) {
    this.#images = sockets.images;
    this.#messages = sockets.messages;
    this.#control = sockets.control;
    this.#controlWarning = sockets.controlWarning;
    this.#ownsDecoder = typeof options.decoder !== "object";
    this.#receivers = receivers;
    this.#strayDetail = `not the start of a ${this.protocols.join(", ")} frame`;
    this.#demux = new ProtocolDemux(this.#receivers, {
      maxSenders: options.maxSenders ?? 4096,
    });
    this.#askedReceiveBuffer = options.receiveBufferBytes ??
      DEFAULT_RECEIVE_BUFFER_BYTES;
    this.#decoder = decoder;
    this.#sink = new FrameSink({
      decoder,
      ...(options.maxPendingFrames !== undefined &&
        { maxPendingFrames: options.maxPendingFrames }),
      ...(options.maxQueuedFrames !== undefined &&
        { maxQueuedFrames: options.maxQueuedFrames }),
      ...(options.maxQueuedBytes !== undefined &&
        { maxQueuedBytes: options.maxQueuedBytes }),
      send: (transmit) => this.#send(transmit),
      onDone: (frame) => this.#measure(frame),
    });
    this.#refuseMessages = options.key !== undefined &&
      options.allowClassic !== true;
    this.#onMessage = options.onMessage;
    this.#onDrop = options.onDrop;
    this.#onNotice = options.onNotice;
    const onError = options.onError;
    this.#onError = (error) => {
      try {
        onError?.(error);
      } catch {
        // Nowhere left to report it; the server carries on.
      }
    };
    this.#loops = [this.#receiveImages()];
    if (this.#messages !== undefined) {
      this.#loops.push(this.#receiveMessages());
    }
    if (this.#control !== undefined) this.#loops.push(this.#receiveControl());
  }

  /**
   * Binds the image port, and the message port unless it is `null`.
   *
   * @param options Ports, protocols, limits and the decoder.
   * @returns A running server.
   */
  static async listen(
    options: FrameServerOptions = {},
  ): Promise<FrameServer> {
    const hostname = options.hostname ?? DEFAULT_HOST;
    const implementation = options.socketImplementation ?? "auto";
    const images = await openDatagramSocket({
      hostname,
      port: options.port ?? DEFAULT_IMAGE_PORT,
      receiveBufferBytes: options.receiveBufferBytes ??
        DEFAULT_RECEIVE_BUFFER_BYTES,
      implementation,
      ...(options.multicast !== undefined && { multicast: options.multicast }),
      ...(options.reuseAddress !== undefined &&
        { reuseAddress: options.reuseAddress }),
    });
    let messages: DatagramSocket | undefined;
    let control: DatagramSocket | undefined;
    const messagePort = options.messagePort === undefined
      ? DEFAULT_MESSAGE_PORT
      : options.messagePort;
    try {
      if (messagePort !== null) {
        messages = await openDatagramSocket({
          hostname,
          port: messagePort,
          implementation,
        });
      }
      const receivers = options.receivers ?? defaultReceivers(options);
      let controlWarning: string | undefined;
      const controlPort = options.controlPort === undefined
        ? images.addr.port + 1
        : options.controlPort;
      const withoutControl =
        "RTP is received without it, but with no sender reports (latency) or receiver reports";
      const takesControl = controlPort !== null &&
        receivers.some((r) => r.handleControlDatagram !== undefined);
      if (takesControl && controlPort > 65535) {
        controlWarning =
          `no RTCP port: it would be the image port + 1, ${controlPort}, past 65535; ${withoutControl}`;
      } else if (takesControl) {
        try {
          // It joins the image port's groups, where senders' RTCP goes too.
          control = await openDatagramSocket({
            hostname,
            port: controlPort,
            implementation,
            ...(options.multicast !== undefined &&
              { multicast: options.multicast }),
            ...(options.reuseAddress !== undefined &&
              { reuseAddress: options.reuseAddress }),
          });
        } catch (error) {
          controlWarning =
            `cannot bind the RTCP port ${hostname}:${controlPort} (${
              asError(error).message
            }); ${withoutControl}`;
        }
      }
      const mode = options.decoder ?? "auto";
      const decoder = typeof mode === "object"
        ? mode
        : (await createDecoder(mode)).decoder;
      return new FrameServer(
        { images, messages, control, controlWarning },
        receivers,
        decoder,
        options,
      );
    } catch (error) {
      images.close();
      messages?.close();
      control?.close();
      throw error;
    }
  }

  /** The bound image port's address. */
  get imageAddr(): Endpoint {
    return this.#images.addr;
  }

  /** The bound message port's address, if any. */
  get messageAddr(): Endpoint | undefined {
    return this.#messages?.addr;
  }

  /** The control (RTCP) port's address, if bound. */
  get controlAddr(): Endpoint | undefined {
    return this.#control?.addr;
  }

  /** Why the control port could not be bound, in one line, if it could not. */
  get controlWarning(): string | undefined {
    return this.#controlWarning;
  }

  /** The image socket's kernel receive buffer, when known. */
  get receiveBufferBytes(): number | undefined {
    return this.#images.receiveBufferBytes;
  }

  /**
   * A one-line warning, with the fix, when the kernel granted a smaller
   * receive buffer than asked for; `undefined` when it is large enough.
   */
  get receiveBufferWarning(): string | undefined {
    return receiveBufferWarning(this.#images, this.#askedReceiveBuffer);
  }

  /**
   * With a key, which AES-GCM implementation opens sealed streams, in one
   * line; else `undefined`.
   */
  get sealing(): string | undefined {
    for (const receiver of this.#receivers) {
      if (receiver instanceof StreamReceiver) return receiver.sealing;
    }
    return undefined;
  }

  /** Which datagram layer the image port uses. */
  get socketKind(): "native" | "deno" {
    return this.#images.kind;
  }

  /** The protocols served, in the order a new sender is matched against. */
  get protocols(): readonly ProtocolName[] {
    return this.#receivers.map((receiver) => receiver.protocol);
  }

  /** A snapshot of the counters. */
  get stats(): ServerStats {
    const counters: Record<string, number> = {};
    if (this.#messagesRefused > 0) counters.refused = this.#messagesRefused;
    for (const receiver of this.#receivers) {
      for (const [name, value] of Object.entries(receiver.counters())) {
        counters[name] = (counters[name] ?? 0) + value;
      }
    }
    const drops = this.#drops;
    return {
      frames: this.#frames,
      decoded: this.#sink.decoded,
      errors: this.#sink.errors,
      dropped: drops.total,
      droppedBy: { ...drops.byReason },
      lost: drops.of("lost"),
      late: drops.of("late"),
      skipped: this.#sink.skipped,
      strays: this.#strays,
      bytes: this.#bytes,
      messages: this.#messageCount,
      seconds: (performance.now() - this.#started) / 1000,
      framesBy: { ...this.#framesBy },
      counters,
      latency: latencyStats(this.#latency, this.#latencyEstimated),
    };
  }

  /**
   * The counters of one sender, for the senders seen most recently.
   *
   * @param sender The sender's name, as in {@linkcode ReceivedFrame.sender}.
   * @returns Its counters, or `undefined` when it is not known.
   */
  senderStats(sender: string): ServerSenderStats | undefined {
    const record = this.#senders.peek(sender);
    if (record === undefined) return undefined;
    return {
      protocol: record.protocol,
      frames: record.frames,
      bytes: record.bytes,
      dropped: record.dropped,
      lost: record.lost,
      late: record.late,
      latencyMs: record.latencyMs,
      latency: record.latency === undefined
        ? undefined
        : latencyStats(record.latency, record.latencyEstimated),
    };
  }

  /**
   * Frames in arrival order, each once its decode has finished. Ends after
   * {@linkcode FrameServer.close}, once the frames already received are
   * handed out.
   */
  [Symbol.asyncIterator](): AsyncIterator<ReceivedFrame> {
    return this.#sink[Symbol.asyncIterator]();
  }

  /**
   * Stops receiving and closes both ports. Frames already received are
   * still handed out by the iterator.
   */
  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  async #close(): Promise<void> {
    // Last words first, such as final reports, while the sockets are open.
    const now = performance.now();
    const last: Promise<void>[] = [];
    for (const receiver of this.#receivers) {
      receiver.finish?.(now);
      for (let t; (t = receiver.pollTransmit()) !== undefined;) {
        last.push(this.#send(t));
      }
    }
    await Promise.all(last);
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#images.close();
    this.#messages?.close();
    this.#control?.close();
    await Promise.all(this.#loops);
    for (const receiver of this.#receivers) receiver.close?.();
    this.#sink.close();
    if (this.#ownsDecoder) {
      // Frames still queued finish decoding before the decoder goes.
      await this.#sink.drain();
      this.#decoder?.close();
    }
  }

  /** Closes the server. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Receives batches on `socket` until it closes, calling `handle` for each
   * datagram and `done` after each batch. Receive errors are reported and,
   * so that a lasting one does not spin, followed by a short pause.
   */
  /** Receives on `socket` until it closes; see {@linkcode receiveLoop}. */
  #receiveLoop(
    socket: DatagramSocket,
    handle: (datagram: Uint8Array, batch: DatagramBatch, i: number) => void,
    done?: () => void,
  ): Promise<void> {
    return receiveLoop(socket, {
      onDatagram: handle,
      ...(done !== undefined && { onBatch: done }),
      onError: (error) => this.#onError(error),
      closed: () => this.#closed,
    });
  }

  #receiveImages(): Promise<void> {
    const demux = this.#demux;
    let now = 0;
    return this.#receiveLoop(this.#images, (datagram, batch, i) => {
      // One clock reading per batch is precise enough for every timer.
      if (i === 0) now = performance.now();
      const key = batch.senderKeys[i]!;
      const receiver = demux.route(datagram, key);
      if (receiver === undefined) {
        this.#strays++;
        this.#notify(this.#onDrop, {
          type: "stray",
          protocol: undefined,
          sender: key,
          length: datagram.length,
          detail: this.#strayDetail,
        });
        return;
      }
      receiver.handleDatagram(now, datagram, batch.senders[i]!, key);
    }, () => this.#flush());
  }

  /** Takes what the receivers have for the server, and re-arms the timer. */
  #flush(): void {
    for (const receiver of this.#receivers) {
      for (let event; (event = receiver.pollEvent()) !== undefined;) {
        switch (event.type) {
          case "frame": {
            const frame = event.frame;
            this.#frames++;
            this.#bytes += frame.bytes.length;
            this.#framesBy[frame.protocol]++;
            const record = this.#record(frame.sender, frame.protocol);
            record.frames++;
            record.bytes += frame.bytes.length;
            if (!this.#sink.accept(frame)) {
              receiver.frameSkipped?.(frame.sender);
            }
            break;
          }
          case "dropped": {
            const n = event.frames ?? 1;
            this.#drops.count(event.reason, n);
            const record = this.#record(event.sender, event.protocol);
            record.dropped += n;
            if (event.reason === "lost") record.lost += n;
            if (event.reason === "late") record.late += n;
            this.#notify(this.#onDrop, event);
            break;
          }
          case "stray":
            this.#strays++;
            this.#notify(this.#onDrop, event);
            break;
          case "message":
            this.#messageCount++;
            this.#notify(
              this.#onMessage,
              event.result.ok
                ? { sender: event.sender, ok: true, value: event.result.value }
                : {
                  sender: event.sender,
                  ok: false,
                  error: event.result.error,
                },
            );
            break;
          case "notice":
            try {
              this.#onNotice?.(event.text, event.sender);
            } catch (error) {
              this.#onError(asError(error));
            }
        }
      }
      receiver.setBacklog?.(this.#sink.waiting);
      for (let t; (t = receiver.pollTransmit()) !== undefined;) this.#send(t);
    }
    this.#schedule();
  }

  /**
   * Sets the one timer to the earliest time a receiver asked for. A timer
   * already armed for that time or earlier stays: firing early costs one
   * handleTimeout that finds nothing due and schedules again, where moving
   * it later each time a frame completes would cost a clear and a set.
   */
  #schedule(): void {
    if (this.#closed) return;
    let due = Infinity;
    for (const receiver of this.#receivers) {
      const at = receiver.pollTimeout();
      if (at !== undefined && at < due) due = at;
    }
    if (due >= this.#timerDue && this.#timer !== undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDue = due;
    if (due === Infinity) return;
    // At least a millisecond, so that a receiver late to advance its
    // deadline cannot make the loop spin.
    const delay = Math.max(1, due - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerDue = Infinity;
      const now = performance.now();
      for (const receiver of this.#receivers) receiver.handleTimeout(now);
      this.#flush();
    }, delay);
  }

  #record(sender: string, protocol: ProtocolName): SenderRecord {
    let record = this.#senders.get(sender);
    if (record === undefined || record.protocol !== protocol) {
      record = {
        protocol,
        frames: 0,
        bytes: 0,
        dropped: 0,
        lost: 0,
        late: 0,
        latencyMs: undefined,
        latencyEstimated: false,
        latency: undefined,
      };
      this.#senders.set(sender, record);
    }
    return record;
  }

  #measure(frame: ReceivedFrame): void {
    const ms = frame.latencyMs;
    if (ms === undefined) return;
    this.#latency.record(ms);
    this.#latencyEstimated ||= frame.latencyEstimated;
    const record = this.#senders.peek(frame.sender);
    if (record === undefined) return;
    record.latencyMs = ms;
    record.latencyEstimated = frame.latencyEstimated;
    (record.latency ??= new LatencyHistogram()).record(ms);
  }

  /** Calls a user callback; a callback that throws must not stop the server. */
  #notify<T>(callback: ((value: T) => void) | undefined, value: T): void {
    try {
      callback?.(value);
    } catch (error) {
      this.#onError(asError(error));
    }
  }

  #send(transmit: Transmit): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const socket = transmit.via === "control" && this.#control !== undefined
      ? this.#control
      : this.#images;
    return socket.send(transmit.bytes, transmit.to).catch((error) => {
      if (!this.#closed) this.#onError(asError(error));
    });
  }

  #receiveControl(): Promise<void> {
    let now = 0;
    return this.#receiveLoop(this.#control!, (datagram, batch, i) => {
      if (i === 0) now = performance.now();
      for (const receiver of this.#receivers) {
        receiver.handleControlDatagram?.(
          now,
          datagram,
          batch.senders[i]!,
          batch.senderKeys[i]!,
        );
      }
    }, () => this.#flush());
  }

  #receiveMessages(): Promise<void> {
    const socket = this.#messages!;
    return this.#receiveLoop(socket, (datagram, batch, i) => {
      if (this.#refuseMessages) {
        this.#refuseMessage(batch.senderKeys[i]!);
        return;
      }
      const { message, reply } = handleMessage(datagram, batch.senderKeys[i]!);
      this.#messageCount++;
      this.#notify(this.#onMessage, message);
      socket.send(reply, batch.senders[i]!).catch((error) => {
        if (!this.#closed) this.#onError(asError(error));
      });
    });
  }

  /** A keyed server's message port: counted, one line per sender, no reply. */
  #refuseMessage(sender: string): void {
    this.#messagesRefused++;
    if (this.#messageNoticed.has(sender) || this.#messageNoticed.size >= 1024) {
      return;
    }
    this.#messageNoticed.add(sender);
    try {
      this.#onNotice?.(
        refusalLine(sender, "message", "--allow-classic"),
        sender,
      );
    } catch (error) {
      this.#onError(asError(error));
    }
  }
}

/**
 * The receivers served when none are given, in the order a new sender is
 * matched: the stream protocol (its magic), RTP/JPEG (version 2 and a JPEG
 * payload header), then classic, which takes any header or image. Adding a
 * protocol is one entry here.
 */
function defaultReceivers(options: FrameServerOptions): ProtocolReceiver[] {
  const wanted = options.protocols;
  const keyed = options.key !== undefined;
  // What cannot be authenticated is refused with a key, unless let in.
  const guard = (receiver: ProtocolReceiver, allowed: boolean | undefined) =>
    keyed && allowed !== true
      ? new RefusingReceiver(
        receiver,
        receiver.protocol === "rtp" ? "--allow-rtp" : "--allow-classic",
      )
      : receiver;
  const serves = (name: ProtocolName) =>
    wanted === undefined || wanted.includes(name);
  const receivers: ProtocolReceiver[] = [];
  if (serves("stream")) {
    receivers.push(
      new StreamReceiver({
        ...(options.maxFrameBytes !== undefined &&
          { maxFrameBytes: options.maxFrameBytes }),
        ...(options.key !== undefined && { key: options.key }),
        ...(options.aeadImplementation !== undefined &&
          { aeadImplementation: options.aeadImplementation }),
        ...options.stream,
      }),
    );
  }
  if (serves("rtp")) {
    receivers.push(guard(
      new RtpReceiver({
        ...(options.maxFrameBytes !== undefined &&
          { maxFrameBytes: options.maxFrameBytes }),
        ...options.rtp,
      }),
      options.allowRtp,
    ));
  }
  if (serves("classic")) {
    receivers.push(guard(
      new ClassicReceiver({
        ...options,
        maxPendingBytes: Math.max(
          options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES,
          options.maxFrameBytes ?? 0,
        ),
      }),
      options.allowClassic,
    ));
  }
  if (receivers.length === 0) {
    throw new RangeError(
      `Cannot serve protocols ${
        JSON.stringify(wanted)
      }: expected stream, rtp or classic`,
    );
  }
  return receivers;
}

function latencyStats(
  histogram: LatencyHistogram,
  estimated: boolean,
): LatencyStats | undefined {
  if (histogram.count === 0) return undefined;
  return {
    samples: histogram.count,
    p50Ms: histogram.quantile(0.5),
    p99Ms: histogram.quantile(0.99),
    estimated,
  };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
