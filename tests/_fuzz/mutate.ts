/**
 * Mutations of valid inputs, in the manner of AFL's havoc stage: bit flips,
 * interesting values (0, 1, 0x7f…, 0x80…, 0xff…), lengths ±1, header fields
 * set to their boundaries, truncation, extension, repeats, field swaps and
 * splices of two inputs; and of sequences of datagrams: drops, duplicates,
 * reordering and repeats. A mutation never changes its input: it returns a
 * new array.
 *
 * @module
 */

import type { Prng } from "./prng.ts";

/** The largest UDP payload over IPv4, the default cap on a mutated datagram. */
export const MAX_DATAGRAM = 65507;

/** A header field of a wire format, for boundary values. */
export interface Field {
  /** Where it starts. */
  readonly offset: number;
  /** How many bytes: 1, 2, 3, 4 or 8. */
  readonly size: 1 | 2 | 3 | 4 | 8;
  /** Little-endian (the classic header); big-endian, network order, otherwise. */
  readonly littleEndian?: boolean;
}

/** Options for {@linkcode mutate}. */
export interface MutateOptions {
  /** Header fields to set to boundaries, when the input has them. */
  readonly fields?: readonly Field[];
  /** Other valid inputs, to splice with and to copy pieces of. */
  readonly others?: readonly Uint8Array[];
  /** The longest result. @default {65507} */
  readonly maxLength?: number;
  /** How many operations at most. @default {6} */
  readonly maxOps?: number;
}

const INTERESTING_8 = [
  0,
  1,
  2,
  0x0f,
  0x10,
  0x20,
  0x40,
  0x7f,
  0x80,
  0xc0,
  0xfe,
  0xff,
];
const INTERESTING_16 = [
  0,
  1,
  2,
  7,
  8,
  9,
  0x7f,
  0x80,
  0xff,
  0x100,
  1023,
  1024,
  1025,
  1400,
  0x3fff,
  0x4000,
  0x7fff,
  0x8000,
  0xfffe,
  0xffff,
];
const INTERESTING_32 = [
  ...INTERESTING_16,
  0x1_0000,
  65507,
  65508,
  0xff_ffff,
  0x100_0000,
  0x7fff_ffff,
  0x8000_0000,
  0xffff_fffe,
  0xffff_ffff,
  64 * 1024 * 1024,
  64 * 1024 * 1024 + 1,
];
/** 64-bit values as [low word, high word]. */
const INTERESTING_64: readonly [number, number][] = [
  [0, 0],
  [1, 0],
  [0xffff_ffff, 0xffff_ffff], // -1
  [0xffff_fffe, 0xffff_ffff], // -2
  [0xffff_ffff, 0x7fff_ffff], // int64 max
  [0, 0x8000_0000], // int64 min
  [0xffff_ffff, 0x1f_ffff], // 2^53 - 1
  [0, 0x20_0000], // 2^53
  [1, 0x20_0000], // 2^53 + 1
  [0, 1], // 2^32
  [0xffff_ffff, 0], // 2^32 - 1
  [0x8000_0000, 0], // 2^31
  [64 * 1024 * 1024, 0],
  [64 * 1024 * 1024 + 1, 0],
  [256 * 1024 * 1024 + 1, 0],
];

/** An interesting value for an unsigned field of `size` bytes. */
export function interesting(rng: Prng, size: 1 | 2 | 3 | 4): number {
  const max = size === 4 ? 0xffff_ffff : (1 << (size * 8)) - 1;
  switch (rng.below(6)) {
    case 0:
      return max;
    case 1:
      return max - 1;
    case 2:
      return Math.floor(max / 2); // 0x7f…
    case 3:
      return Math.floor(max / 2) + 1; // 0x80…
    default: {
      const table = size === 1
        ? INTERESTING_8
        : size === 2
        ? INTERESTING_16
        : INTERESTING_32;
      return rng.pick(table) % (max + 1);
    }
  }
}

/** Reads an unsigned field of 1 to 4 bytes. */
export function readField(bytes: Uint8Array, field: Field): number {
  let value = 0;
  const size = Math.min(field.size, 4);
  for (let k = 0; k < size; k++) {
    const at = field.littleEndian
      ? field.offset + k
      : field.offset + field.size - 1 - k;
    value += (bytes[at] ?? 0) * 2 ** (8 * k);
  }
  return value;
}

/** Writes an unsigned field of 1 to 4 bytes; bytes past the end are not written. */
export function writeField(
  bytes: Uint8Array,
  field: Field,
  value: number,
): void {
  const size = Math.min(field.size, 4);
  let v = value;
  for (let k = 0; k < field.size; k++) {
    const at = field.littleEndian
      ? field.offset + k
      : field.offset + field.size - 1 - k;
    if (at < bytes.length) bytes[at] = k < size ? v % 256 : 0;
    v = Math.floor(v / 256);
  }
}

function write64(
  bytes: Uint8Array,
  offset: number,
  value: readonly [number, number],
  littleEndian: boolean,
): void {
  for (let k = 0; k < 8; k++) {
    const word = k < 4 ? value[0] : value[1];
    const byte = (word >>> (8 * (k & 3))) & 0xff;
    const at = littleEndian ? offset + k : offset + 7 - k;
    if (at < bytes.length) bytes[at] = byte;
  }
}

/** Sets a field to a boundary: 0, 1, its maximum, the middle, or its value ±1. */
function boundary(rng: Prng, bytes: Uint8Array, field: Field): void {
  if (field.offset + field.size > bytes.length) return;
  if (field.size === 8) {
    const le = field.littleEndian ?? false;
    if (rng.chance(0.8)) {
      write64(bytes, field.offset, rng.pick(INTERESTING_64), le);
    } else {
      // The low word ±1, carrying into nothing: near the value it had.
      const low: Field = {
        offset: le ? field.offset : field.offset + 4,
        size: 4,
        littleEndian: le,
      };
      writeField(
        bytes,
        low,
        (readField(bytes, low) + rng.pick([1, -1]) + 2 ** 32) % 2 ** 32,
      );
    }
    return;
  }
  const max = 2 ** (8 * field.size) - 1;
  const current = readField(bytes, field);
  const value = rng.chance(0.4)
    ? (current + rng.pick([1, -1, 2, -2, 8, -8]) + max + 1) % (max + 1)
    : interesting(rng, field.size);
  writeField(bytes, field, value);
}

/** A copy of `source` with room for `extra` more bytes at the end. */
function grow(source: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out.set(source.subarray(0, Math.min(source.length, length)));
  return out;
}

/** An offset biased to the start of the input, where headers are. */
function offsetIn(rng: Prng, length: number): number {
  if (length <= 1) return 0;
  return rng.chance(0.5) ? rng.below(Math.min(length, 32)) : rng.below(length);
}

/**
 * Applies one to `maxOps` random operations to a copy of `input`.
 *
 * @param rng The case's generator.
 * @param input A valid input; not changed.
 * @param options Fields, other inputs to splice with, the longest result.
 * @returns The mutated copy.
 */
export function mutate(
  rng: Prng,
  input: Uint8Array,
  options: MutateOptions = {},
): Uint8Array {
  const maxLength = options.maxLength ?? MAX_DATAGRAM;
  const maxOps = options.maxOps ?? 6;
  const others = options.others ?? [];
  const fields = options.fields ?? [];
  let bytes: Uint8Array = input.slice(0, maxLength);
  const ops = 1 + (rng.chance(0.25) ? rng.below(maxOps) : rng.below(2));
  for (let n = 0; n < ops; n++) {
    bytes = mutateOnce(rng, bytes, fields, others, maxLength);
  }
  return bytes;
}

function mutateOnce(
  rng: Prng,
  bytes: Uint8Array,
  fields: readonly Field[],
  others: readonly Uint8Array[],
  maxLength: number,
): Uint8Array {
  const length = bytes.length;
  const op = rng.below(fields.length > 0 ? 15 : 13);
  switch (op) {
    case 0: // flip bits
    case 1: {
      if (length === 0) return bytes;
      const flips = 1 + rng.below(rng.chance(0.7) ? 1 : 8);
      for (let k = 0; k < flips; k++) {
        bytes[offsetIn(rng, length)]! ^= 1 << rng.below(8);
      }
      return bytes;
    }
    case 2: { // an interesting byte, word or double word
      if (length === 0) return bytes;
      const size = rng.pick([1, 2, 4, 8] as const);
      const at = offsetIn(rng, length);
      const le = rng.chance(0.5);
      if (size === 8) write64(bytes, at, rng.pick(INTERESTING_64), le);
      else {writeField(
          bytes,
          { offset: at, size, littleEndian: le },
          interesting(rng, size),
        );}
      return bytes;
    }
    case 3: { // a length or count ±1 (or a little more)
      if (length === 0) return bytes;
      const size = rng.pick([1, 2, 4] as const);
      const field: Field = {
        offset: offsetIn(rng, length),
        size,
        littleEndian: rng.chance(0.5),
      };
      const max = 2 ** (8 * size);
      const delta = rng.pick([1, -1, 1, -1, 2, -2, 4, -4, 16, -16]);
      writeField(bytes, field, (readField(bytes, field) + delta + max) % max);
      return bytes;
    }
    case 4: { // truncate
      if (length === 0) return bytes;
      const cut = rng.chance(0.3)
        ? Math.max(0, length - 1 - rng.below(4))
        : rng.chance(0.5)
        ? rng.below(Math.min(length, 40))
        : rng.below(length);
      return bytes.subarray(0, cut);
    }
    case 5: { // extend: random bytes, zeros, 0xff, or the input's own tail
      if (length >= maxLength) return bytes;
      const extra = Math.min(maxLength - length, 1 + rng.length(2048));
      const out = grow(bytes, length + extra);
      const kind = rng.below(4);
      if (kind === 0) rng.fill(out, length);
      else if (kind === 1) out.fill(0xff, length);
      else if (kind === 3 && length > 0) {
        for (let k = length; k < out.length; k++) out[k] = bytes[k % length]!;
      }
      return out;
    }
    case 6: { // insert random bytes
      if (length >= maxLength) return bytes;
      const at = rng.below(length + 1);
      const extra = Math.min(maxLength - length, 1 + rng.length(64));
      const out = new Uint8Array(length + extra);
      out.set(bytes.subarray(0, at));
      rng.fill(out, at, at + extra);
      out.set(bytes.subarray(at), at + extra);
      return out;
    }
    case 7: { // delete a range
      if (length === 0) return bytes;
      const at = offsetIn(rng, length);
      const count = 1 +
        rng.below(Math.min(length - at, rng.chance(0.7) ? 8 : length));
      const out = new Uint8Array(length - count);
      out.set(bytes.subarray(0, at));
      out.set(bytes.subarray(at + count), at);
      return out;
    }
    case 8: { // repeat a range
      if (length === 0 || length >= maxLength) return bytes;
      const at = offsetIn(rng, length);
      const count = 1 + rng.below(Math.min(length - at, 64));
      const times = 1 + rng.below(rng.chance(0.8) ? 2 : 64);
      const extra = Math.min(maxLength - length, count * times);
      const out = new Uint8Array(length + extra);
      out.set(bytes.subarray(0, at + count));
      for (let k = 0; k < extra; k++) {
        out[at + count + k] = bytes[at + (k % count)]!;
      }
      out.set(bytes.subarray(at + count), at + count + extra);
      return out;
    }
    case 9: { // swap two fields of 1, 2, 4 or 8 bytes
      const size = rng.pick([1, 2, 4, 8]);
      if (length < 2 * size) return bytes;
      const a = rng.below(length - size + 1);
      const b = rng.below(length - size + 1);
      if (Math.abs(a - b) < size) return bytes;
      const tmp = bytes.slice(a, a + size);
      bytes.copyWithin(a, b, b + size);
      bytes.set(tmp, b);
      return bytes;
    }
    case 10: { // splice: the start of this, the rest of another
      if (others.length === 0) return bytes;
      const other = rng.pick(others);
      const head = rng.below(length + 1);
      const tail = rng.below(other.length + 1);
      const total = Math.min(maxLength, head + other.length - tail);
      const out = new Uint8Array(Math.max(head, total));
      out.set(bytes.subarray(0, head));
      out.set(other.subarray(tail, tail + out.length - head), head);
      return out.subarray(0, Math.max(0, total));
    }
    case 11: { // overwrite a piece with a piece of another input
      if (others.length === 0 || length === 0) return bytes;
      const other = rng.pick(others);
      if (other.length === 0) return bytes;
      const from = rng.below(other.length);
      const at = offsetIn(rng, length);
      const count = Math.min(
        1 + rng.below(64),
        other.length - from,
        length - at,
      );
      bytes.set(other.subarray(from, from + count), at);
      return bytes;
    }
    case 12: { // random bytes over a range
      if (length === 0) return bytes;
      const at = offsetIn(rng, length);
      rng.fill(bytes, at, Math.min(length, at + 1 + rng.below(16)));
      return bytes;
    }
    default: { // a header field set to a boundary
      const field = rng.pick(fields);
      boundary(rng, bytes, field);
      return bytes;
    }
  }
}

/**
 * A datagram with no relation to any valid one: random bytes of a random
 * length, sometimes a run of one value.
 */
export function randomDatagram(
  rng: Prng,
  maxLength = MAX_DATAGRAM,
): Uint8Array {
  const length = rng.length(maxLength);
  if (rng.chance(0.2)) {
    return new Uint8Array(length).fill(rng.pick(INTERESTING_8));
  }
  return rng.bytes(length);
}

/**
 * Mutates the order of a sequence in place: drops, duplicates, swaps,
 * reverses or shuffles a window, or repeats a block.
 *
 * @param rng The case's generator.
 * @param items The sequence; changed in place.
 * @param maxLength The longest it may grow to.
 */
export function mutateSequence<T>(
  rng: Prng,
  items: T[],
  maxLength = Infinity,
): void {
  const ops = 1 + rng.below(3);
  for (let n = 0; n < ops && items.length > 0; n++) {
    const length = items.length;
    const at = rng.below(length);
    switch (rng.below(6)) {
      case 0: // drop
        items.splice(at, 1 + rng.below(Math.min(4, length - at)));
        break;
      case 1: // duplicate
        if (length < maxLength) items.splice(at, 0, items[at]!);
        break;
      case 2: { // swap two
        const other = rng.below(length);
        const t = items[at]!;
        items[at] = items[other]!;
        items[other] = t;
        break;
      }
      case 3: { // reverse a window
        const end = Math.min(length, at + 2 + rng.below(8));
        const window = items.slice(at, end).reverse();
        items.splice(at, window.length, ...window);
        break;
      }
      case 4: // shuffle a window
        rng.shuffle(items, at, Math.min(length, at + 2 + rng.below(16)));
        break;
      default: { // repeat a block
        const count = 1 + rng.below(Math.min(8, length - at));
        if (length + count <= maxLength) {
          items.splice(at + count, 0, ...items.slice(at, at + count));
        }
      }
    }
  }
}

/**
 * Merges `a` and `b` into one sequence, keeping each one's order: a good
 * sender's datagrams among hostile ones.
 */
export function interleave<T>(
  rng: Prng,
  a: readonly T[],
  b: readonly T[],
): T[] {
  const out: T[] = [];
  let i = 0;
  let j = 0;
  // A bias per case: sometimes bursts of one side, sometimes fine mixing.
  const p = rng.pick([0.1, 0.5, 0.9]);
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && rng.chance(p))) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}
