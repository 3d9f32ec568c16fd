/**
 * RTSP (RFC 2326, RTSP 1.0): udpimg's server as an IP camera, for VLC,
 * ffplay, GStreamer, OBS, NVRs and media servers. {@linkcode RtspServer}
 * is the driver; the pure parts are the message reader and writers
 * ({@linkcode RtspMessageReader}), the `Transport` header
 * ({@linkcode chooseTransport}), Digest authentication
 * ({@linkcode DigestAuth}), the session state machine
 * ({@linkcode RtspSessions}) and the per-stream fan-out
 * ({@linkcode RtspStream}). {@linkcode RtspClient} is a small client for
 * tests and benchmarks.
 *
 * @example Serving frames as rtsp://127.0.0.1:8554/live
 * ```ts ignore
 * import { FrameServer } from "../server/mod.ts";
 * import { RtspServer } from "./mod.ts";
 *
 * await using frames = await FrameServer.listen({ port: 9999 });
 * await using rtsp = await RtspServer.listen({ port: 8554 });
 * console.log(rtsp.url); // "rtsp://127.0.0.1:8554/live"
 * for await (const frame of frames) {
 *   if (frame.format) rtsp.publish({ sender: frame.sender, bytes: frame.bytes, format: frame.format });
 * }
 * ```
 *
 * @module
 */

export * from "./message.ts";
export * from "./transport.ts";
export * from "./digest.ts";
export * from "./session.ts";
export * from "./stream.ts";
export * from "./transcode.ts";
export * from "./server.ts";
export * from "./client.ts";
export type { UdpPacing } from "./_udp.ts";
