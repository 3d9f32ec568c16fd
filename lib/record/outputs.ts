/**
 * What a server does with its frames besides showing them: record them per
 * sender ({@linkcode Recorder}) and write them to stdout as MJPEG
 * ({@linkcode MjpegOutput}), behind one call per frame, so that a server's
 * frame loop stays short.
 *
 * @module
 */

import type { ImageFormat } from "../codec/types.ts";
import { MjpegOutput } from "./mjpeg_output.ts";
import { Recorder, type RecorderOptions } from "./recorder.ts";

/** Options for {@linkcode openFrameOutputs}. */
export interface FrameOutputsOptions {
  /** Record each sender to this folder. */
  recordDir?: string | undefined;
  /** Segment length for recordings, in milliseconds. @default {Infinity} */
  segmentMs?: number | undefined;
  /** Write every frame as MJPEG to this stream, such as `Deno.stdout.writable`. */
  stream?: WritableStream<Uint8Array> | undefined;
  /** Other recorder options (ffmpeg path, limits, clock). */
  recorder?: Omit<RecorderOptions, "dir" | "segmentMs" | "onEvent">;
  /** Lines about files started and finished. @default {() => {}} */
  log?: (line: string) => void;
  /** Lines about a stop: a failed recording, a reader gone. @default {console.error} */
  warn?: (line: string) => void;
}

/** A frame for {@linkcode FrameOutputs.frame}. */
export interface OutputFrame {
  /** The sender's key. */
  readonly sender: string;
  /** The encoded image. */
  readonly bytes: Uint8Array;
  /** Its format; frames of unknown format are skipped. */
  readonly format: ImageFormat | undefined;
}

/** The recorder and the MJPEG stream of a server, as one. */
export interface FrameOutputs extends AsyncDisposable {
  /** The recorder, when recording. */
  readonly recorder: Recorder | undefined;
  /** The MJPEG stream, when writing one. */
  readonly mjpeg: MjpegOutput | undefined;
  /**
   * Hands a frame to both; never rejects. Await it before the next frame.
   *
   * @param frame The frame.
   * @param arrivalMs When it arrived. @default {performance.now()}
   */
  frame(frame: OutputFrame, arrivalMs?: number): Promise<void>;
  /** Finishes the files and the stream; resolves with one summary line each. */
  close(): Promise<string[]>;
}

/**
 * Opens what `options` ask for. With neither a folder nor a stream, every
 * call does nothing.
 *
 * @param options Where to record, the MJPEG stream, and where lines go.
 * @returns The outputs.
 * @throws {Error} One line, when recording is asked and ffmpeg is missing
 * or the folder cannot be made.
 *
 * @example Recording, from a frame loop
 * ```ts
 * import { openFrameOutputs } from "./outputs.ts";
 * const dir = await Deno.makeTempDir();
 * const outputs = await openFrameOutputs({ recordDir: dir, log: console.log });
 * const bytes = await Deno.readFile("tests/fixtures/rocket.jpg");
 * await outputs.frame({ sender: "127.0.0.1:50000", bytes, format: "jpeg" });
 * console.log(await outputs.close());
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openFrameOutputs(
  options: FrameOutputsOptions,
): Promise<FrameOutputs> {
  const log = options.log ?? (() => {});
  const warn = options.warn ?? console.error;
  const recorder = options.recordDir === undefined
    ? undefined
    : await Recorder.open({
      ...options.recorder,
      dir: options.recordDir,
      ...(options.segmentMs === undefined
        ? {}
        : { segmentMs: options.segmentMs }),
      onEvent(event) {
        if (event.type === "file") {
          log(
            `recording ${event.sender} to ${event.path} (${event.width}x${event.height})`,
          );
        } else if (event.type === "closed") {
          log(
            `recorded ${event.path}: ${event.frames} frames${
              event.dropped > 0 ? `, ${event.dropped} dropped` : ""
            }`,
          );
        } else warn(`${event.message}; still receiving`);
      },
    });
  const mjpeg = options.stream === undefined
    ? undefined
    : new MjpegOutput(options.stream, { onStop: (line) => warn(line) });
  let closed: Promise<string[]> | undefined;
  const close = (): Promise<string[]> => {
    closed ??= (async () => {
      await Promise.all([recorder?.close(), mjpeg?.close()]);
      const lines: string[] = [];
      if (recorder !== undefined) {
        const { files, frames, dropped, skipped } = recorder.stats;
        lines.push(
          `recorded files=${files} frames=${frames} dropped=${dropped} skipped=${skipped}`,
        );
      }
      if (mjpeg !== undefined) {
        const { written, dropped, skipped } = mjpeg.stats;
        lines.push(
          `mjpeg out frames=${written} dropped=${dropped} skipped=${skipped}`,
        );
      }
      return lines;
    })();
    return closed;
  };
  return {
    recorder,
    mjpeg,
    async frame(frame, arrivalMs = performance.now()) {
      const { sender, bytes, format } = frame;
      if (format === undefined) return;
      await Promise.all([
        recorder?.record({ sender, bytes, format, arrivalMs }),
        mjpeg?.write({ bytes, format }),
      ]);
    },
    close,
    async [Symbol.asyncDispose]() {
      await close();
    },
  };
}
