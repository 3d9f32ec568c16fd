/**
 * Sealed streams' cryptography: AES-256-GCM over datagrams in place (OpenSSL's
 * libcrypto through FFI, `node:crypto` as the fallback), per-direction keys
 * with HKDF-SHA256, key files, and a replay window.
 *
 * @example Sealing a stream's datagrams with a key file's key
 * ```ts
 * import { createStreamAead, generateKey, ReplayWindow, TAG_BYTES } from "./mod.ts";
 * const shared = generateKey(); // or: (await loadKey({ keyFile })).key
 * using sender = createStreamAead(shared, "sender");
 * using receiver = createStreamAead(shared, "receiver");
 * console.log(sender.reason);
 *
 * const header = 16;
 * const packet = new Uint8Array(header + 1200 + TAG_BYTES);
 * const length = sender.seal(1, 0, packet, header, 1200);
 *
 * const window = new ReplayWindow();
 * if (window.check(0) === "ok" && receiver.open(1, 0, packet, header, length) >= 0) {
 *   window.accept(0);
 * }
 * console.log(window.check(0)); // "replayed"
 * ```
 *
 * @module
 */

export * from "./aead.ts";
export * from "./stream_aead.ts";
export * from "./hkdf.ts";
export * from "./nonce.ts";
export * from "./key_file.ts";
export * from "./replay_window.ts";
export {
  LIBCRYPTO_INSTALL_COMMAND,
  LIBCRYPTO_LIBRARY_NAMES,
  LibcryptoUnavailableError,
} from "./libcrypto.ts";
