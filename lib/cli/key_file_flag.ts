/**
 * The `--key-file FILE` flag that seals a stream, shared by the scripts:
 * its `parseArgs` option, its help line, and loading the key it names (or
 * that `UDPIMG_KEY_FILE` names; the flag wins).
 *
 * @module
 */

import { KEY_FILE_ENV, type LoadedKey, loadKey } from "../crypto/key_file.ts";

/**
 * The flag's `parseArgs` option, to spread into a script's options.
 *
 * @example Usage
 * ```ts
 * import { parseFlags } from "./cli.ts";
 * import { KEY_FILE_OPTION } from "./key_file_flag.ts";
 * const { values } = parseFlags(["--key-file", "stream.key"], { ...KEY_FILE_OPTION });
 * console.log(values["key-file"]); // "stream.key"
 * ```
 */
export const KEY_FILE_OPTION = {
  "key-file": { type: "string" },
} as const;

/**
 * The flag's lines for a script's `--help`, aligned as the scripts align
 * theirs.
 *
 * @example Usage
 * ```ts
 * import { KEY_FILE_HELP } from "./key_file_flag.ts";
 * console.log(`Options:\n${KEY_FILE_HELP}`);
 * ```
 */
export const KEY_FILE_HELP =
  `  --key-file FILE         seal the stream with the key in FILE (default: the
                          file UDPIMG_KEY_FILE names; none: not sealed); make
                          one with: deno task keygen FILE`;

function envKeyFile(): string | undefined {
  try {
    return Deno.env.get(KEY_FILE_ENV);
  } catch {
    // No env permission: only the flag can name a key.
    return undefined;
  }
}

/**
 * Loads the key that `--key-file` names, or else `UDPIMG_KEY_FILE`.
 * Returns `undefined` when neither names one; throws an `Error` with a
 * one-line message (for `runMain`) when the file is missing, unreadable or
 * not a key, and prints a warning line to stderr when others may read it.
 *
 * @param value The flag's value, `values["key-file"]`.
 * @param warn Where a warning line goes. @default {console.error}
 * @returns The key and where it came from, or `undefined`.
 *
 * @example Usage
 * ```ts
 * import { loadKeyFlag } from "./key_file_flag.ts";
 * const loaded = await loadKeyFlag(undefined);
 * console.log(loaded?.path ?? "not sealed");
 * ```
 */
export function loadKeyFlag(
  value: string | undefined,
  warn: (line: string) => void = console.error,
): Promise<LoadedKey | undefined> {
  return loadKey({ keyFile: value, envKeyFile: envKeyFile(), warn });
}
