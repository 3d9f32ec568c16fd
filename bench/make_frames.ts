/**
 * Makes the photographic test frames in `bench/frames/`: the rocket photo
 * from `tests/fixtures/` scaled (Lanczos) and centre-cropped by ffmpeg to
 * 640x480, 1280x720 and 1920x1080, then encoded at JPEG quality 90, 4:2:0,
 * by libjpeg-turbo. Run once; the frames are committed.
 *
 * ```sh
 * deno run -P bench/make_frames.ts
 * ```
 *
 * @module
 */

import { benchMain } from "./_cli.ts";
import { TurboJpegEncoder } from "../lib/codec/turbojpeg.ts";

/** The frame sizes made, as `[width, height]`. */
export const FRAME_SIZES: readonly (readonly [number, number])[] = [
  [640, 480],
  [1280, 720],
  [1920, 1080],
];

/**
 * The path of the test frame of a size.
 *
 * @param width Frame width.
 * @param height Frame height.
 * @returns A path relative to the repository root.
 *
 * @example
 * ```ts
 * import { framePath } from "./make_frames.ts";
 * console.log(framePath(1280, 720)); // bench/frames/photo_1280x720.jpg
 * ```
 */
export function framePath(width: number, height: number): string {
  return `bench/frames/photo_${width}x${height}.jpg`;
}

async function scaledPixels(
  source: string,
  width: number,
  height: number,
): Promise<Uint8Array> {
  const { success, stdout, stderr } = await new Deno.Command("ffmpeg", {
    args: [
      "-loglevel",
      "error",
      "-i",
      source,
      "-vf",
      `scale=${width}:${height}:force_original_aspect_ratio=increase:flags=lanczos,crop=${width}:${height}`,
      "-f",
      "rawvideo",
      "-pix_fmt",
      "rgb24",
      "-",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(
      `Cannot scale ${source}: ${new TextDecoder().decode(stderr).trim()}`,
    );
  }
  return stdout;
}

/**
 * Writes the test frames.
 *
 * @param source The photo to scale.
 * @returns The paths written and their sizes in bytes.
 *
 * @example
 * ```ts ignore
 * import { makeFrames } from "./make_frames.ts";
 * console.log(await makeFrames());
 * ```
 */
export async function makeFrames(
  source = "tests/fixtures/rocket.jpg",
): Promise<{ path: string; bytes: number }[]> {
  const encoder = new TurboJpegEncoder();
  const written = [];
  try {
    for (const [width, height] of FRAME_SIZES) {
      const data = await scaledPixels(source, width, height);
      const jpeg = await encoder.encode({ width, height, channels: 3, data }, {
        format: "jpeg",
        quality: 90,
      });
      const path = framePath(width, height);
      await Deno.writeFile(path, jpeg);
      written.push({ path, bytes: jpeg.length });
    }
  } finally {
    encoder.close();
  }
  return written;
}

const HELP = `Usage: deno run -P bench/make_frames.ts

Makes bench/frames/photo_WxH.jpg (640x480, 1280x720, 1920x1080) from the
rocket photo in tests/fixtures/, with ffmpeg and libjpeg-turbo.

Options:
  --help    show this help`;

if (import.meta.main) {
  await benchMain(HELP, {}, async () => {
    for (const { path, bytes } of await makeFrames()) {
      console.log(`${path}: ${Math.round(bytes / 1024)} KiB`);
    }
  });
}
