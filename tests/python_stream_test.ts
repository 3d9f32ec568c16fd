/**
 * contrib/python/udpimg_stream.py, the stream protocol's second
 * implementation, against ours (server.ts, client.ts, msg_client.ts) in both
 * directions and against itself, directly and through a lossy relay: every
 * frame saved must be byte-exact.
 *
 * `UDPIMG_STREAM_ROOT` points the TypeScript side at another checkout (a
 * worktree of a branch not yet merged); by default it is this repository.
 */
import assert from "node:assert/strict";
import { reportOf } from "./_stream_report.ts";
import { crc32c } from "../lib/stream/crc32c.ts";
import {
  encodeMessage,
  encodeReport,
  encodeSenderReport,
  Flags,
  PacketType,
  writeChunkHeader,
  writeHeader,
} from "../lib/stream/wire.ts";
import { missing } from "./_deps.ts";
import { Child, root } from "./_process.ts";

const PY = `${root}contrib/python/udpimg_stream.py`;
const FIXTURES = `${root}tests/fixtures`;
const FILES = ["rocket.jpg", "astronaut.png", "hubble_deep_field.jpg"];
const STREAM_ROOT = (() => {
  const dir = Deno.env.get("UDPIMG_STREAM_ROOT") ?? root;
  return dir.endsWith("/") ? dir : `${dir}/`;
})();
/** Loss, duplication and reordering each way, as the issue asks. */
const LOSSY = {
  forward: { loss: 0.05, duplicate: 0.01, reorder: 0.02, seed: 11 },
  backward: { loss: 0.05, duplicate: 0.01, reorder: 0.02, seed: 12 },
};
/** Frames a second that either sender keeps up with, so that none is replaced. */
const FPS = "10";
/**
 * Latency budgets no loaded machine runs out of, so that every frame must
 * come: the receiver's, and the sender's history (which it also waits at the
 * end for a last report, that a server stopping at --count does not send).
 */
const RECEIVER_LATENCY = ["--latency", "3000"];
const SENDER_LATENCY = ["--latency", "1000"];

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Ignores a test outside CI when Python or the stream protocol is missing. */
function ignoreUnless(needsStream: boolean): boolean {
  if (missing("python3")) return true;
  if (!needsStream || Deno.env.get("CI") === "true") return false;
  if (
    exists(`${STREAM_ROOT}lib/stream/mod.ts`) &&
    exists(`${STREAM_ROOT}lib/net/lossy_relay.ts`)
  ) return false;
  console.warn(
    `ignoring a test: ${STREAM_ROOT} has no stream protocol (lib/stream, lib/net/lossy_relay.ts); set UDPIMG_STREAM_ROOT to a checkout that has it`,
  );
  return true;
}

const ignorePy = ignoreUnless(false);
const ignoreTs = ignoreUnless(true);

function py(args: string[], env: Record<string, string> = {}): Child {
  return new Child("/usr/bin/python3", ["-u", PY, ...args], { env });
}

function ts(name: string, args: string[]): Child {
  return new Child(Deno.execPath(), [
    "run",
    "-P",
    "--quiet",
    `${STREAM_ROOT}${name}`,
    ...args,
  ], { cwd: STREAM_ROOT });
}

/** A Python receiver, started and bound. */
async function pyReceiver(
  args: string[],
): Promise<{ child: Child; port: number }> {
  const child = py(["recv", "--port", "0", ...RECEIVER_LATENCY, ...args], {
    UDPIMG_DEBUG: "1",
  });
  const match = await child.waitFor(/^ready port=(\d+)$/);
  return { child, port: Number(match[1]) };
}

/** Our server on the stream protocol only, started and bound. */
async function tsServer(
  args: string[],
): Promise<{ child: Child; port: number }> {
  const child = ts("server.ts", [
    "--port",
    "0",
    "--msg-port",
    "0",
    "--protocol",
    "stream",
    "--decoder",
    "none",
    ...RECEIVER_LATENCY,
    ...args,
  ]);
  const match = await child.waitFor(/ready image=[^ ]*:(\d+)/);
  return { child, port: Number(match[1]) };
}

interface Relay {
  readonly addr: { port: number };
  close(): Promise<void>;
  readonly stats: {
    forward: { lost: number; duplicated: number; reordered: number };
    backward: { lost: number };
  };
}

/** The stream branch's lossy relay in front of `port`. */
async function lossyRelay(port: number): Promise<Relay> {
  // Imported at run time from STREAM_ROOT, so that this file type-checks
  // before the relay is on this branch.
  const module = await import(`file://${STREAM_ROOT}lib/net/lossy_relay.ts`);
  return await module.LossyRelay.start({
    target: { hostname: "127.0.0.1", port },
    ...LOSSY,
  });
}

/** The `key=value` fields of the last line that has `frames=`. */
function summary(lines: string[]): Record<string, string> {
  const line = lines.findLast((l) => /\bframes=\d/.test(l));
  assert.ok(line, `no summary line in: ${lines.join("\n")}`);
  const fields: Record<string, string> = {};
  for (const [, key, value] of line.matchAll(/(\w+)=(\S*)/g)) {
    fields[key!] = value!;
  }
  return fields;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Checks that `dir` holds exactly the files sent in turn, `count` of them. */
function assertSaved(dir: string, count: number): void {
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.equal(names.length, count, `saved: ${names.join(" ")}`);
  const originals = FILES.map((f) => Deno.readFileSync(`${FIXTURES}/${f}`));
  for (let i = 0; i < count; i++) {
    const file = FILES[i % FILES.length]!;
    const name = `${String(i + 1).padStart(6, "0")}${
      file.endsWith(".png") ? ".png" : ".jpg"
    }`;
    assert.equal(names[i], name);
    assert.ok(
      sameBytes(Deno.readFileSync(`${dir}/${name}`), originals[i % 3]!),
      `${name} differs from ${file}`,
    );
  }
}

const fixtures = FILES.map((f) => `${FIXTURES}/${f}`);

async function exited(child: Child, what: string): Promise<void> {
  const status = await child.exit(30_000);
  assert.equal(
    status.code,
    0,
    `${what} exited ${status.code}: ${child.stderr.join("\n")}`,
  );
}

type Side = "python" | "ts";

const SENDER: Record<Side, string> = {
  python: "The Python sender",
  ts: "client.ts",
};
const RECEIVER: Record<Side, string> = {
  python: "the Python receiver",
  ts: "server.ts",
};

/** Sends `count` frames of the fixtures to `port`; returns the sender's summary. */
async function send(
  from: Side,
  port: number,
  count: number,
  extra: string[] = [],
): Promise<Record<string, string>> {
  const args = [
    ...fixtures,
    "--port",
    String(port),
    "--count",
    String(count),
    "--fps",
    FPS,
    "--quiet",
    ...SENDER_LATENCY,
    ...extra,
  ];
  await using sender = from === "python"
    ? py(["send", ...args])
    : ts("client.ts", ["--protocol", "stream", ...args]);
  await exited(sender, SENDER[from]);
  return summary(sender.stdout);
}

interface Transfer {
  /** The sender's summary. */
  sent: Record<string, string>;
  /** The receiver's summary. */
  got: Record<string, string>;
  /** What the relay did, when there was one. */
  relay?: Relay["stats"];
}

/**
 * Sends `count` frames from one implementation to the other, through the
 * lossy relay when `lossy`, and checks that the receiver saved every one
 * byte-exact and lost none.
 */
async function transfer(
  from: Side,
  to: Side,
  count: number,
  options: { lossy?: boolean; senderArgs?: string[] } = {},
): Promise<Transfer> {
  const out = await Deno.makeTempDir();
  try {
    const args = ["--out", out, "--count", String(count)];
    const { child: receiver, port } = to === "python"
      ? await pyReceiver(args)
      : await tsServer(args);
    await using _ = receiver;
    const relay = options.lossy ? await lossyRelay(port) : undefined;
    try {
      const target = relay?.addr.port ?? port;
      const sent = await send(from, target, count, options.senderArgs);
      await exited(receiver, RECEIVER[to]);
      assertSaved(out, count);
      const got = summary(receiver.stdout);
      assert.equal(got.lost, "0", JSON.stringify(got));
      assert.equal(got.corrupt ?? "0", "0", JSON.stringify(got));
      assert.match(sent.rtt_ms!, /^\d/, "no RTT: the sender read no report");
      return { sent, got, ...(relay ? { relay: relay.stats } : {}) };
    } finally {
      await relay?.close();
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}

Deno.test({
  name: "Python sender with OpenCV streams a video file as JPEG frames",
  ignore: missing("opencv", "ffmpeg"),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const video = `${dir}/clip.mp4`;
      const { success } = await new Deno.Command("ffmpeg", {
        args: [
          "-loglevel",
          "error",
          "-f",
          "lavfi",
          "-i",
          "testsrc=size=320x240:rate=30",
          "-frames:v",
          "10",
          "-pix_fmt",
          "yuv420p",
          video,
        ],
        stdout: "null",
      }).output();
      assert.ok(success, "ffmpeg could not make the clip");
      const { child: receiver, port } = await pyReceiver([
        "--out",
        `${dir}/out`,
        "--count",
        "10",
      ]);
      await using _ = receiver;
      await using sender = py([
        "send",
        "--camera",
        video,
        "--port",
        String(port),
        "--fps",
        "30",
        ...SENDER_LATENCY,
      ]);
      await exited(sender, "the Python sender");
      await exited(receiver, "the Python receiver");
      assert.equal(summary(sender.stdout).frames, "10");
      for (let i = 1; i <= 10; i++) {
        const jpeg = Deno.readFileSync(
          `${dir}/out/${String(i).padStart(6, "0")}.jpg`,
        );
        assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff]);
        assert.deepEqual([...jpeg.subarray(-2)], [0xff, 0xd9]);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "Python sender to Python receiver: every frame saved byte-exact",
  ignore: ignorePy,
  async fn() {
    const { sent } = await transfer("python", "python", 9);
    assert.equal(sent.frames, "9");
    assert.equal(sent.delivered, "9");
  },
});

Deno.test({
  name: "Python sender to server.ts --protocol stream: frames saved byte-exact",
  ignore: ignoreTs,
  async fn() {
    await transfer("python", "ts", 9);
  },
});

Deno.test({
  name:
    "client.ts --protocol stream to the Python receiver: frames saved byte-exact",
  ignore: ignoreTs,
  async fn() {
    await transfer("ts", "python", 9);
  },
});

for (
  const [from, to] of [["python", "ts"], ["ts", "python"], [
    "python",
    "python",
  ]] as const
) {
  Deno.test({
    name: `${SENDER[from]} through 5% loss to ${
      RECEIVER[to]
    }: NACKs and retransmissions repair every frame`,
    ignore: ignoreTs,
    async fn() {
      const { sent, got, relay } = await transfer(from, to, 12, {
        lossy: true,
      });
      assert.ok(Number(got.recovered_nack) > 0, JSON.stringify(got));
      assert.ok(Number(sent.retransmitted) > 0, JSON.stringify(sent));
      assert.ok(relay!.forward.lost > 0 && relay!.backward.lost > 0);
      assert.ok(relay!.forward.duplicated > 0 && relay!.forward.reordered > 0);
    },
  });
}

Deno.test({
  name: "Parity from either side repairs chunks on the other through 5% loss",
  ignore: ignoreTs,
  async fn() {
    for (const [from, to] of [["python", "ts"], ["ts", "python"]] as const) {
      const { sent, got } = await transfer(from, to, 6, {
        lossy: true,
        senderArgs: ["--fec", "4"],
      });
      assert.ok(Number(sent.fec) > 0, JSON.stringify(sent));
      assert.ok(Number(got.recovered_fec) > 0, JSON.stringify(got));
    }
  },
});

Deno.test({
  name:
    "Stream messages between Python and msg_client.ts or server.ts are acknowledged",
  ignore: ignoreTs,
  async fn() {
    {
      const { child: receiver, port } = await pyReceiver([]);
      await using _ = receiver;
      await using client = ts("msg_client.ts", [
        "--protocol",
        "stream",
        "--port",
        String(port),
        "--count",
        "3",
        "--data",
        '{"x":[1,2]}',
      ]);
      await exited(client, "msg_client.ts");
      assert.ok(client.stdout.some((l) => l.includes("get the msg")));
      await receiver.waitFor(/^message stream=\w+ id=2 \{"x": \[1, 2\]\}$/);
    }
    {
      const { child: server, port } = await tsServer([]);
      await using _ = server;
      await using good = py(["msg", "--port", String(port), "--count", "3"]);
      await exited(good, "the Python message sender");
      assert.equal(
        good.stdout.filter((l) => l.endsWith(" get the msg")).length,
        3,
      );
      await using bad = py(["msg", "--port", String(port), "--data", "[1,"]);
      assert.equal((await bad.exit()).code, 2); // refused before sending
    }
  },
});

/** A UDP socket on loopback, to send hand-made datagrams from. */
function loopbackSocket(): Deno.DatagramConn {
  return Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
}

Deno.test({
  name:
    "The Python receiver answers bad JSON with an error reply and keeps going",
  ignore: ignorePy,
  async fn() {
    const { child: receiver, port } = await pyReceiver([]);
    await using _ = receiver;
    // msg refuses to send bad JSON, so send it as a raw stream message.
    const socket = loopbackSocket();
    try {
      const text = new TextEncoder().encode("[1,");
      const datagram = new Uint8Array(24 + text.length);
      datagram.set([0x55, 0x53, 1, 5]);
      datagram.set([0, 0, 0, 7], 8);
      datagram.set(text, 24);
      await socket.send(datagram, {
        transport: "udp",
        hostname: "127.0.0.1",
        port,
      });
      const [ack] = await socket.receive();
      assert.equal(ack[3], 6); // message-ack
      assert.equal(ack[12]! & 0x80, 0x80); // from the receiver
      assert.equal(ack[24], 1); // status: invalid
      const reply = new TextDecoder().decode(ack.subarray(28));
      assert.match(reply, /^error: invalid JSON/);
    } finally {
      socket.close();
    }
  },
});

/** Stream datagrams a hostile or broken peer might send. */
function hostileDatagrams(seed: number): Uint8Array[] {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const data = (fields: number[]) => {
    const bytes = new Uint8Array(48 + (fields[7] ?? 0));
    const view = new DataView(bytes.buffer);
    bytes.set([0x55, 0x53, 1, 1]);
    view.setUint32(8, 0xbad);
    view.setUint32(20, fields[0]!); // frame id
    view.setUint16(24, fields[1]!); // index
    view.setUint16(26, fields[2]!); // count
    view.setUint32(28, fields[3]!); // length
    return bytes;
  };
  const out: Uint8Array[] = [
    new Uint8Array(0),
    new Uint8Array([0x55, 0x53, 1]),
    new Uint8Array([0x55, 0x53, 2, 1, ...new Array(60).fill(0)]), // version 2
    new Uint8Array([0x55, 0x53, 1, 9, ...new Array(60).fill(0)]), // type 9
    new Uint8Array([0x55, 0x53, 1, 1, 0x80, ...new Array(60).fill(0)]), // flag
    new Uint8Array([0x55, 0x53, 1, 1, 0x01, ...new Array(60).fill(0)]), // sealed
    data([0, 0, 1, 0xffffffff, 0, 0, 0, 16]), // 4 GiB claimed
    data([0, 0, 65535, 64 << 20, 0, 0, 0, 1024]), // 64 MiB frame, a chunk
    data([0, 5, 3, 10, 0, 0, 0, 4]), // index past count
    data([0, 0, 0, 10, 0, 0, 0, 10]), // no chunks
    data([0, 0, 20, 10, 0, 0, 0, 1]), // more chunks than bytes
    data([0x7fffffff, 0, 1, 5, 0, 0, 0, 5]), // a far jump
  ];
  // Headers that claim a new 1 MiB frame each, far apart: bounded memory.
  for (let k = 0; k < 300; k++) {
    out.push(data([k * 5000, 0, 1024, 1 << 20, 0, 0, 0, 1024]));
  }
  // Random bytes after a valid fixed header of every type and direction.
  for (let k = 0; k < 2000; k++) {
    const bytes = new Uint8Array(20 + Math.floor(random() * 120));
    for (let i = 0; i < bytes.length; i++) bytes[i] = random() * 256;
    bytes.set([0x55, 0x53, 1, 1 + Math.floor(random() * 8), 0]);
    out.push(bytes);
  }
  return out;
}

Deno.test({
  name: "The Python receiver drops hostile datagrams and still saves a stream",
  ignore: ignorePy,
  async fn() {
    const out = await Deno.makeTempDir();
    try {
      const { child: receiver, port } = await pyReceiver([
        "--out",
        out,
        "--count",
        "3",
        "--max-frame-bytes",
        String(16 << 20),
      ]);
      await using _ = receiver;
      const socket = loopbackSocket();
      try {
        const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
        let sent = 0;
        for (const datagram of hostileDatagrams(5)) {
          await socket.send(datagram, to);
          // Paced, so that the receiver's buffer holds them all.
          if (++sent % 64 === 0) await new Promise((r) => setTimeout(r, 2));
        }
      } finally {
        socket.close();
      }
      await send("python", port, 3);
      await exited(receiver, "the Python receiver");
      assertSaved(out, 3);
      const got = summary(receiver.stdout);
      assert.match(got.dropped!, /^[1-9]\d*\(/);
      assert.doesNotMatch(got.dropped!, /internal-error/);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

/** CRC-32C one bit at a time: the reference for the table-driven code. */
function crc32cBitwise(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

Deno.test({
  name: "The Python CRC-32C matches RFC 3720's vectors and a bitwise reference",
  ignore: ignorePy,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const cases: [string, Uint8Array, number | undefined][] = [
        ["check", new TextEncoder().encode("123456789"), 0xe3069283],
        ["zeros", new Uint8Array(32), 0x8a9136aa],
        ["ones", new Uint8Array(32).fill(0xff), 0x62a8ab43],
        ["ascending", Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
      ];
      let seed = 1;
      for (const length of [1, 1023, 1024, 1025, 4096 + 17, 300_001]) {
        const bytes = new Uint8Array(length);
        for (let i = 0; i < length; i++) {
          seed = (seed * 1103515245 + 12345) >>> 0;
          bytes[i] = seed >>> 24;
        }
        cases.push([`random${length}`, bytes, undefined]);
      }
      for (const [name, bytes] of cases) {
        Deno.writeFileSync(`${dir}/${name}`, bytes);
      }
      await using child = py([
        "crc32c",
        ...cases.map(([name]) => `${dir}/${name}`),
      ]);
      await exited(child, "crc32c");
      assert.equal(child.stdout.length, cases.length);
      for (const [i, [name, bytes, known]] of cases.entries()) {
        const expected = known ?? crc32cBitwise(bytes);
        assert.equal(crc32cBitwise(bytes), expected, name);
        const [hex] = child.stdout[i]!.split(" ");
        assert.equal(hex, expected.toString(16).padStart(8, "0"), name);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "Python CLI errors are one line, without a traceback",
  ignore: ignorePy,
  async fn() {
    const cases: [string[], number, RegExp][] = [
      [["recv", "--port", "x"], 2, /^error: .*--port.*see --help$/],
      [["send"], 2, /^error: give image files/],
      [["send", "/nonexistent.jpg"], 1, /^error: cannot read/],
      [["frobnicate"], 2, /^error: .*see --help$/],
      [
        ["send", `${FIXTURES}/rocket.jpg`, "--host", "no-such-host.invalid"],
        1,
        /^error: cannot resolve 'no-such-host.invalid'/,
      ],
      [["recv", "--host", "192.0.2.1"], 1, /^error: cannot bind 192.0.2.1/],
      [["send", FIXTURES], 1, /^error: cannot read .*: Is a directory$/],
      [["send", "/dev/null"], 2, /^error: '\/dev\/null' is empty/],
      [["crc32c", "/nonexistent"], 1, /^error: cannot read/],
      [["send", `${FIXTURES}/rocket.jpg`, "--port", "0"], 2, /--port/],
      [["send", `${FIXTURES}/rocket.jpg`, "--fps", "-1"], 2, /--fps/],
      [
        ["send", `${FIXTURES}/rocket.jpg`, "--chunk-size", "100"],
        2,
        /chunk-size/,
      ],
      [["recv", "--out", "/dev/null/frames"], 1, /^error: cannot make/],
      [["msg", "--data", "[1,"], 2, /^error: --data must be JSON/],
      [
        ["msg", "--data", "[".repeat(100_000)],
        2,
        /^error: --data must be JSON/,
      ],
      [["msg", "--data", `"${"x".repeat(70_000)}"`], 2, /^error: --data holds/],
      [
        ["send", `${FIXTURES}/rocket.jpg`, "--host", "a..b"],
        1,
        /^error: cannot resolve 'a\.\.b': not a valid host name$/,
      ],
      [
        ["send", `${FIXTURES}/rocket.jpg`, "--host", "255.255.255.255"],
        1,
        /^error: cannot send to 255\.255\.255\.255:9999: /,
      ],
    ];
    for (const [args, code, pattern] of cases) {
      await using child = py(args);
      const status = await child.exit();
      assert.equal(status.code, code, args.join(" "));
      assert.equal(child.stderr.length, 1, child.stderr.join("\n"));
      assert.match(child.stderr[0]!, pattern);
    }
    // Nothing listens: one warning line, the sender's summary, exit 1.
    const closed = loopbackSocket();
    const port = String((closed.addr as Deno.NetAddr).port);
    closed.close();
    for (
      const args of [
        ["send", `${FIXTURES}/rocket.jpg`, "--count", "1", "--latency", "50"],
        ["msg", "--timeout", "100"],
      ]
    ) {
      await using child = py([...args, "--port", port]);
      assert.equal((await child.exit()).code, 1, args.join(" "));
      assert.equal(child.stderr.length, 1, child.stderr.join("\n"));
      assert.match(
        child.stderr[0]!,
        /^warning: nothing listens at .*unreachable/,
      );
    }
    await using help = py(["send", "--help"]);
    assert.equal((await help.exit()).code, 0);
    assert.ok(help.stdout.some((l) => l.includes("--count")));
    // A Python without OpenCV says so in one line.
    await using noCv = new Child("/usr/bin/python3", [
      "-c",
      "import runpy, sys; sys.modules['cv2'] = None; " +
      `sys.argv = ['udpimg_stream.py', 'send', '--camera', '0']; ` +
      `runpy.run_path(${JSON.stringify(PY)}, run_name='__main__')`,
    ]);
    assert.equal((await noCv.exit()).code, 2);
    assert.equal(noCv.stderr.length, 1);
    assert.match(noCv.stderr[0]!, /^error: --camera needs OpenCV/);
  },
});

const STREAM_ID = 0x5eed;

/** A data datagram of a frame sent by hand: chunk `index` of `count`. */
function chunk(
  streamId: number,
  packetNumber: number,
  frameId: number,
  frame: Uint8Array,
  options: {
    index?: number;
    count?: number;
    flags?: number;
    timestamp?: number;
    sendOffset?: number;
  } = {},
): Uint8Array {
  const count = options.count ?? 1;
  const index = options.index ?? 0;
  const size = Math.ceil(frame.length / count);
  const payload = frame.subarray(
    index * size,
    Math.min(frame.length, (index + 1) * size),
  );
  const bytes = new Uint8Array(48 + payload.length);
  writeHeader(
    bytes,
    PacketType.data,
    options.flags ?? 0,
    streamId,
    false,
    packetNumber,
  );
  writeChunkHeader(bytes, {
    frameId,
    index,
    count,
    frameLength: frame.length,
    crc: crc32c(frame),
    timestamp: options.timestamp ?? Date.now() * 1000,
    sendOffset: options.sendOffset ?? 0,
  });
  bytes.set(payload, 48);
  return bytes;
}

function senderReport(
  streamId: number,
  packetNumber: number,
  nextFrameId: number,
): Uint8Array {
  const bytes = encodeSenderReport({
    senderClock: Date.now() * 1000,
    echoedClock: 0,
    delaySince: 0,
    nextFrameId,
  });
  writeHeader(bytes, PacketType.senderReport, 0, streamId, false, packetNumber);
  return bytes;
}

/** A receiver's report, as a receiver made by hand sends it. */
function receiverReport(
  streamId: number,
  packetNumber: number,
  highestPacket: number,
  nextFrameId: number,
): Uint8Array {
  const bytes = encodeReport(reportOf({
    highestPacket,
    receiverClock: Date.now() * 1000,
    packetsReceived: highestPacket + 1,
    nextFrameId,
    framesDelivered: nextFrameId,
  }));
  writeHeader(bytes, PacketType.report, 0, streamId, true, packetNumber);
  return bytes;
}

function bye(streamId: number, packetNumber: number): Uint8Array {
  const bytes = new Uint8Array(20);
  writeHeader(bytes, PacketType.bye, 0, streamId, false, packetNumber);
  return bytes;
}

function message(
  streamId: number,
  packetNumber: number,
  id: number,
): Uint8Array {
  const bytes = encodeMessage(
    PacketType.message,
    id,
    new TextEncoder().encode("[1]"),
  );
  writeHeader(bytes, PacketType.message, 0, streamId, false, packetNumber);
  return bytes;
}

/** A frame of `length` bytes that differ from frame to frame. */
function frameBytes(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);
}

function u32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(offset);
}

/** The next datagram on `socket` and its source, or an error after `ms`. */
async function receiveWithin(
  socket: Deno.DatagramConn,
  ms = 10_000,
): Promise<[Uint8Array, Deno.NetAddr]> {
  const received = socket.receive();
  received.catch(() => {}); // rejected when the socket closes first
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const [bytes, from] = await Promise.race([
      received,
      new Promise<never>((_, reject) =>
        timer = setTimeout(
          () => reject(new Error(`no datagram came within ${ms} ms`)),
          ms,
        )
      ),
    ]);
    return [bytes, from as Deno.NetAddr];
  } finally {
    clearTimeout(timer);
  }
}

/** Datagrams on `socket` until one that `last` accepts, that one included. */
async function receiveUntil(
  socket: Deno.DatagramConn,
  last: (bytes: Uint8Array) => boolean,
): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  while (true) {
    const [bytes] = await receiveWithin(socket);
    got.push(bytes);
    if (last(bytes)) return got;
  }
}

/** A sender made by hand: a loopback socket and what it sent. */
function handSender(port: number) {
  const socket = loopbackSocket();
  let sentBytes = 0;
  return {
    socket,
    [Symbol.dispose]: () => socket.close(),
    get sentBytes() {
      return sentBytes;
    },
    async send(...datagrams: Uint8Array[]): Promise<void> {
      for (const bytes of datagrams) {
        sentBytes += bytes.length;
        await socket.send(bytes, {
          transport: "udp",
          hostname: "127.0.0.1",
          port,
        });
      }
    },
  };
}

/** A loopback socket that a Python sender sends one frame of `file` to. */
function pySenderToSocket(
  file: string,
  args: string[],
): { socket: Deno.DatagramConn; sender: Child } & AsyncDisposable {
  const socket = loopbackSocket();
  const port = String((socket.addr as Deno.NetAddr).port);
  const sender = py([
    "send",
    `${FIXTURES}/${file}`,
    "--port",
    port,
    "--count",
    "1",
    ...args,
  ]);
  return {
    socket,
    sender,
    async [Symbol.asyncDispose]() {
      await sender[Symbol.asyncDispose]();
      socket.close();
    },
  };
}

/** The `id=` of every frame a receiver printed, as `stream:id`. */
function savedIds(lines: string[]): string[] {
  return lines.flatMap((l) => {
    const m = /^frame=\d+ stream=(\w+) id=(\d+) /.exec(l);
    return m ? [`${Number.parseInt(m[1]!, 16)}:${m[2]}`] : [];
  });
}

Deno.test({
  name:
    "The Python sender's first datagram is a sender report, and its next frame id counts the frame being sent",
  ignore: ignorePy,
  async fn() {
    // 0.1 Mbit/s: the 528 KB frame takes seconds, so that a sender report
    // comes while it is being sent.
    await using run = pySenderToSocket("hubble_deep_field.jpg", [
      "--rate",
      "0.1",
      "--quiet",
    ]);
    const socket = run.socket;
    const [first, from] = await receiveWithin(socket);
    assert.equal(first[3], PacketType.senderReport);
    assert.equal(first.length, 44);
    assert.equal(first[12]! & 0x80, 0);
    assert.equal(u32(first, 40), 0, "no frame yet");
    const [data] = await receiveWithin(socket);
    assert.equal(data[3], PacketType.data);
    assert.equal(u32(data, 20), 0, "frame 0");
    const streamId = u32(first, 8);
    await socket.send(receiverReport(streamId, 0, 1, 0), from);
    const [answer] = (await receiveUntil(
      socket,
      (b) => b[3] === PacketType.senderReport,
    )).slice(-1);
    assert.equal(
      u32(answer!, 40),
      1,
      "frame 0 is being sent, so the next frame id is 1",
    );
  },
});

Deno.test({
  name:
    "The Python receiver delivers a young stream from frame 0, though frame 1 came first",
  ignore: ignorePy,
  async fn() {
    const { child: receiver, port } = await pyReceiver(["--count", "2"]);
    await using _ = receiver;
    using sender = handSender(port);
    await sender.send(
      chunk(STREAM_ID, 0, 1, frameBytes(300, 1)),
      chunk(STREAM_ID, 1, 0, frameBytes(200, 0)),
    );
    await exited(receiver, "the Python receiver");
    assert.deepEqual(savedIds(receiver.stdout), [
      `${STREAM_ID}:0`,
      `${STREAM_ID}:1`,
    ]);
    assert.equal(summary(receiver.stdout).late, "0");
  },
});

Deno.test({
  name:
    "A sender report before any data starts the Python receiver's stream: it asks for frames 0 and 1 whole, within the feedback cap",
  ignore: ignorePy,
  async fn() {
    const { child: receiver, port } = await pyReceiver(["--count", "2"]);
    await using _ = receiver;
    using sender = handSender(port);
    await sender.send(senderReport(STREAM_ID, 0, 2));
    const [nack] = await receiveWithin(sender.socket);
    assert.equal(nack[3], PacketType.nack, `type ${nack[3]}`);
    assert.equal(nack[12]! & 0x80, 0x80);
    assert.equal(u32(nack, 8), STREAM_ID);
    assert.equal(nack.length, 24 + 2 * 8);
    assert.ok(nack.length <= sender.sentBytes, "feedback within the cap");
    const entries = [0, 1].map((k) => [
      u32(nack, 24 + 8 * k),
      u32(nack, 28 + 8 * k) >>> 16,
    ]);
    assert.deepEqual(entries, [[0, 0xffff], [1, 0xffff]]);
    await sender.send(
      chunk(STREAM_ID, 1, 0, frameBytes(200, 0)),
      chunk(STREAM_ID, 2, 1, frameBytes(300, 1)),
    );
    await exited(receiver, "the Python receiver");
    assert.deepEqual(savedIds(receiver.stdout), [
      `${STREAM_ID}:0`,
      `${STREAM_ID}:1`,
    ]);
  },
});

Deno.test({
  name:
    "The Python receiver's NACKs and reports to a stream never add up to more bytes than it sent",
  ignore: ignorePy,
  async fn() {
    const { child: receiver, port } = await pyReceiver(["--latency", "200"]);
    await using _ = receiver;
    using sender = handSender(port);
    // One 49-byte datagram claims a frame of 65535 one-byte chunks: without
    // the cap, kilobytes of NACKs would answer it.
    const frame = frameBytes(0xffff, 3);
    await sender.send(
      chunk(STREAM_ID, 0, 0, frame, { index: 5, count: 0xffff }),
    );
    await receiver.waitFor(/^dropped=lost stream=\w+ id=0 /);
    // The ack to a message (not held to the cap) comes after all the
    // feedback sent before it.
    await sender.send(message(STREAM_ID, 1, 0));
    const got = await receiveUntil(
      sender.socket,
      (b) => b[3] === PacketType.messageAck,
    );
    const feedback = got.filter((b) =>
      b[3] === PacketType.nack || b[3] === PacketType.report
    );
    assert.ok(
      feedback.some((b) => b[3] === PacketType.nack),
      "it asked for something",
    );
    const bytes = feedback.reduce((sum, b) => sum + b.length, 0);
    assert.ok(
      bytes <= sender.sentBytes,
      `${bytes} bytes of feedback for ${sender.sentBytes} bytes sent`,
    );
    receiver.kill("SIGTERM");
    await exited(receiver, "the Python receiver");
    assert.notEqual(summary(receiver.stdout).feedback_capped, "0");
  },
});

Deno.test({
  name:
    "The Python receiver drops datagrams of a stream after its bye (afterBye) rather than starting it again",
  ignore: ignorePy,
  async fn() {
    const { child: receiver, port } = await pyReceiver(["--count", "2"]);
    await using _ = receiver;
    const sender = handSender(port);
    const [a, b, c, d] = [0xa, 0xb, 0xc, 0xd];
    try {
      const first = chunk(a, 0, 0, frameBytes(100, 0));
      await sender.send(first);
      await receiver.waitFor(/^frame=1 /);
      await sender.send(bye(a, 1), bye(a, 2));
      // Another stream's message: once it is answered, stream a is gone.
      await sender.send(message(b, 0, 0));
      await receiveUntil(sender.socket, (x) => x[3] === PacketType.messageAck);
      await sender.send(
        first, // a late copy
        bye(d, 5), // the end of a stream never heard of
        chunk(d, 3, 0, frameBytes(100, 1)), // and a datagram from before it
        chunk(c, 0, 0, frameBytes(100, 2)),
      );
      await exited(receiver, "the Python receiver");
    } finally {
      sender.socket.close();
    }
    assert.deepEqual(savedIds(receiver.stdout), [`${a}:0`, `${c}:0`]);
    assert.match(summary(receiver.stdout).dropped!, /afterBye:2\b/);
  },
});

Deno.test({
  name:
    "The Python receiver's jitter leaves out retransmissions, whatever their send offset",
  ignore: ignorePy,
  async fn() {
    const { child: receiver, port } = await pyReceiver([]);
    await using _ = receiver;
    using sender = handSender(port);
    const frame0 = frameBytes(400, 0);
    // Every datagram of a frame carries the same timestamp.
    const timestamp = Date.now() * 1000;
    await sender.send(
      chunk(STREAM_ID, 0, 0, frame0, { index: 0, count: 2, timestamp }),
      // Sent again 2^31 µs after its timestamp: as a transit sample it
      // would make the jitter over 100 s.
      chunk(STREAM_ID, 1, 0, frame0, {
        index: 1,
        count: 2,
        timestamp,
        flags: Flags.retransmission,
        sendOffset: 2 ** 31,
      }),
      chunk(STREAM_ID, 2, 1, frameBytes(300, 1)),
      // Every frame resolved: the receiver reports at once.
      senderReport(STREAM_ID, 3, 2),
    );
    const got = await receiveUntil(
      sender.socket,
      (b) => b[3] === PacketType.report && u32(b, 48) === 2,
    );
    const report = got.at(-1)!;
    assert.equal(u32(report, 52), 2, "frames delivered");
    assert.equal(u32(report, 68), 1, "chunks recovered by NACK");
    assert.ok(u32(report, 80) < 10_000_000, `jitter ${u32(report, 80)} µs`);
  },
});

Deno.test({
  name:
    "A closing Python sender repeats sender reports until a report says every frame is resolved, then says bye twice",
  ignore: ignorePy,
  async fn() {
    // A long budget: the bye must come from the report, not the deadline.
    await using run = pySenderToSocket("rocket.jpg", ["--latency", "20000"]);
    const { socket, sender } = run;
    let from: Deno.NetAddr | undefined;
    let streamId = 0;
    let highest = 0;
    let closingReports = 0;
    let lastData = -1;
    while (closingReports < 2) {
      const [bytes, source] = await receiveWithin(socket);
      from = source;
      streamId = u32(bytes, 8);
      const number = u32(bytes, 16);
      highest = Math.max(highest, number);
      if (bytes[3] === PacketType.data) lastData = number;
      if (bytes[3] === PacketType.senderReport && lastData >= 0) {
        assert.equal(u32(bytes, 40), 1, "next frame id after frame 0");
        closingReports++;
      }
      assert.notEqual(bytes[3], PacketType.bye, "bye before a report");
    }
    // Frame 0 not yet resolved: the sender goes on asking.
    await socket.send(receiverReport(streamId, 0, highest, 0), from!);
    await receiveUntil(socket, (b) => b[3] === PacketType.senderReport);
    await socket.send(receiverReport(streamId, 1, highest, 1), from!);
    const got = await receiveUntil(socket, (b) => b[3] === PacketType.bye);
    const [second] = await receiveWithin(socket);
    assert.equal(second[3], PacketType.bye);
    assert.equal(u32(second, 16), u32(got.at(-1)!, 16) + 1);
    await exited(sender, "the Python sender");
    assert.equal(summary(sender.stdout).delivered, "1");
  },
});

Deno.test({
  name:
    "The Python receiver answers a sealed datagram with a no-key notice no longer than it",
  ignore: ignorePy,
  async fn() {
    const { child: receiver, port } = await pyReceiver([]);
    await using _ = receiver;
    using sender = handSender(port);
    const sealed = new Uint8Array(30);
    writeHeader(sealed, PacketType.data, Flags.sealed, STREAM_ID, false, 7);
    await sender.send(sealed);
    const [notice] = await receiveWithin(sender.socket);
    assert.equal(notice[3], PacketType.notice);
    assert.equal(notice[4], 0, "never sealed");
    assert.equal(u32(notice, 8), STREAM_ID);
    assert.deepEqual([...notice.subarray(12, 20)], [
      0x80,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    ]);
    assert.equal(notice[20], 1, "code 1: no key");
    assert.ok(notice.length <= sealed.length, `${notice.length} bytes`);
    const text = new TextDecoder().decode(notice.subarray(24));
    assert.ok("this server has no key".startsWith(text), text);
  },
});
