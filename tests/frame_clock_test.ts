import assert from "node:assert/strict";
import { FrameClock } from "../lib/frame_clock.ts";

Deno.test("FrameClock goes on at its rate after a stall, with no burst to catch up", () => {
  const clock = new FrameClock(100);
  assert.equal(clock.take(0), 0);
  assert.equal(clock.take(0), 10);
  // Five intervals late: the next frame at once, the one after a whole
  // interval later, not in a burst.
  assert.equal(clock.take(70), 0);
  assert.equal(clock.take(70), 10);
  assert.equal(clock.take(75), 15);
});

Deno.test("FrameClock.due says yes once per interval", () => {
  const clock = new FrameClock(1);
  assert.equal(clock.due(), true);
  assert.equal(clock.due(), false);
});

Deno.test("FrameClock refuses a rate that is not a positive number", () => {
  for (const fps of [0, -1, NaN, Infinity]) {
    assert.throws(() => new FrameClock(fps), RangeError);
  }
});
