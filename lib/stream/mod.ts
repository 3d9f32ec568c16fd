/**
 * The stream protocol: udpimg's own loss-tolerant wire format, open loop
 * and paced, with frame ids, CRC-32C, NACK retransmission, XOR FEC,
 * receiver reports, rate control and an acknowledged message channel. The
 * wire format is drawn in `wire.ts` and in `docs/PROTOCOL.md`.
 *
 * - {@linkcode StreamClient}: stream frames and messages in-process.
 * - {@linkcode StreamSender}, {@linkcode StreamReceiver}: the pure state
 *   machines of the two sides; the receiver is the server's
 *   {@linkcode ProtocolReceiver} for this protocol.
 * - The stages, each its own module: the wire codec, CRC-32C, FEC, the
 *   receive log, the reassembler, the NACK generator, the send history, the
 *   reports, the pacer and the rate controller.
 *
 * @example Streaming one image to a server
 * ```ts ignore
 * import { StreamClient } from "./mod.ts";
 * await using client = await StreamClient.connect({ port: 9999 });
 * client.send(await Deno.readFile("photo.jpg"));
 * await client.close();
 * ```
 *
 * @module
 */

export * from "./client.ts";
export * from "./sender.ts";
export * from "./receiver.ts";
export * from "./reassembler.ts";
export * from "./nack_generator.ts";
export * from "./history.ts";
export * from "./reports.ts";
export * from "./receive_log.ts";
export * from "./pacer.ts";
export * from "./rate_controller.ts";
export * from "./fec.ts";
export * from "./crc32c.ts";
export * from "./wire.ts";
