/**
 * XOR forward error correction over groups of a frame's chunks: one parity
 * payload per group repairs one lost chunk of it without a round trip.
 * Groups are interleaved (chunks `j, j+g, j+2g, …`), so that a burst of up
 * to `g` consecutive losses costs each group at most one chunk.
 *
 * @module
 */

/** One parity group of a frame. */
export interface ParityGroup {
  /** The group's first chunk. */
  readonly first: number;
  /** Distance between its chunks. */
  readonly stride: number;
  /** How many chunks it has. */
  readonly length: number;
}

/**
 * The parity groups for a frame of `count` chunks with one parity per `k`
 * chunks: `ceil(count / k)` interleaved groups, or one group when
 * `count ≤ k`.
 *
 * @param count Chunks in the frame.
 * @param k Data chunks per parity, from 1.
 * @returns The groups, in the order their parity is sent.
 *
 * @example Ten chunks, one parity per four
 * ```ts
 * import { parityGroups } from "./fec.ts";
 * console.log(parityGroups(10, 4).map((g) => `${g.first}/${g.stride}/${g.length}`));
 * // [ "0/3/4", "1/3/3", "2/3/3" ]
 * ```
 */
export function parityGroups(count: number, k: number): ParityGroup[] {
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(`FEC group size must be a positive integer, got ${k}`);
  }
  if (count <= k) return [{ first: 0, stride: 1, length: count }];
  const groups = Math.ceil(count / k);
  const result: ParityGroup[] = [];
  for (let j = 0; j < groups; j++) {
    result.push({
      first: j,
      stride: groups,
      length: Math.ceil((count - j) / groups),
    });
  }
  return result;
}

/**
 * XORs `source` into `target` from `targetOffset`, for `source.length`
 * bytes.
 *
 * @param target Bytes changed in place.
 * @param source Bytes XORed in.
 * @param targetOffset Where in `target` to start.
 *
 * @example XOR of two chunks
 * ```ts
 * import { xorInto } from "./fec.ts";
 * const a = new Uint8Array([1, 2, 3]);
 * xorInto(a, new Uint8Array([1, 2]));
 * console.log(a); // Uint8Array(3) [ 0, 0, 3 ]
 * ```
 */
export function xorInto(
  target: Uint8Array,
  source: Uint8Array,
  targetOffset = 0,
): void {
  const n = source.length;
  let i = 0;
  // Eight bytes a step through 32-bit words, where both sides are aligned.
  if (
    ((target.byteOffset + targetOffset) & 3) === 0 &&
    (source.byteOffset & 3) === 0 && n >= 16
  ) {
    const words = n >>> 2;
    const t = new Uint32Array(
      target.buffer,
      target.byteOffset + targetOffset,
      words,
    );
    const s = new Uint32Array(source.buffer, source.byteOffset, words);
    for (let w = 0; w < words; w++) t[w]! ^= s[w]!;
    i = words << 2;
  }
  for (; i < n; i++) target[targetOffset + i]! ^= source[i]!;
}

/**
 * The parity payload of one group of a frame: the XOR of its chunks, each
 * padded with zeros to the chunk size.
 *
 * @param frame The whole frame.
 * @param chunkSize The frame's chunk size.
 * @param group The group.
 * @param out `chunkSize` bytes to write it to; zeroed first.
 * @returns `out`.
 *
 * @example Parity of a three-chunk frame
 * ```ts
 * import { buildParity } from "./fec.ts";
 * const frame = new Uint8Array([1, 2, 4, 8, 16]);
 * const parity = buildParity(frame, 2, { first: 0, stride: 1, length: 3 }, new Uint8Array(2));
 * console.log(parity); // Uint8Array(2) [ 21, 10 ]
 * ```
 */
export function buildParity(
  frame: Uint8Array,
  chunkSize: number,
  group: ParityGroup,
  out: Uint8Array,
): Uint8Array {
  out.fill(0);
  for (let k = 0; k < group.length; k++) {
    const start = (group.first + k * group.stride) * chunkSize;
    xorInto(
      out,
      frame.subarray(start, Math.min(start + chunkSize, frame.length)),
    );
  }
  return out;
}

/**
 * Rebuilds the one missing chunk of a group in place: the XOR of the parity
 * payload and every other chunk of the group, cut to the chunk's length.
 *
 * @param frame The frame buffer, with every chunk of the group but one.
 * @param chunkSize The frame's chunk size.
 * @param group The group.
 * @param missing The index of the missing chunk, a member of the group.
 * @param parity The group's parity payload (`chunkSize` bytes); it is used
 * as scratch and left changed.
 *
 * @example Recovering the middle chunk
 * ```ts
 * import { buildParity, recoverChunk } from "./fec.ts";
 * const frame = new Uint8Array([1, 2, 4, 8, 16]);
 * const group = { first: 0, stride: 1, length: 3 };
 * const parity = buildParity(frame, 2, group, new Uint8Array(2));
 * const damaged = frame.slice();
 * damaged.fill(0, 2, 4);
 * recoverChunk(damaged, 2, group, 1, parity);
 * console.log(damaged); // Uint8Array(5) [ 1, 2, 4, 8, 16 ]
 * ```
 */
export function recoverChunk(
  frame: Uint8Array,
  chunkSize: number,
  group: ParityGroup,
  missing: number,
  parity: Uint8Array,
): void {
  for (let k = 0; k < group.length; k++) {
    const index = group.first + k * group.stride;
    if (index === missing) continue;
    const start = index * chunkSize;
    xorInto(
      parity,
      frame.subarray(start, Math.min(start + chunkSize, frame.length)),
    );
  }
  const start = missing * chunkSize;
  const length = Math.min(chunkSize, frame.length - start);
  frame.set(parity.subarray(0, length), start);
}
