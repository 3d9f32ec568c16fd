/**
 * Live capture through ffmpeg: a camera, a test pattern or a video file as a
 * stream of JPEG frames, newest first, for a stop-and-wait sender.
 *
 * @example Sending the newest frame of the test pattern, three times
 * ```ts
 * import { openCapture } from "./mod.ts";
 *
 * await using capture = openCapture({ kind: "testsrc" }, {
 *   size: { width: 640, height: 480 },
 *   fps: 30,
 *   quality: 80,
 * });
 * for (let i = 0; i < 3; i++) {
 *   const jpeg = await capture.next();
 *   if (jpeg === undefined) break;
 *   console.log(`frame of ${jpeg.length} bytes, ${capture.stale} stale so far`);
 * }
 * ```
 *
 * @module
 */

export * from "./ffmpeg.ts";
export * from "./devices.ts";
export * from "./jpeg_splitter.ts";
export * from "./latest.ts";
