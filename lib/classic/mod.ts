/**
 * The tutorial's classic wire format: header, reassembler, server and
 * clients. See docs/PROTOCOL.md.
 *
 * @example Receiving frames in-process
 * ```ts ignore
 * import { ClassicServer } from "./mod.ts";
 * await using server = await ClassicServer.listen({ port: 9999 });
 * for await (const frame of server) console.log(frame.index, frame.bytes.length);
 * ```
 *
 * @module
 */

export * from "./constants.ts";
export * from "./header.ts";
export * from "./reassembler.ts";
export * from "./message.ts";
export * from "./requester.ts";
export * from "./server.ts";
export * from "./client.ts";
