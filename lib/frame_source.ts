/**
 * Where a client's frames come from: image files, the generated test
 * pattern, or a camera or video through ffmpeg. Every source hands out
 * encoded frames one at a time and prepares the next one while the current
 * one is on the wire.
 *
 * @module
 */

import {
  type CameraFormat,
  type CaptureSource,
  openCapture,
} from "./capture/ffmpeg.ts";
import { choosePassthrough } from "./capture/devices.ts";
import { createDecoder, createEncoder } from "./codec/select.ts";
import {
  type DecodedImage,
  type ImageEncoder,
  type ImageFormat,
  sniffFormat,
} from "./codec/types.ts";
import { drawTestPattern } from "./image/pattern.ts";
import { fileErrorReason } from "./_file_error.ts";

/** One encoded frame, ready to send. */
export interface SourceFrame {
  /** Where it came from, for messages: a file name, `pattern` or the device. */
  readonly name: string;
  /** The encoded image. */
  readonly bytes: Uint8Array;
}

/** A stream of encoded frames. */
export interface FrameSource extends AsyncDisposable {
  /** The next frame, or `undefined` when the source has ended or was stopped. */
  next(): Promise<SourceFrame | undefined>;
  /** Frames the source skipped because the consumer was slower than it. */
  readonly dropped: number;
  /** Whether a camera's or video's own JPEG frames are forwarded, not re-encoded. */
  readonly passthrough?: boolean;
  /** Ends the source: the next `next()` resolves with `undefined`. */
  stop(): void;
}

/** Options for {@linkcode openFrameSource}. */
export interface FrameSourceOptions {
  /** Image files to send in turn. */
  files?: readonly string[];
  /** A camera device, or `testsrc` for ffmpeg's synthetic camera. */
  camera?: string | undefined;
  /** A video file. */
  video?: string | undefined;
  /** Repeat the video file. @default {false} */
  loop?: boolean;
  /**
   * Decode each file once and encode it again for every frame, as the
   * tutorial does; for the pattern, the format it is encoded in.
   */
  encode?: "jpg" | "png" | undefined;
  /** JPEG quality, 1 to 100. @default {95} */
  quality?: number;
  /**
   * Frame width for the pattern, and for the camera or video when given
   * with `height`; by default a camera or video keeps its own.
   *
   * @default {640} for the pattern
   */
  width?: number | undefined;
  /** Frame height; see `width`. @default {480} for the pattern */
  height?: number | undefined;
  /** Text drawn on the test pattern, such as `udpimg demo`. */
  label?: string | undefined;
  /** Camera or video frame rate; by default its own (30 for `testsrc`). */
  fps?: number | undefined;
  /**
   * MJPEG passthrough for a camera or video: `auto` forwards the source's
   * own JPEG frames when it has them at the asked size, `mjpeg` insists,
   * `raw` has ffmpeg encode every frame.
   *
   * @default {"auto"}
   */
  cameraFormat?: CameraFormat | undefined;
  /**
   * Have ffmpeg encode camera and video frames with the standard Huffman
   * tables, as RTP/JPEG needs.
   *
   * @default {false}
   */
  standardHuffman?: boolean;
}

/**
 * Opens the frame source that `options` describe: files when `files` is not
 * empty, else the camera or video, else the test pattern.
 *
 * @param options What to send and how.
 * @returns A source; dispose of it to release the camera or the codec.
 *
 * @example Two frames of the test pattern
 * ```ts ignore
 * import { openFrameSource } from "./frame_source.ts";
 * await using source = await openFrameSource({ encode: "jpg" });
 * console.log((await source.next())?.bytes.length);
 * console.log((await source.next())?.bytes.length);
 * ```
 */
export async function openFrameSource(
  options: FrameSourceOptions = {},
): Promise<FrameSource> {
  const files = options.files ?? [];
  if (files.length > 0) return await openFiles(files, options);
  if (options.camera !== undefined || options.video !== undefined) {
    return await openLive(options);
  }
  return await openPattern(options);
}

const FORMATS: Record<"jpg" | "png", ImageFormat> = { jpg: "jpeg", png: "png" };

async function readImage(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new Error(`Cannot read image ${path}: ${fileErrorReason(error)}`, {
      cause: error,
    });
  }
  if (sniffFormat(bytes) === undefined) {
    throw new Error(`Cannot send ${path}: it is not a JPEG or PNG image`);
  }
  return bytes;
}

/**
 * How many frames are encoded ahead of the one being sent. Two keep both of
 * the encoder's handles busy; measured on 2 cores at 720p q95 this gave
 * about 10% more frames a second than one.
 */
const ENCODE_AHEAD = 2;

/**
 * Encodes frames ahead: while frame k is sent, frames k+1 and k+2 are
 * encoded.
 */
class EncodingSource implements FrameSource {
  readonly #make: (index: number) => { name: string; image: DecodedImage };
  readonly #encoder: ImageEncoder;
  readonly #format: ImageFormat;
  readonly #quality: number;
  #index = 0;
  readonly #ahead: Promise<SourceFrame>[] = [];
  #stopped = false;

  constructor(
    make: (index: number) => { name: string; image: DecodedImage },
    encoder: ImageEncoder,
    format: ImageFormat,
    quality: number,
  ) {
    this.#make = make;
    this.#encoder = encoder;
    this.#format = format;
    this.#quality = quality;
  }

  get dropped(): number {
    return 0;
  }

  async next(): Promise<SourceFrame | undefined> {
    if (this.#stopped) return undefined;
    while (this.#ahead.length < ENCODE_AHEAD + 1) {
      const next = this.#encodeNext();
      // An encode that fails ahead of time is reported when its turn comes.
      next.catch(() => {});
      this.#ahead.push(next);
    }
    return await this.#ahead.shift()!;
  }

  async #encodeNext(): Promise<SourceFrame> {
    const { name, image } = this.#make(this.#index++);
    const bytes = await this.#encoder.encode(image, {
      format: this.#format,
      quality: this.#quality,
    });
    return { name, bytes };
  }

  stop(): void {
    this.#stopped = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#stopped = true;
    await Promise.allSettled(this.#ahead);
    this.#encoder.close();
  }
}

async function openFiles(
  files: readonly string[],
  options: FrameSourceOptions,
): Promise<FrameSource> {
  const images = await Promise.all(files.map(readImage));
  if (options.encode === undefined) {
    let index = 0;
    let stopped = false;
    return {
      dropped: 0,
      next() {
        if (stopped) return Promise.resolve(undefined);
        const i = index++ % files.length;
        return Promise.resolve({ name: files[i]!, bytes: images[i]! });
      },
      stop() {
        stopped = true;
      },
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
  }
  const { decoder } = await createDecoder("auto");
  let decoded: DecodedImage[];
  try {
    decoded = await Promise.all(images.map(async (bytes, i) => {
      try {
        return await decoder!.decode(bytes, sniffFormat(bytes)!);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`Cannot decode image ${files[i]}: ${reason}`, {
          cause: error,
        });
      }
    }));
  } finally {
    decoder?.close();
  }
  const { encoder } = await createEncoder("auto");
  return new EncodingSource(
    (index) => {
      const i = index % files.length;
      return { name: files[i]!, image: decoded[i]! };
    },
    encoder,
    FORMATS[options.encode],
    options.quality ?? 95,
  );
}

async function openPattern(options: FrameSourceOptions): Promise<FrameSource> {
  const { encoder } = await createEncoder("auto");
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  return new EncodingSource(
    (index) => ({
      name: "pattern",
      image: drawTestPattern(index + 1, {
        width,
        height,
        ...(options.label !== undefined ? { label: options.label } : {}),
      }),
    }),
    encoder,
    FORMATS[options.encode ?? "jpg"],
    options.quality ?? 95,
  );
}

async function openLive(options: FrameSourceOptions): Promise<FrameSource> {
  const name = options.camera ?? options.video!;
  const source: CaptureSource = options.video !== undefined
    ? { kind: "video", path: options.video, loop: options.loop ?? false }
    : name === "testsrc"
    ? { kind: "testsrc" }
    : { kind: "camera", device: name };
  const size = options.width !== undefined && options.height !== undefined
    ? { width: options.width, height: options.height }
    : undefined;
  const passthrough = source.kind === "testsrc"
    ? options.cameraFormat === "mjpeg" // which ffmpegArgs refuses, in one line
    : await choosePassthrough(source, options.cameraFormat ?? "auto", {
      size,
    });
  const capture = openCapture(source, {
    ...(size !== undefined ? { size } : {}),
    ...(options.fps !== undefined ? { fps: options.fps } : {}),
    quality: options.quality ?? 95,
    passthrough,
    ...(options.standardHuffman === true && { standardHuffman: true }),
  });
  return {
    passthrough,
    get dropped() {
      return capture.stale;
    },
    async next() {
      const bytes = await capture.next();
      return bytes === undefined ? undefined : { name, bytes };
    },
    stop() {
      void capture.close();
    },
    [Symbol.asyncDispose]: () => capture.close(),
  };
}
