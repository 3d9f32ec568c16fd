import assert from "node:assert/strict";
import fc from "fast-check";
import {
  countDelivered,
  frameKey,
  lossChart,
  pairLatencies,
  quantile,
} from "../bench/_stream_report.ts";

function frame(n: number, length = 64): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (n * 31 + i) & 0xff;
  bytes[0] = n & 0xff;
  bytes[1] = n >> 8;
  return bytes;
}

Deno.test("countDelivered counts byte-exact frames in any order, once each", () => {
  const sent = [0, 1, 2, 3, 4].map((n) => frame(n));
  const got = countDelivered(sent, [sent[3]!, sent[0]!, sent[3]!, sent[1]!]);
  assert.deepEqual(got, { exact: 3, corrupt: 0, duplicates: 1 });
});

Deno.test("countDelivered counts a frame with one byte changed, cut or spliced as corrupt", () => {
  const sent = [0, 1, 2].map((n) => frame(n));
  const flipped = sent[1]!.slice();
  flipped[40]! ^= 0x01;
  const cut = sent[2]!.subarray(0, 63);
  const spliced = new Uint8Array([
    ...sent[0]!.subarray(0, 32),
    ...sent[1]!.subarray(32),
  ]);
  const got = countDelivered(sent, [flipped, cut, spliced, sent[0]!]);
  assert.deepEqual(got, { exact: 1, corrupt: 3, duplicates: 0 });
});

Deno.test("countDelivered ignores copies of the padding frames past the counted ones", () => {
  const sent = [0, 1, 2, 3].map((n) => frame(n));
  const got = countDelivered(sent, [sent[0]!, sent[3]!, sent[2]!], 2);
  assert.deepEqual(got, { exact: 1, corrupt: 0, duplicates: 0 });
});

Deno.test("countDelivered: exact + corrupt + duplicates is what was received, for any damage", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ index: fc.nat(9), damage: fc.option(fc.nat(63)) }), {
        maxLength: 30,
      }),
      (picks) => {
        const sent = Array.from({ length: 10 }, (_, n) => frame(n));
        const received = picks.map(({ index, damage }) => {
          const copy = sent[index]!.slice();
          if (damage !== null) copy[damage]! ^= 0x80;
          return copy;
        });
        const got = countDelivered(sent, received);
        const whole = new Set(
          picks.filter((p) => p.damage === null).map((p) => p.index),
        );
        assert.equal(got.exact, whole.size);
        assert.equal(
          got.corrupt,
          picks.filter((p) => p.damage !== null).length,
        );
        assert.equal(got.exact + got.corrupt + got.duplicates, received.length);
      },
    ),
  );
});

Deno.test("frameKey is equal for equal bytes and differs for a changed byte", () => {
  const a = frame(7);
  const b = a.slice();
  assert.equal(frameKey(a), frameKey(b));
  b[10]! ^= 1;
  assert.notEqual(frameKey(a), frameKey(b));
});

Deno.test("lossChart draws one line and one legend entry per series, with axis labels", () => {
  const svg = lossChart([
    { name: "stream <NACK>", points: [[0, 100], [1, 100], [5, 100], [20, 99]] },
    { name: "classic", points: [[0, 7], [20, 0]] },
  ], { title: "t & t" });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.equal(svg.match(/<polyline /g)?.length, 2);
  assert.ok(!svg.includes("stroke-dasharray"), "the first two lines are solid");
  assert.match(svg, /stream &lt;NACK&gt;/);
  assert.match(svg, /t &amp; t/);
  for (const label of ["0%", "1%", "5%", "20%", "100%"]) {
    assert.ok(svg.includes(`>${label}</text>`), label);
  }
});

Deno.test("lossChart dashes the later lines, so that lines on top of each other both show", () => {
  const line = (name: string) => ({
    name,
    points: [[0, 100], [20, 100]] as [number, number][],
  });
  const svg = lossChart(["a", "b", "c", "d"].map(line));
  assert.equal(svg.match(/<polyline [^>]*stroke-dasharray/g)?.length, 2);
});

Deno.test("lossChart puts 100% at the top of the plot and 0% at the bottom", () => {
  const svg = lossChart([{ name: "a", points: [[0, 100], [20, 0]] }], {
    width: 640,
    height: 400,
  });
  const points = svg.match(/points="([^"]+)"/)?.[1]?.split(" ")
    .map((p) => p.split(",").map(Number));
  assert.ok(points !== undefined);
  const [first, last] = [points[0]!, points[1]!];
  assert.ok(first[1]! < last[1]!, "100% is drawn above 0%");
  assert.ok(first[0]! < last[0]!, "0% loss is left of 20%");
});

Deno.test("quantile takes the nearest rank and is NaN for no values", () => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i);
  assert.equal(quantile(values, 0.5), 50);
  assert.equal(quantile(values, 0.99), 99);
  assert.equal(quantile(values, 1), 100);
  assert.equal(quantile(values, 0), 1);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

Deno.test("pairLatencies pairs the i-th send with the i-th receipt", () => {
  assert.deepEqual(pairLatencies([10, 43, 76], [12.5, 47]), [2.5, 4]);
  assert.deepEqual(pairLatencies([], [1]), []);
});
