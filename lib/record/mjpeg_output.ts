/**
 * Frames as one MJPEG stream (JPEG images back to back, as `ffmpeg -f
 * mjpeg` reads them) on a byte stream such as stdout, for
 * `server.ts --out - | ffplay -f mjpeg -`. PNG frames are transcoded to
 * JPEG. A slow reader loses frames, counted, never memory; a reader that
 * goes away (EPIPE) stops the output once, with one line.
 *
 * @module
 */

import type { ImageFormat } from "../codec/types.ts";
import { JpegFrames, type PngTranscoder } from "./_jpeg.ts";
import { BoundedWriter } from "./bounded_writer.ts";

/** Options for {@linkcode MjpegOutput}. */
export interface MjpegOutputOptions {
  /** Bytes that may wait for the reader before frames are dropped. @default {33554432} */
  maxQueuedBytes?: number;
  /** Whether {@linkcode MjpegOutput.close} closes the stream. @default {false} */
  closeStream?: boolean;
  /** PNG to JPEG. @default {undefined} codecs of its own, made on first use */
  transcode?: PngTranscoder;
  /** Called once when writing stops because the stream failed; `message` is one line. */
  onStop?: (message: string, error: unknown) => void;
}

/** Counters of an {@linkcode MjpegOutput}. */
export interface MjpegOutputStats {
  /** Frames written. */
  written: number;
  /** Frames dropped because the reader was too slow. */
  dropped: number;
  /** Frames not written: a PNG that did not transcode, or after a stop. */
  skipped: number;
}

/**
 * Writes frames as an MJPEG stream.
 *
 * @example Two frames into a pipe
 * ```ts
 * import { MjpegOutput } from "./mjpeg_output.ts";
 * const parts: Uint8Array[] = [];
 * const out = new MjpegOutput(new WritableStream({ write: (c) => void parts.push(c) }));
 * const jpeg = await Deno.readFile("tests/fixtures/rocket.jpg");
 * await out.write({ bytes: jpeg, format: "jpeg" });
 * await out.write({ bytes: await Deno.readFile("tests/fixtures/astronaut.png"), format: "png" });
 * await out.close();
 * console.log(out.stats.written, parts.length); // 2 2
 * ```
 */
export class MjpegOutput implements AsyncDisposable {
  readonly #sink: BoundedWriter;
  readonly #jpeg: JpegFrames;
  #skipped = 0;
  #stopped = false;

  /**
   * @param stream Where the stream goes, such as `Deno.stdout.writable`.
   * @param options The queue bound, closing, transcoding and a stop callback.
   */
  constructor(
    stream: WritableStream<Uint8Array>,
    options: MjpegOutputOptions = {},
  ) {
    this.#jpeg = new JpegFrames(options.transcode);
    this.#sink = new BoundedWriter(stream, {
      closeStream: options.closeStream ?? false,
      ...(options.maxQueuedBytes === undefined
        ? {}
        : { maxQueuedBytes: options.maxQueuedBytes }),
      onError: (error) => {
        this.#stopped = true;
        options.onStop?.(stopMessage(error), error);
      },
    });
  }

  /** Frames written, dropped and skipped. */
  get stats(): MjpegOutputStats {
    const { written, dropped } = this.#sink.stats;
    return { written, dropped, skipped: this.#skipped };
  }

  /** Whether writing stopped because the stream failed. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Queues a frame. Await each call before the next, so that frames keep
   * their order. It never rejects.
   *
   * @param frame The encoded image and its format.
   * @returns When the frame is queued (or dropped).
   */
  async write(
    frame: { readonly bytes: Uint8Array; readonly format: ImageFormat },
  ): Promise<void> {
    if (this.#stopped) {
      this.#skipped++;
      return;
    }
    let jpeg: Uint8Array;
    try {
      jpeg = await this.#jpeg.toJpeg(frame.bytes, frame.format);
    } catch {
      this.#skipped++;
      return;
    }
    this.#sink.write([jpeg]);
  }

  /**
   * Writes what waits and lets go of the stream (closing it if asked).
   *
   * @returns When done; never rejects.
   */
  async close(): Promise<void> {
    await this.#sink.close();
    await this.#jpeg.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function stopMessage(error: unknown): string {
  if (error instanceof Deno.errors.BrokenPipe) {
    return "stopped writing frames to the output: its reader closed it (broken pipe); still receiving";
  }
  const reason = error instanceof Error ? error.message : String(error);
  return `stopped writing frames to the output: ${reason}; still receiving`;
}
