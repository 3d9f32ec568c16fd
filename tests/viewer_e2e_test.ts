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

Deno.test("server --view shows a PNG frame as JPEG at /latest.jpg, and exits 0 on SIGTERM after transcoding", async () => {
  await using server = script("server.ts", [
    "--port",
    "0",
    "--msg-port",
    "0",
    "--view",
    "0",
  ]);
  const ready = await server.waitFor(/^ready image=[\d.]+:(\d+) msg=/);
  const url =
    (await server.waitFor(/^viewer: (http:\/\/127\.0\.0\.1:\d+\/)$/))[1]!;
  await using client = script("client.ts", [
    "--port",
    ready[1]!,
    "--count",
    "1",
    "--quiet",
    `${root}tests/fixtures/astronaut.png`,
  ]);
  assert.equal((await client.exit()).code, 0, client.stderr.join("\n"));
  await server.waitFor(/^frame 1: \d+ bytes 512x512 png/);
  const latest = await fetch(`${url}latest.jpg`);
  assert.equal(latest.headers.get("content-type"), "image/jpeg");
  const jpeg = new Uint8Array(await latest.arrayBuffer());
  assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8]);
  server.kill("SIGTERM");
  assert.equal((await server.exit()).code, 0, server.stderr.join("\n"));
});

Deno.test("server --view-host beyond loopback prints a token URL, and --view-open warns instead", async () => {
  const viewerArgs = ["--port", "0", "--msg-port", "0", "--view", "0"];
  {
    await using server = script("server.ts", [
      ...viewerArgs,
      "--view-host",
      "0.0.0.0",
      "--quiet",
    ]);
    const [, url, token] = await server.waitFor(
      /^viewer: (http:\/\/127\.0\.0\.1:\d+\/)\?token=([A-Za-z0-9_-]{22})$/,
    );
    const refused = await fetch(`${url}stats`);
    assert.equal(refused.status, 401);
    await refused.body?.cancel();
    const served = await fetch(`${url}stats?token=${token}`);
    assert.equal(served.status, 200);
    await served.body?.cancel();
    server.kill("SIGTERM");
    assert.equal((await server.exit()).code, 0);
  }
  {
    await using server = script("server.ts", [
      ...viewerArgs,
      "--view-host",
      "0.0.0.0",
      "--view-open",
      "--quiet",
    ]);
    const [, url] = await server.waitFor(
      /^viewer: (http:\/\/127\.0\.0\.1:\d+\/)$/,
    );
    await server.waitFor(/^warning: --view-open: the viewer asks no token/);
    const served = await fetch(`${url}stats`);
    assert.equal(served.status, 200);
    await served.body?.cancel();
    server.kill("SIGTERM");
    assert.equal((await server.exit()).code, 0);
  }
});

Deno.test("server rejects a bad --view-token, or one without --view, in one line", async () => {
  for (
    const [args, message] of [
      [["--view", "0", "--view-token", "short"], /--view-token: .*8 to 256/],
      [
        ["--view-token", "correct-horse-battery"],
        /--view-token goes with --view/,
      ],
      [["--view-open"], /--view-open goes with --view/],
      [
        ["--view", "0", "--view-token", "correct-horse-battery", "--view-open"],
        /exclude each other/,
      ],
    ] as const
  ) {
    await using server = script("server.ts", [...args]);
    const status = await server.exit();
    assert.equal(status.code, 2, args.join(" "));
    assert.equal(server.stderr.filter((line) => line).length, 1);
    assert.match(server.stderr.join("\n"), message);
  }
});
