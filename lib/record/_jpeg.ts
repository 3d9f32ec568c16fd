/**
 * Frames as JPEG for the recording and the MJPEG stream: JPEG passes as it
 * is, PNG is transcoded, with codecs made on first use.
 *
 * @module
 */

import type { ImageFormat } from "../codec/types.ts";
import {
  type LazyTranscoder,
  lazyTranscoder,
  pngToJpeg,
} from "../viewer/transcode.ts";

/** Turns a PNG into a JPEG; the `transcode` option of the viewer has this shape. */
export type PngTranscoder = (
  bytes: Uint8Array,
  format: "png",
) => Promise<Uint8Array>;

/** JPEG bytes of any frame, transcoding PNG with a given or a lazily made transcoder. */
export class JpegFrames {
  readonly #transcode: PngTranscoder;
  readonly #own: LazyTranscoder<"png"> | undefined;

  constructor(transcode?: PngTranscoder) {
    this.#own = transcode === undefined ? lazyTranscoder(pngToJpeg) : undefined;
    this.#transcode = transcode ?? this.#own!.transcode;
  }

  /** The frame as JPEG; rejects when a PNG cannot be transcoded. */
  async toJpeg(bytes: Uint8Array, format: ImageFormat): Promise<Uint8Array> {
    return format === "jpeg" ? bytes : await this.#transcode(bytes, format);
  }

  /** Closes the codecs this made. */
  async close(): Promise<void> {
    await this.#own?.close();
  }
}
