/**
 * What the command-line scripts share: flag parsing that fails in one line,
 * number flags with ranges, and a main wrapper that turns errors into one
 * line and an exit code instead of a stack trace.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";

/**
 * A mistake on the command line. {@linkcode runMain} prints its message and
 * exits with code 2.
 *
 * @example Usage
 * ```ts
 * import { UsageError } from "./cli.ts";
 * console.log(new UsageError("--count must be a positive integer, got 'x'").name);
 * ```
 */
export class UsageError extends Error {
  /**
   * @param message What was wrong and what to do.
   * @param options An optional cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** Options for {@linkcode parseFlags}. */
export interface ParseFlagsOptions {
  /**
   * What the script takes besides flags, such as `"IMAGE ..."`, for its
   * messages; without it, any argument that is not a flag is refused.
   *
   * @default {undefined}
   */
  positionals?: string;
}

/**
 * Parses `args` with `node:util`'s `parseArgs` and checks what it let
 * through, so that every mistake is a {@linkcode UsageError} of one line
 * that names the flag and points at `--help`: an unknown flag (with the
 * nearest known one), a flag with no value or an empty one, a value given to
 * a switch, a flag given twice that takes one value (or one that takes
 * several given the same value twice), an argument the script does not
 * take. A negative number after a flag is its value
 * (`--port -1`), so that the flag's own check can say what range it takes.
 *
 * @param args The arguments, such as `Deno.args`.
 * @param flags The flags: a `parseArgs` options map.
 * @param options What else the script takes.
 * @returns The parsed values and positionals.
 * @throws {UsageError} For any of the mistakes above.
 *
 * @example Usage
 * ```ts
 * import { parseFlags } from "./cli.ts";
 * const { values } = parseFlags(["--port", "9999"], { port: { type: "string" } });
 * console.log(values.port); // "9999"
 * ```
 *
 * @example A mistake
 * ```ts
 * import { parseFlags } from "./cli.ts";
 * try {
 *   parseFlags(["--prot", "9999"], { port: { type: "string" } });
 * } catch (error) {
 *   console.log((error as Error).message); // "Unknown option --prot (did you mean --port?); see --help"
 * }
 * ```
 */
export function parseFlags<O extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  flags: O,
  options: ParseFlagsOptions = {},
): ReturnType<
  typeof parseArgs<
    { args: string[]; options: O; allowPositionals: true; strict: true }
  >
> {
  let parsed;
  try {
    // Not strict: parseArgs's own messages are several sentences and do not
    // say what to do; the tokens let us say it in one line.
    parsed = parseArgs({
      args,
      options: flags,
      allowPositionals: true,
      strict: false,
      tokens: true,
    });
  } catch (error) {
    const message = errorLine(error).replace(/\.+$/, "").replace(/\.\s/g, "; ");
    throw new UsageError(`${message}; see --help`, { cause: error });
  }
  checkTokens(parsed.tokens, flags, options);
  return {
    values: parsed.values,
    positionals: parsed.positionals,
  } as ReturnType<typeof parseFlags<O>>;
}

type Token = NonNullable<ReturnType<typeof parseArgs>["tokens"]>[number];

function checkTokens(
  tokens: readonly Token[],
  flags: NonNullable<ParseArgsConfig["options"]>,
  options: ParseFlagsOptions,
): void {
  const seen = new Map<string, string>();
  for (const token of tokens) {
    if (token.kind === "positional") {
      if (options.positionals !== undefined) {
        if (token.value.trim() !== "") continue;
        throw new UsageError(
          `An argument is empty; give ${options.positionals} or drop it (see --help)`,
        );
      }
      throw new UsageError(
        `Unexpected argument '${token.value}': this script takes only flags; see --help`,
      );
    }
    if (token.kind !== "option") continue;
    const flag = Object.hasOwn(flags, token.name)
      ? flags[token.name]
      : undefined;
    const raw = token.rawName;
    if (flag === undefined) {
      const near = nearestFlag(token.name, Object.keys(flags));
      throw new UsageError(
        `Unknown option ${raw}${
          near === undefined ? "" : ` (did you mean --${near}?)`
        }; see --help`,
      );
    }
    if (flag.type === "boolean") {
      if (token.value !== undefined) {
        throw new UsageError(
          `${raw} takes no value, got '${raw}=${token.value}'; write ${raw} alone (see --help)`,
        );
      }
      continue;
    }
    const value = token.value;
    if (value === undefined) {
      throw new UsageError(`${raw} needs a value; see --help`);
    }
    if (!token.inlineValue && /^-(?![\d.]|$)/.test(value)) {
      throw new UsageError(
        `${raw} needs a value, got the option '${value}'; give ${raw} a value, or write ${raw}=${value} if that is the value`,
      );
    }
    if (value.trim() === "") {
      throw new UsageError(`${raw} is empty; give it a value (see --help)`);
    }
    const key = flag.multiple ? `${token.name}=${value}` : token.name;
    const before = seen.get(key);
    if (before !== undefined) {
      throw new UsageError(
        flag.multiple
          ? `${raw} ${value} is given twice; give each value once`
          : `${raw} is given twice ('${before}' and '${value}'); give it once`,
      );
    }
    seen.set(key, value);
  }
}

/** The known flag nearest `name`, by edit distance or prefix, if any is near. */
function nearestFlag(name: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = candidate.startsWith(name) && name.length >= 3
      ? 0.5
      : editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.min(2, Math.floor(name.length / 3))
    ? best
    : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The longest delay `setTimeout` takes: 2^31 − 1 ms, about 24.8 days. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Bounds for {@linkcode intFlag}. */
export interface IntRange {
  /** The smallest value allowed. @default {0} */
  min?: number;
  /** The largest value allowed. @default {Number.MAX_SAFE_INTEGER} */
  max?: number;
}

/**
 * Reads an integer flag, with bounds.
 *
 * @param name The flag's name, without dashes, for the message.
 * @param value The flag's text, or `undefined` when not given.
 * @param fallback The value when not given.
 * @param range Bounds.
 * @returns The integer.
 *
 * @example Usage
 * ```ts
 * import { intFlag } from "./cli.ts";
 * console.log(intFlag("port", "9999", 9999, { max: 65535 })); // 9999
 * ```
 */
export function intFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  range: IntRange = {},
): number {
  if (value === undefined) return fallback;
  const min = range.min ?? 0;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const number = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    const bounds = max === Number.MAX_SAFE_INTEGER
      ? `at least ${min}`
      : `from ${min} to ${max}`;
    throw new UsageError(
      `--${name} must be an integer ${bounds}, got '${value}'`,
    );
  }
  return number;
}

/**
 * Reads a positive decimal flag, such as minutes.
 *
 * @param name The flag's name, without dashes, for the message.
 * @param value The flag's text, or `undefined` when not given.
 * @param fallback The value when not given.
 * @returns The number, finite and above 0.
 *
 * @example Usage
 * ```ts
 * import { positiveNumberFlag } from "./cli.ts";
 * console.log(positiveNumberFlag("record-segment", "0.5", Infinity)); // 0.5
 * ```
 */
export function positiveNumberFlag(
  name: string,
  value: string | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const number = decimal(value);
  if (!Number.isFinite(number) || number <= 0) {
    throw new UsageError(
      `--${name} must be a number above 0, such as 0.5 or 10, got '${value}'`,
    );
  }
  return number;
}

/** A plain decimal such as `2.5` or `.5`, or NaN: no sign, exponent or hex. */
function decimal(text: string): number {
  return /^\s*\+?(\d+\.?\d*|\.\d+)\s*$/.test(text) ? Number(text) : NaN;
}

/** Bounds for {@linkcode numberFlag}. */
export interface NumberRange {
  /** The smallest value allowed. */
  min: number;
  /** The largest value allowed. */
  max: number;
  /** What the number counts, for the message, such as `"Mbit/s"`. */
  unit?: string;
}

/**
 * Reads a decimal flag, such as a rate, within bounds. It takes plain
 * decimals only (`2.5`, `.5`), not `1e3` or `0x10`.
 *
 * @param name The flag's name, without dashes, for the message.
 * @param value The flag's text, or `undefined` when not given.
 * @param fallback The value when not given.
 * @param range Bounds, inclusive, and the unit.
 * @returns The number.
 * @throws {UsageError} When the text is not a decimal within bounds.
 *
 * @example Usage
 * ```ts
 * import { numberFlag } from "./cli.ts";
 * console.log(numberFlag("rate", "2.5", 0, { min: 0.1, max: 100_000 })); // 2.5
 * ```
 */
export function numberFlag<F>(
  name: string,
  value: string | undefined,
  fallback: F,
  range: NumberRange,
): number | F {
  if (value === undefined) return fallback;
  const number = decimal(value);
  if (!(number >= range.min && number <= range.max)) {
    throw new UsageError(
      `--${name} must be a number from ${range.min} to ${range.max}${
        range.unit === undefined ? "" : ` (${range.unit})`
      }, got '${value}'`,
    );
  }
  return number;
}

/**
 * Reads a flag that must be one of a few words.
 *
 * @param name The flag's name, without dashes.
 * @param value The flag's text, or `undefined` when not given.
 * @param choices The allowed words; the first is the default.
 * @returns The word.
 *
 * @example Usage
 * ```ts
 * import { choiceFlag } from "./cli.ts";
 * console.log(choiceFlag("encode", "png", ["jpg", "png"] as const)); // "png"
 * ```
 */
export function choiceFlag<const T extends string>(
  name: string,
  value: string | undefined,
  choices: readonly [T, ...T[]],
): T {
  if (value === undefined) return choices[0];
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new UsageError(
    `--${name} must be one of ${choices.join(", ")}, got '${value}'`,
  );
}

/**
 * Turns any error into one line for a user. An error thrown while an
 * `await using` resource was closing after another error (a
 * `SuppressedError`, whose own message is only "An error was suppressed
 * during disposal") gives the first error, then the one on closing.
 *
 * @param error What was thrown.
 * @returns Its message on one line.
 *
 * @example Usage
 * ```ts
 * import { errorLine } from "./cli.ts";
 * console.log(errorLine(new Error("Cannot read x.jpg:\nNo such file"))); // "Cannot read x.jpg: No such file"
 * ```
 */
export function errorLine(error: unknown): string {
  if (error instanceof SuppressedError) {
    return `${errorLine(error.suppressed)} (then, on closing: ${
      errorLine(error.error)
    })`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\n\s*/g, " ").trim();
}

/**
 * Runs a script's main function. A thrown error is printed as one line,
 * `error: …`, and the process exits with 2 for a {@linkcode UsageError} and
 * 1 otherwise; set `UDPIMG_DEBUG=1` to see the stack as well.
 *
 * @param main The script's body; its result is the exit code.
 * @returns Never: it exits.
 *
 * @example Usage
 * ```ts ignore
 * import { runMain } from "./cli.ts";
 * await runMain(async () => {
 *   console.log("hello");
 *   return 0;
 * });
 * ```
 */
export async function runMain(
  main: () => Promise<number | void>,
): Promise<never> {
  let code: number;
  try {
    code = (await main()) ?? 0;
  } catch (error) {
    console.error(`error: ${errorLine(error)}`);
    if (Deno.env.get("UDPIMG_DEBUG")) console.error(error);
    const first = error instanceof SuppressedError ? error.suppressed : error;
    code = first instanceof UsageError ? 2 : 1;
  }
  Deno.exit(code);
}

/**
 * Calls `handler` on Ctrl-C and on SIGTERM, where the platform has it. A
 * second signal exits at once with code 130, for a shutdown that hangs.
 *
 * @param handler What to do; called once per signal.
 * @returns A function that removes the listeners.
 *
 * @example Usage
 * ```ts ignore
 * import { onShutdown } from "./cli.ts";
 * const remove = onShutdown(() => console.log("bye"));
 * remove();
 * ```
 */
export function onShutdown(handler: () => void): () => void {
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    : ["SIGINT", "SIGTERM"];
  let received = 0;
  const listener = () => {
    if (received++ > 0) Deno.exit(130);
    handler();
  };
  for (const signal of signals) Deno.addSignalListener(signal, listener);
  return () => {
    for (const signal of signals) Deno.removeSignalListener(signal, listener);
  };
}

/**
 * A rate limit for log lines, so that a flood of bad datagrams cannot flood
 * the terminal: at most `perSecond` lines a second, then one line that says
 * how many were held back.
 *
 * @example Usage
 * ```ts
 * import { LogLimiter } from "./cli.ts";
 * const log = new LogLimiter(2);
 * for (let i = 0; i < 5; i++) log.line(`line ${i}`, 0);
 * ```
 */
export class LogLimiter {
  readonly #perSecond: number;
  readonly #write: (line: string) => void;
  #windowStart = -Infinity;
  #count = 0;
  #suppressed = 0;

  /**
   * @param perSecond Lines allowed a second.
   * @param write Where lines go. @default console.log
   */
  constructor(
    perSecond: number,
    write: (line: string) => void = console.log,
  ) {
    this.#perSecond = perSecond;
    this.#write = write;
  }

  /**
   * Writes a line unless the limit is reached.
   *
   * @param text The line.
   * @param nowMs The current time in ms. @default performance.now()
   */
  line(text: string, nowMs: number = performance.now()): void {
    if (nowMs - this.#windowStart >= 1000) {
      this.flush();
      this.#windowStart = nowMs;
      this.#count = 0;
    }
    if (this.#count++ < this.#perSecond) this.#write(text);
    else this.#suppressed++;
  }

  /** Says how many lines were held back, if any. */
  flush(): void {
    if (this.#suppressed > 0) {
      this.#write(`(${this.#suppressed} more lines like these suppressed)`);
      this.#suppressed = 0;
    }
  }
}
