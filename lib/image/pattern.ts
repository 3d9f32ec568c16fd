/**
 * A moving test pattern drawn in code, so demos, tests and benchmarks need no
 * camera: SMPTE-style colour bars, a shaded ball bouncing across them, a hue
 * band that scrolls with the frame number, and the frame number in large
 * digits.
 *
 * @module
 */

import type { DecodedImage } from "../codec/types.ts";
import { drawText, GLYPH_HEIGHT, textWidth } from "./_font.ts";

/** Options for {@linkcode drawTestPattern}. */
export interface TestPatternOptions {
  /**
   * Width in pixels, 1 to 16384.
   *
   * @default {640}
   */
  width?: number;
  /**
   * Height in pixels, 1 to 16384.
   *
   * @default {480}
   */
  height?: number;
  /**
   * Text drawn above the frame number, such as `udpimg demo`. Lower case
   * draws as upper case.
   *
   * @default {undefined}
   */
  label?: string;
  /**
   * RGBA memory of exactly `width * height * 4` bytes to draw into instead of
   * allocating, at a byte offset that is a multiple of 4.
   *
   * @default {undefined}
   */
  target?: Uint8Array;
}

const MAX_SIDE = 16384;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// 75% SMPTE bars, then the reverse "castellation" strip beneath them.
const BARS: readonly (readonly [number, number, number])[] = [
  [191, 191, 191],
  [191, 191, 0],
  [0, 191, 191],
  [0, 191, 0],
  [191, 0, 191],
  [191, 0, 0],
  [0, 0, 191],
];
const CASTELLATION: readonly (readonly [number, number, number])[] = [
  [0, 0, 191],
  [19, 19, 19],
  [191, 0, 191],
  [19, 19, 19],
  [0, 191, 191],
  [19, 19, 19],
  [191, 191, 191],
];
const BALL_COLOR = [255, 150, 40] as const;
// Unit vector towards the light: up, left and towards the viewer.
const LIGHT = [-0.45, -0.55, 0.7] as const;

function pack(r: number, g: number, b: number): number {
  return LITTLE_ENDIAN
    ? ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0
    : ((r << 24) | (g << 16) | (b << 8) | 255) >>> 0;
}

const WHITE = pack(255, 255, 255);
const SHADOW = pack(0, 0, 0);

/**
 * Draws frame `frame` of the test pattern as RGBA pixels. The same frame
 * number and options always give the same pixels; consecutive frames differ
 * (the ball, the band and the number move). A 640×480 frame takes about a
 * millisecond.
 *
 * @param frame The frame number, a non-negative integer, drawn on the image.
 * @param options Size, label and an optional buffer to reuse.
 * @returns The image, 4 channels, with `data` being `options.target` when
 * given.
 *
 * @example Drawing a frame and encoding it as JPEG
 * ```ts
 * import { Image } from "imagescript";
 * import { drawTestPattern } from "./pattern.ts";
 *
 * const frame = drawTestPattern(42, { width: 320, height: 240, label: "udpimg demo" });
 * const image = new Image(frame.width, frame.height);
 * image.bitmap.set(frame.data);
 * const jpeg = await image.encodeJPEG(90);
 * console.log(frame.width, frame.height, jpeg.length > 0); // 320 240 true
 * ```
 *
 * @example Reusing one buffer for a stream of frames
 * ```ts
 * import { drawTestPattern } from "./pattern.ts";
 *
 * const target = new Uint8Array(640 * 480 * 4);
 * for (let n = 0; n < 3; n++) {
 *   const frame = drawTestPattern(n, { target });
 *   console.log(frame.data === target); // true
 * }
 * ```
 */
export function drawTestPattern(
  frame: number,
  options: TestPatternOptions = {},
): DecodedImage {
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  if (!Number.isSafeInteger(frame) || frame < 0) {
    throw new RangeError(
      `Cannot draw test pattern: frame must be a non-negative integer, got ${frame}`,
    );
  }
  checkSide("width", width);
  checkSide("height", height);
  const data = options.target ?? new Uint8Array(width * height * 4);
  if (data.length !== width * height * 4) {
    throw new RangeError(
      `Cannot draw test pattern into target: expected ${
        width * height * 4
      } bytes for ${width}x${height}, got ${data.length}`,
    );
  }
  if (data.byteOffset % 4 !== 0) {
    throw new RangeError(
      `Cannot draw test pattern into target: byte offset must be a multiple of 4, got ${data.byteOffset}`,
    );
  }
  const pixels = new Uint32Array(data.buffer, data.byteOffset, width * height);

  const barsEnd = Math.round(height * 0.58);
  const stripEnd = Math.round(height * 0.66);
  fillColumns(pixels, width, 0, barsEnd, BARS);
  fillColumns(pixels, width, barsEnd, stripEnd, CASTELLATION);
  drawBand(pixels, width, stripEnd, height, frame);
  drawBall(data, width, height, frame);
  drawCaptions(pixels, width, height, stripEnd, frame, options.label);
  return { width, height, channels: 4, data };
}

function checkSide(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1 || value > MAX_SIDE) {
    throw new RangeError(
      `Cannot draw test pattern: ${name} must be an integer from 1 to ${MAX_SIDE}, got ${value}`,
    );
  }
}

/** Fills rows `[top, bottom)` with vertical bars of equal width. */
function fillColumns(
  pixels: Uint32Array,
  width: number,
  top: number,
  bottom: number,
  colors: readonly (readonly [number, number, number])[],
): void {
  if (top >= bottom) return;
  const row = top * width;
  for (let i = 0; i < colors.length; i++) {
    const [r, g, b] = colors[i] as readonly [number, number, number];
    const x0 = Math.floor(i * width / colors.length);
    const x1 = Math.floor((i + 1) * width / colors.length);
    pixels.fill(pack(r, g, b), row + x0, row + x1);
  }
  for (let y = top + 1; y < bottom; y++) {
    pixels.copyWithin(y * width, row, row + width);
  }
}

/** A dim rainbow that scrolls one full turn every 150 frames. */
function drawBand(
  pixels: Uint32Array,
  width: number,
  top: number,
  bottom: number,
  frame: number,
): void {
  const hues = new Uint8Array(width * 3);
  const shift = (frame % 150) / 150;
  for (let x = 0; x < width; x++) {
    hueToRgb((x / width + shift) % 1, hues, x * 3);
  }
  const rows = Math.max(bottom - top, 1);
  for (let y = top; y < bottom; y++) {
    const light = 0.55 - 0.3 * (y - top) / rows;
    let i = y * width;
    for (let x = 0; x < width * 3; x += 3, i++) {
      pixels[i] = pack(
        (hues[x] as number) * light,
        (hues[x + 1] as number) * light,
        (hues[x + 2] as number) * light,
      );
    }
  }
}

function hueToRgb(hue: number, out: Uint8Array, at: number): void {
  const h = hue * 6;
  const f = h - Math.floor(h);
  const up = Math.round(255 * f);
  const down = 255 - up;
  switch (Math.floor(h) % 6) {
    case 0:
      out[at] = 255, out[at + 1] = up, out[at + 2] = 0;
      break;
    case 1:
      out[at] = down, out[at + 1] = 255, out[at + 2] = 0;
      break;
    case 2:
      out[at] = 0, out[at + 1] = 255, out[at + 2] = up;
      break;
    case 3:
      out[at] = 0, out[at + 1] = down, out[at + 2] = 255;
      break;
    case 4:
      out[at] = up, out[at + 1] = 0, out[at + 2] = 255;
      break;
    default:
      out[at] = 255, out[at + 1] = 0, out[at + 2] = down;
  }
}

/** Position along `span` of something bouncing between 0 and `span`. */
function bounce(distance: number, span: number): number {
  if (span <= 0) return 0;
  const t = distance % (2 * span);
  return t <= span ? t : 2 * span - t;
}

/** A lit sphere with an antialiased edge, blended over the bytes. */
function drawBall(
  data: Uint8Array,
  width: number,
  height: number,
  frame: number,
): void {
  const r = Math.max(2, Math.round(Math.min(width, height) / 10));
  const cx = r + bounce(frame * Math.max(1, width / 100), width - 2 * r);
  const cy = r + bounce(frame * Math.max(1, height / 110), height - 2 * r);
  const x0 = Math.max(0, Math.floor(cx - r - 1));
  const x1 = Math.min(width, Math.ceil(cx + r + 1));
  const y0 = Math.max(0, Math.floor(cy - r - 1));
  const y1 = Math.min(height, Math.ceil(cy + r + 1));
  for (let y = y0; y < y1; y++) {
    const ny = (y + 0.5 - cy) / r;
    for (let x = x0; x < x1; x++) {
      const nx = (x + 0.5 - cx) / r;
      const d2 = nx * nx + ny * ny;
      const cover = Math.min(1, Math.max(0, (1 - Math.sqrt(d2)) * r + 0.5));
      if (cover === 0) continue;
      const nz = Math.sqrt(Math.max(0, 1 - d2));
      const diffuse = Math.max(
        0,
        nx * LIGHT[0] + ny * LIGHT[1] + nz * LIGHT[2],
      );
      const shine = 255 * 0.7 * diffuse ** 24;
      const shade = 0.2 + 0.8 * diffuse;
      const i = (y * width + x) * 4;
      for (let c = 0; c < 3; c++) {
        const ball = Math.min(255, (BALL_COLOR[c] as number) * shade + shine);
        const under = data[i + c] as number;
        data[i + c] = under + (ball - under) * cover;
      }
    }
  }
}

/** The label and size on one line, the frame number large beneath. */
function drawCaptions(
  pixels: Uint32Array,
  width: number,
  height: number,
  top: number,
  frame: number,
  label: string | undefined,
): void {
  const canvas = { pixels, width, height };
  const margin = Math.max(2, Math.round(height / 48));
  const small = Math.max(1, Math.round(height / 160));
  const number = String(frame).padStart(6, "0");
  const big = Math.max(
    1,
    Math.min(
      Math.round(height / 45),
      Math.floor((width - 2 * margin) / textWidth(number, 1)),
    ),
  );
  const size = `${width}x${height}`;
  let y = top + margin;
  let used = margin;
  if (label !== undefined && label !== "") {
    shadowed(canvas, label, margin, y, small);
    used += textWidth(label, small) + margin;
  }
  const sizeX = width - margin - textWidth(size, small);
  if (sizeX >= used) shadowed(canvas, size, sizeX, y, small);
  y += GLYPH_HEIGHT * small + margin;
  shadowed(canvas, number, margin, y, big);
}

function shadowed(
  canvas: { pixels: Uint32Array; width: number; height: number },
  text: string,
  x: number,
  y: number,
  scale: number,
): void {
  const offset = Math.max(1, Math.floor(scale / 3));
  drawText(canvas, text, {
    x: x + offset,
    y: y + offset,
    scale,
    color: SHADOW,
  });
  drawText(canvas, text, { x, y, scale, color: WHITE });
}
