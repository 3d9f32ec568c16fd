/**
 * HKDF with HMAC-SHA256 (RFC 5869), and the two per-direction keys of a
 * stream derived with it from the shared key.
 *
 * ```
 * sender-to-receiver key = HKDF-SHA256(IKM = shared key, salt = empty,
 *                                      info = "udpimg v1 sender-to-receiver", L = 32)
 * receiver-to-sender key = HKDF-SHA256(IKM = shared key, salt = empty,
 *                                      info = "udpimg v1 receiver-to-sender", L = 32)
 * ```
 *
 * The shared key is 32 random bytes, so no salt is needed (RFC 5869 §3.1);
 * an empty salt is HMAC's 32 zero bytes. The info strings are ASCII, with
 * no terminator.
 *
 * @module
 */

import { hkdfSync } from "node:crypto";
import { KEY_BYTES } from "./_backend.ts";

/** The most bytes HKDF-SHA256 derives: 255 blocks of 32. */
export const HKDF_SHA256_MAX_LENGTH = 255 * 32;

/**
 * HKDF-SHA256 (RFC 5869): extract a pseudorandom key from `ikm` and
 * `salt`, then expand it with `info` into `length` bytes.
 *
 * @param ikm The input keying material.
 * @param salt The salt; empty means 32 zero bytes.
 * @param info Context, such as a purpose string (UTF-8).
 * @param length Bytes to derive, 0 to 8160.
 * @returns The output keying material.
 *
 * @example RFC 5869 test case 3
 * ```ts
 * import { hkdfSha256 } from "./hkdf.ts";
 * const okm = hkdfSha256(new Uint8Array(22).fill(0x0b), new Uint8Array(0), "", 42);
 * console.log(okm.length); // 42, starting 8d a4 e7 75
 * ```
 */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array | string,
  length: number,
): Uint8Array {
  if (
    !Number.isSafeInteger(length) || length < 0 ||
    length > HKDF_SHA256_MAX_LENGTH
  ) {
    throw new RangeError(
      `Cannot derive ${length} bytes with HKDF-SHA256: expected 0 to ${HKDF_SHA256_MAX_LENGTH}`,
    );
  }
  if (length === 0) return new Uint8Array(0);
  const infoBytes = typeof info === "string"
    ? new TextEncoder().encode(info)
    : info;
  return new Uint8Array(hkdfSync("sha256", ikm, salt, infoBytes, length));
}

/** HKDF info of the key that seals what the sender sends. */
export const SENDER_TO_RECEIVER_INFO = "udpimg v1 sender-to-receiver";
/** HKDF info of the key that seals what the receiver sends back. */
export const RECEIVER_TO_SENDER_INFO = "udpimg v1 receiver-to-sender";

/** The two keys of a stream, one per direction. */
export interface StreamKeys {
  /** Seals what the sender sends (data). */
  readonly senderToReceiver: Uint8Array;
  /** Seals what the receiver sends back (feedback). */
  readonly receiverToSender: Uint8Array;
}

/**
 * Derives a stream's two direction keys from the shared key, so that the
 * two directions never use one key: each may count its packets from 0
 * without their nonces ever meeting.
 *
 * @param sharedKey The 32-byte key both ends hold.
 * @returns The sender-to-receiver and receiver-to-sender keys.
 *
 * @example Usage
 * ```ts
 * import { deriveStreamKeys } from "./hkdf.ts";
 * const keys = deriveStreamKeys(new Uint8Array(32));
 * console.log(keys.senderToReceiver.length, keys.receiverToSender.length); // 32 32
 * ```
 */
export function deriveStreamKeys(sharedKey: Uint8Array): StreamKeys {
  if (sharedKey.length !== KEY_BYTES) {
    throw new RangeError(
      `Cannot derive stream keys from a ${sharedKey.length}-byte key: expected ${KEY_BYTES}`,
    );
  }
  const salt = new Uint8Array(0);
  return {
    senderToReceiver: hkdfSha256(
      sharedKey,
      salt,
      SENDER_TO_RECEIVER_INFO,
      KEY_BYTES,
    ),
    receiverToSender: hkdfSha256(
      sharedKey,
      salt,
      RECEIVER_TO_SENDER_INFO,
      KEY_BYTES,
    ),
  };
}
