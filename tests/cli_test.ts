import assert from "node:assert/strict";
import { fixture, root, runScript, startServer } from "./_process.ts";
import { missing } from "./_deps.ts";

const SUMMARY =
  /^frames=(\d+) decoded=(\d+) errors=(\d+) dropped=(\d+) bytes=(\d+) seconds=[\d.]+ fps=[\d.]+$/;

const run = runScript;

function assertOneLineError(
  result: { code: number; stderr: string[] },
  code: number,
  pattern: RegExp,
) {
  assert.equal(result.code, code, result.stderr.join("\n"));
  assert.equal(result.stderr.length, 1, result.stderr.join("\n"));
  assert.match(result.stderr[0]!, /^error: /);
  assert.match(result.stderr[0]!, pattern);
}

Deno.test("server --out saves frames exactly as received, and --count ends it with a summary", async () => {
  const out = await Deno.makeTempDir();
  try {
    const { server: started, port } = await startServer([
      "--count",
      "3",
      "--out",
      out,
    ]);
    await using _ = started;
    const client = await run("client.ts", [
      "--port",
      String(port),
      "--count",
      "3",
      `${root}tests/fixtures/rocket.jpg`,
      `${root}tests/fixtures/astronaut.png`,
    ]);
    assert.equal(client.code, 0, client.stderr.join("\n"));
    assert.equal(
      client.stdout.filter((l) => l.endsWith("reply: get message!!!")).length,
      3,
    );
    assert.match(
      client.stdout.at(-1)!,
      /^frames=3 seconds=[\d.]+ fps=[\d.]+ bytes=\d+$/,
    );
    const status = await started.exit();
    assert.equal(status.code, 0);
    const summary = SUMMARY.exec(started.stdout.at(-1)!);
    assert.ok(summary, started.stdout.join("\n"));
    assert.equal(summary[1], "3");
    assert.equal(summary[2], "3");
    assert.match(
      started.stdout.join("\n"),
      /frame 1: 112525 bytes 640x427 jpeg from 127\.0\.0\.1:\d+/,
    );
    assert.match(started.stdout.join("\n"), /frame 2: \d+ bytes 512x512 png/);
    assert.deepEqual(
      await Deno.readFile(`${out}/000001.jpg`),
      fixture("rocket.jpg"),
    );
    assert.deepEqual(
      await Deno.readFile(`${out}/000002.png`),
      fixture("astronaut.png"),
    );
    assert.deepEqual(
      await Deno.readFile(`${out}/000003.jpg`),
      fixture("rocket.jpg"),
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("client with no file sends its generated pattern, re-encoded with --encode", async () => {
  const { server, port } = await startServer(["--count", "2"]);
  await using _ = server;
  const client = await run("client.ts", [
    "--port",
    String(port),
    "--count",
    "2",
    "--encode",
    "png",
  ]);
  assert.equal(client.code, 0, client.stderr.join("\n"));
  await server.exit();
  assert.match(server.stdout.join("\n"), /frame 1: \d+ bytes 640x480 png/);
  assert.match(server.stdout.join("\n"), /frame 2: \d+ bytes 640x480 png/);
});

Deno.test("client --single sends a small image in one datagram", async () => {
  const { server, port } = await startServer(["--count", "1"]);
  await using _ = server;
  const small = await Deno.makeTempFile({ suffix: ".jpg" });
  try {
    const { encoder } = await (await import("../lib/codec/select.ts"))
      .createEncoder("auto");
    const { drawTestPattern } = await import("../lib/image/pattern.ts");
    await Deno.writeFile(
      small,
      await encoder.encode(drawTestPattern(1, { width: 160, height: 120 }), {
        format: "jpeg",
        quality: 80,
      }),
    );
    encoder.close();
    const client = await run("client.ts", [
      "--port",
      String(port),
      "--single",
      small,
    ]);
    assert.equal(client.code, 0, client.stderr.join("\n"));
    await server.exit();
    assert.match(server.stdout.join("\n"), /frame 1: \d+ bytes 160x120 jpeg/);
  } finally {
    await Deno.remove(small);
  }
});

Deno.test("server prints its summary on SIGTERM", {
  ignore: Deno.build.os === "windows",
}, async () => {
  const { server, msgPort } = await startServer();
  await using _ = server;
  const msg = await run("msg_client.ts", [
    "--port",
    String(msgPort),
    "--count",
    "3",
  ]);
  assert.equal(msg.code, 0, msg.stderr.join("\n"));
  assert.deepEqual(msg.stdout, [
    "get the msg",
    "get the msg",
    "get the msg",
    "messages=3 replies=3",
  ]);
  await server.waitFor(/message from 127\.0\.0\.1:\d+: \[0,0,0,1\]/);
  server.kill("SIGTERM");
  const status = await server.exit();
  assert.equal(status.code, 0);
  assert.match(server.stdout.at(-1)!, SUMMARY);
});

Deno.test("Mistakes on the command line get one line and exit code 2", async () => {
  assertOneLineError(
    await run("server.ts", ["--port", "http"]),
    2,
    /--port must be an integer from 0 to 65535, got 'http'/,
  );
  assertOneLineError(
    await run("server.ts", ["--bogus"]),
    2,
    /bogus.*see --help/,
  );
  assertOneLineError(
    await run("client.ts", ["--encode", "gif"]),
    2,
    /--encode must be one of jpg, png/,
  );
  assertOneLineError(
    await run("msg_client.ts", ["--data", "[0,0,"]),
    2,
    /--data must be valid JSON/,
  );
  assertOneLineError(
    await run("client.ts", ["--chunk-size", "4"]),
    2,
    /--chunk-size must be an integer from 9 to 65507/,
  );
});

Deno.test("Client errors name the file, the limit or the server, in one line with exit code 1", async () => {
  assertOneLineError(
    await run("client.ts", ["/nonexistent/photo.jpg"]),
    1,
    /Cannot read image \/nonexistent\/photo\.jpg: no such file/,
  );
  assertOneLineError(
    await run("client.ts", [`${root}deno.json`]),
    1,
    /deno\.json: it is not a JPEG or PNG image/,
  );
  assertOneLineError(
    await run("client.ts", [
      "--single",
      `${root}tests/fixtures/hubble_deep_field.jpg`,
    ]),
    1,
    /527940 bytes and the limit is 65507; drop --single/,
  );
  assertOneLineError(
    await run("client.ts", [
      "--encode",
      "jpg",
      `${root}tests/fixtures/truncated.jpg`,
    ]),
    1,
    /Cannot decode image .*truncated\.jpg/,
  );
  // Nobody listens on port 9 here (discard); expect the timeout.
  assertOneLineError(
    await run("client.ts", [
      "--port",
      "9",
      "--timeout",
      "100",
      "--retries",
      "1",
    ]),
    1,
    /No reply from 127\.0\.0\.1:9 after 2 tries of 100 ms/,
  );
});

Deno.test("A busy port gets one line that names it", async () => {
  const { server, port } = await startServer();
  await using _ = server;
  const second = await run("server.ts", [
    "--port",
    String(port),
    "--msg-port",
    "0",
  ]);
  assert.equal(second.code, 1);
  assert.equal(second.stderr.length, 1, second.stderr.join("\n"));
  assert.match(second.stderr[0]!, new RegExp(`127\\.0\\.0\\.1:${port}`));
});

Deno.test({
  name:
    "client --camera testsrc streams distinct, decodable 1280x720 frames to a running server",
  ignore: missing("ffmpeg"),
  fn: async () => {
    const out = await Deno.makeTempDir();
    try {
      const { server, port } = await startServer([
        "--count",
        "5",
        "--out",
        out,
      ]);
      await using _ = server;
      const client = await run("client.ts", [
        "--port",
        String(port),
        "--camera",
        "testsrc",
        "--size",
        "1280x720",
        "--count",
        "5",
      ]);
      assert.equal(client.code, 0, client.stderr.join("\n"));
      assert.equal((await server.exit()).code, 0);
      const lines = server.stdout.filter((l) => / 1280x720 jpeg from /.test(l));
      assert.equal(lines.length, 5, server.stdout.join("\n"));
      const files = [...Deno.readDirSync(out)].map((e) => e.name).sort();
      const hashes = new Set<string>();
      for (const name of files) {
        const bytes = await Deno.readFile(`${out}/${name}`);
        hashes.add(
          new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).join(),
        );
      }
      assert.equal(hashes.size, 5, "every frame differs");
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test({
  name: "client --video streams a video file from start to end",
  ignore: missing("ffmpeg"),
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const video = `${dir}/clip.mp4`;
      const made = await new Deno.Command("ffmpeg", {
        args: [
          "-loglevel",
          "error",
          "-f",
          "lavfi",
          "-i",
          "testsrc2=size=320x240:rate=10",
          "-t",
          "1",
          "-pix_fmt",
          "yuv420p",
          video,
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.ok(made.success, new TextDecoder().decode(made.stderr));
      const { server, port } = await startServer();
      await using _ = server;
      const client = await run("client.ts", [
        "--port",
        String(port),
        "--video",
        video,
      ]);
      assert.equal(client.code, 0, client.stderr.join("\n"));
      const summary = /^frames=(\d+) /.exec(client.stdout.at(-1)!);
      assert.ok(summary, client.stdout.join("\n"));
      // 10 frames; a frame or two may be skipped as stale on a busy machine.
      assert.ok(
        Number(summary[1]) >= 5 && Number(summary[1]) <= 10,
        summary[0],
      );
      await server.waitFor(/frame \d+: \d+ bytes 320x240 jpeg/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "client --camera with a missing device says so in one line",
  ignore: missing("ffmpeg") || Deno.build.os !== "linux",
  fn: async () => {
    assertOneLineError(
      await run("client.ts", ["--camera", "/dev/video9", "--port", "9"]),
      1,
      /Cannot open camera \/dev\/video9/,
    );
  },
});
