/**
 * The fuzz harness's seeded random numbers: sfc32, seeded through
 * splitmix32, so that a run is replayed from one printed 32-bit seed and
 * each case from that seed, its target's name and its index alone.
 *
 * @module
 */

/** A small, fast, seeded generator (sfc32). Never `Math.random`. */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** Seeds the four words from one 32-bit seed through splitmix32. */
  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const a = this.#a, b = this.#b, c = this.#c, d = this.#d;
    const t = (((a + b) >>> 0) + d) >>> 0;
    this.#d = (d + 1) >>> 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) >>> 0;
    this.#c = (((c << 21) | (c >>> 11)) + t) >>> 0;
    return t;
  }

  /** An integer from 0 to `n - 1`; 0 when `n` is at most 1. */
  below(n: number): number {
    if (n <= 1) return 0;
    if (n <= 0x1_0000_0000) return Math.floor((this.u32() / 0x1_0000_0000) * n);
    return Math.floor(
      ((this.u32() * 0x1_0000_0000 + this.u32()) / 2 ** 64) * n,
    );
  }

  /** An integer from `min` to `max`, both included. */
  int(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.u32() < p * 0x1_0000_0000;
  }

  /** One of `items`, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Cannot pick from nothing");
    return items[this.below(items.length)]!;
  }

  /**
   * A length from 0 to `max`, small ones far more likely: most bugs live
   * near the edges, and short inputs are cheap.
   */
  length(max: number): number {
    const r = this.below(8);
    if (r < 4) return Math.min(max, this.below(17));
    if (r < 7) return Math.min(max, this.below(1 + Math.min(max, 1500)));
    return this.below(max + 1);
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    this.fill(out);
    return out;
  }

  /** Fills `target` with random bytes. */
  fill(target: Uint8Array, from = 0, to = target.length): void {
    let i = from;
    for (; i + 4 <= to; i += 4) {
      const word = this.u32();
      target[i] = word;
      target[i + 1] = word >>> 8;
      target[i + 2] = word >>> 16;
      target[i + 3] = word >>> 24;
    }
    for (; i < to; i++) target[i] = this.u32();
  }

  /** Shuffles `items` in place (Fisher-Yates). */
  shuffle<T>(items: T[], from = 0, to = items.length): void {
    for (let i = to - 1; i > from; i--) {
      const j = from + this.below(i - from + 1);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
  }
}

/** FNV-1a over a string's UTF-16 code units: names to 32-bit numbers. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}

/**
 * The seed of case `index` of `target` in a run seeded with `seed`: each
 * case can be replayed alone, without those before it.
 */
export function caseSeed(seed: number, target: string, index: number): number {
  let h = mix32((seed >>> 0) ^ hashString(target));
  h = mix32((h + Math.imul(index >>> 0, 0x9e3779b1)) >>> 0);
  return mix32((h ^ 0x5bd1e995) >>> 0);
}

/** A 32-bit finalizer (murmur3's): every input bit moves every output bit. */
function mix32(value: number): number {
  let h = value;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The run's seed: `FUZZ_SEED` when set (decimal or 0x hex), else one from
 * the system's generator, to be printed so that the run can be replayed.
 */
export function runSeed(fallback?: number): number {
  let text: string | undefined;
  try {
    text = Deno.env.get("FUZZ_SEED");
  } catch {
    text = undefined;
  }
  if (text !== undefined && text.trim() !== "") {
    const value = Number(text.trim());
    if (!Number.isSafeInteger(value) || value < 0 || value > 0xffffffff) {
      throw new Error(
        `FUZZ_SEED must be an integer from 0 to 4294967295, got ${
          JSON.stringify(text)
        }`,
      );
    }
    return value;
  }
  return fallback ?? crypto.getRandomValues(new Uint32Array(1))[0]!;
}
