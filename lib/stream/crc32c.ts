/**
 * CRC-32C (Castagnoli), the checksum of iSCSI (RFC 3720 B.4), SCTP and
 * ext4: the stream protocol's check over each whole frame. Table-driven,
 * slicing-by-8, so that it reads eight bytes per step.
 *
 * @module
 */

/** The reflected Castagnoli polynomial 0x1EDC6F41. */
const POLYNOMIAL = 0x82f63b78;

/** Eight tables of 256 entries: table k advances a byte k places further. */
const TABLES = /* @__PURE__ */ (() => {
  const tables = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    tables[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n]!;
    for (let t = 1; t < 8; t++) {
      c = tables[c & 0xff]! ^ (c >>> 8);
      tables[t * 256 + n] = c;
    }
  }
  return tables;
})();

/**
 * Carries a CRC-32C over more bytes: `crc32cUpdate(crc32cUpdate(0, a), b)`
 * equals `crc32c` of `a` followed by `b`.
 *
 * @param crc The CRC of the bytes so far (0 for none).
 * @param bytes The next bytes.
 * @returns The CRC of everything so far, as an unsigned 32-bit integer.
 *
 * @example Checksumming in two parts
 * ```ts
 * import { crc32c, crc32cUpdate } from "./crc32c.ts";
 * const text = new TextEncoder().encode("123456789");
 * const crc = crc32cUpdate(crc32cUpdate(0, text.subarray(0, 4)), text.subarray(4));
 * console.log(crc === crc32c(text)); // true
 * ```
 */
export function crc32cUpdate(crc: number, bytes: Uint8Array): number {
  const t = TABLES;
  let c = ~crc;
  let i = 0;
  const length = bytes.length;
  const end8 = length - (length & 7);
  while (i < end8) {
    const lo = c ^
      (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) |
        (bytes[i + 3]! << 24));
    c = t[0x700 + (lo & 0xff)]! ^ t[0x600 + ((lo >>> 8) & 0xff)]! ^
      t[0x500 + ((lo >>> 16) & 0xff)]! ^ t[0x400 + (lo >>> 24)]! ^
      t[0x300 + bytes[i + 4]!]! ^ t[0x200 + bytes[i + 5]!]! ^
      t[0x100 + bytes[i + 6]!]! ^ t[bytes[i + 7]!]!;
    i += 8;
  }
  while (i < length) c = t[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * The CRC-32C of `bytes`.
 *
 * @param bytes The bytes.
 * @returns The CRC, as an unsigned 32-bit integer.
 *
 * @example The check value
 * ```ts
 * import { crc32c } from "./crc32c.ts";
 * const crc = crc32c(new TextEncoder().encode("123456789"));
 * console.log(crc.toString(16)); // e3069283
 * ```
 */
export function crc32c(bytes: Uint8Array): number {
  return crc32cUpdate(0, bytes);
}
