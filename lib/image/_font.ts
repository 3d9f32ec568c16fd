/**
 * A 5×7 bitmap font (digits, A–Z, space and a few symbols) drawn into 32-bit
 * pixels, scaled up by whole pixels. Lower case draws as upper case, except
 * `x`; any other character draws as `?`.
 *
 * @module
 */

/** Glyph width in font pixels. */
export const GLYPH_WIDTH = 5;
/** Glyph height in font pixels. */
export const GLYPH_HEIGHT = 7;
/** Space between glyphs in font pixels. */
export const GLYPH_SPACING = 1;

// Seven rows per glyph, top first, five bits per row, most significant bit on
// the left.
const GLYPH_ROWS: Readonly<Record<string, readonly number[]>> = {
  "0": [0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110],
  "1": [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110],
  "2": [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111],
  "3": [0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110],
  "4": [0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010],
  "5": [0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110],
  "6": [0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110],
  "7": [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000],
  "8": [0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110],
  "9": [0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100],
  A: [0b01110, 0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001],
  B: [0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110],
  C: [0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110],
  D: [0b11100, 0b10010, 0b10001, 0b10001, 0b10001, 0b10010, 0b11100],
  E: [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111],
  F: [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000],
  G: [0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111],
  H: [0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001],
  I: [0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110],
  J: [0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100],
  K: [0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001],
  L: [0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111],
  M: [0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001],
  N: [0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001],
  O: [0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110],
  P: [0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000],
  Q: [0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101],
  R: [0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001],
  S: [0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110],
  T: [0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100],
  U: [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110],
  V: [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100],
  W: [0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010],
  X: [0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001],
  Y: [0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100],
  Z: [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111],
  " ": [0, 0, 0, 0, 0, 0, 0],
  ".": [0, 0, 0, 0, 0, 0b01100, 0b01100],
  ",": [0, 0, 0, 0, 0b01100, 0b00100, 0b01000],
  ":": [0, 0b01100, 0b01100, 0, 0b01100, 0b01100, 0],
  "-": [0, 0, 0, 0b11111, 0, 0, 0],
  "_": [0, 0, 0, 0, 0, 0, 0b11111],
  "+": [0, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0],
  "=": [0, 0, 0b11111, 0, 0b11111, 0, 0],
  "/": [0, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0],
  "(": [0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010],
  ")": [0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000],
  "#": [0b01010, 0b01010, 0b11111, 0b01010, 0b11111, 0b01010, 0b01010],
  "%": [0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011],
  "!": [0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0, 0b00100],
  "?": [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0, 0b00100],
  "'": [0b01100, 0b00100, 0b01000, 0, 0, 0, 0],
  "*": [0, 0b00100, 0b10101, 0b01110, 0b10101, 0b00100, 0],
  // Lower case x alone, for sizes such as 640x480.
  x: [0, 0, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001],
};

const FALLBACK = GLYPH_ROWS["?"] as readonly number[];

/**
 * The rows of the glyph for `char`.
 *
 * @param char One character.
 * @returns Seven rows of five bits, top first.
 *
 * @example Usage
 * ```ts
 * import { glyph } from "./_font.ts";
 * console.log(glyph("1")[0]?.toString(2)); // "100"
 * ```
 */
export function glyph(char: string): readonly number[] {
  return GLYPH_ROWS[char] ?? GLYPH_ROWS[char.toUpperCase()] ?? FALLBACK;
}

/**
 * The width in pixels of `text` drawn at `scale`, without trailing spacing.
 *
 * @param text The text.
 * @param scale Pixels per font pixel.
 * @returns The width in pixels.
 *
 * @example Usage
 * ```ts
 * import { textWidth } from "./_font.ts";
 * console.log(textWidth("42", 2)); // 22
 * ```
 */
export function textWidth(text: string, scale: number): number {
  const n = [...text].length;
  return n === 0 ? 0 : (n * (GLYPH_WIDTH + GLYPH_SPACING) - GLYPH_SPACING) *
    scale;
}

/** 32-bit pixels to draw into, row-major. */
export interface Canvas {
  /** One element per pixel. */
  readonly pixels: Uint32Array;
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
}

/** Where and how {@linkcode drawText} draws. */
export interface DrawTextOptions {
  /** Left edge in pixels; may be off the canvas. */
  x: number;
  /** Top edge in pixels; may be off the canvas. */
  y: number;
  /** Pixels per font pixel, a positive integer. */
  scale: number;
  /** The pixel value to write. */
  color: number;
}

/**
 * Draws `text` onto `canvas`, clipped to its edges.
 *
 * @param canvas The pixels to draw into.
 * @param text The text; one line.
 * @param options Position, scale and colour.
 *
 * @example Drawing a digit
 * ```ts
 * import { drawText } from "./_font.ts";
 * const canvas = { pixels: new Uint32Array(8 * 8), width: 8, height: 8 };
 * drawText(canvas, "7", { x: 1, y: 0, scale: 1, color: 0xffffffff });
 * console.log(canvas.pixels[1]); // 4294967295
 * ```
 */
export function drawText(
  canvas: Canvas,
  text: string,
  options: DrawTextOptions,
): void {
  const { pixels, width, height } = canvas;
  const { scale, color } = options;
  let left = Math.round(options.x);
  const top = Math.round(options.y);
  for (const char of text) {
    const rows = glyph(char);
    for (let row = 0; row < GLYPH_HEIGHT; row++) {
      const bits = rows[row] ?? 0;
      if (bits === 0) continue;
      const y0 = Math.max(top + row * scale, 0);
      const y1 = Math.min(top + (row + 1) * scale, height);
      for (let col = 0; col < GLYPH_WIDTH; col++) {
        if ((bits & (1 << (GLYPH_WIDTH - 1 - col))) === 0) continue;
        const x0 = Math.max(left + col * scale, 0);
        const x1 = Math.min(left + (col + 1) * scale, width);
        if (x0 >= x1) continue;
        for (let y = y0; y < y1; y++) {
          pixels.fill(color, y * width + x0, y * width + x1);
        }
      }
    }
    left += (GLYPH_WIDTH + GLYPH_SPACING) * scale;
  }
}
