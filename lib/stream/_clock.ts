/**
 * The wall clock's lead over `performance.now()`, kept current. The two
 * drift apart (on some machines by milliseconds a second, as the wall clock
 * is slewed or stepped), so `performance.timeOrigin` alone goes stale; and
 * `Date.now()` has whole milliseconds only, so its lead is sampled
 * repeatedly and the largest of the last samples kept (each sample falls
 * short by less than a millisecond).
 *
 * @module
 */

const WINDOW_MS = 200;
let best = -Infinity;
let bestAt = -Infinity;
let previous = -Infinity;

/**
 * `wall ms − performance.now()`, to within a millisecond.
 *
 * @returns The lead in ms.
 */
export function wallClockLead(): number {
  const now = performance.now();
  const sample = Date.now() - now;
  if (now - bestAt >= WINDOW_MS) {
    previous = best;
    best = sample;
    bestAt = now;
  } else if (sample > best) best = sample;
  return Math.max(
    best,
    previous === -Infinity ? best : Math.min(previous, best + 1),
  );
}
