/**
 * RTP/JPEG's receiving side, as the server drives it: RTP packets from the
 * image port, one {@linkcode RtpJpegDepacketizer} and one set of reception
 * statistics per source (sender address and SSRC), RTCP sender reports from
 * the control port (image port + 1) or muxed on the image port, and
 * receiver reports back to each sender's RTCP address.
 *
 * @module
 */

import type { Endpoint } from "../net/types.ts";
import { endpointKey } from "../net/_ip.ts";
import { SenderTable } from "../server/sender_table.ts";
import type {
  ProtocolReceiver,
  ReceiverEvent,
  Transmit,
} from "../server/types.ts";
import {
  type ByteBudget,
  type DepacketizerEvent,
  RtpJpegDepacketizer,
} from "./depacketizer.ts";
import { readRtpHeader, timestampDelta } from "./packet.ts";
import { JPEG_PAYLOAD_TYPE } from "./packetizer.ts";
import { readJpegPayloadHeader } from "./payload_header.ts";
import { ReceptionStats } from "./reception_stats.ts";
import {
  buildReceiverReport,
  isRtcp,
  parseRtcp,
  type ReportBlock,
} from "./rtcp.ts";

/** Options for {@linkcode RtpReceiver}. */
export interface RtpReceiverOptions {
  /**
   * The payload types taken as RTP/JPEG: 26, and any dynamic type an SDP
   * file gave.
   *
   * @default {[26]}
   */
  payloadTypes?: readonly number[];
  /** The largest frame, headers included. @default {16777984} */
  maxFrameBytes?: number;
  /**
   * Bytes that partial frames of every source may hold together.
   *
   * @default {67108864} (64 MiB)
   */
  maxPendingBytes?: number;
  /** Sources (sender and SSRC) to keep state for. @default {256} */
  maxStreams?: number;
  /** Frames that may be partial at once per source. @default {4} */
  maxFramesInFlight?: number;
  /** Give up on a partial frame silent this long, in ms. @default {1000} */
  frameTimeoutMs?: number;
  /** How often to send receiver reports, in ms; 0 sends none. @default {1000} */
  reportIntervalMs?: number;
  /** The CNAME in receiver reports. @default {"udpimg"} */
  cname?: string;
  /** The receiver's own SSRC. @default {random} */
  ssrc?: number;
  /**
   * The wall clock's lead over the clock the receiver is driven with, in
   * ms: `Date.now() - now`. Maps sender reports' NTP times to `sentAt`.
   *
   * @default {performance.timeOrigin}
   */
  clockOffsetMs?: number;
}

interface SenderReportInfo {
  ntpMs: number;
  ntpMiddle: number;
  rtpTimestamp: number;
  arrivedAt: number;
  sharedClock: boolean;
}

interface RtpStream {
  readonly ssrc: number;
  readonly sender: string;
  readonly from: Endpoint;
  readonly depacketizer: RtpJpegDepacketizer;
  readonly stats: ReceptionStats;
  rtcpTo: Endpoint | undefined;
  lastSr: SenderReportInfo | undefined;
  /** When its RTP, or its sender's RTCP, last came. */
  lastHeard: number;
  /**
   * When its BYE came, while a frame was still partial: RTCP comes on
   * another socket and may overtake the frame's last packets, so the
   * source stays until the frame is whole or silent for the frame timeout.
   */
  byeAt: number | undefined;
}

/**
 * Receives RTP/JPEG for the server: whole frames as JFIF files, frames
 * given up on as `lost` (or `overflow`, `corrupt`), and RTCP receiver
 * reports to send from the control port.
 *
 * @example Receiving one packetized frame
 * ```ts
 * import { parseJpeg, packetizeJpeg, RtpReceiver } from "./mod.ts";
 *
 * const receiver = new RtpReceiver({ reportIntervalMs: 0 });
 * const jpeg = parseJpeg(await Deno.readFile("bench/frames/photo_640x480.jpg"));
 * const from = { hostname: "127.0.0.1", port: 5004 };
 * for (const packet of packetizeJpeg(jpeg, { ssrc: 1, sequence: 0, timestamp: 0 })) {
 *   receiver.handleDatagram(0, packet, from, "127.0.0.1:5004");
 * }
 * const event = receiver.pollEvent();
 * console.log(event?.type === "frame" && event.frame.protocol); // "rtp"
 * ```
 */
export class RtpReceiver implements ProtocolReceiver {
  /** The wire format. */
  readonly protocol = "rtp" as const;
  readonly #payloadTypes: Set<number>;
  readonly #streams: SenderTable<RtpStream>;
  /**
   * Sources by sender host and SSRC, for RTCP: it comes from another port
   * (RTP's + 1), but only the host that sends a source's RTP may speak for
   * it, or anyone who saw an SSRC could end its stream with a BYE.
   */
  readonly #bySsrc = new Map<string, RtpStream>();
  readonly #events: ReceiverEvent[] = [];
  readonly #transmits: Transmit[] = [];
  readonly #budget: ByteBudget;
  readonly #maxFrameBytes: number | undefined;
  readonly #maxInFlight: number | undefined;
  readonly #timeoutMs: number;
  readonly #reportMs: number;
  readonly #cname: string;
  readonly #ssrc: number;
  readonly #clockOffsetMs: number;
  readonly #counters = {
    rtpPackets: 0,
    rtpLatePackets: 0,
    rtpDuplicatePackets: 0,
    rtpBadPackets: 0,
    rtcpPackets: 0,
  };
  #nextReport = 0;
  #nextSweep = 0;
  #last: RtpStream | undefined;

  /**
   * Makes a receiver with no sources.
   *
   * @param options Payload types, limits, reports and clocks.
   */
  constructor(options: RtpReceiverOptions = {}) {
    this.#payloadTypes = new Set(options.payloadTypes ?? [JPEG_PAYLOAD_TYPE]);
    for (const pt of this.#payloadTypes) {
      if (!Number.isInteger(pt) || pt < 0 || pt > 127) {
        throw new RangeError(`An RTP payload type is 0 to 127, got ${pt}`);
      }
    }
    this.#budget = { used: 0, max: options.maxPendingBytes ?? 64 << 20 };
    this.#maxFrameBytes = options.maxFrameBytes;
    this.#maxInFlight = options.maxFramesInFlight;
    this.#timeoutMs = options.frameTimeoutMs ?? 1000;
    this.#reportMs = options.reportIntervalMs ?? 1000;
    this.#cname = options.cname ?? "udpimg";
    this.#ssrc =
      (options.ssrc ?? crypto.getRandomValues(new Uint32Array(1))[0]!) >>> 0;
    this.#clockOffsetMs = options.clockOffsetMs ?? performance.timeOrigin;
    this.#streams = new SenderTable({
      maxEntries: options.maxStreams ?? 256,
      onEvict: (_key, stream) => this.#drop(stream),
    });
  }

  /** Sources with state now. */
  get streams(): number {
    return this.#streams.size;
  }

  /**
   * Whether a sender's first datagram starts RTP/JPEG: RTP version 2, one
   * of the payload types, and an RFC 2435 header of a type udpimg rebuilds
   * (0, 1, 64, 65) with a size and a Q that are not zero. A classic
   * sender's first datagram (a 4- or 8-byte header, or a JPEG or PNG that
   * starts `FF D8` or `89 50`) never passes: its first byte is not
   * `0x80`–`0xBF`.
   *
   * @param datagram The first datagram of a sender.
   * @returns Whether it is RTP/JPEG.
   */
  matches(datagram: Uint8Array): boolean {
    if (datagram.length < 20 || isRtcp(datagram)) return false;
    const rtp = readRtpHeader(datagram);
    if (typeof rtp === "string" || !this.#payloadTypes.has(rtp.payloadType)) {
      return false;
    }
    const jpeg = readJpegPayloadHeader(
      datagram,
      rtp.payloadOffset,
      rtp.payloadEnd,
    );
    return typeof jpeg !== "string" && jpeg.type < 128 &&
      (jpeg.type & 63) <= 1 && jpeg.width > 0 && jpeg.height > 0 &&
      jpeg.q !== 0;
  }

  /**
   * Takes one datagram from the image port: RTP, or RTCP muxed with it.
   *
   * @param now The time, in ms.
   * @param datagram The datagram; copied where kept.
   * @param from Where it came from.
   * @param fromKey The sender's key, `host:port`.
   */
  handleDatagram(
    now: number,
    datagram: Uint8Array,
    from: Endpoint,
    fromKey: string,
  ): void {
    if (isRtcp(datagram)) {
      this.handleControlDatagram(now, datagram, from);
      return;
    }
    const rtp = readRtpHeader(datagram);
    if (typeof rtp === "string" || !this.#payloadTypes.has(rtp.payloadType)) {
      this.#counters.rtpBadPackets++;
      return;
    }
    this.#counters.rtpPackets++;
    const last = this.#last;
    const stream = last !== undefined && last.sender === fromKey &&
        last.ssrc === rtp.ssrc
      ? last
      : this.#stream(fromKey, from, rtp.ssrc, rtp.sequence);
    this.#last = stream;
    stream.lastHeard = now;
    stream.stats.record(rtp.sequence, rtp.timestamp, now, 90);
    stream.depacketizer.push(rtp, datagram, now);
    if (this.#nextSweep === 0) this.#nextSweep = now + this.#sweepMs;
    if (this.#nextReport === 0 && this.#reportMs > 0) {
      this.#nextReport = now + this.#reportMs;
    }
  }

  /**
   * Takes one RTCP datagram, from the control port or the image port:
   * sender reports map RTP time to the sender's wall clock and say where to
   * send receiver reports; a BYE ends a source. Either counts only from
   * the host that sends the source's RTP.
   *
   * @param now The time, in ms.
   * @param datagram The datagram.
   * @param from Where it came from.
   */
  handleControlDatagram(
    now: number,
    datagram: Uint8Array,
    from: Endpoint,
  ): void {
    this.#counters.rtcpPackets++;
    for (const packet of parseRtcp(datagram)) {
      if (packet.type === "sr") {
        const stream = this.#bySsrc.get(rtcpKey(from.hostname, packet.ssrc));
        if (stream === undefined) continue;
        stream.lastHeard = now;
        stream.rtcpTo = from;
        stream.lastSr = {
          ntpMs: packet.ntpMs,
          ntpMiddle: packet.ntpMiddle,
          rtpTimestamp: packet.rtpTimestamp,
          arrivedAt: now,
          sharedClock: isLoopback(from.hostname),
        };
      } else if (packet.type === "bye") {
        for (const ssrc of packet.ssrcs) {
          const stream = this.#bySsrc.get(rtcpKey(from.hostname, ssrc));
          if (stream === undefined) continue;
          if (stream.depacketizer.inFlight > 0) {
            stream.byeAt ??= now;
            continue;
          }
          this.#streams.delete(`${stream.sender}#${ssrc}`);
          this.#drop(stream);
        }
      }
    }
  }

  /**
   * When the next receiver report or sweep for silent frames is due.
   *
   * @returns The time, or `undefined` with no source.
   */
  pollTimeout(): number | undefined {
    if (this.#streams.size === 0) return undefined;
    const due = this.#nextReport > 0 ? this.#nextReport : Infinity;
    const sweep = this.#nextSweep > 0 ? this.#nextSweep : Infinity;
    const at = Math.min(due, sweep);
    return at === Infinity ? undefined : at;
  }

  /**
   * Gives up on silent frames and sends receiver reports when due.
   *
   * @param now The time, in ms.
   */
  handleTimeout(now: number): void {
    if (this.#nextSweep > 0 && now >= this.#nextSweep) {
      this.#nextSweep = now + this.#sweepMs;
      const silent: [string, RtpStream][] = [];
      for (const entry of this.#streams) {
        const stream = entry[1];
        stream.depacketizer.sweep(now);
        if (
          now - stream.lastHeard > this.#sourceTimeoutMs ||
          (stream.byeAt !== undefined &&
            (stream.depacketizer.inFlight === 0 ||
              now - stream.byeAt >= this.#timeoutMs))
        ) silent.push(entry);
      }
      // A source silent for five report intervals is gone (RFC 3550
      // §6.3.5): no more reports to it, which a spoofed packet could
      // otherwise draw forever, and its state goes.
      for (const [key, stream] of silent) {
        this.#streams.delete(key);
        this.#drop(stream);
      }
    }
    if (this.#nextReport > 0 && now >= this.#nextReport) {
      this.#nextReport = now + this.#reportMs;
      this.#report(now);
    }
  }

  /**
   * The next receiver report to send from the control port.
   *
   * @returns The datagram, or `undefined`.
   */
  pollTransmit(): Transmit | undefined {
    return this.#transmits.shift();
  }

  /**
   * The next frame or drop.
   *
   * @returns The event, or `undefined`.
   */
  pollEvent(): ReceiverEvent | undefined {
    return this.#events.shift();
  }

  /**
   * Packet counters: RTP packets, late, duplicate and bad ones, RTCP
   * packets.
   *
   * @returns The counters by name.
   */
  counters(): Readonly<Record<string, number>> {
    const counters = { ...this.#counters };
    for (const stream of this.#streams.values()) {
      const stats = stream.depacketizer.stats;
      counters.rtpLatePackets += stats.latePackets;
      counters.rtpDuplicatePackets += stats.duplicatePackets;
      counters.rtpBadPackets += stats.badPackets;
    }
    return counters;
  }

  /**
   * Forgets the sources of a sender.
   *
   * @param fromKey The sender's key.
   */
  forget(fromKey: string): void {
    for (const [key, stream] of [...this.#streams]) {
      if (stream.sender !== fromKey) continue;
      this.#streams.delete(key);
      this.#drop(stream);
    }
  }

  get #sourceTimeoutMs(): number {
    return 5 * Math.max(this.#reportMs, 1000);
  }

  get #sweepMs(): number {
    return Math.max(10, Math.min(this.#timeoutMs / 2, 500));
  }

  #stream(
    fromKey: string,
    from: Endpoint,
    ssrc: number,
    sequence: number,
  ): RtpStream {
    const key = `${fromKey}#${ssrc}`;
    let stream = this.#streams.get(key);
    if (stream !== undefined) return stream;
    const created: RtpStream = {
      ssrc,
      sender: fromKey,
      from,
      depacketizer: new RtpJpegDepacketizer(
        (event) => this.#translate(created, event),
        {
          budget: this.#budget,
          frameTimeoutMs: this.#timeoutMs,
          ...(this.#maxFrameBytes !== undefined &&
            { maxFrameBytes: this.#maxFrameBytes }),
          ...(this.#maxInFlight !== undefined &&
            { maxFramesInFlight: this.#maxInFlight }),
        },
      ),
      stats: new ReceptionStats(sequence),
      rtcpTo: undefined,
      lastSr: undefined,
      // Set by the packet that made it, at once.
      lastHeard: 0,
      byeAt: undefined,
    };
    stream = created;
    this.#streams.set(key, stream);
    this.#bySsrc.set(rtcpKey(from.hostname, ssrc), stream);
    return stream;
  }

  #drop(stream: RtpStream): void {
    if (this.#last === stream) this.#last = undefined;
    stream.depacketizer.close();
    const counters = this.#counters;
    const stats = stream.depacketizer.stats;
    counters.rtpLatePackets += stats.latePackets;
    counters.rtpDuplicatePackets += stats.duplicatePackets;
    counters.rtpBadPackets += stats.badPackets;
    const key = rtcpKey(stream.from.hostname, stream.ssrc);
    if (this.#bySsrc.get(key) === stream) this.#bySsrc.delete(key);
  }

  #translate(stream: RtpStream, event: DepacketizerEvent): void {
    const sender = stream.sender;
    if (event.type === "dropped") {
      this.#events.push({
        type: "dropped",
        protocol: "rtp",
        sender,
        reason: event.reason,
        detail: `RTP SSRC ${hex(stream.ssrc)}: ${event.detail}`,
        frames: event.frames,
      });
      return;
    }
    const sr = stream.lastSr;
    const sentAt = sr === undefined ? undefined : sr.ntpMs +
      timestampDelta(event.timestamp, sr.rtpTimestamp) / 90 -
      this.#clockOffsetMs;
    this.#events.push({
      type: "frame",
      frame: {
        protocol: "rtp",
        sender,
        bytes: event.bytes,
        format: "jpeg",
        mode: event.packets > 1 ? "chunked" : "single",
        ...(sentAt !== undefined &&
          { sentAt, sentAtEstimated: !sr!.sharedClock }),
      },
    });
  }

  #report(now: number): void {
    // One compound RR per RTCP address, with a block per source there.
    const byAddress = new Map<
      string,
      { to: Endpoint; blocks: ReportBlock[] }
    >();
    for (const stream of this.#streams.values()) {
      // A source that said BYE is waiting only for its last packets.
      if (stream.byeAt !== undefined) continue;
      const stats = stream.stats;
      const to = stream.rtcpTo ??
        { hostname: stream.from.hostname, port: stream.from.port + 1 };
      if (to.port > 65535) continue;
      const sr = stream.lastSr;
      const block = stats.report(
        stream.ssrc,
        sr?.ntpMiddle ?? 0,
        sr === undefined
          ? 0
          : Math.round(((now - sr.arrivedAt) / 1000) * 65536),
      );
      const key = endpointKey(to);
      const entry = byAddress.get(key);
      if (entry === undefined) byAddress.set(key, { to, blocks: [block] });
      else entry.blocks.push(block);
    }
    for (const { to, blocks } of byAddress.values()) {
      this.#transmits.push({
        to,
        bytes: buildReceiverReport(this.#ssrc, blocks, this.#cname),
        via: "control",
      });
    }
  }
}

function rtcpKey(hostname: string, ssrc: number): string {
  return `${hostname}#${ssrc}`;
}

function hex(ssrc: number): string {
  return `0x${ssrc.toString(16).padStart(8, "0")}`;
}

function isLoopback(hostname: string): boolean {
  return hostname.startsWith("127.") || hostname === "::1" ||
    hostname === "::ffff:127.0.0.1";
}
