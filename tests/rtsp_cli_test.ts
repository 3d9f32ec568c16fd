import assert from "node:assert/strict";
import { UsageError } from "../lib/cli/cli.ts";
import { parseRtspUser, startRtsp } from "../lib/rtsp/cli.ts";
import { script } from "./_process.ts";

Deno.test("parseRtspUser splits at the first colon and refuses an empty user or password", () => {
  assert.deepEqual(parseRtspUser("cam:a:b"), {
    username: "cam",
    password: "a:b",
  });
  for (const bad of ["cam", ":pw", "cam:", ""]) {
    assert.throws(() => parseRtspUser(bad), UsageError, bad);
  }
});

Deno.test("startRtsp refuses --rtsp-host and --rtsp-user without --rtsp, and a bad port", async () => {
  await assert.rejects(
    () => startRtsp({ "rtsp-host": "0.0.0.0" }),
    /--rtsp-host goes with --rtsp/,
  );
  await assert.rejects(
    () => startRtsp({ "rtsp-user": "a:b" }),
    /--rtsp-user goes with --rtsp/,
  );
  await assert.rejects(
    () => startRtsp({ rtsp: "70000" }),
    /--rtsp must be an integer from 0 to 65535/,
  );
});

Deno.test("startRtsp warns beyond loopback without a password, and not with one", async () => {
  const open = await startRtsp({ rtsp: "0", "rtsp-host": "0.0.0.0" });
  try {
    assert.match(
      open!.warning!,
      /asks no password: anyone who can reach it sees the frames; add --rtsp-user/,
    );
    assert.match(open!.server.url, /^rtsp:\/\/127\.0\.0\.1:\d+\/live$/);
  } finally {
    await open?.close();
  }
  const locked = await startRtsp({
    rtsp: "0",
    "rtsp-host": "0.0.0.0",
    "rtsp-user": "cam:pw",
  });
  try {
    assert.equal(locked!.warning, undefined);
  } finally {
    await locked?.close();
  }
  const loopback = await startRtsp({ rtsp: "0" });
  try {
    assert.equal(loopback!.warning, undefined);
  } finally {
    await loopback?.close();
  }
});

Deno.test("server.ts says in one line that the RTSP port is taken", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await using server = script("server.ts", [
      "--port",
      "0",
      "--msg-port",
      "0",
      "--rtsp",
      String(taken.addr.port),
    ]);
    const status = await server.exit();
    assert.equal(status.code, 1);
    assert.match(
      server.stderr.join("\n"),
      /^error: Cannot start the RTSP server: .* is already in use, choose another port \(--rtsp \d+\)$/m,
    );
  } finally {
    taken.close();
  }
});
