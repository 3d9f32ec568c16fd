/**
 * Limits of this machine for the benchmark's "limits" section: how many
 * frames per second libjpeg-turbo decodes through our binding with nothing
 * else to do. A stop-and-wait pair cannot beat the decode rate of its server.
 *
 * @module
 */

import { TurboJpegDecoder } from "../lib/codec/turbojpeg.ts";

/** Options for {@linkcode decodeRate}. */
export interface DecodeRateOptions {
  /**
   * Decoder handles, each decoding on its own thread.
   *
   * @default {1}
   */
  concurrency?: number;
  /**
   * How long to decode, in milliseconds, after one warm-up decode.
   *
   * @default {1000}
   */
  durationMs?: number;
}

/**
 * Decodes `jpeg` over and over for `durationMs` with twice `concurrency`
 * decodes in flight, recycling the pixels, and returns frames per second.
 *
 * @param jpeg A JPEG image.
 * @param options Handles and duration.
 * @returns Decoded frames per second.
 *
 * @example One handle, a quarter of a second
 * ```ts ignore
 * import { decodeRate } from "./_limits.ts";
 * const jpeg = await Deno.readFile("bench/frames/photo_1280x720.jpg");
 * console.log(await decodeRate(jpeg, { concurrency: 1, durationMs: 250 }));
 * ```
 */
export async function decodeRate(
  jpeg: Uint8Array,
  options: DecodeRateOptions = {},
): Promise<number> {
  const { concurrency = 1, durationMs = 1000 } = options;
  const decoder = new TurboJpegDecoder({ concurrency });
  try {
    decoder.recycle(await decoder.decode(jpeg, "jpeg"));
    let decoded = 0;
    const start = performance.now();
    const end = start + durationMs;
    // Two decodes per handle keep each handle busy while the other's
    // result is handed back to JavaScript.
    const lane = async (): Promise<void> => {
      while (performance.now() < end) {
        decoder.recycle(await decoder.decode(jpeg, "jpeg"));
        decoded++;
      }
    };
    await Promise.all(Array.from({ length: 2 * concurrency }, lane));
    return decoded / ((performance.now() - start) / 1000);
  } finally {
    decoder.close();
  }
}
