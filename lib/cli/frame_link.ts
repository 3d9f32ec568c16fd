/**
 * Where `client.ts` sends frames when it waits on each one: the classic
 * protocol's client (the server's reply) or an RTP/JPEG sender (no reply;
 * each frame spread over the frame interval), behind one `send` call.
 *
 * @module
 */

import { ClassicClient } from "../classic/client.ts";
import type { SourceFrame } from "../frame_source.ts";
import { resolveEndpoint } from "../net/open.ts";
import { isMulticast } from "../net/multicast.ts";
import { parseJpeg, UnsupportedJpegError } from "../rtp/jpeg.ts";
import { RtpJpegSender } from "../rtp/sender.ts";
import { writeSdp } from "../rtp/sdp.ts";
import { fileErrorReason } from "../_file_error.ts";

/** Where frames go: one protocol's client, behind one call. */
export interface FrameLink extends AsyncDisposable {
  /**
   * Sends a frame.
   *
   * @param frame The frame.
   * @param signal Stops waiting.
   * @returns What came of it, in words: `reply: get message!!!` (the
   * server's reply) or `12 RTP packets`.
   */
  send(frame: SourceFrame, signal: AbortSignal): Promise<string>;
}

/** Options for {@linkcode openClassicLink}. */
export interface ClassicLinkOptions {
  /** The server's address or host name. */
  hostname: string;
  /** The server's image port. */
  port: number;
  /** Image bytes per datagram. */
  chunkSize: number;
  /** How long to wait for each reply. */
  timeoutMs: number;
  /** Times to send a frame again. */
  retries: number;
  /** Datagrams back to back before a 1 ms pause; 0 for no pause. */
  burst: number;
  /** Send each frame in one datagram. */
  single: boolean;
}

/**
 * Opens a classic protocol link: each `send` resolves with the server's
 * reply, as `reply: …`.
 *
 * @param options The server and how to send.
 * @returns The link.
 *
 * @example Usage
 * ```ts
 * import { openClassicLink } from "./frame_link.ts";
 * await using _link = await openClassicLink({
 *   hostname: "127.0.0.1",
 *   port: 9999,
 *   chunkSize: 1024,
 *   timeoutMs: 2000,
 *   retries: 3,
 *   burst: 0,
 *   single: false,
 * });
 * ```
 */
export async function openClassicLink(
  options: ClassicLinkOptions,
): Promise<FrameLink> {
  const { single, ...connect } = options;
  const client = await ClassicClient.connect(connect);
  return {
    send: async (frame, signal) =>
      `reply: ${await client.send(frame.bytes, { single, signal })}`,
    [Symbol.asyncDispose]: () => client[Symbol.asyncDispose](),
  };
}

/** Options for {@linkcode openRtpLink}. */
export interface RtpLinkOptions {
  /** The receiver's address or host name, or a multicast group. */
  hostname: string;
  /** The RTP port (RTCP uses port + 1). */
  port: number;
  /** Largest RTP packet. */
  mtu: number;
  /** RTP payload type. */
  payloadType: number;
  /** Frames a second, or 0 when not known (frames spread as at 30). */
  frameRate: number;
  /** Rate cap in bits a second. @default {0, no cap} */
  rateBitsPerSecond?: number;
  /** Multicast TTL, for a group. @default {1} */
  multicastTtl?: number | undefined;
  /** Send multicast out of the interface with this address. */
  multicastInterface?: string | undefined;
  /** Write an SDP file here (`--sdp`). */
  sdpFile?: string | undefined;
  /**
   * How the frames were made, for the hint when one is not a JPEG that
   * RTP/JPEG carries: `"encode"` (`--encode jpg`), `"live"` (a camera or
   * video) or `"files"` (image files or the pattern, as they are).
   */
  origin: "encode" | "live" | "files";
  /** Told once when a frame's size is not a multiple of 8. */
  onNotice?: (text: string) => void;
}

/**
 * Opens an RTP/JPEG link, writing the SDP file if asked: each `send`
 * resolves with the number of packets sent.
 *
 * @param options The receiver, the RTP settings and the SDP file.
 * @returns The link.
 * @throws {Error} With a one-line message when the SDP file cannot be written.
 *
 * @example Usage
 * ```ts
 * import { openRtpLink } from "./frame_link.ts";
 * await using _link = await openRtpLink({
 *   hostname: "127.0.0.1",
 *   port: 5004,
 *   mtu: 1400,
 *   payloadType: 26,
 *   frameRate: 30,
 *   origin: "files",
 * });
 * ```
 */
export async function openRtpLink(options: RtpLinkOptions): Promise<FrameLink> {
  const { port, payloadType, frameRate } = options;
  const to = await resolveEndpoint({ hostname: options.hostname, port });
  const multicast = isMulticast(to.hostname);
  const ttl = options.multicastTtl ?? 1;
  const sender = await RtpJpegSender.open({
    hostname: to.hostname,
    port,
    mtu: options.mtu,
    payloadType,
    rateBitsPerSecond: options.rateBitsPerSecond ?? 0,
    ...(multicast && { multicastTtl: ttl }),
    ...(options.multicastInterface !== undefined &&
      { multicastInterface: options.multicastInterface }),
  });
  const sdpFile = options.sdpFile;
  if (sdpFile !== undefined) {
    const sdp = writeSdp({
      address: to.hostname,
      port,
      payloadType,
      ...(frameRate > 0 && { framerate: frameRate }),
      ...(multicast && { ttl }),
    });
    await Deno.writeTextFile(sdpFile, sdp).catch(async (error) => {
      await sender.close();
      throw new Error(
        `Cannot write the SDP file ${sdpFile}: ${
          fileErrorReason(error, { writing: true })
        }; check --sdp`,
        { cause: error },
      );
    });
  }
  const spreadMs = 0.8 * 1000 / (frameRate || 30);
  const hint = {
    // The JPEG encoder in use wrote it: only another encoder does better.
    encode:
      "; the JPEG encoder in use cannot write such JPEGs (install libturbojpeg)",
    live:
      "; add --camera-format raw to have ffmpeg re-encode it as baseline 4:2:0",
    files: "; add --encode jpg to re-encode it as baseline 4:2:0",
  }[options.origin];
  let warnedSize = false;
  return {
    async send(frame, signal) {
      let jpeg;
      try {
        jpeg = parseJpeg(frame.bytes);
      } catch (error) {
        if (!(error instanceof UnsupportedJpegError)) throw error;
        throw new Error(`Cannot send ${frame.name}: ${error.message}${hint}`);
      }
      if (!warnedSize && (jpeg.width % 8 !== 0 || jpeg.height % 8 !== 0)) {
        warnedSize = true;
        options.onNotice?.(
          `${jpeg.width}x${jpeg.height} is not a multiple of 8; RTP/JPEG receivers see ${
            Math.ceil(jpeg.width / 8) * 8
          }x${Math.ceil(jpeg.height / 8) * 8}`,
        );
      }
      const packets = await sender.send(jpeg, { spreadMs, signal });
      return `${packets} RTP packets`;
    },
    [Symbol.asyncDispose]: () => sender.close(),
  };
}
