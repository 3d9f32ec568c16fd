/**
 * `deno task keygen FILE`: writes a new random 256-bit key to FILE, one line
 * of base64 with mode 0600, for `--key-file` (or `UDPIMG_KEY_FILE`) on both
 * ends of a sealed stream. It never replaces a file that exists.
 *
 * @module
 */

import { parseFlags, runMain, UsageError } from "./cli.ts";
import { writeKeyFile } from "../crypto/key_file.ts";

const HELP = `Usage: deno task keygen FILE

Writes a new random 256-bit key to FILE (one line of base64, mode 0600) and
refuses to replace a file that exists. Give the same file to both ends with
--key-file FILE or UDPIMG_KEY_FILE=FILE; copy it only over a channel you
trust (scp, a USB stick), never next to the stream it protects.

Options:
  --help    show this help`;

/**
 * The script's body: parses `args`, writes the key file, says where.
 *
 * @param args The arguments, such as `Deno.args`.
 * @returns The exit code.
 *
 * @example Usage
 * ```ts ignore
 * import { keygen } from "./keygen.ts";
 * await keygen(["stream.key"]);
 * ```
 */
export async function keygen(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    help: { type: "boolean", short: "h", default: false },
  }, { positionals: "FILE" });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      `expected one FILE to write the key to, got ${positionals.length}: deno task keygen FILE`,
    );
  }
  const path = positionals[0]!;
  await writeKeyFile(path);
  console.log(
    `wrote a new 256-bit key to ${path} (mode 0600); use it on both ends with --key-file ${path}`,
  );
  return 0;
}

if (import.meta.main) await runMain(() => keygen(Deno.args));
