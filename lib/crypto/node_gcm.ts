/**
 * AES-256-GCM through `node:crypto`, the fallback where libcrypto cannot be
 * loaded. Node's API has no way to change the IV of a cipher, so every
 * datagram makes a new one (and its output buffers): about 20 times slower
 * than `LibcryptoGcm`, and it allocates.
 *
 * @module
 */

import { createCipheriv, createDecipheriv } from "node:crypto";
import { type GcmBackend, KEY_BYTES, TAG_BYTES } from "./_backend.ts";

/**
 * One AES-256 key's GCM through `node:crypto`, under a caller-given IV:
 * the same layout and results as `LibcryptoGcm`. Use
 * `createAead`, which builds the IV, instead.
 *
 * @example Sealing and opening in place
 * ```ts
 * import { NodeGcm } from "./node_gcm.ts";
 * const gcm = new NodeGcm(new Uint8Array(32));
 * const iv = new Uint8Array(12);
 * const packet = new Uint8Array([1, 2, 3, 4, 5, ...new Uint8Array(16)]);
 * gcm.seal(iv, packet, 0, 2, 3);
 * console.log(gcm.open(iv, packet, 0, 2, 3), packet.subarray(0, 5)); // true 1 2 3 4 5
 * ```
 */
export class NodeGcm implements GcmBackend {
  #key: Uint8Array | null;

  /**
   * Keeps a copy of `key`.
   *
   * @param key The 32-byte AES-256 key.
   */
  constructor(key: Uint8Array) {
    if (key.length !== KEY_BYTES) {
      throw new RangeError(
        `Cannot use a ${key.length}-byte key: AES-256 needs ${KEY_BYTES}`,
      );
    }
    this.#key = key.slice();
  }

  #useKey(verb: string): Uint8Array {
    if (this.#key === null) {
      throw new TypeError(`Cannot ${verb}: the cipher is closed`);
    }
    return this.#key;
  }

  /**
   * Encrypts the payload in place and writes the tag after it.
   *
   * @param iv The IV.
   * @param packet The buffer.
   * @param start Where the header starts.
   * @param headerLength Header bytes: authenticated, not encrypted.
   * @param payloadLength Payload bytes after the header, to encrypt.
   */
  seal(
    iv: Uint8Array,
    packet: Uint8Array,
    start: number,
    headerLength: number,
    payloadLength: number,
  ): void {
    const cipher = createCipheriv("aes-256-gcm", this.#useKey("seal"), iv, {
      authTagLength: TAG_BYTES,
    });
    const payloadStart = start + headerLength;
    if (headerLength > 0) cipher.setAAD(packet.subarray(start, payloadStart));
    if (payloadLength > 0) {
      packet.set(
        cipher.update(
          packet.subarray(payloadStart, payloadStart + payloadLength),
        ),
        payloadStart,
      );
    }
    cipher.final();
    packet.set(cipher.getAuthTag(), payloadStart + payloadLength);
  }

  /**
   * Verifies the tag after the payload and decrypts the payload in place.
   *
   * @param iv The IV.
   * @param packet The buffer.
   * @param start Where the header starts.
   * @param headerLength Header bytes.
   * @param payloadLength Payload bytes between the header and the tag.
   * @returns Whether the tag was right; if not, the payload is zeroed.
   */
  open(
    iv: Uint8Array,
    packet: Uint8Array,
    start: number,
    headerLength: number,
    payloadLength: number,
  ): boolean {
    const decipher = createDecipheriv(
      "aes-256-gcm",
      this.#useKey("open"),
      iv,
      { authTagLength: TAG_BYTES },
    );
    const payloadStart = start + headerLength;
    const tagStart = payloadStart + payloadLength;
    if (headerLength > 0) decipher.setAAD(packet.subarray(start, payloadStart));
    decipher.setAuthTag(packet.subarray(tagStart, tagStart + TAG_BYTES));
    const plaintext = payloadLength > 0
      ? decipher.update(packet.subarray(payloadStart, tagStart))
      : undefined;
    try {
      decipher.final();
    } catch {
      packet.fill(0, payloadStart, tagStart);
      return false;
    }
    if (plaintext !== undefined) packet.set(plaintext, payloadStart);
    return true;
  }

  /** Forgets the key. */
  close(): void {
    this.#key?.fill(0);
    this.#key = null;
  }
}
