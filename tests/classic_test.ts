import assert from "node:assert/strict";
import {
  ClassicClient,
  frameDatagrams,
  MessageClient,
} from "../lib/classic/client.ts";
import { encodeHeader } from "../lib/classic/header.ts";
import { ReplyTimeoutError } from "../lib/classic/requester.ts";
import {
  ClassicServer,
  type ClassicServerOptions,
  type ReceivedFrame,
} from "../lib/classic/server.ts";
import type { ReceivedMessage } from "../lib/classic/message.ts";
import type { DecodedImage, ImageDecoder } from "../lib/codec/types.ts";
import { openDatagramSocket } from "../lib/net/open.ts";
import { fixture } from "./_process.ts";

const LOCAL = "127.0.0.1";

async function rawSocket() {
  const socket = await openDatagramSocket({ hostname: LOCAL, port: 0 });
  return Object.assign(socket, { [Symbol.dispose]: () => socket.close() });
}

async function listen(
  options: ClassicServerOptions = {},
): Promise<ClassicServer> {
  return await ClassicServer.listen({
    hostname: LOCAL,
    port: 0,
    messagePort: 0,
    ...options,
  });
}

/** Takes `n` frames from a server, with a bound on the wait. */
async function take(
  server: ClassicServer,
  n: number,
  timeoutMs = 20_000,
): Promise<ReceivedFrame[]> {
  const frames: ReceivedFrame[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Got ${frames.length} of ${n} frames in time`)),
      timeoutMs,
    );
  });
  const collect = (async () => {
    for await (const frame of server) {
      frames.push(frame);
      if (frames.length === n) break;
    }
  })();
  try {
    await Promise.race([collect, timeout]);
  } finally {
    clearTimeout(timer);
  }
  return frames;
}

async function connect(server: ClassicServer, options = {}) {
  return await ClassicClient.connect({
    hostname: LOCAL,
    port: server.imageAddr.port,
    timeoutMs: 5000,
    ...options,
  });
}

Deno.test("frameDatagrams splits into the header and 1024-byte chunks", () => {
  const datagrams = frameDatagrams(new Uint8Array(2500));
  assert.deepEqual(datagrams.map((d) => d.length), [8, 1024, 1024, 452]);
  assert.deepEqual(datagrams[0], encodeHeader(2500));
  assert.throws(
    () => frameDatagrams(new Uint8Array(70_000), { single: true }),
    /limit is 65507 bytes/,
  );
  assert.throws(
    () => frameDatagrams(new Uint8Array(10), { chunkSize: 8 }),
    RangeError,
  );
});

Deno.test("A file sent in chunks arrives byte for byte, decoded, and is acknowledged", async () => {
  await using server = await listen();
  await using client = await connect(server);
  const rocket = fixture("rocket.jpg");
  const [reply, frames] = await Promise.all([
    client.send(rocket),
    take(server, 1),
  ]);
  assert.equal(reply, "get message!!!");
  const [frame] = frames;
  assert.deepEqual(frame!.bytes, rocket);
  assert.equal(frame!.format, "jpeg");
  assert.equal(frame!.mode, "chunked");
  assert.equal(frame!.sender, `127.0.0.1:${client.localAddr.port}`);
  assert.equal(frame!.image?.width, 640);
  assert.equal(frame!.image?.height, 427);
});

Deno.test("An image in one datagram (part 1 of the tutorial) arrives whole", async () => {
  await using server = await listen();
  await using client = await connect(server);
  const small = fixture("truncated.jpg");
  const [reply, [frame]] = await Promise.all([
    client.send(small, { single: true }),
    take(server, 1),
  ]);
  assert.equal(reply, "get message!!!");
  assert.equal(frame!.mode, "single");
  assert.deepEqual(frame!.bytes, small);
});

Deno.test("A 790 KB PNG sent back to back arrives whole, every time", async () => {
  await using server = await listen();
  await using client = await connect(server);
  const png = fixture("astronaut.png");
  const frames = take(server, 5);
  for (let i = 0; i < 5; i++) await client.send(png);
  for (const frame of await frames) assert.deepEqual(frame.bytes, png);
  assert.equal(server.stats.dropped, 0);
});

Deno.test("Interleaved clients do not corrupt each other's frames", async () => {
  await using server = await listen();
  await using a = await connect(server);
  await using b = await connect(server);
  const rocket = fixture("rocket.jpg");
  const hubble = fixture("hubble_deep_field.jpg");
  const frames = take(server, 6);
  await Promise.all([
    (async () => {
      for (let i = 0; i < 3; i++) await a.send(rocket);
    })(),
    (async () => {
      for (let i = 0; i < 3; i++) await b.send(hubble);
    })(),
  ]);
  for (const frame of await frames) {
    const expected = frame.sender.endsWith(`:${a.localAddr.port}`)
      ? rocket
      : hubble;
    assert.deepEqual(frame.bytes, expected);
  }
});

Deno.test("A frame whose reply is lost is sent again and acknowledged", async () => {
  using fake = await rawSocket();
  const batch = fake.createBatch();
  const serve = (async () => {
    // Ignore the first attempt (header and one chunk), answer the second.
    let datagrams = 0;
    while (datagrams < 4) datagrams += await fake.receive(batch);
    await fake.send(
      new TextEncoder().encode("get message!!!"),
      batch.senders[0]!,
    );
  })();
  await using client = await ClassicClient.connect({
    hostname: LOCAL,
    port: fake.addr.port,
    timeoutMs: 200,
    retries: 5,
  });
  assert.equal(
    await client.send(new Uint8Array(500).fill(1)),
    "get message!!!",
  );
  await serve;
});

Deno.test("A client gives up with ReplyTimeoutError when no server answers", async () => {
  using silent = await rawSocket();
  await using client = await ClassicClient.connect({
    hostname: LOCAL,
    port: silent.addr.port,
    timeoutMs: 50,
    retries: 2,
  });
  await assert.rejects(
    client.send(fixture("truncated.jpg")),
    (error: unknown) =>
      error instanceof ReplyTimeoutError && error.attempts === 3,
  );
});

Deno.test("The message port answers JSON, invalid JSON and invalid UTF-8", async () => {
  const messages: ReceivedMessage[] = [];
  await using server = await listen({ onMessage: (m) => messages.push(m) });
  await using client = await MessageClient.connect({
    hostname: LOCAL,
    port: server.messageAddr!.port,
    timeoutMs: 5000,
  });
  assert.equal(await client.send([0, 0, 0, 1]), "get the msg");
  const bad = await client.sendRaw(new TextEncoder().encode("[0,0,"));
  assert.match(bad, /^error: invalid JSON/);
  const binary = await client.sendRaw(new Uint8Array([0xff, 0xfe, 0x80]));
  assert.match(binary, /^error: invalid UTF-8/);
  assert.deepEqual(messages[0], {
    sender: messages[0]!.sender,
    ok: true,
    value: [0, 0, 0, 1],
  });
  assert.equal(messages.filter((m) => !m.ok).length, 2);
});

Deno.test("The server survives a battery of bad input and still serves a good client", async () => {
  await using server = await listen({ timeoutMs: 100 });
  using attacker = await rawSocket();
  const to = server.imageAddr;
  const int64 = (n: bigint) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, n, true);
    return b;
  };
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  const fakeJpeg = new Uint8Array(500);
  fakeJpeg.set([0xff, 0xd8, 0xff, 0xe0]);
  const bad = [
    random(100),
    random(1024),
    int64(2n ** 62n),
    int64(-1n),
    int64(0n),
    int64(-(2n ** 63n)),
    new Uint8Array(0),
    new Uint8Array(0),
    fakeJpeg,
    fixture("truncated.jpg"),
    int64(5000n), // a header, then silence: times out
  ];
  for (const datagram of bad) await attacker.send(datagram, to);
  // Junk on the message port too.
  const msgTo = server.messageAddr!;
  for (
    const datagram of [
      random(64),
      new TextEncoder().encode("{not json"),
      new Uint8Array(0),
    ]
  ) {
    await attacker.send(datagram, msgTo);
  }
  await using client = await connect(server);
  const rocket = fixture("rocket.jpg");
  const frames = take(server, 3);
  assert.equal(await client.send(rocket), "get message!!!");
  const [fake, truncated, good] = await frames;
  assert.ok(
    fake!.decodeError,
    "a JPEG-looking datagram that is not one fails to decode",
  );
  assert.ok(truncated!.decodeError, "a truncated JPEG fails to decode");
  assert.deepEqual(good!.bytes, rocket);
  assert.equal(good!.image?.width, 640);
  const stats = server.stats;
  assert.equal(stats.droppedBy["bad-size"], 4);
  assert.equal(stats.strays, 4);
  assert.equal(stats.errors, 2);
});

Deno.test("Replies are held back while frames wait for a slow decoder, and no frame is lost", async () => {
  let release: (() => void) | undefined;
  let gate = new Promise<void>((r) => release = r);
  const slow: ImageDecoder = {
    name: "slow",
    supports: () => true,
    async decode(): Promise<DecodedImage> {
      await gate;
      return { width: 1, height: 1, channels: 4, data: new Uint8Array(4) };
    },
    close() {},
  };
  await using server = await listen({ decoder: slow, maxPendingFrames: 2 });
  // A sender that does not wait: three frames back to back.
  using raw = await rawSocket();
  const batch = raw.createBatch();
  const image = fixture("truncated.jpg");
  for (let i = 0; i < 3; i++) await raw.send(image, server.imageAddr);
  // Two replies come at once; the third waits for a decode.
  let replies = 0;
  while (replies < 2) replies += await raw.receive(batch);
  assert.equal(replies, 2);
  const frames = take(server, 3);
  release!();
  gate = Promise.resolve();
  assert.equal(await raw.receive(batch), 1);
  assert.equal((await frames).length, 3);
  assert.equal(server.stats.decoded, 3);
});

Deno.test("A flood that overruns the queue holds one reply per sender, and honest senders are served after it", async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => release = r);
  const slow: ImageDecoder = {
    name: "gated",
    supports: () => true,
    async decode(): Promise<DecodedImage> {
      await gate;
      return { width: 1, height: 1, channels: 4, data: new Uint8Array(4) };
    },
    close() {},
  };
  await using server = await listen({
    decoder: slow,
    maxPendingFrames: 2,
    maxQueuedFrames: 4,
  });
  using flooder = await rawSocket();
  const image = fixture("truncated.jpg");
  for (let i = 0; i < 200; i++) await flooder.send(image, server.imageAddr);
  const consumed = (async () => {
    let n = 0;
    for await (const _ of server) if (++n === 4 + 5) break;
  })();
  release();
  await using client = await connect(server, { timeoutMs: 5000, retries: 0 });
  for (let i = 0; i < 5; i++) {
    assert.equal(await client.send(image), "get message!!!");
  }
  await consumed;
  assert.ok(server.stats.skipped > 0);
});

Deno.test("A callback that throws does not stop the server", async () => {
  const errors: Error[] = [];
  await using server = await listen({
    onMessage() {
      throw new Error("callback bug");
    },
    onDrop() {
      throw new Error("callback bug");
    },
    onError: (error) => errors.push(error),
  });
  using junk = await rawSocket();
  await junk.send(new Uint8Array(3), server.imageAddr);
  await using messages = await MessageClient.connect({
    hostname: LOCAL,
    port: server.messageAddr!.port,
    timeoutMs: 5000,
  });
  assert.equal(await messages.send([1]), "get the msg");
  await using client = await connect(server);
  const frames = take(server, 1);
  assert.equal(await client.send(fixture("rocket.jpg")), "get message!!!");
  assert.equal((await frames).length, 1);
  assert.ok(errors.length >= 1);
});
