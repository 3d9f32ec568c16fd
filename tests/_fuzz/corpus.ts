/**
 * The fuzz corpus: the images in `tests/fixtures/` and `bench/frames/`, and
 * valid datagrams that the real senders make of them, for targets to mutate.
 *
 * @module
 */

import { frameDatagrams } from "../../lib/classic/client.ts";
import { sniffFormat } from "../../lib/codec/types.ts";
import { type ParsedJpeg, parseJpeg } from "../../lib/rtp/jpeg.ts";
import { packetizeJpeg } from "../../lib/rtp/packetizer.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);
const FRAMES = new URL("../../bench/frames/", import.meta.url);

/** An image file of the corpus. */
export interface CorpusImage {
  /** Its file name. */
  readonly name: string;
  /** Its bytes. */
  readonly bytes: Uint8Array;
}

/** Everything targets build their cases from. */
export interface Corpus {
  /** Every image, JPEG and PNG, valid or not (truncated.jpg is not). */
  readonly images: readonly CorpusImage[];
  /** Images of at most 64 KiB: cheap good frames, and whole-datagram images. */
  readonly smallImages: readonly CorpusImage[];
  /** The JPEGs that RFC 2435 can carry, parsed. */
  readonly baseline: readonly {
    name: string;
    bytes: Uint8Array;
    jpeg: ParsedJpeg;
  }[];
  /** Valid classic datagrams: headers (8 and 4 bytes), chunks, whole images. */
  readonly classic: readonly Uint8Array[];
  /** Valid RTP/JPEG packets of the baseline JPEGs, at several MTUs. */
  readonly rtp: readonly Uint8Array[];
  /** Valid JSON messages, as the message port takes them. */
  readonly messages: readonly Uint8Array[];
}

let cached: Promise<Corpus> | undefined;

/** Loads the corpus once per process. */
export function loadCorpus(): Promise<Corpus> {
  return cached ??= build();
}

async function readImages(dir: URL): Promise<CorpusImage[]> {
  const images: CorpusImage[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !/\.(jpe?g|png)$/i.test(entry.name)) continue;
    images.push({
      name: entry.name,
      bytes: await Deno.readFile(new URL(entry.name, dir)),
    });
  }
  // readDir's order is the file system's: sort, so that seeds replay anywhere.
  return images.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

async function build(): Promise<Corpus> {
  const images = [
    ...(await readImages(FIXTURES)),
    ...(await readImages(FRAMES)).map((image) => ({
      ...image,
      name: `frames/${image.name}`,
    })),
  ];
  const smallImages = images.filter((image) => image.bytes.length <= 65507);
  const baseline = [];
  for (const image of images) {
    try {
      baseline.push({ ...image, jpeg: parseJpeg(image.bytes) });
    } catch {
      // Not one RFC 2435 carries: still an image for the other targets.
    }
  }
  const classic: Uint8Array[] = [];
  for (const image of images) {
    if (sniffFormat(image.bytes) === undefined) continue;
    const chunked = frameDatagrams(image.bytes);
    // The header, the first two chunks and the last: enough to mutate.
    classic.push(chunked[0]!, ...chunked.slice(1, 3), chunked.at(-1)!);
    const short = new Uint8Array(4);
    new DataView(short.buffer).setInt32(0, image.bytes.length, true);
    classic.push(short);
    if (image.bytes.length <= 65507) classic.push(image.bytes);
  }
  const rtp: Uint8Array[] = [];
  let sequence = 65530;
  for (const { jpeg } of baseline) {
    for (const mtu of [300, 1400]) {
      const packets = packetizeJpeg(jpeg, {
        ssrc: 0x1234_5678,
        sequence,
        timestamp: 90000,
        mtu,
      });
      sequence = (sequence + packets.length) & 0xffff;
      rtp.push(...packets.slice(0, 3), packets.at(-1)!);
    }
  }
  const encoder = new TextEncoder();
  const messages = [
    "[0,0,0,1]",
    "[0, 0, 0, 1]",
    '{"cmd":"snapshot","at":1.5e3,"tags":["a","b"],"ok":true,"none":null}',
    '"caf\\u00e9 \\ud83d\\ude00 \\n\\t\\"quoted\\""',
    "-0.0e-7",
    "[[[[[[[[[[[]]]]]]]]]]]",
    `{"k":"${"x".repeat(300)}"}`,
    "caf\u00e9",
  ].map((text) => encoder.encode(text));
  return { images, smallImages, baseline, classic, rtp, messages };
}
