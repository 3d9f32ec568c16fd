import assert from "node:assert/strict";
import {
  cameraTable,
  choosePassthrough,
  dshowOffersMjpeg,
  listCaptureDevices,
  offersMjpeg,
  parseAvfoundationDevices,
  parseDshowDevices,
  parseDshowOptions,
  parseV4l2Formats,
  probeVideo,
} from "../lib/capture/devices.ts";
import { CaptureError } from "../lib/capture/ffmpeg.ts";
import { missing } from "./_deps.ts";
import { script, withTempDir } from "./_process.ts";

// What ffmpeg prints, captured from each OS (addresses shortened).

/** ffmpeg 5.1 on Linux, a UVC webcam: `-f v4l2 -list_formats all -i /dev/video0`. */
const V4L2_WEBCAM =
  `[video4linux2,v4l2 @ 0x55f0c8a8e440] Compressed:       mjpeg :          Motion-JPEG : 1280x720 1920x1080 640x480 640x360 352x288 320x240
[video4linux2,v4l2 @ 0x55f0c8a8e440] Raw       :     yuyv422 :           YUYV 4:2:2 : 640x480 1280x720 640x360 352x288 320x240
/dev/video0: Immediate exit requested
`;

/** ffmpeg 2.x layout, with an H.264 format ffmpeg cannot name. */
const V4L2_OLD =
  `[video4linux2 @ 0x160f8c0] R : yuyv422 : YUV 4:2:2 (YUYV) : 640x480 160x90 1280x720
[video4linux2 @ 0x160f8c0] C : Unsupported : H.264 : 640x480 1280x720 1920x1080
[video4linux2 @ 0x160f8c0] C : mjpeg : MJPEG : 640x480 1280x720 1920x1080
/dev/video0: Immediate exit requested
`;

/** A stepwise driver (such as a Raspberry Pi camera), with an emulated format. */
const V4L2_STEPWISE =
  `[video4linux2,v4l2 @ 0x5581] Raw       :     yuv420p :     Planar YUV 4:2:0 : {32-2592, 2}x{32-1944, 2}
[video4linux2,v4l2 @ 0x5581] Compressed:       mjpeg :            JFIF JPEG : {32-2592, 2}x{32-1944, 2}
[video4linux2,v4l2 @ 0x5581] Raw       :       rgb24 :           RGB3 : Emulated : 640x480
`;

/** A metadata node of the same camera: no format. */
const V4L2_METADATA =
  `[video4linux2,v4l2 @ 0x5599] ioctl(VIDIOC_G_INPUT): Inappropriate ioctl for device
/dev/video1: Inappropriate ioctl for device
`;

/** ffmpeg 6 on macOS: `-f avfoundation -list_devices true -i ""`. */
const AVFOUNDATION =
  `[AVFoundation indev @ 0x7fb0c2d04580] AVFoundation video devices:
[AVFoundation indev @ 0x7fb0c2d04580] [0] FaceTime HD Camera
[AVFoundation indev @ 0x7fb0c2d04580] [1] Logitech BRIO
[AVFoundation indev @ 0x7fb0c2d04580] [2] Capture screen 0
[AVFoundation indev @ 0x7fb0c2d04580] AVFoundation audio devices:
[AVFoundation indev @ 0x7fb0c2d04580] [0] MacBook Pro Microphone
: Input/output error
`;

/** ffmpeg 6 on Windows: `-list_devices true -f dshow -i dummy`. */
const DSHOW = `[dshow @ 000001f1a1c2e580] "Integrated Camera" (video)
[dshow @ 000001f1a1c2e580]   Alternative name "@device_pnp_\\\\?\\usb#vid_04f2&pid_b6d9&mi_00#6&1f2a3b4c&0&0000#{65e8773d-8f56-11d0-a3b9-00a0c9223196}\\global"
[dshow @ 000001f1a1c2e580] "Logi C920 (2)" (audio, video)
[dshow @ 000001f1a1c2e580] "Microphone Array (Realtek(R) Audio)" (audio)
[dshow @ 000001f1a1c2e580]   Alternative name "@device_cm_{33D9A762-90C8-11D0-BD43-00A0C911CE86}\\wave_{0D8C6CD6-1D9E-4E71-A2E6-3A5E1C2B4F7E}"
dummy: Immediate exit requested
`;

/** ffmpeg 4.2 on Windows, the older layout. */
const DSHOW_OLD =
  `[dshow @ 0000000000369a40] DirectShow video devices (some may be both video and audio devices)
[dshow @ 0000000000369a40]  "USB2.0 HD UVC WebCam"
[dshow @ 0000000000369a40]     Alternative name "@device_pnp_\\\\?\\usb#vid_13d3&pid_56a6"
[dshow @ 0000000000369a40] DirectShow audio devices
[dshow @ 0000000000369a40]  "Microphone (Realtek High Definition Audio)"
dummy: Immediate exit requested
`;

/** `-f dshow -list_options true -i "video=Integrated Camera"`. */
const DSHOW_OPTIONS =
  `[dshow @ 0000023] DirectShow video device options (from video devices)
[dshow @ 0000023]  Pin "Capture" (alternative pin name "0")
[dshow @ 0000023]   vcodec=mjpeg  min s=1280x720 fps=30 max s=1280x720 fps=30
[dshow @ 0000023]   vcodec=mjpeg  min s=640x480 fps=30 max s=640x480 fps=30 (tv, bt470bg/bt709/unknown, center)
[dshow @ 0000023]   pixel_format=yuyv422  min s=640x480 fps=30 max s=640x480 fps=30
[dshow @ 0000023]   pixel_format=yuyv422  min s=1920x1080 fps=5 max s=1920x1080 fps=5
video=Integrated Camera: Immediate exit requested
`;

const HD = { width: 1280, height: 720 };
const FULL_HD = { width: 1920, height: 1080 };

Deno.test("parseV4l2Formats reads a webcam's compressed and raw formats with their sizes", () => {
  const formats = parseV4l2Formats(V4L2_WEBCAM);
  assert.deepEqual(
    formats.map((f) => [f.kind, f.name, f.description, f.emulated]),
    [
      ["compressed", "mjpeg", "Motion-JPEG", false],
      ["raw", "yuyv422", "YUYV 4:2:2", false],
    ],
  );
  assert.deepEqual(
    formats[0]!.sizes.kind === "discrete" &&
      formats[0]!.sizes.sizes.slice(0, 2),
    [HD, FULL_HD],
  );
  assert.ok(offersMjpeg(formats, HD));
  assert.ok(offersMjpeg(formats));
  assert.ok(!offersMjpeg(formats, { width: 800, height: 600 }));
});

Deno.test("parseV4l2Formats reads ffmpeg 2's layout, stepwise sizes and emulated formats", () => {
  const old = parseV4l2Formats(V4L2_OLD);
  assert.deepEqual(old.map((f) => [f.kind, f.name, f.description]), [
    ["raw", "yuyv422", "YUV 4:2:2 (YUYV)"],
    ["compressed", "Unsupported", "H.264"],
    ["compressed", "mjpeg", "MJPEG"],
  ]);
  assert.ok(offersMjpeg(old, FULL_HD));

  const stepwise = parseV4l2Formats(V4L2_STEPWISE);
  assert.deepEqual(stepwise[1]!.sizes, {
    kind: "stepwise",
    min: { width: 32, height: 32 },
    max: { width: 2592, height: 1944 },
    step: { width: 2, height: 2 },
  });
  assert.ok(offersMjpeg(stepwise, HD));
  assert.ok(
    !offersMjpeg(stepwise, { width: 1281, height: 720 }),
    "off the step",
  );
  assert.ok(!offersMjpeg(stepwise, { width: 4000, height: 3000 }));
  assert.equal(stepwise[2]!.emulated, true);
  assert.equal(stepwise[2]!.description, "RGB3");

  assert.deepEqual(parseV4l2Formats(V4L2_METADATA), []);
});

Deno.test("parseAvfoundationDevices lists the video devices, not the audio ones", () => {
  assert.deepEqual(parseAvfoundationDevices(AVFOUNDATION), [
    { id: "0", name: "FaceTime HD Camera" },
    { id: "1", name: "Logitech BRIO" },
    { id: "2", name: "Capture screen 0" },
  ]);
});

Deno.test("parseDshowDevices reads both of ffmpeg's DirectShow layouts", () => {
  assert.deepEqual(parseDshowDevices(DSHOW).map((d) => d.id), [
    "Integrated Camera",
    "Logi C920 (2)",
  ]);
  assert.deepEqual(parseDshowDevices(DSHOW_OLD).map((d) => d.id), [
    "USB2.0 HD UVC WebCam",
  ]);
});

Deno.test("parseDshowOptions tells MJPEG capabilities from raw ones", () => {
  const options = parseDshowOptions(DSHOW_OPTIONS);
  assert.equal(options.length, 4);
  assert.deepEqual(options[0], {
    vcodec: "mjpeg",
    pixelFormat: undefined,
    min: HD,
    max: HD,
  });
  assert.equal(options[2]!.pixelFormat, "yuyv422");
  assert.ok(dshowOffersMjpeg(options, HD));
  assert.ok(!dshowOffersMjpeg(options, FULL_HD), "1080p only as yuyv422");
});

Deno.test("cameraTable prints one row per format, or says there are no devices", () => {
  assert.deepEqual(cameraTable([]), ["no capture devices found"]);
  assert.deepEqual(
    cameraTable([{
      id: "/dev/video0",
      name: "video0",
      formats: parseV4l2Formats(V4L2_OLD),
    }]),
    [
      "DEVICE       FORMAT       SIZES",
      "/dev/video0  yuyv422      640x480 160x90 1280x720",
      "             Unsupported  640x480 1280x720 1920x1080",
      "             mjpeg        640x480 1280x720 1920x1080",
    ],
  );
  assert.deepEqual(cameraTable(parseAvfoundationDevices(AVFOUNDATION)), [
    "DEVICE    NAME",
    "0         FaceTime HD Camera",
    "1         Logitech BRIO",
    "2         Capture screen 0",
  ]);
});

/** A stand-in for ffmpeg or ffprobe that prints `text` on stderr and fails, as ffmpeg's listings do. */
async function fakeTool(
  dir: string,
  name: string,
  cases: Record<string, string>,
): Promise<string> {
  const path = `${dir}/${name}`;
  const branches = Object.entries(cases).map(([pattern, file], i) => {
    Deno.writeTextFileSync(`${dir}/${name}.${i}.txt`, file);
    return `  *'${pattern}'*) cat '${dir}/${name}.${i}.txt' >&2; exit 1;;`;
  });
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\ncase "$*" in\n${branches.join("\n")}\n  *) exit 1;;\nesac\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test({
  name:
    "listCaptureDevices asks ffmpeg about every /dev/video node and keeps those with formats",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withTempDir("udpimg_devices_", async (dir) => {
      const dev = `${dir}/dev`;
      await Deno.mkdir(dev);
      for (const node of ["video0", "video1", "video10", "null"]) {
        await Deno.writeFile(`${dev}/${node}`, new Uint8Array());
      }
      const ffmpegPath = await fakeTool(dir, "ffmpeg", {
        "/video0": V4L2_WEBCAM,
        "/video10": V4L2_STEPWISE, // before /video1, which it contains
        "/video1": V4L2_METADATA,
      });
      const devices = await listCaptureDevices({
        platform: "linux",
        ffmpegPath,
        devDir: dev,
      });
      assert.deepEqual(devices.map((d) => [d.id, d.formats?.length]), [
        [`${dev}/video0`, 2],
        [`${dev}/video10`, 3],
      ]);
      assert.deepEqual(
        await listCaptureDevices({ platform: "linux", devDir: `${dir}/none` }),
        [],
      );
      const mac = await listCaptureDevices({
        platform: "darwin",
        ffmpegPath: await fakeTool(dir, "ffmpeg_mac", {
          "avfoundation": AVFOUNDATION,
        }),
      });
      assert.equal(mac.length, 3);
      const windows = await listCaptureDevices({
        platform: "windows",
        ffmpegPath: await fakeTool(dir, "ffmpeg_win", { "dshow": DSHOW }),
      });
      assert.deepEqual(windows.map((d) => d.id), [
        "Integrated Camera",
        "Logi C920 (2)",
      ]);
    });
  },
});

Deno.test({
  name:
    "choosePassthrough picks MJPEG when the camera offers it at the asked size",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withTempDir("udpimg_devices_", async (dir) => {
      const ffmpegPath = await fakeTool(dir, "ffmpeg", {
        "/dev/video0": V4L2_WEBCAM,
        "list_options true -i video=Integrated Camera": DSHOW_OPTIONS,
      });
      const camera = { kind: "camera", device: "/dev/video0" } as const;
      const linux = { platform: "linux", ffmpegPath } as const;
      assert.equal(
        await choosePassthrough(camera, "auto", { ...linux, size: HD }),
        true,
      );
      assert.equal(
        await choosePassthrough(camera, "auto", {
          ...linux,
          size: { width: 800, height: 600 },
        }),
        false,
      );
      assert.equal(await choosePassthrough(camera, "auto", linux), true);
      assert.equal(
        await choosePassthrough(camera, "raw", { ...linux, size: HD }),
        false,
      );
      assert.equal(
        await choosePassthrough(camera, "mjpeg", {
          ...linux,
          ffmpegPath: "/nonexistent",
        }),
        true,
      );

      const dshow = { kind: "camera", device: "Integrated Camera" } as const;
      const windows = { platform: "windows", ffmpegPath } as const;
      assert.equal(
        await choosePassthrough(dshow, "auto", { ...windows, size: HD }),
        true,
      );
      assert.equal(
        await choosePassthrough(dshow, "auto", { ...windows, size: FULL_HD }),
        false,
      );

      // AVFoundation has no MJPEG input: auto is raw without asking ffmpeg.
      assert.equal(
        await choosePassthrough({ kind: "camera", device: "0" }, "auto", {
          platform: "darwin",
          ffmpegPath: "/nonexistent",
        }),
        false,
      );
    });
  },
});

Deno.test({
  name: "choosePassthrough forwards a video by its codec, not its extension",
  ignore: missing("ffmpeg"),
  async fn() {
    await withTempDir("udpimg_devices_", async (dir) => {
      const make = async (name: string, codec: string[]) => {
        const path = `${dir}/${name}`;
        const { success } = await new Deno.Command("ffmpeg", {
          args: [
            ...[
              "-v",
              "error",
              "-f",
              "lavfi",
              "-i",
              "testsrc2=size=160x120:rate=5",
            ],
            ...["-t", "0.4", ...codec, path],
          ],
        }).output();
        assert.ok(success);
        return path;
      };
      const mkv = await make("mjpeg.mkv", ["-c:v", "mjpeg"]);
      const raw = await make("plain.mjpeg", ["-c:v", "mjpeg", "-f", "mjpeg"]);
      const notMjpeg = await make("fake.avi", ["-c:v", "mpeg4"]);
      assert.deepEqual(await probeVideo(mkv), {
        codec: "mjpeg",
        size: { width: 160, height: 120 },
      });
      for (const path of [mkv, raw]) {
        assert.equal(
          await choosePassthrough({ kind: "video", path }, "auto"),
          true,
          path,
        );
      }
      assert.equal(
        await choosePassthrough({ kind: "video", path: mkv }, "auto", {
          size: { width: 320, height: 240 },
        }),
        false,
        "a rescale needs a re-encode",
      );
      assert.equal(
        await choosePassthrough({ kind: "video", path: notMjpeg }, "auto"),
        false,
      );
      assert.equal(
        await choosePassthrough({ kind: "video", path: mkv }, "raw"),
        false,
      );
      await assert.rejects(
        choosePassthrough({ kind: "video", path: notMjpeg }, "mjpeg"),
        (error) =>
          error instanceof CaptureError &&
          error.message ===
            `Cannot pass ${notMjpeg} through: its video is mpeg4, not MJPEG; use --camera-format auto or raw`,
      );
    });
  },
});

Deno.test({
  name:
    "client.ts --camera list prints a table, or that there are no capture devices",
  ignore: missing("ffmpeg"),
  async fn() {
    const client = script("client.ts", ["--camera", "list"]);
    const status = await client.exit();
    assert.equal(status.code, 0, client.stderr.join("\n"));
    let hasVideo = false;
    try {
      for (const entry of Deno.readDirSync("/dev")) {
        if (/^video\d+$/.test(entry.name)) hasVideo = true;
      }
    } catch {
      // no /dev
    }
    if (Deno.build.os === "linux" && !hasVideo) {
      assert.deepEqual(client.stdout, ["no capture devices found"]);
    } else {
      assert.ok(client.stdout.length >= 1);
    }
  },
});

Deno.test("client.ts --camera-format rejects a bad value and a missing source in one line", async () => {
  const bad = script("client.ts", [
    "--camera",
    "testsrc",
    "--camera-format",
    "h264",
  ]);
  assert.equal((await bad.exit()).code, 2);
  assert.deepEqual(bad.stderr, [
    "error: --camera-format must be one of auto, mjpeg, raw, got 'h264'",
  ]);
  const alone = script("client.ts", ["--camera-format", "mjpeg"]);
  assert.equal((await alone.exit()).code, 2);
  assert.deepEqual(alone.stderr, [
    "error: --camera-format goes with --camera or --video",
  ]);
});
