/**
 * udpimg: send camera frames and images over UDP, wire-compatible with the
 * tutorial "Python UDP image transfer with OpenCV".
 *
 * - The server, for every protocol on one port: {@linkcode FrameServer}.
 * - The classic protocol: {@linkcode ClassicClient}, {@linkcode sendImage},
 *   {@linkcode sendMessage}, {@linkcode Reassembler}.
 * - The stream protocol: {@linkcode StreamClient}, {@linkcode StreamSender},
 *   {@linkcode StreamReceiver}.
 * - RTP/JPEG (RFC 2435): {@linkcode parseJpeg}, {@linkcode RtpJpegPacketizer},
 *   {@linkcode RtpJpegSender}, {@linkcode RtpReceiver}, {@linkcode writeSdp}.
 * - RTSP, the server as an IP camera: {@linkcode RtspServer},
 *   {@linkcode RtspClient}, {@linkcode rtpJpegTranscoder}.
 * - Python's struct module: {@linkcode pack}, {@linkcode unpack}, {@linkcode Struct}.
 * - Codecs: {@linkcode createDecoder}, {@linkcode createEncoder}.
 * - Capture through ffmpeg: {@linkcode openCapture}.
 * - Sealing datagrams (AES-256-GCM, key files, replay window):
 *   {@linkcode createStreamAead}, {@linkcode createAead}, {@linkcode loadKey},
 *   {@linkcode ReplayWindow}.
 * - The live viewer: {@linkcode Viewer}.
 * - Recording: {@linkcode Recorder}, {@linkcode MjpegOutput}.
 *
 * @example Sending an image to the tutorial's server
 * ```ts ignore
 * import { sendImage } from "./mod.ts";
 * const reply = await sendImage(await Deno.readFile("photo.jpg"), { port: 9999 });
 * console.log(reply); // "get message!!!"
 * ```
 *
 * @module
 */

export * from "./server/mod.ts";
export * from "./classic/mod.ts";
export * from "./stream/mod.ts";
export * from "./rtp/mod.ts";
export * from "./rtsp/mod.ts";
export * from "./struct/mod.ts";
export * from "./codec/mod.ts";
export * from "./net/mod.ts";
export * from "./capture/mod.ts";
export * from "./crypto/mod.ts";
export { Viewer } from "./viewer/viewer.ts";
export type { ViewerOptions } from "./viewer/viewer.ts";
export { lazyTranscoder, pngToJpeg } from "./viewer/transcode.ts";
export type { LazyTranscoder, PngToJpegOptions } from "./viewer/transcode.ts";
export { readMjpegParts } from "./viewer/mjpeg.ts";
export type { MjpegPart, ReadMjpegOptions } from "./viewer/mjpeg.ts";
export type * from "./viewer/types.ts";
export type * from "./viewer/history.ts";
export { checkAccess, randomToken } from "./viewer/access.ts";
export type { AccessConfig } from "./viewer/access.ts";
export * from "./image/pattern.ts";
export * from "./image/scale.ts";
export * from "./frame_source.ts";
export * from "./frame_clock.ts";
export { runDemoSender } from "./demo.ts";
export type { DemoSenderOptions } from "./demo.ts";
export * from "./record/mod.ts";
