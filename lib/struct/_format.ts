/**
 * Compiles a CPython struct format string into a list of field operations,
 * with CPython's native (64-bit Linux) and standard sizes and alignment.
 *
 * @module
 */

import { StructError } from "./_error.ts";

/** What a field op reads and writes. */
export const enum Kind {
  Char,
  Bool,
  Int8,
  Uint8,
  Int16,
  Uint16,
  Int32,
  Uint32,
  Int64,
  Uint64,
  Pointer,
  Half,
  Float,
  Double,
  String,
  Pascal,
}

/**
 * One format item: `repeat` values of `itemSize` bytes from `offset`, or for
 * `s` and `p` one value of `itemSize` bytes.
 */
export interface FieldOp {
  readonly kind: Kind;
  /** The format character, for error messages. */
  readonly char: string;
  readonly offset: number;
  readonly repeat: number;
  readonly itemSize: number;
  readonly littleEndian: boolean;
  /** Integer range, as numbers for fields up to 32 bits. */
  readonly min: number;
  readonly max: number;
  readonly minBig: bigint;
  readonly maxBig: bigint;
  /** Standard `f` raises on overflow; native `f` is a plain C cast. */
  readonly checkOverflow: boolean;
}

/** A compiled format. */
export interface CompiledFormat {
  readonly size: number;
  /** How many values pack takes and unpack returns. */
  readonly itemCount: number;
  readonly ops: readonly FieldOp[];
}

interface Entry {
  readonly kind: Kind | undefined;
  readonly size: number;
  readonly align: number;
}

function entry(kind: Kind | undefined, size: number, align = 0): Entry {
  return { kind, size, align };
}

const NATIVE: Record<string, Entry> = {
  x: entry(undefined, 1),
  c: entry(Kind.Char, 1),
  b: entry(Kind.Int8, 1),
  B: entry(Kind.Uint8, 1),
  "?": entry(Kind.Bool, 1),
  h: entry(Kind.Int16, 2, 2),
  H: entry(Kind.Uint16, 2, 2),
  i: entry(Kind.Int32, 4, 4),
  I: entry(Kind.Uint32, 4, 4),
  l: entry(Kind.Int64, 8, 8),
  L: entry(Kind.Uint64, 8, 8),
  q: entry(Kind.Int64, 8, 8),
  Q: entry(Kind.Uint64, 8, 8),
  n: entry(Kind.Int64, 8, 8),
  N: entry(Kind.Uint64, 8, 8),
  e: entry(Kind.Half, 2, 2),
  f: entry(Kind.Float, 4, 4),
  d: entry(Kind.Double, 8, 8),
  s: entry(Kind.String, 1),
  p: entry(Kind.Pascal, 1),
  P: entry(Kind.Pointer, 8, 8),
};

const STANDARD: Record<string, Entry> = {
  x: entry(undefined, 1),
  c: entry(Kind.Char, 1),
  b: entry(Kind.Int8, 1),
  B: entry(Kind.Uint8, 1),
  "?": entry(Kind.Bool, 1),
  h: entry(Kind.Int16, 2),
  H: entry(Kind.Uint16, 2),
  i: entry(Kind.Int32, 4),
  I: entry(Kind.Uint32, 4),
  l: entry(Kind.Int32, 4),
  L: entry(Kind.Uint32, 4),
  q: entry(Kind.Int64, 8),
  Q: entry(Kind.Uint64, 8),
  e: entry(Kind.Half, 2),
  f: entry(Kind.Float, 4),
  d: entry(Kind.Double, 8),
  s: entry(Kind.String, 1),
  p: entry(Kind.Pascal, 1),
};

const RANGES: Partial<Record<Kind, readonly [bigint, bigint]>> = {
  [Kind.Int8]: [-(2n ** 7n), 2n ** 7n - 1n],
  [Kind.Uint8]: [0n, 2n ** 8n - 1n],
  [Kind.Int16]: [-(2n ** 15n), 2n ** 15n - 1n],
  [Kind.Uint16]: [0n, 2n ** 16n - 1n],
  [Kind.Int32]: [-(2n ** 31n), 2n ** 31n - 1n],
  [Kind.Uint32]: [0n, 2n ** 32n - 1n],
  [Kind.Int64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [Kind.Uint64]: [0n, 2n ** 64n - 1n],
  // PyLong_AsVoidPtr takes both signed and unsigned 64-bit values.
  [Kind.Pointer]: [-(2n ** 63n), 2n ** 64n - 1n],
};

function isSpace(code: number): boolean {
  // Py_ISSPACE: space, \t, \n, \v, \f, \r
  return code === 32 || (code >= 9 && code <= 13);
}

const TOO_LONG = "total struct size too long";

/**
 * Compiles `format` as CPython's `Struct(format)` does.
 *
 * Sizes beyond `Number.MAX_SAFE_INTEGER` are rejected as too long, where
 * CPython's limit is 2**63 - 1, because they cannot be counted exactly.
 *
 * @param format A struct format string.
 * @returns The compiled format.
 * @throws {StructError} Where CPython raises struct.error.
 */
export function compileFormat(format: string): CompiledFormat {
  // CPython fails to encode a non-ASCII format before it looks for NULs.
  if (/[^\0-\x7f]/.test(format)) {
    throw new StructError("bad char in struct format");
  }
  if (format.includes("\0")) throw new StructError("embedded null character");
  let table = NATIVE;
  let native = true;
  let littleEndian = true;
  let start = 0;
  switch (format[0]) {
    case "@":
      start = 1;
      break;
    case "=":
    case "<":
      start = 1;
      table = STANDARD;
      native = false;
      break;
    case ">":
    case "!":
      start = 1;
      table = STANDARD;
      native = false;
      littleEndian = false;
      break;
  }

  const ops: FieldOp[] = [];
  let size = 0;
  let itemCount = 0;
  let i = start;
  while (i < format.length) {
    let code = format.charCodeAt(i++);
    if (isSpace(code)) continue;
    let repeat = 1;
    if (code >= 48 && code <= 57) {
      repeat = code - 48;
      for (;;) {
        if (i >= format.length) {
          throw new StructError(
            "repeat count given without format specifier",
          );
        }
        code = format.charCodeAt(i++);
        if (code < 48 || code > 57) break;
        repeat = repeat * 10 + (code - 48);
        if (repeat > Number.MAX_SAFE_INTEGER) throw new StructError(TOO_LONG);
      }
    }
    const char = String.fromCharCode(code);
    const found = Object.hasOwn(table, char) ? table[char] : undefined;
    if (found === undefined) {
      throw new StructError("bad char in struct format");
    }
    if (native && found.align > 0 && size > 0) {
      size += (found.align - 1) - ((size - 1) % found.align);
    }
    const offset = size;
    size += repeat * found.size;
    if (size > Number.MAX_SAFE_INTEGER) throw new StructError(TOO_LONG);
    const kind = found.kind;
    if (kind === undefined) continue;
    if (kind === Kind.String || kind === Kind.Pascal) {
      ops.push(op(kind, char, offset, 1, repeat, littleEndian, native));
      itemCount++;
    } else if (repeat > 0) {
      ops.push(
        op(kind, char, offset, repeat, found.size, littleEndian, native),
      );
      itemCount += repeat;
    }
  }
  return { size, itemCount, ops };
}

function op(
  kind: Kind,
  char: string,
  offset: number,
  repeat: number,
  itemSize: number,
  littleEndian: boolean,
  native: boolean,
): FieldOp {
  const range = RANGES[kind];
  const minBig = range?.[0] ?? 0n;
  const maxBig = range?.[1] ?? 0n;
  return {
    kind,
    char,
    offset,
    repeat,
    itemSize,
    littleEndian,
    min: Number(minBig),
    max: Number(maxBig),
    minBig,
    maxBig,
    checkOverflow: !native,
  };
}
