/**
 * Rebuilding a JFIF file's headers from what RFC 2435 sends: the
 * quantization tables for a Q value ([Appendix A](https://www.rfc-editor.org/rfc/rfc2435#appendix-A))
 * and the headers that turn the scan data back into an interchange-format
 * JPEG ([Appendix B](https://www.rfc-editor.org/rfc/rfc2435#appendix-B)):
 * SOI, a JFIF APP0, DQT, DRI for the restart types, SOF, the four typical
 * Huffman tables of JPEG Annex K, and SOS.
 *
 * @module
 */

import {
  STANDARD_CHROMA_QUANT,
  STANDARD_HUFFMAN_TABLES,
  STANDARD_LUMA_QUANT,
} from "./_tables.ts";

/** What the headers are rebuilt from. */
export interface JpegHeaderParams {
  /** The RFC 2435 type: 0 or 1, or 64 or 65 with restart markers. */
  readonly type: number;
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** The restart interval, for types 64 and 65. */
  readonly dri: number;
  /**
   * The luminance then chrominance table, in zigzag order: 64 bytes each,
   * or 128 for a table whose precision bit is set.
   */
  readonly quantTables: Uint8Array;
  /** Bit 0: the luminance table is 16-bit; bit 1: the chrominance one. */
  readonly tablePrecision: number;
}

const cache = new Map<number, Uint8Array>();

/**
 * The quantization tables for Q 1 to 99, as RFC 2435 Appendix A scales
 * JPEG Annex K's tables (the IJG's quality scaling): Q 50 gives them
 * unscaled.
 *
 * @param q The Q value, 1 to 99.
 * @returns 128 bytes, the luminance then the chrominance table, in zigzag
 * order; shared, do not change them.
 *
 * @example Q 50 is the standard table
 * ```ts
 * import { quantTablesForQ } from "./jpeg_headers.ts";
 * console.log(quantTablesForQ(50).subarray(0, 4)); // Uint8Array(4) [ 16, 11, 12, 14 ]
 * ```
 */
export function quantTablesForQ(q: number): Uint8Array {
  if (!Number.isInteger(q) || q < 1 || q > 99) {
    throw new RangeError(`Q must be 1 to 99 to name tables, got ${q}`);
  }
  let tables = cache.get(q);
  if (tables !== undefined) return tables;
  const scale = q < 50 ? Math.floor(5000 / q) : 200 - q * 2;
  tables = new Uint8Array(128);
  for (let i = 0; i < 64; i++) {
    tables[i] = clampQuant(STANDARD_LUMA_QUANT[i]!, scale);
    tables[64 + i] = clampQuant(STANDARD_CHROMA_QUANT[i]!, scale);
  }
  cache.set(q, tables);
  return tables;
}

/**
 * The sizes of the tables in `length` bytes of in-band table data: one or
 * two tables, 64 bytes each, or 128 for a table whose precision bit is set.
 * A sender may send one table when luminance and chrominance share it.
 *
 * @param length The bytes of table data.
 * @param precision The precision bits.
 * @returns The sizes, or `undefined` when the bytes do not split so.
 *
 * @example Two 8-bit tables, and one shared table
 * ```ts
 * import { quantTableSizes } from "./jpeg_headers.ts";
 * console.log(quantTableSizes(128, 0), quantTableSizes(64, 0)); // [ 64, 64 ] [ 64 ]
 * ```
 */
export function quantTableSizes(
  length: number,
  precision: number,
): number[] | undefined {
  const sizes: number[] = [];
  let left = length;
  for (let t = 0; t < 2 && left > 0; t++) {
    const size = (precision >> t) & 1 ? 128 : 64;
    sizes.push(size);
    left -= size;
  }
  return left === 0 && sizes.length > 0 ? sizes : undefined;
}

function clampQuant(value: number, scale: number): number {
  return Math.min(255, Math.max(1, Math.floor((value * scale + 50) / 100)));
}

const APP0_BYTES = 18;
const SOF_BYTES = 19;
const SOS_BYTES = 14;
const DRI_BYTES = 6;
const DHT_BYTES = STANDARD_HUFFMAN_TABLES.reduce(
  (sum, table) => sum + 4 + 1 + 16 + table.values.length,
  0,
);

/**
 * How many bytes {@linkcode writeJpegHeaders} writes.
 *
 * @param params The type (for the DRI) and the tables' sizes.
 * @returns The length, SOI to the end of SOS.
 *
 * @example For 8-bit tables and no restart markers
 * ```ts
 * import { jpegHeadersLength } from "./jpeg_headers.ts";
 * console.log(jpegHeadersLength({ type: 1, quantTables: new Uint8Array(128), tablePrecision: 0 })); // 623
 * ```
 */
export function jpegHeadersLength(
  params: Pick<JpegHeaderParams, "type" | "quantTables" | "tablePrecision">,
): number {
  const tables = quantTableSizes(
    params.quantTables.length,
    params.tablePrecision,
  )?.length ?? 2;
  return 2 + APP0_BYTES + tables * (4 + 1) + params.quantTables.length +
    (params.type >= 64 ? DRI_BYTES : 0) + SOF_BYTES + DHT_BYTES + SOS_BYTES;
}

/**
 * Writes a JFIF file's headers, SOI to SOS, so that the scan data can
 * follow: the headers of RFC 2435 Appendix B, with a JFIF APP0.
 *
 * @param target Where to write.
 * @param offset At which byte; {@linkcode jpegHeadersLength} bytes follow.
 * @param params Type, size, restart interval and tables.
 * @returns The offset just past the headers.
 *
 * @example Headers for a 640x480 4:2:0 frame at Q 75
 * ```ts
 * import { jpegHeadersLength, quantTablesForQ, writeJpegHeaders } from "./jpeg_headers.ts";
 * const params = { type: 1, width: 640, height: 480, dri: 0, quantTables: quantTablesForQ(75), tablePrecision: 0 };
 * const headers = new Uint8Array(jpegHeadersLength(params));
 * writeJpegHeaders(headers, 0, params);
 * console.log(headers[0], headers[1]); // 255 216
 * ```
 */
export function writeJpegHeaders(
  target: Uint8Array,
  offset: number,
  params: JpegHeaderParams,
): number {
  const tables = params.quantTables;
  const sizes = quantTableSizes(tables.length, params.tablePrecision);
  if (sizes === undefined) {
    throw new RangeError(
      `Cannot split ${tables.length} bytes into one or two quantization tables of precision ${params.tablePrecision}`,
    );
  }
  let at = offset;
  const put = (...values: number[]) => {
    for (let k = 0; k < values.length; k++) target[at++] = values[k]!;
  };
  const put16 = (value: number) => put(value >> 8, value & 0xff);
  put(0xff, 0xd8);
  // JFIF 1.02, no density, no thumbnail.
  put(0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 2, 0, 0, 1, 0, 1, 0, 0);
  let start = 0;
  for (let t = 0; t < sizes.length; t++) {
    const bytes = sizes[t]!;
    put(0xff, 0xdb);
    put16(2 + 1 + bytes);
    put(((bytes === 128 ? 1 : 0) << 4) | t);
    target.set(tables.subarray(start, start + bytes), at);
    at += bytes;
    start += bytes;
  }
  if (params.type >= 64) {
    put(0xff, 0xdd, 0, 4);
    put16(params.dri);
  }
  // Extended sequential (SOF1) only when a table is 16-bit, which baseline
  // does not allow.
  put(0xff, params.tablePrecision ? 0xc1 : 0xc0, 0, 17, 8);
  put16(params.height);
  put16(params.width);
  const luma = (params.type & 63) === 0 ? 0x21 : 0x22;
  const chroma = sizes.length - 1;
  put(3, 1, luma, 0, 2, 0x11, chroma, 3, 0x11, chroma);
  for (const table of STANDARD_HUFFMAN_TABLES) {
    put(0xff, 0xc4);
    put16(2 + 1 + 16 + table.values.length);
    put((table.tableClass << 4) | table.id);
    target.set(table.bits, at);
    at += 16;
    target.set(table.values, at);
    at += table.values.length;
  }
  put(0xff, 0xda, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0);
  return at;
}
