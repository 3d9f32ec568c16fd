/**
 * Splits a stream of concatenated JPEG images (MJPEG, as `ffmpeg -f mjpeg`
 * writes it) into whole frames.
 *
 * A frame is found by parsing its marker segments, not by searching for
 * `FF D8` / `FF D9`, because those byte pairs also occur inside a frame:
 *
 * ```text
 * FF D8                          SOI, start of frame
 * FF En LL LL <LL-2 bytes>       APPn/COM/DQT/SOF/DHT...: skipped by length;
 *                                an EXIF thumbnail in APP1 holds its own
 *                                FF D8 ... FF D9
 * FF DA LL LL <LL-2 bytes>       SOS, then entropy-coded data in which
 *   ... FF 00 ...                a stuffed FF data byte
 *   ... FF D0..D7 ...            restart markers
 *   ... FF C4 / FF DA ...        further segments (progressive JPEG)
 * FF D9                          EOI, end of frame
 * ```
 *
 * @module
 */

/** Options for {@linkcode JpegSplitter}. */
export interface JpegSplitterOptions {
  /**
   * The largest frame to return, in bytes. A longer frame is dropped (and
   * counted in {@linkcode JpegSplitterStats.oversize}); parsing carries on so
   * that the splitter finds the start of the next frame.
   *
   * @default {16777216}
   */
  maxFrameBytes?: number;
  /**
   * The initial size of the frame buffer, which doubles as needed up to
   * `maxFrameBytes` and is reused between frames.
   *
   * @default {262144}
   */
  initialBufferBytes?: number;
}

/** Counters of a {@linkcode JpegSplitter}. */
export interface JpegSplitterStats {
  /** Whole frames returned. */
  frames: number;
  /** Bytes outside any frame (before an SOI), skipped. */
  skippedBytes: number;
  /** Frames dropped for exceeding `maxFrameBytes`. */
  oversize: number;
  /**
   * Frames dropped because their structure broke: a byte where a marker was
   * due, a segment length below 2, or a new SOI before the EOI.
   */
  corrupt: number;
}

const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
const DEFAULT_INITIAL_BUFFER_BYTES = 256 * 1024;

const enum State {
  /** Outside a frame, looking for FF D8. */
  Seek,
  /** Outside a frame, the last byte was FF. */
  SeekFf,
  /** Inside the headers, a marker's FF is due. */
  Marker,
  /** Inside the headers, FF seen, the marker code is due. */
  MarkerCode,
  /** The high byte of a segment length is due. */
  LengthHigh,
  /** The low byte of a segment length is due. */
  LengthLow,
  /** Skipping a segment payload. */
  Payload,
  /** Inside entropy-coded data, looking for FF. */
  Entropy,
  /** Inside entropy-coded data, FF seen. */
  EntropyFf,
}

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const TEM = 0x01;
const RST0 = 0xd0;
const RST7 = 0xd7;

/**
 * A streaming JPEG frame splitter: a pure state machine with no I/O. Feed it
 * chunks of any size with {@linkcode JpegSplitter.push}; it returns the frames
 * that the chunk completed.
 *
 * Each input byte is examined once (segment payloads are skipped by their
 * length, entropy data is searched with `indexOf`) and copied once into a
 * frame buffer that is reused between frames. A frame that starts and ends
 * in the same chunk skips the frame buffer. Every returned frame is a fresh,
 * right-sized `Uint8Array` that the caller owns.
 *
 * @example Splitting two frames fed in odd chunks
 * ```ts
 * import { JpegSplitter } from "./jpeg_splitter.ts";
 * import assert from "node:assert/strict";
 *
 * const frame = [0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0x12, 0xff, 0x00, 0xff, 0xd9];
 * const stream = new Uint8Array([0x00, ...frame, ...frame]);
 * const splitter = new JpegSplitter();
 * const frames = [
 *   ...splitter.push(stream.subarray(0, 5)),
 *   ...splitter.push(stream.subarray(5)),
 * ];
 * assert.equal(frames.length, 2);
 * assert.deepEqual(frames[0], new Uint8Array(frame));
 * assert.equal(splitter.stats.skippedBytes, 1);
 * ```
 */
export class JpegSplitter {
  #maxFrameBytes: number;
  #buffer: Uint8Array;
  /** Bytes of the current frame held in `#buffer`. */
  #length = 0;
  /** True while the current frame is too long and is being parsed, not kept. */
  #discarding = false;
  #state: State = State.Seek;
  #marker = 0;
  #segmentRemaining = 0;
  #stats: JpegSplitterStats = {
    frames: 0,
    skippedBytes: 0,
    oversize: 0,
    corrupt: 0,
  };

  /**
   * Creates a splitter.
   *
   * @param options Frame size limit and initial buffer size.
   *
   * @example Limiting frames to 1 MiB
   * ```ts
   * import { JpegSplitter } from "./jpeg_splitter.ts";
   * const splitter = new JpegSplitter({ maxFrameBytes: 1 << 20 });
   * console.log(splitter.stats.frames); // 0
   * ```
   */
  constructor(options: JpegSplitterOptions = {}) {
    const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isSafeInteger(max) || max < 4) {
      throw new RangeError(
        `Cannot create JpegSplitter: maxFrameBytes must be an integer of at least 4, got ${max}`,
      );
    }
    const initial = options.initialBufferBytes ?? DEFAULT_INITIAL_BUFFER_BYTES;
    if (!Number.isSafeInteger(initial) || initial < 1) {
      throw new RangeError(
        `Cannot create JpegSplitter: initialBufferBytes must be a positive integer, got ${initial}`,
      );
    }
    this.#maxFrameBytes = max;
    this.#buffer = new Uint8Array(Math.min(initial, max));
  }

  /**
   * The counters so far. The object is live: it updates as chunks are pushed.
   *
   * @returns Frames returned, bytes skipped, frames dropped.
   *
   * @example Counting garbage
   * ```ts
   * import { JpegSplitter } from "./jpeg_splitter.ts";
   * const splitter = new JpegSplitter();
   * splitter.push(new Uint8Array([1, 2, 3]));
   * console.log(splitter.stats.skippedBytes); // 3
   * ```
   */
  get stats(): Readonly<JpegSplitterStats> {
    return this.#stats;
  }

  /**
   * Bytes of an unfinished frame held since the last complete one (0 between
   * frames). At end of stream these bytes are a truncated frame.
   *
   * @returns The number of buffered bytes.
   *
   * @example A frame cut short
   * ```ts
   * import { JpegSplitter } from "./jpeg_splitter.ts";
   * const splitter = new JpegSplitter();
   * splitter.push(new Uint8Array([0xff, 0xd8, 0xff]));
   * console.log(splitter.pendingBytes); // 3
   * ```
   */
  get pendingBytes(): number {
    return this.#state === State.Seek || this.#state === State.SeekFf
      ? 0
      : this.#length;
  }

  /**
   * Consumes `chunk` and returns the frames it completed, oldest first. The
   * chunk is not kept: the caller may reuse its memory once `push` returns.
   *
   * @param chunk The next bytes of the stream, of any length.
   * @returns The completed frames, each a new array the caller owns.
   *
   * @example Feeding bytes one at a time
   * ```ts
   * import { JpegSplitter } from "./jpeg_splitter.ts";
   * const frame = [0xff, 0xd8, 0xff, 0xd9];
   * const splitter = new JpegSplitter();
   * let count = 0;
   * for (const byte of frame) count += splitter.push(new Uint8Array([byte])).length;
   * console.log(count); // 1
   * ```
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    const end = chunk.length;
    // Start in `chunk` of the current frame's bytes not yet copied.
    let start = 0;
    let i = 0;
    while (i < end) {
      switch (this.#state) {
        case State.Seek: {
          const ff = chunk.indexOf(0xff, i);
          if (ff < 0) {
            this.#stats.skippedBytes += end - i;
            i = end;
          } else {
            this.#stats.skippedBytes += ff - i;
            i = ff + 1;
            this.#state = State.SeekFf;
          }
          break;
        }
        case State.SeekFf: {
          const byte = chunk[i]!;
          if (byte === SOI) {
            this.#beginFrame();
            if (i === 0) {
              // The FF ended the previous chunk.
              this.#append(FF_BYTE, 0, 1);
              start = 0;
            } else {
              start = i - 1;
            }
            this.#state = State.Marker;
            i += 1;
          } else {
            // The FF before this byte was not an SOI; this byte may be.
            this.#stats.skippedBytes += 1;
            if (byte === 0xff) i += 1;
            else this.#state = State.Seek;
          }
          break;
        }
        case State.Marker: {
          if (chunk[i] === 0xff) {
            this.#state = State.MarkerCode;
            i += 1;
          } else {
            start = this.#dropCorrupt(i);
          }
          break;
        }
        case State.MarkerCode: {
          const code = chunk[i]!;
          if (code === 0xff) {
            // Fill byte before a marker.
            i += 1;
          } else if (code === EOI) {
            i += 1;
            start = this.#endFrame(chunk, start, i, frames);
          } else if (code === SOI) {
            start = this.#restartAtSoi(i);
            i += 1;
          } else if (code === TEM || (code >= RST0 && code <= RST7)) {
            this.#state = State.Marker;
            i += 1;
          } else if (code === 0x00) {
            start = this.#dropCorrupt(i);
          } else {
            this.#marker = code;
            this.#state = State.LengthHigh;
            i += 1;
          }
          break;
        }
        case State.LengthHigh: {
          this.#segmentRemaining = chunk[i]! << 8;
          this.#state = State.LengthLow;
          i += 1;
          break;
        }
        case State.LengthLow: {
          const length = this.#segmentRemaining | chunk[i]!;
          if (length < 2) {
            start = this.#dropCorrupt(i);
          } else {
            this.#segmentRemaining = length - 2;
            this.#state = State.Payload;
            i += 1;
          }
          break;
        }
        case State.Payload: {
          const take = Math.min(this.#segmentRemaining, end - i);
          this.#segmentRemaining -= take;
          i += take;
          if (this.#segmentRemaining === 0) {
            this.#state = this.#marker === SOS ? State.Entropy : State.Marker;
          }
          break;
        }
        case State.Entropy: {
          const ff = chunk.indexOf(0xff, i);
          if (ff < 0) {
            i = end;
          } else {
            i = ff + 1;
            this.#state = State.EntropyFf;
          }
          break;
        }
        case State.EntropyFf: {
          const code = chunk[i]!;
          if (code === 0x00 || (code >= RST0 && code <= RST7)) {
            this.#state = State.Entropy;
            i += 1;
          } else if (code === 0xff) {
            i += 1;
          } else if (code === EOI) {
            i += 1;
            start = this.#endFrame(chunk, start, i, frames);
          } else if (code === SOI) {
            start = this.#restartAtSoi(i);
            i += 1;
          } else {
            // A segment between scans, as in a progressive JPEG.
            this.#state = State.MarkerCode;
          }
          break;
        }
      }
      if (
        this.#state !== State.Seek && this.#state !== State.SeekFf &&
        !this.#discarding && this.#length + (i - start) > this.#maxFrameBytes
      ) {
        this.#discarding = true;
        this.#length = 0;
        this.#stats.oversize += 1;
      }
    }
    if (this.#state !== State.Seek && this.#state !== State.SeekFf) {
      this.#append(chunk, start, end);
    }
    return frames;
  }

  /**
   * Forgets any unfinished frame and returns to looking for the next SOI.
   * The counters are kept.
   *
   * @example Discarding a frame cut short
   * ```ts
   * import { JpegSplitter } from "./jpeg_splitter.ts";
   * const splitter = new JpegSplitter();
   * splitter.push(new Uint8Array([0xff, 0xd8, 0xff]));
   * splitter.reset();
   * console.log(splitter.pendingBytes); // 0
   * ```
   */
  reset(): void {
    this.#state = State.Seek;
    this.#length = 0;
    this.#discarding = false;
  }

  #beginFrame(): void {
    this.#length = 0;
    this.#discarding = false;
  }

  #append(bytes: Uint8Array, from: number, to: number): void {
    if (this.#discarding || to <= from) return;
    const needed = this.#length + (to - from);
    if (needed > this.#buffer.length) {
      let size = this.#buffer.length * 2;
      while (size < needed) size *= 2;
      const grown = new Uint8Array(Math.min(size, this.#maxFrameBytes));
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(bytes.subarray(from, to), this.#length);
    this.#length = needed;
  }

  /** Finishes the frame ending at `chunk[to - 1]`; returns the new `start`. */
  #endFrame(
    chunk: Uint8Array,
    start: number,
    to: number,
    frames: Uint8Array[],
  ): number {
    if (
      !this.#discarding && this.#length + (to - start) > this.#maxFrameBytes
    ) {
      this.#stats.oversize += 1;
      this.#discarding = true;
    }
    if (!this.#discarding) {
      if (this.#length === 0) {
        frames.push(chunk.slice(start, to));
      } else {
        this.#append(chunk, start, to);
        frames.push(this.#buffer.slice(0, this.#length));
      }
      this.#stats.frames += 1;
    }
    this.#length = 0;
    this.#discarding = false;
    this.#state = State.Seek;
    return to;
  }

  /** Drops the current frame; the byte at `at` is searched for an SOI. */
  #dropCorrupt(at: number): number {
    if (!this.#discarding) this.#stats.corrupt += 1;
    this.#length = 0;
    this.#discarding = false;
    this.#state = State.Seek;
    return at;
  }

  /**
   * Drops the current frame because an SOI at `chunk[at]` (its FF just before)
   * starts a new one; returns the new `start`.
   */
  #restartAtSoi(at: number): number {
    if (!this.#discarding) this.#stats.corrupt += 1;
    this.#beginFrame();
    this.#state = State.Marker;
    if (at === 0) {
      this.#append(FF_BYTE, 0, 1);
      return 0;
    }
    return at - 1;
  }
}

const FF_BYTE = new Uint8Array([0xff]);
