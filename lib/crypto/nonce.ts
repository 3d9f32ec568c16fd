/**
 * The AES-GCM nonce of a sealed datagram, and the 8-byte packet counter it
 * carries.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  stream id (32 bits, big-endian)              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |            packet counter (64 bits, big-endian), high word    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                              low word                         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Counters are JavaScript numbers, so they stop at 2^53 − 1
 * ({@linkcode MAX_COUNTER}): at a million datagrams a second that is 285
 * years. On the wire the counter field is 64 bits wide; a datagram that
 * claims more than 2^53 − 1 is not ours (see {@linkcode readCounter}).
 *
 * @module
 */

/** Bytes of an AES-GCM nonce: 4 of stream id and 8 of counter. */
export const NONCE_BYTES = 12;

/** Bytes of the packet counter, as it travels in a stream header. */
export const COUNTER_BYTES = 8;

/** The largest packet counter: 2^53 − 1, the largest exact integer. */
export const MAX_COUNTER: number = Number.MAX_SAFE_INTEGER;

const TWO_32 = 0x1_0000_0000;
/** The high word of a counter at most {@linkcode MAX_COUNTER}. */
const MAX_HIGH_WORD = 0x1f_ffff;

/**
 * Throws a `RangeError` unless `streamId` is a 32-bit unsigned integer and
 * `counter` an integer from 0 to {@linkcode MAX_COUNTER}.
 *
 * @param streamId The stream id.
 * @param counter The packet counter.
 *
 * @example Usage
 * ```ts
 * import { checkNonce } from "./nonce.ts";
 * checkNonce(7, 2 ** 40); // fine
 * ```
 */
export function checkNonce(streamId: number, counter: number): void {
  if ((streamId >>> 0) !== streamId) {
    throw new RangeError(
      `Cannot use stream id ${streamId}: expected an integer from 0 to 4294967295`,
    );
  }
  if (!Number.isSafeInteger(counter) || counter < 0) {
    throw new RangeError(
      `Cannot use packet counter ${counter}: expected an integer from 0 to ${MAX_COUNTER}`,
    );
  }
}

/**
 * Writes the 12-byte nonce for `streamId` and `counter` into `target` at
 * `offset`. Does not check its arguments (see {@linkcode checkNonce}).
 *
 * @param target Where to write.
 * @param streamId The stream id, 0 to 2^32 − 1.
 * @param counter The packet counter, 0 to 2^53 − 1.
 * @param offset Where the nonce starts in `target`.
 *
 * @example The nonce of stream 7, packet 1000
 * ```ts
 * import { NONCE_BYTES, writeNonce } from "./nonce.ts";
 * const nonce = new Uint8Array(NONCE_BYTES);
 * writeNonce(nonce, 7, 1000);
 * console.log(nonce); // 00 00 00 07 00 00 00 00 00 00 03 e8
 * ```
 */
export function writeNonce(
  target: Uint8Array,
  streamId: number,
  counter: number,
  offset = 0,
): void {
  writeWord(target, offset, streamId);
  writeCounter(target, counter, offset + 4);
}

/**
 * Writes `counter` as 8 bytes, big-endian, into `target` at `offset`, as
 * the counter field of a stream header carries it.
 *
 * @param target Where to write.
 * @param counter The packet counter, 0 to 2^53 − 1 (not checked).
 * @param offset Where the field starts.
 *
 * @example Usage
 * ```ts
 * import { writeCounter } from "./nonce.ts";
 * const field = new Uint8Array(8);
 * writeCounter(field, 2 ** 32 + 1);
 * console.log(field); // 00 00 00 01 00 00 00 01
 * ```
 */
export function writeCounter(
  target: Uint8Array,
  counter: number,
  offset = 0,
): void {
  writeWord(target, offset, Math.floor(counter / TWO_32));
  writeWord(target, offset + 4, counter >>> 0);
}

/**
 * Reads an 8-byte big-endian packet counter from `bytes` at `offset`.
 * Returns -1 for a counter above {@linkcode MAX_COUNTER}, which no sender
 * of ours produces: drop such a datagram.
 *
 * @param bytes The header bytes; 8 must be there from `offset`.
 * @param offset Where the field starts.
 * @returns The counter, or -1.
 *
 * @example Usage
 * ```ts
 * import { readCounter } from "./nonce.ts";
 * console.log(readCounter(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 1]))); // 4294967297
 * console.log(readCounter(new Uint8Array(8).fill(0xff))); // -1
 * ```
 */
export function readCounter(bytes: Uint8Array, offset = 0): number {
  if (offset < 0 || offset + COUNTER_BYTES > bytes.length) {
    throw new RangeError(
      `Cannot read a packet counter at ${offset}: expected 8 bytes, got ${
        Math.max(0, bytes.length - offset)
      }`,
    );
  }
  const high = readWord(bytes, offset);
  if (high > MAX_HIGH_WORD) return -1;
  return high * TWO_32 + readWord(bytes, offset + 4);
}

function writeWord(target: Uint8Array, offset: number, word: number): void {
  target[offset] = word >>> 24;
  target[offset + 1] = word >>> 16;
  target[offset + 2] = word >>> 8;
  target[offset + 3] = word;
}

function readWord(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) |
    (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}
