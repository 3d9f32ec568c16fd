import assert from "node:assert/strict";
import { sendSummary } from "../lib/cli/send_summary.ts";

Deno.test("sendSummary gives frames, seconds, fps and bytes, and dropped only when some were", () => {
  assert.equal(
    sendSummary({ frames: 3, seconds: 0.5, bytes: 3000, dropped: 0 }),
    "frames=3 seconds=0.50 fps=6.0 bytes=3000",
  );
  assert.equal(
    sendSummary({ frames: 0, seconds: 0, bytes: 0, dropped: 2 }),
    "frames=0 seconds=0.00 fps=0.0 bytes=0 dropped=2",
  );
});

Deno.test("sendSummary adds the stream sender's figures, '?' for an unknown RTT, and the sealing counters when sealed", () => {
  const stats = {
    datagramsSent: 40,
    retransmitted: 2,
    fecSent: 5,
    rttMs: undefined,
    unauthenticated: 1,
    replayed: 0,
  };
  const totals = { frames: 10, seconds: 1, bytes: 50_000, dropped: 1 };
  assert.equal(
    sendSummary(totals, { stats, sealed: false }),
    "frames=10 seconds=1.00 fps=10.0 bytes=50000 dropped=1 sent=40 retransmitted=2 fec=5 rtt_ms=?",
  );
  assert.equal(
    sendSummary(totals, { stats: { ...stats, rttMs: 0.125 }, sealed: true }),
    "frames=10 seconds=1.00 fps=10.0 bytes=50000 dropped=1 sent=40 retransmitted=2 fec=5 rtt_ms=0.13 unauthenticated=1 replayed=0",
  );
});
