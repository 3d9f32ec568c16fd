/**
 * The classic server: the tutorial's image and message ports in one
 * process, as a library. Frames come out of an async iterator, in arrival
 * order, decoded.
 *
 * @module
 */

import type {
  DecodedImage,
  ImageDecoder,
  ImageFormat,
} from "../codec/types.ts";
import { createDecoder, type DecoderMode } from "../codec/select.ts";
import { sleep } from "../_sleep.ts";
import {
  DEFAULT_RECEIVE_BUFFER_BYTES,
  openDatagramSocket,
  receiveBufferWarning,
} from "../net/open.ts";
import type { DatagramBatch, DatagramSocket, Endpoint } from "../net/types.ts";
import {
  DEFAULT_HOST,
  DEFAULT_IMAGE_PORT,
  DEFAULT_MESSAGE_PORT,
  IMAGE_REPLY,
} from "./constants.ts";
import { handleMessage, type ReceivedMessage } from "./message.ts";
import {
  DEFAULT_MAX_PENDING_BYTES,
  type DropEvent,
  type DropReason,
  Reassembler,
  type ReassemblerOptions,
  type StrayEvent,
} from "./reassembler.ts";

/** A whole frame, as the server hands it out. */
export interface ReceivedFrame {
  /** Arrival order, from 1. */
  readonly index: number;
  /** The sender's key, `host:port`. */
  readonly sender: string;
  /** The image bytes, exactly as received. */
  readonly bytes: Uint8Array;
  /** The format sniffed from the bytes, if known. */
  readonly format: ImageFormat | undefined;
  /** How it came: one datagram, or header and chunks. */
  readonly mode: "single" | "chunked";
  /** The pixels, when a decoder is set and decoding worked. */
  readonly image: DecodedImage | undefined;
  /** Why decoding failed, when it did. */
  readonly decodeError: Error | undefined;
}

/** Counters of a {@linkcode ClassicServer}. */
export interface ServerStats {
  /** Whole frames received. */
  frames: number;
  /** Frames decoded. */
  decoded: number;
  /** Frames that failed to decode. */
  errors: number;
  /** Frames dropped while reassembling, all reasons. */
  dropped: number;
  /** Dropped frames by reason. */
  droppedBy: Readonly<Record<DropReason, number>>;
  /** Whole frames not handed out because the consumer fell too far behind. */
  skipped: number;
  /** Datagrams from idle senders that were neither header nor image. */
  strays: number;
  /** Bytes in whole frames. */
  bytes: number;
  /** Messages on the message port, valid or not. */
  messages: number;
  /** Seconds since the server started. */
  seconds: number;
}

/** Options for {@linkcode ClassicServer.listen}. */
export interface ClassicServerOptions extends ReassemblerOptions {
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
   * Decodes each whole frame: a decoder, or a mode for
   * {@linkcode createDecoder} (`none` turns decoding off). A decoder made
   * from a mode is closed with the server.
   *
   * @default {"auto"}
   */
  decoder?: ImageDecoder | DecoderMode;
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
   * happens to senders that do not wait for replies.
   *
   * @default {32}
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
  /** Called for each datagram on the message port. */
  onMessage?: (message: ReceivedMessage) => void;
  /** Called for each dropped frame and stray datagram. */
  onDrop?: (event: DropEvent | StrayEvent) => void;
  /** Called when a reply cannot be sent. */
  onError?: (error: Error) => void;
}

interface Pending {
  frame: Omit<ReceivedFrame, "image" | "decodeError">;
  decoded: Promise<DecodedImage | Error | undefined>;
}

const REPLY = new TextEncoder().encode(IMAGE_REPLY);
/** Whole frames that may wait, in bytes, unless told otherwise: 256 MiB. */
const DEFAULT_MAX_QUEUED_BYTES = 256 * 1024 * 1024;
/** Held replies beyond this are not sent: such senders do not wait anyway. */
const MAX_HELD_REPLIES = 256;

/**
 * Serves the tutorial's image port, and its message port, in one process.
 *
 * Replies go out as soon as a frame is whole, and decoding runs alongside,
 * so that the decode of one frame overlaps the transfer of the next. When
 * more than `maxPendingFrames` frames wait, replies are held back until one
 * is consumed, so that stop-and-wait senders slow to the decoder's pace
 * instead of losing frames.
 *
 * @example Receiving frames in-process
 * ```ts ignore
 * import { ClassicServer } from "./server.ts";
 *
 * await using server = await ClassicServer.listen({ port: 0, messagePort: null });
 * console.log("listening on", server.imageAddr.port);
 * for await (const frame of server) {
 *   console.log(frame.index, frame.bytes.length, frame.format, frame.sender);
 *   break;
 * }
 * ```
 */
export class ClassicServer implements AsyncIterable<ReceivedFrame> {
  readonly #images: DatagramSocket;
  readonly #messages: DatagramSocket | undefined;
  readonly #reassembler: Reassembler;
  readonly #askedReceiveBuffer: number;
  readonly #decoder: ImageDecoder | undefined;
  readonly #ownsDecoder: boolean;
  readonly #maxPending: number;
  readonly #maxQueued: number;
  readonly #onMessage: ((message: ReceivedMessage) => void) | undefined;
  readonly #onDrop: ((event: DropEvent | StrayEvent) => void) | undefined;
  readonly #onError: (error: Error) => void;
  readonly #started = performance.now();
  readonly #queue: Pending[] = [];
  /** Replies held back, at most one per sender, oldest first. */
  readonly #heldReplies = new Map<string, Endpoint>();
  #queuedBytes = 0;
  readonly #maxQueuedBytes: number;
  readonly #sweeper: ReturnType<typeof setInterval>;
  readonly #loops: Promise<void>[];
  #wake: (() => void) | undefined;
  #closed = false;
  #index = 0;
  #decoded = 0;
  #errors = 0;
  #skipped = 0;
  #messageCount = 0;

  private constructor(
    images: DatagramSocket,
    messages: DatagramSocket | undefined,
    decoder: ImageDecoder | undefined,
    options: ClassicServerOptions,
  ) {
    this.#images = images;
    this.#messages = messages;
    this.#ownsDecoder = typeof options.decoder !== "object";
    this.#reassembler = new Reassembler({
      ...options,
      maxPendingBytes: Math.max(
        options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES,
        options.maxFrameBytes ?? 0,
      ),
    });
    this.#askedReceiveBuffer = options.receiveBufferBytes ??
      DEFAULT_RECEIVE_BUFFER_BYTES;
    this.#decoder = decoder;
    this.#maxPending = options.maxPendingFrames ?? 16;
    this.#maxQueued = Math.max(
      this.#maxPending,
      options.maxQueuedFrames ?? 32,
    );
    this.#maxQueuedBytes = options.maxQueuedBytes ??
      DEFAULT_MAX_QUEUED_BYTES;
    this.#onMessage = options.onMessage;
    this.#onDrop = options.onDrop;
    const onError = options.onError;
    this.#onError = (error) => {
      try {
        onError?.(error);
      } catch {
        // Nowhere left to report it; the server carries on.
      }
    };
    const timeoutMs = options.timeoutMs ?? 3000;
    this.#sweeper = setInterval(
      () => {
        for (const event of this.#reassembler.sweep(performance.now())) {
          if (event.type !== "frame") this.#notify(this.#onDrop, event);
        }
      },
      Math.max(10, Math.min(timeoutMs / 2, 500)),
    );
    this.#loops = [this.#receiveImages()];
    if (messages !== undefined) this.#loops.push(this.#receiveMessages());
  }

  /**
   * Binds the image port, and the message port unless it is `null`.
   *
   * @param options Ports, limits and the decoder.
   * @returns A running server.
   */
  static async listen(
    options: ClassicServerOptions = {},
  ): Promise<ClassicServer> {
    const hostname = options.hostname ?? DEFAULT_HOST;
    const implementation = options.socketImplementation ?? "auto";
    const images = await openDatagramSocket({
      hostname,
      port: options.port ?? DEFAULT_IMAGE_PORT,
      receiveBufferBytes: options.receiveBufferBytes ??
        DEFAULT_RECEIVE_BUFFER_BYTES,
      implementation,
    });
    let messages: DatagramSocket | undefined;
    const messagePort = options.messagePort === undefined
      ? DEFAULT_MESSAGE_PORT
      : options.messagePort;
    if (messagePort !== null) {
      try {
        messages = await openDatagramSocket({
          hostname,
          port: messagePort,
          implementation,
        });
      } catch (error) {
        images.close();
        throw error;
      }
    }
    try {
      const mode = options.decoder ?? "auto";
      const decoder = typeof mode === "object"
        ? mode
        : (await createDecoder(mode)).decoder;
      return new ClassicServer(images, messages, decoder, options);
    } catch (error) {
      images.close();
      messages?.close();
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

  /** Which datagram layer the image port uses. */
  get socketKind(): "native" | "deno" {
    return this.#images.kind;
  }

  /** A snapshot of the counters. */
  get stats(): ServerStats {
    const r = this.#reassembler.stats;
    return {
      frames: r.frames,
      decoded: this.#decoded,
      errors: this.#errors,
      dropped: r.dropped,
      droppedBy: { ...r.droppedBy },
      skipped: this.#skipped,
      strays: r.strays,
      bytes: r.bytes,
      messages: this.#messageCount,
      seconds: (performance.now() - this.#started) / 1000,
    };
  }

  /**
   * Frames in arrival order, each once its decode has finished. Ends after
   * {@linkcode ClassicServer.close}, once the frames already received are
   * handed out.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<ReceivedFrame> {
    while (true) {
      const head = this.#queue[0];
      if (head === undefined) {
        if (this.#closed) return;
        await new Promise<void>((resolve) => this.#wake = resolve);
        continue;
      }
      const result = await head.decoded;
      this.#queue.shift();
      this.#queuedBytes -= head.frame.bytes.length;
      this.#releaseReplies();
      yield {
        ...head.frame,
        image: result instanceof Error ? undefined : result,
        decodeError: result instanceof Error ? result : undefined,
      };
    }
  }

  /**
   * Stops receiving and closes both ports. Frames already received are
   * still handed out by the iterator.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#images.close();
    this.#messages?.close();
    await Promise.all(this.#loops);
    this.#wake?.();
    if (this.#ownsDecoder) {
      // Frames still queued finish decoding before the decoder goes.
      await Promise.all(this.#queue.map((pending) => pending.decoded));
      this.#decoder?.close();
    }
  }

  /** Closes the server. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Receives batches on `socket` until it closes, calling `handle` for each
   * datagram. Receive errors are reported and, so that a lasting one does
   * not spin, followed by a short pause.
   */
  async #receiveLoop(
    socket: DatagramSocket,
    handle: (datagram: Uint8Array, batch: DatagramBatch, i: number) => void,
  ): Promise<void> {
    const batch = socket.createBatch();
    while (true) {
      let count: number;
      try {
        count = await socket.receive(batch);
      } catch (error) {
        if (this.#closed) return;
        this.#onError(asError(error));
        await sleep(10);
        continue;
      }
      if (count === 0) return;
      for (let i = 0; i < count; i++) {
        const offset = batch.offsets[i]!;
        handle(
          batch.buffer.subarray(offset, offset + batch.lengths[i]!),
          batch,
          i,
        );
      }
    }
  }

  #receiveImages(): Promise<void> {
    const reassembler = this.#reassembler;
    let now = 0;
    return this.#receiveLoop(this.#images, (datagram, batch, i) => {
      // One clock reading per batch is precise enough for timeouts.
      if (i === 0) now = performance.now();
      const events = reassembler.push(datagram, batch.senderKeys[i]!, now);
      for (const event of events) {
        if (event.type === "frame") {
          this.#accept(event, batch.senders[i]!);
        } else {
          this.#notify(this.#onDrop, event);
        }
      }
    });
  }

  #accept(
    event: {
      sender: string;
      bytes: Uint8Array;
      format: ImageFormat | undefined;
      mode: "single" | "chunked";
    },
    from: Endpoint,
  ): void {
    if (
      this.#queue.length >= this.#maxQueued ||
      this.#queuedBytes + event.bytes.length > this.#maxQueuedBytes
    ) {
      this.#skipped++;
      this.#holdReply(event.sender, from);
      return;
    }
    const frame = {
      index: ++this.#index,
      sender: event.sender,
      bytes: event.bytes,
      format: event.format,
      mode: event.mode,
    };
    this.#queue.push({
      frame,
      decoded: this.#decode(frame.bytes, frame.format),
    });
    this.#queuedBytes += frame.bytes.length;
    if (this.#queue.length > this.#maxPending) {
      this.#holdReply(event.sender, from);
    } else {
      this.#reply(from);
    }
    this.#wake?.();
    this.#wake = undefined;
  }

  async #decode(
    bytes: Uint8Array,
    format: ImageFormat | undefined,
  ): Promise<DecodedImage | Error | undefined> {
    const decoder = this.#decoder;
    if (decoder === undefined) return undefined;
    try {
      if (format === undefined) {
        throw new Error("Cannot decode: not a JPEG or PNG image");
      }
      if (!decoder.supports(format)) {
        throw new Error(
          `Cannot decode: the ${decoder.name} decoder does not support ${format}`,
        );
      }
      const image = await decoder.decode(bytes, format);
      this.#decoded++;
      return image;
    } catch (error) {
      this.#errors++;
      return asError(error);
    }
  }

  /** Calls a user callback; a callback that throws must not stop the server. */
  #notify<T>(callback: ((value: T) => void) | undefined, value: T): void {
    try {
      callback?.(value);
    } catch (error) {
      this.#onError(asError(error));
    }
  }

  #holdReply(sender: string, to: Endpoint): void {
    // A stop-and-wait sender has one frame in flight, so one reply each is
    // enough; a sender that floods gets no more than that.
    if (
      this.#heldReplies.has(sender) ||
      this.#heldReplies.size < MAX_HELD_REPLIES
    ) {
      this.#heldReplies.delete(sender);
      this.#heldReplies.set(sender, to);
    }
  }

  #releaseReplies(): void {
    for (const [sender, to] of this.#heldReplies) {
      if (this.#closed || this.#queue.length > this.#maxPending) return;
      this.#heldReplies.delete(sender);
      this.#reply(to);
    }
  }

  #reply(to: Endpoint): void {
    this.#images.send(REPLY, to).catch((error) => {
      if (!this.#closed) this.#onError(asError(error));
    });
  }

  #receiveMessages(): Promise<void> {
    const socket = this.#messages!;
    return this.#receiveLoop(socket, (datagram, batch, i) => {
      const { message, reply } = handleMessage(datagram, batch.senderKeys[i]!);
      this.#messageCount++;
      this.#notify(this.#onMessage, message);
      socket.send(reply, batch.senders[i]!).catch((error) => {
        if (!this.#closed) this.#onError(asError(error));
      });
    });
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
