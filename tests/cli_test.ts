import assert from "node:assert/strict";
import {
  fixture,
  root,
  runScript,
  startServer,
  withTempDir,
} from "./_process.ts";
import { missing } from "./_deps.ts";
import {
  errorLine,
  numberFlag,
  parseFlags,
  UsageError,
} from "../lib/cli/cli.ts";
import { hostFlag } from "../lib/cli/host_flag.ts";
import { writableDirFlag } from "../lib/cli/dir_flag.ts";

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

Deno.test("A busy port gets one line that names it and its flag", async () => {
  const { server, port, msgPort } = await startServer();
  await using _ = server;
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await eachOneLineError([
      [
        "server.ts",
        ["--port", String(port), "--msg-port", "0"],
        1,
        new RegExp(
          `127\\.0\\.0\\.1:${port}: address already in use.* \\(--port ${port}\\)$`,
        ),
      ],
      [
        "server.ts",
        ["--port", "0", "--msg-port", String(msgPort)],
        1,
        new RegExp(
          `127\\.0\\.0\\.1:${msgPort}: .* \\(--msg-port ${msgPort}\\)$`,
        ),
      ],
      [
        "server.ts",
        ["--port", "0", "--msg-port", "0", "--view", String(taken.addr.port)],
        1,
        new RegExp(`in use.* \\(--view ${taken.addr.port}\\)$`),
      ],
    ]);
  } finally {
    taken.close();
  }
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

const FLAGS = {
  port: { type: "string" },
  protocol: { type: "string" },
  out: { type: "string" },
  join: { type: "string", multiple: true },
  quiet: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

Deno.test("parseFlags answers each mistake in one line that names the flag and what to do", () => {
  const cases: [string[], RegExp][] = [
    [
      ["--prot", "5"],
      /^Unknown option --prot \(did you mean --protocol\?\); see --help$/,
    ],
    [["--bogus"], /^Unknown option --bogus; see --help$/],
    [["-x"], /^Unknown option -x; see --help$/],
    [["--port"], /^--port needs a value; see --help$/],
    [["--port", ""], /^--port is empty; give it a value/],
    [["--port="], /^--port is empty/],
    [["--out", " "], /^--out is empty/],
    [
      ["--port", "--quiet"],
      /^--port needs a value, got the option '--quiet'; .*--port=--quiet/,
    ],
    [["--quiet=yes"], /^--quiet takes no value, got '--quiet=yes'/],
    [["--help=1"], /^--help takes no value/],
    [
      ["--port", "1", "--port", "2"],
      /^--port is given twice \('1' and '2'\); give it once$/,
    ],
    [
      ["--join", "239.1.2.3", "--join", "239.1.2.3"],
      /^--join 239\.1\.2\.3 is given twice; give each value once$/,
    ],
    [
      ["extra"],
      /^Unexpected argument 'extra': this script takes only flags; see --help$/,
    ],
  ];
  for (const [args, pattern] of cases) {
    assert.throws(
      () => parseFlags(args, FLAGS),
      (error: unknown) =>
        error instanceof UsageError && !error.message.includes("\n") &&
        pattern.test(error.message),
      args.join(" "),
    );
  }
  assert.throws(
    () => parseFlags([""], FLAGS, { positionals: "FILE" }),
    /: An argument is empty; give FILE or drop it/,
  );
});

Deno.test("parseFlags takes a negative number, a lone '-' and repeated groups as values", () => {
  const { values, positionals } = parseFlags(
    ["--port", "-1", "--out", "-", "--join", "239.1.2.3", "--join", "ff02::1"],
    FLAGS,
  );
  assert.equal(values.port, "-1");
  assert.equal(values.out, "-");
  assert.deepEqual(values.join, ["239.1.2.3", "ff02::1"]);
  assert.deepEqual(positionals, []);
  assert.deepEqual(
    parseFlags(["a.jpg", "--", "--b.jpg"], FLAGS, { positionals: "IMAGE" })
      .positionals,
    ["a.jpg", "--b.jpg"],
  );
});

Deno.test("hostFlag refuses a group where one host is needed, and a malformed IPv6 address", () => {
  const one = { fallback: "127.0.0.1", refuseMulticast: "use --join" };
  assert.equal(hostFlag("host", undefined, one), "127.0.0.1");
  for (const good of ["::1", "[::1]", "example.com", "10.0.0.1"]) {
    assert.equal(hostFlag("host", good, one), good);
  }
  assert.equal(hostFlag("host", "239.1.2.3", { fallback: "" }), "239.1.2.3");
  const cases: [string, RegExp][] = [
    [
      "239.1.2.3",
      /: --host takes one host's address, and 239\.1\.2\.3 is a multicast group; use --join$/,
    ],
    ["ff02::1", /is a multicast group/],
    ["::1::2", /: --host '::1::2' is not a valid IPv6 address/],
    ["[::1]:9999", /not a valid IPv6 address .*no port/],
    ["fe80::1%eth0", /zone id/],
  ];
  for (const [value, pattern] of cases) {
    assert.throws(() => hostFlag("host", value, one), UsageError, value);
    assert.throws(() => hostFlag("host", value, one), pattern);
  }
});

Deno.test("writableDirFlag makes the directory, and names the flag for a file or one it cannot write", async () => {
  await withTempDir("udpimg-dirflag-", async (dir) => {
    await writableDirFlag("out", `${dir}/a/b`);
    assert.deepEqual([...Deno.readDirSync(`${dir}/a/b`)], [], "no probe left");
    await Deno.writeTextFile(`${dir}/file`, "");
    for (const path of [`${dir}/file`, `${dir}/file/sub`]) {
      await assert.rejects(
        () => writableDirFlag("record", path),
        /^Error: --record .*: it or a part of it is a file, not a directory; name a directory/,
      );
    }
    // root may write anywhere
    if (Deno.build.os !== "windows" && Deno.uid() !== 0) {
      await Deno.mkdir(`${dir}/ro`, { mode: 0o555 });
      await assert.rejects(
        () => writableDirFlag("out", `${dir}/ro`),
        /--out .*ro: cannot write files in it \(permission denied\)/,
      );
    }
  });
});

Deno.test("writableDirFlag says which Deno flag is missing, not to choose another directory", async () => {
  await withTempDir("udpimg-dirflag-", async (dir) => {
    const probe = `${dir}/probe.ts`;
    const module = new URL("../lib/cli/dir_flag.ts", import.meta.url).href;
    await Deno.writeTextFile(
      probe,
      `import { writableDirFlag } from "${module}";
for (const path of ${JSON.stringify([dir, `${dir}/new`])}) {
  await writableDirFlag("out", path).catch((err) => console.log(err.message));
}`,
    );
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--no-config", "--allow-read", probe],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const lines = new TextDecoder().decode(stdout).trimEnd().split("\n");
    assert.equal(lines.length, 2, lines.join("\n"));
    for (const line of lines) {
      assert.match(
        line,
        /^--out .+: cannot .+Deno may not access it \(run with -P or --allow-write\)\)?$/,
      );
    }
  });
});

/** Runs `cases` a few at a time, so the table ends in bounded time. */
async function eachOneLineError(
  cases: [string, string[], number, RegExp][],
): Promise<void> {
  const queue = [...cases];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let next; (next = queue.shift()) !== undefined;) {
        const [name, args, code, pattern] = next;
        const result = await run(name, args, 20_000);
        const what = `${name} ${args.join(" ")}: ${result.stderr.join("\n")}`;
        assert.equal(result.code, code, what);
        assert.equal(result.stderr.length, 1, what);
        assert.match(result.stderr[0]!, /^error: /, what);
        assert.doesNotMatch(result.stderr[0]!, /Uncaught|\bat \S+:\d+/, what);
        assert.match(result.stderr[0]!, pattern, what);
      }
    }),
  );
}

Deno.test("Every script answers a wrong flag with one line and exit code 2", async () => {
  const free = ["--port", "0", "--msg-port", "0"];
  await eachOneLineError([
    [
      "server.ts",
      ["--port", "-1"],
      2,
      /--port must be an integer from 0 to 65535, got '-1'/,
    ],
    [
      "server.ts",
      ["--prot", "stream"],
      2,
      /Unknown option --prot \(did you mean --protocol\?\)/,
    ],
    ["server.ts", ["--port"], 2, /--port needs a value/],
    ["server.ts", ["--port", "0", "--port", "1"], 2, /--port is given twice/],
    ["server.ts", ["extra"], 2, /Unexpected argument 'extra'/],
    ["server.ts", ["--quiet=yes"], 2, /--quiet takes no value/],
    ["server.ts", ["--out", ""], 2, /--out is empty/],
    [
      "server.ts",
      ["--timeout", "99999999999999"],
      2,
      /--timeout must be an integer from 1 to 2147483647/,
    ],
    [
      "server.ts",
      ["--port", "47100", "--msg-port", "47100"],
      2,
      /--port and --msg-port are both 47100/,
    ],
    [
      "server.ts",
      [...free, "--host", "239.1.2.3"],
      2,
      /239\.1\.2\.3 is a multicast group; to receive the group, use --join 239\.1\.2\.3/,
    ],
    [
      "server.ts",
      [...free, "--host", "::1::2"],
      2,
      /--host '::1::2' is not a valid IPv6 address/,
    ],
    [
      "server.ts",
      [...free, "--view", "0", "--view-host", "239.1.2.3"],
      2,
      /--view-host takes one host's address/,
    ],
    [
      "server.ts",
      [...free, "--rtsp", "0", "--rtsp-host", "ff02::1"],
      2,
      /--rtsp-host takes one host's address/,
    ],
    [
      "server.ts",
      ["--join", "239.1.2.3", "--join", "239.1.2.3"],
      2,
      /--join 239\.1\.2\.3 is given twice/,
    ],
    [
      "server.ts",
      ["--out", "-", "--record", "-"],
      2,
      /--record takes a directory; to write the frames to stdout, use --out -/,
    ],
    [
      "client.ts",
      ["--burst", "-1"],
      2,
      /--burst must be an integer from 0 to 1000000, got '-1'/,
    ],
    ["client.ts", ["--video", ""], 2, /--video is empty/],
    // A flag is checked before the source is opened, not after.
    [
      "client.ts",
      ["--protocol", "stream", "--fec", "999", "/nonexistent/photo.jpg"],
      2,
      /--fec must be an integer from 0 to 255, got '999'/,
    ],
    [
      "client.ts",
      ["--protocol", "rtp", "--mtu", "10", "/nonexistent/photo.jpg"],
      2,
      /--mtu must be an integer from 300 to 65507, got '10'/,
    ],
    [
      "client.ts",
      [""],
      2,
      /An argument is empty; give IMAGE \.\.\. or drop it/,
    ],
    [
      "client.ts",
      ["--host", "239.1.2.3", "--port", "9"],
      2,
      /the classic protocol waits for one server's reply; send to a group with --protocol stream or rtp/,
    ],
    [
      "client.ts",
      ["--protocol", "rtp", "--timeout", "100"],
      2,
      /--timeout goes with --protocol classic: rtp waits for no reply/,
    ],
    [
      "client.ts",
      ["--protocol", "stream", "--retries", "1"],
      2,
      /--retries goes with --protocol classic/,
    ],
    [
      "client.ts",
      ["--protocol", "stream", "--rate", "1e3"],
      2,
      /--rate must be a number from 0\.1 to 100000 \(Mbit\/s\), got '1e3'/,
    ],
    [
      "client.ts",
      ["--protocol", "rtp", "--burst", "4"],
      2,
      /--burst is for the classic protocol; RTP spreads/,
    ],
    [
      "client.ts",
      ["--size", "320x240", "a.jpg"],
      2,
      /--size goes with the test pattern, --camera or --video/,
    ],
    [
      "client.ts",
      ["--quality", "50", "a.jpg"],
      2,
      /--quality goes with --encode jpg for image files/,
    ],
    [
      "server.ts",
      ["--protocol", "classic", "--latency", "50"],
      2,
      /--latency goes with --protocol auto or stream/,
    ],
    [
      "client.ts",
      ["--camera", "list", "a.jpg"],
      2,
      /Give image files, --camera or --video, not more than one/,
    ],
    [
      "msg_client.ts",
      ["--data", "1", "--data", "2"],
      2,
      /--data is given twice/,
    ],
    ["msg_client.ts", ["extra"], 2, /Unexpected argument 'extra'/],
    [
      "msg_client.ts",
      ["--protocol", "stream", "--host", "ff02::1"],
      2,
      /each message waits for one server's reply/,
    ],
    ["lib/cli/keygen.ts", [""], 2, /An argument is empty; give FILE/],
    [
      "lib/cli/keygen.ts",
      ["--forse", "k"],
      2,
      /Unknown option --forse; see --help/,
    ],
  ]);
});

Deno.test("A file where a directory or a file is wanted gets one line naming the flag, exit code 1", async () => {
  await withTempDir("udpimg-cli-", async (dir) => {
    const file = `${dir}/file`;
    await Deno.writeTextFile(file, "");
    const free = ["--port", "0", "--msg-port", "0"];
    await eachOneLineError([
      [
        "server.ts",
        [...free, "--out", file],
        1,
        /--out .*file: it or a part of it is a file, not a directory/,
      ],
      [
        "server.ts",
        [...free, "--record", `${file}/sub`],
        1,
        /--record .*sub: it or a part of it is a file/,
      ],
      [
        "client.ts",
        ["--protocol", "rtp", "--port", "9", "--sdp", `${dir}/none/x.sdp`],
        1,
        /Cannot write the SDP file .*x\.sdp: its directory does not exist; check --sdp$/,
      ],
      [
        "client.ts",
        ["--protocol", "rtp", "--port", "9", "--sdp", dir],
        1,
        /Cannot write the SDP file .*: it is a directory; check --sdp$/,
      ],
      [
        "client.ts",
        ["--port", "9", dir],
        1,
        /Cannot read image .*: it is a directory$/,
      ],
    ]);
  });
});

Deno.test("errorLine gives the error an await using cleanup suppressed, then the cleanup's", () => {
  const error = new SuppressedError(
    new Error("Cannot close the socket"),
    new Error("Cannot send:\nno route"),
    "An error was suppressed during disposal",
  );
  assert.equal(
    errorLine(error),
    "Cannot send: no route (then, on closing: Cannot close the socket)",
  );
});

Deno.test("numberFlag takes plain decimals within bounds and names the flag, the bounds and the unit otherwise", () => {
  const range = { min: 0.1, max: 100_000, unit: "Mbit/s" };
  assert.equal(numberFlag("rate", undefined, undefined, range), undefined);
  assert.equal(numberFlag("rate", "2.5", 0, range), 2.5);
  assert.equal(numberFlag("rate", ".5", 0, range), 0.5);
  for (const bad of ["0", "abc", "1e3", "0x10", "-1", "100001", "Infinity"]) {
    assert.throws(
      () => numberFlag("rate", bad, 0, range),
      new UsageError(
        `--rate must be a number from 0.1 to 100000 (Mbit/s), got '${bad}'`,
      ),
    );
  }
});
