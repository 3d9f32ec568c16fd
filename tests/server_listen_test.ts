import assert from "node:assert/strict";
import { listenServer } from "../lib/cli/server_listen.ts";

Deno.test("listenServer names --port or --msg-port for a port in use, and takes free ports when it may fall back", async () => {
  const first = await listenServer({ decoder: "none" }, {
    port: 0,
    messagePort: 0,
    fallBack: false,
  });
  try {
    const port = first.imageAddr.port;
    const messagePort = first.messageAddr!.port;
    await assert.rejects(
      listenServer({ decoder: "none" }, {
        port,
        messagePort: 0,
        fallBack: false,
      }),
      (error: unknown) =>
        error instanceof Error && error.message.endsWith(`(--port ${port})`),
    );
    await assert.rejects(
      listenServer({ decoder: "none" }, {
        port: 0,
        messagePort,
        fallBack: false,
      }),
      (error: unknown) =>
        error instanceof Error &&
        error.message.endsWith(`(--msg-port ${messagePort})`),
    );
    const second = await listenServer({ decoder: "none" }, {
      port,
      messagePort,
      fallBack: true,
    });
    assert.notEqual(second.imageAddr.port, port);
    await second.close();
  } finally {
    await first.close();
  }
});
