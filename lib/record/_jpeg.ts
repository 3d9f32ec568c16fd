/**
 * Frames as JPEG for the recording and the MJPEG stream: JPEG passes as it
 * is, PNG is transcoded, with codecs made on first use.
 *
 * @module
 */

import { createDecoder, createEncoder } from "../codec/select.ts";
import type {
  ImageDecoder,
  ImageEncoder,
  ImageFormat,
} from "../codec/types.ts";
import { pngToJpeg } from "../viewer/transcode.ts";

/** Turns a PNG into a JPEG; the `transcode` option of the viewer has this shape. */
export type PngTranscoder = (
  bytes: Uint8Array,
  format: "png",
) => Promise<Uint8Array>;

/** JPEG bytes of any frame, transcoding PNG with a given or a lazily made transcoder. */
export class JpegFrames {
  readonly #given: PngTranscoder | undefined;
  #own:
    | Promise<
      { decoder: ImageDecoder; encoder: ImageEncoder; transcode: PngTranscoder }
    >
    | undefined;

  constructor(transcode?: PngTranscoder) {
    this.#given = transcode;
  }

  /** The frame as JPEG; rejects when a PNG cannot be transcoded. */
  async toJpeg(bytes: Uint8Array, format: ImageFormat): Promise<Uint8Array> {
    if (format === "jpeg") return bytes;
    if (this.#given !== undefined) return await this.#given(bytes, format);
    this.#own ??= (async () => {
      const [{ decoder }, { encoder }] = await Promise.all([
        createDecoder("auto"),
        createEncoder("auto"),
      ]);
      return {
        decoder: decoder!,
        encoder,
        transcode: pngToJpeg(decoder!, encoder),
      };
    })();
    return await (await this.#own).transcode(bytes, format);
  }

  /** Closes the codecs this made. */
  async close(): Promise<void> {
    const own = await this.#own?.catch(() => undefined);
    own?.decoder.close();
    own?.encoder.close();
  }
}
