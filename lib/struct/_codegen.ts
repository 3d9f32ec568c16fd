/**
 * Specialised pack and unpack functions for one compiled struct format.
 *
 * The generic loops in `_fields.ts` switch on each field's kind, load
 * its offset, size and byte order, and push results one by one; for a mixed
 * format that bookkeeping costs about as much as the writes themselves, and
 * left Deno at 0.7× CPython's rate. Generating straight-line code with every
 * offset, range and byte order as a constant (with `new Function`, once per
 * format) lets V8 compile each format to a few dozen stores and brings mixed
 * formats above CPython's rate.
 *
 * The generated packer only takes the common value types (numbers for numeric
 * fields, Uint8Array for bytes, anything for `?`) and checks them exactly as
 * the generic path does. For anything else it returns false before writing
 * the field, and the caller runs the generic path, which rewrites the same
 * bytes for the fields before it and then handles or rejects the value with
 * CPython's error. Behaviour therefore stays that of the generic path.
 *
 * @module
 */

import { type CompiledFormat, type FieldOp, Kind } from "./_format.ts";
import { halfBits, halfValue } from "./_half.ts";
import { isTruthy, setSafeInt64, type StructValue } from "./_fields.ts";
import { pool } from "./_pool.ts";

/**
 * Writes `values` into `view` from `base`, which the caller has zeroed.
 * Returns false, leaving the fields before the value written, at the first
 * value it does not take; the generic path must then run.
 */
export type FastPack = (
  view: DataView,
  bytes: Uint8Array,
  base: number,
  values: readonly unknown[],
) => boolean;

/** Reads a format's fields from `view` at `base`. */
export type FastUnpack = (
  view: DataView,
  bytes: Uint8Array,
  base: number,
) => StructValue[];

/** Formats with more values than this keep the generic loops. */
const MAX_ITEMS = 64;

/**
 * Copies the first `size` bytes of `value` (fewer if it is shorter) with
 * `set`, not a loop, because `value` may overlap the destination in the
 * caller's buffer and `set` copies as the generic path does.
 */
function setBytes(
  bytes: Uint8Array,
  pos: number,
  value: Uint8Array,
  size: number,
): number {
  const n = Math.min(value.length, size);
  bytes.set(n === value.length ? value : value.subarray(0, n), pos);
  return n;
}

function readPascal(
  bytes: Uint8Array,
  pos: number,
  itemSize: number,
): Uint8Array {
  let n = itemSize === 0 ? 0 : bytes[pos]!;
  if (n >= itemSize) n = Math.max(itemSize - 1, 0);
  return pool.copy(bytes, pos + 1, n);
}

function copyBytes(bytes: Uint8Array, pos: number, n: number): Uint8Array {
  return pool.copy(bytes, pos, n);
}

/** What the generated code calls, passed in as `$`. */
const helpers = {
  setSafeInt64,
  setBytes,
  readPascal,
  copyBytes,
  halfBits,
  halfValue,
  isTruthy,
};

const BAIL = "return false;";

/** Pack statements for value number `index` at byte `offset` of `op`. */
function packItem(op: FieldOp, index: number, offset: number): string {
  const v = `v = values[${index}];`;
  const pos = `base + ${offset}`;
  const le = String(op.littleEndian);
  // Number checks below accept exactly the integral numbers in range, as
  // smallInt does (including -0).
  switch (op.kind) {
    case Kind.Char:
      return `${v} if (!(v instanceof Uint8Array) || v.length !== 1) ${BAIL}
        bytes[${pos}] = v[0];`;
    case Kind.Bool:
      return `${v} bytes[${pos}] = (typeof v === "boolean" ? v : $.isTruthy(v)) ? 1 : 0;`;
    case Kind.Int8:
    case Kind.Int16:
    case Kind.Int32:
      return `${v} if (typeof v !== "number" || (v | 0) !== v || v < ${op.min} || v > ${op.max}) ${BAIL}
        ${setter(op.itemSize, pos, le)}`;
    case Kind.Uint8:
    case Kind.Uint16:
    case Kind.Uint32:
      return `${v} if (typeof v !== "number" || (v >>> 0) !== v || v > ${op.max}) ${BAIL}
        ${setter(op.itemSize, pos, le)}`;
    case Kind.Int64:
    case Kind.Uint64:
    case Kind.Pointer:
      // Every safe integer fits a signed or pointer field; unsigned ones
      // reject negatives, which the generic path reports.
      return `${v} if (typeof v === "number" && Number.isSafeInteger(v) && v >= ${op.min}) {
          $.setSafeInt64(view, ${pos}, v, ${le});
        } else if (typeof v === "bigint" && v >= ${op.minBig}n && v <= ${op.maxBig}n) {
          view.setBigUint64(${pos}, BigInt.asUintN(64, v), ${le});
        } else ${BAIL}`;
    case Kind.Half:
      return `${v} if (typeof v !== "number") ${BAIL}
        b = $.halfBits(v); if (b < 0) ${BAIL}
        view.setUint16(${pos}, b, ${le});`;
    case Kind.Float:
      return `${v} if (typeof v !== "number") ${BAIL}
        ${
        op.checkOverflow
          ? `if (!Number.isFinite(Math.fround(v)) && Number.isFinite(v)) ${BAIL}`
          : ""
      }
        view.setFloat32(${pos}, v, ${le});`;
    case Kind.Double:
      return `${v} if (typeof v !== "number") ${BAIL}
        view.setFloat64(${pos}, v, ${le});`;
    case Kind.String:
      return `${v} if (!(v instanceof Uint8Array)) ${BAIL}
        $.setBytes(bytes, ${pos}, v, ${op.itemSize});`;
    case Kind.Pascal:
      if (op.itemSize === 0) {
        return `${v} if (!(v instanceof Uint8Array)) ${BAIL}`;
      }
      return `${v} if (!(v instanceof Uint8Array)) ${BAIL}
        bytes[${pos}] = Math.min($.setBytes(bytes, ${pos} + 1, v, ${
        op.itemSize - 1
      }), 255);`;
  }
}

function setter(size: number, pos: string, le: string): string {
  if (size === 1) return `bytes[${pos}] = v;`;
  return `view.setUint${size * 8}(${pos}, v, ${le});`;
}

/** An unpack expression for the item at byte `offset` of `op`. */
function unpackItem(op: FieldOp, offset: number): string {
  const pos = `base + ${offset}`;
  const le = String(op.littleEndian);
  switch (op.kind) {
    case Kind.Char:
      return `$.copyBytes(bytes, ${pos}, 1)`;
    case Kind.Bool:
      return `bytes[${pos}] !== 0`;
    case Kind.Int8:
      return `view.getInt8(${pos})`;
    case Kind.Uint8:
      return `bytes[${pos}]`;
    case Kind.Int16:
      return `view.getInt16(${pos}, ${le})`;
    case Kind.Uint16:
      return `view.getUint16(${pos}, ${le})`;
    case Kind.Int32:
      return `view.getInt32(${pos}, ${le})`;
    case Kind.Uint32:
      return `view.getUint32(${pos}, ${le})`;
    case Kind.Int64:
      return `view.getBigInt64(${pos}, ${le})`;
    case Kind.Uint64:
    case Kind.Pointer:
      return `view.getBigUint64(${pos}, ${le})`;
    case Kind.Half:
      return `$.halfValue(view.getUint16(${pos}, ${le}))`;
    case Kind.Float:
      return `view.getFloat32(${pos}, ${le})`;
    case Kind.Double:
      return `view.getFloat64(${pos}, ${le})`;
    case Kind.String:
      return `$.copyBytes(bytes, ${pos}, ${op.itemSize})`;
    case Kind.Pascal:
      return `$.readPascal(bytes, ${pos}, ${op.itemSize})`;
  }
}

/** Offsets of each value of `op`: one per repeat, or one for `s` and `p`. */
function offsetsOf(op: FieldOp): number[] {
  const offsets = [];
  for (let r = 0; r < op.repeat; r++) offsets.push(op.offset + r * op.itemSize);
  return offsets;
}

/**
 * Generates the specialised packer and unpacker of a format.
 *
 * @param compiled The compiled format.
 * @returns Both functions, or undefined for formats with too many values to
 * unroll.
 */
export function generateCodecs(
  compiled: Pick<CompiledFormat, "ops" | "itemCount">,
): { pack: FastPack; unpack: FastUnpack } | undefined {
  if (compiled.itemCount > MAX_ITEMS) return undefined;
  const packLines: string[] = [];
  const unpackItems: string[] = [];
  let index = 0;
  for (const op of compiled.ops) {
    for (const offset of offsetsOf(op)) {
      packLines.push(packItem(op, index++, offset));
      unpackItems.push(unpackItem(op, offset));
    }
  }
  const pack = new Function(
    "$",
    `"use strict";
    return function pack(view, bytes, base, values) {
      let v, b;
      ${packLines.join("\n")}
      return true;
    };`,
  )(helpers) as FastPack;
  const unpack = new Function(
    "$",
    `"use strict";
    return function unpack(view, bytes, base) {
      return [${unpackItems.join(", ")}];
    };`,
  )(helpers) as FastUnpack;
  return { pack, unpack };
}
