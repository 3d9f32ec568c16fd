/**
 * An RTP/JPEG sender: the driver around {@linkcode RtpJpegPacketizer} that
 * owns the sockets and the clock. It paces each frame's packets, stamps
 * frames on a 90 kHz clock, sends an RTCP sender report with the SDES
 * CNAME about once a second to the RTCP port (the RTP port + 1), and a BYE
 * when it closes.
 *
 * @module
 */

import { sleep } from "../_sleep.ts";
import {
  clientBindOptions,
  openDatagramSocket,
  resolveEndpoint,
} from "../net/open.ts";
import type { DatagramSocket, Endpoint } from "../net/types.ts";
import { type ParsedJpeg, parseJpeg } from "./jpeg.ts";
import {
  JPEG_CLOCK_RATE,
  RtpJpegPacketizer,
  type RtpJpegPacketizerOptions,
} from "./packetizer.ts";
import { burstSchedule } from "./pacing.ts";
import { buildBye, buildSenderReport } from "./rtcp.ts";

/** Options for {@linkcode RtpJpegSender.open}. */
export interface RtpJpegSenderOptions extends RtpJpegPacketizerOptions {
  /** The receiver's address. */
  hostname: string;
  /** The receiver's RTP port. */
  port: number;
  /**
   * The receiver's RTCP port; `null` sends no RTCP.
   *
   * @default {port + 1}
   */
  rtcpPort?: number | null;
  /**
   * The local address to bind.
   *
   * @default {the wildcard address of the receiver's family}
   */
  bindHostname?: string;
  /** Packets per burst when pacing. @default {8} */
  burstPackets?: number;
  /** A cap on the bit rate, in bits per second; 0 for none. @default {0} */
  rateBitsPerSecond?: number;
  /** How often to send a sender report, in ms. @default {1000} */
  reportIntervalMs?: number;
  /** The CNAME of the SDES item. @default {"udpimg@<random>"} */
  cname?: string;
  /** Which datagram layer to use. @default {"auto"} */
  socketImplementation?: "auto" | "native" | "deno";
  /** The TTL of multicast sends, 0 to 255. @default {1} */
  multicastTtl?: number;
  /** The local address of the interface multicast leaves by. */
  multicastInterface?: string;
}

/** Options for {@linkcode RtpJpegSender.send}. */
export interface RtpJpegSendOptions {
  /**
   * The frame's RTP timestamp.
   *
   * @default {the sender's 90 kHz clock now}
   */
  timestamp?: number;
  /**
   * How long to spread the frame's packets over, in ms: most of the frame
   * interval. 0 sends them back to back, in bursts, unless a rate is set.
   *
   * @default {0}
   */
  spreadMs?: number;
  /** Stops pacing; the rest of the frame is not sent. */
  signal?: AbortSignal;
}

/**
 * Sends JPEG frames as RTP/JPEG (RFC 2435) to one receiver.
 *
 * @example Sending a file as one frame
 * ```ts ignore
 * import { RtpJpegSender } from "./sender.ts";
 *
 * await using sender = await RtpJpegSender.open({ hostname: "127.0.0.1", port: 5004 });
 * await sender.send(await Deno.readFile("photo.jpg"), { spreadMs: 25 });
 * ```
 */
export class RtpJpegSender implements AsyncDisposable {
  readonly #rtp: DatagramSocket;
  readonly #rtcp: DatagramSocket | undefined;
  readonly #to: Endpoint;
  readonly #rtcpTo: Endpoint | undefined;
  readonly #packetizer: RtpJpegPacketizer;
  readonly #burstPackets: number;
  readonly #rate: number;
  readonly #reportMs: number;
  readonly #cname: string;
  readonly #timestampBase: number;
  readonly #started = performance.now();
  #nextReport = 0;
  #frames = 0;
  #closed = false;

  private constructor(
    rtp: DatagramSocket,
    rtcp: DatagramSocket | undefined,
    to: Endpoint,
    rtcpTo: Endpoint | undefined,
    options: RtpJpegSenderOptions,
  ) {
    this.#rtp = rtp;
    this.#rtcp = rtcp;
    this.#to = to;
    this.#rtcpTo = rtcpTo;
    this.#packetizer = new RtpJpegPacketizer(options);
    this.#burstPackets = options.burstPackets ?? 8;
    this.#rate = options.rateBitsPerSecond ?? 0;
    this.#reportMs = options.reportIntervalMs ?? 1000;
    const random = crypto.getRandomValues(new Uint32Array(2));
    this.#cname = options.cname ?? `udpimg@${random[0]!.toString(16)}`;
    this.#timestampBase = random[1]!;
  }

  /**
   * Resolves the receiver and binds the RTP socket, and unless `rtcpPort`
   * is `null` an RTCP socket.
   *
   * @param options The receiver, the RTP parameters, pacing and reports.
   * @returns A sender.
   */
  static async open(options: RtpJpegSenderOptions): Promise<RtpJpegSender> {
    const to = await resolveEndpoint({
      hostname: options.hostname,
      port: options.port,
    });
    const bind = clientBindOptions(to, {
      bindHostname: options.bindHostname,
      implementation: options.socketImplementation,
      multicastTtl: options.multicastTtl,
      multicastInterface: options.multicastInterface,
    });
    const rtcpPort = options.rtcpPort === undefined
      ? to.port + 1
      : options.rtcpPort;
    const rtp = await openDatagramSocket(bind);
    let rtcp: DatagramSocket | undefined;
    try {
      if (rtcpPort !== null && rtcpPort <= 65535) {
        rtcp = await openDatagramSocket(bind);
      }
    } catch (error) {
      rtp.close();
      throw error;
    }
    const rtcpTo = rtcp === undefined
      ? undefined
      : { hostname: to.hostname, port: rtcpPort! };
    return new RtpJpegSender(rtp, rtcp, to, rtcpTo, options);
  }

  /** The synchronization source. */
  get ssrc(): number {
    return this.#packetizer.ssrc;
  }

  /** The local RTP address. */
  get addr(): Endpoint {
    return this.#rtp.addr;
  }

  /** The CNAME in the sender reports. */
  get cname(): string {
    return this.#cname;
  }

  /** Frames sent. */
  get frames(): number {
    return this.#frames;
  }

  /** Packets sent. */
  get packets(): number {
    return this.#packetizer.packetCount;
  }

  /** RTP payload bytes sent. */
  get octets(): number {
    return this.#packetizer.octetCount;
  }

  /** The sender's 90 kHz clock now. */
  timestampNow(): number {
    return (this.#timestampBase +
      Math.round(
        (performance.now() - this.#started) * JPEG_CLOCK_RATE / 1000,
      )) >>> 0;
  }

  /**
   * Sends one frame: a JPEG file, parsed here, or a parsed one.
   *
   * @param frame The frame.
   * @param options Its timestamp, how to pace it, and a signal.
   * @returns How many packets it took.
   * @throws {UnsupportedJpegError} When RFC 2435 cannot carry the JPEG.
   */
  async send(
    frame: Uint8Array | ParsedJpeg,
    options: RtpJpegSendOptions = {},
  ): Promise<number> {
    if (this.#closed) throw new TypeError("Cannot send on a closed sender");
    const jpeg = frame instanceof Uint8Array ? parseJpeg(frame) : frame;
    const timestamp = options.timestamp ?? this.timestampNow();
    const packets = this.#packetizer.packetize(jpeg, timestamp);
    const bursts = burstSchedule(packets.map((p) => p.length), {
      spreadMs: options.spreadMs ?? 0,
      burstPackets: this.#burstPackets,
      rateBitsPerSecond: this.#rate,
    });
    const start = performance.now();
    for (const burst of bursts) {
      const wait = start + burst.atMs - performance.now();
      if (wait >= 1) await sleep(wait, options.signal);
      if (options.signal?.aborted) break;
      await this.#rtp.sendMany(packets.slice(burst.start, burst.end), this.#to);
    }
    this.#frames++;
    // After the frame, so that a receiver knows the source when the first
    // report comes.
    await this.#maybeReport();
    return packets.length;
  }

  /** Sends a BYE and closes the sockets. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#rtcp !== undefined && this.#rtcpTo !== undefined) {
      await this.#rtcp.send(buildBye(this.ssrc), this.#rtcpTo).catch(() => {});
    }
    this.#rtp.close();
    this.#rtcp?.close();
  }

  /** Closes the sender. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #maybeReport(): Promise<void> {
    if (this.#rtcp === undefined || this.#rtcpTo === undefined) return;
    const now = performance.now();
    if (now < this.#nextReport) return;
    this.#nextReport = now + this.#reportMs;
    const report = buildSenderReport({
      ssrc: this.ssrc,
      ntpMs: performance.timeOrigin + now,
      rtpTimestamp: this.timestampNow(),
      packets: this.packets,
      octets: this.octets,
      cname: this.#cname,
    });
    // A receiver with no RTCP port answers with ICMP; RTP goes on.
    await this.#rtcp.send(report, this.#rtcpTo).catch(() => {});
  }
}
