import assert from "node:assert/strict";
import { startViewer, viewerCounters } from "../lib/cli/viewer_flag.ts";
import { FrameServer } from "../lib/server/server.ts";

const STATS = {
  frames: 5,
  decoded: 4,
  dropped: 1,
  errors: 1,
  skipped: 2,
  bytes: 5000,
  lost: 1,
  late: 3,
  counters: { recoveredFec: 9, refused: 4 },
  latency: { samples: 5, p50Ms: 1, p99Ms: 2, estimated: false },
};

Deno.test("viewerCounters gives the server's totals, repairs as 0 when none, and the sealing counters only with a key", () => {
  const { counters: _, ...totals } = STATS;
  const common = {
    ...totals,
    recoveredNack: 0,
    recoveredFec: 9,
    latency: { p50Ms: 1, p99Ms: 2, estimated: false },
  };
  assert.deepEqual(viewerCounters(STATS, false), common);
  assert.deepEqual(viewerCounters(STATS, true), {
    ...common,
    unauthenticated: 0,
    replayed: 0,
    refused: 4,
  });
  assert.equal(
    viewerCounters({ ...STATS, latency: undefined }, false).latency,
    null,
  );
});

Deno.test("startViewer names --view for a port in use, and falls back to a free one when allowed", async () => {
  const server = await FrameServer.listen({
    port: 0,
    messagePort: 0,
    decoder: "none",
  });
  const first = await startViewer(server, {
    hostname: "127.0.0.1",
    port: 0,
    fallBack: false,
    open: false,
    keyed: false,
  });
  try {
    const taken = first.addr.port;
    await assert.rejects(
      startViewer(server, {
        hostname: "127.0.0.1",
        port: taken,
        fallBack: false,
        open: false,
        keyed: false,
      }),
      (error: unknown) =>
        error instanceof Error && / \(--view \d+\)$/.test(error.message) &&
        error.message.endsWith(`(--view ${taken})`),
    );
    const second = await startViewer(server, {
      hostname: "127.0.0.1",
      port: taken,
      fallBack: true,
      open: false,
      keyed: false,
    });
    assert.notEqual(second.addr.port, taken);
    await second.close();
  } finally {
    await first.close();
    await server.close();
  }
});
