/**
 * The command line of a benchmark script, written once: its flags checked
 * by `lib/cli`'s `parseFlags` (one line for any mistake, exit 2), `--help`
 * printing its usage, and any error one line.
 *
 * @module
 */

import type { ParseArgsConfig } from "node:util";
import { parseFlags, runMain } from "../lib/cli/cli.ts";

type Flags = NonNullable<ParseArgsConfig["options"]>;
const HELP_FLAG = { help: { type: "boolean", default: false } } as const;

/**
 * Runs a benchmark's main: parses `Deno.args` against `flags` and `--help`,
 * prints `help` and exits 0 for `--help`, else calls `main` with the
 * values; exits with its code (0 when it returns nothing), 2 for a usage
 * mistake, 1 for any other error, each said in one line.
 *
 * @param help The usage text.
 * @param flags The flags besides `--help`.
 * @param main The benchmark, given the parsed values.
 * @returns Never: it exits.
 *
 * @example A benchmark that takes --quick
 * ```ts ignore
 * import { benchMain } from "./_cli.ts";
 * await benchMain("Usage: …", { quick: { type: "boolean", default: false } }, async (values) => {
 *   console.log(values.quick);
 * });
 * ```
 */
export function benchMain<O extends Flags>(
  help: string,
  flags: O,
  main: (
    values: ReturnType<typeof parseFlags<O>>["values"],
  ) => Promise<number | void>,
): Promise<never> {
  return runMain(() => {
    const { values } = parseFlags(Deno.args, { ...flags, ...HELP_FLAG });
    if ((values as { help?: boolean }).help) {
      console.log(help);
      return Promise.resolve(0);
    }
    return main(values as ReturnType<typeof parseFlags<O>>["values"]);
  });
}
