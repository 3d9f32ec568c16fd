import assert from "node:assert/strict";
import fc from "fast-check";
import {
  buildParity,
  parityGroups,
  recoverChunk,
  xorInto,
} from "../lib/stream/fec.ts";

Deno.test("parityGroups covers every chunk exactly once, interleaved", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2000 }),
      fc.integer({ min: 1, max: 32 }),
      (count, k) => {
        const seen = new Uint8Array(count);
        for (const g of parityGroups(count, k)) {
          assert.ok(g.length <= Math.max(k, 1) || count <= k);
          for (let i = 0; i < g.length; i++) seen[g.first + i * g.stride]!++;
        }
        assert.ok(seen.every((n) => n === 1));
      },
    ),
  );
  assert.throws(() => parityGroups(3, 0), RangeError);
});

Deno.test("one missing chunk per group is rebuilt exactly, the last chunk included", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 3000 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 8 }),
      fc.nat(),
      (frame, count0, k, pick) => {
        const count = Math.min(count0, frame.length);
        const size = Math.ceil(frame.length / count);
        if ((count - 1) * size >= frame.length) return;
        for (const group of parityGroups(count, k)) {
          const parity = buildParity(frame, size, group, new Uint8Array(size));
          const missing = group.first + (pick % group.length) * group.stride;
          const damaged = frame.slice();
          damaged.fill(
            0xaa,
            missing * size,
            Math.min((missing + 1) * size, frame.length),
          );
          recoverChunk(damaged, size, group, missing, parity);
          assert.deepEqual(damaged, frame);
        }
      },
    ),
  );
});

Deno.test("xorInto agrees on aligned and unaligned views", () => {
  const a = new Uint8Array(64).map((_, i) => i);
  const b = new Uint8Array(64).map((_, i) => 255 - i);
  const aligned = a.slice();
  xorInto(aligned, b.subarray(0, 40));
  const unaligned = new Uint8Array(65);
  unaligned.set(a, 1);
  xorInto(unaligned.subarray(1), b.subarray(0, 40));
  assert.deepEqual(unaligned.subarray(1), aligned);
});
