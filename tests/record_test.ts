import assert from "node:assert/strict";
import {
  BoundedWriter,
  DEFAULT_MAX_QUEUED_BYTES,
} from "../lib/record/bounded_writer.ts";
import { recordingFileName, safeSenderName } from "../lib/record/file_name.ts";
import {
  matroskaFrameHead,
  matroskaHeader,
  MIN_FRAME_INTERVAL_MS,
} from "../lib/record/matroska.ts";
import { MkvFile, recordingArgs } from "../lib/record/mkv_file.ts";
import { MjpegOutput } from "../lib/record/mjpeg_output.ts";
import {
  Recorder,
  type RecorderEvent,
  type RecorderOptions,
  type RecordFrame,
} from "../lib/record/recorder.ts";
import { missing } from "./_deps.ts";
import { type Child, fixture, root, script, withTempDir } from "./_process.ts";

const ROCKET = fixture("rocket.jpg"); // 640x427
const HUBBLE = fixture("hubble_deep_field.jpg"); // 1000x872
const ASTRONAUT = fixture("astronaut.png"); // 512x512
const decoder = new TextDecoder();

interface Probe {
  width: number;
  height: number;
  frames: number;
  pts: number[];
}

/** What ffprobe reads in a file: size, frames decoded, packet times. */
async function probe(path: string): Promise<Probe> {
  const { success, stdout, stderr } = await new Deno.Command("ffprobe", {
    args: [
      ...["-v", "error", "-count_frames", "-select_streams", "v:0"],
      ...[
        "-show_entries",
        "stream=width,height,nb_read_frames:packet=pts_time",
      ],
      ...["-of", "json", path],
    ],
  }).output();
  assert.ok(success, decoder.decode(stderr));
  const json = JSON.parse(decoder.decode(stdout));
  const stream = json.streams[0];
  return {
    width: stream.width,
    height: stream.height,
    frames: Number(stream.nb_read_frames),
    pts: json.packets.map((p: { pts_time: string }) => Number(p.pts_time)),
  };
}

/** Asserts that ffmpeg decodes the whole file without a word on stderr. */
async function assertPlaysToEnd(path: string): Promise<void> {
  const { success, stderr } = await new Deno.Command("ffmpeg", {
    args: ["-v", "error", "-i", path, "-f", "null", "-"],
  }).output();
  assert.ok(success);
  assert.equal(decoder.decode(stderr), "", `ffmpeg -f null on ${path}`);
}

async function mkvFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.endsWith(".mkv")) names.push(entry.name);
  }
  return names.sort();
}

async function record(
  options: Omit<RecorderOptions, "onEvent">,
  frames: readonly RecordFrame[],
): Promise<{ recorder: Recorder; events: RecorderEvent[] }> {
  const events: RecorderEvent[] = [];
  const recorder = await Recorder.open({
    ...options,
    onEvent: (event) => events.push(event),
  });
  for (const frame of frames) await recorder.record(frame);
  await recorder.close();
  return { recorder, events };
}

function frames(
  bytes: Uint8Array,
  times: readonly number[],
  sender = "127.0.0.1:50000",
): RecordFrame[] {
  return times.map((arrivalMs) => ({
    sender,
    bytes,
    format: "jpeg",
    arrivalMs,
  }));
}

/** A stand-in for ffmpeg: answers -version, then never reads its input. */
async function stuckFfmpeg(dir: string): Promise<string> {
  const path = `${dir}/stuck_ffmpeg`;
  await Deno.writeTextFile(
    path,
    '#!/bin/sh\ncase "$*" in *-version*) exit 0;; esac\nexec sleep 60\n',
  );
  await Deno.chmod(path, 0o755);
  return path;
}

// File names

Deno.test("safeSenderName makes IPv4 and IPv6 senders file-name safe", () => {
  assert.equal(safeSenderName("127.0.0.1:50000"), "127.0.0.1_50000");
  assert.equal(safeSenderName("[::1]:50000"), "__1_50000");
  assert.equal(
    safeSenderName("[fe80::1%eth0]:9999"),
    "fe80__1_eth0_9999",
  );
  assert.equal(safeSenderName("a/b\\c*?:1"), "a_b_c___1");
});

Deno.test("recordingFileName stamps the local start time, with a counter for the same second", () => {
  const date = new Date(2026, 11, 1, 7, 8, 9);
  assert.equal(
    recordingFileName("[::1]:5", date),
    "__1_5-20261201-070809.mkv",
  );
  assert.equal(
    recordingFileName("[::1]:5", date, 3),
    "__1_5-20261201-070809-3.mkv",
  );
});

// Matroska

Deno.test("matroskaFrameHead wraps a frame in a cluster whose sizes add up", () => {
  const head = matroskaFrameHead(70_000, 1000);
  // Cluster ID, then an 8-byte size that covers the rest of the head and the frame.
  assert.deepEqual([...head.subarray(0, 4)], [0x1f, 0x43, 0xb6, 0x75]);
  assert.equal(head[4], 0x01);
  const clusterSize = Number(
    new DataView(head.buffer, head.byteOffset + 5, 7).getUint32(3),
  );
  assert.equal(clusterSize, head.length - 12 + 1000);
  // Timestamp element: E7, size 3, 70000 big-endian.
  assert.deepEqual([...head.subarray(12, 17)], [0xe7, 0x83, 0x01, 0x11, 0x70]);
  assert.deepEqual([...head.subarray(-4)], [0x81, 0x00, 0x00, 0x80]);
  assert.throws(() => matroskaFrameHead(-1, 10), RangeError);
  assert.throws(() => matroskaFrameHead(1.5, 10), RangeError);
  assert.throws(() => matroskaHeader(0, 10), RangeError);
});

Deno.test({
  name: "ffprobe reads our live Matroska stream with the timestamps we wrote",
  ignore: missing("ffmpeg"),
  async fn() {
    await withTempDir("udpimg_record_", async (dir) => {
      const path = `${dir}/live.mkv`;
      const times = [0, 33, 70, 72, 500];
      const file = await Deno.open(path, { write: true, create: true });
      await file.write(matroskaHeader(640, 427));
      for (const t of times) {
        await file.write(matroskaFrameHead(t, ROCKET.length));
        await file.write(ROCKET);
      }
      file.close();
      const read = await probe(path);
      assert.deepEqual(read, {
        width: 640,
        height: 427,
        frames: times.length,
        pts: times.map((t) => t / 1000),
      });
    });
  },
});

// BoundedWriter

Deno.test("BoundedWriter writes frames in order and drops whole frames past its bound", async () => {
  const written: number[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => release = resolve);
  const stream = new WritableStream<Uint8Array>({
    async write(chunk) {
      await gate;
      written.push(chunk[0]!);
    },
  });
  const sink = new BoundedWriter(stream, { maxQueuedBytes: 10 });
  const frame = (n: number) => [Uint8Array.of(n, 0), Uint8Array.of(n, 0, 0)];
  const accepted = [1, 2, 3, 4].map((n) => sink.write(frame(n)));
  // 5 bytes each: the first two fit in 10, the others wait for room.
  assert.deepEqual(accepted, [true, true, false, false]);
  assert.equal(sink.stats.queuedBytes, 10);
  release();
  await sink.close();
  assert.deepEqual(written, [1, 1, 2, 2]);
  assert.deepEqual(sink.stats, { written: 2, dropped: 2, queuedBytes: 0 });
  assert.equal(sink.write(frame(5)), false, "closed");
  assert.equal(DEFAULT_MAX_QUEUED_BYTES, 32 * 1024 * 1024);
});

Deno.test("BoundedWriter takes one frame larger than its bound when nothing waits", async () => {
  const sink = new BoundedWriter(new WritableStream(), { maxQueuedBytes: 4 });
  assert.equal(sink.write([new Uint8Array(100)]), true);
  assert.equal(sink.write([new Uint8Array(1)]), false);
  await sink.close();
  assert.equal(sink.stats.written, 1);
});

Deno.test("BoundedWriter reports the first failed write once and then refuses frames", async () => {
  const errors: unknown[] = [];
  const stream = new WritableStream<Uint8Array>({
    write() {
      throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
    },
  });
  const sink = new BoundedWriter(stream, { onError: (e) => errors.push(e) });
  sink.write([Uint8Array.of(1)]);
  sink.write([Uint8Array.of(2)]);
  await sink.close();
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof Deno.errors.BrokenPipe);
  assert.ok(sink.failed);
  assert.equal(sink.write([Uint8Array.of(3)]), false);
  await sink.close();
});

// MkvFile and Recorder

Deno.test("recordingArgs remux stdin into the file with stream copy only", () => {
  const args = recordingArgs("out/a.mkv");
  assert.deepEqual(args.slice(args.indexOf("-f")), [
    ...["-f", "matroska", "-i", "pipe:0", "-map", "0:v:0", "-c", "copy"],
    ...["-f", "matroska", "-y", "out/a.mkv"],
  ]);
  assert.ok(!args.includes("-vcodec") && !args.includes("-c:v"));
});

Deno.test({
  name:
    "Recorder writes a file that ffprobe reads back with the frames' count, size and arrival times",
  ignore: missing("ffmpeg"),
  async fn() {
    await withTempDir("udpimg_record_", async (dir) => {
      // Arrival times relative to the first frame, with a burst (1000, 1000.4, 1001).
      const times = [5000, 5033, 5100, 6000, 6000.4, 6001, 7500];
      const { recorder, events } = await record(
        { dir, now: () => new Date(2026, 0, 2, 3, 4, 5) },
        frames(ROCKET, times),
      );
      assert.deepEqual(await mkvFiles(dir), [
        "127.0.0.1_50000-20260102-030405.mkv",
      ]);
      const path = `${dir}/127.0.0.1_50000-20260102-030405.mkv`;
      const read = await probe(path);
      assert.equal(read.width, 640);
      assert.equal(read.height, 427);
      assert.equal(read.frames, times.length);
      // Arrival order and spacing, not a fixed rate; a burst is spread by 2 ms.
      assert.deepEqual(read.pts, [0, 0.033, 0.1, 1, 1.002, 1.004, 2.5]);
      await assertPlaysToEnd(path);
      assert.deepEqual(recorder.stats, {
        files: 1,
        frames: times.length,
        dropped: 0,
        skipped: 0,
      });
      assert.deepEqual(events.map((e) => e.type), ["file", "closed"]);
      assert.equal(MIN_FRAME_INTERVAL_MS, 2);
      // Every frame is there byte for byte.
      const { success } = await new Deno.Command("ffmpeg", {
        args: [
          ...["-v", "error", "-i", path, "-c", "copy", "-f", "image2"],
          `${dir}/%03d.jpg`,
        ],
      }).output();
      assert.ok(success);
      for (let i = 1; i <= times.length; i++) {
        const name = `${dir}/${String(i).padStart(3, "0")}.jpg`;
        assert.deepEqual(await Deno.readFile(name), ROCKET, name);
      }
    });
  },
});

Deno.test({
  name: "Recorder starts a new file when a sender's frame size changes",
  ignore: missing("ffmpeg"),
  async fn() {
    await withTempDir("udpimg_record_", async (dir) => {
      let clock = 0;
      const { recorder } = await record(
        { dir, now: () => new Date(2026, 0, 1, 0, 0, clock++) },
        [
          ...frames(ROCKET, [0, 40]),
          ...frames(HUBBLE, [80, 120, 160]),
          ...frames(ROCKET, [200]),
        ],
      );
      const names = await mkvFiles(dir);
      assert.equal(names.length, 3);
      const probes = await Promise.all(names.map((n) => probe(`${dir}/${n}`)));
      assert.deepEqual(
        probes.map((p) => [p.width, p.height, p.frames]),
        [[640, 427, 2], [1000, 872, 3], [640, 427, 1]],
      );
      assert.equal(recorder.stats.files, 3);
    });
  },
});

Deno.test({
  name: "Recorder rotates segments by arrival time and keeps senders apart",
  ignore: missing("ffmpeg"),
  async fn() {
    await withTempDir("udpimg_record_", async (dir) => {
      const when = new Date(2026, 5, 7, 8, 9, 10);
      const { recorder, events } = await record(
        { dir, segmentMs: 100, now: () => when },
        [
          ...frames(ROCKET, [0, 50, 99, 100, 150, 230], "127.0.0.1:1"),
          ...frames(ROCKET, [240, 260], "[::1]:2"),
        ],
      );
      // Segments of 100 ms: [0, 50, 99], [100, 150], [230]; all in the same second.
      assert.deepEqual(await mkvFiles(dir), [
        "127.0.0.1_1-20260607-080910-2.mkv",
        "127.0.0.1_1-20260607-080910-3.mkv",
        "127.0.0.1_1-20260607-080910.mkv",
        "__1_2-20260607-080910.mkv",
      ]);
      const counts = await Promise.all(
        [
          "127.0.0.1_1-20260607-080910.mkv",
          "127.0.0.1_1-20260607-080910-2.mkv",
          "127.0.0.1_1-20260607-080910-3.mkv",
          "__1_2-20260607-080910.mkv",
        ].map(async (name) => (await probe(`${dir}/${name}`)).frames),
      );
      assert.deepEqual(counts, [3, 2, 1, 2]);
      assert.equal(recorder.stats.files, 4);
      assert.equal(events.filter((e) => e.type === "closed").length, 4);
    });
  },
});

Deno.test({
  name: "Recorder transcodes PNG frames to JPEG and skips what is not an image",
  ignore: missing("ffmpeg"),
  async fn() {
    await withTempDir("udpimg_record_", async (dir) => {
      const { recorder } = await record({ dir }, [
        { sender: "h:1", bytes: ASTRONAUT, format: "png", arrivalMs: 0 },
        {
          sender: "h:1",
          bytes: Uint8Array.of(0xff, 0xd8, 0),
          format: "jpeg",
          arrivalMs: 10,
        },
        {
          sender: "h:1",
          bytes: Uint8Array.of(1, 2, 3),
          format: "png",
          arrivalMs: 20,
        },
        { sender: "h:1", bytes: ASTRONAUT, format: "png", arrivalMs: 40 },
      ]);
      const [name] = await mkvFiles(dir);
      const read = await probe(`${dir}/${name}`);
      assert.deepEqual([read.width, read.height, read.frames], [512, 512, 2]);
      assert.equal(recorder.stats.skipped, 2);
    });
  },
});

Deno.test({
  name:
    "Recorder drops frames, counted, when ffmpeg does not keep up, and close still ends",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withTempDir("udpimg_record_", async (dir) => {
      const { recorder } = await record(
        {
          dir,
          ffmpegPath: await stuckFfmpeg(dir),
          maxQueuedBytes: 4 * ROCKET.length,
          closeTimeoutMs: 200,
        },
        frames(ROCKET, Array.from({ length: 40 }, (_, i) => i * 10)),
      );
      const { frames: queued, dropped } = recorder.stats;
      // The pipe holds a little; the queue at most 4 frames; the rest drop.
      assert.ok(dropped >= 30, `dropped ${dropped}`);
      assert.equal(queued + dropped, 40);
    });
  },
});

Deno.test({
  name: "MkvFile reports a full disk in one line with ffmpeg's reason",
  ignore: missing("ffmpeg") || Deno.build.os !== "linux",
  async fn() {
    const failed = Promise.withResolvers<Error>();
    const file = MkvFile.open("/dev/full", {
      size: { width: 640, height: 427 },
      onFailure: failed.resolve,
    });
    let t = 0;
    // Frames until ffmpeg's first write of its buffer fails.
    const timer = setInterval(() => file.write(ROCKET, t += 40), 10);
    const error = await failed.promise.finally(() => clearInterval(timer));
    await file.close();
    assert.match(
      error.message,
      /^ffmpeg writing \/dev\/full exited with code \d+ after \d+ frames: .*No space left on device/,
    );
    assert.ok(!error.message.includes("\n"));
    assert.equal(file.write(ROCKET, t + 40), false);
  },
});

Deno.test({
  name:
    "Recorder stops in one line when its ffmpeg is killed, finishing the other senders' files",
  ignore: missing("ffmpeg") || Deno.build.os === "windows",
  async fn() {
    await withTempDir("udpimg_record_", async (dir) => {
      const events: RecorderEvent[] = [];
      const stopped = Promise.withResolvers<void>();
      const recorder = await Recorder.open({
        dir,
        onEvent(event) {
          events.push(event);
          if (event.type === "stopped") stopped.resolve();
        },
      });
      for (
        const frame of [
          ...frames(ROCKET, [0], "a:1"),
          ...frames(ROCKET, [1], "b:2"),
        ]
      ) {
        await recorder.record(frame);
      }
      const victim = recorder.openFiles.find((f) => f.sender === "a:1")!;
      Deno.kill(victim.pid, "SIGKILL");
      await stopped.promise;
      await recorder.record(frames(ROCKET, [50], "b:2")[0]!);
      await recorder.close();
      const stops = events.filter((e) => e.type === "stopped");
      assert.equal(stops.length, 1);
      assert.match(
        stops[0]!.type === "stopped" ? stops[0]!.message : "",
        /^recording stopped: ffmpeg writing .*a_1-.*\.mkv was killed by SIGKILL after \d+ frames$/,
      );
      assert.equal(
        recorder.stats.skipped,
        1,
        "frames after the stop are skipped",
      );
      // b's file was finished cleanly and plays to its end.
      const b = (await mkvFiles(dir)).find((n) => n.startsWith("b_2-"))!;
      assert.equal((await probe(`${dir}/${b}`)).frames, 1);
      await assertPlaysToEnd(`${dir}/${b}`);
    });
  },
});

Deno.test("Recorder.open reports a missing ffmpeg in one line", async () => {
  await assert.rejects(
    Recorder.open({ dir: "/tmp", ffmpegPath: "/nonexistent/ffmpeg" }),
    {
      message:
        "Cannot record: ffmpeg not found at /nonexistent/ffmpeg: install it with apt-get install ffmpeg (macOS: brew install ffmpeg)",
    },
  );
});

Deno.test("Recorder.open refuses a queue bound that is not a positive integer", async () => {
  for (const maxQueuedBytes of [0, -1, 1.5]) {
    await assert.rejects(
      Recorder.open({ dir: "/tmp", maxQueuedBytes }),
      RangeError,
    );
  }
});

Deno.test("MjpegOutput stops once, in one line, when its reader goes away", async () => {
  const lines: string[] = [];
  const stream = new WritableStream<Uint8Array>({
    write() {
      throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
    },
  });
  const out = new MjpegOutput(stream, { onStop: (line) => lines.push(line) });
  await out.write({ bytes: ROCKET, format: "jpeg" });
  await out.close();
  await out.write({ bytes: ROCKET, format: "jpeg" });
  assert.deepEqual(lines, [
    "stopped writing frames to the output: its reader closed it (broken pipe); still receiving",
  ]);
  assert.ok(out.stopped);
  assert.equal(out.stats.skipped, 1);
});

// server.ts end to end

/** The ffmpeg children of a process, from /proc (through sh: Deno may not read /proc without --allow-all). */
function ffmpegChildren(pid: number): number[] {
  const { stdout } = new Deno.Command("sh", {
    args: [
      "-c",
      'for c in $(cat /proc/$0/task/*/children); do [ "$(cat /proc/$c/comm 2>/dev/null)" = ffmpeg ] && echo $c; done; true',
      String(pid),
    ],
    stderr: "null",
  }).outputSync();
  return decoder.decode(stdout).split(/\s+/).filter(Boolean).map(Number);
}

async function send(port: number, args: string[]): Promise<void> {
  const client = script("client.ts", [
    "--port",
    String(port),
    "--quiet",
    ...args,
  ]);
  const status = await client.exit();
  assert.ok(status.success, client.stderr.join("\n"));
}

Deno.test({
  name:
    "server.ts --record writes each sender's frames to a file ffprobe reads back",
  ignore: missing("ffmpeg"),
  async fn() {
    await withTempDir("udpimg_record_", async (dir) => {
      await using server = script("server.ts", [
        ...["--port", "0", "--msg-port", "0", "--decoder", "none"],
        ...["--record", dir, "--record-segment", "10"],
      ]);
      const [, port] = await server.waitFor(/^ready image=127\.0\.0\.1:(\d+)/);
      await send(Number(port), ["--count", "20", "tests/fixtures/rocket.jpg"]);
      await send(Number(port), [
        "--count",
        "5",
        "tests/fixtures/astronaut.png",
      ]);
      await server.waitFor(/^frame 25:/);
      server.kill("SIGTERM");
      assert.equal((await server.exit()).code, 0);
      await server.waitFor(/^recorded files=2 frames=25 dropped=0 skipped=0$/);
      const names = await mkvFiles(dir);
      assert.equal(names.length, 2);
      assert.ok(
        names.every((n) => /^127\.0\.0\.1_\d+-\d{8}-\d{6}\.mkv$/.test(n)),
      );
      const probes = await Promise.all(names.map((n) => probe(`${dir}/${n}`)));
      const summary = probes.map((p) => [p.width, p.height, p.frames]).sort();
      assert.deepEqual(summary, [[512, 512, 5], [640, 427, 20]]);
      for (const name of names) await assertPlaysToEnd(`${dir}/${name}`);
    });
  },
});

Deno.test({
  name: "server.ts --record-segment with a fraction of a minute rotates files",
  ignore: missing("ffmpeg"),
  async fn() {
    await withTempDir("udpimg_record_", async (dir) => {
      await using server = script("server.ts", [
        ...["--port", "0", "--msg-port", "0", "--decoder", "none", "--quiet"],
        ...["--record", dir, "--record-segment", "0.005"], // 300 ms
      ]);
      const [, port] = await server.waitFor(/^ready image=127\.0\.0\.1:(\d+)/);
      // 8 frames at 5 fps are sent over at least 1.4 s: more than one
      // segment, even if the first frame is late and the next ones catch up.
      await send(Number(port), [
        ...["--count", "8", "--fps", "5", "tests/fixtures/rocket.jpg"],
      ]);
      server.kill("SIGTERM");
      assert.equal((await server.exit()).code, 0);
      const names = await mkvFiles(dir);
      assert.ok(names.length >= 2, names.join(" "));
      let total = 0;
      for (const name of names) {
        total += (await probe(`${dir}/${name}`)).frames;
        await assertPlaysToEnd(`${dir}/${name}`);
      }
      assert.equal(total, 8);
    });
  },
});

Deno.test({
  name:
    "server.ts keeps receiving when its recording ffmpeg is killed, and says so in one line",
  ignore: missing("ffmpeg") || Deno.build.os !== "linux",
  async fn() {
    await withTempDir("udpimg_record_", async (dir) => {
      await using server = script("server.ts", [
        ...["--port", "0", "--msg-port", "0", "--decoder", "none"],
        ...["--record", dir],
      ]);
      const [, port] = await server.waitFor(/^ready image=127\.0\.0\.1:(\d+)/);
      await send(Number(port), ["--count", "3", "tests/fixtures/rocket.jpg"]);
      await server.waitFor(/^recording 127\.0\.0\.1:\d+ to /);
      const [pid] = ffmpegChildren(server.process.pid);
      assert.ok(pid !== undefined, "the server runs ffmpeg");
      Deno.kill(pid, "SIGKILL");
      await server.waitFor(/recording stopped: /);
      await send(Number(port), ["--count", "4", "tests/fixtures/rocket.jpg"]);
      await server.waitFor(/^frame 7:/);
      server.kill("SIGTERM");
      assert.equal((await server.exit()).code, 0);
      const stops = server.stderr.filter((l) => /recording stopped/.test(l));
      assert.equal(stops.length, 1, server.stderr.join("\n"));
      assert.match(
        stops[0]!,
        /^recording stopped: ffmpeg writing .*\.mkv was killed by SIGKILL after \d+ frames; still receiving$/,
      );
      assert.ok(server.stdout.some((l) => /^frames=7 /.test(l)));
      assert.equal(ffmpegChildren(server.process.pid).length, 0);
    });
  },
});

Deno.test({
  name: "server.ts --record without ffmpeg fails at start in one line",
  async fn() {
    const empty = await Deno.makeTempDir();
    try {
      const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
        args: [
          ...["run", "-P", "--quiet", `${root}server.ts`],
          ...["--port", "0", "--msg-port", "0", "--record", `${empty}/rec`],
        ],
        env: { PATH: empty },
        cwd: root,
      }).output();
      assert.equal(code, 1);
      assert.equal(decoder.decode(stdout), "");
      assert.equal(
        decoder.decode(stderr),
        "error: Cannot record: ffmpeg not found: install it with apt-get install ffmpeg (macOS: brew install ffmpeg)\n",
      );
    } finally {
      await Deno.remove(empty, { recursive: true });
    }
  },
});

/** server.ts with its stdout left to the test, and its stderr read as lines. */
function stdoutServer(args: string[]): Child {
  return script("server.ts", args, { rawStdout: true });
}

Deno.test({
  name:
    "server.ts --out - piped into ffmpeg -f mjpeg gives back every frame byte for byte",
  ignore: missing("ffmpeg"),
  async fn() {
    await withTempDir("udpimg_record_", async (dir) => {
      await using server = stdoutServer(
        ["--port", "0", "--msg-port", "0", "--decoder", "none", "--out", "-"],
      );
      const ffmpeg = new Deno.Command("ffmpeg", {
        args: [
          ...["-v", "error", "-f", "mjpeg", "-i", "-", "-c", "copy"],
          ...["-f", "image2", `${dir}/%03d.jpg`],
        ],
        stdin: "piped",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const piped = server.process.stdout.pipeTo(ffmpeg.stdin);
      const [, port] = await server.waitFor(/^ready image=127\.0\.0\.1:(\d+)/);
      const sent = ["rocket.jpg", "hubble_deep_field.jpg", "rocket.jpg"];
      await send(Number(port), sent.map((name) => `tests/fixtures/${name}`));
      await send(Number(port), ["tests/fixtures/astronaut.png"]);
      await server.waitFor(/^frame 4:/);
      server.kill("SIGTERM");
      assert.equal((await server.status).code, 0);
      await piped;
      const ffmpegDone = await ffmpeg.output();
      assert.ok(ffmpegDone.success, decoder.decode(ffmpegDone.stderr));
      for (let i = 0; i < sent.length; i++) {
        assert.deepEqual(
          await Deno.readFile(`${dir}/00${i + 1}.jpg`),
          fixture(sent[i]!),
          sent[i],
        );
      }
      // The PNG comes out as a JPEG.
      const png = await probe(`${dir}/004.jpg`);
      assert.deepEqual([png.width, png.height], [512, 512]);
      assert.ok(
        server.stderr.some((l) =>
          l === "mjpeg out frames=4 dropped=0 skipped=0"
        ),
      );
    });
  },
});

Deno.test({
  name:
    "server.ts --out - keeps receiving when its reader goes away, and says so in one line",
  async fn() {
    await using server = stdoutServer(
      ["--port", "0", "--msg-port", "0", "--decoder", "none", "--out", "-"],
    );
    const [, port] = await server.waitFor(/^ready image=127\.0\.0\.1:(\d+)/);
    // Read a little, then close the read end of the pipe.
    const reader = server.process.stdout.getReader();
    await send(Number(port), ["tests/fixtures/rocket.jpg"]);
    await reader.read();
    await reader.cancel();
    await send(Number(port), ["--count", "3", "tests/fixtures/rocket.jpg"]);
    await server.waitFor(/stopped writing frames to the output/);
    await send(Number(port), ["--count", "2", "tests/fixtures/rocket.jpg"]);
    await server.waitFor(/^frame 6:/);
    server.kill("SIGTERM");
    assert.equal((await server.status).code, 0);
    const stops = server.stderr.filter((l) => /stopped writing/.test(l));
    assert.deepEqual(stops, [
      "stopped writing frames to the output: its reader closed it (broken pipe); still receiving",
    ]);
    assert.ok(server.stderr.some((l) => /^frames=6 /.test(l)));
  },
});
