// Players that no one here wrote watch server.ts --rtsp while client.ts
// streams into it: ffmpeg and GStreamer's rtspsrc, over UDP and TCP, with
// and without a password, and GStreamer's RTSP server as a media server in
// front. Each decoded frame is compared with the source (PSNR).
import assert from "node:assert/strict";
import { missing } from "./_deps.ts";
import { Child, python, root, script } from "./_process.ts";

const PHOTO = `${root}bench/frames/photo_1280x720.jpg`;

interface Camera extends AsyncDisposable {
  /** `rtsp://127.0.0.1:PORT/live`. */
  readonly url: string;
  /** The URL of the client's own stream, `/127.0.0.1:PORT`. */
  readonly senderUrl: string;
}

/** server.ts --rtsp 0 with client.ts streaming `image` into it at 30 fps. */
async function camera(
  image: string,
  serverArgs: string[] = [],
): Promise<Camera> {
  const server = script("server.ts", [
    "--port",
    "0",
    "--msg-port",
    "0",
    "--rtsp",
    "0",
    ...serverArgs,
  ]);
  let client: Child | undefined;
  try {
    const [, port] = await server.waitFor(/^ready image=\S+:(\d+) /);
    const [, url] = await server.waitFor(/^rtsp: (rtsp:\/\/\S+)$/);
    client = script("client.ts", [
      image,
      "--count",
      "100000",
      "--fps",
      "30",
      "--port",
      port!,
      "--quiet",
    ]);
    const [, sender] = await server.waitFor(/^frame \d+: .* from (\S+)$/);
    const sent = client;
    return {
      url: url!,
      senderUrl: url!.replace(/\/live$/, `/${sender}`),
      async [Symbol.asyncDispose]() {
        sent.kill();
        await sent.status;
        server.kill();
        await server.status;
      },
    };
  } catch (error) {
    client?.kill();
    server.kill();
    await Promise.all([client?.status, server.status]);
    throw error;
  }
}

/** The source decoded by ffmpeg, as the reference frames are compared with. */
async function reference(
  source: string,
): Promise<{ png: string; width: number; height: number }> {
  const png = await Deno.makeTempFile({
    prefix: "udpimg_rtsp_ref_",
    suffix: ".png",
  });
  const { success } = await new Deno.Command("ffmpeg", {
    args: ["-hide_banner", "-loglevel", "error", "-y", "-i", source, png],
  }).output();
  assert.ok(success, `cannot decode ${source}`);
  const view = new DataView((await Deno.readFile(png)).buffer);
  return { png, width: view.getUint32(16), height: view.getUint32(20) };
}

/**
 * The PSNR of `decoded` against the reference, in dB (Infinity when
 * identical), over the reference's size: RFC 2435 gives sizes in 8-pixel
 * blocks, so a 640x427 frame arrives as 640x432.
 */
async function psnr(
  decoded: string,
  ref: { png: string; width: number; height: number },
): Promise<number> {
  const { stderr } = await new Deno.Command("ffmpeg", {
    args: [
      "-hide_banner",
      "-i",
      decoded,
      "-i",
      ref.png,
      "-lavfi",
      `[0:v]crop=${ref.width}:${ref.height}:0:0,format=rgb24[a];[1:v]format=rgb24[b];[a][b]psnr`,
      "-f",
      "null",
      "-",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stderr);
  const match = /average:(inf|[\d.]+)/.exec(text);
  assert.ok(match, `no PSNR in: ${text.slice(-300)}`);
  return match[1] === "inf" ? Infinity : Number(match[1]);
}

/** Runs a player until it exits; its frames land in a fresh folder. */
async function play(
  command: string,
  args: (dir: string) => string[],
): Promise<{ dir: string; status: Deno.CommandStatus; output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "udpimg_rtsp_" });
  const child = new Child(command, args(dir));
  const status = await child.exit(40_000);
  return { dir, status, output: [...child.stdout, ...child.stderr].join("\n") };
}

function ffmpeg(url: string, transport: "udp" | "tcp") {
  return play("ffmpeg", (dir) => [
    "-hide_banner",
    "-loglevel",
    "error",
    "-rtsp_transport",
    transport,
    "-timeout",
    "20000000",
    "-i",
    url,
    "-frames:v",
    "5",
    "-f",
    "image2",
    `${dir}/out%d.png`,
  ]);
}

function gstreamer(
  url: string,
  transport: "udp" | "tcp",
  extra: string[] = [],
) {
  return play("gst-launch-1.0", (dir) => [
    "-q",
    "rtspsrc",
    `location=${url}`,
    `protocols=${transport}`,
    "latency=0",
    "timeout=20000000",
    ...extra,
    "!",
    "rtpjpegdepay",
    "!",
    "jpegdec",
    "!",
    "identity",
    "eos-after=6",
    "!",
    "videoconvert",
    "!",
    "pngenc",
    "!",
    "multifilesink",
    `location=${dir}/out%d.png`,
  ]);
}

async function frames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    names.push(`${dir}/${entry.name}`);
  }
  return names.sort();
}

async function assertCloseToSource(
  result: { dir: string; status: Deno.CommandStatus; output: string },
  source: string,
  minPsnr: number,
  minFrames: number,
) {
  try {
    assert.ok(result.status.success, `the player failed: ${result.output}`);
    const decoded = await frames(result.dir);
    assert.ok(decoded.length >= minFrames, `${decoded.length} frames`);
    const ref = await reference(source);
    try {
      for (const file of decoded) {
        const db = await psnr(file, ref);
        assert.ok(db >= minPsnr, `${file}: PSNR ${db} dB`);
      }
    } finally {
      await Deno.remove(ref.png);
    }
  } finally {
    await Deno.remove(result.dir, { recursive: true });
  }
}

Deno.test({
  name:
    "ffmpeg reads server.ts --rtsp over UDP and TCP: the frames are the source's, bit for bit",
  ignore: missing("ffmpeg"),
  async fn() {
    await using cam = await camera(PHOTO);
    await assertCloseToSource(await ffmpeg(cam.url, "udp"), PHOTO, Infinity, 5);
    await assertCloseToSource(
      await ffmpeg(cam.senderUrl, "tcp"),
      PHOTO,
      Infinity,
      5,
    );
  },
});

Deno.test({
  name: "GStreamer's rtspsrc reads server.ts --rtsp over UDP and TCP",
  ignore: missing("gstreamer", "rtspsrc"),
  async fn() {
    await using cam = await camera(PHOTO);
    await assertCloseToSource(await gstreamer(cam.url, "udp"), PHOTO, 45, 3);
    await assertCloseToSource(
      await gstreamer(cam.senderUrl, "tcp"),
      PHOTO,
      45,
      3,
    );
  },
});

Deno.test({
  name: "server.ts --rtsp transcodes a 4:4:4 JPEG and a PNG for ffmpeg",
  ignore: missing("ffmpeg", "turbojpeg"),
  async fn() {
    for (const name of ["rocket.jpg", "astronaut.png"]) {
      const source = `${root}tests/fixtures/${name}`;
      await using cam = await camera(source);
      await assertCloseToSource(await ffmpeg(cam.url, "tcp"), source, 30, 5);
    }
  },
});

Deno.test({
  name:
    "server.ts --rtsp-user refuses ffmpeg's wrong password with 401 and plays for the right one, and for GStreamer",
  ignore: missing("ffmpeg", "gstreamer", "rtspsrc"),
  async fn() {
    await using cam = await camera(PHOTO, ["--rtsp-user", "cam:s3cret"]);
    const withUser = (user: string) =>
      cam.url.replace("rtsp://", `rtsp://${user}@`);
    const wrong = await ffmpeg(withUser("cam:wrong"), "tcp");
    await Deno.remove(wrong.dir, { recursive: true });
    assert.ok(!wrong.status.success);
    assert.match(wrong.output, /401/);
    await assertCloseToSource(
      await ffmpeg(withUser("cam:s3cret"), "udp"),
      PHOTO,
      Infinity,
      5,
    );
    await assertCloseToSource(
      await gstreamer(cam.url, "tcp", ["user-id=cam", "user-pw=s3cret"]),
      PHOTO,
      45,
      3,
    );
  },
});

Deno.test({
  name: "GStreamer's RTSP server in front of server.ts --rtsp serves ffmpeg",
  ignore: missing("ffmpeg", "gstreamer", "rtspsrc", "gst-rtsp-server"),
  async fn() {
    await using cam = await camera(PHOTO);
    await using relay = python("gst_rtsp_relay.py", [cam.url, "0"]);
    const [, url] = await relay.waitFor(/^ready (rtsp:\/\/\S+)$/);
    await assertCloseToSource(await ffmpeg(url!, "tcp"), PHOTO, Infinity, 5);
  },
});
