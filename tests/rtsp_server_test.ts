import assert from "node:assert/strict";
import { parseRtcp } from "../lib/rtp/rtcp.ts";
import { readRtpHeader } from "../lib/rtp/packet.ts";
import { RtspClient, RtspStatusError } from "../lib/rtsp/client.ts";
import {
  RtspMessageReader,
  type RtspResponse,
  writeInterleaved,
} from "../lib/rtsp/message.ts";
import { RtspServer, type RtspServerOptions } from "../lib/rtsp/server.ts";

const photo = await Deno.readFile(
  new URL("../bench/frames/photo_640x480.jpg", import.meta.url),
);
const rocket = await Deno.readFile(
  new URL("./fixtures/rocket.jpg", import.meta.url),
);
const astronaut = await Deno.readFile(
  new URL("./fixtures/astronaut.png", import.meta.url),
);
const SENDER = "127.0.0.1:50000";

/** Publishes `bytes` every few milliseconds until stopped. */
function feed(server: RtspServer, bytes = photo, sender = SENDER) {
  const timer = setInterval(
    () => server.publish({ sender, bytes, format: "jpeg" }),
    20,
  );
  return { [Symbol.dispose]: () => clearInterval(timer) };
}

/** A hand-driven RTSP connection that sends whatever it is told. */
class RawConnection implements AsyncDisposable {
  readonly conn: Deno.TcpConn;
  readonly #reader = new RtspMessageReader({ kind: "response" });
  readonly #responses: RtspResponse[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  readonly done: Promise<void>;
  interleaved = 0;

  private constructor(conn: Deno.TcpConn, read: boolean) {
    this.conn = conn;
    this.done = read ? this.#read() : Promise.resolve();
  }

  static async open(port: number, read = true): Promise<RawConnection> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    return new RawConnection(conn, read);
  }

  async send(text: string | Uint8Array): Promise<void> {
    const bytes = typeof text === "string"
      ? new TextEncoder().encode(text)
      : text;
    let at = 0;
    while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
  }

  async response(timeoutMs = 10_000): Promise<RtspResponse> {
    const deadline = performance.now() + timeoutMs;
    while (this.#responses.length === 0) {
      if (this.#ended) throw new Error("The server closed the connection");
      if (performance.now() > deadline) throw new Error("No answer in time");
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return this.#responses.shift()!;
  }

  async request(text: string): Promise<RtspResponse> {
    await this.send(text);
    return await this.response();
  }

  /** Resolves when the server closes the connection. */
  async closedByServer(timeoutMs = 10_000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.done,
      new Promise((_, reject) =>
        timer = setTimeout(() => reject(new Error("Still open")), timeoutMs)
      ),
    ]).finally(() => clearTimeout(timer));
    assert.ok(this.#ended);
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.conn.read(buffer);
        if (n === null) break;
        this.#reader.push(buffer.subarray(0, n));
        for (let item = this.#reader.next(); item; item = this.#reader.next()) {
          if (item.type === "response") this.#responses.push(item.response);
          if (item.type === "interleaved") this.interleaved++;
        }
        this.#wake?.();
      }
    } catch {
      // Reset.
    }
    this.#ended = true;
    this.#wake?.();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // Closed by the server.
    }
    await this.done;
  }
}

function listen(options: RtspServerOptions = {}): Promise<RtspServer> {
  return RtspServer.listen({ port: 0, ...options });
}

Deno.test("RtspServer sends the same packets to TCP and UDP clients of /live and of the sender's path", async () => {
  await using server = await listen();
  await using tcp = await RtspClient.connect(server.url);
  await using udp = await RtspClient.connect(
    server.senderUrl(SENDER).replace(SENDER, "127.0.0.1_50000"),
  );
  server.publish({ sender: SENDER, bytes: photo, format: "jpeg" });
  const play = await tcp.play({ transport: "tcp" });
  assert.match(
    play.headers.get("RTP-Info")!,
    /^url=rtsp:\/\/127\.0\.0\.1:\d+\/live\/trackID=0;seq=\d+;rtptime=\d+$/,
  );
  await udp.play({ transport: "udp" });
  using _feed = feed(server);
  const [a, b] = await Promise.all([tcp.nextFrame(), udp.nextFrame()]);
  assert.equal(a.packets.length, b.packets.length);
  for (const packet of [...a.packets, ...b.packets]) {
    const header = readRtpHeader(packet);
    assert.ok(typeof header !== "string" && header.payloadType === 26);
  }
  assert.ok(
    tcp.rtcpPackets >= 1 && udp.rtcpPackets >= 1,
    "a sender report at PLAY",
  );
  assert.equal(server.stats.playing, 2);
  await tcp.teardown();
  await udp.teardown();
  assert.equal(server.stats.sessions, 0);
});

Deno.test("RtspServer finds senders by host:port, host_port and IPv6 forms, and answers 404 for others", async () => {
  await using server = await listen();
  server.publish({ sender: SENDER, bytes: photo, format: "jpeg" });
  server.publish({ sender: "[::1]:50002", bytes: photo, format: "jpeg" });
  await using raw = await RawConnection.open(server.addr.port);
  const base = `rtsp://127.0.0.1:${server.addr.port}`;
  const status = async (path: string) =>
    (await raw.request(`DESCRIBE ${base}/${path} RTSP/1.0\r\nCSeq: 1\r\n\r\n`))
      .status;
  for (
    const path of [
      "live",
      "",
      "127.0.0.1:50000",
      "127.0.0.1_50000",
      "[::1]:50002",
      "%5B::1%5D:50002",
      "::1_50002",
      "[::1]_50002",
    ]
  ) {
    assert.equal(await status(path), 200, path);
  }
  for (const path of ["127.0.0.1:50001", "nobody", "live/trackID=0"]) {
    assert.equal(await status(path), 404, path);
  }
  assert.equal(server.senderUrl("[::1]:50002"), `${base}/[::1]:50002`);
});

Deno.test("RtspServer transcodes a frame RFC 2435 cannot carry once per frame, only while someone watches", async () => {
  const calls: string[] = [];
  const notices: string[] = [];
  await using server = await listen({
    transcode: (_bytes, format) => {
      calls.push(format);
      return Promise.resolve(photo);
    },
    onNotice: (text) => notices.push(text),
  });
  server.publish({ sender: SENDER, bytes: rocket, format: "jpeg" });
  assert.deepEqual(calls, [], "no one watches yet");
  await using live = await RtspClient.connect(server.url);
  await using own = await RtspClient.connect(server.senderUrl(SENDER));
  await live.play();
  await own.play({ transport: "udp" });
  const frames = Promise.all([live.nextFrame(), own.nextFrame()]);
  server.publish({ sender: SENDER, bytes: rocket, format: "jpeg" });
  await frames;
  assert.deepEqual(calls, ["jpeg"], "one transcode serves both streams");
  const png = live.nextFrame();
  server.publish({ sender: SENDER, bytes: astronaut, format: "png" });
  await png;
  assert.deepEqual(calls, ["jpeg", "png"]);
  assert.equal(server.stats.transcoded, 2);
  assert.match(
    notices[0]!,
    /transcoded: RFC 2435 cannot carry this JPEG: it is 4:4:4/,
  );
});

Deno.test("RtspServer.close waits for a transcode under way", async () => {
  let started!: () => void;
  const transcoding = new Promise<void>((resolve) => started = resolve);
  let finish!: () => void;
  const server = await listen({
    transcode: () => {
      started();
      return new Promise((resolve) => {
        finish = () => resolve(photo);
      });
    },
  });
  try {
    await using client = await RtspClient.connect(server.url);
    server.publish({ sender: SENDER, bytes: photo, format: "jpeg" });
    await client.play();
    server.publish({ sender: SENDER, bytes: astronaut, format: "png" });
    await transcoding;
  } finally {
    let closed = false;
    const closing = server.close().then(() => closed = true);
    // Time for the sockets' loops to end: close still waits.
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    assert.equal(closed, false);
    finish();
    await closing;
  }
});

Deno.test("RtspServer without a transcoder says once that it cannot send a frame", async () => {
  const notices: string[] = [];
  await using server = await listen({ onNotice: (text) => notices.push(text) });
  await using client = await RtspClient.connect(server.url);
  server.publish({ sender: SENDER, bytes: photo, format: "jpeg" });
  await client.play();
  for (let i = 0; i < 3; i++) {
    server.publish({ sender: SENDER, bytes: astronaut, format: "png" });
  }
  assert.equal(server.stats.unsendable, 3);
  assert.equal(notices.length, 1);
  assert.match(
    notices[0]!,
    /not sent: RFC 2435 carries only JPEG, and this frame is PNG/,
  );
});

Deno.test("RtspServer answers malformed requests with RTSP errors and keeps serving a good client", async () => {
  await using server = await listen({
    requestTimeoutMs: 500,
    maxHeaderBytes: 4096,
  });
  await using good = await RtspClient.connect(server.url);
  server.publish({ sender: SENDER, bytes: photo, format: "jpeg" });
  await good.play();
  using _feed = feed(server);
  const base = `rtsp://127.0.0.1:${server.addr.port}/live`;
  await using raw = await RawConnection.open(server.addr.port);
  const cases: [string, number][] = [
    ["garbage\r\n\r\n", 400],
    ["OPTIONS * RTSP/1.0\r\n\r\n", 400],
    [`FLY ${base} RTSP/1.0\r\nCSeq: 3\r\n\r\n`, 501],
    [
      `SETUP ${base}/trackID=0 RTSP/1.0\r\nCSeq: 4\r\nTransport: RTP/AVP;multicast\r\n\r\n`,
      461,
    ],
    [
      `SETUP ${base}/trackID=0 RTSP/1.0\r\nCSeq: 5\r\nTransport: ;;;\r\n\r\n`,
      461,
    ],
    [`PLAY ${base} RTSP/1.0\r\nCSeq: 6\r\n\r\n`, 455],
    [
      `PLAY ${base} RTSP/1.0\r\nCSeq: 7\r\nSession: 0123456789abcdef\r\n\r\n`,
      454,
    ],
    [`DESCRIBE ${base} RTSP/2.0\r\nCSeq: 8\r\n\r\n`, 505],
    [
      `DESCRIBE rtsp://127.0.0.1/${
        "x".repeat(2500)
      } RTSP/1.0\r\nCSeq: 9\r\n\r\n`,
      414,
    ],
    ["\x00\x01\x02\xff\xfe\r\n\r\n", 400],
  ];
  for (const [text, status] of cases) {
    const response = await raw.request(text);
    assert.equal(response.status, status, JSON.stringify(text.slice(0, 50)));
  }
  // RTCP from the client, interleaved, unasked for: read and ignored.
  await raw.send(writeInterleaved(1, [new Uint8Array(28)]));
  await raw.send(writeInterleaved(0, [new Uint8Array(1400)]));
  assert.equal(
    (await raw.request("OPTIONS * RTSP/1.0\r\nCSeq: 10\r\n\r\n")).status,
    200,
  );
  // Headers past the limit: an answer, then the connection ends.
  await raw.send(
    `OPTIONS * RTSP/1.0\r\nCSeq: 11\r\nX-Big: ${"y".repeat(5000)}\r\n\r\n`,
  );
  assert.equal((await raw.response()).status, 400);
  await raw.closedByServer();
  // A slowloris: a request that never ends is cut off after requestTimeoutMs.
  await using slow = await RawConnection.open(server.addr.port);
  await slow.send("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n");
  assert.equal((await slow.response()).status, 408);
  await slow.closedByServer();
  // A body past the limit.
  await using big = await RawConnection.open(server.addr.port);
  await big.send(
    "SET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 999999\r\n\r\n",
  );
  assert.equal((await big.response()).status, 413);
  await big.closedByServer();
  const before = good.frames;
  await good.nextFrame();
  assert.ok(good.frames > before, "the good client still gets frames");
  assert.equal((await good.request("GET_PARAMETER")).status, 200);
});

Deno.test("RtspServer answers 503 past the connection cap, and serves again once a connection ends", async () => {
  const notices: string[] = [];
  await using server = await listen({
    maxConnections: 2,
    onNotice: (t) => notices.push(t),
  });
  const port = server.addr.port;
  const options = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n";
  const a = await RawConnection.open(port);
  await using b = await RawConnection.open(port);
  assert.equal((await a.request(options)).status, 200);
  assert.equal((await b.request(options)).status, 200);
  await using c = await RawConnection.open(port);
  const refused = await c.request(options);
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("CSeq"), "1");
  await c.closedByServer();
  assert.match(notices[0]!, /2 connections are open/);
  await a[Symbol.asyncDispose]();
  // The server sees a's end on its own time: retry until a place is free.
  let status = 503;
  for (let i = 0; i < 50 && status === 503; i++) {
    await using d = await RawConnection.open(port);
    status = (await d.request(options)).status;
  }
  assert.equal(status, 200);
});

Deno.test("RtspServer closes idle connections and silent UDP sessions, but not a playing TCP connection", async () => {
  await using server = await listen({
    idleTimeoutMs: 200,
    sessionTimeoutMs: 1000,
  });
  server.publish({ sender: SENDER, bytes: photo, format: "jpeg" });
  await using idle = await RawConnection.open(server.addr.port);
  await idle.closedByServer();
  await using tcp = await RtspClient.connect(server.url);
  await tcp.play({ transport: "tcp" });
  await using udp = await RtspClient.connect(server.url);
  await udp.play({ transport: "udp" });
  using _feed = feed(server);
  // The tiny client sends no RTCP and no keep-alive: its UDP session ends.
  const deadline = performance.now() + 10_000;
  while (server.stats.sessions > 1 && performance.now() < deadline) {
    await tcp.nextFrame();
  }
  assert.equal(server.stats.sessions, 1);
  const frames = tcp.frames;
  await tcp.nextFrame();
  assert.ok(tcp.frames > frames, "the TCP client still plays");
});

Deno.test("RtspServer keeps a UDP session alive on RTCP from its client", async () => {
  await using server = await listen({ sessionTimeoutMs: 1500 });
  server.publish({ sender: SENDER, bytes: photo, format: "jpeg" });
  await using raw = await RawConnection.open(server.addr.port);
  const rtcp = Deno.listenDatagram({
    hostname: "127.0.0.1",
    port: 0,
    transport: "udp",
  });
  const rtcpPort = (rtcp.addr as Deno.NetAddr).port;
  let closed = false;
  try {
    const base = `rtsp://127.0.0.1:${server.addr.port}/live`;
    const setup = await raw.request(
      `SETUP ${base}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;unicast;client_port=${
        rtcpPort - 1
      }-${rtcpPort}\r\n\r\n`,
    );
    assert.equal(setup.status, 200);
    const serverRtcp = Number(
      /server_port=\d+-(\d+)/.exec(setup.headers.get("Transport")!)![1],
    );
    const session = setup.headers.get("Session")!.split(";")[0]!;
    const play = await raw.request(
      `PLAY ${base} RTSP/1.0\r\nCSeq: 2\r\nSession: ${session}\r\n\r\n`,
    );
    assert.equal(play.status, 200);
    // Receiver reports every 100 ms for 3.5 s, past two session timeouts,
    // as players send them every few seconds for a timeout of a minute.
    let reports = 0;
    const receiving = (async () => {
      try {
        for (;;) {
          const [bytes] = await rtcp.receive();
          if (parseRtcp(bytes)[0]?.type === "sr") reports++;
        }
      } catch {
        // Closed.
      }
    })();
    const rr = new Uint8Array([0x80, 201, 0, 1, 0, 0, 0, 9]);
    const to = {
      transport: "udp" as const,
      hostname: "127.0.0.1",
      port: serverRtcp,
    };
    for (let i = 0; i < 35; i++) {
      await rtcp.send(rr, to);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    rtcp.close();
    closed = true;
    await receiving;
    assert.ok(reports >= 2);
    assert.equal(server.stats.sessions, 1, "alive past the session timeout");
  } finally {
    if (!closed) rtcp.close();
  }
});

Deno.test("RtspServer lets a client that stops reading skip frames, and keeps serving the others", async () => {
  await using server = await listen();
  server.publish({ sender: SENDER, bytes: photo, format: "jpeg" });
  const base = `rtsp://127.0.0.1:${server.addr.port}/live`;
  // Reads the answers to SETUP and PLAY, then never reads again.
  const stalled = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  const reader = new RtspMessageReader({ kind: "response" });
  const buffer = new Uint8Array(4096);
  const ask = async (text: string) => {
    await stalled.write(new TextEncoder().encode(text));
    for (;;) {
      const item = reader.next();
      if (item?.type === "response") return item.response;
      const n = await stalled.read(buffer);
      if (n === null) throw new Error("closed");
      reader.push(buffer.subarray(0, n));
    }
  };
  try {
    const setup = await ask(
      `SETUP ${base}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;interleaved=0-1\r\n\r\n`,
    );
    const session = setup.headers.get("Session")!.split(";")[0]!;
    await ask(
      `PLAY ${base} RTSP/1.0\r\nCSeq: 2\r\nSession: ${session}\r\n\r\n`,
    );
    await using good = await RtspClient.connect(server.url);
    await good.play({ transport: "tcp" });
    // 600 frames of 40 kB: 24 MB, far past what the socket buffers hold.
    for (let i = 0; i < 600; i++) {
      server.publish({ sender: SENDER, bytes: photo, format: "jpeg" });
      if (i % 10 === 0) await good.nextFrame();
    }
    assert.ok(
      server.stats.framesSkipped > 100,
      `skipped ${server.stats.framesSkipped}`,
    );
    assert.ok(good.frames >= 60);
  } finally {
    stalled.close();
  }
});

Deno.test("RtspServer with a password refuses the wrong one (401) and plays for the right one", async () => {
  await using server = await listen({
    credentials: { username: "cam", password: "pw" },
  });
  server.publish({ sender: SENDER, bytes: photo, format: "jpeg" });
  const port = server.addr.port;
  await using wrong = await RtspClient.connect(
    `rtsp://cam:nope@127.0.0.1:${port}/live`,
  );
  await assert.rejects(() => wrong.play(), (error: Error) => {
    assert.ok(error instanceof RtspStatusError);
    assert.equal(error.status, 401);
    return true;
  });
  await using right = await RtspClient.connect(
    `rtsp://cam:pw@127.0.0.1:${port}/live`,
  );
  await right.play();
  const frame = right.nextFrame();
  server.publish({ sender: SENDER, bytes: photo, format: "jpeg" });
  assert.ok((await frame).packets.length > 1);
});

Deno.test("RtspServer's /live moves to another sender when its sender goes silent, keeping its SSRC", async () => {
  await using server = await listen({ liveSwitchAfterMs: 100 });
  const other = "127.0.0.1:50001";
  server.publish({ sender: SENDER, bytes: photo, format: "jpeg" });
  await using live = await RtspClient.connect(server.url);
  await using own = await RtspClient.connect(server.senderUrl(other));
  server.publish({ sender: other, bytes: photo, format: "jpeg" });
  await live.play();
  await own.play();
  const ssrc = (frame: { packets: Uint8Array[] }) => {
    const header = readRtpHeader(frame.packets[0]!);
    return typeof header === "string" ? -1 : header.ssrc;
  };
  const first = live.nextFrame();
  server.publish({ sender: SENDER, bytes: photo, format: "jpeg" });
  const before = ssrc(await first);
  // Only the other sender sends now: /live follows it once SENDER has been
  // silent for 100 ms, with its own SSRC, not the other stream's.
  let frames = live.frames;
  let ownSsrc = -1;
  const deadline = performance.now() + 10_000;
  while (live.frames === frames && performance.now() < deadline) {
    const next = own.nextFrame();
    server.publish({ sender: other, bytes: photo, format: "jpeg" });
    ownSsrc = ssrc(await next);
  }
  assert.ok(live.frames > frames, "/live moved to the other sender");
  frames = live.frames;
  const after = live.nextFrame();
  server.publish({ sender: other, bytes: photo, format: "jpeg" });
  assert.equal(ssrc(await after), before);
  assert.notEqual(ownSsrc, before);
});
