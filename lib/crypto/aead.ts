/**
 * Sealing datagrams with AES-256-GCM: encrypt the payload in place, append
 * a 16-byte tag, and authenticate the datagram's header with it.
 *
 * ```
 *  start          start + headerLength                      + payloadLength
 *  |              |                                         |
 *  v              v                                         v
 *  +--------------+-----------------------------------------+--------------+
 *  | header       | payload                                 | tag          |
 *  | (associated  | (plaintext, sealed in place into        | (16 bytes)   |
 *  |  data)       |  ciphertext of the same length)         |              |
 *  +--------------+-----------------------------------------+--------------+
 * ```
 *
 * The 12-byte nonce is the stream id (4 bytes) and the packet counter (8
 * bytes), big-endian (see `nonce.ts`). Nothing in the datagram is copied or
 * allocated by the libcrypto implementation; `node:crypto` is the fallback.
 * The positional signatures of `seal` and `open` are on purpose: they run
 * once per datagram, and an options object would be one allocation each.
 *
 * @module
 */

import { type GcmBackend, KEY_BYTES, TAG_BYTES } from "./_backend.ts";
import {
  LIBCRYPTO_INSTALL_COMMAND,
  LibcryptoGcm,
  LibcryptoUnavailableError,
} from "./libcrypto.ts";
import { NodeGcm } from "./node_gcm.ts";
import { checkNonce, NONCE_BYTES, writeNonce } from "./nonce.ts";

export { KEY_BYTES, TAG_BYTES };

/** The AES-GCM code in use: OpenSSL's libcrypto through FFI, or `node:crypto`. */
export type AeadImplementation = "libcrypto" | "node";

/** Which implementation to use: libcrypto when it loads (`auto`), or one. */
export type AeadMode = "auto" | AeadImplementation;

/** The modes, for flag parsing and help text. */
export const AEAD_MODES: readonly AeadMode[] = ["auto", "libcrypto", "node"];

/** Options for {@linkcode createAead}. */
export interface AeadOptions {
  /**
   * `auto` uses libcrypto when it loads and `node:crypto` otherwise;
   * `libcrypto` throws a `LibcryptoUnavailableError` when it does not load.
   *
   * @default {"auto"}
   */
  implementation?: AeadMode;
  /**
   * The one libcrypto file or name to load, instead of the usual names.
   *
   * @default {undefined}
   */
  libraryPath?: string;
}

/**
 * Two keys, one per direction: `seal` for what this side sends and `open`
 * for what it receives.
 */
export interface DirectionalKeys {
  /** The key for sealing. */
  readonly seal: Uint8Array;
  /** The key for opening. */
  readonly open: Uint8Array;
}

/**
 * Seals and opens datagrams in place. Made by {@linkcode createAead} (one
 * key, or one per direction) or by `createStreamAead` (the two directions
 * of a stream, derived from a shared key).
 *
 * Every (key, stream id, counter) triple may seal only one datagram, ever:
 * a repeated nonce under AES-GCM reveals the two plaintexts' XOR and lets
 * anyone forge tags. Count up per stream and direction, and never restart
 * a stream id under the same key.
 *
 * @example Sealing a datagram and opening it
 * ```ts
 * import { createAead, TAG_BYTES } from "./aead.ts";
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * using aead = createAead(key);
 * console.log(aead.reason); // sealing: AES-256-GCM by libcrypto (OpenSSL 3.0.19)
 *
 * const header = 8, payload = 5;
 * const packet = new Uint8Array(header + payload + TAG_BYTES);
 * packet.set(new TextEncoder().encode("hello"), header);
 * const length = aead.seal(7, 0, packet, header, payload); // 29
 * console.log(aead.open(7, 0, packet, header, length)); // 5: the payload is "hello" again
 * packet[0]! ^= 1; // a flipped header bit
 * console.log(aead.open(7, 0, packet, header, length)); // -1
 * ```
 */
export interface Aead extends Disposable {
  /** Which code seals: `libcrypto` or `node`. */
  readonly implementation: AeadImplementation;
  /**
   * One line for the log that says which implementation is in use and,
   * for a fallback, why, such as
   * `sealing: AES-256-GCM by node:crypto (libcrypto not found: apt-get install libssl3)`.
   */
  readonly reason: string;
  /**
   * Seals one datagram in place: encrypts `payloadLength` bytes after the
   * header, authenticates the header with them, and writes the 16-byte tag
   * after the payload.
   *
   * @param streamId The stream id, 0 to 2^32 − 1: the nonce's first 4 bytes.
   * @param counter The packet counter, 0 to 2^53 − 1: its last 8 bytes.
   * @param packet The buffer that holds the datagram.
   * @param headerLength Bytes of header from `start`: authenticated as
   *   associated data, not encrypted.
   * @param payloadLength Bytes of payload after the header, to encrypt.
   * @param start Where the datagram starts in `packet`, for a buffer that
   *   holds several. @default {0}
   * @returns The sealed datagram's length,
   *   `headerLength + payloadLength + 16`.
   * @throws {RangeError} When an argument is out of range or the sealed
   *   datagram does not fit in `packet`.
   */
  seal(
    streamId: number,
    counter: number,
    packet: Uint8Array,
    headerLength: number,
    payloadLength: number,
    start?: number,
  ): number;
  /**
   * Opens one datagram in place: checks its tag against the header, the
   * payload and the nonce, and decrypts the payload where it lies. Returns
   * -1 for a datagram shorter than a header and a tag, or whose tag does
   * not match; then the payload bytes are zeroed, so that no unverified
   * plaintext is ever left in the buffer (and with libcrypto, nothing is
   * allocated, so a flood of forgeries costs no garbage collection).
   *
   * @param streamId The stream id the sender used.
   * @param counter The packet counter the sender used.
   * @param packet The buffer that holds the datagram.
   * @param headerLength Bytes of header from `start`.
   * @param packetLength Bytes of the whole datagram: header, payload, tag.
   * @param start Where the datagram starts in `packet`. @default {0}
   * @returns The payload's length, `packetLength - headerLength - 16`, or
   *   -1.
   * @throws {RangeError} When an argument is out of range or `packetLength`
   *   bytes from `start` are not in `packet`.
   */
  open(
    streamId: number,
    counter: number,
    packet: Uint8Array,
    headerLength: number,
    packetLength: number,
    start?: number,
  ): number;
  /**
   * Seals like {@linkcode Aead.seal}, with the 12-byte nonce read from the
   * datagram's own header at `nonceOffset` instead of built from a stream id
   * and a counter: for headers that carry the nonce whole, as the stream
   * protocol's does at bytes 8–19 (stream id, then the 64-bit packet number
   * field, direction bit included). Nothing is allocated.
   *
   * @param packet The buffer that holds the datagram.
   * @param headerLength Bytes of header from `start`, the nonce among them.
   * @param payloadLength Bytes of payload after the header, to encrypt.
   * @param nonceOffset Where the nonce lies in the header.
   * @param start Where the datagram starts in `packet`. @default {0}
   * @returns The sealed datagram's length,
   *   `headerLength + payloadLength + 16`.
   * @throws {RangeError} When the nonce is not inside the header, or the
   *   sealed datagram does not fit in `packet`.
   */
  sealWithHeaderNonce(
    packet: Uint8Array,
    headerLength: number,
    payloadLength: number,
    nonceOffset: number,
    start?: number,
  ): number;
  /**
   * Opens like {@linkcode Aead.open}, with the nonce read from the header
   * at `nonceOffset` (see {@linkcode Aead.sealWithHeaderNonce}). Returns -1, having
   * zeroed the payload, when the tag does not match; allocates nothing.
   *
   * @param packet The buffer that holds the datagram.
   * @param headerLength Bytes of header from `start`.
   * @param packetLength Bytes of the whole datagram: header, payload, tag.
   * @param nonceOffset Where the nonce lies in the header.
   * @param start Where the datagram starts in `packet`. @default {0}
   * @returns The payload's length, or -1.
   * @throws {RangeError} When the nonce is not inside the header, or the
   *   datagram is not inside `packet`.
   */
  openWithHeaderNonce(
    packet: Uint8Array,
    headerLength: number,
    packetLength: number,
    nonceOffset: number,
    start?: number,
  ): number;
  /** Frees the native state. Calling it again does nothing. */
  close(): void;
}

function checkLength(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot use ${name} ${value}: expected a non-negative integer`,
    );
  }
}

function checkNonceOffset(nonceOffset: number, headerLength: number): void {
  if (
    !Number.isSafeInteger(nonceOffset) || nonceOffset < 0 ||
    nonceOffset + NONCE_BYTES > headerLength
  ) {
    throw new RangeError(
      `Cannot take a ${NONCE_BYTES}-byte nonce at ${nonceOffset} of a ${headerLength}-byte header: it must lie inside it`,
    );
  }
}

class PacketAead implements Aead {
  readonly implementation: AeadImplementation;
  readonly reason: string;
  #sealer: GcmBackend;
  #opener: GcmBackend;
  #nonce = new Uint8Array(NONCE_BYTES);
  #closed = false;

  constructor(
    implementation: AeadImplementation,
    reason: string,
    sealer: GcmBackend,
    opener: GcmBackend,
  ) {
    this.implementation = implementation;
    this.reason = reason;
    this.#sealer = sealer;
    this.#opener = opener;
  }

  seal(
    streamId: number,
    counter: number,
    packet: Uint8Array,
    headerLength: number,
    payloadLength: number,
    start = 0,
  ): number {
    checkNonce(streamId, counter);
    writeNonce(this.#nonce, streamId, counter);
    return this.#seal(packet, headerLength, payloadLength, start);
  }

  open(
    streamId: number,
    counter: number,
    packet: Uint8Array,
    headerLength: number,
    packetLength: number,
    start = 0,
  ): number {
    checkNonce(streamId, counter);
    writeNonce(this.#nonce, streamId, counter);
    return this.#open(packet, headerLength, packetLength, start);
  }

  sealWithHeaderNonce(
    packet: Uint8Array,
    headerLength: number,
    payloadLength: number,
    nonceOffset: number,
    start = 0,
  ): number {
    checkNonceOffset(nonceOffset, headerLength);
    this.#copyNonce(packet, start + nonceOffset);
    return this.#seal(packet, headerLength, payloadLength, start);
  }

  openWithHeaderNonce(
    packet: Uint8Array,
    headerLength: number,
    packetLength: number,
    nonceOffset: number,
    start = 0,
  ): number {
    checkNonceOffset(nonceOffset, headerLength);
    this.#copyNonce(packet, start + nonceOffset);
    return this.#open(packet, headerLength, packetLength, start);
  }

  /** Seals under the nonce already in place, once the rest is checked. */
  #seal(
    packet: Uint8Array,
    headerLength: number,
    payloadLength: number,
    start: number,
  ): number {
    checkLength("header length", headerLength);
    checkLength("payload length", payloadLength);
    checkLength("start", start);
    const length = headerLength + payloadLength + TAG_BYTES;
    if (start + length > packet.length) {
      throw new RangeError(
        `Cannot seal ${length} bytes at ${start}: the buffer holds ${packet.length}`,
      );
    }
    if (this.#closed) throw new TypeError("Cannot seal: the AEAD is closed");
    this.#sealer.seal(this.#nonce, packet, start, headerLength, payloadLength);
    return length;
  }

  /** Opens under the nonce already in place, once the rest is checked. */
  #open(
    packet: Uint8Array,
    headerLength: number,
    packetLength: number,
    start: number,
  ): number {
    checkLength("header length", headerLength);
    checkLength("packet length", packetLength);
    checkLength("start", start);
    if (start + packetLength > packet.length) {
      throw new RangeError(
        `Cannot open ${packetLength} bytes at ${start}: the buffer holds ${packet.length}`,
      );
    }
    if (this.#closed) throw new TypeError("Cannot open: the AEAD is closed");
    const payloadLength = packetLength - headerLength - TAG_BYTES;
    if (payloadLength < 0) return -1;
    return this.#opener.open(
        this.#nonce,
        packet,
        start,
        headerLength,
        payloadLength,
      )
      ? payloadLength
      : -1;
  }

  #copyNonce(packet: Uint8Array, at: number): void {
    const nonce = this.#nonce;
    for (let i = 0; i < NONCE_BYTES; i++) nonce[i] = packet[at + i] ?? 0;
  }

  close(): void {
    this.#closed = true;
    this.#sealer.close();
    this.#opener.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function absence(err: LibcryptoUnavailableError): string {
  return err.message.includes("FFI is not permitted")
    ? "libcrypto not loaded: FFI is not permitted"
    : `libcrypto not found: ${LIBCRYPTO_INSTALL_COMMAND}`;
}

function checkKey(name: string, key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) {
    throw new TypeError(`Cannot use the ${name}: expected a Uint8Array`);
  }
  if (key.length !== KEY_BYTES) {
    throw new RangeError(
      `Cannot use a ${key.length}-byte ${name}: AES-256 needs ${KEY_BYTES}`,
    );
  }
}

/**
 * Makes an {@linkcode Aead} for one key, which seals and opens with it, or
 * for a key per direction. Chooses libcrypto when it loads (mode `auto`),
 * and says which in `reason`.
 *
 * @param key A 32-byte key, or one for sealing and one for opening.
 * @param options The implementation and the libcrypto to load.
 * @returns The AEAD; close it (or `using` it) when done.
 * @throws {LibcryptoUnavailableError} In mode `libcrypto`, when it cannot
 *   be loaded.
 *
 * @example Forcing the fallback
 * ```ts
 * import { createAead } from "./aead.ts";
 * using aead = createAead(new Uint8Array(32), { implementation: "node" });
 * console.log(aead.implementation, aead.reason); // node sealing: AES-256-GCM by node:crypto
 * ```
 */
export function createAead(
  key: Uint8Array | DirectionalKeys,
  options: AeadOptions = {},
): Aead {
  const mode = options.implementation ?? "auto";
  if (!AEAD_MODES.includes(mode)) {
    throw new TypeError(
      `Cannot use AEAD implementation "${mode}": expected one of ${
        AEAD_MODES.join(", ")
      }`,
    );
  }
  const keys = key instanceof Uint8Array ? { seal: key, open: key } : key;
  checkKey("sealing key", keys.seal);
  checkKey("opening key", keys.open);
  const same = keys.seal === keys.open;
  let missing: LibcryptoUnavailableError | undefined;
  if (mode !== "node") {
    const libraryPath = options.libraryPath;
    const gcm = (k: Uint8Array) =>
      new LibcryptoGcm(k, libraryPath === undefined ? {} : { libraryPath });
    try {
      const sealer = gcm(keys.seal);
      let opener: LibcryptoGcm;
      try {
        opener = same ? sealer : gcm(keys.open);
      } catch (err) {
        sealer.close();
        throw err;
      }
      return new PacketAead(
        "libcrypto",
        `sealing: AES-256-GCM by libcrypto (${sealer.version})`,
        sealer,
        opener,
      );
    } catch (err) {
      if (mode === "libcrypto" || !(err instanceof LibcryptoUnavailableError)) {
        throw err;
      }
      missing = err;
    }
  }
  const sealer = new NodeGcm(keys.seal);
  return new PacketAead(
    "node",
    missing === undefined
      ? "sealing: AES-256-GCM by node:crypto"
      : `sealing: AES-256-GCM by node:crypto (${absence(missing)})`,
    sealer,
    same ? sealer : new NodeGcm(keys.open),
  );
}
