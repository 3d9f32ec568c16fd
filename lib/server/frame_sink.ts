/**
 * Where every whole frame goes, whatever protocol it came by: a bounded
 * queue that decodes frames as they arrive and hands them out in order,
 * holding back stop-and-wait acknowledgements while it is full.
 *
 * @module
 */

import type {
  DecodedImage,
  ImageDecoder,
  ImageFormat,
} from "../codec/types.ts";
import type { IncomingFrame, ProtocolName, Transmit } from "./types.ts";

/** A whole frame, as the server hands it out. */
export interface ReceivedFrame {
  /** Arrival order, from 1, over all senders and protocols. */
  readonly index: number;
  /** The wire format it came by. */
  readonly protocol: ProtocolName;
  /** The sender's name, such as `host:port`. */
  readonly sender: string;
  /** The image bytes, exactly as received. */
  readonly bytes: Uint8Array;
  /** The format sniffed from the bytes, if known. */
  readonly format: ImageFormat | undefined;
  /** How it came: in one datagram, or in several. */
  readonly mode: "single" | "chunked";
  /** When it was whole, in ms since the Unix epoch. */
  readonly receivedAt: number;
  /**
   * From the sender's capture or send time to the end of decoding (or to
   * arrival, without a decoder), in ms, when the protocol carries the
   * sender's time.
   */
  readonly latencyMs: number | undefined;
  /** Whether `latencyMs` rests on an estimate of the clock offset. */
  readonly latencyEstimated: boolean;
  /** The pixels, when a decoder is set and decoding worked. */
  readonly image: DecodedImage | undefined;
  /** Why decoding failed, when it did. */
  readonly decodeError: Error | undefined;
}

/** Options for {@linkcode FrameSink}. */
export interface FrameSinkOptions {
  /** Decodes each frame; without one, frames are handed out undecoded. */
  decoder?: ImageDecoder | undefined;
  /**
   * How many frames may wait before acknowledgements are held back.
   *
   * @default {16}
   */
  maxPendingFrames?: number;
  /**
   * How many frames may wait before new ones are skipped; only the first
   * 32 are decoded ahead, the rest wait encoded.
   *
   * @default {128}
   */
  maxQueuedFrames?: number;
  /**
   * How many bytes of frames may wait before new ones are skipped.
   *
   * @default {268435456} (256 MiB)
   */
  maxQueuedBytes?: number;
  /** Sends an acknowledgement. */
  send: (transmit: Transmit) => void;
  /**
   * Called when a frame is decoded (or, without a decoder, accepted), with
   * its latency when known. It must not throw.
   */
  onDone?: (frame: ReceivedFrame) => void;
  /** The clock, in ms. @default {performance.now} */
  now?: () => number;
}

/** A frame before decoding; its latency is set when decoding ends. */
type QueuedFrame =
  & Omit<ReceivedFrame, "image" | "decodeError" | "latencyMs">
  & {
    latencyMs: number | undefined;
  };

interface Pending {
  readonly frame: QueuedFrame;
  readonly sentAt: number | undefined;
  /** Its decode, once begun: only the first {@linkcode DECODE_AHEAD} are. */
  decoded: Promise<DecodedImage | Error | undefined> | undefined;
}

function withResult(
  frame: QueuedFrame,
  result: DecodedImage | Error | undefined,
): ReceivedFrame {
  return {
    ...frame,
    image: result instanceof Error ? undefined : result,
    decodeError: result instanceof Error ? result : undefined,
  };
}

/** Whole frames that may wait, in bytes, unless told otherwise: 256 MiB. */
const DEFAULT_MAX_QUEUED_BYTES = 256 * 1024 * 1024;
/**
 * Frames at the head of the queue that are decoded ahead of the consumer.
 * The rest wait encoded, so that a queue long enough for many senders'
 * bursts does not hold as many decoded images.
 */
const DECODE_AHEAD = 32;
/** Held acknowledgements beyond this are not sent: such senders do not wait anyway. */
const MAX_HELD_ACKS = 256;

/**
 * Queues whole frames, decodes each as it arrives so that the decode of one
 * overlaps the transfer of the next, and hands them out in arrival order.
 *
 * A frame's acknowledgement, when it has one, goes out at once while at
 * most `maxPendingFrames` frames wait; past that it is held, one per
 * sender, until the consumer takes a frame. A frame that finds the queue
 * full is skipped and counted.
 *
 * @example Accepting and taking one frame
 * ```ts
 * import { FrameSink } from "./frame_sink.ts";
 *
 * const sink = new FrameSink({ send: () => {} });
 * sink.accept({
 *   protocol: "classic",
 *   sender: "127.0.0.1:50000",
 *   bytes: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]),
 *   format: "jpeg",
 *   mode: "single",
 * });
 * sink.close();
 * for await (const frame of sink) console.log(frame.index, frame.sender);
 * ```
 */
export class FrameSink implements AsyncIterable<ReceivedFrame> {
  readonly #decoder: ImageDecoder | undefined;
  readonly #maxPending: number;
  readonly #maxQueued: number;
  readonly #maxQueuedBytes: number;
  readonly #send: (transmit: Transmit) => void;
  readonly #onDone: ((frame: ReceivedFrame) => void) | undefined;
  readonly #now: () => number;
  readonly #queue: Pending[] = [];
  /** Acknowledgements held back, at most one per sender, oldest first. */
  readonly #held = new Map<string, Transmit>();
  #queuedBytes = 0;
  #wake: (() => void) | undefined;
  #closed = false;
  #index = 0;
  #decoded = 0;
  #errors = 0;
  #skipped = 0;

  /**
   * Makes an empty sink.
   *
   * @param options The decoder, the limits, and how to send acknowledgements.
   */
  constructor(options: FrameSinkOptions) {
    this.#decoder = options.decoder;
    this.#maxPending = options.maxPendingFrames ?? 16;
    this.#maxQueued = Math.max(
      this.#maxPending,
      options.maxQueuedFrames ?? 128,
    );
    this.#maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.#send = options.send;
    this.#onDone = options.onDone;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Frames decoded. */
  get decoded(): number {
    return this.#decoded;
  }

  /** Frames that failed to decode. */
  get errors(): number {
    return this.#errors;
  }

  /** Frames skipped because the queue was full. */
  get skipped(): number {
    return this.#skipped;
  }

  /** Frames accepted so far. */
  get accepted(): number {
    return this.#index;
  }

  /** How many frames wait to be decoded or taken. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * Takes a whole frame: queues it and starts decoding it, or skips it when
   * the queue is full.
   *
   * @param frame The frame; its bytes now belong to the sink.
   * @returns Whether it was queued.
   */
  accept(frame: IncomingFrame): boolean {
    if (
      this.#closed || this.#queue.length >= this.#maxQueued ||
      this.#queuedBytes + frame.bytes.length > this.#maxQueuedBytes
    ) {
      this.#skipped++;
      if (frame.ack !== undefined) this.#hold(frame.sender, frame.ack);
      return false;
    }
    const now = this.#now();
    const received: QueuedFrame = {
      index: ++this.#index,
      protocol: frame.protocol,
      sender: frame.sender,
      bytes: frame.bytes,
      format: frame.format,
      mode: frame.mode,
      receivedAt: performance.timeOrigin + now,
      latencyMs: frame.sentAt === undefined ? undefined : now - frame.sentAt,
      latencyEstimated: frame.sentAtEstimated ?? false,
    };
    this.#queue.push({
      frame: received,
      sentAt: frame.sentAt,
      decoded: this.#queue.length < DECODE_AHEAD
        ? this.#decode(received, frame.sentAt)
        : undefined,
    });
    this.#queuedBytes += frame.bytes.length;
    if (frame.ack !== undefined) {
      if (this.#queue.length > this.#maxPending) {
        this.#hold(frame.sender, frame.ack);
      } else {
        this.#send(frame.ack);
      }
    }
    this.#wake?.();
    this.#wake = undefined;
    return true;
  }

  /**
   * Frames in arrival order, each once its decode has finished. Ends after
   * {@linkcode FrameSink.close}, once the frames already queued are handed
   * out.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<ReceivedFrame> {
    while (true) {
      const head = this.#queue[0];
      if (head === undefined) {
        if (this.#closed) return;
        await new Promise<void>((resolve) => this.#wake = resolve);
        continue;
      }
      const result = await this.#begin(head);
      this.#queue.shift();
      this.#queuedBytes -= head.frame.bytes.length;
      // The next frame comes within the frames decoded ahead.
      const next = this.#queue[DECODE_AHEAD - 1];
      if (next !== undefined) this.#begin(next);
      this.#release();
      yield withResult(head.frame, result);
    }
  }

  /**
   * Accepts no more frames; the iterator ends once the queued ones are
   * handed out.
   */
  close(): void {
    this.#closed = true;
    this.#held.clear();
    this.#wake?.();
    this.#wake = undefined;
  }

  /** Settles when every queued frame has finished decoding. */
  async drain(): Promise<void> {
    await Promise.all(this.#queue.map((pending) => this.#begin(pending)));
  }

  /** The frame's decode, begun now if it was not yet. */
  #begin(pending: Pending): Promise<DecodedImage | Error | undefined> {
    return pending.decoded ??= this.#decode(pending.frame, pending.sentAt);
  }

  async #decode(
    frame: QueuedFrame,
    sentAt: number | undefined,
  ): Promise<DecodedImage | Error | undefined> {
    const decoder = this.#decoder;
    let result: DecodedImage | Error | undefined;
    if (decoder !== undefined) {
      try {
        if (frame.format === undefined) {
          throw new Error("Cannot decode: not a JPEG or PNG image");
        }
        if (!decoder.supports(frame.format)) {
          throw new Error(
            `Cannot decode: the ${decoder.name} decoder does not support ${frame.format}`,
          );
        }
        result = await decoder.decode(frame.bytes, frame.format);
        this.#decoded++;
      } catch (error) {
        this.#errors++;
        result = error instanceof Error ? error : new Error(String(error));
      }
    }
    // Latency runs to the decoded frame, not to its arrival.
    if (sentAt !== undefined) frame.latencyMs = this.#now() - sentAt;
    this.#onDone?.(withResult(frame, result));
    return result;
  }

  #hold(sender: string, ack: Transmit): void {
    // A stop-and-wait sender has one frame in flight, so one
    // acknowledgement each is enough; a sender that floods gets no more.
    if (this.#held.has(sender) || this.#held.size < MAX_HELD_ACKS) {
      this.#held.delete(sender);
      this.#held.set(sender, ack);
    }
  }

  #release(): void {
    for (const [sender, ack] of this.#held) {
      if (this.#closed || this.#queue.length > this.#maxPending) return;
      this.#held.delete(sender);
      this.#send(ack);
    }
  }
}
