/**
 * An SDP description ([RFC 4566](https://www.rfc-editor.org/rfc/rfc4566))
 * of an RTP/JPEG stream, which ffplay, VLC and GStreamer's `sdpdemux` open
 * to receive it, and which an RTSP server answers DESCRIBE with:
 *
 * ```text
 * v=0
 * o=- <session id> 1 IN IP4 <sender address>
 * s=udpimg
 * c=IN IP4 <destination address>[/<TTL> for multicast]
 * t=0 0
 * a=<session attribute>, such as control:* and range:npt=0-   (RTSP)
 * m=video <RTP port, 0 for RTSP> RTP/AVP 26
 * a=rtpmap:26 JPEG/90000
 * a=framerate:<fps>
 * a=<media attribute>, such as control:trackID=0               (RTSP)
 * ```
 *
 * @module
 */

import { JPEG_CLOCK_RATE, JPEG_PAYLOAD_TYPE } from "./packetizer.ts";

/** Options for {@linkcode writeSdp}. */
export interface SdpOptions {
  /** Where the stream goes: the receiver's address, or a multicast group. */
  address: string;
  /** The RTP port it goes to (RTCP goes to the next one); 0 under RTSP. */
  port: number;
  /** The payload type. @default {26} */
  payloadType?: number;
  /** Frames per second, when known. */
  framerate?: number;
  /** The multicast TTL, for a multicast address. */
  ttl?: number;
  /** The session's name. @default {"udpimg"} */
  sessionName?: string;
  /** The sender's address for the origin line. @default {"127.0.0.1"} */
  origin?: string;
  /** The session id. @default {the time in seconds} */
  sessionId?: number;
  /** Session-level attributes, without `a=`, such as `control:*`. */
  sessionAttributes?: readonly string[];
  /** Media-level attributes, without `a=`, such as `control:trackID=0`. */
  mediaAttributes?: readonly string[];
}

/**
 * Writes the SDP description of an RTP/JPEG stream.
 *
 * @param options Where the stream goes, and how.
 * @returns The description, with CRLF line ends.
 * @throws {TypeError} For an attribute with a line break.
 *
 * @example A stream to port 5004
 * ```ts
 * import { writeSdp } from "./sdp.ts";
 * const sdp = writeSdp({ address: "127.0.0.1", port: 5004, framerate: 30, sessionId: 1 });
 * console.log(sdp.split("\r\n")[5]); // "m=video 5004 RTP/AVP 26"
 * ```
 *
 * @example What an RTSP server describes
 * ```ts
 * import { writeSdp } from "./sdp.ts";
 * const sdp = writeSdp({
 *   address: "0.0.0.0", port: 0, sessionId: 1,
 *   sessionAttributes: ["control:*"], mediaAttributes: ["control:trackID=0"],
 * });
 * console.log(sdp.includes("m=video 0 RTP/AVP 26\r\n")); // true
 * ```
 */
export function writeSdp(options: SdpOptions): string {
  const pt = options.payloadType ?? JPEG_PAYLOAD_TYPE;
  const family = (address: string) => address.includes(":") ? "IP6" : "IP4";
  const origin = options.origin ?? "127.0.0.1";
  const id = options.sessionId ?? Math.floor(Date.now() / 1000);
  const ttl = options.ttl !== undefined && family(options.address) === "IP4"
    ? `/${options.ttl}`
    : "";
  const attributes = (list: readonly string[] | undefined) =>
    (list ?? []).map((attribute) => {
      if (/[\r\n]/.test(attribute)) {
        throw new TypeError(
          `Cannot write SDP: the attribute "${attribute}" has a line break`,
        );
      }
      return `a=${attribute}`;
    });
  const lines = [
    "v=0",
    `o=- ${id} 1 IN ${family(origin)} ${origin}`,
    `s=${options.sessionName ?? "udpimg"}`,
    `c=IN ${family(options.address)} ${options.address}${ttl}`,
    "t=0 0",
    ...attributes(options.sessionAttributes),
    `m=video ${options.port} RTP/AVP ${pt}`,
    `a=rtpmap:${pt} JPEG/${JPEG_CLOCK_RATE}`,
  ];
  if (options.framerate !== undefined) {
    lines.push(`a=framerate:${options.framerate}`);
  }
  lines.push(...attributes(options.mediaAttributes));
  return lines.join("\r\n") + "\r\n";
}
