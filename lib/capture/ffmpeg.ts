/**
 * Live capture through ffmpeg: a camera, ffmpeg's `testsrc2` pattern or a
 * video file, encoded by ffmpeg as MJPEG on its stdout, split into JPEG frames
 * that are forwarded as they are (no re-encoding in Deno).
 *
 * @module
 */

import { JpegSplitter, type JpegSplitterStats } from "./jpeg_splitter.ts";
import { LatestSlot } from "./latest.ts";
import { stderrGist, StderrTail } from "./_stderr.ts";
import { spawnProblem } from "./_spawn.ts";

/**
 * Where frames come from.
 *
 * - `camera`: a capture device. Linux: a V4L2 device such as `/dev/video0`
 *   (a bare number `N` means `/dev/videoN`). macOS: an AVFoundation device
 *   index or name. Windows: a DirectShow device name.
 * - `testsrc`: ffmpeg's moving `testsrc2` pattern, paced in real time like a
 *   camera.
 * - `video`: a video file, read in real time; `loop` restarts it at its end
 *   for ever.
 */
export type CaptureSource =
  | { kind: "camera"; device: string }
  | { kind: "testsrc" }
  | { kind: "video"; path: string; loop?: boolean };

/** A frame size in pixels. */
export interface FrameSize {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/** Options for {@linkcode ffmpegArgs}. */
export interface FfmpegArgsOptions {
  /**
   * Frame size. For a camera, the size asked of the device; for a video, a
   * rescale.
   *
   * @default {undefined} the device's or video's own size; 640×480 for testsrc
   */
  size?: FrameSize;
  /**
   * Frames per second. For a camera, the rate asked of the device; for a
   * video, a resample.
   *
   * @default {undefined} the device's or video's own rate; 30 for testsrc
   */
  fps?: number;
  /**
   * JPEG quality from 1 (smallest) to 100 (best), mapped linearly onto
   * ffmpeg's MJPEG `-q:v` scale from 31 down to 2: `q:v = round(2 + (100 -
   * quality) * 29 / 99)`, so 100 → 2, 80 → 8, 50 → 17, 1 → 31.
   *
   * @default {80}
   */
  quality?: number;
  /**
   * Encode with the standard Huffman tables of JPEG Annex K
   * (`-huffman default`) rather than ffmpeg's optimized ones, as RTP/JPEG
   * (RFC 2435) needs: its receivers rebuild the standard tables.
   *
   * @default {false}
   */
  standardHuffman?: boolean;
  /**
   * The platform whose camera API to use.
   *
   * @default {Deno.build.os}
   */
  platform?: typeof Deno.build.os;
  /**
   * Forward the source's own JPEG frames with `-c:v copy`: no decode, no
   * re-encode. A V4L2 camera is asked for MJPEG (`-input_format mjpeg`), a
   * DirectShow camera too (`-vcodec mjpeg`); a video file must be MJPEG
   * already. AVFoundation offers no MJPEG input, and the test pattern has
   * no frames of its own. `quality` does not apply; nor, for a video, does
   * `fps` (the sender paces instead) or `size` (it cannot be rescaled
   * without re-encoding).
   *
   * @default {false}
   */
  passthrough?: boolean;
}

/**
 * How a camera's frames become JPEG: `mjpeg` forwards the camera's own
 * (passthrough), `raw` has ffmpeg encode them, `auto` picks `mjpeg` when the
 * device offers it at the asked size. For a video file, `auto` forwards an
 * MJPEG file as it is and `raw` re-encodes any file.
 */
export type CameraFormat = "auto" | "mjpeg" | "raw";

/** The choices of {@linkcode CameraFormat}, for flag parsing. */
export const CAMERA_FORMATS: readonly ["auto", "mjpeg", "raw"] = [
  "auto",
  "mjpeg",
  "raw",
];

/** Options for {@linkcode openCapture}. */
export interface CaptureOptions extends FfmpegArgsOptions {
  /**
   * The ffmpeg executable.
   *
   * @default {"ffmpeg"}
   */
  ffmpegPath?: string;
  /**
   * Frames larger than this are dropped.
   *
   * @default {16777216}
   */
  maxFrameBytes?: number;
  /**
   * How long {@linkcode Capture.close} waits after SIGTERM before SIGKILL.
   *
   * @default {1000}
   */
  killGraceMs?: number;
  /**
   * Called with every frame split from the stream, including the ones that
   * go stale, before {@linkcode Capture.next} can see it. For progress and
   * statistics; it must not keep `frame` beyond the call unless it copies it.
   *
   * @default {undefined}
   */
  onFrame?: (frame: Uint8Array, index: number) => void;
}

/** Why a {@linkcode CaptureError} happened. */
export type CaptureErrorReason =
  /** The ffmpeg executable does not exist. */
  | "not-found"
  /** Deno may not run ffmpeg. */
  | "permission"
  /** ffmpeg stopped before the first frame: a missing or busy device, a bad file or option. */
  | "open-failed"
  /** ffmpeg stopped with an error after some frames. */
  | "exited";

/**
 * A capture that could not start or that failed. The message is one line that
 * says what was wrong and what to do.
 *
 * @example Telling a missing ffmpeg apart
 * ```ts
 * import { CaptureError, openCapture } from "./ffmpeg.ts";
 * try {
 *   openCapture({ kind: "testsrc" }, { ffmpegPath: "/nonexistent/ffmpeg" });
 * } catch (error) {
 *   if (error instanceof CaptureError) console.log(error.reason); // "not-found"
 * }
 * ```
 */
export class CaptureError extends Error {
  /** What went wrong, for callers that branch on it. */
  readonly reason: CaptureErrorReason;
  /** ffmpeg's last stderr lines, oldest first (empty if it never ran). */
  readonly stderr: readonly string[];

  /**
   * Makes the error.
   *
   * @param message One line: what was wrong and what to do.
   * @param options Why, ffmpeg's last stderr lines, and the underlying error.
   */
  constructor(
    message: string,
    options: {
      reason: CaptureErrorReason;
      stderr?: readonly string[];
      cause?: unknown;
    },
  ) {
    super(message, { cause: options.cause });
    this.name = "CaptureError";
    this.reason = options.reason;
    this.stderr = options.stderr ?? [];
  }
}

const DEFAULT_QUALITY = 80;
const TESTSRC_SIZE: FrameSize = { width: 640, height: 480 };
const TESTSRC_FPS = 30;

function checkPassthrough(
  source: CaptureSource,
  options: FfmpegArgsOptions,
): void {
  if (options.passthrough !== true) return;
  const platform = options.platform ?? Deno.build.os;
  if (source.kind === "testsrc") {
    throw new RangeError(
      "Cannot pass the test pattern through: it has no JPEG frames of its own; use --camera-format auto or raw",
    );
  }
  if (source.kind === "camera" && platform === "darwin") {
    throw new RangeError(
      "Cannot ask an AVFoundation camera for MJPEG: AVFoundation offers only raw pixel formats; use the raw format",
    );
  }
  if (source.kind === "video" && options.size !== undefined) {
    throw new RangeError(
      "Cannot rescale a video whose frames are passed through: drop --size, or re-encode with --camera-format auto or raw",
    );
  }
}

function checkOptions(options: FfmpegArgsOptions): void {
  const { size, fps, quality } = options;
  if (
    size !== undefined &&
    !(Number.isInteger(size.width) && Number.isInteger(size.height) &&
      size.width > 0 && size.height > 0)
  ) {
    throw new RangeError(
      `Cannot capture at ${size.width}x${size.height}: width and height must be positive integers`,
    );
  }
  if (fps !== undefined && !(Number.isFinite(fps) && fps > 0)) {
    throw new RangeError(`Cannot capture at ${fps} fps: fps must be positive`);
  }
  if (
    quality !== undefined &&
    !(Number.isInteger(quality) && quality >= 1 && quality <= 100)
  ) {
    throw new RangeError(
      `Cannot use JPEG quality ${quality}: expected an integer from 1 to 100`,
    );
  }
}

/**
 * Maps a JPEG quality from 1 to 100 onto ffmpeg's MJPEG `-q:v` scale (31 to
 * 2, lower is better).
 *
 * @param quality 1 (smallest) to 100 (best).
 * @returns The `-q:v` value, 2 to 31.
 *
 * @example Usage
 * ```ts
 * import { qscaleOf } from "./ffmpeg.ts";
 * console.log(qscaleOf(100), qscaleOf(80), qscaleOf(1)); // 2 8 31
 * ```
 */
export function qscaleOf(quality: number): number {
  checkOptions({ quality });
  return Math.round(2 + (100 - quality) * 29 / 99);
}

/**
 * Parses a frame size written `WIDTHxHEIGHT`, such as `1280x720`.
 *
 * @param text The size as typed by a user.
 * @returns The width and height.
 * @throws {RangeError} When `text` is not two positive integers joined by `x`.
 *
 * @example Usage
 * ```ts
 * import { parseFrameSize } from "./ffmpeg.ts";
 * console.log(parseFrameSize("1280x720")); // { width: 1280, height: 720 }
 * ```
 */
export function parseFrameSize(text: string): FrameSize {
  const match = /^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*$/.exec(text);
  const width = Number(match?.[1]);
  const height = Number(match?.[2]);
  if (match === null || width === 0 || height === 0) {
    throw new RangeError(
      `Cannot parse frame size "${text}": expected WIDTHxHEIGHT such as 640x480`,
    );
  }
  return { width, height };
}

/** The `-i` argument that names the source, as ffmpeg echoes it in errors. */
function inputName(
  source: CaptureSource,
  options: FfmpegArgsOptions,
): string {
  const platform = options.platform ?? Deno.build.os;
  switch (source.kind) {
    case "camera":
      if (platform === "windows") {
        return source.device.startsWith("video=")
          ? source.device
          : `video=${source.device}`;
      }
      if (platform === "darwin") return source.device;
      return /^\d+$/.test(source.device)
        ? `/dev/video${source.device}`
        : source.device;
    case "testsrc": {
      const { width, height } = options.size ?? TESTSRC_SIZE;
      return `testsrc2=size=${width}x${height}:rate=${
        options.fps ?? TESTSRC_FPS
      }`;
    }
    case "video":
      return source.path;
  }
}

/**
 * Builds the ffmpeg arguments (without the executable) that capture `source`
 * and write MJPEG to stdout:
 *
 * - camera on Linux: `-f v4l2 [-framerate FPS] [-video_size WxH] -i /dev/videoN`
 * - camera on macOS: `-f avfoundation [-framerate FPS] [-video_size WxH] -i INDEX`
 * - camera on Windows: `-f dshow [-framerate FPS] [-video_size WxH] -i video=NAME`
 * - testsrc: `-re -f lavfi -i testsrc2=size=WxH:rate=FPS`
 * - video: `-re [-stream_loop -1] -i FILE [-vf scale=W:H] [-r FPS]`
 *
 * then `-an -pix_fmt yuvj420p -f mjpeg -q:v Q [-huffman default]
 * -flush_packets 1 -`. Flushing
 * each packet matters: otherwise the end of each frame waits in ffmpeg's
 * output buffer until the next frame is written.
 *
 * With `passthrough`, the source's own JPEG frames are copied instead:
 *
 * - camera on Linux: `-f v4l2 -input_format mjpeg [-framerate FPS] [-video_size WxH] -i DEV`
 * - camera on Windows: `-f dshow -vcodec mjpeg [-framerate FPS] [-video_size WxH] -i video=NAME`
 * - video: `-re [-stream_loop -1] -i FILE`
 *
 * then `-an -c:v copy -f mjpeg -flush_packets 1 -`.
 *
 * @param source What to capture.
 * @param options Size, rate, quality and platform.
 * @returns The argument list for `Deno.Command`.
 * @throws {RangeError} When an option is out of range.
 *
 * @example The test pattern at 1280×720
 * ```ts
 * import { ffmpegArgs } from "./ffmpeg.ts";
 * const args = ffmpegArgs({ kind: "testsrc" }, { size: { width: 1280, height: 720 }, fps: 25 });
 * console.log(args.join(" "));
 * ```
 */
export function ffmpegArgs(
  source: CaptureSource,
  options: FfmpegArgsOptions = {},
): string[] {
  checkOptions(options);
  checkPassthrough(source, options);
  const platform = options.platform ?? Deno.build.os;
  const { size, fps } = options;
  const copy = options.passthrough === true;
  const args = ["-hide_banner", "-loglevel", "error", "-nostdin"];
  const input = inputName(source, options);
  switch (source.kind) {
    case "camera": {
      const format = platform === "windows"
        ? "dshow"
        : platform === "darwin"
        ? "avfoundation"
        : "v4l2";
      args.push("-f", format);
      if (copy) {
        args.push(
          platform === "windows" ? "-vcodec" : "-input_format",
          "mjpeg",
        );
      }
      if (fps !== undefined) args.push("-framerate", String(fps));
      if (size !== undefined) {
        args.push("-video_size", `${size.width}x${size.height}`);
      }
      args.push("-i", input);
      break;
    }
    case "testsrc":
      args.push("-re", "-f", "lavfi", "-i", input);
      break;
    case "video":
      args.push("-re");
      if (source.loop === true) args.push("-stream_loop", "-1");
      args.push("-i", input);
      if (copy) break;
      if (size !== undefined) {
        args.push("-vf", `scale=${size.width}:${size.height}`);
      }
      if (fps !== undefined) args.push("-r", String(fps));
      break;
  }
  if (copy) {
    args.push("-an", "-c:v", "copy", "-f", "mjpeg", "-flush_packets", "1", "-");
    return args;
  }
  args.push(
    "-an",
    "-pix_fmt",
    "yuvj420p",
    "-f",
    "mjpeg",
    "-q:v",
    String(qscaleOf(options.quality ?? DEFAULT_QUALITY)),
    ...(options.standardHuffman === true ? ["-huffman", "default"] : []),
    "-flush_packets",
    "1",
    "-",
  );
  return args;
}

/**
 * A running capture. Frames are JPEG files, exactly as ffmpeg encoded them.
 *
 * A capture keeps only the newest frame: a frame that arrives while an
 * earlier one is still untaken replaces it (and counts in `stale`), so a
 * stop-and-wait sender always sends the most recent picture and never falls
 * behind. Iterating with `for await` calls {@linkcode Capture.next} until the
 * end and closes the capture when the loop ends or breaks.
 *
 * @example Stopping ffmpeg on Ctrl-C
 * ```ts
 * import { openCapture } from "./ffmpeg.ts";
 * const capture = openCapture({ kind: "testsrc" });
 * const stop = () => void capture.close();
 * Deno.addSignalListener("SIGINT", stop);
 * try {
 *   for await (const jpeg of capture) {
 *     console.log(jpeg.length, capture.stale);
 *     if (capture.frames >= 3) break;
 *   }
 * } finally {
 *   Deno.removeSignalListener("SIGINT", stop);
 * }
 * ```
 */
export interface Capture extends AsyncDisposable, AsyncIterable<Uint8Array> {
  /** ffmpeg's process id. */
  readonly pid: number;
  /** ffmpeg's exit status, once it has exited and been reaped. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Frames split from ffmpeg's output so far. */
  readonly frames: number;
  /** Frames dropped because a newer one arrived before they were taken. */
  readonly stale: number;
  /** The splitter's counters: skipped bytes, oversize and corrupt frames. */
  readonly splitterStats: Readonly<JpegSplitterStats>;
  /**
   * Resolves with the newest frame not taken yet, waiting for one if
   * needed; with `undefined` at the end of a video or after `close()`.
   * Rejects with a {@linkcode CaptureError} when ffmpeg fails. Only one call
   * may wait at a time.
   */
  next(): Promise<Uint8Array | undefined>;
  /**
   * Stops ffmpeg (SIGTERM, then SIGKILL after `killGraceMs`) and waits until
   * it has exited and been reaped. Safe to call more than once and from a
   * signal handler; every call returns the same promise.
   */
  close(): Promise<void>;
}

/**
 * Starts ffmpeg on `source` and returns the running {@linkcode Capture}.
 *
 * ffmpeg runs in its own process group, so a Ctrl-C in the terminal reaches
 * only the host program, which should call {@linkcode Capture.close}. If the
 * host dies without closing, ffmpeg ends at its next write to the closed pipe.
 *
 * @param source What to capture.
 * @param options Size, rate, quality, ffmpeg path and limits.
 * @returns The running capture.
 * @throws {CaptureError} When ffmpeg cannot be started: not installed
 * (`reason: "not-found"`) or not allowed (`reason: "permission"`). Failures
 * after the start, such as a missing camera, reject {@linkcode Capture.next}.
 * @throws {RangeError} When an option is out of range.
 *
 * @example Taking three frames of the test pattern
 * ```ts
 * import { openCapture } from "./ffmpeg.ts";
 * await using capture = openCapture({ kind: "testsrc" }, { size: { width: 320, height: 240 } });
 * for (let i = 0; i < 3; i++) {
 *   const frame = await capture.next();
 *   console.log(frame?.length);
 * }
 * ```
 */
export function openCapture(
  source: CaptureSource,
  options: CaptureOptions = {},
): Capture {
  const args = ffmpegArgs(source, options);
  const ffmpegPath = options.ffmpegPath ?? "ffmpeg";
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(ffmpegPath, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
  } catch (error) {
    throw spawnError(error, ffmpegPath);
  }
  return new FfmpegCapture(child, source, options);
}

function spawnError(error: unknown, ffmpegPath: string): unknown {
  const problem = spawnProblem(error, ffmpegPath);
  if (problem === undefined) return error;
  return new CaptureError(problem.message, {
    reason: problem.reason,
    cause: error,
  });
}

function describeSource(source: CaptureSource, input: string): string {
  switch (source.kind) {
    case "camera":
      return `camera ${input}`;
    case "testsrc":
      return "the testsrc2 pattern";
    case "video":
      return `video ${input}`;
  }
}

function openHint(source: CaptureSource, platform: string): string {
  switch (source.kind) {
    case "camera":
      if (platform === "darwin") {
        return 'list cameras with: ffmpeg -f avfoundation -list_devices true -i ""';
      }
      if (platform === "windows") {
        return "list cameras with: ffmpeg -list_devices true -f dshow -i dummy";
      }
      return "check that it exists (ls /dev/video*) and that no other program uses it";
    case "testsrc":
      return "check the size and fps";
    case "video":
      return "check the path and that ffmpeg can play the file";
  }
}

const READ_BUFFER_BYTES = 256 * 1024;

class FfmpegCapture implements Capture {
  #child: Deno.ChildProcess;
  #source: CaptureSource;
  #input: string;
  #platform: string;
  #splitter: JpegSplitter;
  #slot = new LatestSlot<Uint8Array>();
  #stderr = new StderrTail();
  #onFrame: ((frame: Uint8Array, index: number) => void) | undefined;
  #killGraceMs: number;
  #batchStale = 0;
  #closing = false;
  #exited = false;
  #closed: Promise<void> | undefined;
  #done: Promise<void>;

  constructor(
    child: Deno.ChildProcess,
    source: CaptureSource,
    options: CaptureOptions,
  ) {
    this.#child = child;
    this.#source = source;
    this.#input = inputName(source, options);
    this.#platform = options.platform ?? Deno.build.os;
    this.#splitter = new JpegSplitter(
      options.maxFrameBytes === undefined
        ? {}
        : { maxFrameBytes: options.maxFrameBytes },
    );
    this.#onFrame = options.onFrame;
    this.#killGraceMs = options.killGraceMs ?? 1000;
    child.status.then(() => this.#exited = true);
    this.#done = this.#run();
  }

  get pid(): number {
    return this.#child.pid;
  }

  get status(): Promise<Deno.CommandStatus> {
    return this.#child.status;
  }

  get frames(): number {
    return this.#splitter.stats.frames;
  }

  get stale(): number {
    return this.#slot.stale + this.#batchStale;
  }

  get splitterStats(): Readonly<JpegSplitterStats> {
    return this.#splitter.stats;
  }

  next(): Promise<Uint8Array | undefined> {
    if (this.#closing) return Promise.resolve(undefined);
    return this.#slot.take();
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    try {
      for (;;) {
        const frame = await this.next();
        if (frame === undefined) return;
        yield frame;
      }
    } finally {
      await this.close();
    }
  }

  async #close(): Promise<void> {
    this.#closing = true;
    this.#slot.clear();
    this.#slot.end();
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (!this.#exited) {
      kill(this.#child, "SIGTERM");
      timer = setTimeout(() => kill(this.#child, "SIGKILL"), this.#killGraceMs);
    }
    try {
      await this.#done;
    } finally {
      clearTimeout(timer);
    }
  }

  async #run(): Promise<void> {
    const [, , status] = await Promise.all([
      this.#readFrames(),
      this.#readStderr(),
      this.#child.status,
    ]);
    if (this.#closing) return;
    if (status.success) {
      this.#slot.end();
      return;
    }
    this.#slot.end(this.#failure(status));
  }

  #failure(status: Deno.CommandStatus): CaptureError {
    const stderr = this.#stderr.lines();
    const what = describeSource(this.#source, this.#input);
    if (this.frames === 0) {
      return new CaptureError(
        `Cannot open ${what}: ${stderrGist(stderr, this.#input)}; ${
          openHint(this.#source, this.#platform)
        }`,
        { reason: "open-failed", stderr },
      );
    }
    const how = status.signal === null
      ? `exited with code ${status.code}`
      : `was killed by ${status.signal}`;
    const tail = stderr.length === 0
      ? "no error message"
      : stderr.slice(-3).join(" | ");
    return new CaptureError(
      `ffmpeg capturing ${what} ${how} after ${this.frames} frames: ${tail}`,
      { reason: "exited", stderr },
    );
  }

  async #readFrames(): Promise<void> {
    const reader = this.#child.stdout.getReader({ mode: "byob" });
    let buffer = new Uint8Array(READ_BUFFER_BYTES);
    try {
      for (;;) {
        let result: ReadableStreamReadResult<Uint8Array<ArrayBuffer>>;
        try {
          result = await reader.read(buffer);
        } catch {
          // A read fails only when the pipe breaks, which ends ffmpeg too.
          return;
        }
        const { value, done } = result;
        if (done || value === undefined) return;
        if (!this.#closing) this.#deliver(this.#splitter.push(value));
        // The read transferred `buffer`; its memory comes back in `value`.
        buffer = new Uint8Array(value.buffer);
      }
    } finally {
      reader.releaseLock();
    }
  }

  #deliver(frames: Uint8Array[]): void {
    if (frames.length === 0) return;
    const first = this.frames - frames.length;
    if (this.#onFrame !== undefined) {
      try {
        for (let i = 0; i < frames.length; i++) {
          this.#onFrame(frames[i]!, first + i);
        }
      } catch (error) {
        // The callback's failure is the caller's: hand it to next().
        this.#slot.end(error);
        this.close();
        return;
      }
    }
    this.#batchStale += frames.length - 1;
    this.#slot.put(frames[frames.length - 1]!);
  }

  async #readStderr(): Promise<void> {
    try {
      for await (const chunk of this.#child.stderr) this.#stderr.push(chunk);
    } catch {
      // As for stdout: a broken pipe ends the capture.
    }
  }
}

function kill(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // It has exited already.
  }
}
