/**
 * Interoperability with the tutorial's own Python scripts (tests/peers), in
 * both directions, for images and for messages.
 */
import assert from "node:assert/strict";
import { ClassicClient, MessageClient } from "../lib/classic/client.ts";
import { ClassicServer, type ReceivedFrame } from "../lib/classic/server.ts";
import type { ReceivedMessage } from "../lib/classic/message.ts";
import { missing } from "./_deps.ts";
import { fixture, python, root, script } from "./_process.ts";

const ignore = missing("opencv");
const FIXTURES = `${root}tests/fixtures`;

async function take(
  server: ClassicServer,
  n: number,
): Promise<ReceivedFrame[]> {
  const frames: ReceivedFrame[] = [];
  for await (const frame of server) {
    frames.push(frame);
    if (frames.length === n) break;
  }
  return frames;
}

async function withServer<T>(
  fn: (server: ClassicServer) => Promise<T>,
  onMessage?: (message: ReceivedMessage) => void,
): Promise<T> {
  const server = await ClassicServer.listen({
    hostname: "127.0.0.1",
    port: 0,
    messagePort: 0,
    ...(onMessage ? { onMessage } : {}),
  });
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

Deno.test({
  name:
    "The tutorial's Python client sends file bytes that our server receives exactly",
  ignore,
  fn: () =>
    withServer(async (server) => {
      await using client = python("tutorial_client.py", [
        `${FIXTURES}/rocket.jpg`,
        "--raw",
        "--port",
        String(server.imageAddr.port),
        "--count",
        "3",
        "--timeout",
        "10",
      ]);
      const frames = await take(server, 3);
      const status = await client.exit();
      assert.equal(status.code, 0, client.stderr.join("\n"));
      assert.equal(
        client.stdout.filter((l) => l.endsWith("reply get message!!!")).length,
        3,
        client.stdout.join("\n"),
      );
      for (const frame of frames) {
        assert.deepEqual(frame.bytes, fixture("rocket.jpg"));
        assert.equal(frame.image?.width, 640);
      }
    }),
});

Deno.test({
  name:
    "The tutorial's Python client, re-encoding with cv2.imencode, is decoded by our server",
  ignore,
  fn: () =>
    withServer(async (server) => {
      await using client = python("tutorial_client.py", [
        `${FIXTURES}/hubble_deep_field.jpg`,
        "--port",
        String(server.imageAddr.port),
        "--count",
        "2",
        "--timeout",
        "10",
      ]);
      const frames = await take(server, 2);
      assert.equal((await client.exit()).code, 0, client.stderr.join("\n"));
      for (const frame of frames) {
        assert.equal(frame.format, "jpeg");
        assert.equal(frame.image?.width, 1000);
        assert.equal(frame.image?.height, 872);
      }
    }),
});

Deno.test({
  name:
    "A 790 KB PNG sent back to back by the tutorial's Python client arrives whole, every time",
  ignore,
  fn: () =>
    withServer(async (server) => {
      await using client = python("tutorial_client.py", [
        `${FIXTURES}/astronaut.png`,
        "--raw",
        "--port",
        String(server.imageAddr.port),
        "--count",
        "10",
        "--timeout",
        "10",
      ]);
      const frames = await take(server, 10);
      assert.equal((await client.exit()).code, 0, client.stderr.join("\n"));
      for (const frame of frames) {
        assert.deepEqual(frame.bytes, fixture("astronaut.png"));
        assert.equal(frame.image?.width, 512);
      }
      assert.equal(server.stats.dropped, 0);
    }),
});

Deno.test({
  name:
    "The tutorial's Python client in part-1 mode sends whole images in one datagram",
  ignore,
  fn: () =>
    withServer(async (server) => {
      await using client = python("tutorial_client.py", [
        "--single",
        "--size",
        "320x240",
        "--port",
        String(server.imageAddr.port),
        "--timeout",
        "10",
      ]);
      const [frame] = await take(server, 1);
      assert.equal((await client.exit()).code, 0, client.stderr.join("\n"));
      assert.equal(frame!.mode, "single");
      assert.equal(frame!.image?.width, 320);
    }),
});

Deno.test({
  name: "The tutorial's Python message client is answered by our server",
  ignore,
  fn: async () => {
    const messages: ReceivedMessage[] = [];
    await withServer(async (server) => {
      await using client = python("tutorial_msg_client.py", [
        "--port",
        String(server.messageAddr!.port),
        "--count",
        "5",
        "--timeout",
        "10",
      ]);
      assert.equal((await client.exit()).code, 0, client.stderr.join("\n"));
      assert.match(client.stdout.at(-1)!, /messages=5 replies=5/);
    }, (message) => messages.push(message));
    assert.equal(messages.length, 5);
    assert.deepEqual(
      messages.map((m) => m.ok && m.value),
      Array(5).fill([0, 0, 0, 1]),
    );
  },
});

Deno.test({
  name:
    "Our client's frames are received byte for byte by the tutorial's Python server",
  ignore,
  fn: async () => {
    const out = await Deno.makeTempDir();
    try {
      await using server = python("tutorial_server.py", [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--msg-port",
        "0",
        "--count",
        "3",
        "--out",
        out,
        "--rcvbuf",
        String(4 << 20),
        "--timeout",
        "20",
      ]);
      const ready = await server.waitFor(/^ready image=(\d+) msg=(\d+)$/);
      // The server exits after its last frame: ask the message port first.
      await using messages = await MessageClient.connect({
        hostname: "127.0.0.1",
        port: Number(ready[2]),
        timeoutMs: 5000,
      });
      assert.equal(await messages.send([0, 0, 0, 1]), "get the msg");
      await using client = await ClassicClient.connect({
        hostname: "127.0.0.1",
        port: Number(ready[1]),
        timeoutMs: 5000,
      });
      const images = ["rocket.jpg", "astronaut.png", "hubble_deep_field.jpg"];
      for (const name of images) {
        assert.equal(await client.send(fixture(name)), "get message!!!");
      }
      assert.equal((await server.exit()).code, 0, server.stderr.join("\n"));
      const saved = [...Deno.readDirSync(out)].map((e) => e.name).sort();
      assert.equal(saved.length, 3);
      for (const [i, name] of images.entries()) {
        assert.deepEqual(
          await Deno.readFile(`${out}/${saved[i]}`),
          fixture(name),
        );
      }
      assert.match(server.stdout.join("\n"), /frame 1: 112525 bytes 640x427/);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "With --burst, our client gets a 528 KB image through the tutorial's server with its default buffer",
  ignore,
  fn: async () => {
    const out = await Deno.makeTempDir();
    try {
      await using server = python("tutorial_server.py", [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--msg-port",
        "0",
        "--count",
        "2",
        "--out",
        out,
        "--timeout",
        "20",
      ]);
      const ready = await server.waitFor(/^ready image=(\d+) msg=(\d+)$/);
      await using client = script("client.ts", [
        "--port",
        ready[1]!,
        // One datagram a millisecond: the tutorial's server keeps up with
        // that even on a loaded machine, where it loses bigger bursts.
        "--burst",
        "1",
        "--count",
        "2",
        `${FIXTURES}/hubble_deep_field.jpg`,
      ]);
      assert.equal((await client.exit()).code, 0, client.stderr.join("\n"));
      assert.equal((await server.exit()).code, 0, server.stderr.join("\n"));
      for (const entry of Deno.readDirSync(out)) {
        assert.deepEqual(
          await Deno.readFile(`${out}/${entry.name}`),
          fixture("hubble_deep_field.jpg"),
        );
      }
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
