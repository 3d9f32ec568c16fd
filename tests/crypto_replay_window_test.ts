import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DEFAULT_REPLAY_WINDOW,
  type ReplayVerdict,
  ReplayWindow,
  ReplayWindowSet,
} from "../lib/crypto/mod.ts";

/** The window as the RFCs define it, with a set instead of a bitmap. */
class Model {
  accepted = new Set<number>();
  highest = -1;
  constructor(readonly size: number) {}
  check(counter: number): ReplayVerdict {
    if (counter > this.highest) return "ok";
    if (this.highest - counter >= this.size) return "too-old";
    return this.accepted.has(counter) ? "replayed" : "ok";
  }
  accept(counter: number): ReplayVerdict {
    const verdict = this.check(counter);
    if (verdict === "ok") {
      this.accepted.add(counter);
      this.highest = Math.max(this.highest, counter);
    }
    return verdict;
  }
}

const SIZES = [32, 64, 96, 128, 1024];

/** Counters near where the window is: late, duplicated, ahead, far ahead. */
function operations(size: number) {
  return fc.array(
    fc.record({
      accept: fc.boolean(),
      step: fc.oneof(
        // Near the top of the window, and near its bottom edge, where the
        // ring's slots are reused.
        { weight: 4, arbitrary: fc.integer({ min: -40, max: 40 }) },
        {
          weight: 3,
          arbitrary: fc.integer({ min: -size - 5, max: -size + 40 }),
        },
        { weight: 1, arbitrary: fc.integer({ min: -3 * size, max: 3 * size }) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 40 }) },
      ),
    }),
    { maxLength: 400 },
  );
}

Deno.test("ReplayWindow says what the set-based definition says, for any sequence of checks and accepts", () => {
  for (const size of SIZES) {
    fc.assert(
      fc.property(operations(size), fc.maxSafeNat(), (ops, base) => {
        const start = Math.min(base, Number.MAX_SAFE_INTEGER - 2 ** 42);
        const window = new ReplayWindow({ size });
        const model = new Model(size);
        let at = start;
        for (const { accept, step } of ops) {
          const counter = Math.max(0, at + step);
          const got = accept ? window.accept(counter) : window.check(counter);
          const want = accept ? model.accept(counter) : model.check(counter);
          assert.equal(got, want, `${accept ? "accept" : "check"}(${counter})`);
          assert.equal(window.highest, model.highest);
          at = Math.max(at, model.highest);
        }
      }),
      { numRuns: 100 },
    );
  }
});

Deno.test("ReplayWindow accepts every packet once under reordering within the window, and refuses every duplicate", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 600 }),
      fc.integer({ min: 0, max: 63 }),
      fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })),
      (count, spread, noise) => {
        const size = 64;
        // Each packet arrives at most `spread` (< size) places late: sort
        // by index plus a jitter of up to `spread`.
        const jitter = [...Array(count).keys()].map((i) => ({
          counter: i,
          at: i + noise.next().value * spread,
        }));
        jitter.sort((a, b) => a.at - b.at);
        const window = new ReplayWindow({ size });
        for (const { counter } of jitter) {
          assert.equal(window.check(counter), "ok", `first ${counter}`);
          assert.equal(window.accept(counter), "ok");
          assert.equal(window.accept(counter), "replayed", `again ${counter}`);
        }
        for (let c = Math.max(0, count - size); c < count; c++) {
          assert.equal(window.check(c), "replayed");
        }
        if (count > size) {
          assert.equal(window.check(count - size - 1), "too-old");
        }
        assert.equal(window.highest, count - 1);
      },
    ),
  );
});

Deno.test("ReplayWindow.check changes nothing, and a forged counter that was only checked does not move the window", () => {
  const window = new ReplayWindow({ size: 32 });
  window.accept(5);
  assert.equal(window.check(1_000_000), "ok");
  assert.equal(window.highest, 5);
  assert.equal(window.check(4), "ok");
  assert.equal(window.check(4), "ok");
  assert.equal(window.accept(4), "ok");
  assert.equal(window.check(4), "replayed");
});

Deno.test("ReplayWindow keeps exactly `size` counters: the highest and size - 1 below it", () => {
  const window = new ReplayWindow({ size: 32 });
  window.accept(100);
  assert.equal(window.check(69), "ok"); // 100 - 31
  assert.equal(window.check(68), "too-old"); // 100 - 32
  window.accept(69);
  window.accept(101);
  assert.equal(window.check(69), "too-old");
  assert.equal(window.check(70), "ok");
  // A jump past the whole window forgets everything below it.
  window.accept(10_000);
  assert.equal(window.check(10_000 - 31), "ok");
  assert.equal(window.check(101), "too-old");
});

Deno.test("ReplayWindow counts from 0 and up to 2^53 - 1", () => {
  const window = new ReplayWindow();
  assert.equal(window.size, DEFAULT_REPLAY_WINDOW);
  assert.equal(window.highest, -1);
  assert.equal(window.accept(0), "ok");
  assert.equal(window.accept(0), "replayed");
  assert.equal(window.accept(Number.MAX_SAFE_INTEGER), "ok");
  assert.equal(window.check(Number.MAX_SAFE_INTEGER), "replayed");
  assert.equal(window.check(Number.MAX_SAFE_INTEGER - 1), "ok");
  assert.equal(window.check(0), "too-old");
});

Deno.test("ReplayWindow refuses bad sizes and counters with RangeError", () => {
  for (const size of [0, 31, 33, -32, 1.5, 2 ** 21]) {
    assert.throws(() => new ReplayWindow({ size }), RangeError, String(size));
  }
  const window = new ReplayWindow({ size: 32 });
  for (const counter of [-1, 0.5, NaN, 2 ** 53]) {
    assert.throws(() => window.check(counter), RangeError);
    assert.throws(() => window.accept(counter), RangeError);
  }
});

Deno.test("ReplayWindowSet keeps a window per party, told apart by where their counters lie", () => {
  const windows = new ReplayWindowSet({ size: 64 });
  const a = 0x0123_4567;
  const b = 0x3fff_0000;
  for (let low = 100; low < 200; low++) {
    assert.equal(windows.accept(a, low), "ok");
    assert.equal(windows.accept(b, low), "ok");
  }
  assert.equal(windows.parties, 2);
  assert.equal(windows.check(a, 150), "replayed");
  assert.equal(windows.check(b, 199), "replayed");
  assert.equal(windows.check(a, 100), "too-old");
  assert.equal(windows.check(a, 200), "ok");
  // A little older than a party's first counter is still its own.
  const c = new ReplayWindowSet({ size: 64 });
  c.accept(7, 1000);
  assert.equal(c.accept(7, 990), "ok");
  assert.equal(c.check(7, 990), "replayed");
  assert.equal(c.parties, 1);
  // Counters carry across the low word.
  c.accept(7, 0xffff_ffff);
  assert.equal(c.accept(8, 0), "ok");
  assert.equal(c.check(7, 0xffff_ffff), "replayed");
  assert.equal(c.parties, 1);
});

Deno.test("ReplayWindowSet forgets the party heard from least lately, and checks its words", () => {
  const windows = new ReplayWindowSet({ maxParties: 2 });
  windows.accept(1 << 24, 0);
  windows.accept(2 << 24, 0);
  windows.accept(1 << 24, 1);
  windows.accept(3 << 24, 0);
  assert.equal(windows.parties, 2);
  assert.equal(windows.check(1 << 24, 1), "replayed");
  assert.equal(windows.check(2 << 24, 0), "ok");
  for (const [high, low] of [[-1, 0], [2 ** 31, 0], [0, 2 ** 32], [0.5, 0]]) {
    assert.throws(() => windows.check(high!, low!), RangeError);
  }
  assert.throws(() => new ReplayWindowSet({ maxParties: 0 }), RangeError);
});
