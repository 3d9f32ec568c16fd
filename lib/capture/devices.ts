/**
 * What capture devices there are and what they offer, as ffmpeg tells it:
 * parsers for ffmpeg's listings on each OS, the probes that run ffmpeg and
 * ffprobe, and the choice between MJPEG passthrough and re-encoding.
 *
 * The listings parsed (each line prefixed by ffmpeg's `[ctx @ 0x…] `):
 *
 * ```text
 * ffmpeg -f v4l2 -list_formats all -i /dev/video0            (Linux)
 *   Compressed:       mjpeg :          Motion-JPEG : 1280x720 640x480
 *   Raw       :     yuyv422 :           YUYV 4:2:2 : 640x480 {32-1920, 2}x{32-1080, 2}
 * ffmpeg -f avfoundation -list_devices true -i ""             (macOS)
 *   AVFoundation video devices:
 *   [0] FaceTime HD Camera
 *   AVFoundation audio devices:
 * ffmpeg -list_devices true -f dshow -i dummy                 (Windows)
 *   "Integrated Camera" (video)          ffmpeg 4.4 and later; before:
 *   DirectShow video devices ...  then   "Integrated Camera"
 * ffmpeg -f dshow -list_options true -i "video=NAME"          (Windows)
 *   vcodec=mjpeg  min s=1280x720 fps=30 max s=1280x720 fps=30
 *   pixel_format=yuyv422  min s=640x480 fps=30 max s=640x480 fps=30
 * ```
 *
 * @module
 */

import { type CameraFormat, CaptureError, type FrameSize } from "./ffmpeg.ts";
import { spawnProblem } from "./_spawn.ts";

/** The sizes a V4L2 format offers: a list, or a range with steps. */
export type FrameSizes =
  | { kind: "discrete"; sizes: FrameSize[] }
  | {
    kind: "stepwise";
    min: FrameSize;
    max: FrameSize;
    step: FrameSize;
  };

/** One format of a V4L2 device, as `-list_formats all` prints it. */
export interface V4l2Format {
  /** `compressed` (such as MJPEG) or `raw` pixels. */
  kind: "compressed" | "raw";
  /** ffmpeg's name: `mjpeg`, `yuyv422`, `h264`, or `Unsupported`. */
  name: string;
  /** The driver's description, such as `Motion-JPEG`. */
  description: string;
  /** Whether libv4l emulates it by converting another format. */
  emulated: boolean;
  /** The frame sizes. */
  sizes: FrameSizes;
}

/** A capture device and what it offers. */
export interface CaptureDevice {
  /** What to give `--camera`: `/dev/video0`, an index on macOS, a name on Windows. */
  id: string;
  /** A human name, where the OS gives one. */
  name: string;
  /** The formats, for V4L2 devices. */
  formats?: V4l2Format[];
}

const PREFIX = /^\[[^\]]*@ ?(?:0x)?[0-9a-fA-F]+\]\s?/;

function lines(text: string): string[] {
  return text.split(/\r\n|\r|\n/).map((line) => line.replace(PREFIX, ""));
}

function parseSizes(text: string): FrameSizes {
  const step = /\{(\d+)-(\d+),\s*(\d+)\}x\{(\d+)-(\d+),\s*(\d+)\}/.exec(text);
  if (step !== null) {
    const [, w0, w1, ws, h0, h1, hs] = step.map(Number) as number[];
    return {
      kind: "stepwise",
      min: { width: w0!, height: h0! },
      max: { width: w1!, height: h1! },
      step: { width: ws!, height: hs! },
    };
  }
  const sizes = [...text.matchAll(/(\d+)x(\d+)/g)].map((m) => ({
    width: Number(m[1]),
    height: Number(m[2]),
  }));
  return { kind: "discrete", sizes };
}

/**
 * Parses what `ffmpeg -f v4l2 -list_formats all -i DEV` prints on stderr,
 * in the layout of ffmpeg 2.x (`R :`/`C :`) and of later versions
 * (`Raw       :`/`Compressed:`).
 *
 * @param text ffmpeg's stderr.
 * @returns The formats, in the order listed; empty for a device with none.
 *
 * @example A UVC webcam
 * ```ts
 * import { parseV4l2Formats } from "./devices.ts";
 * const formats = parseV4l2Formats(
 *   "[video4linux2,v4l2 @ 0x5581] Compressed:       mjpeg :          Motion-JPEG : 1280x720 640x480\n",
 * );
 * console.log(formats[0]?.name, formats[0]?.sizes); // mjpeg { kind: "discrete", sizes: [ ... ] }
 * ```
 */
export function parseV4l2Formats(text: string): V4l2Format[] {
  const formats: V4l2Format[] = [];
  for (const line of lines(text)) {
    const match =
      /^(Raw|Compressed|R|C)\s*:\s*(\S+)\s+:\s+(.+?)\s+:(\s*Emulated\s*:)?(.*)$/
        .exec(line);
    if (match === null) continue;
    const [, kind, name, description, emulated, sizes] = match;
    formats.push({
      kind: kind!.startsWith("C") ? "compressed" : "raw",
      name: name!,
      description: description!.trim(),
      emulated: emulated !== undefined,
      sizes: parseSizes(sizes!),
    });
  }
  return formats;
}

/**
 * Parses the video devices in what `ffmpeg -f avfoundation -list_devices
 * true -i ""` prints on stderr.
 *
 * @param text ffmpeg's stderr.
 * @returns The video devices, with their index as `id`.
 *
 * @example A MacBook
 * ```ts
 * import { parseAvfoundationDevices } from "./devices.ts";
 * const text = "AVFoundation video devices:\n[0] FaceTime HD Camera\nAVFoundation audio devices:\n[0] Built-in Microphone\n";
 * console.log(parseAvfoundationDevices(text)); // [ { id: "0", name: "FaceTime HD Camera" } ]
 * ```
 */
export function parseAvfoundationDevices(text: string): CaptureDevice[] {
  const devices: CaptureDevice[] = [];
  let video = false;
  for (const line of lines(text)) {
    if (/AVFoundation video devices/i.test(line)) video = true;
    else if (/AVFoundation audio devices/i.test(line)) video = false;
    else if (video) {
      const match = /^\[(\d+)\]\s+(.+?)\s*$/.exec(line);
      if (match) devices.push({ id: match[1]!, name: match[2]! });
    }
  }
  return devices;
}

/**
 * Parses the video devices in what `ffmpeg -list_devices true -f dshow -i
 * dummy` prints on stderr, in the layout of ffmpeg 4.4 and later (`"Name"
 * (video)`) and of earlier versions (a `DirectShow video devices` section).
 *
 * @param text ffmpeg's stderr.
 * @returns The video devices, with their name as `id`.
 *
 * @example A laptop camera
 * ```ts
 * import { parseDshowDevices } from "./devices.ts";
 * const text = '[dshow @ 0000020] "Integrated Camera" (video)\n[dshow @ 0000020] "Microphone" (audio)\n';
 * console.log(parseDshowDevices(text)); // [ { id: "Integrated Camera", name: "Integrated Camera" } ]
 * ```
 */
export function parseDshowDevices(text: string): CaptureDevice[] {
  const devices: CaptureDevice[] = [];
  let section: "video" | "audio" | undefined;
  for (const line of lines(text)) {
    if (/DirectShow video devices/i.test(line)) section = "video";
    else if (/DirectShow audio devices/i.test(line)) section = "audio";
    const match = /^\s*"(.+)"\s*(?:\(([^)]*)\))?\s*$/.exec(line);
    if (match === null) continue;
    const [, name, kinds] = match;
    const isVideo = kinds === undefined
      ? section === "video"
      : /\bvideo\b/.test(kinds);
    if (isVideo) devices.push({ id: name!, name: name! });
  }
  return devices;
}

/** One capability line of `ffmpeg -f dshow -list_options true`. */
export interface DshowOption {
  /** A compressed format (`mjpeg`, `h264`), or undefined for raw pixels. */
  vcodec: string | undefined;
  /** A raw pixel format, such as `yuyv422`. */
  pixelFormat: string | undefined;
  /** The smallest size. */
  min: FrameSize;
  /** The largest size. */
  max: FrameSize;
}

/**
 * Parses what `ffmpeg -f dshow -list_options true -i video=NAME` prints.
 *
 * @param text ffmpeg's stderr.
 * @returns One entry per capability line.
 *
 * @example Usage
 * ```ts
 * import { parseDshowOptions } from "./devices.ts";
 * const [option] = parseDshowOptions("  vcodec=mjpeg  min s=1280x720 fps=30 max s=1280x720 fps=30\n");
 * console.log(option?.vcodec, option?.max); // mjpeg { width: 1280, height: 720 }
 * ```
 */
export function parseDshowOptions(text: string): DshowOption[] {
  const options: DshowOption[] = [];
  for (const line of lines(text)) {
    const match =
      /(vcodec|pixel_format)=(\S+)\s+min s=(\d+)x(\d+).*?max s=(\d+)x(\d+)/
        .exec(line);
    if (match === null) continue;
    const [, key, value, w0, h0, w1, h1] = match;
    options.push({
      vcodec: key === "vcodec" ? value : undefined,
      pixelFormat: key === "pixel_format" ? value : undefined,
      min: { width: Number(w0), height: Number(h0) },
      max: { width: Number(w1), height: Number(h1) },
    });
  }
  return options;
}

function fits(sizes: FrameSizes, size: FrameSize): boolean {
  if (sizes.kind === "discrete") {
    return sizes.sizes.some((s) =>
      s.width === size.width && s.height === size.height
    );
  }
  const { min, max, step } = sizes;
  const on = (value: number, lo: number, hi: number, by: number) =>
    value >= lo && value <= hi && (value - lo) % Math.max(1, by) === 0;
  return on(size.width, min.width, max.width, step.width) &&
    on(size.height, min.height, max.height, step.height);
}

/**
 * Whether a V4L2 device's formats include MJPEG, at `size` when given.
 *
 * @param formats The device's formats.
 * @param size The size asked for, if any.
 * @returns `true` when MJPEG can be passed through.
 *
 * @example Usage
 * ```ts
 * import { offersMjpeg, parseV4l2Formats } from "./devices.ts";
 * const formats = parseV4l2Formats("Compressed:       mjpeg :          Motion-JPEG : 1280x720 640x480");
 * console.log(offersMjpeg(formats, { width: 1280, height: 720 })); // true
 * console.log(offersMjpeg(formats, { width: 1920, height: 1080 })); // false
 * ```
 */
export function offersMjpeg(
  formats: readonly V4l2Format[],
  size?: FrameSize,
): boolean {
  return formats.some((format) =>
    format.kind === "compressed" && format.name === "mjpeg" &&
    (size === undefined || fits(format.sizes, size))
  );
}

/**
 * Whether a DirectShow device's options include MJPEG, at `size` when given.
 *
 * @param options The device's options.
 * @param size The size asked for, if any.
 * @returns `true` when MJPEG can be passed through.
 *
 * @example Usage
 * ```ts
 * import { dshowOffersMjpeg, parseDshowOptions } from "./devices.ts";
 * const options = parseDshowOptions("vcodec=mjpeg  min s=640x480 fps=5 max s=1920x1080 fps=30");
 * console.log(dshowOffersMjpeg(options, { width: 1280, height: 720 })); // true
 * ```
 */
export function dshowOffersMjpeg(
  options: readonly DshowOption[],
  size?: FrameSize,
): boolean {
  return options.some((option) =>
    option.vcodec === "mjpeg" &&
    (size === undefined ||
      (size.width >= option.min.width && size.width <= option.max.width &&
        size.height >= option.min.height && size.height <= option.max.height))
  );
}

/** Options for the probes. */
export interface ProbeOptions {
  /** The platform whose camera API to use. @default {Deno.build.os} */
  platform?: typeof Deno.build.os;
  /** The ffmpeg executable. @default {"ffmpeg"} */
  ffmpegPath?: string;
  /** The ffprobe executable. @default {"ffprobe"} */
  ffprobePath?: string;
  /** Where V4L2 device nodes are. @default {"/dev"} */
  devDir?: string;
}

/** Runs a media tool and returns its stderr (ffmpeg lists on stderr and exits 1). */
async function run(path: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await new Deno.Command(path, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return decoder.decode(stderr) + decoder.decode(stdout);
  } catch (error) {
    const problem = spawnProblem(error, path);
    if (problem === undefined) throw error;
    throw new CaptureError(problem.message, {
      reason: problem.reason,
      cause: error,
    });
  }
}

function v4l2Device(device: string): string {
  return /^\d+$/.test(device) ? `/dev/video${device}` : device;
}

/**
 * Asks ffmpeg which formats a V4L2 device offers.
 *
 * @param device `/dev/videoN`, or `N`.
 * @param options The ffmpeg executable.
 * @returns The formats; empty when the device offers none or cannot be opened.
 * @throws {CaptureError} When ffmpeg cannot be run.
 *
 * @example Usage
 * ```ts ignore
 * import { listV4l2Formats } from "./devices.ts";
 * console.log(await listV4l2Formats("/dev/video0"));
 * ```
 */
export async function listV4l2Formats(
  device: string,
  options: ProbeOptions = {},
): Promise<V4l2Format[]> {
  const text = await run(options.ffmpegPath ?? "ffmpeg", [
    ...["-hide_banner", "-nostdin", "-f", "v4l2", "-list_formats", "all"],
    ...["-i", v4l2Device(device)],
  ]);
  return parseV4l2Formats(text);
}

/**
 * Lists the capture devices: on Linux each `/dev/video*` node that offers a
 * format, with its formats; on macOS and Windows what ffmpeg's
 * `-list_devices` says.
 *
 * @param options The platform, ffmpeg, and the device folder.
 * @returns The devices; empty when there are none.
 * @throws {CaptureError} When ffmpeg cannot be run.
 *
 * @example Printing the table
 * ```ts ignore
 * import { cameraTable, listCaptureDevices } from "./devices.ts";
 * console.log(cameraTable(await listCaptureDevices()).join("\n"));
 * ```
 */
export async function listCaptureDevices(
  options: ProbeOptions = {},
): Promise<CaptureDevice[]> {
  const platform = options.platform ?? Deno.build.os;
  const ffmpeg = options.ffmpegPath ?? "ffmpeg";
  if (platform === "darwin") {
    return parseAvfoundationDevices(
      await run(ffmpeg, [
        ...["-hide_banner", "-nostdin", "-f", "avfoundation"],
        ...["-list_devices", "true", "-i", ""],
      ]),
    );
  }
  if (platform === "windows") {
    return parseDshowDevices(
      await run(ffmpeg, [
        ...["-hide_banner", "-nostdin", "-list_devices", "true"],
        ...["-f", "dshow", "-i", "dummy"],
      ]),
    );
  }
  const devDir = options.devDir ?? "/dev";
  const nodes: string[] = [];
  try {
    for await (const entry of Deno.readDir(devDir)) {
      if (/^video\d+$/.test(entry.name)) nodes.push(entry.name);
    }
  } catch {
    return [];
  }
  nodes.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  const devices: CaptureDevice[] = [];
  for (const node of nodes) {
    const id = `${devDir}/${node}`;
    const formats = await listV4l2Formats(id, options);
    // Metadata nodes of the same camera offer no format.
    if (formats.length > 0) devices.push({ id, name: node, formats });
  }
  return devices;
}

function sizesText(sizes: FrameSizes): string {
  if (sizes.kind === "stepwise") {
    const { min, max } = sizes;
    return `${min.width}x${min.height} to ${max.width}x${max.height}`;
  }
  return sizes.sizes.map((s) => `${s.width}x${s.height}`).join(" ");
}

/**
 * A short table of devices for a terminal, or one line that says there are
 * none.
 *
 * @param devices What {@linkcode listCaptureDevices} found.
 * @returns The lines to print.
 *
 * @example Usage
 * ```ts
 * import { cameraTable } from "./devices.ts";
 * console.log(cameraTable([]).join("\n")); // no capture devices found
 * console.log(cameraTable([{ id: "0", name: "FaceTime HD Camera" }]).join("\n"));
 * ```
 */
export function cameraTable(devices: readonly CaptureDevice[]): string[] {
  if (devices.length === 0) return ["no capture devices found"];
  const rows: string[][] = [["DEVICE", "FORMAT", "SIZES"]];
  for (const device of devices) {
    if (device.formats === undefined) {
      rows.push([device.id, "", device.name === device.id ? "" : device.name]);
      continue;
    }
    device.formats.forEach((format, i) => {
      const name = format.emulated ? `${format.name} (emulated)` : format.name;
      rows.push([i === 0 ? device.id : "", name, sizesText(format.sizes)]);
    });
  }
  if (devices.every((d) => d.formats === undefined)) {
    rows[0] = ["DEVICE", "", "NAME"];
  }
  const width = [0, 1].map((col) =>
    Math.max(...rows.map((row) => row[col]!.length))
  );
  return rows.map((row) =>
    row.map((cell, col) => col < 2 ? cell.padEnd(width[col]!) : cell)
      .join("  ").trimEnd()
  );
}

/** What a video file holds, as ffprobe says. */
export interface VideoInfo {
  /** The codec of its first video stream, such as `mjpeg` or `h264`. */
  codec: string;
  /** Its frame size. */
  size: FrameSize;
}

/**
 * Asks ffprobe for the codec and size of a video file's first video stream.
 *
 * @param path The file.
 * @param options The ffprobe executable.
 * @returns What it holds, or `undefined` when ffprobe finds no video stream
 * or cannot read the file.
 * @throws {CaptureError} When ffprobe cannot be run.
 *
 * @example Usage
 * ```ts ignore
 * import { probeVideo } from "./devices.ts";
 * console.log(await probeVideo("clip.avi")); // { codec: "mjpeg", size: { width: 1280, height: 720 } }
 * ```
 */
export async function probeVideo(
  path: string,
  options: ProbeOptions = {},
): Promise<VideoInfo | undefined> {
  const text = await run(options.ffprobePath ?? "ffprobe", [
    ...["-v", "error", "-select_streams", "v:0"],
    ...["-show_entries", "stream=codec_name,width,height"],
    ...["-of", "default=noprint_wrappers=1", path],
  ]);
  const codec = /^codec_name=(\S+)/m.exec(text)?.[1];
  const width = Number(/^width=(\d+)/m.exec(text)?.[1]);
  const height = Number(/^height=(\d+)/m.exec(text)?.[1]);
  if (codec === undefined || !(width > 0) || !(height > 0)) return undefined;
  return { codec, size: { width, height } };
}

/** Options for {@linkcode choosePassthrough}. */
export interface PassthroughOptions extends ProbeOptions {
  /** The size asked for, if any. */
  size?: FrameSize | undefined;
}

/**
 * Decides whether a camera or video is captured by MJPEG passthrough: for
 * `mjpeg`, yes (a video must be MJPEG); for `raw`, no; for `auto`, yes when
 * a V4L2 or DirectShow camera offers MJPEG at the asked size, or a video is
 * MJPEG already and needs no rescale.
 *
 * @param source The camera or video.
 * @param format What was asked.
 * @param options The size, platform and tools.
 * @returns Whether to pass frames through.
 * @throws {CaptureError} When `mjpeg` is asked of a video that is not MJPEG
 * (`reason: "open-failed"`), or ffmpeg or ffprobe cannot be run.
 *
 * @example A video file
 * ```ts ignore
 * import { choosePassthrough } from "./devices.ts";
 * console.log(await choosePassthrough({ kind: "video", path: "clip.avi" }, "auto"));
 * ```
 */
export async function choosePassthrough(
  source:
    | { kind: "camera"; device: string }
    | { kind: "video"; path: string },
  format: CameraFormat,
  options: PassthroughOptions = {},
): Promise<boolean> {
  if (format === "raw") return false;
  const platform = options.platform ?? Deno.build.os;
  const size = options.size;
  if (source.kind === "video") {
    const info = await probeVideo(source.path, options);
    const same = size === undefined ||
      (info !== undefined && info.size.width === size.width &&
        info.size.height === size.height);
    if (format === "auto") return info?.codec === "mjpeg" && same;
    if (info?.codec !== "mjpeg") {
      throw new CaptureError(
        `Cannot pass ${source.path} through: its video is ${
          info?.codec ?? "unreadable"
        }, not MJPEG; use --camera-format auto or raw`,
        { reason: "open-failed" },
      );
    }
    return true;
  }
  if (format === "mjpeg") return true;
  if (platform === "darwin") return false;
  if (platform === "windows") {
    const name = source.device.startsWith("video=")
      ? source.device
      : `video=${source.device}`;
    const text = await run(options.ffmpegPath ?? "ffmpeg", [
      ...["-hide_banner", "-nostdin", "-f", "dshow"],
      ...["-list_options", "true", "-i", name],
    ]);
    return dshowOffersMjpeg(parseDshowOptions(text), size);
  }
  return offersMjpeg(await listV4l2Formats(source.device, options), size);
}
