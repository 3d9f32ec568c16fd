/**
 * The headers that RFC 2435 puts before each fragment of JPEG scan data in
 * an RTP packet: the main JPEG header in every packet, the restart marker
 * header in every packet of types 64 to 127, and the quantization table
 * header in the first packet of a frame whose Q is 128 to 255.
 *
 * Main JPEG header ([RFC 2435 §3.1](https://www.rfc-editor.org/rfc/rfc2435#section-3.1)):
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Type-specific |              Fragment Offset                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      Type     |       Q       |     Width     |     Height    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * The fragment offset is where this packet's data lies in the frame's scan
 * data, in bytes. Type 0 is 4:2:2 (Y sampled 2×1), type 1 is 4:2:0 (2×2);
 * 64 and 65 are the same with restart markers. Q 1 to 99 names scaled
 * Annex K tables (RFC 2435 Appendix A); 128 to 255 sends the tables
 * in-band. Width and height are in units of 8 pixels, so at most 2040.
 *
 * Restart marker header ([§3.1.7](https://www.rfc-editor.org/rfc/rfc2435#section-3.1.7)):
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |       Restart Interval        |F|L|       Restart Count       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * The interval is the DRI's, in MCUs. F and L mark a packet that starts and
 * ends on restart interval boundaries, the count says which interval it
 * starts with; a sender that cuts packets anywhere sets F = L = 1 and the
 * count to 0x3FFF, as GStreamer's `rtpjpegpay` and udpimg do.
 *
 * Quantization table header ([§3.1.8](https://www.rfc-editor.org/rfc/rfc2435#section-3.1.8)):
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      MBZ      |   Precision   |             Length            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Quantization Table Data                    |
 * |                              ...                              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Bit i of the precision says that table i has 16-bit entries (128 bytes)
 * rather than 8-bit (64 bytes); the tables, luminance first, are in zigzag
 * order as in a DQT segment.
 *
 * @module
 */

/** Bytes in the main JPEG header. */
export const JPEG_HEADER_BYTES = 8;
/** Bytes in the restart marker header. */
export const RESTART_HEADER_BYTES = 4;
/** Bytes in the quantization table header, before the tables. */
export const QUANT_HEADER_BYTES = 4;
/** The largest fragment offset the 24-bit field holds. */
export const MAX_FRAGMENT_OFFSET = 0xffffff;
/** The largest width or height RFC 2435 can describe, in pixels. */
export const MAX_DIMENSION = 255 * 8;
/** The restart count that says packets are not cut at restart intervals. */
export const RESTART_COUNT_UNALIGNED = 0x3fff;

/** The RFC 2435 headers of one packet, read where they lie. */
export interface JpegPayloadHeader {
  /** The type-specific byte (0 for progressive-scan video). */
  readonly typeSpecific: number;
  /** Where this packet's scan data goes in the frame. */
  readonly fragmentOffset: number;
  /** The type, 0 to 255, restart types included. */
  readonly type: number;
  /** Q, 0 to 255. */
  readonly q: number;
  /** Width in pixels (a multiple of 8). */
  readonly width: number;
  /** Height in pixels (a multiple of 8). */
  readonly height: number;
  /** The restart interval in MCUs; 0 for types without restart markers. */
  readonly restartInterval: number;
  /** The restart header's F bit. */
  readonly restartFirst: boolean;
  /** The restart header's L bit. */
  readonly restartLast: boolean;
  /** The restart header's count. */
  readonly restartCount: number;
  /**
   * The quantization table header's precision bits, on a first packet with
   * Q ≥ 128; otherwise 0.
   */
  readonly tablePrecision: number;
  /**
   * Where the in-band tables start in the packet, and their length (0 when
   * none were sent).
   */
  readonly tablesOffset: number;
  /** The in-band tables' length in bytes. */
  readonly tablesLength: number;
  /** Where the scan data starts in the packet. */
  readonly dataOffset: number;
}

/** Whether an RFC 2435 type carries a restart marker header. */
export function hasRestartHeader(type: number): boolean {
  return type >= 64 && type <= 127;
}

/**
 * Reads the RFC 2435 headers of a payload that runs from `offset` to `end`
 * in `packet`.
 *
 * @param packet The RTP packet.
 * @param offset Where the RTP payload starts.
 * @param end Where it ends.
 * @returns The headers, or a short reason why they do not add up.
 *
 * @example Reading a first packet with in-band tables
 * ```ts
 * import { readJpegPayloadHeader } from "./payload_header.ts";
 * const payload = new Uint8Array(8 + 4 + 128 + 1);
 * payload.set([0, 0, 0, 0, 1, 255, 80, 45, 0, 0, 0, 128]);
 * const header = readJpegPayloadHeader(payload, 0, payload.length);
 * console.log(typeof header !== "string" && header.width); // 640
 * ```
 */
export function readJpegPayloadHeader(
  packet: Uint8Array,
  offset: number,
  end: number,
): JpegPayloadHeader | string {
  if (end - offset < JPEG_HEADER_BYTES) {
    return `an RFC 2435 header needs ${JPEG_HEADER_BYTES} bytes, got ${
      end - offset
    }`;
  }
  const fragmentOffset = (packet[offset + 1]! << 16) |
    (packet[offset + 2]! << 8) | packet[offset + 3]!;
  const type = packet[offset + 4]!;
  const q = packet[offset + 5]!;
  let at = offset + JPEG_HEADER_BYTES;
  let restartInterval = 0;
  let restartWord = 0;
  if (hasRestartHeader(type)) {
    if (end - at < RESTART_HEADER_BYTES) {
      return "the restart marker header is cut short";
    }
    restartInterval = (packet[at]! << 8) | packet[at + 1]!;
    restartWord = (packet[at + 2]! << 8) | packet[at + 3]!;
    at += RESTART_HEADER_BYTES;
  }
  let tablePrecision = 0;
  let tablesOffset = 0;
  let tablesLength = 0;
  if (q >= 128 && fragmentOffset === 0) {
    if (end - at < QUANT_HEADER_BYTES) {
      return "the quantization table header is cut short";
    }
    tablePrecision = packet[at + 1]!;
    tablesLength = (packet[at + 2]! << 8) | packet[at + 3]!;
    at += QUANT_HEADER_BYTES;
    if (tablesLength > end - at) {
      return `the quantization tables claim ${tablesLength} bytes, but ${
        end - at
      } follow`;
    }
    tablesOffset = at;
    at += tablesLength;
  }
  return {
    typeSpecific: packet[offset]!,
    fragmentOffset,
    type,
    q,
    width: packet[offset + 6]! * 8,
    height: packet[offset + 7]! * 8,
    restartInterval,
    restartFirst: (restartWord & 0x8000) !== 0,
    restartLast: (restartWord & 0x4000) !== 0,
    restartCount: restartWord & 0x3fff,
    tablePrecision,
    tablesOffset,
    tablesLength,
    dataOffset: at,
  };
}
