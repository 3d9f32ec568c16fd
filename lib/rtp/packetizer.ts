/**
 * Cutting a parsed JPEG into RTP/JPEG packets (RFC 2435 over RFC 3550):
 * the RTP header, the main JPEG header, the restart marker header for
 * types 64 and 65, the in-band quantization tables in the first packet,
 * and the scan data, with the marker bit on the frame's last packet.
 * The layouts are drawn in `packet.ts` and `payload_header.ts`.
 *
 * @module
 */

import type { ParsedJpeg } from "./jpeg.ts";
import { RTP_HEADER_BYTES, writeRtpHeader } from "./packet.ts";
import {
  hasRestartHeader,
  JPEG_HEADER_BYTES,
  QUANT_HEADER_BYTES,
  RESTART_COUNT_UNALIGNED,
  RESTART_HEADER_BYTES,
} from "./payload_header.ts";

/** The static payload type of JPEG ([RFC 3551](https://www.rfc-editor.org/rfc/rfc3551#section-6)). */
export const JPEG_PAYLOAD_TYPE = 26;
/** RTP/JPEG's media clock: 90 kHz. */
export const JPEG_CLOCK_RATE = 90000;
/**
 * The largest RTP packet to send by default, in bytes (RTP header
 * included), as GStreamer's `rtpjpegpay`: it fits an Ethernet MTU with
 * room for tunnels.
 */
export const DEFAULT_RTP_MTU = 1400;

/** Options for {@linkcode packetizeJpeg}. */
export interface PacketizeJpegOptions {
  /** The synchronization source. */
  ssrc: number;
  /** The first packet's sequence number; the others follow, modulo 2^16. */
  sequence: number;
  /** The frame's RTP timestamp, on the 90 kHz clock. */
  timestamp: number;
  /** The payload type. @default {26} */
  payloadType?: number;
  /** The largest packet, RTP header included. @default {1400} */
  mtu?: number;
}

/**
 * Cuts one parsed JPEG into RTP packets.
 *
 * The packets are views into one buffer allocated for the frame; send them
 * in order.
 *
 * @param jpeg A frame from {@linkcode parseJpeg}.
 * @param options SSRC, first sequence number, timestamp, payload type, MTU.
 * @returns The packets.
 *
 * @example Packetizing a frame
 * ```ts
 * import { parseJpeg } from "./jpeg.ts";
 * import { packetizeJpeg } from "./packetizer.ts";
 *
 * const jpeg = parseJpeg(await Deno.readFile("bench/frames/photo_640x480.jpg"));
 * const packets = packetizeJpeg(jpeg, { ssrc: 1, sequence: 65530, timestamp: 0 });
 * console.log(packets.every((p) => p.length <= 1400)); // true
 * console.log(packets.at(-1)![1]! >> 7); // 1, the marker bit
 * ```
 */
export function packetizeJpeg(
  jpeg: ParsedJpeg,
  options: PacketizeJpegOptions,
): Uint8Array[] {
  const mtu = options.mtu ?? DEFAULT_RTP_MTU;
  const payloadType = options.payloadType ?? JPEG_PAYLOAD_TYPE;
  if (!Number.isInteger(payloadType) || payloadType < 0 || payloadType > 127) {
    throw new RangeError(
      `The payload type must be 0 to 127, got ${payloadType}`,
    );
  }
  const restart = hasRestartHeader(jpeg.type);
  const fixed = RTP_HEADER_BYTES + JPEG_HEADER_BYTES +
    (restart ? RESTART_HEADER_BYTES : 0);
  const inBand = jpeg.q >= 128;
  const tables = inBand ? QUANT_HEADER_BYTES + jpeg.quantTables.length : 0;
  if (!Number.isInteger(mtu) || mtu < fixed + tables + 1 || mtu > 65507) {
    throw new RangeError(
      `The MTU must be from ${
        fixed + tables + 1
      } (the headers of a first packet and a byte) to 65507, got ${mtu}`,
    );
  }
  const scan = jpeg.scan;
  const total = scan.length;
  const room = mtu - fixed;
  // The first packet also carries the tables.
  const count = total + tables <= room
    ? 1
    : 1 + Math.ceil((total - (room - tables)) / room);
  const buffer = new Uint8Array(count * fixed + tables + total);
  const view = new DataView(buffer.buffer);
  const packets = new Array<Uint8Array>(count);
  const width8 = Math.ceil(jpeg.width / 8);
  const height8 = Math.ceil(jpeg.height / 8);
  let sequence = options.sequence;
  let at = 0;
  let offset = 0;
  for (let p = 0; p < count; p++) {
    const start = at;
    const first = p === 0;
    const last = p === count - 1;
    writeRtpHeader(view, at, {
      marker: last,
      payloadType,
      sequence,
      timestamp: options.timestamp,
      ssrc: options.ssrc,
    });
    at += RTP_HEADER_BYTES;
    // Type-specific 0, then the 24-bit fragment offset.
    view.setUint32(at, offset & 0xffffff);
    buffer[at + 4] = jpeg.type;
    buffer[at + 5] = jpeg.q;
    buffer[at + 6] = width8;
    buffer[at + 7] = height8;
    at += JPEG_HEADER_BYTES;
    if (restart) {
      view.setUint16(at, jpeg.dri);
      view.setUint16(at + 2, 0xc000 | RESTART_COUNT_UNALIGNED);
      at += RESTART_HEADER_BYTES;
    }
    let space = room;
    if (first && inBand) {
      buffer[at] = 0;
      buffer[at + 1] = jpeg.tablePrecision;
      view.setUint16(at + 2, jpeg.quantTables.length);
      buffer.set(jpeg.quantTables, at + QUANT_HEADER_BYTES);
      at += tables;
      space -= tables;
    }
    const take = Math.min(space, total - offset);
    buffer.set(scan.subarray(offset, offset + take), at);
    at += take;
    offset += take;
    packets[p] = buffer.subarray(start, at);
    sequence = (sequence + 1) & 0xffff;
  }
  return packets;
}

/** Options for {@linkcode RtpJpegPacketizer}. */
export interface RtpJpegPacketizerOptions {
  /** The synchronization source. @default {a random 32-bit number} */
  ssrc?: number;
  /** The first sequence number. @default {a random 16-bit number} */
  sequence?: number;
  /** The payload type. @default {26} */
  payloadType?: number;
  /** The largest packet, RTP header included. @default {1400} */
  mtu?: number;
}

/**
 * Packetizes a stream of frames with one SSRC, carrying the sequence
 * number from frame to frame and counting what was sent, for RTCP sender
 * reports.
 *
 * @example Two frames in a row
 * ```ts
 * import { parseJpeg } from "./jpeg.ts";
 * import { RtpJpegPacketizer } from "./packetizer.ts";
 *
 * const jpeg = parseJpeg(await Deno.readFile("bench/frames/photo_640x480.jpg"));
 * const packetizer = new RtpJpegPacketizer({ sequence: 0 });
 * const first = packetizer.packetize(jpeg, 0);
 * packetizer.packetize(jpeg, 3000);
 * console.log(packetizer.sequence === (2 * first.length) % 65536); // true
 * ```
 */
export class RtpJpegPacketizer {
  /** The synchronization source. */
  readonly ssrc: number;
  /** The payload type. */
  readonly payloadType: number;
  /** The largest packet. */
  readonly mtu: number;
  #sequence: number;
  #packets = 0;
  #octets = 0;
  #lastTimestamp = 0;

  /**
   * Makes a packetizer with a random SSRC and first sequence number unless
   * given, as RFC 3550 asks.
   *
   * @param options SSRC, sequence, payload type and MTU.
   */
  constructor(options: RtpJpegPacketizerOptions = {}) {
    const random = crypto.getRandomValues(new Uint32Array(2));
    this.ssrc = (options.ssrc ?? random[0]!) >>> 0;
    this.#sequence = (options.sequence ?? random[1]!) & 0xffff;
    this.payloadType = options.payloadType ?? JPEG_PAYLOAD_TYPE;
    this.mtu = options.mtu ?? DEFAULT_RTP_MTU;
  }

  /** The next packet's sequence number. */
  get sequence(): number {
    return this.#sequence;
  }

  /** Packets packetized so far. */
  get packetCount(): number {
    return this.#packets;
  }

  /** RTP payload bytes packetized so far, as a sender report counts them. */
  get octetCount(): number {
    return this.#octets;
  }

  /** The last frame's RTP timestamp. */
  get lastTimestamp(): number {
    return this.#lastTimestamp;
  }

  /**
   * Cuts one frame into packets, continuing the sequence numbers.
   *
   * @param jpeg A frame from {@linkcode parseJpeg}.
   * @param timestamp Its RTP timestamp, on the 90 kHz clock.
   * @returns The packets, to send in order.
   */
  packetize(jpeg: ParsedJpeg, timestamp: number): Uint8Array[] {
    const packets = packetizeJpeg(jpeg, {
      ssrc: this.ssrc,
      sequence: this.#sequence,
      timestamp,
      payloadType: this.payloadType,
      mtu: this.mtu,
    });
    this.#sequence = (this.#sequence + packets.length) & 0xffff;
    this.#packets += packets.length;
    for (let i = 0; i < packets.length; i++) {
      this.#octets += packets[i]!.length - RTP_HEADER_BYTES;
    }
    this.#lastTimestamp = timestamp >>> 0;
    return packets;
  }
}
