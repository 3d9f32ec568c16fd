/**
 * The tutorial's classic wire format: header, reassembler, the receiver
 * that the server drives, and clients. See docs/PROTOCOL.md.
 *
 * @example Sending an image to the tutorial's server
 * ```ts ignore
 * import { sendImage } from "./mod.ts";
 * console.log(await sendImage(await Deno.readFile("photo.jpg"), { port: 9999 }));
 * ```
 *
 * @module
 */

export * from "./constants.ts";
export * from "./header.ts";
export * from "./reassembler.ts";
export * from "./message.ts";
export * from "./requester.ts";
export * from "./receiver.ts";
export * from "./server.ts";
export * from "./client.ts";
