/**
 * The receiving side, for every wire format at once: the
 * {@linkcode FrameServer}, the {@linkcode ProtocolReceiver} interface that
 * each protocol implements, and what they share: per-sender state with a
 * bound, drop counting, the frame sink and latency percentiles.
 *
 * @example Receiving frames in-process
 * ```ts ignore
 * import { FrameServer } from "./mod.ts";
 * await using server = await FrameServer.listen({ port: 9999 });
 * for await (const frame of server) console.log(frame.protocol, frame.bytes.length);
 * ```
 *
 * @module
 */

export * from "./types.ts";
export * from "./server.ts";
export * from "./frame_sink.ts";
export * from "./demux.ts";
export * from "./refusing_receiver.ts";
export * from "./sender_table.ts";
export * from "./drop_counter.ts";
export * from "./latency.ts";
