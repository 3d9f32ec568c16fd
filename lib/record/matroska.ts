/**
 * A minimal live Matroska (EBML) writer for one MJPEG video track: the
 * stream udpimg pipes into ffmpeg, which remuxes it with `-c copy` into the
 * final `.mkv`. Matroska carries a timestamp per frame, so the recording
 * keeps the frames' arrival times and a variable frame rate, which a raw
 * MJPEG pipe cannot.
 *
 * Every element is an EBML ID, a size (a variable-length integer) and a
 * body. The stream is the header, then one cluster per frame:
 *
 * ```text
 * 1A 45 DF A3 <size>             EBML header: version 1, DocType "matroska"
 * 18 53 80 67 01 FF FF FF FF FF FF FF
 *                                Segment of unknown size (a live stream)
 *   15 49 A9 66 <size>           Info
 *     2A D7 B1 83 0F 42 40       TimestampScale = 1000000 ns: times in ms
 *     4D 80 / 57 41 <size> ...   MuxingApp, WritingApp = "udpimg"
 *   16 54 AE 6B <size>           Tracks
 *     AE <size>                  TrackEntry
 *       D7 81 01                 TrackNumber = 1
 *       73 C5 81 01              TrackUID = 1
 *       83 81 01                 TrackType = 1 (video)
 *       9C 81 00                 FlagLacing = 0
 *       86 87 "V_MJPEG"          CodecID
 *       23 E3 83 83 1E 84 80     DefaultDuration = 2 ms (see below)
 *       E0 <size>                Video
 *         B0 <size> <width>      PixelWidth
 *         BA <size> <height>     PixelHeight
 *   1F 43 B6 75 <8-byte size>    Cluster, one per frame
 *     E7 <size> <t>              Timestamp = t ms from the first frame
 *     A3 <8-byte size>           SimpleBlock
 *       81                       track 1
 *       00 00                    time relative to the cluster: 0
 *       80                       flags: keyframe
 *       FF D8 ... FF D9          the JPEG, as received
 * ```
 *
 * Timestamps must grow by at least {@linkcode MIN_FRAME_INTERVAL_MS}, and the
 * track says so with its DefaultDuration. Without it ffmpeg guesses a frame
 * rate from the first timestamps (30 fps for a 30 fps camera), and a player
 * or `ffmpeg -f null` that counts in ticks of that rate finds two frames of
 * a burst on the same tick. With it, ffmpeg reads the stream as 500 fps
 * (ticks of 2 ms), and keeps the DefaultDuration when it remuxes.
 *
 * See the Matroska specification (RFC 9559) for the elements.
 *
 * @module
 */

const EBML = 0x1a45dfa3;
const SEGMENT = 0x18538067;
const INFO = 0x1549a966;
const TIMESTAMP_SCALE = 0x2ad7b1;
const MUXING_APP = 0x4d80;
const WRITING_APP = 0x5741;
const TRACKS = 0x1654ae6b;
const TRACK_ENTRY = 0xae;
const CLUSTER = 0x1f43b675;
const CLUSTER_TIMESTAMP = 0xe7;
const SIMPLE_BLOCK = 0xa3;

/**
 * The least difference between two frames' timestamps, in milliseconds; the
 * track's DefaultDuration. A frame that arrives sooner is stamped this much
 * after the one before.
 *
 * @example Stamping a burst
 * ```ts
 * import { MIN_FRAME_INTERVAL_MS } from "./matroska.ts";
 * let last = -Infinity;
 * const stamps = [0, 0, 1, 40].map((t) => last = Math.max(t, last + MIN_FRAME_INTERVAL_MS));
 * console.log(stamps); // [ 0, 2, 4, 40 ]
 * ```
 */
export const MIN_FRAME_INTERVAL_MS = 2;

/** The largest size an 8-byte EBML size field holds (all ones means unknown). */
const MAX_SIZE = 2 ** 53 - 1;

function idBytes(id: number): number[] {
  const bytes: number[] = [];
  for (let rest = id; rest > 0; rest = Math.floor(rest / 256)) {
    bytes.unshift(rest & 0xff);
  }
  return bytes;
}

/** A size as an EBML variable-length integer of `width` bytes (1 to 8). */
function sizeBytes(size: number, width = sizeWidth(size)): number[] {
  const bytes = new Array<number>(width);
  let rest = size;
  for (let i = width - 1; i >= 0; i--) {
    bytes[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  bytes[0]! |= 0x80 >> (width - 1);
  return bytes;
}

function sizeWidth(size: number): number {
  let width = 1;
  // A width of w holds 7w bits, less the all-ones value that means unknown.
  while (size >= 2 ** (7 * width) - 1) width++;
  return width;
}

function uintBytes(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  do {
    bytes.unshift(rest % 256);
    rest = Math.floor(rest / 256);
  } while (rest > 0);
  return bytes;
}

function element(id: number, body: number[]): number[] {
  return [...idBytes(id), ...sizeBytes(body.length), ...body];
}

function uint(id: number, value: number): number[] {
  return element(id, uintBytes(value));
}

function text(id: number, value: string): number[] {
  return element(id, [...new TextEncoder().encode(value)]);
}

function checkDimension(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new RangeError(
      `Cannot write a Matroska track ${what} of ${value}: expected an integer from 1 to 65535`,
    );
  }
}

/**
 * The start of a live Matroska stream with one MJPEG video track of the
 * given size: EBML header, a segment of unknown size, Info and Tracks.
 *
 * @param width The frames' width in pixels.
 * @param height The frames' height in pixels.
 * @returns The bytes to write before the first frame.
 * @throws {RangeError} When a dimension is not an integer from 1 to 65535.
 *
 * @example A header for 1280×720 frames
 * ```ts
 * import { matroskaHeader } from "./matroska.ts";
 * const header = matroskaHeader(1280, 720);
 * console.log(header.subarray(0, 4)); // Uint8Array(4) [ 26, 69, 223, 163 ]
 * ```
 */
export function matroskaHeader(width: number, height: number): Uint8Array {
  checkDimension(width, "width");
  checkDimension(height, "height");
  const ebml = element(EBML, [
    ...uint(0x4286, 1), // EBMLVersion
    ...uint(0x42f7, 1), // EBMLReadVersion
    ...uint(0x42f2, 4), // EBMLMaxIDLength
    ...uint(0x42f3, 8), // EBMLMaxSizeLength
    ...text(0x4282, "matroska"), // DocType
    ...uint(0x4287, 4), // DocTypeVersion
    ...uint(0x4285, 2), // DocTypeReadVersion
  ]);
  const info = element(INFO, [
    ...uint(TIMESTAMP_SCALE, 1_000_000),
    ...text(MUXING_APP, "udpimg"),
    ...text(WRITING_APP, "udpimg"),
  ]);
  const tracks = element(TRACKS, [
    ...element(TRACK_ENTRY, [
      ...uint(0xd7, 1), // TrackNumber
      ...uint(0x73c5, 1), // TrackUID
      ...uint(0x83, 1), // TrackType: video
      ...uint(0x9c, 0), // FlagLacing
      ...text(0x86, "V_MJPEG"), // CodecID
      ...uint(0x23e383, MIN_FRAME_INTERVAL_MS * 1_000_000), // DefaultDuration
      ...element(0xe0, [ // Video
        ...uint(0xb0, width), // PixelWidth
        ...uint(0xba, height), // PixelHeight
      ]),
    ]),
  ]);
  const unknownSize = [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  return Uint8Array.from([
    ...ebml,
    ...idBytes(SEGMENT),
    ...unknownSize,
    ...info,
    ...tracks,
  ]);
}

/**
 * The bytes that go before a frame of `frameBytes` bytes at `timestampMs`:
 * a cluster and the head of its one SimpleBlock. Write the frame itself
 * right after them; it is not copied.
 *
 * @param timestampMs Milliseconds from the start of the stream, an integer
 * of at least 0; each frame's must be at least the one before's.
 * @param frameBytes The frame's length.
 * @returns The 24 to 31 bytes to write before the frame.
 * @throws {RangeError} When the timestamp or the length is out of range.
 *
 * @example A frame at 40 ms
 * ```ts
 * import { matroskaFrameHead } from "./matroska.ts";
 * const jpeg = await Deno.readFile("tests/fixtures/rocket.jpg");
 * const head = matroskaFrameHead(40, jpeg.length);
 * console.log(head.length + jpeg.length); // the cluster's bytes on the pipe
 * ```
 */
export function matroskaFrameHead(
  timestampMs: number,
  frameBytes: number,
): Uint8Array {
  if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) {
    throw new RangeError(
      `Cannot write a frame at ${timestampMs} ms: expected an integer of at least 0`,
    );
  }
  const blockBody = 4 + frameBytes;
  if (!Number.isSafeInteger(frameBytes) || frameBytes < 0) {
    throw new RangeError(
      `Cannot write a frame of ${frameBytes} bytes: expected an integer of at least 0`,
    );
  }
  const timestamp = uint(CLUSTER_TIMESTAMP, timestampMs);
  const block = [...idBytes(SIMPLE_BLOCK), ...sizeBytes(blockBody, 8)];
  const clusterBody = timestamp.length + block.length + blockBody;
  if (clusterBody > MAX_SIZE) {
    throw new RangeError(`Cannot write a frame of ${frameBytes} bytes`);
  }
  return Uint8Array.from([
    ...idBytes(CLUSTER),
    ...sizeBytes(clusterBody, 8),
    ...timestamp,
    ...block,
    0x81, // track 1
    0x00,
    0x00, // relative time
    0x80, // keyframe
  ]);
}
