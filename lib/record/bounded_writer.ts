/**
 * Writes whole frames to a byte stream (a pipe into ffmpeg, or stdout) in
 * order, without ever blocking the caller and with bounded memory: when the
 * reader is slower than the frames come, new frames are dropped whole, and
 * counted, instead of queued without end. A failed write (a full disk, a
 * reader that went away) stops the sink once, with its error.
 *
 * @module
 */

/** Options for {@linkcode BoundedWriter}. */
export interface BoundedWriterOptions {
  /**
   * The most bytes that may wait for the stream. A frame that would go past
   * it is dropped, unless nothing waits: one frame always fits, so that a
   * frame larger than the bound still gets through.
   *
   * @default {33554432} (32 MiB)
   */
  maxQueuedBytes?: number;
  /**
   * Whether {@linkcode BoundedWriter.close} closes the stream, or only lets go
   * of it (for stdout, which others may still write to).
   *
   * @default {true}
   */
  closeStream?: boolean;
  /**
   * Called once, with the error of the first write that failed. The sink
   * writes nothing after it.
   *
   * @default {undefined}
   */
  onError?: (error: unknown) => void;
}

/** Counters of a {@linkcode BoundedWriter}. */
export interface BoundedWriterStats {
  /** Frames written to the stream. */
  written: number;
  /** Frames dropped because too many bytes waited. */
  dropped: number;
  /** Bytes waiting now. */
  queuedBytes: number;
}

/** The default of {@linkcode BoundedWriterOptions.maxQueuedBytes}: 32 MiB. */
export const DEFAULT_MAX_QUEUED_BYTES = 32 * 1024 * 1024;

/**
 * A bounded, ordered, non-blocking writer of frames, each one or more byte
 * chunks that go out together.
 *
 * @example Frames to a pipe that reads slowly
 * ```ts
 * import { BoundedWriter } from "./bounded_writer.ts";
 * const chunks: Uint8Array[] = [];
 * const slow = new WritableStream<Uint8Array>({
 *   write: (chunk) => new Promise((done) => setTimeout(() => done(void chunks.push(chunk)), 10)),
 * });
 * const sink = new BoundedWriter(slow, { maxQueuedBytes: 8 });
 * for (let i = 0; i < 5; i++) sink.write([new Uint8Array(4)]);
 * await sink.close();
 * console.log(sink.stats); // { written: 2, dropped: 3, queuedBytes: 0 }
 * ```
 */
export class BoundedWriter {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #maxQueuedBytes: number;
  readonly #closeStream: boolean;
  readonly #onError: ((error: unknown) => void) | undefined;
  readonly #queue: { chunks: readonly Uint8Array[]; bytes: number }[] = [];
  #queuedBytes = 0;
  #written = 0;
  #dropped = 0;
  #pumping: Promise<void> | undefined;
  #error: { cause: unknown } | undefined;
  #closed: Promise<void> | undefined;

  /**
   * @param stream Where the frames go; the sink takes its writer.
   * @param options The queue bound, whether to close the stream, and an
   * error callback.
   */
  constructor(
    stream: WritableStream<Uint8Array>,
    options: BoundedWriterOptions = {},
  ) {
    const max = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(
        `Cannot queue at most ${max} bytes: expected a positive integer`,
      );
    }
    this.#writer = stream.getWriter();
    this.#maxQueuedBytes = max;
    this.#closeStream = options.closeStream ?? true;
    this.#onError = options.onError;
  }

  /** Frames written, dropped, and bytes waiting. */
  get stats(): BoundedWriterStats {
    return {
      written: this.#written,
      dropped: this.#dropped,
      queuedBytes: this.#queuedBytes,
    };
  }

  /** Whether a write failed; the sink writes nothing more. */
  get failed(): boolean {
    return this.#error !== undefined;
  }

  /**
   * Queues one frame; it goes out after the frames queued before it.
   *
   * @param chunks The frame's bytes, in order. They must not change until
   * written.
   * @returns `true` when queued; `false` when dropped for want of room, or
   * when the sink has failed or is closing (then nothing is counted).
   */
  write(chunks: readonly Uint8Array[]): boolean {
    if (this.#error !== undefined || this.#closed !== undefined) return false;
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.length;
    if (
      this.#queue.length > 0 && this.#queuedBytes + bytes > this.#maxQueuedBytes
    ) {
      this.#dropped++;
      return false;
    }
    this.#queue.push({ chunks, bytes });
    this.#queuedBytes += bytes;
    this.#pumping ??= this.#pump();
    return true;
  }

  /**
   * Writes what waits, then closes the stream (or lets go of it). Safe to
   * call more than once; every call returns the same promise. It never
   * rejects: a failure goes to `onError`.
   *
   * @returns When the frames are out and the stream is closed.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    await this.#pumping;
    if (this.#error === undefined && this.#closeStream) {
      try {
        await this.#writer.close();
      } catch (error) {
        this.#fail(error);
      }
    }
    if (this.#error === undefined) this.#writer.releaseLock();
  }

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const frame = this.#queue[0]!;
        for (const chunk of frame.chunks) await this.#writer.write(chunk);
        this.#queue.shift();
        this.#queuedBytes -= frame.bytes;
        this.#written++;
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#pumping = undefined;
    }
  }

  #fail(error: unknown): void {
    if (this.#error !== undefined) return;
    this.#error = { cause: error };
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    // The stream is broken: abort it so that its resources are let go.
    this.#writer.abort(error).catch(() => {});
    this.#onError?.(error);
  }
}
