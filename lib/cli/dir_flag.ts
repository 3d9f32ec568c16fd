/**
 * Makes the directory that a flag such as `--out DIR` or `--record DIR`
 * names, and checks that files can be written in it, before the server
 * takes its first frame: a path that is a file, or a directory it may not
 * write, is one line at start rather than a warning per frame lost later.
 *
 * @module
 */

import { fileErrorReason } from "../_file_error.ts";

/**
 * Makes `path` (and its parents) if missing, and checks that a file can be
 * made in it.
 *
 * @param name The flag's name, without dashes.
 * @param path The directory.
 * @returns Nothing; resolves once the directory is usable.
 * @throws {Error} With a one-line message that names the flag, the path and
 * what to do.
 *
 * @example Usage
 * ```ts
 * import { writableDirFlag } from "./dir_flag.ts";
 * const dir = await Deno.makeTempDir();
 * await writableDirFlag("out", `${dir}/frames`);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writableDirFlag(
  name: string,
  path: string,
): Promise<void> {
  const fail = (what: string, error: unknown): never => {
    throw new Error(`--${name} ${path}: ${what}`, { cause: error });
  };
  try {
    await Deno.mkdir(path, { recursive: true });
  } catch (error) {
    const isFile = error instanceof Deno.errors.AlreadyExists ||
      error instanceof Deno.errors.NotADirectory;
    fail(
      isFile
        ? "it or a part of it is a file, not a directory; name a directory (it is made if missing)"
        : `cannot make the directory: ${
          fileErrorReason(error, { writing: true })
        }${advice(error)}`,
      error,
    );
  }
  let probe: string | undefined;
  try {
    probe = await Deno.makeTempFile({ dir: path, prefix: ".udpimg-probe-" });
  } catch (error) {
    const reason = fileErrorReason(error, { writing: true });
    fail(`cannot write files in it (${reason})${advice(error)}`, error);
  } finally {
    if (probe !== undefined) await Deno.remove(probe).catch(() => {});
  }
}

/**
 * What to do after the reason: a Deno permission that is missing is given
 * by a flag, which the reason names, not by choosing another directory.
 */
function advice(error: unknown): string {
  return error instanceof Deno.errors.NotCapable
    ? ""
    : "; choose a directory you can write to";
}
