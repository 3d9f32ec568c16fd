/**
 * Fuzz targets of RTP/JPEG: the RTP and RFC 2435 header readers on mutated
 * packets of the real packetizer, and `parseJpeg` on mutated JPEGs, whose
 * every accepted result must packetize and read back as it was.
 *
 * @module
 */

import {
  type JpegPayloadHeader,
  MAX_DIMENSION,
  readJpegPayloadHeader,
} from "../../../lib/rtp/payload_header.ts";
import {
  type ParsedJpeg,
  parseJpeg,
  UnsupportedJpegError,
} from "../../../lib/rtp/jpeg.ts";
import {
  readRtpHeader,
  RTP_HEADER_BYTES,
  type RtpHeader,
} from "../../../lib/rtp/packet.ts";
import { packetizeJpeg } from "../../../lib/rtp/packetizer.ts";
import { type Field, mutate, randomDatagram } from "../mutate.ts";
import type { Prng } from "../prng.ts";
import { type FuzzTarget, invariant, param, sameBytes } from "../target.ts";

/** RTP's fields, then RFC 2435's at their offsets without CSRCs. */
const RTP_FIELDS: readonly Field[] = [
  { offset: 0, size: 1 }, // V P X CC
  { offset: 1, size: 1 }, // M PT
  { offset: 2, size: 2 }, // sequence
  { offset: 4, size: 4 }, // timestamp
  { offset: 8, size: 4 }, // SSRC
  { offset: 12, size: 1 }, // type-specific
  { offset: 13, size: 3 }, // fragment offset
  { offset: 16, size: 1 }, // type
  { offset: 17, size: 1 }, // Q
  { offset: 18, size: 1 }, // width / 8
  { offset: 19, size: 1 }, // height / 8
  { offset: 20, size: 2 }, // restart interval, or MBZ and precision
  { offset: 22, size: 2 }, // F L count, or the tables' length
  { offset: 24, size: 2 }, // after a restart header: MBZ and precision
  { offset: 26, size: 2 }, // after a restart header: the tables' length
];

/** A valid packet with what RTP allows besides: CSRCs, an extension, padding. */
function withExtras(rng: Prng, packet: Uint8Array): Uint8Array {
  const csrcs = rng.chance(0.5) ? rng.below(16) : 0;
  const extensionWords = rng.chance(0.5) ? rng.below(4) : -1;
  const padding = rng.chance(0.5) ? 1 + rng.below(255) : 0;
  const extra = csrcs * 4 + (extensionWords >= 0 ? 4 + extensionWords * 4 : 0);
  const out = new Uint8Array(packet.length + extra + padding);
  out.set(packet.subarray(0, RTP_HEADER_BYTES));
  rng.fill(out, RTP_HEADER_BYTES, RTP_HEADER_BYTES + extra);
  if (extensionWords >= 0) {
    const at = RTP_HEADER_BYTES + csrcs * 4;
    out[at + 2] = extensionWords >> 8;
    out[at + 3] = extensionWords & 0xff;
  }
  out.set(packet.subarray(RTP_HEADER_BYTES), RTP_HEADER_BYTES + extra);
  out[0] = (out[0]! & 0xc0) | (padding > 0 ? 0x20 : 0) |
    (extensionWords >= 0 ? 0x10 : 0) | csrcs;
  if (padding > 0) out[out.length - 1] = padding;
  return out;
}

function checkRtpHeader(
  packet: Uint8Array,
  header: RtpHeader | string,
): RtpHeader | undefined {
  if (typeof header === "string") {
    invariant(
      header !== "" && !/[\r\n]/.test(header),
      `a refusal ${JSON.stringify(header)}`,
    );
    return undefined;
  }
  invariant(packet[0]! >> 6 === 2, `version ${packet[0]! >> 6} read as RTP`);
  invariant(
    header.payloadOffset >= RTP_HEADER_BYTES + (packet[0]! & 15) * 4 &&
      header.payloadOffset <= header.payloadEnd &&
      header.payloadEnd <= packet.length,
    `a payload from ${header.payloadOffset} to ${header.payloadEnd} in ${packet.length} bytes`,
  );
  invariant(
    header.sequence === ((packet[2]! << 8) | packet[3]!) &&
      header.payloadType === (packet[1]! & 0x7f) &&
      header.marker === (packet[1]! >= 0x80) &&
      header.ssrc >= 0 && header.ssrc <= 0xffff_ffff &&
      header.timestamp >= 0 && header.timestamp <= 0xffff_ffff,
    () => `header fields ${JSON.stringify(header)} do not match the bytes`,
  );
  return header;
}

function checkPayloadHeader(
  header: JpegPayloadHeader | string,
  offset: number,
  end: number,
): JpegPayloadHeader | undefined {
  if (typeof header === "string") {
    invariant(
      header !== "" && !/[\r\n]/.test(header),
      `a refusal ${JSON.stringify(header)}`,
    );
    return undefined;
  }
  invariant(
    header.dataOffset >= offset + 8 && header.dataOffset <= end,
    `scan data from ${header.dataOffset}, payload from ${offset} to ${end}`,
  );
  invariant(
    header.tablesLength === 0 ||
      (header.tablesOffset >= offset + 8 &&
        header.tablesOffset + header.tablesLength === header.dataOffset),
    () =>
      `tables at ${header.tablesOffset}+${header.tablesLength}, data at ${header.dataOffset}`,
  );
  invariant(
    header.width % 8 === 0 && header.width <= MAX_DIMENSION &&
      header.height % 8 === 0 && header.height <= MAX_DIMENSION &&
      header.fragmentOffset >= 0 && header.fragmentOffset <= 0xff_ffff &&
      header.restartCount <= 0x3fff,
    () => `payload header fields ${JSON.stringify(header)}`,
  );
  return header;
}

/** `readRtpHeader` and `readJpegPayloadHeader` on mutated packets. */
export const rtpPacketTarget: FuzzTarget = {
  name: "rtp-packet",
  about:
    "readRtpHeader and readJpegPayloadHeader on mutated packetizeJpeg packets (CSRCs, extensions, padding)",
  weight: 2,
  generate: (rng, corpus) => {
    const datagrams = [];
    const count = 1 + rng.below(32);
    for (let n = 0; n < count; n++) {
      const seed = rng.pick(corpus.rtp);
      const kind = rng.below(10);
      const bytes = kind === 0
        ? randomDatagram(rng, 2048)
        : kind === 1
        ? withExtras(rng, seed)
        : mutate(rng, kind === 2 ? withExtras(rng, seed) : seed, {
          fields: RTP_FIELDS,
          others: corpus.rtp,
        });
      datagrams.push({ from: 1, dtMs: 0, bytes });
    }
    return { datagrams, params: {} };
  },
  run: (input) => {
    for (const { bytes } of input.datagrams) {
      const header = checkRtpHeader(bytes, readRtpHeader(bytes));
      if (header === undefined) continue;
      checkPayloadHeader(
        readJpegPayloadHeader(bytes, header.payloadOffset, header.payloadEnd),
        header.payloadOffset,
        header.payloadEnd,
      );
    }
  },
};

const MTUS = [300, 1400, 9000, 65507];

/** `parseJpeg` on mutated JPEGs, and each accepted one through the packetizer and back. */
export const rtpJpegTarget: FuzzTarget = {
  name: "rtp-jpeg",
  about:
    "parseJpeg on mutated JPEGs: only UnsupportedJpegError, and what it accepts packetizes and reads back byte for byte",
  generate: (rng, corpus) => {
    const small = corpus.images.filter((image) => image.bytes.length <= 8192);
    const base = rng.chance(0.7)
      ? rng.pick(corpus.baseline).bytes
      : rng.pick(rng.chance(0.8) ? small : corpus.images).bytes;
    const bytes = rng.chance(0.1) ? base : mutate(rng, base, {
      others: corpus.baseline.map((b) => b.bytes),
      maxLength: 1 << 20,
    });
    return {
      datagrams: [{ from: 1, dtMs: 0, bytes }],
      params: { mtu: rng.pick(MTUS), sequence: rng.below(65536) },
    };
  },
  run: (input) => {
    for (const { bytes } of input.datagrams) {
      let jpeg: ParsedJpeg;
      try {
        jpeg = parseJpeg(bytes);
      } catch (error) {
        invariant(
          error instanceof UnsupportedJpegError &&
            error.message.startsWith("RFC 2435 cannot carry this JPEG: ") &&
            !/[\r\n]/.test(error.message),
          () =>
            `parseJpeg threw ${
              error instanceof Error ? `${error.name}: ${error.message}` : error
            }`,
        );
        continue;
      }
      checkParsed(bytes, jpeg);
      roundTrip(jpeg, param(input, "mtu", 1400), param(input, "sequence", 0));
    }
  },
};

function checkParsed(bytes: Uint8Array, jpeg: ParsedJpeg): void {
  invariant([0, 1, 64, 65].includes(jpeg.type), `type ${jpeg.type}`);
  invariant(
    (jpeg.type >= 64) === (jpeg.dri > 0),
    `type ${jpeg.type} with restart interval ${jpeg.dri}`,
  );
  invariant(
    jpeg.width >= 1 && jpeg.width <= MAX_DIMENSION &&
      jpeg.height >= 1 && jpeg.height <= MAX_DIMENSION,
    `a ${jpeg.width}x${jpeg.height} JPEG accepted`,
  );
  const expected = ((jpeg.tablePrecision & 1) ? 128 : 64) +
    ((jpeg.tablePrecision & 2) ? 128 : 64);
  invariant(
    jpeg.quantTables.length === expected,
    `${jpeg.quantTables.length} bytes of tables for precision bits ${jpeg.tablePrecision}`,
  );
  invariant(
    jpeg.scan.buffer === bytes.buffer &&
      jpeg.scan.byteOffset >= bytes.byteOffset &&
      jpeg.scan.byteOffset + jpeg.scan.length <=
        bytes.byteOffset + bytes.length,
    "the scan data is not a view into the JPEG",
  );
}

function roundTrip(jpeg: ParsedJpeg, mtu: number, sequence: number): void {
  const packets = packetizeJpeg(jpeg, { ssrc: 7, sequence, timestamp: 1, mtu });
  const scan = new Uint8Array(jpeg.scan.length);
  let next = 0;
  packets.forEach((packet, p) => {
    invariant(
      packet.length <= mtu,
      `a ${packet.length}-byte packet for MTU ${mtu}`,
    );
    const rtp = checkRtpHeader(packet, readRtpHeader(packet));
    invariant(
      rtp !== undefined,
      `packet ${p} of ${packets.length} does not read back as RTP`,
    );
    invariant(
      rtp.marker === (p === packets.length - 1) &&
        rtp.sequence === ((sequence + p) & 0xffff),
      `packet ${p}: marker ${rtp.marker}, sequence ${rtp.sequence}`,
    );
    const header = checkPayloadHeader(
      readJpegPayloadHeader(packet, rtp.payloadOffset, rtp.payloadEnd),
      rtp.payloadOffset,
      rtp.payloadEnd,
    );
    invariant(
      header !== undefined,
      `packet ${p} has no RFC 2435 header that reads back`,
    );
    invariant(
      header.type === jpeg.type && header.q === jpeg.q &&
        header.width === Math.ceil(jpeg.width / 8) * 8 &&
        header.height === Math.ceil(jpeg.height / 8) * 8 &&
        header.restartInterval === (jpeg.type >= 64 ? jpeg.dri : 0),
      () => `packet ${p} reads back as ${JSON.stringify(header)}`,
    );
    invariant(
      header.fragmentOffset === next,
      `packet ${p} at offset ${header.fragmentOffset}, expected ${next}`,
    );
    if (p === 0) {
      invariant(
        header.tablePrecision === jpeg.tablePrecision &&
          sameBytes(
            packet.subarray(
              header.tablesOffset,
              header.tablesOffset + header.tablesLength,
            ),
            jpeg.quantTables,
          ),
        "the first packet's tables are not the JPEG's",
      );
    }
    const data = packet.subarray(header.dataOffset, rtp.payloadEnd);
    invariant(
      next + data.length <= scan.length,
      `packets carry more than the ${scan.length}-byte scan`,
    );
    scan.set(data, next);
    next += data.length;
  });
  invariant(
    next === jpeg.scan.length && sameBytes(scan, jpeg.scan),
    `the packets carry ${next} bytes of a ${jpeg.scan.length}-byte scan, or other bytes`,
  );
}
