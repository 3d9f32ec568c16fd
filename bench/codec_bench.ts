/**
 * Codec benchmark: decode and encode milliseconds per frame for the
 * photographic test frames at 640x480, 1280x720 and 1920x1080, native
 * libjpeg-turbo against imagescript, as a markdown table.
 *
 * ```sh
 * deno run -P=bench bench/codec_bench.ts          # 25 runs per cell
 * deno run -P=bench bench/codec_bench.ts --quick  # 5 runs per cell
 * ```
 *
 * @module
 */

import {
  ImagescriptDecoder,
  ImagescriptEncoder,
} from "../lib/codec/imagescript.ts";
import { TurboJpegDecoder, TurboJpegEncoder } from "../lib/codec/turbojpeg.ts";
import type { DecodedImage } from "../lib/codec/types.ts";
import { benchMain } from "./_cli.ts";
import { FRAME_SIZES, framePath } from "./make_frames.ts";

/** Options for {@linkcode runCodecBench}. */
export interface CodecBenchOptions {
  /**
   * Run 5 timed iterations per cell instead of 25.
   *
   * @default {false}
   */
  quick?: boolean;
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Times each task `runs` times, round-robin, so that a burst of load on a
 * shared machine hits every task alike rather than one column; returns the
 * median milliseconds of each.
 */
async function timeMedians(
  runs: number,
  tasks: (() => Promise<unknown>)[],
): Promise<number[]> {
  for (const task of tasks) await task();
  const times: number[][] = tasks.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [k, task] of tasks.entries()) {
      const start = performance.now();
      await task();
      times[k]!.push(performance.now() - start);
    }
  }
  return times.map(median);
}

async function framesPerSecond(
  decoder: TurboJpegDecoder,
  jpeg: Uint8Array,
  count: number,
): Promise<number> {
  await decoder.decode(jpeg, "jpeg");
  const start = performance.now();
  await Promise.all(
    Array.from({ length: count }, () => decoder.decode(jpeg, "jpeg")),
  );
  return count / ((performance.now() - start) / 1000);
}

function ms(value: number): string {
  return value.toFixed(2);
}

function ratio(slow: number, fast: number): string {
  return `${(slow / fast).toFixed(1)}x`;
}

/**
 * Runs the benchmark. Needs libjpeg-turbo, ffi and read permission.
 *
 * @param options `quick` for fewer runs.
 * @returns A markdown table and notes.
 *
 * @example Printing a quick run
 * ```ts ignore
 * import { runCodecBench } from "./codec_bench.ts";
 * console.log(await runCodecBench({ quick: true }));
 * ```
 */
export async function runCodecBench(
  options: CodecBenchOptions = {},
): Promise<string> {
  const runs = options.quick === true ? 5 : 25;
  const native = new TurboJpegDecoder({ concurrency: 1 });
  const recycling = new TurboJpegDecoder({ concurrency: 1 });
  const nativeFast = new TurboJpegDecoder({ concurrency: 1, fastDct: true });
  const nativeMain = new TurboJpegDecoder({
    concurrency: 1,
    background: false,
  });
  const imagescript = new ImagescriptDecoder();
  const nativeEncoder = new TurboJpegEncoder({ concurrency: 1 });
  const imagescriptEncoder = new ImagescriptEncoder();
  const lines = [
    `Codec benchmark: median ms/frame of ${runs} interleaved runs, JPEG quality 90, libjpeg-turbo ${
      native.version ?? "(version unknown)"
    }, ${navigator.hardwareConcurrency} CPUs`,
    "",
    "| frame | JPEG KiB | decode native | decode native recycled | decode native recycled fastDct | decode native recycled main thread | decode imagescript | native (recycled) speed-up | encode native | encode imagescript | native speed-up |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  let biggest: Uint8Array | undefined;
  try {
    for (const [width, height] of FRAME_SIZES) {
      const jpeg = await Deno.readFile(framePath(width, height));
      biggest = jpeg;
      const image: DecodedImage = await native.decode(jpeg, "jpeg");
      const encodeOptions = { format: "jpeg", quality: 90 } as const;
      const [
        decodeNative,
        decodeRecycled,
        decodeFast,
        decodeMain,
        decodeImagescript,
        encodeNative,
        encodeImagescript,
      ] = await timeMedians(runs, [
        () => native.decode(jpeg, "jpeg"),
        async () => recycling.recycle(await recycling.decode(jpeg, "jpeg")),
        async () => nativeFast.recycle(await nativeFast.decode(jpeg, "jpeg")),
        async () => nativeMain.recycle(await nativeMain.decode(jpeg, "jpeg")),
        () => imagescript.decode(jpeg, "jpeg"),
        () => nativeEncoder.encode(image, encodeOptions),
        () => imagescriptEncoder.encode(image, encodeOptions),
      ]) as [number, number, number, number, number, number, number];
      lines.push(
        `| ${width}x${height} | ${Math.round(jpeg.length / 1024)} | ${
          ms(decodeNative)
        } | ${ms(decodeRecycled)} | ${ms(decodeFast)} | ${ms(decodeMain)} | ${
          ms(decodeImagescript)
        } | ${ratio(decodeImagescript, decodeRecycled)} | ${
          ms(encodeNative)
        } | ${ms(encodeImagescript)} | ${
          ratio(encodeImagescript, encodeNative)
        } |`,
      );
    }
    if (biggest !== undefined) {
      const count = options.quick === true ? 8 : 32;
      const one = await framesPerSecond(native, biggest, count);
      const two = new TurboJpegDecoder({ concurrency: 2 });
      try {
        const both = await framesPerSecond(two, biggest, count);
        lines.push(
          "",
          `1920x1080 native decode throughput, ${count} frames in flight: ${
            one.toFixed(0)
          } frames/s on 1 handle, ${both.toFixed(0)} frames/s on 2 handles`,
        );
      } finally {
        two.close();
      }
    }
  } finally {
    native.close();
    recycling.close();
    nativeFast.close();
    nativeMain.close();
    imagescript.close();
    nativeEncoder.close();
    imagescriptEncoder.close();
  }
  return lines.join("\n");
}

const HELP = `Usage: deno run -P=bench bench/codec_bench.ts [options]

Decode and encode ms per frame at 640x480, 1280x720 and 1920x1080,
libjpeg-turbo against imagescript, as markdown.

Options:
  --quick   5 runs per cell (default 25)
  --help    show this help`;

if (import.meta.main) {
  await benchMain(HELP, {
    quick: { type: "boolean", default: false },
  }, async (values) => {
    console.log(await runCodecBench({ quick: values.quick }));
  });
}
