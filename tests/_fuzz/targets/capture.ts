/**
 * Fuzz target of capture: the `JpegSplitter` on MJPEG byte streams made of
 * the corpus's JPEGs, mutated, with garbage between them, cut into chunks
 * of every size.
 *
 * @module
 */

import {
  JpegSplitter,
  type JpegSplitterStats,
} from "../../../lib/capture/jpeg_splitter.ts";
import type { Corpus } from "../corpus.ts";
import { mutate, randomDatagram } from "../mutate.ts";
import type { Prng } from "../prng.ts";
import {
  concatBytes,
  type FuzzCase,
  type FuzzDatagram,
  type FuzzTarget,
  invariant,
  param,
  sameBytes,
} from "../target.ts";

const MAX_FRAME_SIZES = [4, 100, 2048, 65536, 16 * 1024 * 1024];
const INITIAL_SIZES = [1, 64, 256 * 1024];

/** The JPEGs the splitter must cut exactly: whole ones. */
function wholeJpegs(corpus: Corpus): Uint8Array[] {
  return corpus.images
    .filter((image) =>
      image.name !== "truncated.jpg" && image.bytes[0] === 0xff
    )
    .map((image) => image.bytes);
}

/** A byte stream of JPEGs, cut into chunks; `clean` when nothing was corrupted. */
function mjpegStream(
  rng: Prng,
  corpus: Corpus,
): { stream: Uint8Array; clean: boolean; frames: number } {
  const jpegs = wholeJpegs(corpus);
  const small = jpegs.filter((bytes) => bytes.length <= 8192);
  const clean = rng.chance(0.25);
  const pieces: Uint8Array[] = [];
  const count = 1 + rng.below(6);
  for (let n = 0; n < count; n++) {
    const jpeg = rng.pick(rng.chance(0.85) ? small : jpegs);
    if (clean) {
      pieces.push(jpeg);
      continue;
    }
    const kind = rng.below(6);
    if (kind === 0) pieces.push(randomDatagram(rng, 4096));
    else if (kind === 1) pieces.push(jpeg.subarray(0, rng.below(jpeg.length)));
    else if (kind === 2) pieces.push(jpeg);
    else pieces.push(mutate(rng, jpeg, { others: small, maxLength: 1 << 20 }));
  }
  const stream = concatBytes(pieces);
  return { stream, clean, frames: clean ? count : 0 };
}

/** Cuts `stream` into chunks: one size per case, or sizes at random. */
export function chunked(rng: Prng, stream: Uint8Array): FuzzDatagram[] {
  const fixed = rng.pick([1, 2, 3, 7, 64, 1000, 4096, 65536, 0]);
  // Tiny chunks only for short streams, so that no case is all chunks.
  const limit = stream.length <= 2048 ? 1 : stream.length <= 32768 ? 16 : 256;
  const chunks: FuzzDatagram[] = [];
  for (let at = 0; at < stream.length;) {
    const size = Math.max(limit, fixed === 0 ? 1 + rng.length(8192) : fixed);
    chunks.push({ from: 1, dtMs: 0, bytes: stream.subarray(at, at + size) });
    at += size;
  }
  return chunks;
}

/** Concatenates a case's chunks: the stream they were cut from. */
export function joined(input: FuzzCase): Uint8Array {
  return concatBytes(input.datagrams.map((d) => d.bytes));
}

function split(
  chunks: readonly Uint8Array[],
  maxFrameBytes: number,
  initialBufferBytes: number,
): { frames: Uint8Array[]; stats: JpegSplitterStats } {
  const splitter = new JpegSplitter({ maxFrameBytes, initialBufferBytes });
  const frames: Uint8Array[] = [];
  for (const chunk of chunks) {
    for (const frame of splitter.push(chunk)) {
      invariant(
        frame.length >= 4 && frame.length <= maxFrameBytes &&
          frame[0] === 0xff && frame[1] === 0xd8 &&
          frame[frame.length - 2] === 0xff && frame[frame.length - 1] === 0xd9,
        `a ${frame.length}-byte frame that is not FF D8 … FF D9 within ${maxFrameBytes} bytes`,
      );
      frames.push(frame);
    }
    invariant(
      splitter.pendingBytes >= 0 && splitter.pendingBytes <= maxFrameBytes,
      `${splitter.pendingBytes} bytes held, limit ${maxFrameBytes}`,
    );
  }
  invariant(
    splitter.stats.frames === frames.length,
    "the frame counter disagrees",
  );
  return { frames, stats: { ...splitter.stats } };
}

/** `JpegSplitter` on MJPEG streams. */
export const captureJpegSplitterTarget: FuzzTarget = {
  name: "capture-jpeg-splitter",
  about:
    "JpegSplitter on mutated MJPEG byte streams in chunks of every size: frames whole, bounded, the same however cut",
  generate: (rng, corpus) => {
    const { stream, clean, frames } = mjpegStream(rng, corpus);
    return {
      datagrams: chunked(rng, stream),
      params: {
        maxFrameBytes: clean ? 16 * 1024 * 1024 : rng.pick(MAX_FRAME_SIZES),
        initialBufferBytes: rng.pick(INITIAL_SIZES),
        frames,
      },
    };
  },
  run: (input) => {
    const maxFrameBytes = param(input, "maxFrameBytes", 16 * 1024 * 1024);
    const initial = param(input, "initialBufferBytes", 256 * 1024);
    const cut = split(
      input.datagrams.map((d) => d.bytes),
      maxFrameBytes,
      initial,
    );
    const stream = joined(input);
    const whole = split([stream], maxFrameBytes, initial);
    invariant(
      cut.frames.length === whole.frames.length &&
        cut.frames.every((frame, i) => sameBytes(frame, whole.frames[i]!)),
      `cut into ${input.datagrams.length} chunks the stream gives ${cut.frames.length} frames, whole ${whole.frames.length}, or other bytes`,
    );
    invariant(
      JSON.stringify(cut.stats) === JSON.stringify(whole.stats),
      () =>
        `cut, the counters are ${JSON.stringify(cut.stats)}; whole, ${
          JSON.stringify(whole.stats)
        }`,
    );
    const frames = param(input, "frames", 0);
    if (frames > 0) {
      invariant(
        whole.frames.length === frames && whole.stats.skippedBytes === 0 &&
          whole.stats.corrupt === 0,
        () =>
          `a clean stream of ${frames} JPEGs gave ${whole.frames.length} frames, ${
            JSON.stringify(whole.stats)
          }`,
      );
      invariant(
        whole.frames.reduce((n, f) => n + f.length, 0) === stream.length,
        "a clean stream's frames do not add up to it",
      );
    }
  },
};
