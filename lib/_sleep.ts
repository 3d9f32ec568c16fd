/**
 * Waits `ms` milliseconds, or less if `signal` aborts first. It never
 * rejects: callers check `signal.aborted` afterwards.
 *
 * @param ms How long to wait.
 * @param signal Ends the wait early.
 * @returns When the time is up or the signal aborted.
 *
 * @example Waiting 10 ms
 * ```ts
 * import { sleep } from "./_sleep.ts";
 * await sleep(10);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
