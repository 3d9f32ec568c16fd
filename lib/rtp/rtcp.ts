/**
 * RTCP ([RFC 3550 §6](https://www.rfc-editor.org/rfc/rfc3550#section-6)):
 * the sender report, receiver report, SDES CNAME and BYE packets that an
 * RTP/JPEG sender and receiver exchange, built as compound packets and
 * read back.
 *
 * Sender report (SR, PT 200; a receiver report, PT 201, has the same
 * header and report blocks with no sender info):
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|    RC   |   PT=SR=200   |  length (32-bit words − 1)    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         SSRC of sender                        |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |              NTP timestamp, most significant word             |
 * |             NTP timestamp, least significant word             |
 * |                         RTP timestamp                         |
 * |                     sender's packet count                     |
 * |                      sender's octet count                     |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |                 SSRC_1 (SSRC of first source)                 |  report
 * | fraction lost |       cumulative number of packets lost       |  block,
 * |           extended highest sequence number received           |  RC of
 * |                      interarrival jitter                      |  them
 * |                         last SR (LSR)                         |
 * |                   delay since last SR (DLSR)                  |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * ```
 *
 * SDES (PT 202) with one chunk: the SSRC, then items of type (1 = CNAME),
 * length and text, ended by a zero byte and padded to 32 bits. BYE (PT
 * 203): the header with the SSRC count, then the SSRCs.
 *
 * @module
 */

/** RTCP packet types. */
export const RTCP_SR = 200;
/** Receiver report. */
export const RTCP_RR = 201;
/** Source description. */
export const RTCP_SDES = 202;
/** Goodbye. */
export const RTCP_BYE = 203;

/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
const NTP_UNIX_OFFSET = 2_208_988_800;

/** One report block of an SR or RR: how one source's packets arrive. */
export interface ReportBlock {
  /** The source reported on. */
  readonly ssrc: number;
  /** Packets lost since the last report, as a fraction of 256. */
  readonly fractionLost: number;
  /** Packets lost in all, a signed 24-bit number. */
  readonly cumulativeLost: number;
  /** The highest sequence number received, with 16 bits of wrap count. */
  readonly highestSequence: number;
  /** Interarrival jitter, in RTP timestamp units. */
  readonly jitter: number;
  /** The middle 32 bits of the last SR's NTP timestamp, or 0. */
  readonly lastSr: number;
  /** Time since that SR, in 1/65536 s, or 0. */
  readonly delaySinceLastSr: number;
}

/** A sender report, as read. */
export interface SenderReport {
  /** Discriminant. */
  readonly type: "sr";
  /** The sender's SSRC. */
  readonly ssrc: number;
  /** The wall clock when it was sent, in ms since the Unix epoch. */
  readonly ntpMs: number;
  /** The middle 32 bits of its NTP timestamp, for LSR. */
  readonly ntpMiddle: number;
  /** The RTP timestamp that corresponds to that time. */
  readonly rtpTimestamp: number;
  /** Packets sent. */
  readonly packets: number;
  /** Payload octets sent. */
  readonly octets: number;
  /** Report blocks. */
  readonly reports: readonly ReportBlock[];
}

/** A receiver report, as read. */
export interface ReceiverReport {
  /** Discriminant. */
  readonly type: "rr";
  /** The reporter's SSRC. */
  readonly ssrc: number;
  /** Report blocks. */
  readonly reports: readonly ReportBlock[];
}

/** A source description's CNAME, as read. */
export interface SourceDescription {
  /** Discriminant. */
  readonly type: "sdes";
  /** The source. */
  readonly ssrc: number;
  /** Its canonical name, if given. */
  readonly cname: string | undefined;
}

/** A goodbye, as read. */
export interface Goodbye {
  /** Discriminant. */
  readonly type: "bye";
  /** The sources leaving. */
  readonly ssrcs: readonly number[];
}

/** An RTCP packet that {@linkcode parseRtcp} understands. */
export type RtcpPacket =
  | SenderReport
  | ReceiverReport
  | SourceDescription
  | Goodbye;

/**
 * Whether a datagram is RTCP rather than RTP: version 2 and a packet type
 * of 200 to 204 where RTP has its marker bit and payload type, as RFC 5761
 * tells them apart.
 *
 * @param datagram A datagram.
 * @returns Whether it looks like RTCP.
 *
 * @example An SR
 * ```ts
 * import { isRtcp } from "./rtcp.ts";
 * console.log(isRtcp(Uint8Array.of(0x80, 200, 0, 6))); // true
 * ```
 */
export function isRtcp(datagram: Uint8Array): boolean {
  const pt = datagram[1] ?? 0;
  return datagram.length >= 8 && (datagram[0]! >> 6) === 2 && pt >= 192 &&
    pt <= 223;
}

/** What a sender report says. */
export interface SenderReportOptions {
  /** The sender's SSRC. */
  ssrc: number;
  /** The wall clock now, in ms since the Unix epoch. */
  ntpMs: number;
  /** The RTP timestamp of this instant. */
  rtpTimestamp: number;
  /** Packets sent so far. */
  packets: number;
  /** Payload octets sent so far. */
  octets: number;
  /** The CNAME to describe the source with. */
  cname: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Builds a compound RTCP packet: an SR with no report blocks, then an SDES
 * with the CNAME.
 *
 * @param options The sender's counters and clocks.
 * @returns The datagram.
 *
 * @example A sender report
 * ```ts
 * import { buildSenderReport, parseRtcp } from "./rtcp.ts";
 * const bytes = buildSenderReport({
 *   ssrc: 7, ntpMs: Date.now(), rtpTimestamp: 1234, packets: 10, octets: 9000,
 *   cname: "cam@host",
 * });
 * console.log(parseRtcp(bytes).map((p) => p.type)); // [ "sr", "sdes" ]
 * ```
 */
export function buildSenderReport(options: SenderReportOptions): Uint8Array {
  const sdes = sdesLength(options.cname);
  const bytes = new Uint8Array(28 + sdes);
  const view = new DataView(bytes.buffer);
  writeHeader(view, 0, 0, RTCP_SR, 28);
  view.setUint32(4, options.ssrc >>> 0);
  const [high, low] = toNtp(options.ntpMs);
  view.setUint32(8, high);
  view.setUint32(12, low);
  view.setUint32(16, options.rtpTimestamp >>> 0);
  view.setUint32(20, options.packets >>> 0);
  view.setUint32(24, options.octets >>> 0);
  writeSdes(bytes, view, 28, options.ssrc, options.cname);
  return bytes;
}

/**
 * Builds a compound RTCP packet: an RR with up to 31 report blocks, then
 * an SDES with the CNAME.
 *
 * @param ssrc The reporter's SSRC.
 * @param reports The sources it receives.
 * @param cname Its CNAME.
 * @returns The datagram.
 *
 * @example A receiver report
 * ```ts
 * import { buildReceiverReport, parseRtcp } from "./rtcp.ts";
 * const bytes = buildReceiverReport(9, [{
 *   ssrc: 7, fractionLost: 0, cumulativeLost: 0, highestSequence: 100,
 *   jitter: 0, lastSr: 0, delaySinceLastSr: 0,
 * }], "server@host");
 * const [rr] = parseRtcp(bytes);
 * console.log(rr?.type === "rr" && rr.reports[0]?.highestSequence); // 100
 * ```
 */
export function buildReceiverReport(
  ssrc: number,
  reports: readonly ReportBlock[],
  cname: string,
): Uint8Array {
  const count = Math.min(31, reports.length);
  const rr = 8 + count * 24;
  const bytes = new Uint8Array(rr + sdesLength(cname));
  const view = new DataView(bytes.buffer);
  writeHeader(view, 0, count, RTCP_RR, rr);
  view.setUint32(4, ssrc >>> 0);
  for (let i = 0; i < count; i++) {
    const block = reports[i]!;
    const at = 8 + i * 24;
    view.setUint32(at, block.ssrc >>> 0);
    view.setUint32(
      at + 4,
      ((block.fractionLost & 0xff) << 24 |
        (block.cumulativeLost & 0xffffff)) >>>
        0,
    );
    view.setUint32(at + 8, block.highestSequence >>> 0);
    view.setUint32(at + 12, block.jitter >>> 0);
    view.setUint32(at + 16, block.lastSr >>> 0);
    view.setUint32(at + 20, block.delaySinceLastSr >>> 0);
  }
  writeSdes(bytes, view, rr, ssrc, cname);
  return bytes;
}

/**
 * Builds a BYE for one source, to send as the stream ends.
 *
 * @param ssrc The source leaving.
 * @returns The datagram (a BYE alone, which receivers accept).
 *
 * @example A goodbye
 * ```ts
 * import { buildBye, parseRtcp } from "./rtcp.ts";
 * console.log(parseRtcp(buildBye(7))); // [ { type: "bye", ssrcs: [ 7 ] } ]
 * ```
 */
export function buildBye(ssrc: number): Uint8Array {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  writeHeader(view, 0, 1, RTCP_BYE, 8);
  view.setUint32(4, ssrc >>> 0);
  return bytes;
}

/**
 * Reads the packets of a compound RTCP datagram that this module knows
 * (SR, RR, SDES CNAME, BYE), skipping others; stops at the first packet
 * whose length does not fit.
 *
 * @param datagram The datagram.
 * @returns The packets read.
 *
 * @example Skipping what is not understood
 * ```ts
 * import { parseRtcp } from "./rtcp.ts";
 * console.log(parseRtcp(Uint8Array.of(0x80, 204, 0, 1, 0, 0, 0, 1))); // []
 * ```
 */
export function parseRtcp(datagram: Uint8Array): RtcpPacket[] {
  const packets: RtcpPacket[] = [];
  const view = new DataView(
    datagram.buffer,
    datagram.byteOffset,
    datagram.byteLength,
  );
  let at = 0;
  while (at + 4 <= datagram.length) {
    const first = datagram[at]!;
    if (first >> 6 !== 2) break;
    const count = first & 31;
    const type = datagram[at + 1]!;
    const length = (view.getUint16(at + 2) + 1) * 4;
    if (at + length > datagram.length) break;
    const end = at + length;
    switch (type) {
      case RTCP_SR:
        if (length >= 28 + count * 24) {
          const high = view.getUint32(at + 8);
          const low = view.getUint32(at + 12);
          packets.push({
            type: "sr",
            ssrc: view.getUint32(at + 4),
            ntpMs: (high - NTP_UNIX_OFFSET) * 1000 + (low / 2 ** 32) * 1000,
            ntpMiddle: ((high << 16) | (low >>> 16)) >>> 0,
            rtpTimestamp: view.getUint32(at + 16),
            packets: view.getUint32(at + 20),
            octets: view.getUint32(at + 24),
            reports: readBlocks(view, at + 28, count),
          });
        }
        break;
      case RTCP_RR:
        if (length >= 8 + count * 24) {
          packets.push({
            type: "rr",
            ssrc: view.getUint32(at + 4),
            reports: readBlocks(view, at + 8, count),
          });
        }
        break;
      case RTCP_SDES:
        if (count >= 1 && length >= 8) {
          packets.push({
            type: "sdes",
            ssrc: view.getUint32(at + 4),
            cname: readCname(datagram, at + 8, end),
          });
        }
        break;
      case RTCP_BYE: {
        const ssrcs: number[] = [];
        for (let i = 0; i < count && at + 8 + i * 4 <= end; i++) {
          ssrcs.push(view.getUint32(at + 4 + i * 4));
        }
        packets.push({ type: "bye", ssrcs });
        break;
      }
    }
    at = end;
  }
  return packets;
}

/**
 * The middle 32 bits of the NTP timestamp of a wall-clock time, as LSR
 * and DLSR use.
 *
 * @param ms Milliseconds since the Unix epoch.
 * @returns The NTP timestamp's seconds' low 16 bits and fraction's high 16.
 *
 * @example The same as an SR's
 * ```ts
 * import { ntpMiddle } from "./rtcp.ts";
 * console.log(ntpMiddle(0) >>> 16); // 32400, the low bits of 2208988800
 * ```
 */
export function ntpMiddle(ms: number): number {
  const [high, low] = toNtp(ms);
  return ((high << 16) | (low >>> 16)) >>> 0;
}

function toNtp(ms: number): [number, number] {
  const seconds = Math.floor(ms / 1000);
  const fraction = Math.floor(((ms - seconds * 1000) / 1000) * 2 ** 32);
  return [(seconds + NTP_UNIX_OFFSET) >>> 0, fraction >>> 0];
}

function writeHeader(
  view: DataView,
  at: number,
  count: number,
  type: number,
  bytes: number,
): void {
  view.setUint8(at, 0x80 | count);
  view.setUint8(at + 1, type);
  view.setUint16(at + 2, bytes / 4 - 1);
}

function sdesLength(cname: string): number {
  const text = Math.min(255, encoder.encode(cname).length);
  // Header, SSRC, CNAME type and length, text, END, padded to 32 bits.
  return 8 + Math.ceil((2 + text + 1) / 4) * 4;
}

function writeSdes(
  bytes: Uint8Array,
  view: DataView,
  at: number,
  ssrc: number,
  cname: string,
): void {
  const text = encoder.encode(cname).subarray(0, 255);
  writeHeader(view, at, 1, RTCP_SDES, bytes.length - at);
  view.setUint32(at + 4, ssrc >>> 0);
  bytes[at + 8] = 1;
  bytes[at + 9] = text.length;
  bytes.set(text, at + 10);
  // The END item and the padding are the zeros already there.
}

function readBlocks(view: DataView, at: number, count: number): ReportBlock[] {
  const blocks: ReportBlock[] = [];
  for (let i = 0; i < count; i++) {
    const b = at + i * 24;
    const lost = view.getUint32(b + 4);
    blocks.push({
      ssrc: view.getUint32(b),
      fractionLost: lost >>> 24,
      cumulativeLost: (lost << 8) >> 8,
      highestSequence: view.getUint32(b + 8),
      jitter: view.getUint32(b + 12),
      lastSr: view.getUint32(b + 16),
      delaySinceLastSr: view.getUint32(b + 20),
    });
  }
  return blocks;
}

function readCname(
  bytes: Uint8Array,
  at: number,
  end: number,
): string | undefined {
  while (at + 2 <= end && bytes[at] !== 0) {
    const type = bytes[at]!;
    const length = bytes[at + 1]!;
    if (at + 2 + length > end) return undefined;
    if (type === 1) {
      return decoder.decode(bytes.subarray(at + 2, at + 2 + length));
    }
    at += 2 + length;
  }
  return undefined;
}
