/**
 * Listening on a default port that may be taken: `server.ts --demo` starts
 * on free ports instead where 9999 or 8080 is in use, while a port the user
 * gave stays an error.
 *
 * @module
 */

import { errorLine } from "./cli.ts";

/**
 * Runs `listen(false)`; when `fallBack` is set and that fails because the
 * port is in use, runs `listen(true)`, which should pick free ports.
 *
 * @typeParam T What `listen` makes, such as a server.
 * @param fallBack Whether a port in use may be swapped for a free one.
 * @param listen Listens, on free ports when its argument is `true`.
 * @returns What `listen` made.
 * @throws {Error} What `listen` threw, when not falling back.
 *
 * @example Usage
 * ```ts
 * import { listenOrFallBack } from "./fall_back.ts";
 * const port = await listenOrFallBack(true, (free) => {
 *   if (!free) return Promise.reject(new Error("Address already in use"));
 *   return Promise.resolve(0);
 * });
 * console.log(port); // 0
 * ```
 */
export async function listenOrFallBack<T>(
  fallBack: boolean,
  listen: (free: boolean) => Promise<T>,
): Promise<T> {
  try {
    return await listen(false);
  } catch (error) {
    if (!fallBack || !/in use/i.test(errorLine(error))) throw error;
    return await listen(true);
  }
}
