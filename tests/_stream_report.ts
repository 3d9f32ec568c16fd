/**
 * A stream receiver's report for tests: every field 0 but those given, so
 * that a test names only the fields it is about.
 *
 * @module
 */

import type { Report } from "../lib/stream/wire.ts";

/**
 * The report with `fields` set and every other field 0.
 *
 * @param fields The fields that matter to the test.
 * @returns A whole report, for `encodeReport`.
 */
export function reportOf(fields: Partial<Report>): Report {
  return {
    highestPacket: 0,
    delaySince: 0,
    receiverClock: 0,
    packetsReceived: 0,
    bytesReceived: 0,
    nextFrameId: 0,
    framesDelivered: 0,
    framesLost: 0,
    framesLate: 0,
    framesCorrupt: 0,
    recoveredNack: 0,
    recoveredFec: 0,
    chunksLate: 0,
    jitter: 0,
    queueingDelay: 0,
    framesSkipped: 0,
    framesWaiting: 0,
    ...fields,
  };
}
