/**
 * One recording file: an ffmpeg process that reads the live Matroska
 * stream of {@linkcode matroskaHeader} and {@linkcode matroskaFrameHead} on
 * its stdin and remuxes it, without re-encoding, into a seekable `.mkv`
 * with an index, which plays to its end once ffmpeg has finished it.
 *
 * @module
 */

import { stderrGist, StderrTail } from "../capture/_stderr.ts";
import { spawnProblem } from "../capture/_spawn.ts";
import type { Dimensions } from "../viewer/_dimensions.ts";
import { BoundedWriter } from "./bounded_writer.ts";
import { matroskaFrameHead, matroskaHeader } from "./matroska.ts";

/**
 * The ffmpeg arguments (without the executable) that remux the live
 * Matroska stream on stdin into `path`, stream copy only.
 *
 * @param path The output file; it is overwritten.
 * @returns The argument list.
 *
 * @example Usage
 * ```ts
 * import { recordingArgs } from "./mkv_file.ts";
 * console.log(recordingArgs("rec/a.mkv").join(" "));
 * // -hide_banner -loglevel error -nostdin -f matroska -i pipe:0 -map 0:v:0 -c copy -f matroska -y rec/a.mkv
 * ```
 */
export function recordingArgs(path: string): string[] {
  return [
    "-hide_banner",
    "-loglevel",
    "error",
    "-nostdin",
    "-f",
    "matroska",
    "-i",
    "pipe:0",
    "-map",
    "0:v:0",
    "-c",
    "copy",
    "-f",
    "matroska",
    "-y",
    path,
  ];
}

/** Options for {@linkcode MkvFile.open}. */
export interface MkvFileOptions {
  /** The frames' size, written in the track header. */
  size: Dimensions;
  /** The ffmpeg executable. @default {"ffmpeg"} */
  ffmpegPath?: string;
  /** Bytes that may wait for ffmpeg before frames are dropped. @default {33554432} */
  maxQueuedBytes?: number;
  /**
   * Called once when the file fails before it is closed: ffmpeg exited or
   * a write to it failed (a full disk, ffmpeg killed). The message is one
   * line and names the file.
   */
  onFailure?: (error: Error) => void;
}

/** A recording file being written by ffmpeg. */
export class MkvFile {
  /** The output file. */
  readonly path: string;
  /** The frames' size. */
  readonly size: Readonly<Dimensions>;
  readonly #child: Deno.ChildProcess;
  readonly #sink: BoundedWriter;
  readonly #stderr = new StderrTail();
  readonly #stderrDone: Promise<void>;
  readonly #onFailure: ((error: Error) => void) | undefined;
  #closing = false;
  #exited = false;
  #failing = false;
  #failure: Error | undefined;
  #closed: Promise<void> | undefined;

  private constructor(
    child: Deno.ChildProcess,
    path: string,
    options: MkvFileOptions,
  ) {
    this.#child = child;
    this.path = path;
    this.size = { ...options.size };
    this.#onFailure = options.onFailure;
    this.#sink = new BoundedWriter(child.stdin, {
      ...(options.maxQueuedBytes === undefined
        ? {}
        : { maxQueuedBytes: options.maxQueuedBytes }),
      onError: (error) => void this.#fail(error),
    });
    this.#stderrDone = (async () => {
      try {
        for await (const chunk of child.stderr) this.#stderr.push(chunk);
      } catch {
        // A broken pipe: ffmpeg is gone, and its status says how.
      }
    })();
    child.status.then(() => {
      this.#exited = true;
      if (!this.#closing) void this.#fail(undefined);
    });
    this.#sink.write([matroskaHeader(options.size.width, options.size.height)]);
  }

  /**
   * Starts ffmpeg writing `path`.
   *
   * @param path The output file; it is overwritten.
   * @param options The frame size, ffmpeg, the queue bound, a failure callback.
   * @returns The open file.
   * @throws {Error} When ffmpeg cannot be started: one line that says why.
   *
   * @example Three frames, then close
   * ```ts
   * import { MkvFile } from "./mkv_file.ts";
   * const jpeg = await Deno.readFile("tests/fixtures/rocket.jpg");
   * const dir = await Deno.makeTempDir();
   * const file = MkvFile.open(`${dir}/rocket.mkv`, { size: { width: 640, height: 427 } });
   * for (const ms of [0, 40, 80]) file.write(jpeg, ms);
   * await file.close();
   * console.log(file.stats.written); // 3
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  static open(path: string, options: MkvFileOptions): MkvFile {
    const ffmpegPath = options.ffmpegPath ?? "ffmpeg";
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(ffmpegPath, {
        args: recordingArgs(path),
        stdin: "piped",
        stdout: "null",
        stderr: "piped",
        // Out of the terminal's process group: Ctrl-C reaches only us, and
        // we finish the file before ffmpeg stops.
        detached: true,
      }).spawn();
    } catch (error) {
      const problem = spawnProblem(error, ffmpegPath);
      throw new Error(
        problem?.message ??
          `Cannot start ffmpeg to record ${path}: ${String(error)}`,
        { cause: error },
      );
    }
    return new MkvFile(child, path, options);
  }

  /** ffmpeg's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Frames written and dropped (the header counts as one written). */
  get stats(): { written: number; dropped: number } {
    const { written, dropped } = this.#sink.stats;
    return { written: Math.max(0, written - 1), dropped };
  }

  /** Why the file failed, if it did. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /**
   * Queues a JPEG frame at `timestampMs` from the file's start.
   *
   * @param jpeg The frame; it must not change until written.
   * @param timestampMs An integer, at least the previous frame's plus
   * `MIN_FRAME_INTERVAL_MS` (2).
   * @returns `false` when the frame was dropped (ffmpeg too slow) or the
   * file has failed or is closing.
   */
  write(jpeg: Uint8Array, timestampMs: number): boolean {
    if (this.#failing || this.#closing) return false;
    return this.#sink.write([
      matroskaFrameHead(timestampMs, jpeg.length),
      jpeg,
    ]);
  }

  /**
   * Writes what waits, closes ffmpeg's stdin and waits for ffmpeg to finish
   * the file; after `timeoutMs` it kills ffmpeg. Never rejects; every call
   * returns the same promise.
   *
   * @param timeoutMs How long ffmpeg may take. @default {5000}
   * @returns When ffmpeg has exited.
   */
  close(timeoutMs = 5000): Promise<void> {
    this.#closed ??= this.#close(timeoutMs);
    return this.#closed;
  }

  async #close(timeoutMs: number): Promise<void> {
    this.#closing = true;
    const timer = setTimeout(() => kill(this.#child, "SIGKILL"), timeoutMs);
    try {
      await this.#sink.close();
      const status = await this.#child.status;
      await this.#stderrDone;
      if (!status.success && !this.#failing) {
        this.#failure = this.#describe(status);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async #fail(cause: unknown): Promise<void> {
    if (this.#failing) return;
    this.#failing = true;
    // ffmpeg's own words say more than EPIPE: give it a moment to exit.
    const timer = this.#exited
      ? undefined
      : setTimeout(() => kill(this.#child, "SIGKILL"), 1000);
    const status = await this.#child.status;
    clearTimeout(timer);
    await this.#stderrDone;
    this.#failure = this.#describe(status, cause);
    void this.#sink.close();
    this.#onFailure?.(this.#failure);
  }

  #describe(status: Deno.CommandStatus, cause?: unknown): Error {
    const lines = this.#stderr.lines();
    const how = status.signal !== null
      ? `was killed by ${status.signal}`
      : `exited with code ${status.code}`;
    const why = lines.length > 0 ? `: ${stderrGist(lines, this.path)}` : "";
    return new Error(
      `ffmpeg writing ${this.path} ${how} after ${this.stats.written} frames${why}`,
      { cause },
    );
  }
}

function kill(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // It has exited already.
  }
}
