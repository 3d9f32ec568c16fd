/**
 * Records each sender's frames to its own playable video,
 * `DIR/SENDER-YYYYmmdd-HHMMSS.mkv`: MJPEG in Matroska, the received JPEG
 * bytes unchanged (PNG frames transcoded to JPEG), each frame stamped with
 * its arrival time, so the frame rate is the sender's, variable or not.
 *
 * A new file starts when a sender's frame size changes (MJPEG of two sizes
 * in one track confuses players), when a segment is full, and when a sender
 * comes back after a pause. Recording never holds up receiving: frames wait
 * for ffmpeg in a bounded queue and are dropped, and counted, past it. When
 * a file fails (a full disk, ffmpeg killed) the recorder stops, finishes the
 * other files, and says why in one line; frames keep coming to the caller.
 *
 * @module
 */

import type { ImageFormat } from "../codec/types.ts";
import { imageDimensions } from "../viewer/_dimensions.ts";
import { spawnProblem } from "../capture/_spawn.ts";
import { JpegFrames, type PngTranscoder } from "./_jpeg.ts";
import { recordingFileName } from "./file_name.ts";
import { MIN_FRAME_INTERVAL_MS } from "./matroska.ts";
import { MkvFile } from "./mkv_file.ts";

/** A frame for {@linkcode Recorder.record}. */
export interface RecordFrame {
  /** The sender's key, `host:port`; each sender gets its own files. */
  readonly sender: string;
  /** The encoded image, as received. It must not change after the call. */
  readonly bytes: Uint8Array;
  /** Its format; PNG is transcoded to JPEG. */
  readonly format: ImageFormat;
  /** When it arrived, in milliseconds on a monotonic clock such as `performance.now()`. */
  readonly arrivalMs: number;
}

/** What a {@linkcode Recorder} reports through `onEvent`. */
export type RecorderEvent =
  /** A file was started. */
  | {
    type: "file";
    sender: string;
    path: string;
    width: number;
    height: number;
  }
  /** A file was finished: ffmpeg has written it and exited. */
  | {
    type: "closed";
    sender: string;
    path: string;
    frames: number;
    dropped: number;
  }
  /** Recording stopped because a file failed; `message` is one line. */
  | { type: "stopped"; message: string; error: Error };

/** Options for {@linkcode Recorder.open}. */
export interface RecorderOptions {
  /** The folder for the files; made if missing. */
  dir: string;
  /**
   * Start a sender's next file after this many milliseconds of its frames.
   *
   * @default {Infinity} one file per sender (and per frame size)
   */
  segmentMs?: number;
  /**
   * A sender silent this long gets a new file when it comes back; its open
   * file is finished at the next frame from anyone, or at close.
   *
   * @default {60000}
   */
  idleMs?: number;
  /**
   * The most files open at once; frames of further senders are skipped.
   *
   * @default {16}
   */
  maxFiles?: number;
  /** Bytes per file that may wait for ffmpeg before frames are dropped. @default {33554432} */
  maxQueuedBytes?: number;
  /** How long ffmpeg may take to finish a file at close before it is killed. @default {5000} */
  closeTimeoutMs?: number;
  /** The ffmpeg executable. @default {"ffmpeg"} */
  ffmpegPath?: string;
  /** PNG to JPEG. @default {undefined} codecs of its own, made on first use */
  transcode?: PngTranscoder;
  /** The wall clock for file names. @default {() => new Date()} */
  now?: () => Date;
  /** Files started and finished, and a stop. */
  onEvent?: (event: RecorderEvent) => void;
}

/** Counters of a {@linkcode Recorder}. */
export interface RecorderStats {
  /** Files started. */
  files: number;
  /** Frames handed to ffmpeg. */
  frames: number;
  /** Frames dropped because ffmpeg was too slow. */
  dropped: number;
  /** Frames not recorded: not a readable JPEG or PNG, too many senders, or after a stop. */
  skipped: number;
}

interface Track {
  readonly file: MkvFile;
  readonly sender: string;
  readonly startMs: number;
  lastMs: number;
  lastStamp: number;
}

/**
 * Records frames, per sender, to MJPEG-in-Matroska files through ffmpeg.
 *
 * @example Recording three frames of one sender
 * ```ts
 * import { Recorder } from "./recorder.ts";
 * const dir = await Deno.makeTempDir();
 * const bytes = await Deno.readFile("tests/fixtures/rocket.jpg");
 * const recorder = await Recorder.open({ dir, onEvent: (e) => console.log(e.type) });
 * for (const arrivalMs of [0, 33, 70]) {
 *   await recorder.record({ sender: "127.0.0.1:50000", bytes, format: "jpeg", arrivalMs });
 * }
 * await recorder.close();
 * console.log(recorder.stats); // { files: 1, frames: 3, dropped: 0, skipped: 0 }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class Recorder implements AsyncDisposable {
  readonly #dir: string;
  readonly #segmentMs: number;
  readonly #idleMs: number;
  readonly #maxFiles: number;
  readonly #maxQueuedBytes: number | undefined;
  readonly #closeTimeoutMs: number;
  readonly #ffmpegPath: string;
  readonly #now: () => Date;
  readonly #onEvent: (event: RecorderEvent) => void;
  readonly #jpeg: JpegFrames;
  readonly #tracks = new Map<string, Track>();
  readonly #finishing = new Set<Promise<void>>();
  /** Paths of files started and not yet finished, which may not exist yet. */
  readonly #names = new Set<string>();
  /** Files whose drops are not yet in `#stats`: open, or being finished. */
  readonly #live = new Set<MkvFile>();
  #stats: RecorderStats = { files: 0, frames: 0, dropped: 0, skipped: 0 };
  #stopped: Error | undefined;
  #closed: Promise<void> | undefined;

  private constructor(options: RecorderOptions) {
    this.#dir = options.dir.replace(/[\\/]+$/, "") || "/";
    this.#segmentMs = positive(options.segmentMs ?? Infinity, "segmentMs");
    this.#idleMs = positive(options.idleMs ?? 60_000, "idleMs");
    this.#maxFiles = positive(options.maxFiles ?? 16, "maxFiles");
    const maxQueuedBytes = options.maxQueuedBytes;
    if (
      maxQueuedBytes !== undefined &&
      !(Number.isSafeInteger(maxQueuedBytes) && maxQueuedBytes > 0)
    ) {
      throw new RangeError(
        `Cannot record with maxQueuedBytes ${maxQueuedBytes}: expected a positive integer`,
      );
    }
    this.#maxQueuedBytes = maxQueuedBytes;
    this.#closeTimeoutMs = positive(
      options.closeTimeoutMs ?? 5000,
      "closeTimeoutMs",
    );
    this.#ffmpegPath = options.ffmpegPath ?? "ffmpeg";
    this.#now = options.now ?? (() => new Date());
    this.#onEvent = options.onEvent ?? (() => {});
    this.#jpeg = new JpegFrames(options.transcode);
  }

  /**
   * Checks that ffmpeg runs and makes the folder, then returns a recorder.
   *
   * @param options The folder, segment length, limits and callbacks.
   * @returns The recorder.
   * @throws {Error} One line, when ffmpeg is missing or cannot run, or the
   * folder cannot be made.
   * @throws {RangeError} When an option is out of range.
   */
  static async open(options: RecorderOptions): Promise<Recorder> {
    const recorder = new Recorder(options);
    await checkFfmpeg(recorder.#ffmpegPath);
    try {
      await Deno.mkdir(recorder.#dir, { recursive: true });
    } catch (error) {
      throw new Error(
        `Cannot record to ${recorder.#dir}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    }
    return recorder;
  }

  /** Files, frames, drops and skips so far. */
  get stats(): Readonly<RecorderStats> {
    let dropped = this.#stats.dropped;
    for (const file of this.#live) dropped += file.stats.dropped;
    return { ...this.#stats, dropped };
  }

  /** Why recording stopped, if a file failed. */
  get stopped(): Error | undefined {
    return this.#stopped;
  }

  /** The files being written now, with their ffmpeg's process id. */
  get openFiles(): { sender: string; path: string; pid: number }[] {
    return [...this.#tracks.values()].map((track) => ({
      sender: track.sender,
      path: track.file.path,
      pid: track.file.pid,
    }));
  }

  /**
   * Records a frame. Await each call before the next, so that frames keep
   * their order (a PNG frame is transcoded first). It never rejects; a
   * frame it cannot record is counted in `skipped`.
   *
   * @param frame The sender, bytes, format and arrival time.
   * @returns When the frame is queued for ffmpeg.
   */
  async record(frame: RecordFrame): Promise<void> {
    if (this.#stopped !== undefined || this.#closed !== undefined) {
      this.#stats.skipped++;
      return;
    }
    let jpeg: Uint8Array;
    try {
      jpeg = await this.#jpeg.toJpeg(frame.bytes, frame.format);
    } catch {
      this.#stats.skipped++;
      return;
    }
    const size = imageDimensions(jpeg, "jpeg");
    if (size === undefined || this.#stopped !== undefined || this.#closed) {
      this.#stats.skipped++;
      return;
    }
    this.#finishIdle(frame.arrivalMs);
    let track = this.#tracks.get(frame.sender);
    if (
      track !== undefined &&
      (track.file.size.width !== size.width ||
        track.file.size.height !== size.height ||
        frame.arrivalMs - track.startMs >= this.#segmentMs)
    ) {
      this.#finish(track);
      track = undefined;
    }
    if (track === undefined) {
      if (this.#tracks.size >= this.#maxFiles) {
        this.#stats.skipped++;
        return;
      }
      track = this.#start(frame.sender, size, frame.arrivalMs);
      if (track === undefined) return;
    }
    const stamp = track.lastStamp < 0 ? 0 : Math.max(
      Math.round(frame.arrivalMs - track.startMs),
      track.lastStamp + MIN_FRAME_INTERVAL_MS,
    );
    track.lastMs = frame.arrivalMs;
    if (track.file.write(jpeg, stamp)) {
      track.lastStamp = stamp;
      this.#stats.frames++;
    }
  }

  /**
   * Finishes every file: writes what waits, closes ffmpeg's input and waits
   * for it (killing it after `closeTimeoutMs`). Every call returns the same
   * promise; it never rejects.
   *
   * @returns When every ffmpeg has exited.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const track of [...this.#tracks.values()]) this.#finish(track);
      while (this.#finishing.size > 0) {
        await Promise.all(this.#finishing);
      }
      await this.#jpeg.close();
    })();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #start(
    sender: string,
    size: { width: number; height: number },
    arrivalMs: number,
  ): Track | undefined {
    const path = this.#freshPath(sender);
    let file: MkvFile;
    try {
      file = MkvFile.open(path, {
        size,
        ffmpegPath: this.#ffmpegPath,
        ...(this.#maxQueuedBytes === undefined
          ? {}
          : { maxQueuedBytes: this.#maxQueuedBytes }),
        onFailure: (error) => this.#stop(error),
      });
    } catch (error) {
      this.#stop(error instanceof Error ? error : new Error(String(error)));
      return undefined;
    }
    const track: Track = {
      file,
      sender,
      startMs: arrivalMs,
      lastMs: arrivalMs,
      lastStamp: -1,
    };
    this.#tracks.set(sender, track);
    this.#live.add(file);
    this.#stats.files++;
    this.#onEvent({ type: "file", sender, path, ...size });
    return track;
  }

  #freshPath(sender: string): string {
    const date = this.#now();
    for (let attempt = 1;; attempt++) {
      const path = `${this.#dir}/${recordingFileName(sender, date, attempt)}`;
      if (this.#names.has(path) || exists(path)) continue;
      this.#names.add(path);
      return path;
    }
  }

  #finishIdle(nowMs: number): void {
    for (const track of this.#tracks.values()) {
      if (nowMs - track.lastMs >= this.#idleMs) this.#finish(track);
    }
  }

  #finish(track: Track): void {
    if (this.#tracks.get(track.sender) === track) {
      this.#tracks.delete(track.sender);
    }
    const done = track.file.close(this.#closeTimeoutMs).then(() => {
      const { written, dropped } = track.file.stats;
      this.#stats.dropped += dropped;
      this.#live.delete(track.file);
      // ffmpeg has made the file, so exists() guards its name from now on.
      this.#names.delete(track.file.path);
      this.#onEvent({
        type: "closed",
        sender: track.sender,
        path: track.file.path,
        frames: written,
        dropped,
      });
    });
    this.#finishing.add(done);
    done.finally(() => this.#finishing.delete(done));
  }

  #stop(error: Error): void {
    if (this.#stopped !== undefined) return;
    this.#stopped = error;
    for (const track of [...this.#tracks.values()]) this.#finish(track);
    this.#onEvent({
      type: "stopped",
      message: `recording stopped: ${error.message.replace(/\s*\n\s*/g, " ")}`,
      error,
    });
  }
}

function positive(value: number, name: string): number {
  if (!(value > 0) || Number.isNaN(value)) {
    throw new RangeError(
      `Cannot record with ${name} ${value}: expected a positive number`,
    );
  }
  return value;
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs `ffmpeg -version`, so that a missing ffmpeg is an error at start, not at the first frame. */
async function checkFfmpeg(ffmpegPath: string): Promise<void> {
  let status: Deno.CommandOutput;
  try {
    status = await new Deno.Command(ffmpegPath, {
      args: ["-hide_banner", "-version"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
  } catch (error) {
    const problem = spawnProblem(error, ffmpegPath);
    throw new Error(
      `Cannot record: ${problem?.message ?? String(error)}`,
      { cause: error },
    );
  }
  if (!status.success) {
    throw new Error(
      `Cannot record: ${ffmpegPath} -version failed with code ${status.code}`,
    );
  }
}
