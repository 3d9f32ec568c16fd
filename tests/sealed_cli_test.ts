/**
 * Sealed streams end to end: real server.ts, client.ts and msg_client.ts
 * processes on loopback with key files, some through the lossy relay run
 * in this process, which also records what crosses it and moves the
 * client to a new port mid-stream.
 *
 * @module
 */

import assert from "node:assert/strict";
import { writeKeyFile } from "../lib/crypto/key_file.ts";
import { LossyRelay } from "../lib/net/lossy_relay.ts";
import { openDatagramSocket } from "../lib/net/open.ts";
import {
  Child,
  fixture,
  root,
  runScript,
  script,
  startServer,
  withTempDir,
} from "./_process.ts";

const run = (name: string, args: string[]) => runScript(name, args, 60_000);
const ROCKET = `${root}tests/fixtures/rocket.jpg`;
const SERVER_SUMMARY = /^frames=(\d+) .* unauthenticated=(\d+) replayed=(\d+)/;

async function keys(dir: string): Promise<{ key: string; other: string }> {
  await writeKeyFile(`${dir}/a.key`);
  await writeKeyFile(`${dir}/b.key`);
  return { key: `${dir}/a.key`, other: `${dir}/b.key` };
}

/** Budgets of seconds, so that a loaded machine loses no frame. */
const BUDGET = ["--latency", "2000"];

/** A stream of `count` rocket.jpg frames to `port`, sealed with `key`. */
function streamArgs(port: number, count: number, key?: string): string[] {
  return [
    "--protocol",
    "stream",
    "--port",
    String(port),
    "--count",
    String(count),
    "--fps",
    "0",
    ...BUDGET,
    "--quiet",
    ...(key === undefined ? [] : ["--key-file", key]),
    ROCKET,
  ];
}

/** The bytes of a JPEG's entropy-coded scan: after the SOS header. */
function scanData(jpeg: Uint8Array): Uint8Array {
  for (let i = 0; i + 3 < jpeg.length; i++) {
    if (jpeg[i] === 0xff && jpeg[i + 1] === 0xda) {
      const length = (jpeg[i + 2]! << 8) | jpeg[i + 3]!;
      return jpeg.subarray(i + 2 + length, jpeg.length - 2);
    }
  }
  throw new Error("no SOS marker");
}

const latin1 = (bytes: Uint8Array) => {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
};

/** How many 64-byte windows of the scan data appear in the capture. */
function windowsSeen(capture: Uint8Array[], scan: Uint8Array): number {
  const text = capture.map(latin1).join("\u0100");
  let seen = 0;
  for (let at = 0; at + 64 <= scan.length; at += 64) {
    if (text.includes(latin1(scan.subarray(at, at + 64)))) seen++;
  }
  return seen;
}

async function finish(server: Child): Promise<string> {
  server.kill("SIGTERM");
  const status = await server.exit(30_000);
  assert.equal(status.code, 0, server.stderr.join("\n"));
  return server.stdout.at(-1)!;
}

Deno.test("sealed: through a lossy relay every frame arrives byte-exact, and the wire never shows the JPEG's scan data", async () => {
  await withTempDir("udpimg-sealed-", async (dir) => {
    const { key } = await keys(dir);
    const out = `${dir}/out`;
    const { server, port } = await startServer([
      "--key-file",
      key,
      "--out",
      out,
      ...BUDGET,
      "--quiet",
    ]);
    await using _ = server;
    const capture: Uint8Array[] = [];
    await using relay = await LossyRelay.start({
      target: { hostname: "127.0.0.1", port },
      forward: { loss: 0.05, reorder: 0.02, duplicate: 0.01, seed: 5 },
      backward: { loss: 0.05, seed: 6 },
      tap: (bytes) => capture.push(bytes.slice()),
    });
    const client = await run("client.ts", [
      ...streamArgs(relay.addr.port, 12, key),
      "--fec",
      "8",
    ]);
    assert.equal(client.code, 0, client.stderr.join("\n"));
    assert.match(client.stdout.at(-1)!, /unauthenticated=0 replayed=\d+$/);
    const summary = SERVER_SUMMARY.exec(await finish(server));
    assert.ok(summary, server.stdout.join("\n"));
    assert.equal(summary[1], "12");
    assert.equal(summary[2], "0");
    const rocket = fixture("rocket.jpg");
    for (const entry of Deno.readDirSync(out)) {
      assert.deepEqual(await Deno.readFile(`${out}/${entry.name}`), rocket);
    }
    assert.ok(relay.stats.forward.lost > 0);
    assert.ok(capture.length > 100);
    const scan = scanData(rocket);
    assert.equal(windowsSeen(capture, scan), 0, "plaintext on the wire");
  });
});

Deno.test("sealed: the scan-data check finds the JPEG in an unsealed stream (the check itself works)", async () => {
  const { server, port } = await startServer(["--quiet"]);
  await using _ = server;
  const capture: Uint8Array[] = [];
  await using relay = await LossyRelay.start({
    target: { hostname: "127.0.0.1", port },
    tap: (bytes) => capture.push(bytes.slice()),
  });
  const client = await run("client.ts", streamArgs(relay.addr.port, 1));
  assert.equal(client.code, 0, client.stderr.join("\n"));
  await finish(server);
  const scan = scanData(fixture("rocket.jpg"));
  assert.ok(windowsSeen(capture, scan) > scan.length / 64 / 2);
});

Deno.test("sealed: a wrong key delivers no frame; the server counts and warns, the client is told", async () => {
  await withTempDir("udpimg-sealed-", async (dir) => {
    const { key, other } = await keys(dir);
    const { server, port } = await startServer(["--key-file", key]);
    await using _ = server;
    const client = await run("client.ts", streamArgs(port, 3, other));
    assert.equal(client.code, 0, client.stderr.join("\n"));
    assert.ok(
      client.stderr.some((l) =>
        l.includes("says our datagrams failed authentication")
      ),
      client.stderr.join("\n"),
    );
    const summary = SERVER_SUMMARY.exec(await finish(server));
    assert.ok(summary);
    assert.equal(summary[1], "0");
    assert.ok(Number(summary[2]) > 0);
    assert.ok(
      server.stderr.some((l) =>
        /^warning: 1 datagram from 127\.0\.0\.1:\d+ failed authentication, wrong key\?$/
          .test(l)
      ),
      server.stderr.join("\n"),
    );
  });
});

Deno.test("sealed: a captured stream replayed to the server from elsewhere delivers no frame twice", async () => {
  await withTempDir("udpimg-sealed-", async (dir) => {
    const { key } = await keys(dir);
    const { server, port } = await startServer(["--key-file", key]);
    await using _ = server;
    const capture: Uint8Array[] = [];
    await using relay = await LossyRelay.start({
      target: { hostname: "127.0.0.1", port },
      tap: (bytes, direction) => {
        if (direction === "forward") capture.push(bytes.slice());
      },
    });
    const client = await run("client.ts", streamArgs(relay.addr.port, 4, key));
    assert.equal(client.code, 0, client.stderr.join("\n"));
    await server.waitFor(/^frame 4: /);
    // Whole, then the second half again, from a port the server never saw.
    const socket = await openDatagramSocket({
      hostname: "127.0.0.1",
      port: 0,
    });
    const to = { hostname: "127.0.0.1", port };
    try {
      for (const d of capture) await socket.send(d, to);
      for (const d of capture.slice(capture.length / 2)) {
        await socket.send(d, to);
      }
    } finally {
      socket.close();
    }
    // A message after the replay, through a fresh client: once it is
    // answered, the server has read everything before it.
    const msg = await run("msg_client.ts", [
      "--protocol",
      "stream",
      "--port",
      String(port),
      "--count",
      "1",
      "--key-file",
      key,
    ]);
    assert.equal(msg.code, 0, msg.stderr.join("\n"));
    const summary = SERVER_SUMMARY.exec(await finish(server));
    assert.ok(summary, server.stdout.join("\n"));
    assert.equal(summary[1], "4");
    assert.ok(Number(summary[3]) >= capture.length, summary[0]);
  });
});

Deno.test("sealed: the client's source port changes mid-stream (NAT rebinding) and the stream carries on", async () => {
  await withTempDir("udpimg-sealed-", async (dir) => {
    const { key } = await keys(dir);
    // Unsealed, the move shows as a second sender: the relay did move it.
    for (const [sealed, names] of [[true, 1], [false, 2]] as const) {
      const { server, port } = await startServer([
        ...BUDGET,
        ...(sealed ? ["--key-file", key] : []),
      ]);
      await using _ = server;
      await using relay = await LossyRelay.start({
        target: { hostname: "127.0.0.1", port },
      });
      const client = script("client.ts", [
        "--protocol",
        "stream",
        "--port",
        String(relay.addr.port),
        "--count",
        "40",
        "--fps",
        "20",
        ...BUDGET,
        "--quiet",
        ...(sealed ? ["--key-file", key] : []),
        ROCKET,
      ]);
      await using _client = client;
      await server.waitFor(/^frame 5: /);
      await relay.rebind();
      const status = await client.exit(60_000);
      assert.equal(status.code, 0, client.stderr.join("\n"));
      const line = await finish(server);
      if (sealed) assert.match(line, /^frames=40 .* unauthenticated=0 /);
      const senders = new Set(
        server.stdout.flatMap((l) =>
          /^frame .* from (\S+)$/.exec(l)?.[1] ?? []
        ),
      );
      assert.equal(senders.size, names, [...senders].join(" "));
    }
  });
});

Deno.test("sealed: a keyed server refuses classic and RTP senders, once per sender, unless --allow-classic / --allow-rtp", async () => {
  await withTempDir("udpimg-sealed-", async (dir) => {
    const { key } = await keys(dir);
    const classic = ["--port", "0", "--count", "1", ROCKET];
    const rtp = [
      "--protocol",
      "rtp",
      "--count",
      "3",
      "--fps",
      "30",
      "--encode",
      "jpg",
      ROCKET,
    ];
    {
      const { server, port } = await startServer(["--key-file", key]);
      await using _ = server;
      const sent = await run("client.ts", [
        ...classic.slice(2),
        "--port",
        String(port),
        "--timeout",
        "300",
        "--retries",
        "1",
      ]);
      assert.notEqual(sent.code, 0);
      const streamed = await run("client.ts", [...rtp, "--port", String(port)]);
      assert.equal(streamed.code, 0, streamed.stderr.join("\n"));
      const line = await finish(server);
      assert.match(line, /^frames=0 .* refused=\d+/);
      const refusals = server.stderr.filter((l) => l.includes("refuses them"));
      assert.equal(refusals.length, 2, server.stderr.join("\n"));
      assert.match(refusals.join("\n"), /classic frames.*--allow-classic/);
      assert.match(refusals.join("\n"), /RTP.*--allow-rtp/);
    }
    {
      const { server, port } = await startServer([
        "--key-file",
        key,
        "--allow-classic",
        "--allow-rtp",
      ]);
      await using _ = server;
      const sent = await run("client.ts", [
        ...classic.slice(2),
        "--port",
        String(port),
      ]);
      assert.equal(sent.code, 0, sent.stderr.join("\n"));
      const streamed = await run("client.ts", [...rtp, "--port", String(port)]);
      assert.equal(streamed.code, 0, streamed.stderr.join("\n"));
      const line = await finish(server);
      // RTP has no repair: on a loaded machine a frame may be lost.
      const frames = Number(/^frames=(\d+) /.exec(line)?.[1]);
      assert.ok(frames >= 2, line);
      assert.ok(!/refused=/.test(line), line);
      assert.ok(
        !server.stderr.some((l) => l.includes("refuses them")),
        server.stderr.join("\n"),
      );
    }
  });
});

Deno.test("sealed: a key on one end only gives the client and msg_client a clear line, both ways", async () => {
  await withTempDir("udpimg-sealed-", async (dir) => {
    const { key } = await keys(dir);
    const message = (port: number, withKey: boolean) =>
      run("msg_client.ts", [
        "--protocol",
        "stream",
        "--port",
        String(port),
        "--count",
        "1",
        "--timeout",
        "4000",
        ...(withKey ? ["--key-file", key] : []),
      ]);
    {
      const { server, port } = await startServer([]);
      await using _ = server;
      for (
        const result of [
          await run("client.ts", streamArgs(port, 2, key)),
          await message(port, true),
        ]
      ) {
        assert.ok(
          result.stderr.some((l) =>
            l.includes("says it has no key, so it cannot open sealed datagrams")
          ),
          result.stderr.join("\n"),
        );
      }
      await finish(server);
    }
    {
      const { server, port } = await startServer(["--key-file", key]);
      await using _ = server;
      for (
        const result of [
          await run("client.ts", streamArgs(port, 2)),
          await message(port, false),
        ]
      ) {
        assert.ok(
          result.stderr.some((l) => l.includes("says it needs a key")),
          result.stderr.join("\n"),
        );
      }
      await finish(server);
    }
  });
});

Deno.test("sealed: a keyed client that hears nothing it can open says so", async () => {
  await withTempDir("udpimg-sealed-", async (dir) => {
    const { key } = await keys(dir);
    // Nothing listens there: no hint comes either.
    const hole = await openDatagramSocket({ hostname: "127.0.0.1", port: 0 });
    const result = await run("msg_client.ts", [
      "--protocol",
      "stream",
      "--port",
      String(hole.addr.port),
      "--count",
      "1",
      "--timeout",
      "4000",
      "--key-file",
      key,
    ]).finally(() => hole.close());
    assert.ok(
      result.stderr.includes(
        "warning: no reply could be authenticated within 3 s: wrong key, or the server has none?",
      ),
      result.stderr.join("\n"),
    );
  });
});

Deno.test("sealed: every kind of bad key file is one line on all three scripts, and an open one a warning", async () => {
  await withTempDir("udpimg-sealed-", async (dir) => {
    const { key } = await keys(dir);
    const files: [string, string | Uint8Array | null, RegExp][] = [
      ["missing.key", null, /no such file; make one with/],
      ["short.key", "AAAA\n", /is too short/],
      ["long.key", `${btoa("x".repeat(48))}\n`, /is too long/],
      ["bad.key", "not base64 at all!\n", /is malformed/],
      ["dir.key", "dir", /is not a regular file/],
    ];
    for (const [name, content] of files) {
      const path = `${dir}/${name}`;
      if (content === "dir") await Deno.mkdir(path);
      else if (content !== null) {
        await Deno.writeTextFile(path, content as string, { mode: 0o600 });
        await Deno.chmod(path, 0o600);
      }
    }
    const scripts: [string, string[]][] = [
      ["server.ts", ["--port", "0", "--msg-port", "0"]],
      ["client.ts", ["--protocol", "stream", "--count", "1"]],
      ["msg_client.ts", ["--protocol", "stream", "--count", "1"]],
    ];
    for (const [name, args] of scripts) {
      for (const [file, , pattern] of files) {
        const result = await run(name, [
          ...args,
          "--key-file",
          `${dir}/${file}`,
        ]);
        assert.notEqual(result.code, 0, `${name} ${file}`);
        assert.equal(result.stderr.length, 1, result.stderr.join("\n"));
        assert.match(result.stderr[0]!, /^error: /);
        assert.match(result.stderr[0]!, pattern, `${name} ${file}`);
      }
      // The variable names a key file too, and is told apart in the line.
      const env = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-P", "--quiet", `${root}${name}`, ...args],
        env: { UDPIMG_KEY_FILE: `${dir}/missing.key` },
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.match(
        new TextDecoder().decode(env.stderr),
        /^error: Cannot read key file .*missing\.key \(from UDPIMG_KEY_FILE\): no such file/,
      );
      // Unreadable: Deno may not read it.
      const denied = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-P",
          "--quiet",
          "--no-prompt",
          `--deny-read=${key}`,
          `${root}${name}`,
          ...args,
          "--key-file",
          key,
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.match(
        new TextDecoder().decode(denied.stderr),
        /^error: Cannot read key file .* Deno may not access it/,
      );
    }
    // Readable by others: the scripts go on, with ssh's warning.
    await Deno.chmod(key, 0o644);
    const result = await run("msg_client.ts", [
      "--protocol",
      "stream",
      "--port",
      "9",
      "--count",
      "1",
      "--timeout",
      "100",
      "--key-file",
      key,
    ]);
    assert.ok(
      result.stderr.includes(
        `warning: permissions 0644 for ${key} are too open; chmod 600 ${key}`,
      ),
      result.stderr.join("\n"),
    );
  });
});

Deno.test("sealed: flags that need a key, or cannot take one, are one-line usage errors", async () => {
  await withTempDir("udpimg-sealed-", async (dir) => {
    const { key } = await keys(dir);
    const cases: [string, string[], RegExp][] = [
      [
        "server.ts",
        ["--allow-classic"],
        /--allow-classic goes with --key-file/,
      ],
      ["server.ts", ["--allow-rtp"], /--allow-rtp goes with --key-file/],
      [
        "server.ts",
        ["--key-file", key, "--protocol", "classic"],
        /would refuse every sender/,
      ],
      [
        "server.ts",
        ["--key-file", key, "--demo"],
        /--demo sends the classic protocol/,
      ],
      [
        "client.ts",
        ["--key-file", key],
        /--key-file goes with --protocol stream/,
      ],
      [
        "msg_client.ts",
        ["--key-file", key],
        /--key-file goes with --protocol stream/,
      ],
      ["client.ts", [
        "--protocol",
        "stream",
        "--host",
        "239.1.2.3",
        "--count",
        "2",
      ], /give --fps N/],
    ];
    for (const [name, args, pattern] of cases) {
      const result = await run(name, args);
      assert.equal(result.code, 2, `${name} ${args.join(" ")}`);
      assert.match(result.stderr.join("\n"), pattern);
    }
  });
});
