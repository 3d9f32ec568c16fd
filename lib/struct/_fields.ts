/**
 * Reads and writes the fields of a compiled struct format on a DataView,
 * converting values as CPython's `_struct` module does.
 *
 * @module
 */

import { type FieldOp, Kind } from "./_format.ts";
import { StructError } from "./_error.ts";
import { halfBits, halfValue } from "./_half.ts";
import { pool } from "./_pool.ts";

/** A value that unpack returns: 8-byte integers are bigints. */
export type StructValue = number | bigint | boolean | Uint8Array;

const TWO_32 = 4294967296;

function notInteger(): StructError {
  return new StructError("required argument is not an integer");
}

function notFloat(): StructError {
  return new StructError("required argument is not a float");
}

function outOfRange(op: FieldOp): StructError {
  if (op.kind === Kind.Pointer) {
    return new StructError("int too large to convert");
  }
  return new StructError(
    `'${op.char}' format requires ${op.minBig} <= number <= ${op.maxBig}`,
  );
}

/** An integer of at most 32 bits, range-checked. */
function smallInt(value: unknown, op: FieldOp): number {
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw notInteger();
    if (value < op.min || value > op.max) throw outOfRange(op);
    return value;
  }
  if (typeof value === "bigint") {
    if (value < op.minBig || value > op.maxBig) throw outOfRange(op);
    return Number(value);
  }
  // Python's bool is an int.
  if (typeof value === "boolean") return value ? 1 : 0;
  throw notInteger();
}

/**
 * Writes a safe integer as an 8-byte integer in two 32-bit halves, which
 * avoids a BigInt allocation on the hot path.
 */
export function setSafeInt64(
  view: DataView,
  pos: number,
  value: number,
  le: boolean,
): void {
  if ((value | 0) === value) {
    view.setInt32(le ? pos : pos + 4, value, le);
    view.setInt32(le ? pos + 4 : pos, value >> 31, le);
    return;
  }
  const high = Math.floor(value / TWO_32);
  view.setUint32(le ? pos : pos + 4, value - high * TWO_32, le);
  view.setUint32(le ? pos + 4 : pos, high >>> 0, le);
}

/** Writes one 8-byte integer field. */
function writeInt64(
  view: DataView,
  pos: number,
  value: unknown,
  op: FieldOp,
): void {
  let big: bigint;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw notInteger();
    if (Number.isSafeInteger(value)) {
      // Every safe integer fits a signed or pointer field; only unsigned
      // fields reject negatives.
      if (value < op.min) throw outOfRange(op);
      setSafeInt64(view, pos, value, op.littleEndian);
      return;
    }
    big = BigInt(value);
  } else if (typeof value === "bigint") {
    big = value;
  } else if (typeof value === "boolean") {
    view.setBigUint64(pos, value ? 1n : 0n, op.littleEndian);
    return;
  } else {
    throw notInteger();
  }
  if (big < op.minBig || big > op.maxBig) {
    // CPython's big-endian q and Q write the truncated value before raising,
    // which pack_into leaves behind; unsigned ones reject negatives first.
    if (!op.littleEndian && (op.kind === Kind.Int64 || big > 0n)) {
      view.setBigUint64(pos, BigInt.asUintN(64, big), false);
    }
    throw outOfRange(op);
  }
  view.setBigUint64(pos, BigInt.asUintN(64, big), op.littleEndian);
}

/** CPython reports a float field's overflow from an int as the int's. */
function tooLarge(value: unknown, char: string): StructError {
  return new StructError(
    typeof value === "bigint"
      ? "int too large to convert"
      : `float too large to pack with ${char} format`,
  );
}

function floatValue(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") {
    const x = Number(value);
    if (Number.isFinite(x)) return x;
    throw notFloat();
  }
  if (typeof value === "boolean") return value ? 1 : 0;
  throw notFloat();
}

/**
 * Python's truth value of a JavaScript value: empty containers, zero, null
 * and undefined are false; NaN is true, as it is in Python.
 */
export function isTruthy(value: unknown): boolean {
  switch (typeof value) {
    case "boolean":
      return value;
    case "number":
      return value !== 0;
    case "bigint":
      return value !== 0n;
    case "string":
      return value.length > 0;
    case "undefined":
      return false;
    case "object":
      if (value === null) return false;
      if (ArrayBuffer.isView(value)) return value.byteLength > 0;
      if (value instanceof ArrayBuffer) return value.byteLength > 0;
      if (Array.isArray(value)) return value.length > 0;
      if (value instanceof Map || value instanceof Set) return value.size > 0;
      return true;
    default:
      return true;
  }
}

function bytesArgument(value: unknown, op: FieldOp): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw new StructError(`argument for '${op.char}' must be a bytes object`);
}

/**
 * Writes `values[first..]` into `view` from `base`, which the caller has
 * zeroed. Stops at the first bad value, leaving earlier fields written, as
 * CPython's pack_into does.
 */
export function writeFields(
  ops: readonly FieldOp[],
  view: DataView,
  bytes: Uint8Array,
  base: number,
  values: readonly unknown[],
  first: number,
): void {
  let next = first;
  for (let k = 0; k < ops.length; k++) {
    const op = ops[k]!;
    let pos = base + op.offset;
    const le = op.littleEndian;
    const end = pos + op.repeat * op.itemSize;
    switch (op.kind) {
      case Kind.Char:
        for (; pos < end; pos++) {
          const value = values[next++];
          if (!(value instanceof Uint8Array) || value.length !== 1) {
            throw new StructError(
              "char format requires a bytes object of length 1",
            );
          }
          bytes[pos] = value[0]!;
        }
        break;
      case Kind.Bool:
        for (; pos < end; pos++) bytes[pos] = isTruthy(values[next++]) ? 1 : 0;
        break;
      case Kind.Int8:
      case Kind.Uint8:
        for (; pos < end; pos++) bytes[pos] = smallInt(values[next++], op);
        break;
      case Kind.Int16:
      case Kind.Uint16:
        for (; pos < end; pos += 2) {
          view.setUint16(pos, smallInt(values[next++], op), le);
        }
        break;
      case Kind.Int32:
      case Kind.Uint32:
        for (; pos < end; pos += 4) {
          view.setUint32(pos, smallInt(values[next++], op), le);
        }
        break;
      case Kind.Int64:
      case Kind.Uint64:
      case Kind.Pointer:
        for (; pos < end; pos += 8) writeInt64(view, pos, values[next++], op);
        break;
      case Kind.Half:
        for (; pos < end; pos += 2) {
          const value = values[next++];
          const bits = halfBits(floatValue(value));
          if (bits < 0) throw tooLarge(value, "e");
          view.setUint16(pos, bits, le);
        }
        break;
      case Kind.Float:
        for (; pos < end; pos += 4) {
          const value = values[next++];
          const x = floatValue(value);
          if (
            op.checkOverflow && !Number.isFinite(Math.fround(x)) &&
            Number.isFinite(x)
          ) {
            throw tooLarge(value, "f");
          }
          view.setFloat32(pos, x, le);
        }
        break;
      case Kind.Double:
        for (; pos < end; pos += 8) {
          view.setFloat64(pos, floatValue(values[next++]), le);
        }
        break;
      case Kind.String: {
        const value = bytesArgument(values[next++], op);
        const n = Math.min(value.length, op.itemSize);
        bytes.set(n === value.length ? value : value.subarray(0, n), pos);
        break;
      }
      case Kind.Pascal: {
        const value = bytesArgument(values[next++], op);
        if (op.itemSize === 0) break;
        const n = Math.min(value.length, op.itemSize - 1);
        bytes.set(value.subarray(0, n), pos + 1);
        bytes[pos] = Math.min(n, 255);
        break;
      }
    }
  }
}

/** Reads the fields of a format from `view` at `base` and appends them to `out`. */
export function readFields(
  ops: readonly FieldOp[],
  view: DataView,
  bytes: Uint8Array,
  base: number,
  out: StructValue[],
): void {
  for (let k = 0; k < ops.length; k++) {
    const op = ops[k]!;
    let pos = base + op.offset;
    const le = op.littleEndian;
    const end = pos + op.repeat * op.itemSize;
    switch (op.kind) {
      case Kind.Char:
        for (; pos < end; pos++) out.push(pool.copy(bytes, pos, 1));
        break;
      case Kind.Bool:
        for (; pos < end; pos++) out.push(bytes[pos] !== 0);
        break;
      case Kind.Int8:
        for (; pos < end; pos++) out.push(view.getInt8(pos));
        break;
      case Kind.Uint8:
        for (; pos < end; pos++) out.push(bytes[pos]!);
        break;
      case Kind.Int16:
        for (; pos < end; pos += 2) out.push(view.getInt16(pos, le));
        break;
      case Kind.Uint16:
        for (; pos < end; pos += 2) out.push(view.getUint16(pos, le));
        break;
      case Kind.Int32:
        for (; pos < end; pos += 4) out.push(view.getInt32(pos, le));
        break;
      case Kind.Uint32:
        for (; pos < end; pos += 4) out.push(view.getUint32(pos, le));
        break;
      case Kind.Int64:
        for (; pos < end; pos += 8) out.push(view.getBigInt64(pos, le));
        break;
      case Kind.Uint64:
      case Kind.Pointer:
        for (; pos < end; pos += 8) out.push(view.getBigUint64(pos, le));
        break;
      case Kind.Half:
        for (; pos < end; pos += 2) {
          out.push(halfValue(view.getUint16(pos, le)));
        }
        break;
      case Kind.Float:
        for (; pos < end; pos += 4) out.push(view.getFloat32(pos, le));
        break;
      case Kind.Double:
        for (; pos < end; pos += 8) out.push(view.getFloat64(pos, le));
        break;
      case Kind.String:
        out.push(pool.copy(bytes, pos, op.itemSize));
        break;
      case Kind.Pascal: {
        let n = op.itemSize === 0 ? 0 : bytes[pos]!;
        if (n >= op.itemSize) n = Math.max(op.itemSize - 1, 0);
        out.push(pool.copy(bytes, pos + 1, n));
        break;
      }
    }
  }
}
