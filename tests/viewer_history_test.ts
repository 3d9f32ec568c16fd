import assert from "node:assert/strict";
import fc from "fast-check";
import { type HistoryInput, ViewerHistory } from "../lib/viewer/history.ts";

const A = "192.0.2.10:40000";
const B = "192.0.2.20:40000";
const NONE = new Map<string, HistoryInput>();

function total(frames: number, bytes = frames * 1000, dropped = 0) {
  return { frames, bytes, dropped };
}

Deno.test("ViewerHistory turns running totals into rates per second", () => {
  const history = new ViewerHistory();
  history.record(0, total(0), NONE);
  history.record(
    1000,
    total(30, 30_000, 1),
    new Map([[A, { frames: 30, bytes: 30_000 }]]),
  );
  // A late sample: the change is spread over the two seconds it covers.
  history.record(
    3000,
    total(90, 90_000, 5),
    new Map([[A, { frames: 90, bytes: 90_000 }]]),
  );
  const doc = history.toJSON(3500);
  assert.deepEqual(doc.total.fps, [30, 30]);
  assert.deepEqual(doc.total.kbps, [30, 30]);
  assert.deepEqual(doc.total.dropped, [1, 2]);
  assert.deepEqual(doc.senders[A]?.fps, [30, 30]);
  assert.equal(doc.lastSampleAgoMs, 500);
  assert.equal(doc.intervalMs, 1000);
  assert.equal(doc.capacity, 60);
});

Deno.test("ViewerHistory keeps at most capacity samples per series", () => {
  const history = new ViewerHistory({ capacity: 5 });
  for (let second = 0; second <= 100; second++) {
    history.record(
      second * 1000,
      total(second * 10),
      new Map([[A, { frames: second * 10, bytes: second }]]),
    );
  }
  const doc = history.toJSON(100_000);
  assert.deepEqual(doc.total.fps, [10, 10, 10, 10, 10]);
  assert.equal(doc.senders[A]?.fps.length, 5);
});

Deno.test("ViewerHistory starts a new sender from zero and forgets one that is gone", () => {
  const history = new ViewerHistory();
  history.record(0, total(0), new Map([[A, { frames: 0, bytes: 0 }]]));
  history.record(
    1000,
    total(12),
    new Map([[A, { frames: 10, bytes: 0 }], [B, { frames: 2, bytes: 0 }]]),
  );
  history.record(2000, total(14), new Map([[B, { frames: 4, bytes: 0 }]]));
  const doc = history.toJSON(2000);
  assert.deepEqual(Object.keys(doc.senders), [B]);
  assert.deepEqual(doc.senders[B]?.fps, [2, 2]);
  assert.deepEqual(Object.keys(history.toJSON(2000, A).senders), []);
  assert.deepEqual(Object.keys(history.toJSON(2000, B).senders), [B]);
});

Deno.test("ViewerHistory shows lost, late and latency only once reported", () => {
  const history = new ViewerHistory();
  history.record(0, total(0), new Map([[A, { frames: 0, bytes: 0 }]]));
  history.record(1000, total(10), new Map([[A, { frames: 10, bytes: 0 }]]));
  let doc = history.toJSON(1000);
  assert.equal(doc.senders[A]?.lost, null);
  assert.equal(doc.senders[A]?.late, null);
  assert.equal(doc.senders[A]?.latencyMs, null);
  assert.equal(doc.total.lost, null);
  // First reported at 100 lost: that is where counting starts.
  history.record(
    2000,
    { ...total(20), lost: 100 },
    new Map([[A, { frames: 20, bytes: 0, lost: 100, latencyMs: 40 }]]),
  );
  history.record(
    3000,
    { ...total(30), lost: 103 },
    new Map([[A, { frames: 30, bytes: 0, lost: 103, late: 2 }]]),
  );
  history.record(
    4000,
    { ...total(40), lost: 104 },
    new Map([[A, {
      frames: 40,
      bytes: 0,
      lost: 104,
      late: 3,
      latencyMs: 20.04,
    }]]),
  );
  doc = history.toJSON(4000);
  assert.deepEqual(doc.senders[A]?.lost, [0, 0, 3, 1]);
  assert.deepEqual(doc.senders[A]?.late, [0, 0, 0, 1]);
  assert.deepEqual(doc.senders[A]?.latencyMs, [null, 40, null, 20]);
  assert.deepEqual(doc.total.lost, [0, 0, 3, 1]);
});

Deno.test("ViewerHistory treats a count that goes backwards as a restart, never a negative rate", () => {
  const history = new ViewerHistory();
  history.record(0, total(50), NONE);
  history.record(1000, total(10), NONE);
  history.record(2000, total(15), NONE);
  assert.deepEqual(history.toJSON(2000).total.fps, [0, 5]);
});

Deno.test("ViewerHistory ignores a sample that is not later than the last", () => {
  const history = new ViewerHistory();
  history.record(1000, total(0), NONE);
  history.record(2000, total(10), NONE);
  history.record(2000, total(20), NONE);
  history.record(1500, total(30), NONE);
  assert.deepEqual(history.toJSON(2000).total.fps, [10]);
});

Deno.test("ViewerHistory is empty before its second sample", () => {
  const history = new ViewerHistory();
  assert.equal(history.toJSON(0).lastSampleAgoMs, null);
  history.record(0, total(5), new Map([[A, { frames: 5, bytes: 0 }]]));
  const doc = history.toJSON(10);
  assert.deepEqual(doc.total.fps, []);
  assert.deepEqual(doc.senders[A]?.fps, []);
});

Deno.test("ViewerHistory rates are never negative and add up to the totals' change", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 5000 }), fc.nat(1000)), {
        minLength: 2,
        maxLength: 100,
      }),
      (steps) => {
        const history = new ViewerHistory({ capacity: 200 });
        let now = 0;
        let frames = 0;
        history.record(now, total(frames), NONE);
        let expected = 0;
        for (const [gapMs, added] of steps) {
          now += gapMs;
          frames += added;
          expected += added;
          history.record(now, total(frames), NONE);
        }
        const fps = history.toJSON(now).total.fps;
        let sum = 0;
        for (let i = 0; i < fps.length; i++) {
          assert.ok(fps[i]! >= 0);
          sum += fps[i]! * steps[i]![0] / 1000;
        }
        // Samples are rounded to 0.1 per second.
        return Math.abs(sum - expected) <= steps.length * 0.05 * 5 + 1e-6;
      },
    ),
  );
});

Deno.test("ViewerHistory rejects a capacity below two and an interval below one", () => {
  assert.throws(() => new ViewerHistory({ capacity: 1 }), RangeError);
  assert.throws(() => new ViewerHistory({ capacity: 2.5 }), RangeError);
  assert.throws(() => new ViewerHistory({ intervalMs: 0 }), RangeError);
});
