/**
 * The stream protocol end to end: real client.ts, server.ts and
 * msg_client.ts processes on loopback, through the lossy relay run in this
 * process, and both protocols into one server at once.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LossyRelay } from "../lib/net/lossy_relay.ts";
import { fixture, root, runScript, startServer } from "./_process.ts";
import { missing } from "./_deps.ts";

const run = (name: string, args: string[]) => runScript(name, args, 60_000);

/** 5% loss, 1% duplication and 2% reordering, each way. */
function lossyPath(seed: number) {
  return { loss: 0.05, duplicate: 0.01, reorder: 0.02, delayMs: 1, seed };
}

const CLIENT_SUMMARY =
  /^frames=(\d+) seconds=[\d.]+ fps=[\d.]+ bytes=\d+( dropped=\d+)? sent=(\d+) retransmitted=(\d+) fec=(\d+) rtt_ms=[\d.?]+$/;

Deno.test("stream: files through a 5%-loss, duplicating, reordering path arrive byte-exact", async () => {
  const out = await Deno.makeTempDir();
  try {
    // Budgets of seconds, so that a loaded machine loses no frame.
    const { server, port } = await startServer([
      "--count",
      "24",
      "--out",
      out,
      "--latency",
      "2000",
      "--quiet",
    ]);
    await using _ = server;
    await using relay = await LossyRelay.start({
      target: { hostname: "127.0.0.1", port },
      forward: lossyPath(1),
      backward: lossyPath(2),
    });
    const client = await run("client.ts", [
      "--protocol",
      "stream",
      "--port",
      String(relay.addr.port),
      "--count",
      "24",
      // As fast as the path allows: no frame is replaced before it goes.
      "--fps",
      "0",
      "--fec",
      "8",
      "--latency",
      "2000",
      "--quiet",
      `${root}tests/fixtures/rocket.jpg`,
      `${root}tests/fixtures/hubble_deep_field.jpg`,
      `${root}tests/fixtures/astronaut.png`,
    ]);
    assert.equal(client.code, 0, client.stderr.join("\n"));
    const summary = CLIENT_SUMMARY.exec(client.stdout.at(-1)!);
    assert.ok(summary, client.stdout.join("\n"));
    assert.equal(summary[1], "24");
    assert.ok(
      Number(summary[4]) > 0,
      "nothing was sent again through a lossy path",
    );
    const status = await server.exit();
    assert.equal(status.code, 0, server.stderr.join("\n"));
    const line = server.stdout.at(-1)!;
    assert.match(
      line,
      /^frames=24 decoded=24 errors=0 .* lost=0 late=0 recovered_nack=\d+ recovered_fec=\d+ latency_p50_ms=[\d.]+ latency_p99_ms=[\d.]+$/,
    );
    assert.ok(relay.stats.forward.lost > 0 && relay.stats.backward.lost > 0);
    const fixtures = ["rocket.jpg", "hubble_deep_field.jpg", "astronaut.png"]
      .map(fixture);
    const files = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    assert.equal(files.length, 24);
    for (const [i, name] of files.entries()) {
      const saved = await Deno.readFile(`${out}/${name}`);
      const sent = fixtures[i % 3]!;
      assert.ok(
        saved.length === sent.length && saved.every((b, j) => b === sent[j]),
        `${name} differs from what was sent`,
      );
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test({
  name:
    "stream: a camera (ffmpeg's testsrc) through the lossy path, with no corrupt frame and no hang",
  ignore: missing("ffmpeg"),
  async fn() {
    const { server, port } = await startServer([
      "--count",
      "20",
      "--latency",
      "2000",
      "--quiet",
    ]);
    await using _ = server;
    await using relay = await LossyRelay.start({
      target: { hostname: "127.0.0.1", port },
      forward: lossyPath(3),
      backward: lossyPath(4),
    });
    const client = await run("client.ts", [
      "--protocol",
      "stream",
      "--port",
      String(relay.addr.port),
      "--camera",
      "testsrc",
      "--size",
      "320x240",
      "--fps",
      "30",
      // More than the server waits for: a camera's stale frames are skipped.
      "--count",
      "30",
      "--latency",
      "2000",
      "--quiet",
    ]);
    assert.equal(client.code, 0, client.stderr.join("\n"));
    assert.match(client.stdout.at(-1)!, CLIENT_SUMMARY);
    const status = await server.exit();
    assert.equal(status.code, 0);
    assert.match(
      server.stdout.at(-1)!,
      /^frames=20 decoded=20 errors=0 .* lost=0 /,
    );
  },
});

Deno.test("stream and classic senders into one server port at the same time", async () => {
  const { server, port } = await startServer(["--count", "12"]);
  await using _ = server;
  const photo = `${root}tests/fixtures/rocket.jpg`;
  const [classic, stream] = await Promise.all([
    run("client.ts", ["--port", String(port), "--count", "6", photo]),
    run("client.ts", [
      "--protocol",
      "stream",
      "--port",
      String(port),
      "--count",
      "6",
      "--fps",
      "20",
      photo,
    ]),
  ]);
  assert.equal(classic.code, 0, classic.stderr.join("\n"));
  assert.equal(stream.code, 0, stream.stderr.join("\n"));
  assert.equal(
    classic.stdout.filter((l) => l.endsWith("reply: get message!!!")).length,
    6,
  );
  const status = await server.exit();
  assert.equal(status.code, 0);
  const senders = new Set(
    server.stdout.flatMap((l) =>
      /^frame \d+: 112525 bytes 640x427 jpeg from (\S+)$/.exec(l)?.[1] ?? []
    ),
  );
  assert.equal(senders.size, 2, server.stdout.join("\n"));
});

Deno.test("client --protocol stream sends the test pattern; server --protocol stream serves only it", async () => {
  const { server, port } = await startServer([
    "--count",
    "3",
    "--protocol",
    "stream",
  ]);
  await using _ = server;
  const client = await run("client.ts", [
    "--protocol",
    "stream",
    "--port",
    String(port),
    "--count",
    "3",
    "--size",
    "320x240",
  ]);
  assert.equal(client.code, 0, client.stderr.join("\n"));
  await server.exit();
  assert.match(server.stdout.join("\n"), /frame 3: \d+ bytes 320x240 jpeg/);
});

Deno.test("msg_client --protocol stream sends messages over the image port, acknowledged", async () => {
  const { server, port } = await startServer();
  await using _ = server;
  const msg = await run("msg_client.ts", [
    "--protocol",
    "stream",
    "--port",
    String(port),
    "--count",
    "3",
    "--interval",
    "1",
    "--data",
    '{"hello":"world"}',
  ]);
  assert.equal(msg.code, 0, msg.stderr.join("\n"));
  assert.deepEqual(msg.stdout, [
    "get the msg",
    "get the msg",
    "get the msg",
    "messages=3 replies=3",
  ]);
  await server.waitFor(/message from 127\.0\.0\.1:\d+: \{"hello":"world"\}/);
  server.kill("SIGTERM");
  await server.exit();
});

Deno.test("client.ts refuses stream flags with the classic protocol, and classic ones with stream", async () => {
  const fec = await run("client.ts", ["--fec", "4"]);
  assert.equal(fec.code, 2);
  assert.match(
    fec.stderr.at(-1)!,
    /^error: --fec goes with --protocol stream$/,
  );
  const single = await run("client.ts", ["--protocol", "stream", "--single"]);
  assert.equal(single.code, 2);
  assert.match(single.stderr.at(-1)!, /--single is for the classic protocol/);
});
