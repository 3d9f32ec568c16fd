/**
 * A shared pool for small byte results, as Node's `Buffer` has: a new
 * ArrayBuffer costs about 300 ns in Deno, ten times a whole pack, while a
 * view into an existing one is cheap. Each result owns its bytes, but
 * `result.buffer` is the shared pool.
 *
 * @module
 */

const POOL_BYTES = 8192;

/** Results up to this size come from the pool. */
export const POOL_MAX_RESULT = 512;

class Pool {
  buffer = new ArrayBuffer(POOL_BYTES);
  view = new DataView(this.buffer);
  bytes = new Uint8Array(this.buffer);
  used = 0;

  /**
   * Reserves `size` zeroed bytes and returns where they start in `bytes`.
   * Reserved bytes are never handed out again, even when the caller fails
   * before using them, so every reservation starts zeroed.
   */
  reserve(size: number): number {
    // A transferred pool has a byteLength of 0.
    if (this.used + size > POOL_BYTES || this.buffer.byteLength === 0) {
      this.buffer = new ArrayBuffer(POOL_BYTES);
      this.view = new DataView(this.buffer);
      this.bytes = new Uint8Array(this.buffer);
      this.used = 0;
    }
    const start = this.used;
    // 8-byte steps keep results aligned for any typed array view.
    this.used += (size + 7) & ~7;
    return start;
  }

  /** A copy of `length` bytes of `source` from `start`, from the pool when small. */
  copy(source: Uint8Array, start: number, length: number): Uint8Array {
    if (length > POOL_MAX_RESULT) return source.slice(start, start + length);
    const at = this.reserve(length);
    const bytes = this.bytes;
    for (let i = 0; i < length; i++) bytes[at + i] = source[start + i]!;
    return new Uint8Array(this.buffer, at, length);
  }
}

/** The one pool of the struct module. */
export const pool: Pool = new Pool();
