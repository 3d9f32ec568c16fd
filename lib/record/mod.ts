/**
 * Recording: each sender's frames to a playable MJPEG-in-Matroska file
 * through ffmpeg, with arrival timestamps ({@linkcode Recorder}), or all
 * frames as one MJPEG stream on stdout ({@linkcode MjpegOutput}).
 *
 * @example Recording a sender's frames
 * ```ts
 * import { Recorder } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * const recorder = await Recorder.open({
 *   dir,
 *   segmentMs: 60_000,
 *   onEvent: (event) => event.type === "file" && console.log(event.path),
 * });
 * const bytes = await Deno.readFile("tests/fixtures/rocket.jpg");
 * await recorder.record({ sender: "[::1]:50000", bytes, format: "jpeg", arrivalMs: performance.now() });
 * await recorder.close(); // ffmpeg finishes the file: it plays to its end
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

export * from "./recorder.ts";
export * from "./mjpeg_output.ts";
export * from "./mkv_file.ts";
export * from "./matroska.ts";
export * from "./bounded_writer.ts";
export * from "./file_name.ts";
export type { PngTranscoder } from "./_jpeg.ts";
export * from "./outputs.ts";
