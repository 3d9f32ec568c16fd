import assert from "node:assert/strict";
import { sendFrames } from "../lib/cli/link_send.ts";
import type { FrameLink } from "../lib/cli/frame_link.ts";
import type { FrameSource, SourceFrame } from "../lib/frame_source.ts";
import { ReplyTimeoutError } from "../lib/classic/requester.ts";
import { SendError } from "../lib/net/errors.ts";

function sourceOf(sizes: number[], dropped = 0): FrameSource {
  const frames: SourceFrame[] = sizes.map((size, i) => ({
    name: `f${i + 1}.jpg`,
    bytes: new Uint8Array(size),
  }));
  return {
    next: () => Promise.resolve(frames.shift()),
    dropped,
    stop() {},
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
}

function linkOf(send: FrameLink["send"]): FrameLink {
  return { send, [Symbol.asyncDispose]: () => Promise.resolve() };
}

const RUN = {
  count: Infinity,
  frameRate: 0,
  live: false,
  quiet: false,
  single: false,
  burst: 0,
  chunkSize: 1024,
};

Deno.test("sendFrames prints a line per frame with the link's answer, stops at the count, and ends with the summary", async () => {
  const lines: string[] = [];
  await sendFrames(
    sourceOf([10, 20, 30], 4),
    linkOf(() => Promise.resolve("reply: get message!!!")),
    { ...RUN, count: 2, log: (line) => lines.push(line) },
  );
  assert.deepEqual(lines.slice(0, 2), [
    "frame 1: 10 bytes, reply: get message!!!",
    "frame 2: 20 bytes, reply: get message!!!",
  ]);
  assert.match(
    lines[2]!,
    /^frames=2 seconds=[\d.]+ fps=[\d.]+ bytes=30 dropped=4$/,
  );
  assert.equal(lines.length, 3);
});

Deno.test("sendFrames with quiet prints only the summary", async () => {
  const lines: string[] = [];
  await sendFrames(sourceOf([1, 2]), linkOf(() => Promise.resolve("ok")), {
    ...RUN,
    quiet: true,
    log: (line) => lines.push(line),
  });
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^frames=2 /);
});

Deno.test("sendFrames refuses a frame too large for --single, naming it", async () => {
  await assert.rejects(
    sendFrames(sourceOf([70_000]), linkOf(() => Promise.resolve("ok")), {
      ...RUN,
      single: true,
      log: () => {},
    }),
    /Cannot send f1\.jpg in one datagram: it is 70000 bytes .*drop --single/,
  );
});

Deno.test("sendFrames suggests --burst when a large frame's reply times out, and only then", async () => {
  const timeout = () =>
    Promise.reject(
      new ReplyTimeoutError({ hostname: "127.0.0.1", port: 9999 }, 4, 100),
    );
  await assert.rejects(
    sendFrames(sourceOf([64 * 1024 + 1]), linkOf(timeout), {
      ...RUN,
      log: () => {},
    }),
    /try --burst 16$/,
  );
  await assert.rejects(
    sendFrames(sourceOf([64 * 1024 + 1]), linkOf(timeout), {
      ...RUN,
      burst: 16,
      log: () => {},
    }),
    ReplyTimeoutError,
  );
});

Deno.test("sendFrames turns a datagram too long for the OS into a line with the limits and --chunk-size", async () => {
  const tooLong = () =>
    Promise.reject(
      new SendError("message too long", {
        code: "EMSGSIZE",
        size: 20_000,
        to: { hostname: "127.0.0.1", port: 9999 },
      }),
    );
  await assert.rejects(
    sendFrames(sourceOf([1]), linkOf(tooLong), {
      ...RUN,
      chunkSize: 20_000,
      log: () => {},
    }),
    /^Error: Cannot send a 20000-byte datagram to 127\.0\.0\.1:9999: message too long for this OS .*use a smaller --chunk-size \(now 20000\)/,
  );
  // RTP's datagram size is --mtu (--chunk-size is refused with it).
  await assert.rejects(
    sendFrames(sourceOf([1]), linkOf(tooLong), {
      ...RUN,
      datagramFlag: "--mtu",
      log: () => {},
    }),
    /use a smaller --mtu \(now 20000\)/,
  );
});
