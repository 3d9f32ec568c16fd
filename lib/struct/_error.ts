/**
 * The error type of the struct module, in its own file so that the format
 * compiler can throw it without importing the public module.
 *
 * @module
 */

/**
 * Thrown wherever CPython's `struct` module raises `struct.error` or
 * `OverflowError`. The message is CPython's, so that it can be looked up in
 * Python's documentation and compared with a Python peer.
 *
 * @example Catching a value out of range
 * ```ts
 * import { pack, StructError } from "./struct.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => pack("<h", 40000), (error) => {
 *   assert.ok(error instanceof StructError);
 *   assert.equal(error.message, "'h' format requires -32768 <= number <= 32767");
 *   return true;
 * });
 * ```
 */
export class StructError extends Error {
  /**
   * Creates a struct error.
   *
   * @param message What was wrong, in CPython's words.
   * @param options The error's cause, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StructError";
  }
}
