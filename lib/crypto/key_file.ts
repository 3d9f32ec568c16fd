/**
 * Key files: one line of base64 holding 32 random bytes, the key both ends
 * of a sealed stream share, written with mode 0600.
 *
 * ```
 * $ deno task keygen stream.key
 * $ cat stream.key
 * 3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
 * ```
 *
 * @module
 */

import { KEY_BYTES } from "./_backend.ts";
import { fileErrorReason } from "../_file_error.ts";

/** The environment variable that names a key file when no flag does. */
export const KEY_FILE_ENV = "UDPIMG_KEY_FILE";

/** Characters of a key's base64 line: 32 bytes take 44. */
const KEY_CHARS = 4 * Math.ceil(KEY_BYTES / 3);
/** Larger files are not read at all: a key file is one short line. */
const MAX_FILE_BYTES = 1024;
const KEYGEN = "deno task keygen";

/**
 * Makes a new random 256-bit key.
 *
 * @returns 32 bytes from the system's secure random source.
 *
 * @example Usage
 * ```ts
 * import { generateKey } from "./key_file.ts";
 * console.log(generateKey().length); // 32
 * ```
 */
export function generateKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(KEY_BYTES));
}

/**
 * The text of a key file: the key in base64 and a newline.
 *
 * @param key 32 bytes.
 * @returns 45 characters.
 *
 * @example Usage
 * ```ts
 * import { formatKey } from "./key_file.ts";
 * console.log(formatKey(new Uint8Array(32))); // "AAAA…AAA=\n"
 * ```
 */
export function formatKey(key: Uint8Array): string {
  if (key.length !== KEY_BYTES) {
    throw new RangeError(
      `Cannot format a ${key.length}-byte key: expected ${KEY_BYTES}`,
    );
  }
  return `${btoa(String.fromCharCode(...key))}\n`;
}

/**
 * Reads a key from a key file's text. Throws an `Error` whose one-line
 * message says what is wrong with it and what to do.
 *
 * @param text The file's text.
 * @param name How to name the file in messages.
 * @returns The 32 key bytes.
 *
 * @example Usage
 * ```ts
 * import { parseKey } from "./key_file.ts";
 * console.log(parseKey("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").length); // 32
 * try {
 *   parseKey("AAAA\n", "k.key");
 * } catch (err) {
 *   console.log((err as Error).message); // Key file k.key is too short: …
 * }
 * ```
 */
export function parseKey(text: string, name = "key"): Uint8Array {
  const fix = `make a new key with ${KEYGEN} FILE and give it to both ends`;
  const line = text.replace(/\r?\n$/, "");
  const what = `Key file ${name}`;
  if (line.trim() === "") {
    throw new Error(`${what} is empty; ${fix}`);
  }
  if (/[\r\n]/.test(line)) {
    throw new Error(
      `${what} is malformed: it has more than one line, a key file has one; ${fix}`,
    );
  }
  const trimmed = line.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) {
    throw new Error(
      `${what} is malformed: it holds hex, a key file holds base64; ${fix}`,
    );
  }
  const bad = /[^A-Za-z0-9+/=]/u.exec(trimmed);
  if (bad !== null) {
    // Named by code point unless printable ASCII: a line separator, a
    // no-break space or a BOM would not show, or would break the line.
    const char = bad[0];
    const shown = /^[ -~]$/.test(char)
      ? JSON.stringify(char)
      : `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
    throw new Error(
      `${what} is malformed: ${shown} at column ${
        bad.index + 1
      } is not base64; ${fix}`,
    );
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed) || trimmed.length % 4 !== 0) {
    throw new Error(
      `${what} is malformed: its base64 is cut short or badly padded; ${fix}`,
    );
  }
  const binary = atob(trimmed);
  if (binary.length !== KEY_BYTES) {
    throw new Error(
      `${what} is too ${
        binary.length < KEY_BYTES ? "short" : "long"
      }: it holds ${binary.length} bytes, a key is ${KEY_BYTES} (${KEY_CHARS} base64 characters); ${fix}`,
    );
  }
  const key = new Uint8Array(KEY_BYTES);
  for (let i = 0; i < KEY_BYTES; i++) key[i] = binary.charCodeAt(i);
  return key;
}

/**
 * Writes a new key file with mode 0600. Refuses to replace a file that
 * exists, so a key in use is never lost.
 *
 * @param path Where to write.
 * @param key The key. @default {generateKey()}
 *
 * @example Usage
 * ```ts
 * import { readKeyFile, writeKeyFile } from "./key_file.ts";
 * const dir = await Deno.makeTempDir();
 * await writeKeyFile(`${dir}/stream.key`);
 * console.log((await readKeyFile(`${dir}/stream.key`)).length); // 32
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeKeyFile(
  path: string,
  key: Uint8Array = generateKey(),
): Promise<void> {
  const text = new TextEncoder().encode(formatKey(key));
  try {
    await Deno.writeFile(path, text, { createNew: true, mode: 0o600 });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      throw new Error(
        `Key file ${path} already exists; not replacing it (remove it first, or choose another name)`,
        { cause: err },
      );
    }
    throw new Error(
      `Cannot write key file ${path}: ${
        fileErrorReason(err, { writing: true })
      }`,
      { cause: err },
    );
  }
  // The umask may have taken bits away; 0600 exactly is what ssh expects.
  if (Deno.build.os !== "windows") await Deno.chmod(path, 0o600);
}

/** Reads up to `limit` bytes of a file: a file that grows stays bounded. */
async function readAtMost(path: string, limit: number): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  const bytes = new Uint8Array(limit);
  let length = 0;
  while (length < limit) {
    const n = await file.read(bytes.subarray(length));
    if (n === null) break;
    length += n;
  }
  return bytes.subarray(0, length);
}

/** Options for {@linkcode readKeyFile}. */
export interface ReadKeyFileOptions {
  /**
   * Where the path came from, for messages: such as `--key-file` or
   * `UDPIMG_KEY_FILE`.
   *
   * @default {undefined}
   */
  from?: string;
  /**
   * Where a warning line goes: a key file that others may read.
   *
   * @default {console.error}
   */
  warn?: (line: string) => void;
}

/**
 * Reads a key file. Throws an `Error` with a one-line message when it is
 * missing, unreadable, empty, too short, too long or malformed, and warns
 * (as ssh does) when its group or others may access it.
 *
 * @param path The key file.
 * @param options Where the path came from, and where warnings go.
 * @returns The 32 key bytes.
 *
 * @example A missing file
 * ```ts
 * import { readKeyFile } from "./key_file.ts";
 * await readKeyFile("/nonexistent.key").catch((err) => console.log(err.message));
 * // Cannot read key file /nonexistent.key: no such file; make one with: deno task keygen /nonexistent.key
 * ```
 */
export async function readKeyFile(
  path: string,
  options: ReadKeyFileOptions = {},
): Promise<Uint8Array> {
  const where = options.from === undefined
    ? path
    : `${path} (from ${options.from})`;
  if (path === "") {
    throw new Error(
      `Key file path${
        options.from === undefined ? "" : ` from ${options.from}`
      } is empty; name the file, or make one with: ${KEYGEN} FILE`,
    );
  }
  const cannotRead = (err: unknown): Error => {
    const fix = err instanceof Deno.errors.NotFound
      ? `make one with: ${KEYGEN} ${path}`
      : `fix its permissions, or make a new key with ${KEYGEN} FILE`;
    return new Error(
      `Cannot read key file ${where}: ${fileErrorReason(err)}; ${fix}`,
      { cause: err },
    );
  };
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    throw cannotRead(err);
  }
  // Checked before opening: opening a FIFO would block.
  if (!info.isFile) {
    throw new Error(
      `Cannot read key file ${where}: it is not a regular file; pass the key file itself (make one with ${KEYGEN} FILE)`,
    );
  }
  if (info.size > MAX_FILE_BYTES) {
    throw new Error(
      `Key file ${where} is too long: ${info.size} bytes, a key file is one line of ${KEY_CHARS} characters; is it the right file?`,
    );
  }
  if (
    info.mode !== null && Deno.build.os !== "windows" &&
    (info.mode & 0o077) !== 0
  ) {
    const octal = (info.mode & 0o7777).toString(8).padStart(4, "0");
    (options.warn ?? console.error)(
      `warning: permissions ${octal} for ${path} are too open; chmod 600 ${path}`,
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = await readAtMost(path, MAX_FILE_BYTES + 1);
  } catch (err) {
    throw cannotRead(err);
  }
  if (bytes.length > MAX_FILE_BYTES) {
    throw new Error(
      `Key file ${where} is too long: more than ${MAX_FILE_BYTES} bytes, a key file is one line of ${KEY_CHARS} characters; is it the right file?`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Error(
      `Key file ${where} is malformed: it is not text, a key file is one line of base64; make a new key with ${KEYGEN} FILE and give it to both ends`,
    );
  }
  return parseKey(text, where);
}

/** Options for {@linkcode loadKey}. */
export interface LoadKeyOptions {
  /**
   * The `--key-file` flag's value, if given. It wins over the environment.
   *
   * @default {undefined}
   */
  keyFile?: string | undefined;
  /**
   * The value of `UDPIMG_KEY_FILE`, if set; an empty value counts as
   * unset.
   *
   * @default {undefined}
   */
  envKeyFile?: string | undefined;
  /**
   * Where a warning line goes.
   *
   * @default {console.error}
   */
  warn?: (line: string) => void;
}

/** A key that was loaded, and from where. */
export interface LoadedKey {
  /** The 32 key bytes. */
  readonly key: Uint8Array;
  /** The key file. */
  readonly path: string;
  /** What named it: `--key-file` or `UDPIMG_KEY_FILE`. */
  readonly from: "--key-file" | typeof KEY_FILE_ENV;
}

/**
 * Loads the key named by `--key-file` or, failing that, by
 * `UDPIMG_KEY_FILE`. Returns `undefined` when neither names one (the
 * caller decides whether it can run unsealed); throws an `Error` with a
 * one-line message for a key file that is missing, unreadable or bad.
 *
 * @param options The flag's and the variable's values.
 * @returns The key and where it came from, or `undefined`.
 *
 * @example Usage
 * ```ts
 * import { loadKey } from "./key_file.ts";
 * const loaded = await loadKey({
 *   keyFile: undefined,
 *   envKeyFile: Deno.env.get("UDPIMG_KEY_FILE"),
 * });
 * console.log(loaded === undefined ? "unsealed" : `sealed with ${loaded.path}`);
 * ```
 */
export async function loadKey(
  options: LoadKeyOptions,
): Promise<LoadedKey | undefined> {
  const { keyFile, envKeyFile } = options;
  const warn = options.warn ?? console.error;
  if (keyFile !== undefined) {
    const key = await readKeyFile(keyFile, { from: "--key-file", warn });
    return { key, path: keyFile, from: "--key-file" };
  }
  if (envKeyFile !== undefined && envKeyFile !== "") {
    const key = await readKeyFile(envKeyFile, { from: KEY_FILE_ENV, warn });
    return { key, path: envKeyFile, from: KEY_FILE_ENV };
  }
  return undefined;
}
