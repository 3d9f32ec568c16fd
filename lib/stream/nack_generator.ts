/**
 * The NACK generator: which missing chunks to ask for, and when. A chunk is
 * asked for once it is surely missing rather than late: the receiver has
 * seen a chunk `reorderSkip` places further on in the same frame, or a
 * newer frame, or nothing more of the frame for a retry interval (its tail
 * was lost). A frame that announced parity waits for it first. Chunks still
 * missing are asked for again every retry interval (pion/interceptor's
 * NACK generator, over frames and chunks instead of sequence numbers).
 *
 * @module
 */

import type { PendingFrame } from "./reassembler.ts";
import { frameDiff } from "./reassembler.ts";
import { type NackEntry, WHOLE_FRAME } from "./wire.ts";

/** When and how eagerly to ask. */
export interface NackTiming {
  /** The interval between two requests for one frame, in ms. */
  readonly retryMs: number;
  /** How long a frame revealed by a newer one may still be on its way, ms. */
  readonly reorderMs: number;
  /** Chunks further on that make a missing one surely missing. @default {3} */
  readonly reorderSkip?: number;
  /** Silence after which a frame's missing tail is asked for, ms. @default {10} */
  readonly tailMs?: number;
}

/** The most entries one round asks for (about seven datagrams). */
const MAX_ENTRIES = 1024;

/**
 * Collects the NACK entries due now, marking the chunks asked for, and
 * tells when the next round is due.
 *
 * @param frames The stream's open frames, oldest first.
 * @param newestId The newest frame id seen.
 * @param now The time, in ms.
 * @param timing Retry interval and reordering allowance.
 * @param out Entries are appended here.
 * @returns When the next request would be due, in ms (`Infinity`: none).
 *
 * @example A hole in a frame of eight chunks
 * ```ts
 * import { collectNacks } from "./nack_generator.ts";
 * const have = new Uint8Array([1, 1, 0, 1, 1, 1, 0, 1]);
 * const frame = {
 *   id: 4, seen: true, count: 8, have, received: 6, highestIndex: 7,
 *   parityFollows: false, paritySeen: false, deadline: 120, complete: false,
 *   openedAt: 0, lastArrival: 0, lastNackAt: -Infinity,
 * };
 * const out: { frameId: number; first: number; bitmap: number }[] = [];
 * collectNacks([frame], 4, 1, { retryMs: 5, reorderMs: 1 }, out);
 * console.log(out); // [ { frameId: 4, first: 2, bitmap: 8 } ]
 * ```
 */
export function collectNacks(
  frames: Iterable<PendingFrame>,
  newestId: number,
  now: number,
  timing: NackTiming,
  out: NackEntry[],
): number {
  const { retryMs, reorderMs } = timing;
  // A frame's tail is taken as lost only after a longer silence: a paced
  // sender may pause that long between two bursts of one frame.
  const tailMs = Math.max(retryMs, timing.tailMs ?? 10);
  const skip = timing.reorderSkip ?? 3;
  let nextDue = Infinity;
  // A round holds at most MAX_ENTRIES; what did not fit goes a retry later.
  let capped = false;
  for (const frame of frames) {
    if (frame.complete) continue;
    if (out.length >= MAX_ENTRIES) {
      capped = true;
      break;
    }
    const older = frameDiff(newestId, frame.id) > 0;
    if (!frame.seen) {
      const due = frame.lastNackAt === -Infinity
        ? frame.openedAt + reorderMs
        : frame.lastNackAt + retryMs;
      if (now >= due) {
        out.push({ frameId: frame.id, first: WHOLE_FRAME, bitmap: 0 });
        frame.lastNackAt = now;
        nextDue = Math.min(nextDue, now + retryMs);
      } else nextDue = Math.min(nextDue, due);
      continue;
    }
    // Nothing missing below the highest chunk, and nothing to say yet of
    // the tail: the common, lossless case.
    const quiet = now - frame.lastArrival >= tailMs;
    if (!older && !quiet && frame.received === frame.highestIndex + 1) {
      nextDue = Math.min(nextDue, frame.lastArrival + tailMs);
      continue;
    }
    let limit: number;
    if (older || quiet || frame.paritySeen) limit = frame.count - 1;
    else if (frame.parityFollows) limit = -1;
    else limit = frame.highestIndex - skip;
    const retry = now >= frame.lastNackAt + retryMs;
    const have = frame.have;
    let entry: NackEntry | undefined;
    let asked = false;
    let waiting = false;
    for (let i = 0; i <= limit; i++) {
      const state = have[i];
      if (state === 1) continue;
      if (state === 2 && !retry) {
        waiting = true;
        continue;
      }
      if (entry !== undefined && i - entry.first <= 16) {
        entry.bitmap |= 1 << (i - entry.first - 1);
      } else if (out.length >= MAX_ENTRIES) {
        capped = true;
        break;
      } else {
        entry = { frameId: frame.id, first: i, bitmap: 0 };
        out.push(entry);
      }
      // Marked only once it is in an entry: a chunk left out by the cap is
      // asked for in the next round, not taken as asked.
      have[i] = 2;
      asked = true;
    }
    if (asked) frame.lastNackAt = now;
    if (asked || waiting) {
      nextDue = Math.min(nextDue, frame.lastNackAt + retryMs);
    }
    if (limit < frame.count - 1) {
      nextDue = Math.min(nextDue, frame.lastArrival + tailMs);
    }
  }
  return capped ? Math.min(nextDue, now + retryMs) : nextDue;
}
