/**
 * The fuzz harness in the test suite: a few thousand seeded datagrams per
 * target (FUZZ_SEED picks other seeds), every regression fixture in
 * `tests/fixtures/fuzz/` replayed, the harness's own behaviour, and one
 * hostile case through a real `FrameServer` on loopback.
 *
 * @module
 */

import assert from "node:assert/strict";
import { FrameServer } from "../lib/server/server.ts";
import { openDatagramSocket } from "../lib/net/open.ts";
import { loadCorpus } from "./_fuzz/corpus.ts";
import { mutate, mutateSequence } from "./_fuzz/mutate.ts";
import { Prng, runSeed } from "./_fuzz/prng.ts";
import { generateCase, runTarget, tryCase } from "./_fuzz/run.ts";
import { loadRegressions, saveRegression } from "./_fuzz/regressions.ts";
import { type FuzzTarget, GOOD, hostileSenders } from "./_fuzz/target.ts";
import {
  CLASSIC_LIMITS,
  classicReceiverTarget,
} from "./_fuzz/targets/classic.ts";
import { targetNamed, TARGETS } from "./_fuzz/targets/mod.ts";
import { within } from "./_within.ts";
import { errorLine } from "../lib/cli/cli.ts";

/** Hostile datagrams per target in the suite: enough to pass every kind of case. */
const DATAGRAMS_PER_TARGET = 4000;
const SEED = runSeed(0x5eed_f022);
const corpus = await loadCorpus();

for (const target of TARGETS) {
  Deno.test(`fuzz: ${target.name} holds its invariants over ${DATAGRAMS_PER_TARGET} seeded datagrams`, async () => {
    const report = await runTarget(target, corpus, {
      seed: SEED,
      datagrams: DATAGRAMS_PER_TARGET,
      maxFailures: 1,
    });
    const failure = report.failures[0];
    assert.ok(
      failure === undefined,
      failure &&
        `case ${failure.caseIndex} failed: ${
          errorLine(failure.error)
        }; replay: FUZZ_SEED=${SEED} deno task fuzz --target ${target.name} --case ${failure.caseIndex}`,
    );
    assert.ok(report.datagrams >= DATAGRAMS_PER_TARGET);
  });
}

for (const regression of await loadRegressions()) {
  Deno.test(`fuzz: regression ${regression.name} passes (${regression.context.target})`, async () => {
    const target = targetNamed(regression.context.target);
    assert.ok(
      target !== undefined,
      `fixture ${regression.name} is for target ${regression.context.target}, which no longer exists: register it or delete the fixture`,
    );
    let error = tryCase(target, regression.input);
    if (error instanceof Promise) error = await error;
    assert.equal(error, undefined, error === undefined ? "" : errorLine(error));
  });
}

Deno.test("fuzz: a case depends only on the seed, the target and its index", () => {
  for (const target of TARGETS) {
    const a = generateCase(target, corpus, 42, 7);
    const b = generateCase(target, corpus, 42, 7);
    const c = generateCase(target, corpus, 42, 8);
    assert.deepEqual(a, b, target.name);
    assert.notDeepEqual(a, c, target.name);
  }
});

Deno.test("fuzz: mutations never change their input and keep within the length asked", () => {
  const rng = new Prng(1);
  const input = Uint8Array.from({ length: 300 }, (_, i) => i);
  const copy = input.slice();
  const lengths = new Set<number>();
  for (let n = 0; n < 5000; n++) {
    const out = mutate(rng, input, {
      maxLength: 512,
      others: [copy.subarray(10, 200)],
      fields: [{ offset: 0, size: 8, littleEndian: true }, {
        offset: 2,
        size: 3,
      }],
    });
    assert.ok(out.length <= 512);
    lengths.add(Math.sign(out.length - input.length));
  }
  assert.deepEqual(input, copy);
  // Shorter, the same length and longer, all seen.
  assert.equal(lengths.size, 3);
  const sequence = [1, 2, 3, 4, 5, 6];
  mutateSequence(new Prng(2), sequence, 8);
  assert.ok(sequence.length <= 8);
});

Deno.test("fuzz: a failing case is shrunk, saved as a fixture and replayed", async () => {
  // A parser with a planted bug: a datagram whose fourth byte is 0xab throws.
  const planted: FuzzTarget = {
    name: "planted-bug",
    about: "a target that fails on purpose",
    generate: (rng) => ({
      datagrams: Array.from({ length: 40 }, () => ({
        from: 1,
        dtMs: 1,
        bytes: rng.bytes(1 + rng.below(64)),
      })),
      params: { limit: 3 },
    }),
    run: (input) => {
      for (const { bytes } of input.datagrams) {
        if (bytes[3] === 0xab) {
          throw new RangeError(`offset ${bytes.length} out of range`);
        }
      }
    },
  };
  const report = await runTarget(planted, corpus, {
    seed: 9,
    datagrams: 100_000,
  });
  assert.equal(report.failures.length, 1);
  const failure = report.failures[0]!;
  assert.equal(failure.input.datagrams.length, 1);
  assert.equal(failure.input.datagrams[0]!.bytes.length, 4);
  const dir = await Deno.makeTempDir();
  try {
    const url = new URL(`file://${dir}/`);
    const path = await saveRegression(failure, url);
    assert.match(path, /planted-bug-[0-9a-f]{12}\.bin$/);
    assert.equal(await saveRegression(failure, url), path);
    const [regression] = await loadRegressions(url);
    assert.deepEqual(regression!.input, failure.input);
    assert.match(
      regression!.context.error,
      /^RangeError: offset 4 out of range$/,
    );
    assert.ok(tryCase(planted, regression!.input) instanceof RangeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fuzz: a FrameServer on loopback delivers a good classic stream whole among hostile datagrams", async () => {
  // A seeded classic case with a good stream that must arrive, over real sockets.
  let index = 0;
  let input = generateCase(classicReceiverTarget, corpus, SEED, index);
  while (
    (input.params.goodFrames ?? 0) === 0 || hostileSenders(input) > 3 ||
    input.datagrams.length > 3000
  ) {
    input = generateCase(classicReceiverTarget, corpus, SEED, ++index);
  }
  await using server = await FrameServer.listen({
    hostname: "127.0.0.1",
    port: 0,
    messagePort: null,
    decoder: "none",
    ...CLASSIC_LIMITS,
  });
  const froms = [...new Set(input.datagrams.map((d) => d.from))];
  const sockets = new Map(
    await Promise.all(
      froms.map(async (from) =>
        [
          from,
          await openDatagramSocket({ hostname: "127.0.0.1", port: 0 }),
        ] as const
      ),
    ),
  );
  try {
    const good = sockets.get(GOOD)!;
    const goodKey = `127.0.0.1:${good.addr.port}`;
    const expected: Uint8Array[] = [];
    const frames = (async () => {
      const got: Uint8Array[] = [];
      for await (const frame of server) {
        if (frame.sender !== goodKey) continue;
        got.push(frame.bytes);
        if (got.length === input.params.goodFrames) break;
      }
      return got;
    })();
    // Sent one at a time, in the case's order: un-awaited sends reorder.
    for (const d of input.datagrams) {
      await sockets.get(d.from)!.send(d.bytes, server.imageAddr);
      if (d.from === GOOD) expected.push(d.bytes);
    }
    const got = await within(20_000, frames, "the good sender's frames");
    assert.equal(got.length, input.params.goodFrames);
    // The good datagrams, reassembled by hand: each frame whole or header then chunks.
    const sent = reassembleGood(expected);
    assert.deepEqual(got, sent);
  } finally {
    for (const socket of sockets.values()) socket.close();
  }
});

/** The frames a classic sender's datagrams carry, read the simple way. */
function reassembleGood(datagrams: readonly Uint8Array[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < datagrams.length;) {
    const first = datagrams[i++]!;
    if (first.length !== 8) {
      frames.push(first);
      continue;
    }
    const size = Number(
      new DataView(first.buffer, first.byteOffset).getBigInt64(0, true),
    );
    const frame = new Uint8Array(size);
    for (let at = 0; at < size;) {
      const chunk = datagrams[i++]!;
      frame.set(chunk, at);
      at += chunk.length;
    }
    frames.push(frame);
  }
  return frames;
}
