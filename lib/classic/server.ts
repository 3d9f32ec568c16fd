/**
 * The names the classic server had before one server served every
 * protocol. The server is now {@linkcode FrameServer}, which serves the
 * tutorial's protocol by default.
 *
 * @module
 */

import { FrameServer, type FrameServerOptions } from "../server/server.ts";

export type { ReceivedFrame } from "../server/frame_sink.ts";
export type { ServerStats } from "../server/server.ts";

/**
 * Options of the classic server: those of {@linkcode FrameServer.listen}.
 *
 * @deprecated Use {@linkcode FrameServerOptions}.
 */
export type ClassicServerOptions = FrameServerOptions;

/**
 * The server, under its former name.
 *
 * @deprecated Use {@linkcode FrameServer}.
 *
 * @example Receiving frames in-process
 * ```ts ignore
 * import { ClassicServer } from "./server.ts";
 * await using server = await ClassicServer.listen({ port: 0, messagePort: null });
 * for await (const frame of server) console.log(frame.bytes.length);
 * ```
 */
export const ClassicServer = FrameServer;
/** The server, under its former name. @deprecated Use {@linkcode FrameServer}. */
export type ClassicServer = FrameServer;
