/**
 * The live viewer: shows received frames, statistics and the last message
 * in a browser, over HTTP.
 *
 * @example Serving a viewer next to a receiver
 * ```ts
 * import { Viewer } from "./mod.ts";
 * await using viewer = new Viewer({ port: 0 });
 * console.log(`Open ${viewer.url}`);
 * const bytes = await Deno.readFile("tests/fixtures/rocket.jpg");
 * viewer.publishFrame({ sender: "127.0.0.1:50000", bytes, format: "jpeg" });
 * ```
 *
 * @module
 */

export * from "./types.ts";
export * from "./viewer.ts";
export * from "./frame_board.ts";
export * from "./rate_window.ts";
export * from "./mjpeg.ts";
export * from "./page.ts";
export * from "./transcode.ts";
export * from "./history.ts";
export * from "./access.ts";
