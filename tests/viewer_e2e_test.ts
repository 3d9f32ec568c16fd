import assert from "node:assert/strict";
import { fixture, root, script } from "./_process.ts";

Deno.test("server --view serves frames from a real client, and a stalled viewer does not slow reception", async () => {
  await using server = script("server.ts", [
    "--port",
    "0",
    "--msg-port",
    "0",
    "--view",
    "0",
  ]);
  const ready = await server.waitFor(
    /^ready image=[\d.]+:(\d+) msg=[\d.]+:(\d+)$/,
  );
  const url =
    (await server.waitFor(/^viewer: (http:\/\/127\.0\.0\.1:\d+\/)$/))[1]!;
  const port = ready[1]!;

  // A viewer that asks for the stream and never reads it.
  const viewerPort = Number(new URL(url).port);
  const stalled = await Deno.connect({
    hostname: "127.0.0.1",
    port: viewerPort,
  });
  try {
    await stalled.write(
      new TextEncoder().encode(
        `GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1:${viewerPort}\r\n\r\n`,
      ),
    );
    await using client = script("client.ts", [
      "--port",
      port,
      "--count",
      "30",
      "--quiet",
      `${root}tests/fixtures/hubble_deep_field.jpg`,
    ]);
    const status = await client.exit();
    assert.equal(status.code, 0, client.stderr.join("\n"));
    assert.match(client.stdout.at(-1)!, /^frames=30 /);

    // Replies go out before decoding ends: wait until the last frame is shown.
    await server.waitFor(/^frame 30: /);
    const stats = await (await fetch(`${url}stats`)).json();
    assert.equal(stats.frames, 30);
    assert.equal(stats.decoded, 30);
    assert.equal(stats.senders.length, 1);
    assert.equal(stats.senders[0].width, 1000);
    const latest = await fetch(`${url}latest.jpg`);
    assert.equal(latest.headers.get("content-type"), "image/jpeg");
    assert.deepEqual(
      new Uint8Array(await latest.arrayBuffer()),
      fixture("hubble_deep_field.jpg"),
    );
    const page = await fetch(url);
    assert.match(await page.text(), /<html/i);
  } finally {
    stalled.close();
  }
  server.kill("SIGTERM");
  assert.equal((await server.exit()).code, 0);
});
