import assert from "node:assert/strict";
import { Image } from "imagescript";
import {
  type Capture,
  CaptureError,
  ffmpegArgs,
  openCapture,
  parseFrameSize,
  qscaleOf,
} from "../lib/capture/ffmpeg.ts";
import { LatestSlot } from "../lib/capture/latest.ts";
import { stderrGist, StderrTail } from "../lib/capture/_stderr.ts";
import { missing } from "./_deps.ts";
import { script, withTempDir } from "./_process.ts";

const OUTPUT = [
  "-an",
  "-pix_fmt",
  "yuvj420p",
  "-f",
  "mjpeg",
  "-q:v",
  "8",
  "-flush_packets",
  "1",
  "-",
];
const PREAMBLE = ["-hide_banner", "-loglevel", "error", "-nostdin"];

/** Rejects if `promise` takes longer than `ms`: a guard against hangs, not a timing check. */
async function within<T>(
  promise: Promise<T>,
  what: string,
  ms = 20_000,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out waiting for ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function isJpeg(frame: Uint8Array): boolean {
  return frame[0] === 0xff && frame[1] === 0xd8 && frame.at(-2) === 0xff &&
    frame.at(-1) === 0xd9;
}

function processExists(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Writes `seconds` of testsrc2 at 10 fps to an MJPEG AVI and returns its path. */
async function makeVideo(dir: string, seconds: number): Promise<string> {
  const path = `${dir}/testsrc.avi`;
  const { success, stderr } = await new Deno.Command("ffmpeg", {
    args: [
      ...PREAMBLE,
      "-f",
      "lavfi",
      "-i",
      "testsrc2=size=320x240:rate=10",
      "-t",
      String(seconds),
      "-c:v",
      "mjpeg",
      path,
    ],
    stdout: "null",
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
  return path;
}

/** Resolves once `count` frames have been split; give it to `onFrame`. */
function frameCounter(count: number): {
  onFrame: (frame: Uint8Array, index: number) => void;
  reached: Promise<void>;
  last: () => Uint8Array | undefined;
} {
  const { promise, resolve } = Promise.withResolvers<void>();
  let last: Uint8Array | undefined;
  return {
    onFrame(frame, index) {
      last = frame;
      if (index + 1 >= count) resolve();
    },
    reached: promise,
    last: () => last,
  };
}

// ffmpegArgs

Deno.test("ffmpegArgs reads a V4L2 camera on Linux at the asked size and rate", () => {
  const args = ffmpegArgs({ kind: "camera", device: "/dev/video2" }, {
    platform: "linux",
    size: { width: 1280, height: 720 },
    fps: 30,
  });
  assert.deepEqual(args, [
    ...PREAMBLE,
    ...["-f", "v4l2", "-framerate", "30", "-video_size", "1280x720"],
    ...["-i", "/dev/video2"],
    ...OUTPUT,
  ]);
});

Deno.test("ffmpegArgs turns a bare camera number into /dev/videoN on Linux", () => {
  const args = ffmpegArgs({ kind: "camera", device: "0" }, {
    platform: "linux",
  });
  assert.deepEqual(args, [
    ...PREAMBLE,
    "-f",
    "v4l2",
    "-i",
    "/dev/video0",
    ...OUTPUT,
  ]);
});

Deno.test("ffmpegArgs uses AVFoundation on macOS and DirectShow on Windows", () => {
  const options = { fps: 15, size: { width: 640, height: 480 }, quality: 100 };
  const mac = ffmpegArgs({ kind: "camera", device: "0" }, {
    ...options,
    platform: "darwin",
  });
  assert.deepEqual(mac.slice(PREAMBLE.length, PREAMBLE.length + 8), [
    ...["-f", "avfoundation", "-framerate", "15", "-video_size", "640x480"],
    ...["-i", "0"],
  ]);
  assert.equal(mac[mac.indexOf("-q:v") + 1], "2");
  const windows = ffmpegArgs({ kind: "camera", device: "Integrated Camera" }, {
    ...options,
    platform: "windows",
  });
  assert.deepEqual(windows.slice(PREAMBLE.length, PREAMBLE.length + 8), [
    ...["-f", "dshow", "-framerate", "15", "-video_size", "640x480"],
    ...["-i", "video=Integrated Camera"],
  ]);
});

Deno.test("ffmpegArgs paces testsrc2 in real time with default size and rate", () => {
  assert.deepEqual(ffmpegArgs({ kind: "testsrc" }), [
    ...PREAMBLE,
    ...["-re", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=30"],
    ...OUTPUT,
  ]);
  const sized = ffmpegArgs({ kind: "testsrc" }, {
    size: { width: 1280, height: 720 },
    fps: 5,
  });
  assert.ok(sized.includes("testsrc2=size=1280x720:rate=5"));
});

Deno.test("ffmpegArgs reads a video in real time, looping it when asked", () => {
  assert.deepEqual(ffmpegArgs({ kind: "video", path: "clip.mp4" }), [
    ...PREAMBLE,
    ...["-re", "-i", "clip.mp4"],
    ...OUTPUT,
  ]);
  assert.deepEqual(
    ffmpegArgs({ kind: "video", path: "clip.mp4", loop: true }, {
      size: { width: 320, height: 240 },
      fps: 12,
    }),
    [
      ...PREAMBLE,
      ...["-re", "-stream_loop", "-1", "-i", "clip.mp4"],
      ...["-vf", "scale=320:240", "-r", "12"],
      ...OUTPUT,
    ],
  );
});

Deno.test("qscaleOf maps quality 1..100 onto ffmpeg's q:v 31..2", () => {
  assert.equal(qscaleOf(100), 2);
  assert.equal(qscaleOf(1), 31);
  assert.equal(qscaleOf(80), 8);
  for (let q = 2; q <= 100; q++) assert.ok(qscaleOf(q) <= qscaleOf(q - 1));
});

Deno.test("ffmpegArgs rejects out-of-range options with a RangeError", () => {
  const source = { kind: "testsrc" } as const;
  assert.throws(() => ffmpegArgs(source, { quality: 0 }), RangeError);
  assert.throws(() => ffmpegArgs(source, { quality: 101 }), RangeError);
  assert.throws(() => ffmpegArgs(source, { fps: 0 }), RangeError);
  assert.throws(
    () => ffmpegArgs(source, { size: { width: 0, height: 480 } }),
    RangeError,
  );
});

Deno.test("parseFrameSize reads WIDTHxHEIGHT and rejects anything else", () => {
  assert.deepEqual(parseFrameSize("1280x720"), { width: 1280, height: 720 });
  assert.deepEqual(parseFrameSize("640X480"), { width: 640, height: 480 });
  for (const bad of ["", "1280", "0x720", "x", "12.5x3", "-1x2"]) {
    assert.throws(() => parseFrameSize(bad), RangeError, bad);
  }
});

// LatestSlot

Deno.test("LatestSlot hands the newest value to a slow taker and counts the rest as stale", async () => {
  const slot = new LatestSlot<number>();
  slot.put(1);
  slot.put(2);
  slot.put(3);
  assert.equal(await slot.take(), 3);
  assert.equal(slot.stale, 2);
  const waiting = slot.take();
  slot.put(4);
  slot.put(5);
  assert.equal(await waiting, 4);
  assert.equal(await slot.take(), 5);
  assert.equal(slot.stale, 2);
});

Deno.test("LatestSlot gives the held value before ending, then undefined or the error", async () => {
  const slot = new LatestSlot<string>();
  slot.put("last");
  slot.end();
  slot.put("ignored");
  assert.equal(await slot.take(), "last");
  assert.equal(await slot.take(), undefined);

  const failing = new LatestSlot<string>();
  const waiting = failing.take();
  const error = new Error("Camera unplugged");
  failing.end(error);
  await assert.rejects(waiting, (e) => e === error);
  await assert.rejects(failing.take(), (e) => e === error);
});

Deno.test("LatestSlot rejects a second concurrent take", async () => {
  const slot = new LatestSlot<number>();
  const first = slot.take();
  await assert.rejects(slot.take(), TypeError);
  slot.end();
  assert.equal(await first, undefined);
});

// stderr handling

Deno.test("StderrTail keeps the last lines, bounded, across chunk boundaries", () => {
  const tail = new StderrTail(3);
  const text = new TextEncoder().encode(
    `one\ntwo\r\nthree\nfour\n${"x".repeat(1000)}`,
  );
  tail.push(text.subarray(0, 5));
  tail.push(text.subarray(5));
  const lines = tail.lines();
  assert.deepEqual(lines.slice(0, 3), ["two", "three", "four"]);
  assert.ok(lines[3]!.length <= 301);
});

Deno.test("stderrGist names ffmpeg's complaint in one line", () => {
  assert.equal(
    stderrGist([
      "[video4linux2,v4l2 @ 0x5638459999c0] Cannot open video device /dev/video9: No such file or directory",
      "/dev/video9: No such file or directory",
    ], "/dev/video9"),
    "No such file or directory",
  );
  assert.equal(
    stderrGist([
      '[testsrc2 @ 0x558d6fb600c0] Unable to parse option value "0x0" as image size',
      "[lavfi @ 0x558d6fb5e940] Error initializing filter 'testsrc2'",
      "testsrc2=size=0x0: Invalid argument",
    ], "testsrc2=size=0x0"),
    'Unable to parse option value "0x0" as image size: Invalid argument',
  );
  assert.equal(stderrGist([], "x"), "no error message");
});

// openCapture with a real ffmpeg

Deno.test({
  name:
    "openCapture delivers whole, decodable, distinct 1280x720 testsrc frames",
  ignore: missing("ffmpeg"),
  async fn() {
    await using capture = openCapture({ kind: "testsrc" }, {
      size: { width: 1280, height: 720 },
      fps: 30,
    });
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 4; i++) {
      const frame = await within(capture.next(), `frame ${i}`);
      assert.ok(frame !== undefined);
      frames.push(frame);
    }
    for (const frame of frames) {
      assert.ok(isJpeg(frame), "starts with SOI and ends with EOI");
      const image = await Image.decode(frame);
      assert.equal(image.width, 1280);
      assert.equal(image.height, 720);
    }
    const distinct = new Set(frames.map((f) => f.join(",")));
    assert.equal(distinct.size, frames.length, "testsrc2 moves, frames differ");
    assert.equal(capture.splitterStats.corrupt, 0);
    assert.equal(capture.splitterStats.skippedBytes, 0);
  },
});

Deno.test({
  name: "openCapture streams a video file from start to end, then ends",
  ignore: missing("ffmpeg"),
  async fn() {
    await withTempDir("udpimg_capture_", async (dir) => {
      const path = await makeVideo(dir, 2);
      const capture = openCapture({ kind: "video", path });
      let taken = 0;
      const iterate = async () => {
        for await (const frame of capture) {
          assert.ok(isJpeg(frame));
          taken++;
        }
      };
      await within(iterate(), "the end of the video");
      // 2 s at 10 fps; ffmpeg's rate conversion may add or drop one.
      assert.ok(Math.abs(capture.frames - 20) <= 1, `${capture.frames} frames`);
      assert.equal(taken + capture.stale, capture.frames);
      assert.equal(await capture.next(), undefined);
      assert.equal((await capture.status).success, true);
    });
  },
});

Deno.test({
  name: "openCapture keeps looping a video past its end",
  ignore: missing("ffmpeg"),
  async fn() {
    await withTempDir("udpimg_capture_", async (dir) => {
      const path = await makeVideo(dir, 0.5);
      const counter = frameCounter(12);
      await using capture = openCapture({ kind: "video", path, loop: true }, {
        onFrame: counter.onFrame,
      });
      await within(counter.reached, "12 frames of a 5-frame video");
      assert.ok(capture.frames >= 12);
      const frame = await within(capture.next(), "a frame after the loop");
      assert.ok(frame !== undefined && isJpeg(frame));
    });
  },
});

Deno.test({
  name:
    "openCapture drops frames a slow consumer missed and gives it the newest",
  ignore: missing("ffmpeg"),
  async fn() {
    const counter = frameCounter(8);
    await using capture = openCapture({ kind: "testsrc" }, {
      size: { width: 320, height: 240 },
      onFrame: counter.onFrame,
    });
    const first = await within(capture.next(), "the first frame");
    assert.ok(first !== undefined);
    // Busy while at least 6 more frames arrive.
    await within(counter.reached, "8 frames");
    const newest = await capture.next();
    // No I/O ran between the slot filling and this line, so nothing newer exists.
    assert.deepEqual(newest, counter.last());
    assert.equal(capture.stale, capture.frames - 2);
    assert.ok(capture.stale >= 6);
  },
});

Deno.test({
  name: "openCapture reports a missing camera in one line naming the device",
  ignore: missing("ffmpeg") || Deno.build.os !== "linux",
  async fn() {
    await using capture = openCapture({
      kind: "camera",
      device: "/dev/video9",
    });
    const error = await within(
      capture.next().then(() => undefined, (e: unknown) => e),
      "the camera error",
    );
    assert.ok(error instanceof CaptureError);
    assert.equal(error.reason, "open-failed");
    assert.match(
      error.message,
      /^Cannot open camera \/dev\/video9: No such file or directory; /,
    );
    assert.ok(!error.message.includes("\n"));
    assert.ok(error.stderr.length > 0);
  },
});

Deno.test("openCapture reports a missing ffmpeg with how to install it", () => {
  let error: unknown;
  try {
    openCapture({ kind: "testsrc" }, { ffmpegPath: "/nonexistent/ffmpeg" });
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof CaptureError);
  assert.equal(error.reason, "not-found");
  assert.equal(
    error.message,
    "ffmpeg not found at /nonexistent/ffmpeg: install it with apt-get install ffmpeg (macOS: brew install ffmpeg)",
  );
  assert.ok(error.cause instanceof Deno.errors.NotFound);
});

Deno.test({
  name:
    "openCapture reports ffmpeg dying mid-stream with its exit code and last stderr",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withTempDir("udpimg_capture_", async (dir) => {
      // A stand-in for ffmpeg that sends one frame, complains and fails.
      const fake = `${dir}/fake_ffmpeg`;
      const rocket = new URL("./fixtures/rocket.jpg", import.meta.url).pathname;
      await Deno.writeTextFile(
        fake,
        `#!/bin/sh\ncat '${rocket}'\necho 'first line' >&2\necho 'Camera unplugged' >&2\nexit 3\n`,
      );
      await Deno.chmod(fake, 0o755);
      await using capture = openCapture({
        kind: "camera",
        device: "/dev/video0",
      }, {
        ffmpegPath: fake,
        platform: "linux",
      });
      const frame = await within(capture.next(), "the one frame");
      assert.equal(frame?.length, (await Deno.readFile(rocket)).length);
      const error = await within(
        capture.next().then(() => undefined, (e: unknown) => e),
        "the exit error",
      );
      assert.ok(error instanceof CaptureError);
      assert.equal(error.reason, "exited");
      assert.equal(
        error.message,
        "ffmpeg capturing camera /dev/video0 exited with code 3 after 1 frames: first line | Camera unplugged",
      );
    });
  },
});

Deno.test({
  name: "Capture.close stops and reaps ffmpeg and is idempotent",
  ignore: missing("ffmpeg"),
  async fn() {
    const capture: Capture = openCapture({ kind: "testsrc" }, {
      size: { width: 320, height: 240 },
    });
    assert.ok(await within(capture.next(), "the first frame"));
    const closing = capture.close();
    assert.equal(capture.close(), closing);
    await within(closing, "close");
    assert.equal(await capture.next(), undefined);
    const status = await capture.status;
    assert.equal(status.success, false, "ffmpeg was stopped, not finished");
    if (Deno.build.os === "linux") assert.ok(!processExists(capture.pid));
  },
});

Deno.test({
  name:
    "Capture.close ends a waiting next and kills a process that ignores SIGTERM",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withTempDir("udpimg_capture_", async (dir) => {
      // A stand-in for a stuck ffmpeg: one frame, then silence, deaf to SIGTERM.
      const fake = `${dir}/stuck_ffmpeg`;
      const rocket = new URL("./fixtures/rocket.jpg", import.meta.url).pathname;
      await Deno.writeTextFile(
        fake,
        `#!/bin/sh\ntrap '' TERM\ncat '${rocket}'\nexec sleep 60\n`,
      );
      await Deno.chmod(fake, 0o755);
      const capture = openCapture({ kind: "testsrc" }, {
        ffmpegPath: fake,
        killGraceMs: 100,
      });
      assert.ok(await within(capture.next(), "the one frame"));
      const waiting = capture.next();
      await within(capture.close(), "close");
      assert.equal(await waiting, undefined);
      assert.equal((await capture.status).signal, "SIGKILL");
      assert.ok(!processExists(capture.pid));
    });
  },
});

Deno.test({
  name: "Capture closes when a for-await loop breaks",
  ignore: missing("ffmpeg"),
  async fn() {
    const capture = openCapture({ kind: "testsrc" }, {
      size: { width: 160, height: 120 },
    });
    const loop = async () => {
      for await (const frame of capture) {
        assert.ok(isJpeg(frame));
        break;
      }
    };
    await within(loop(), "one frame");
    await within(capture.status, "ffmpeg to exit");
    assert.equal(await capture.next(), undefined);
  },
});

// MJPEG passthrough

const COPY_OUTPUT = [
  ...["-an", "-c:v", "copy", "-f", "mjpeg", "-flush_packets", "1", "-"],
];

Deno.test("ffmpegArgs asks a V4L2 camera for MJPEG and copies its frames", () => {
  const args = ffmpegArgs({ kind: "camera", device: "0" }, {
    platform: "linux",
    size: { width: 1280, height: 720 },
    fps: 30,
    passthrough: true,
  });
  assert.deepEqual(args, [
    ...PREAMBLE,
    ...["-f", "v4l2", "-input_format", "mjpeg"],
    ...["-framerate", "30", "-video_size", "1280x720", "-i", "/dev/video0"],
    ...COPY_OUTPUT,
  ]);
});

Deno.test("ffmpegArgs asks a DirectShow camera for MJPEG with -vcodec and copies its frames", () => {
  const args = ffmpegArgs({ kind: "camera", device: "HD Webcam" }, {
    platform: "windows",
    size: { width: 1920, height: 1080 },
    passthrough: true,
  });
  assert.deepEqual(args, [
    ...PREAMBLE,
    ...["-f", "dshow", "-vcodec", "mjpeg", "-video_size", "1920x1080"],
    ...["-i", "video=HD Webcam"],
    ...COPY_OUTPUT,
  ]);
});

Deno.test("ffmpegArgs keeps raw capture as before on every OS when passthrough is off", () => {
  for (const platform of ["linux", "darwin", "windows"] as const) {
    const raw = ffmpegArgs({ kind: "camera", device: "0" }, {
      platform,
      passthrough: false,
    });
    assert.deepEqual(
      raw,
      ffmpegArgs({ kind: "camera", device: "0" }, { platform }),
    );
    assert.ok(!raw.includes("-input_format") && !raw.includes("-vcodec"));
    assert.deepEqual(raw.slice(-OUTPUT.length), OUTPUT);
  }
});

Deno.test("ffmpegArgs copies an MJPEG video's frames without rescaling or resampling", () => {
  assert.deepEqual(
    ffmpegArgs({ kind: "video", path: "clip.avi", loop: true }, {
      fps: 12,
      passthrough: true,
    }),
    [
      ...PREAMBLE,
      ...["-re", "-stream_loop", "-1", "-i", "clip.avi"],
      ...COPY_OUTPUT,
    ],
  );
});

Deno.test("ffmpegArgs refuses passthrough where there is no MJPEG to pass", () => {
  assert.throws(
    () =>
      ffmpegArgs({ kind: "camera", device: "0" }, {
        platform: "darwin",
        passthrough: true,
      }),
    /AVFoundation offers only raw pixel formats/,
  );
  assert.throws(
    () => ffmpegArgs({ kind: "testsrc" }, { passthrough: true }),
    RangeError,
  );
  assert.throws(
    () =>
      ffmpegArgs({ kind: "video", path: "a.avi" }, {
        passthrough: true,
        size: { width: 320, height: 240 },
      }),
    /Cannot rescale a video whose frames are passed through/,
  );
});

Deno.test({
  name:
    "client.ts --video forwards an MJPEG file's frames byte for byte to a real server",
  ignore: missing("ffmpeg"),
  async fn() {
    await withTempDir("udpimg_capture_", async (dir) => {
      const video = await makeVideo(dir, 1); // 10 frames, MJPEG in AVI
      const { success } = await new Deno.Command("ffmpeg", {
        args: [
          ...PREAMBLE,
          ...["-i", video, "-c:v", "copy", "-f", "image2", `${dir}/f%03d.jpg`],
        ],
      }).output();
      assert.ok(success);
      const fileFrames: string[] = [];
      for (let i = 1;; i++) {
        try {
          fileFrames.push(
            await sha256(`${dir}/f${String(i).padStart(3, "0")}.jpg`),
          );
        } catch {
          break;
        }
      }
      assert.equal(fileFrames.length, 10);
      await using server = script("server.ts", [
        ...["--port", "0", "--msg-port", "0", "--decoder", "none", "--quiet"],
        ...["--out", `${dir}/got`],
      ]);
      const [, port] = await server.waitFor(/^ready image=127\.0\.0\.1:(\d+)/);
      const client = script("client.ts", ["--port", port!, "--video", video]);
      const status = await client.exit();
      assert.ok(status.success, client.stderr.join("\n"));
      assert.ok(client.stdout.includes(
        "capture: forwarding the source's own MJPEG frames (no decode, no re-encode)",
      ));
      const sent = Number(/^frames=(\d+)/.exec(client.stdout.at(-1)!)![1]);
      const skipped = Number(
        /dropped=(\d+)/.exec(client.stdout.at(-1)!)?.[1] ?? 0,
      );
      server.kill("SIGTERM");
      await server.exit();
      const got: string[] = [];
      for (let i = 1; i <= sent; i++) {
        got.push(await sha256(`${dir}/got/${String(i).padStart(6, "0")}.jpg`));
      }
      // A stop-and-wait client sends the newest frame: every frame it sent is
      // one of the file's, in order, and only the ones it skipped are missing.
      assert.equal(sent + skipped, fileFrames.length);
      let at = 0;
      for (const hash of got) {
        at = fileFrames.indexOf(hash, at);
        assert.ok(
          at >= 0,
          "a frame on the wire that is not the file's, in order",
        );
        at++;
      }
      assert.ok(sent >= 1);
    });
  },
});

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    await Deno.readFile(path),
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}
