import assert from "node:assert/strict";
import { FrameStatusLine, StreamStatusLine } from "../lib/cli/status_line.ts";

function recorder(): {
  shown: string[];
  clock: { t: number };
  now: () => number;
} {
  const clock = { t: 0 };
  return { shown: [], clock, now: () => clock.t };
}

Deno.test("FrameStatusLine redraws at most once a second, with the rates since the last redraw", () => {
  const { shown, clock, now } = recorder();
  const status = new FrameStatusLine({ write: (s) => shown.push(s), now });
  clock.t = 500;
  status.update(10, 10_240, 0);
  assert.deepEqual(shown, []);
  clock.t = 2000;
  status.update(40, 40 * 1024, 2);
  clock.t = 4000;
  status.update(60, 40 * 1024 + 4096, 3);
  status.end();
  assert.deepEqual(shown, [
    "\r\x1b[K20.0 fps  20 KB/s  frames 40  dropped 2",
    "\r\x1b[K10.0 fps  2 KB/s  frames 60  dropped 3",
    "\n",
  ]);
});

Deno.test("StreamStatusLine shows fps, Mbit/s, loss, RTT, retransmissions and stale frames, '?' before an RTT", () => {
  const { shown, clock, now } = recorder();
  const status = new StreamStatusLine({ write: (s) => shown.push(s), now });
  const stats = {
    bytesSent: 250_000,
    lossFraction: 0,
    rttMs: undefined as number | undefined,
    retransmitted: 0,
    framesStale: 0,
  };
  clock.t = 1000;
  status.update(stats, 10);
  clock.t = 3000;
  status.update({
    ...stats,
    bytesSent: 2_750_000,
    lossFraction: 0.125,
    rttMs: 1.25,
    retransmitted: 7,
    framesStale: 1,
  }, 70);
  status.end();
  assert.deepEqual(shown, [
    "\r\x1b[K10.0 fps  2.0 Mbit/s  loss 0.0%  rtt ? ms  retransmitted 0  stale 0",
    "\r\x1b[K30.0 fps  10.0 Mbit/s  loss 12.5%  rtt 1.3 ms  retransmitted 7  stale 1",
    "\n",
  ]);
});
