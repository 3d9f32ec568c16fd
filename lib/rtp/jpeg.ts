/**
 * Reading a JFIF (baseline JPEG) file for RTP/JPEG: what RFC 2435 sends of
 * it (type, size, restart interval, quantization tables, scan data), and
 * why it cannot be sent when RFC 2435 has no way to describe it.
 *
 * RFC 2435 does not send a JPEG's headers: the receiver rebuilds them from
 * the type, the size, the Q value or in-band tables, and the typical
 * Huffman tables of the JPEG standard's Annex K. So only baseline JPEGs
 * with 8-bit samples, three components sampled 4:2:0 or 4:2:2, Annex K's
 * Huffman tables and at most 2040 pixels a side can be sent as they are.
 * libjpeg-turbo (udpimg's native encoder) writes such JPEGs by default;
 * ffmpeg's `mjpeg` encoder does with `-huffman default`.
 *
 * @module
 */

import { MAX_DIMENSION, MAX_FRAGMENT_OFFSET } from "./payload_header.ts";
import { standardHuffman } from "./_tables.ts";

/** What RFC 2435 sends of one JPEG: {@linkcode parseJpeg}'s result. */
export interface ParsedJpeg {
  /**
   * The RFC 2435 type: 0 for 4:2:2, 1 for 4:2:0, plus 64 when the scan has
   * restart markers.
   */
  readonly type: 0 | 1 | 64 | 65;
  /** Q: always 255, in-band tables that may change with every frame. */
  readonly q: number;
  /** Width in pixels, as in the JPEG. */
  readonly width: number;
  /** Height in pixels, as in the JPEG. */
  readonly height: number;
  /** The restart interval in MCUs (the DRI segment's), 0 for none. */
  readonly dri: number;
  /**
   * The luminance then the chrominance quantization table, in zigzag
   * order, 64 bytes each (128 for 16-bit tables).
   */
  readonly quantTables: Uint8Array;
  /** Bit 0: the luminance table is 16-bit; bit 1: the chrominance one. */
  readonly tablePrecision: number;
  /**
   * The entropy-coded scan data, without the EOI marker: a view into the
   * bytes given.
   */
  readonly scan: Uint8Array;
}

/**
 * A JPEG that RFC 2435 cannot carry as it is, or that is not a JPEG. The
 * message says why; re-encoding the image as baseline 4:2:0 JPEG with the
 * standard tables fixes all but the size.
 *
 * @example Catching it
 * ```ts
 * import { parseJpeg, UnsupportedJpegError } from "./jpeg.ts";
 * try {
 *   parseJpeg(new Uint8Array([0x89, 0x50, 0x4e, 0x47]));
 * } catch (error) {
 *   console.log(error instanceof UnsupportedJpegError); // true
 * }
 * ```
 */
export class UnsupportedJpegError extends Error {
  /**
   * @param message Why RFC 2435 cannot carry it.
   * @param options An optional cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnsupportedJpegError";
  }
}

const SOF_KINDS: Record<number, string> = {
  0xc2: "progressive",
  0xc3: "lossless",
  0xc5: "hierarchical",
  0xc6: "progressive hierarchical",
  0xc7: "lossless hierarchical",
  0xc9: "arithmetic-coded",
  0xca: "progressive arithmetic-coded",
  0xcb: "lossless arithmetic-coded",
  0xcd: "hierarchical arithmetic-coded",
  0xce: "progressive hierarchical arithmetic-coded",
  0xcf: "lossless hierarchical arithmetic-coded",
};

interface Component {
  id: number;
  sampling: number;
  table: number;
}

function fail(reason: string): never {
  throw new UnsupportedJpegError(`RFC 2435 cannot carry this JPEG: ${reason}`);
}

/**
 * Reads what RFC 2435 sends of a JPEG: parse each frame once, then hand
 * the result to a packetizer.
 *
 * @param bytes A whole JPEG file.
 * @returns The type, size, restart interval, tables and scan data.
 * @throws {UnsupportedJpegError} When it is not a JPEG, or is one that RFC
 * 2435 cannot describe: progressive, lossless or arithmetic-coded, 12-bit,
 * grayscale or 4:4:4, larger than 2040 pixels a side, or with Huffman
 * tables other than Annex K's.
 *
 * @example Parsing a JPEG
 * ```ts
 * import { parseJpeg } from "./jpeg.ts";
 * const jpeg = parseJpeg(await Deno.readFile("bench/frames/photo_640x480.jpg"));
 * console.log(jpeg.width, jpeg.height, jpeg.type); // 640 480 1
 * ```
 */
export function parseJpeg(bytes: Uint8Array): ParsedJpeg {
  const n = bytes.length;
  if (n < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) {
    fail("it is not a JPEG (no SOI marker)");
  }
  const quant: (Uint8Array | undefined)[] = [];
  const quantPrecision: number[] = [];
  // Per DHT destination (class * 2 + id, ids 0 and 1): false when a table
  // other than Annex K's was defined there.
  const standard = [true, true, true, true];
  const components: Component[] = [];
  let width = 0;
  let height = 0;
  let dri = 0;
  let sawFrame = false;
  let type: 0 | 1 = 1;
  let i = 2;
  while (true) {
    if (i >= n) fail("it ends before its scan (no SOS marker)");
    if (bytes[i] !== 0xff) fail(`it has no marker at byte ${i}`);
    while (i < n && bytes[i] === 0xff) i++;
    const marker = bytes[i++];
    if (marker === undefined) fail("it ends inside a marker");
    if (marker === 0xd8 || marker === 0x01 || (marker & 0xf8) === 0xd0) {
      continue;
    }
    if (marker === 0xd9) fail("it ends before its scan (EOI before SOS)");
    if (i + 2 > n) fail("it ends inside a marker segment");
    const length = (bytes[i]! << 8) | bytes[i + 1]!;
    const start = i + 2;
    const end = i + length;
    if (length < 2 || end > n) {
      fail(`a 0x${marker.toString(16)} segment claims ${length} bytes`);
    }
    if (marker === 0xda) {
      if (!sawFrame) fail("its scan comes before a frame header");
      type = frameType(components);
      checkScan(bytes.subarray(start, end), components);
      i = end;
      break;
    }
    switch (marker) {
      case 0xc0:
      case 0xc1: {
        if (sawFrame) fail("it has two frame headers");
        sawFrame = true;
        if (end - start < 6) fail("its frame header is cut short");
        const precision = bytes[start]!;
        if (precision !== 8) {
          fail(`it has ${precision}-bit samples; RFC 2435 carries 8-bit only`);
        }
        height = (bytes[start + 1]! << 8) | bytes[start + 2]!;
        width = (bytes[start + 3]! << 8) | bytes[start + 4]!;
        const count = bytes[start + 5]!;
        if (end - start < 6 + count * 3) fail("its frame header is cut short");
        for (let c = 0; c < count; c++) {
          const at = start + 6 + c * 3;
          components.push({
            id: bytes[at]!,
            sampling: bytes[at + 1]!,
            table: bytes[at + 2]!,
          });
        }
        break;
      }
      case 0xc4:
        readHuffman(bytes, start, end, standard);
        break;
      case 0xcc:
        fail("it is arithmetic-coded");
        break;
      case 0xdb:
        readQuant(bytes, start, end, quant, quantPrecision);
        break;
      case 0xdd:
        if (end - start < 2) fail("its DRI segment is cut short");
        dri = (bytes[start]! << 8) | bytes[start + 1]!;
        break;
      default: {
        const kind = SOF_KINDS[marker];
        if (kind !== undefined) fail(`it is ${kind}, not baseline`);
      }
    }
    i = end;
  }
  if (width > MAX_DIMENSION || height > MAX_DIMENSION) {
    fail(
      `it is ${width}x${height}, and RFC 2435 describes at most ${MAX_DIMENSION}x${MAX_DIMENSION}`,
    );
  }
  if (width === 0 || height === 0) {
    fail(`it is ${width}x${height} (a size given later by DNL)`);
  }
  const luma = quant[components[0]!.table];
  const chroma = quant[components[1]!.table];
  if (luma === undefined || chroma === undefined) {
    fail("it uses a quantization table it does not define");
  }
  for (let t = 0; t < 4; t++) {
    if (!standard[t]) {
      fail(
        "its Huffman tables are optimized, not the standard ones of JPEG Annex K that RFC 2435 receivers assume",
      );
    }
  }
  const quantTables = new Uint8Array(luma.length + chroma.length);
  quantTables.set(luma);
  quantTables.set(chroma, luma.length);
  const scanEnd = findEoi(bytes, i);
  if (scanEnd - i > MAX_FRAGMENT_OFFSET + 1) {
    fail(
      `its scan data is ${scanEnd - i} bytes, past RFC 2435's 24-bit offsets`,
    );
  }
  return {
    type: (dri > 0 ? type + 64 : type) as ParsedJpeg["type"],
    q: 255,
    width,
    height,
    dri,
    quantTables,
    tablePrecision: (quantPrecision[components[0]!.table] ? 1 : 0) |
      (quantPrecision[components[1]!.table] ? 2 : 0),
    scan: bytes.subarray(i, scanEnd),
  };
}

function frameType(components: readonly Component[]): 0 | 1 {
  if (components.length !== 3) {
    fail(
      components.length === 1
        ? "it is grayscale; RFC 2435 carries YCbCr with three components"
        : `it has ${components.length} components; RFC 2435 carries three (YCbCr)`,
    );
  }
  const [y, cb, cr] = components as [Component, Component, Component];
  const chroma = cb.sampling === 0x11 && cr.sampling === 0x11;
  if (chroma && y.sampling === 0x11) {
    fail("it is 4:4:4; RFC 2435 carries 4:2:0 and 4:2:2");
  }
  if (!chroma || (y.sampling !== 0x21 && y.sampling !== 0x22)) {
    const s = (c: Component) => `${c.sampling >> 4}x${c.sampling & 15}`;
    fail(
      `its sampling is ${s(y)},${s(cb)},${
        s(cr)
      }; RFC 2435 carries 4:2:0 (2x2,1x1,1x1) and 4:2:2 (2x1,1x1,1x1)`,
    );
  }
  if (cb.table !== cr.table) {
    fail("its Cb and Cr use different quantization tables");
  }
  return y.sampling === 0x21 ? 0 : 1;
}

function checkScan(segment: Uint8Array, components: readonly Component[]) {
  const count = segment[0] ?? 0;
  if (count !== 3 || segment.length < 1 + count * 2 + 3) {
    fail(
      count === 3
        ? "its scan header is cut short"
        : `its first scan has ${count} components, not all three (progressive or non-interleaved)`,
    );
  }
  for (let c = 0; c < 3; c++) {
    if (segment[1 + c * 2] !== components[c]?.id) {
      fail("its scan lists the components in another order than its frame");
    }
    const tables = segment[2 + c * 2]!;
    if (tables !== (c === 0 ? 0x00 : 0x11)) {
      fail(
        "its scan uses Huffman tables other than 0 for Y and 1 for Cb and Cr",
      );
    }
  }
  const at = 1 + count * 2;
  if (segment[at] !== 0 || segment[at + 1] !== 63 || segment[at + 2] !== 0) {
    fail("its scan is not a whole baseline scan (spectral selection)");
  }
}

function readHuffman(
  bytes: Uint8Array,
  start: number,
  end: number,
  standard: boolean[],
): void {
  let at = start;
  while (at < end) {
    if (at + 17 > end) fail("a DHT segment is cut short");
    const tc = bytes[at]! >> 4;
    const th = bytes[at]! & 15;
    let total = 0;
    for (let k = 1; k <= 16; k++) total += bytes[at + k]!;
    if (at + 17 + total > end) fail("a DHT segment is cut short");
    const reference = standardHuffman(tc, th);
    if (reference !== undefined) {
      standard[tc * 2 + th] = sameBytes(
        bytes,
        at + 1,
        reference.bits,
      ) && total === reference.values.length &&
        sameBytes(bytes, at + 17, reference.values);
    }
    at += 17 + total;
  }
}

function readQuant(
  bytes: Uint8Array,
  start: number,
  end: number,
  quant: (Uint8Array | undefined)[],
  precision: number[],
): void {
  let at = start;
  while (at < end) {
    const pq = bytes[at]! >> 4;
    const tq = bytes[at]! & 15;
    const size = pq === 0 ? 64 : 128;
    if (at + 1 + size > end || tq > 3) fail("a DQT segment is malformed");
    quant[tq] = bytes.subarray(at + 1, at + 1 + size);
    precision[tq] = pq;
    at += 1 + size;
  }
}

function sameBytes(bytes: Uint8Array, at: number, expected: Uint8Array) {
  for (let k = 0; k < expected.length; k++) {
    if (bytes[at + k] !== expected[k]) return false;
  }
  return true;
}

/** Where the scan data ends: at the last EOI, or the end of the bytes. */
function findEoi(bytes: Uint8Array, from: number): number {
  for (let j = bytes.length - 2; j >= from; j--) {
    if (bytes[j] === 0xff && bytes[j + 1] === 0xd9) return j;
  }
  return bytes.length;
}
