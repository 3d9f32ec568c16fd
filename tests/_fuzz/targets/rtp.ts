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
import { RtpReceiver } from "../../../lib/rtp/receiver.ts";
import { RtpJpegDepacketizer } from "../../../lib/rtp/depacketizer.ts";
import {
  buildBye,
  buildReceiverReport,
  buildSenderReport,
  isRtcp,
  parseRtcp,
} from "../../../lib/rtp/rtcp.ts";
import type { Corpus } from "../corpus.ts";
import { type Field, mutate, randomDatagram } from "../mutate.ts";
import type { Prng } from "../prng.ts";
import {
  type GoodStream,
  receiverTarget,
  type ReceiverTargetSpec,
} from "../receivers.ts";
import {
  concatBytes,
  countHostile,
  type FuzzTarget,
  hostileSenders,
  invariant,
  InvariantError,
  param,
  sameBytes,
} from "../target.ts";

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
      params: {
        mtu: rng.pick(MTUS),
        sequence: rng.below(65536),
        order: rng.below(2),
      },
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
      roundTrip(
        jpeg,
        param(input, "mtu", 1400),
        param(input, "sequence", 0),
        param(input, "order", 0),
      );
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

function roundTrip(
  jpeg: ParsedJpeg,
  mtu: number,
  sequence: number,
  order: number,
): void {
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
  depacketize(jpeg, order === 1 ? packets.reverse() : packets);
}

/**
 * The packets, in any order, through the depacketizer: one JFIF file, which
 * parseJpeg reads as the same frame (its size rounded up to 8 pixels, as
 * RFC 2435 sends it).
 */
function depacketize(jpeg: ParsedJpeg, packets: readonly Uint8Array[]): void {
  const frames: Uint8Array[] = [];
  const depacketizer = new RtpJpegDepacketizer((event) => {
    invariant(
      event.type === "frame",
      () => `the depacketizer dropped a frame: ${JSON.stringify(event)}`,
    );
    frames.push(event.bytes);
  }, { maxFrameBytes: 1 << 25 });
  for (const packet of packets) {
    const rtp = readRtpHeader(packet);
    invariant(typeof rtp !== "string", "a packet the depacketizer cannot read");
    depacketizer.push(rtp, packet, 0);
  }
  invariant(
    frames.length === 1,
    `${packets.length} packets made ${frames.length} frames`,
  );
  let rebuilt: ParsedJpeg;
  try {
    rebuilt = parseJpeg(frames[0]!);
  } catch (error) {
    throw new InvariantError(`the rebuilt JFIF does not parse: ${error}`);
  }
  invariant(
    rebuilt.type === jpeg.type && rebuilt.dri === jpeg.dri &&
      rebuilt.width === Math.ceil(jpeg.width / 8) * 8 &&
      rebuilt.height === Math.ceil(jpeg.height / 8) * 8 &&
      rebuilt.tablePrecision === jpeg.tablePrecision &&
      sameBytes(rebuilt.quantTables, jpeg.quantTables) &&
      sameBytes(rebuilt.scan, withoutEoi(jpeg.scan)),
    () =>
      `the rebuilt JFIF differs: type ${rebuilt.type}/${jpeg.type}, ${rebuilt.width}x${rebuilt.height} for ${jpeg.width}x${jpeg.height}, dri ${rebuilt.dri}/${jpeg.dri}, scan ${rebuilt.scan.length}/${jpeg.scan.length}`,
  );
}

/** The RTP receiver's limits under fuzzing; the rest are its defaults. */
export const RTP_LIMITS = {
  maxFrameBytes: 128 * 1024 + 768,
  maxPendingBytes: 64 * 1024 * 1024,
  maxStreams: 256,
  frameTimeoutMs: 1000,
  // Reports go to every source each interval: 5 s keeps long cases quick.
  reportIntervalMs: 5000,
  // Fixed, so that a case replays to the same bytes.
  ssrc: 0x5eed,
  clockOffsetMs: 0,
} as const;

/** The good sender's SSRC; hostile seeds use it too, as an on-path attacker would. */
export const GOOD_SSRC = 0x600d_5ec0;

/** JPEGs RFC 2435 carries that fit the fuzzing frame limit. */
function goodJpegs(corpus: Corpus): ParsedJpeg[] {
  return corpus.baseline
    .filter((b) => b.jpeg.scan.length + 1024 <= RTP_LIMITS.maxFrameBytes)
    .map((b) => b.jpeg);
}

/** One to three frames as `packetizeJpeg` sends them, with sender reports. */
export function rtpGoodStream(rng: Prng, corpus: Corpus): GoodStream {
  const jpegs = goodJpegs(corpus);
  const frames: Uint8Array[][] = [];
  const reports: (Uint8Array | undefined)[] = [];
  let sequence = rng.chance(0.3) ? 65536 - rng.below(4) : rng.below(65536);
  let timestamp = rng.chance(0.3) ? 2 ** 32 - 3000 : rng.u32();
  const mtu = rng.pick([300, 1400, 9000]);
  const count = 1 + rng.below(3);
  for (let n = 0; n < count; n++) {
    const packets = packetizeJpeg(rng.pick(jpegs), {
      ssrc: GOOD_SSRC,
      sequence: sequence & 0xffff,
      timestamp: timestamp >>> 0,
      mtu,
    });
    reports.push(
      rng.chance(0.3)
        ? buildSenderReport({
          ssrc: GOOD_SSRC,
          ntpMs: 1_700_000_000_000 + n * 33,
          rtpTimestamp: timestamp >>> 0,
          packets: sequence,
          octets: sequence * 1000,
          cname: "good@10.0.0.1",
        })
        : undefined,
    );
    frames.push(packets);
    sequence += packets.length;
    timestamp += 3000;
  }
  return { frames, reports, maxFrameMs: RTP_LIMITS.frameTimeoutMs };
}

/** RTCP as senders send it: reports and goodbyes, for the good SSRC and others. */
function rtcpSeeds(): Uint8Array[] {
  const seeds: Uint8Array[] = [];
  for (const ssrc of [GOOD_SSRC, 0x1234_5678, 0]) {
    seeds.push(
      buildSenderReport({
        ssrc,
        ntpMs: 1_700_000_000_000,
        rtpTimestamp: 90000,
        packets: 10,
        octets: 10_000,
        cname: "x@10.1.0.1",
      }),
      buildBye(ssrc),
      buildReceiverReport(ssrc, [{
        ssrc: GOOD_SSRC,
        fractionLost: 0,
        cumulativeLost: 0,
        highestSequence: 100,
        jitter: 0,
        lastSr: 0,
        delaySinceLastSr: 0,
      }], "rr@10.1.0.1"),
    );
  }
  return seeds;
}

const RTCP_SEEDS = rtcpSeeds();

/** Packets of one frame from a hostile sender: its own SSRC, or the good one. */
function rtpHostileStream(rng: Prng, corpus: Corpus): Uint8Array[] {
  return packetizeJpeg(rng.pick(goodJpegs(corpus)), {
    ssrc: rng.chance(0.3) ? GOOD_SSRC : rng.u32(),
    sequence: rng.below(65536),
    timestamp: rng.u32(),
    mtu: rng.pick([300, 1400]),
  });
}

/** The RTP receiver's spec, shared with the server's demux target. */
export const rtpSpec: ReceiverTargetSpec = {
  name: "rtp-receiver",
  about:
    "RtpReceiver (RTP and RTCP, muxed and on the control port, virtual clock) on mutated packets beside a good source",
  weight: 3,
  receivers: () => [new RtpReceiver(RTP_LIMITS)],
  demuxSenders: false,
  maxFrameBytes: RTP_LIMITS.maxFrameBytes,
  safeSenders: 3,
  // At most 250 hostile datagrams make at most 250 sources (of 256) and
  // 250 partial frames of 129 KiB (of 64 MiB): the good source keeps its place.
  safe: (input) => hostileSenders(input) <= 3 && countHostile(input) <= 250,
  good: rtpGoodStream,
  seeds: (corpus) => [...corpus.rtp, ...RTCP_SEEDS],
  controlSeeds: () => RTCP_SEEDS,
  hostileStream: rtpHostileStream,
  fields: () => RTP_FIELDS,
  bounds: (receivers) => {
    for (const receiver of receivers) {
      if (!(receiver instanceof RtpReceiver)) continue;
      invariant(
        receiver.streams <= RTP_LIMITS.maxStreams,
        `${receiver.streams} RTP sources held, limit ${RTP_LIMITS.maxStreams}`,
      );
    }
  },
};

/** `RtpReceiver`, fed as the server feeds it. */
export const rtpReceiverTarget: FuzzTarget = receiverTarget(rtpSpec);

/** `parseRtcp` on mutated compound RTCP. */
export const rtpRtcpTarget: FuzzTarget = {
  name: "rtp-rtcp",
  about:
    "isRtcp and parseRtcp on mutated SR, RR, SDES and BYE compounds: fields in range, never a throw",
  generate: (rng) => {
    const datagrams = [];
    const count = 1 + rng.below(16);
    for (let n = 0; n < count; n++) {
      const a = rng.pick(RTCP_SEEDS);
      // Compounds of two, as senders send SR then SDES.
      const seed = rng.chance(0.3) ? concatBytes([a, rng.pick(RTCP_SEEDS)]) : a;
      const bytes = rng.chance(0.1)
        ? randomDatagram(rng, 1500)
        : mutate(rng, seed, {
          others: RTCP_SEEDS,
          fields: [{ offset: 0, size: 1 }, { offset: 1, size: 1 }, {
            offset: 2,
            size: 2,
          }, { offset: 4, size: 4 }],
        });
      datagrams.push({ from: 1, dtMs: 0, bytes });
    }
    return { datagrams, params: {} };
  },
  run: (input) => {
    for (const { bytes } of input.datagrams) {
      isRtcp(bytes);
      let at = 0;
      for (const packet of parseRtcp(bytes)) {
        at++;
        switch (packet.type) {
          case "sr":
          case "rr":
            invariant(
              u32(packet.ssrc) && packet.reports.length <= 31 &&
                packet.reports.every((r) =>
                  u32(r.ssrc) && r.fractionLost <= 255
                ),
              () => `a ${packet.type} read as ${JSON.stringify(packet)}`,
            );
            if (packet.type === "sr") {
              invariant(
                Number.isFinite(packet.ntpMs),
                `an SR at NTP ${packet.ntpMs} ms`,
              );
            }
            break;
          case "sdes":
            invariant(
              u32(packet.ssrc) &&
                (packet.cname === undefined || packet.cname.length <= 255),
              "an SDES read wrong",
            );
            break;
          case "bye":
            invariant(
              packet.ssrcs.length <= 31 && packet.ssrcs.every(u32),
              "a BYE read wrong",
            );
        }
      }
      invariant(
        at <= bytes.length / 4,
        `${at} RTCP packets in ${bytes.length} bytes`,
      );
    }
  },
};

/**
 * The scan that comes back from the depacketizer: less a final EOI, when
 * the scan ends in one (a JPEG with two), since the depacketizer takes an
 * EOI at the end of the data for the frame's own, as some senders send it.
 */
function withoutEoi(scan: Uint8Array): Uint8Array {
  const n = scan.length;
  return n >= 2 && scan[n - 2] === 0xff && scan[n - 1] === 0xd9
    ? scan.subarray(0, n - 2)
    : scan;
}

function u32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
}
