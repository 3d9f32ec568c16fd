import assert from "node:assert/strict";
import fc from "fast-check";
import { LinkModel, seededRandom } from "../lib/net/link_model.ts";
import { LossyRelay } from "../lib/net/lossy_relay.ts";
import { openDatagramSocket } from "../lib/net/open.ts";

Deno.test("LinkModel loses, duplicates and reorders about as asked, repeatably", () => {
  const run = () => {
    const link = new LinkModel<number>({
      loss: 0.1,
      duplicate: 0.05,
      reorder: 0.1,
      delayMs: 3,
      seed: 5,
    });
    for (let i = 0; i < 10_000; i++) link.send(i * 0.01, i, 100);
    const out: number[] = [];
    for (let p; (p = link.receive(1e9)) !== undefined;) out.push(p);
    return { out, stats: link.stats };
  };
  const a = run();
  assert.deepEqual(run().out, a.out);
  assert.ok(Math.abs(a.stats.lost / 10_000 - 0.1) < 0.02);
  assert.ok(Math.abs(a.stats.duplicated / 9_000 - 0.05) < 0.02);
  assert.ok(a.out.some((p, i) => i > 0 && p < a.out[i - 1]!));
  assert.equal(a.out.length, a.stats.delivered);
});

Deno.test("LinkModel delivers nothing early, in due order", () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { maxLength: 50 }),
      fc.double({ min: 0, max: 20, noNaN: true }),
      (times, delayMs) => {
        const link = new LinkModel<number>({
          delayMs,
          jitterMs: 5,
          reorder: 0.3,
          seed: 1,
        });
        const sorted = [...times].sort((a, b) => a - b);
        for (const t of sorted) link.send(t, t, 10);
        let last = -Infinity;
        for (let now = 0; now < 200; now += 0.5) {
          for (let p; (p = link.receive(now)) !== undefined;) {
            assert.ok(p + delayMs <= now + 1e-9);
            last = now;
          }
        }
        assert.ok(last <= 200);
        assert.equal(link.inFlight, 0);
      },
    ),
  );
});

Deno.test("LinkModel queues behind a bottleneck and drops past its queue", () => {
  const link = new LinkModel<number>({ rate: 100_000, queueBytes: 10_000 });
  for (let i = 0; i < 100; i++) link.send(0, i, 1000);
  assert.equal(link.stats.overflowed, 90);
  assert.equal(link.nextDue(), 10);
  assert.equal(seededRandom(1)(), seededRandom(1)());
});

Deno.test("LossyRelay carries datagrams both ways between real sockets, and keeps clients apart", async () => {
  const target = await openDatagramSocket({ hostname: "127.0.0.1", port: 0 });
  const echo = (async () => {
    const batch = target.createBatch();
    while (true) {
      const n = await target.receive(batch);
      if (n === 0) return;
      for (let i = 0; i < n; i++) {
        const o = batch.offsets[i]!;
        await target.send(
          batch.buffer.slice(o, o + batch.lengths[i]!),
          batch.senders[i]!,
        );
      }
    }
  })();
  await using relay = await LossyRelay.start({
    target: target.addr,
    forward: { delayMs: 2 },
  });
  const clients = await Promise.all(
    [0, 1].map(() => openDatagramSocket({ hostname: "127.0.0.1", port: 0 })),
  );
  for (const [i, client] of clients.entries()) {
    await client.send(new Uint8Array([i, 1, 2]), relay.addr);
  }
  for (const [i, client] of clients.entries()) {
    const batch = client.createBatch();
    await client.receive(batch);
    assert.deepEqual(
      batch.buffer.slice(0, batch.lengths[0]!),
      new Uint8Array([i, 1, 2]),
    );
    assert.equal(batch.senders[0]!.port, relay.addr.port);
    client.close();
  }
  assert.equal(relay.stats.forward.delivered, 2);
  assert.equal(relay.stats.backward.delivered, 2);
  await relay.close();
  target.close();
  await echo;
});
