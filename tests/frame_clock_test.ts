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

Deno.test("FrameClock keeps its schedule through a frame less than an interval late, so the rate holds", () => {
  const clock = new FrameClock(100);
  let now = 0;
  let start = 0;
  // Every third frame takes 12 ms, longer than the 10 ms interval: the
  // tenth frame still starts at 90 ms.
  for (let frame = 0; frame < 10; frame++) {
    start = now += clock.take(now);
    if (frame % 3 === 0) now += 12;
  }
  assert.equal(start, 90);
  // Half an interval late: the next one sooner, not a whole interval on.
  const late = new FrameClock(100);
  assert.equal(late.take(0), 0);
  assert.equal(late.take(15), 0);
  assert.equal(late.take(15), 5);
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
