/**
 * The classic frame header: the byte count of the image that follows, as the
 * tutorial writes it with Python's `struct.pack('l', n)`.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |              image byte count, signed 64-bit,                 |
 * +            little-endian (64-bit Linux and macOS)             +
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * On Windows Python's `'l'` is 4 bytes, so a 4-byte signed little-endian
 * header is accepted as well.
 *
 * @module
 */

/** Size of the header the tutorial sends on 64-bit Linux and macOS. */
export const HEADER_BYTES = 8;
/** Size of the header Python sends on Windows. */
export const SHORT_HEADER_BYTES = 4;

/**
 * Encodes a frame header: exactly `struct.pack('l', byteCount)` on 64-bit
 * Linux.
 *
 * @param byteCount The size of the image that follows.
 * @returns 8 bytes.
 *
 * @example Encoding the header of a 1 MiB image
 * ```ts
 * import { encodeHeader } from "./header.ts";
 * console.log(encodeHeader(1 << 20)); // Uint8Array(8) [0, 0, 16, 0, 0, 0, 0, 0]
 * ```
 */
export function encodeHeader(byteCount: number): Uint8Array {
  if (!Number.isSafeInteger(byteCount) || byteCount < 0) {
    throw new RangeError(
      `Cannot encode header: byte count must be a non-negative integer, got ${byteCount}`,
    );
  }
  const header = new Uint8Array(HEADER_BYTES);
  new DataView(header.buffer).setBigInt64(0, BigInt(byteCount), true);
  return header;
}

/**
 * Reads the byte count from a 4- or 8-byte header.
 *
 * @param header The header datagram.
 * @returns The announced byte count, which may be negative or huge: a sender
 * can claim anything. 8-byte counts beyond 2^53 come back as `Infinity` or
 * `-Infinity`, which no limit accepts.
 *
 * @example Reading a header
 * ```ts
 * import { decodeHeader, encodeHeader } from "./header.ts";
 * console.log(decodeHeader(encodeHeader(112345))); // 112345
 * ```
 */
export function decodeHeader(header: Uint8Array): number {
  const view = new DataView(header.buffer, header.byteOffset, header.length);
  if (header.length === SHORT_HEADER_BYTES) return view.getInt32(0, true);
  if (header.length !== HEADER_BYTES) {
    throw new RangeError(
      `Cannot decode header: expected 4 or 8 bytes, got ${header.length}`,
    );
  }
  const count = view.getBigInt64(0, true);
  if (count > BigInt(Number.MAX_SAFE_INTEGER)) return Infinity;
  if (count < -BigInt(Number.MAX_SAFE_INTEGER)) return -Infinity;
  return Number(count);
}
