/**
 * RTP/JPEG: RFC 2435's JPEG payload format over RTP (RFC 3550). Parse a
 * JPEG once with {@linkcode parseJpeg}, then cut it into packets with
 * {@linkcode packetizeJpeg} or a {@linkcode RtpJpegPacketizer}.
 *
 * @example Packetizing a JPEG file
 * ```ts
 * import { parseJpeg, RtpJpegPacketizer } from "./mod.ts";
 * const packetizer = new RtpJpegPacketizer();
 * const jpeg = parseJpeg(await Deno.readFile("bench/frames/photo_640x480.jpg"));
 * console.log(packetizer.packetize(jpeg, 0).length > 1); // true
 * ```
 *
 * @module
 */

export * from "./packet.ts";
export * from "./payload_header.ts";
export * from "./jpeg.ts";
export * from "./packetizer.ts";
export * from "./jpeg_headers.ts";
export * from "./depacketizer.ts";
export * from "./rtcp.ts";
export * from "./reception_stats.ts";
export * from "./receiver.ts";
export * from "./pacing.ts";
export * from "./sender.ts";
export * from "./sdp.ts";
