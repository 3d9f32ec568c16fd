/**
 * The datagram layer: a native batched socket (recvmmsg/sendmmsg through
 * FFI) on Linux, `Deno.listenDatagram` elsewhere, behind one interface.
 *
 * @example Opening a socket
 * ```ts ignore
 * import { openDatagramSocket } from "./mod.ts";
 * const socket = await openDatagramSocket({ hostname: "127.0.0.1", port: 0 });
 * console.log(socket.kind, socket.addr.port);
 * socket.close();
 * ```
 *
 * @module
 */

export * from "./types.ts";
export * from "./errors.ts";
export * from "./open.ts";
export * from "./multicast.ts";
export * from "./receive_loop.ts";
export * from "./link_model.ts";
export * from "./lossy_relay.ts";
