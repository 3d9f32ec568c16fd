/**
 * One RTSP stream's RTP side: frames are packetized once and the same
 * packets go to every client watching, with one SSRC and one sequence
 * space per stream, and RTCP sender reports about once a second.
 *
 * Sharing one SSRC and sequence space is what a camera or a media server
 * fanning out one source does. A client that joins mid-stream learns the
 * next sequence number and the RTP time from PLAY's `RTP-Info`; a client
 * that is too slow for every frame skips to the newest, and sees the
 * packets it skipped as a gap in the sequence numbers, which is what they
 * are: packets it did not get. Receivers count them as lost and go on at
 * the next frame.
 *
 * @module
 */

import type { ParsedJpeg } from "../rtp/jpeg.ts";
import {
  JPEG_CLOCK_RATE,
  RtpJpegPacketizer,
  type RtpJpegPacketizerOptions,
} from "../rtp/packetizer.ts";
import { buildBye, buildSenderReport } from "../rtp/rtcp.ts";
import { writeInterleaved } from "./message.ts";

/**
 * One frame's packets, shared by every client of a stream.
 *
 * @example Interleaving a frame for channel 0
 * ```ts
 * import { PacketizedFrame } from "./stream.ts";
 * const frame = new PacketizedFrame([new Uint8Array(12), new Uint8Array(20)], 0);
 * console.log(frame.bytes, frame.interleaved(0).length); // 32 40
 * ```
 */
export class PacketizedFrame {
  /** The RTP packets, in order. */
  readonly packets: readonly Uint8Array[];
  /** The frame's RTP timestamp. */
  readonly timestamp: number;
  /** Bytes in all packets. */
  readonly bytes: number;
  #interleaved: [number, Uint8Array][] = [];

  /**
   * Wraps one frame's packets.
   *
   * @param packets The frame's RTP packets.
   * @param timestamp Their RTP timestamp.
   */
  constructor(packets: readonly Uint8Array[], timestamp: number) {
    this.packets = packets;
    this.timestamp = timestamp;
    let bytes = 0;
    for (const packet of packets) bytes += packet.length;
    this.bytes = bytes;
  }

  /**
   * The packets as interleaved frames on `channel`, in one buffer, made
   * once per channel and shared by the clients that use it.
   *
   * @param channel The RTP channel.
   * @returns The bytes to write to the RTSP connection.
   */
  interleaved(channel: number): Uint8Array {
    for (const [c, bytes] of this.#interleaved) if (c === channel) return bytes;
    const bytes = writeInterleaved(channel, this.packets);
    this.#interleaved.push([channel, bytes]);
    return bytes;
  }
}

/** Where a stream's packets go: one client's transport, given by the driver. */
export interface MediaSink {
  /**
   * Takes a frame. It must not block: a sink still busy with an earlier
   * frame keeps only the newest.
   */
  sendFrame(frame: PacketizedFrame): void;
  /** Takes an RTCP packet. */
  sendRtcp(packet: Uint8Array): void;
}

/** Options for {@linkcode RtspStream}. */
export interface RtspStreamOptions extends RtpJpegPacketizerOptions {
  /** The source's CNAME in RTCP. @default {"udpimg"} */
  cname?: string;
  /** The first RTP timestamp. @default {a random 32-bit number} */
  timestampBase?: number;
  /** The time the RTP clock starts at, in ms on the caller's clock. @default {0} */
  clockStartMs?: number;
  /** How often to send a sender report, in milliseconds. @default {1000} */
  reportIntervalMs?: number;
}

/**
 * A stream with its sinks: packetizes each frame once, hands the packets
 * to every sink, and makes sender reports. It keeps no socket: sinks do
 * the sending. Times are passed in, in milliseconds on one monotonic
 * clock; `wallClockMs` is the Unix time of the same instant, for the
 * NTP timestamp of the reports.
 *
 * @example Two sinks, one packetization
 * ```ts
 * import { parseJpeg } from "../rtp/jpeg.ts";
 * import { type PacketizedFrame, RtspStream } from "./stream.ts";
 *
 * const stream = new RtspStream({ ssrc: 7, sequence: 100, timestampBase: 0 });
 * const got: PacketizedFrame[] = [];
 * const sink = { sendFrame: (f: PacketizedFrame) => got.push(f), sendRtcp() {} };
 * stream.addSink(sink, 0, Date.now());
 * stream.addSink({ ...sink }, 0, Date.now());
 * const jpeg = parseJpeg(await Deno.readFile("bench/frames/photo_640x480.jpg"));
 * stream.deliver(jpeg, 1000);
 * console.log(got.length, got[0] === got[1], got[0]!.timestamp); // 2 true 90000
 * ```
 */
export class RtspStream {
  readonly #packetizer: RtpJpegPacketizer;
  readonly #cname: string;
  readonly #timestampBase: number;
  readonly #clockStartMs: number;
  readonly #reportIntervalMs: number;
  readonly #sinks = new Set<MediaSink>();
  #nextReportMs = 0;
  #lastArrivalMs = -Infinity;
  #frames = 0;

  /**
   * Makes a stream with no sink, with a random SSRC, sequence number and
   * timestamp unless given.
   *
   * @param options SSRC, first sequence number and timestamp, CNAME, MTU.
   */
  constructor(options: RtspStreamOptions = {}) {
    this.#packetizer = new RtpJpegPacketizer(options);
    this.#cname = options.cname ?? "udpimg";
    this.#timestampBase = (options.timestampBase ??
      crypto.getRandomValues(new Uint32Array(1))[0]!) >>> 0;
    this.#clockStartMs = options.clockStartMs ?? 0;
    this.#reportIntervalMs = options.reportIntervalMs ?? 1000;
  }

  /** The stream's SSRC. */
  get ssrc(): number {
    return this.#packetizer.ssrc;
  }

  /** How many sinks receive it. */
  get sinkCount(): number {
    return this.#sinks.size;
  }

  /** Frames delivered so far. */
  get frames(): number {
    return this.#frames;
  }

  /**
   * The RTP timestamp of an instant: 90 kHz from the clock start.
   *
   * @param nowMs The instant.
   * @returns The timestamp, modulo 2^32.
   */
  timestampAt(nowMs: number): number {
    return (this.#timestampBase +
      Math.round((nowMs - this.#clockStartMs) * (JPEG_CLOCK_RATE / 1000))) >>>
      0;
  }

  /**
   * Where the stream is, for PLAY's `RTP-Info`.
   *
   * @param nowMs The time.
   * @returns The next packet's sequence number and the RTP time of now.
   */
  playInfo(nowMs: number): { sequence: number; timestamp: number } {
    return {
      sequence: this.#packetizer.sequence,
      timestamp: this.timestampAt(nowMs),
    };
  }

  /**
   * Adds a sink and sends it a sender report at once, so that it can map
   * RTP time to wall-clock time from the first frame.
   *
   * @param sink The client's transport.
   * @param nowMs The time.
   * @param wallClockMs The Unix time now.
   */
  addSink(sink: MediaSink, nowMs: number, wallClockMs: number): void {
    this.#sinks.add(sink);
    sink.sendRtcp(this.senderReport(nowMs, wallClockMs));
    if (this.#sinks.size === 1) {
      this.#nextReportMs = nowMs + this.#reportIntervalMs;
    }
  }

  /**
   * Removes a sink, sending it an RTCP BYE when asked.
   *
   * @param sink The client's transport.
   * @param bye Whether to say goodbye (the session ended).
   */
  removeSink(sink: MediaSink, bye = false): void {
    if (!this.#sinks.delete(sink)) return;
    if (bye) sink.sendRtcp(buildBye(this.ssrc));
  }

  /**
   * Packetizes a frame and hands it to every sink. A frame that arrived
   * before the last one delivered (a late transcode) is dropped.
   *
   * @param jpeg The parsed frame.
   * @param arrivalMs When it arrived: its RTP time.
   * @returns The packets, or `undefined` when no sink takes them or the
   * frame is older than the last.
   */
  deliver(jpeg: ParsedJpeg, arrivalMs: number): PacketizedFrame | undefined {
    if (this.#sinks.size === 0 || arrivalMs < this.#lastArrivalMs) {
      return undefined;
    }
    this.#lastArrivalMs = arrivalMs;
    const timestamp = this.timestampAt(arrivalMs);
    const frame = new PacketizedFrame(
      this.#packetizer.packetize(jpeg, timestamp),
      timestamp,
    );
    this.#frames++;
    for (const sink of this.#sinks) sink.sendFrame(frame);
    return frame;
  }

  /**
   * A compound RTCP packet: a sender report for now, and the CNAME.
   *
   * @param nowMs The time.
   * @param wallClockMs The Unix time now.
   * @returns The packet.
   */
  senderReport(nowMs: number, wallClockMs: number): Uint8Array {
    return buildSenderReport({
      ssrc: this.ssrc,
      ntpMs: wallClockMs,
      rtpTimestamp: this.timestampAt(nowMs),
      packets: this.#packetizer.packetCount,
      octets: this.#packetizer.octetCount,
      cname: this.#cname,
    });
  }

  /**
   * When the next sender report is due, or `undefined` with no sinks.
   *
   * @returns A time on the caller's clock.
   */
  pollTimeout(): number | undefined {
    return this.#sinks.size === 0 ? undefined : this.#nextReportMs;
  }

  /**
   * Sends a sender report to every sink when one is due.
   *
   * @param nowMs The time.
   * @param wallClockMs The Unix time now.
   */
  handleTimeout(nowMs: number, wallClockMs: number): void {
    if (this.#sinks.size === 0 || nowMs < this.#nextReportMs) return;
    // RFC 3550 asks for a random spread of 0.5 to 1.5 intervals.
    this.#nextReportMs = nowMs +
      this.#reportIntervalMs * (0.5 + Math.random());
    const report = this.senderReport(nowMs, wallClockMs);
    for (const sink of this.#sinks) sink.sendRtcp(report);
  }
}
