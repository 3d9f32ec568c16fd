/**
 * What an AES-256-GCM implementation does for {@linkcode Aead}: seal and
 * open one datagram in place under a raw IV. Arguments are checked by the
 * caller; a backend trusts them.
 *
 * @module
 */

/** Bytes of the AES-GCM authentication tag. */
export const TAG_BYTES = 16;

/** Bytes of an AES-256 key. */
export const KEY_BYTES = 32;

/** One key's AES-256-GCM, sealing and opening in place. */
export interface GcmBackend {
  /**
   * Encrypts `packet[start + headerLength, + payloadLength)` in place under
   * `iv`, authenticating `packet[start, start + headerLength)` with it, and
   * writes the tag right after the ciphertext.
   */
  seal(
    iv: Uint8Array,
    packet: Uint8Array,
    start: number,
    headerLength: number,
    payloadLength: number,
  ): void;
  /**
   * Verifies and decrypts in place the layout {@linkcode GcmBackend.seal}
   * writes. Returns false for a bad tag, having zeroed the payload so that
   * no unverified plaintext is left behind.
   */
  open(
    iv: Uint8Array,
    packet: Uint8Array,
    start: number,
    headerLength: number,
    payloadLength: number,
  ): boolean;
  /** Frees native state; the backend cannot be used afterwards. */
  close(): void;
}
