/**
 * Fuzz target of the codecs' header inspection (`lib/codec/_inspect.ts`),
 * which runs on every received frame before any pixel memory is allocated,
 * and of the viewer's and recorder's `imageDimensions` over it.
 *
 * @module
 */

import {
  checkSize,
  inspectImage,
  resolveLimits,
} from "../../../lib/codec/_inspect.ts";
import {
  DecodeError,
  type ImageFormat,
  sniffFormat,
} from "../../../lib/codec/types.ts";
import { imageDimensions } from "../../../lib/viewer/_dimensions.ts";
import { type Field, mutate, randomDatagram } from "../mutate.ts";
import { type FuzzTarget, invariant, param } from "../target.ts";

/** IHDR's width and height, and a chunk length, in a PNG. */
const PNG_FIELDS: readonly Field[] = [
  { offset: 8, size: 4 },
  { offset: 16, size: 4 },
  { offset: 20, size: 4 },
  { offset: 33, size: 4 },
];
const LIMITS = resolveLimits({});

/** `inspectImage` and `checkSize` on mutated JPEGs and PNGs. */
export const codecInspectTarget: FuzzTarget = {
  name: "codec-inspect",
  about:
    "inspectImage, checkSize and imageDimensions on mutated JPEG and PNG files: only DecodeError, sizes in range",
  generate: (rng, corpus) => {
    const datagrams = [];
    const count = 1 + rng.below(8);
    const small = corpus.images.filter((image) => image.bytes.length <= 8192)
      .map((i) => i.bytes);
    const all = corpus.images.map((image) => image.bytes);
    for (let n = 0; n < count; n++) {
      const base = rng.pick(rng.chance(0.9) ? small : all);
      const bytes = rng.chance(0.05)
        ? randomDatagram(rng, 4096)
        : mutate(rng, base, {
          fields: base[0] === 0x89 ? PNG_FIELDS : [],
          others: small,
          maxLength: 1 << 20,
        });
      datagrams.push({ from: 1, dtMs: 0, bytes });
    }
    return { datagrams, params: { png: rng.chance(0.5) ? 1 : 0 } };
  },
  run: (input) => {
    for (const { bytes } of input.datagrams) {
      // As the decoders call it: with the sniffed format, or a forced one.
      const format: ImageFormat = sniffFormat(bytes) ??
        (param(input, "png", 0) ? "png" : "jpeg");
      // Never throws: its size is the inspection's, or undefined.
      const size = imageDimensions(bytes, format);
      let inspection;
      try {
        inspection = inspectImage(bytes, format);
      } catch (error) {
        invariant(
          error instanceof DecodeError && !/[\r\n]/.test(error.message),
          () =>
            `inspectImage threw ${
              error instanceof Error ? `${error.name}: ${error.message}` : error
            }`,
        );
        invariant(size === undefined, () => `sized as ${JSON.stringify(size)}`);
        continue;
      }
      invariant(
        inspection.width > 0 && inspection.height > 0
          ? size?.width === inspection.width &&
            size.height === inspection.height
          : size === undefined,
        () => `sized as ${JSON.stringify(size)}`,
      );
      const most = format === "jpeg" ? 0xffff : 0xffff_ffff;
      invariant(
        Number.isInteger(inspection.width) && inspection.width >= 0 &&
          inspection.width <= most &&
          Number.isInteger(inspection.height) && inspection.height >= 0 &&
          inspection.height <= most &&
          typeof inspection.complete === "boolean",
        () => `inspected as ${JSON.stringify(inspection)}`,
      );
      try {
        checkSize(format, inspection.width, inspection.height, LIMITS);
      } catch (error) {
        invariant(error instanceof DecodeError, `checkSize threw ${error}`);
      }
    }
  },
};
