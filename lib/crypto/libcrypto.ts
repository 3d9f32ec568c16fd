/**
 * AES-256-GCM through OpenSSL's libcrypto (3.x), loaded with `Deno.dlopen`,
 * with the EVP calls every OpenSSL user makes.
 *
 * Each {@linkcode LibcryptoGcm} owns two `EVP_CIPHER_CTX`s, one to seal and
 * one to open, whose key is set once; a datagram then costs one call to set
 * the IV, one for the associated data, one for the payload, one to finish
 * and one for the tag. The calls are synchronous: a datagram takes about a
 * microsecond, far less than a hop to a worker thread. Buffers go to
 * libcrypto as FFI `buffer` arguments; the views at the header and the
 * payload are kept per buffer and offset, so that sealing and opening in
 * buffers that are reused (one datagram, or a batch of up to 128) creates
 * no objects at all.
 *
 * @module
 */

import { type GcmBackend, KEY_BYTES, TAG_BYTES } from "./_backend.ts";

function libraryNames(os: typeof Deno.build.os): string[] {
  switch (os) {
    case "darwin":
      // Never the bare libcrypto.dylib: on macOS that is LibreSSL, and
      // loading it unversioned aborts the process.
      return [
        "libcrypto.3.dylib",
        "/opt/homebrew/opt/openssl@3/lib/libcrypto.3.dylib",
        "/usr/local/opt/openssl@3/lib/libcrypto.3.dylib",
        "/opt/homebrew/lib/libcrypto.3.dylib",
        "/usr/local/lib/libcrypto.3.dylib",
      ];
    case "windows":
      return Deno.build.arch === "aarch64"
        ? ["libcrypto-3-arm64.dll", "libcrypto-3.dll"]
        : ["libcrypto-3-x64.dll", "libcrypto-3.dll"];
    default:
      return ["libcrypto.so.3", "libcrypto.so"];
  }
}

function installCommand(os: typeof Deno.build.os): string {
  switch (os) {
    case "darwin":
      return "brew install openssl@3";
    case "windows":
      return "install OpenSSL 3 and put libcrypto-3-x64.dll on PATH";
    default:
      return "apt-get install libssl3";
  }
}

/**
 * Library names tried on this OS, in order, when no `libraryPath` is given:
 * `libcrypto.so.3` and `libcrypto.so` on Linux, `libcrypto.3.dylib` and the
 * Homebrew paths on macOS, `libcrypto-3-x64.dll` on Windows.
 *
 * @example Usage
 * ```ts
 * import { LIBCRYPTO_LIBRARY_NAMES } from "./libcrypto.ts";
 * console.log(LIBCRYPTO_LIBRARY_NAMES.join(", "));
 * ```
 */
export const LIBCRYPTO_LIBRARY_NAMES: readonly string[] = libraryNames(
  Deno.build.os,
);

/**
 * How to install OpenSSL's libcrypto on this OS, such as
 * `apt-get install libssl3` on Linux.
 *
 * @example Usage
 * ```ts
 * import { LIBCRYPTO_INSTALL_COMMAND } from "./libcrypto.ts";
 * console.log(`libcrypto not found: ${LIBCRYPTO_INSTALL_COMMAND}`);
 * ```
 */
export const LIBCRYPTO_INSTALL_COMMAND: string = installCommand(
  Deno.build.os,
);

/**
 * Thrown when libcrypto cannot be loaded. `createAead` in mode `auto`
 * catches it and falls back to `node:crypto`.
 *
 * @example Asking for libcrypto that is not there
 * ```ts
 * import { LibcryptoGcm, LibcryptoUnavailableError } from "./libcrypto.ts";
 * try {
 *   new LibcryptoGcm(new Uint8Array(32), { libraryPath: "/nonexistent/libcrypto.so" });
 * } catch (err) {
 *   if (!(err instanceof LibcryptoUnavailableError)) throw err;
 *   console.log(err.message);
 * }
 * ```
 */
export class LibcryptoUnavailableError extends Error {
  /** The library names or paths that were tried. */
  readonly tried: readonly string[];

  /**
   * Makes the error.
   *
   * @param message What was wrong and how to fix it.
   * @param options The names `tried` and an optional `cause`.
   */
  constructor(
    message: string,
    options: { tried?: readonly string[]; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "LibcryptoUnavailableError";
    this.tried = options.tried ?? [];
  }
}

const INIT = {
  parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
  result: "i32",
} as const;
const UPDATE = {
  parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
  result: "i32",
} as const;
const FINAL = {
  parameters: ["pointer", "buffer", "buffer"],
  result: "i32",
} as const;

const SYMBOLS = {
  OpenSSL_version: { parameters: ["i32"], result: "pointer" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_CIPHER_CTX_ctrl: {
    parameters: ["pointer", "i32", "i32", "buffer"],
    result: "i32",
  },
  EVP_EncryptInit_ex: INIT,
  EVP_EncryptUpdate: UPDATE,
  EVP_EncryptFinal_ex: FINAL,
  EVP_DecryptInit_ex: INIT,
  EVP_DecryptUpdate: UPDATE,
  EVP_DecryptFinal_ex: FINAL,
} as const satisfies Deno.ForeignLibraryInterface;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

// EVP_CTRL_AEAD_* from <openssl/evp.h>; the GCM names are aliases.
const EVP_CTRL_AEAD_SET_IVLEN = 0x9;
const EVP_CTRL_AEAD_GET_TAG = 0x10;
const EVP_CTRL_AEAD_SET_TAG = 0x11;
const OPENSSL_VERSION = 0;

/** A loaded libcrypto, shared by every context in the process. */
interface Library {
  /** Kept so that the library stays loaded. */
  readonly dylib: Deno.DynamicLibrary<typeof SYMBOLS>;
  readonly symbols: Symbols;
  /** The name or path that loaded. */
  readonly path: string;
  /** Such as `OpenSSL 3.0.19`. */
  readonly version: string;
}

const loaded = new Map<string, Library>();

function openLibrary(libraryPath: string | undefined): Library {
  const names = libraryPath === undefined
    ? LIBCRYPTO_LIBRARY_NAMES
    : [libraryPath];
  const key = names.join("\0");
  const cached = loaded.get(key);
  if (cached !== undefined) return cached;
  // Never prompt: a script without FFI permission gets the fallback.
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    throw new LibcryptoUnavailableError(
      "Cannot load libcrypto: FFI is not permitted, run with --allow-ffi (or -P)",
      { tried: names },
    );
  }
  const errors: unknown[] = [];
  for (const path of names) {
    try {
      const dylib = Deno.dlopen(path, SYMBOLS);
      const symbols = dylib.symbols;
      const text = symbols.OpenSSL_version(OPENSSL_VERSION);
      const full = text === null
        ? "OpenSSL"
        : Deno.UnsafePointerView.getCString(text);
      // "OpenSSL 3.0.19 27 Jan 2026" -> "OpenSSL 3.0.19"
      const version = /^\S+ \S+/.exec(full)?.[0] ?? full;
      const library = { dylib, symbols, path, version };
      loaded.set(key, library);
      return library;
    } catch (err) {
      errors.push(err);
    }
  }
  throw new LibcryptoUnavailableError(
    `Cannot load libcrypto (tried ${
      names.join(", ")
    }): install it with ${LIBCRYPTO_INSTALL_COMMAND}`,
    { tried: names, cause: new AggregateError(errors) },
  );
}

/** Contexts of instances that were dropped without `close`. */
const contexts = new FinalizationRegistry<
  { free: Symbols["EVP_CIPHER_CTX_free"]; ctx: Deno.PointerObject }
>(({ free, ctx }) => free(ctx));

/** Options for {@linkcode LibcryptoGcm}. */
export interface LibcryptoGcmOptions {
  /**
   * The one libcrypto file or name to load, instead of the usual names.
   *
   * @default {undefined}
   */
  libraryPath?: string;
  /**
   * Bytes of IV. 12 is the only length a datagram uses; others exist for
   * the published test vectors.
   *
   * @default {12}
   */
  ivLength?: number;
}

const EMPTY = new Uint8Array(0);
/** Views kept per packet buffer: two per datagram of a batch of 128. */
const MAX_VIEWS = 256;

/**
 * One AES-256 key's GCM through libcrypto, under a caller-given IV. This
 * is the raw cipher behind `createAead`, which builds the IV from a stream
 * id and a packet counter; use that instead, since an IV used twice under
 * one key gives the key away.
 *
 * @example Sealing and opening in place
 * ```ts
 * import { LibcryptoGcm } from "./libcrypto.ts";
 * const gcm = new LibcryptoGcm(new Uint8Array(32));
 * const iv = new Uint8Array(12);
 * const packet = new Uint8Array([1, 2, 3, 4, 5, ...new Uint8Array(16)]);
 * gcm.seal(iv, packet, 0, 2, 3); // header 01 02, payload 03 04 05, then the tag
 * console.log(gcm.open(iv, packet, 0, 2, 3), packet.subarray(0, 5)); // true 1 2 3 4 5
 * gcm.close();
 * ```
 */
export class LibcryptoGcm implements GcmBackend {
  /** The libcrypto version, such as `OpenSSL 3.0.19`. */
  readonly version: string;
  /** The library name or path that loaded. */
  readonly path: string;
  #symbols: Symbols;
  #encrypt: Deno.PointerObject | null;
  #decrypt: Deno.PointerObject | null;
  #outLength = new Int32Array(1);
  #tag = new Uint8Array(TAG_BYTES);
  #header: Uint8Array = EMPTY;
  #payload: Uint8Array = EMPTY;
  #headerStart = -1;
  #payloadStart = -1;
  // Views into packet buffers at the offsets used so far, so that a buffer
  // reused for datagram after datagram (or a batch of them, as for
  // sendmmsg) costs no new objects.
  #buffer: Uint8Array | undefined;
  #offsets: Map<number, Uint8Array> = new Map();
  #buffers = new WeakMap<Uint8Array, Map<number, Uint8Array>>();

  /**
   * Loads libcrypto (once per process) and sets `key` into a sealing and an
   * opening context.
   *
   * @param key The 32-byte AES-256 key.
   * @param options The library to load and the IV length.
   * @throws {LibcryptoUnavailableError} When libcrypto cannot be loaded.
   */
  constructor(key: Uint8Array, options: LibcryptoGcmOptions = {}) {
    if (key.length !== KEY_BYTES) {
      throw new RangeError(
        `Cannot use a ${key.length}-byte key: AES-256 needs ${KEY_BYTES}`,
      );
    }
    const ivLength = options.ivLength ?? 12;
    const library = openLibrary(options.libraryPath);
    this.version = library.version;
    this.path = library.path;
    this.#symbols = library.symbols;
    this.#encrypt = this.#context(
      key,
      ivLength,
      library.symbols.EVP_EncryptInit_ex,
    );
    try {
      this.#decrypt = this.#context(
        key,
        ivLength,
        library.symbols.EVP_DecryptInit_ex,
      );
    } catch (err) {
      this.#free(this.#encrypt);
      throw err;
    }
  }

  #context(
    key: Uint8Array,
    ivLength: number,
    init: Symbols["EVP_EncryptInit_ex"],
  ): Deno.PointerObject {
    const s = this.#symbols;
    const ctx = s.EVP_CIPHER_CTX_new();
    if (ctx === null) {
      throw new Error("Cannot make a libcrypto context: out of memory");
    }
    const ok = init(ctx, s.EVP_aes_256_gcm(), null, null, null) === 1 &&
      s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, ivLength, null) ===
        1 &&
      init(ctx, null, null, key, null) === 1;
    if (!ok) {
      s.EVP_CIPHER_CTX_free(ctx);
      throw new Error(
        `Cannot set up AES-256-GCM in libcrypto (IV of ${ivLength} bytes)`,
      );
    }
    contexts.register(this, { free: s.EVP_CIPHER_CTX_free, ctx }, ctx);
    return ctx;
  }

  #free(ctx: Deno.PointerObject | null): void {
    if (ctx === null) return;
    contexts.unregister(ctx);
    this.#symbols.EVP_CIPHER_CTX_free(ctx);
  }

  #views(packet: Uint8Array, start: number, headerLength: number): void {
    const payloadStart = start + headerLength;
    // The usual case: the same buffer and layout as the last datagram.
    if (
      packet === this.#buffer && start === this.#headerStart &&
      payloadStart === this.#payloadStart
    ) return;
    this.#header = this.#viewAt(packet, start);
    this.#payload = this.#viewAt(packet, payloadStart);
    this.#headerStart = start;
    this.#payloadStart = payloadStart;
  }

  #viewAt(packet: Uint8Array, offset: number): Uint8Array {
    if (packet !== this.#buffer) {
      let offsets = this.#buffers.get(packet);
      if (offsets === undefined) {
        offsets = new Map();
        this.#buffers.set(packet, offsets);
      }
      this.#buffer = packet;
      this.#offsets = offsets;
    }
    if (offset === 0) return packet;
    let view = this.#offsets.get(offset);
    if (view === undefined) {
      if (this.#offsets.size >= MAX_VIEWS) this.#offsets.clear();
      view = packet.subarray(offset);
      this.#offsets.set(offset, view);
    }
    return view;
  }

  /**
   * Encrypts the payload in place and writes the tag after it.
   *
   * @param iv The IV, of the length the instance was made for.
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
    const ctx = this.#encrypt;
    if (ctx === null) throw new TypeError("Cannot seal: the cipher is closed");
    const s = this.#symbols;
    const out = this.#outLength;
    this.#views(packet, start, headerLength);
    let ok = s.EVP_EncryptInit_ex(ctx, null, null, null, iv);
    if (headerLength > 0) {
      ok &= s.EVP_EncryptUpdate(ctx, null, out, this.#header, headerLength);
    }
    if (payloadLength > 0) {
      const payload = this.#payload;
      ok &= s.EVP_EncryptUpdate(ctx, payload, out, payload, payloadLength);
    }
    ok &= s.EVP_EncryptFinal_ex(ctx, this.#tag, out);
    ok &= s.EVP_CIPHER_CTX_ctrl(
      ctx,
      EVP_CTRL_AEAD_GET_TAG,
      TAG_BYTES,
      this.#tag,
    );
    if (ok !== 1) throw new Error("Cannot seal: libcrypto failed");
    packet.set(this.#tag, start + headerLength + payloadLength);
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
    const ctx = this.#decrypt;
    if (ctx === null) throw new TypeError("Cannot open: the cipher is closed");
    const s = this.#symbols;
    const out = this.#outLength;
    const tag = this.#tag;
    const tagStart = start + headerLength + payloadLength;
    for (let i = 0; i < TAG_BYTES; i++) tag[i] = packet[tagStart + i]!;
    this.#views(packet, start, headerLength);
    let ok = s.EVP_DecryptInit_ex(ctx, null, null, null, iv);
    ok &= s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_BYTES, tag);
    if (headerLength > 0) {
      ok &= s.EVP_DecryptUpdate(ctx, null, out, this.#header, headerLength);
    }
    if (payloadLength > 0) {
      const payload = this.#payload;
      ok &= s.EVP_DecryptUpdate(ctx, payload, out, payload, payloadLength);
    }
    // Final returns 0 when the tag does not match.
    ok &= s.EVP_DecryptFinal_ex(ctx, tag, out) > 0 ? 1 : 0;
    if (ok === 1) return true;
    packet.fill(0, start + headerLength, tagStart);
    return false;
  }

  /** Frees both contexts. Calling it again does nothing. */
  close(): void {
    this.#free(this.#encrypt);
    this.#free(this.#decrypt);
    this.#encrypt = null;
    this.#decrypt = null;
    this.#buffer = undefined;
    this.#headerStart = -1;
    this.#payloadStart = -1;
    this.#offsets = new Map();
    this.#buffers = new WeakMap();
    this.#header = EMPTY;
    this.#payload = EMPTY;
  }
}
