/**
 * The RTP fixed header of [RFC 3550 §5.1](https://www.rfc-editor.org/rfc/rfc3550#section-5.1):
 * written in place by senders, read where it lies by receivers.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           timestamp                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           synchronization source (SSRC) identifier            |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |       contributing source (CSRC) identifiers, CC of them      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | header extension when X: profile-defined 16 bits, length 16   |
 * | bits (in 32-bit words), then that many words                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 payload  ...  | padding when P, its last byte |
 * |                               | counts the padding octets     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */

/** Bytes in the fixed RTP header. */
export const RTP_HEADER_BYTES = 12;

/** The fields of an RTP header that a receiver uses. */
export interface RtpHeader {
  /** The marker bit: on the last packet of a video frame. */
  readonly marker: boolean;
  /** The payload type, 0 to 127. */
  readonly payloadType: number;
  /** The sequence number, 0 to 65535. */
  readonly sequence: number;
  /** The media timestamp, 0 to 2^32 − 1. */
  readonly timestamp: number;
  /** The synchronization source. */
  readonly ssrc: number;
  /** Where the payload starts in the packet. */
  readonly payloadOffset: number;
  /** Where it ends (before any padding). */
  readonly payloadEnd: number;
}

/**
 * Writes a 12-byte RTP header (no CSRCs, no extension, no padding) at
 * `offset` of `view`.
 *
 * @param view The packet's bytes.
 * @param offset Where the header starts.
 * @param header The fields.
 *
 * @example Writing a header
 * ```ts
 * import { writeRtpHeader } from "./packet.ts";
 * const packet = new Uint8Array(12);
 * writeRtpHeader(new DataView(packet.buffer), 0, {
 *   marker: true, payloadType: 26, sequence: 1, timestamp: 90000, ssrc: 7,
 * });
 * console.log(packet[0], packet[1]); // 128 154
 * ```
 */
export function writeRtpHeader(
  view: DataView,
  offset: number,
  header: {
    readonly marker: boolean;
    readonly payloadType: number;
    readonly sequence: number;
    readonly timestamp: number;
    readonly ssrc: number;
  },
): void {
  view.setUint8(offset, 0x80);
  view.setUint8(
    offset + 1,
    (header.marker ? 0x80 : 0) | (header.payloadType & 0x7f),
  );
  view.setUint16(offset + 2, header.sequence & 0xffff);
  view.setUint32(offset + 4, header.timestamp >>> 0);
  view.setUint32(offset + 8, header.ssrc >>> 0);
}

/**
 * Reads the RTP header of `packet`, skipping CSRCs and any header
 * extension and trimming padding.
 *
 * @param packet One datagram.
 * @returns The header, or a short reason why it is not an RTP packet.
 *
 * @example Reading a header
 * ```ts
 * import { readRtpHeader } from "./packet.ts";
 * const packet = Uint8Array.of(0x80, 0x9a, 0, 1, 0, 1, 0x5f, 0x90, 0, 0, 0, 7, 42);
 * const header = readRtpHeader(packet);
 * console.log(typeof header !== "string" && header.payloadType); // 26
 * ```
 */
export function readRtpHeader(packet: Uint8Array): RtpHeader | string {
  const length = packet.length;
  if (length < RTP_HEADER_BYTES) {
    return `an RTP header needs ${RTP_HEADER_BYTES} bytes, got ${length}`;
  }
  const first = packet[0]!;
  if (first >> 6 !== 2) return `RTP version ${first >> 6}, expected 2`;
  let offset = RTP_HEADER_BYTES + (first & 0x0f) * 4;
  if (first & 0x10) {
    if (offset + 4 > length) return "the header extension is cut short";
    offset += 4 + ((packet[offset + 2]! << 8) | packet[offset + 3]!) * 4;
  }
  let end = length;
  if (first & 0x20) end -= packet[length - 1]!;
  if (offset > end) {
    return `the header and padding take ${
      offset + length - end
    } bytes of ${length}`;
  }
  const second = packet[1]!;
  return {
    marker: (second & 0x80) !== 0,
    payloadType: second & 0x7f,
    sequence: (packet[2]! << 8) | packet[3]!,
    timestamp: ((packet[4]! << 24) | (packet[5]! << 16) | (packet[6]! << 8) |
      packet[7]!) >>> 0,
    ssrc: ((packet[8]! << 24) | (packet[9]! << 16) | (packet[10]! << 8) |
      packet[11]!) >>> 0,
    payloadOffset: offset,
    payloadEnd: end,
  };
}

/**
 * The signed distance from sequence number `b` to `a`, modulo 2^16: how
 * many packets `a` comes after `b` (negative when before).
 *
 * @param a A sequence number.
 * @param b Another.
 * @returns A number from −32768 to 32767.
 *
 * @example Across the wrap
 * ```ts
 * import { sequenceDelta } from "./packet.ts";
 * console.log(sequenceDelta(2, 65534)); // 4
 * ```
 */
export function sequenceDelta(a: number, b: number): number {
  return (((a - b) << 16) >> 16);
}

/**
 * The signed distance from RTP timestamp `b` to `a`, modulo 2^32.
 *
 * @param a A timestamp.
 * @param b Another.
 * @returns A number from −2^31 to 2^31 − 1.
 *
 * @example Across the wrap
 * ```ts
 * import { timestampDelta } from "./packet.ts";
 * console.log(timestampDelta(1000, 2 ** 32 - 2000)); // 3000
 * ```
 */
export function timestampDelta(a: number, b: number): number {
  return (a - b) | 0;
}
