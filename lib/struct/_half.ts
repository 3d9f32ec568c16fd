/**
 * IEEE 754 half precision conversion with CPython's `PyFloat_Pack2` and
 * `PyFloat_Unpack2` rounding and overflow rules, for the struct `e` format.
 *
 * @module
 */

const bits64 = new DataView(new ArrayBuffer(8));

/**
 * Converts a double to half precision bits, rounding half to even.
 *
 * @param x The value to convert.
 * @returns The 16-bit pattern, or -1 when `x` is finite but too large for a
 * half (CPython raises OverflowError then).
 */
export function halfBits(x: number): number {
  if (x === 0) return Object.is(x, -0) ? 0x8000 : 0;
  if (x === Infinity) return 0x7c00;
  if (x === -Infinity) return 0xfc00;
  // CPython emits the quiet NaN with only the top fraction bit set.
  if (x !== x) return 0x7e00;
  const sign = x < 0 ? 0x8000 : 0;
  if (sign) x = -x;
  bits64.setFloat64(0, x);
  // Doubles below 2**-1022 underflow to zero below, so the biased exponent of
  // a normal double is all we need from frexp.
  let e = ((bits64.getUint16(0) >>> 4) & 0x7ff) - 1023;
  if (e >= 16) return -1;
  let f: number;
  if (e < -25) {
    f = 0;
    e = 0;
  } else {
    f = x * 2 ** -e;
    if (e < -14) {
      f *= 2 ** (14 + e);
      e = 0;
    } else {
      e += 15;
      f -= 1;
    }
  }
  f *= 1024;
  let mantissa = Math.trunc(f);
  const rest = f - mantissa;
  if (rest > 0.5 || (rest === 0.5 && (mantissa & 1) === 1)) {
    mantissa++;
    if (mantissa === 1024) {
      mantissa = 0;
      e++;
      if (e === 31) return -1;
    }
  }
  return sign | (e << 10) | mantissa;
}

/**
 * Converts half precision bits to a double.
 *
 * @param bits The 16-bit pattern.
 * @returns The value it encodes.
 */
export function halfValue(bits: number): number {
  const negative = (bits & 0x8000) !== 0;
  const e = (bits >>> 10) & 0x1f;
  const f = bits & 0x3ff;
  if (e === 0x1f) {
    if (f !== 0) return NaN;
    return negative ? -Infinity : Infinity;
  }
  const x = e === 0 ? f * 2 ** -24 : (1 + f / 1024) * 2 ** (e - 15);
  return negative ? -x : x;
}
