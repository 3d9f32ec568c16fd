import assert from "node:assert/strict";
import { serverSummary, type SummaryStats } from "../lib/cli/server_summary.ts";

const QUIET: SummaryStats = {
  frames: 4,
  decoded: 3,
  errors: 1,
  dropped: 0,
  bytes: 4096,
  seconds: 0.5,
  lost: 0,
  late: 0,
  skipped: 0,
  strays: 0,
  framesBy: { classic: 4, stream: 0, rtp: 0 },
  counters: {},
  latency: undefined,
};

Deno.test("serverSummary keeps the tutorial-like line when nothing else happened", () => {
  assert.equal(
    serverSummary(QUIET, false),
    "frames=4 decoded=3 errors=1 dropped=0 bytes=4096 seconds=0.50 fps=8.0",
  );
  assert.equal(
    serverSummary({ ...QUIET, seconds: 0, frames: 0 }, false),
    "frames=0 decoded=3 errors=1 dropped=0 bytes=4096 seconds=0.00 fps=0.0",
  );
});

Deno.test("serverSummary adds lost, refused, skipped and strays only when there were any", () => {
  assert.equal(
    serverSummary({
      ...QUIET,
      lost: 2,
      skipped: 3,
      strays: 4,
      counters: { refused: 5 },
    }, false),
    "frames=4 decoded=3 errors=1 dropped=0 bytes=4096 seconds=0.50 fps=8.0 lost=2 refused=5 skipped=3 strays=4",
  );
});

Deno.test("serverSummary after stream senders always gives loss, repair and latency, and with a key the sealing counters", () => {
  const stream: SummaryStats = {
    ...QUIET,
    framesBy: { classic: 0, stream: 4, rtp: 0 },
    counters: { recoveredNack: 6, recoveredFec: 7, replayed: 1 },
    latency: { samples: 4, p50Ms: 1.234, p99Ms: 9.876, estimated: true },
  };
  assert.equal(
    serverSummary(stream, true),
    "frames=4 decoded=3 errors=1 dropped=0 bytes=4096 seconds=0.50 fps=8.0 lost=0 late=0 recovered_nack=6 recovered_fec=7 unauthenticated=0 replayed=1 latency_p50_ms=1.23 latency_p99_ms=9.88 latency=estimated",
  );
  // Reports sent count as a stream sender seen, even before a whole frame.
  assert.equal(
    serverSummary({ ...QUIET, counters: { reportsSent: 1 } }, false),
    "frames=4 decoded=3 errors=1 dropped=0 bytes=4096 seconds=0.50 fps=8.0 lost=0 late=0 recovered_nack=0 recovered_fec=0",
  );
});
