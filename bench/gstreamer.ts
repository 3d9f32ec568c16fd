/**
 * The GStreamer row of the benchmark: one JPEG looped by `multifilesrc`,
 * sent as RTP/JPEG (RFC 2435) over loopback, depayloaded and decoded by a
 * second `gst-launch-1.0`.
 *
 * RTP has no reply, so there is no stop-and-wait to time. The receiver
 * counts decoded frames (`fakesink silent=false -v` prints one `chain` line
 * per buffer; each line is timed as it arrives) and the rate is decoded
 * frames over the time from the first to the last. Flooded (`udpsink
 * sync=false`) the sender outruns the receiver and most frames are lost, so
 * the reported rate is the fastest *paced* rate (`sync=true` at a set
 * framerate) that loses at most 1% of frames, searched from the flood rate.
 *
 * @module
 */

import { freeUdpPort, Peer, PeerError } from "./_process.ts";

const RTP_CAPS =
  "application/x-rtp,media=video,encoding-name=JPEG,payload=26,clock-rate=90000";
const MAX_LOSS = 0.01;

/** What an RTP/JPEG sender under test is told to send. */
export interface RtpSendJob {
  /** A baseline JPEG. */
  readonly file: string;
  /** Its size in bytes. */
  readonly fileBytes: number;
  /** Its width. */
  readonly width: number;
  /** Its height. */
  readonly height: number;
  /** The receiver's RTP port on 127.0.0.1. */
  readonly port: number;
  /** Frames to send (the file, looped). */
  readonly frames: number;
  /** Frames per second, or `undefined` to send as fast as it can. */
  readonly rate: number | undefined;
}

/**
 * Sends `job.frames` frames of RTP/JPEG to `job.port` and resolves when it
 * has sent them all.
 */
export type RtpSender = (job: RtpSendJob) => Promise<void>;

/** Options for {@linkcode runGStreamer}. */
export interface GStreamerOptions {
  /** Image width, which `rtpjpegpay` needs in its caps. */
  width: number;
  /** Image height. */
  height: number;
  /**
   * Seconds each paced run lasts.
   *
   * @default {3}
   */
  seconds?: number;
  /**
   * Paced runs at most.
   *
   * @default {7}
   */
  maxAttempts?: number;
  /**
   * Receive buffer for `udpsrc` in bytes; 0 keeps the OS default.
   *
   * @default {4194304}
   */
  receiveBufferBytes?: number;
  /**
   * The highest rate to start the paced search at, whatever the flood run
   * suggests (a flood that the receiver decodes only a few frames of, in a
   * burst, suggests too much).
   *
   * @default {Infinity}
   */
  maxStartRate?: number;
  /**
   * The sender under test.
   *
   * @default {gstreamerSender} (`multifilesrc ! rtpjpegpay ! udpsink`)
   */
  sender?: RtpSender;
}

/** One run of sender and receiver. */
export interface GStreamerRun {
  /** Frames per second of the sender's clock, or `undefined` when flooding. */
  readonly rate: number | undefined;
  /** Frames the sender sent. */
  readonly sent: number;
  /** Frames the receiver decoded. */
  readonly decoded: number;
  /** Decoded frames per second at the receiver, first to last frame. */
  readonly fps: number;
  /** `1 - decoded / sent`. */
  readonly loss: number;
  /** Peak RSS of the receiver in bytes, when known. */
  readonly peakRssBytes: number | undefined;
  /** When each decoded frame's line arrived, `performance.now()` ms. */
  readonly decodedAtMs: readonly number[];
}

/** The outcome of {@linkcode runGStreamer}. */
export interface GStreamerResult {
  /** The flood run that estimated the receiver's capacity. */
  readonly flood: GStreamerRun;
  /** The fastest paced run within 1% loss, if any. */
  readonly best: GStreamerRun | undefined;
  /** Every paced run, in order. */
  readonly paced: readonly GStreamerRun[];
}

/**
 * Runs the sender once, paced at `rate` frames per second or flooding when
 * `rate` is undefined, and counts what the receiver decodes.
 *
 * @param file A baseline JPEG with 4:2:0 or 4:2:2 chroma (RTP/JPEG carries no other).
 * @param options Size, frame count and rate.
 * @returns What was sent and decoded.
 *
 * @example One paced second at 30 frames/s
 * ```ts ignore
 * import { runGStreamerOnce } from "./gstreamer.ts";
 * const run = await runGStreamerOnce("frame.jpg", { width: 640, height: 480, frames: 30, rate: 30 });
 * console.log(run.decoded, run.loss);
 * ```
 */
export async function runGStreamerOnce(
  file: string,
  options: {
    width: number;
    height: number;
    frames: number;
    rate: number | undefined;
    fileBytes: number;
    receiveBufferBytes?: number;
    sender?: RtpSender;
  },
): Promise<GStreamerRun> {
  const port = freeUdpPort();
  const decodedAt: number[] = [];
  const receiver = new Peer("stdbuf", [
    "-oL",
    "gst-launch-1.0",
    "-v",
    "udpsrc",
    `port=${port}`,
    "address=127.0.0.1",
    `buffer-size=${options.receiveBufferBytes ?? 4 << 20}`,
    `caps=${RTP_CAPS}`,
    "!",
    "rtpjpegdepay",
    "!",
    "jpegdec",
    "!",
    "fakesink",
    "sync=false",
    "silent=false",
  ], {
    onLine: (line) => {
      if (line.text.includes("last-message = chain")) {
        decodedAt.push(line.atMs);
      }
    },
  });
  try {
    await receiver.waitFor(/Setting pipeline to PLAYING/, 10_000);
    await (options.sender ?? gstreamerSender)({
      file,
      fileBytes: options.fileBytes,
      width: options.width,
      height: options.height,
      port,
      frames: options.frames,
      rate: options.rate,
    });
    await quiet(() => decodedAt.length, 500, 10_000);
    const peakRssBytes = await receiver.peakRssBytes();
    const decoded = decodedAt.length;
    const first = decodedAt[0] ?? 0;
    const last = decodedAt[decoded - 1] ?? 0;
    const fps = decoded > 1 && last > first
      ? (decoded - 1) / ((last - first) / 1000)
      : 0;
    return {
      rate: options.rate,
      sent: options.frames,
      decoded,
      fps,
      loss: Math.max(0, 1 - decoded / options.frames),
      peakRssBytes,
      decodedAtMs: decodedAt,
    };
  } finally {
    await receiver.stop("SIGINT");
  }
}

/**
 * Finds the fastest paced rate at which the GStreamer receiver decodes at
 * least 99% of frames: a flood run estimates its capacity, then paced runs
 * step up or down by 25% until one passes and one fails, then bisect
 * to within 10%.
 *
 * @param file A baseline JPEG with 4:2:0 or 4:2:2 chroma.
 * @param options Size, run length and receive buffer.
 * @returns The flood run, every paced run and the best one.
 *
 * @example Benchmarking a 640×480 frame
 * ```ts ignore
 * import { runGStreamer } from "./gstreamer.ts";
 * const { best } = await runGStreamer("photo_640x480.jpg", { width: 640, height: 480 });
 * console.log(best?.fps);
 * ```
 */
export async function runGStreamer(
  file: string,
  options: GStreamerOptions,
): Promise<GStreamerResult> {
  const seconds = options.seconds ?? 3;
  const common = {
    fileBytes: (await Deno.stat(file)).size,
    width: options.width,
    height: options.height,
    receiveBufferBytes: options.receiveBufferBytes ?? 4 << 20,
    ...(options.sender !== undefined && { sender: options.sender }),
  };
  // About 100 MB of flood, enough to fill the receiver for a while.
  const floodFrames = Math.min(
    1000,
    Math.max(100, Math.round(100e6 / common.fileBytes)),
  );
  const flood = await runGStreamerOnce(file, {
    ...common,
    frames: floodFrames,
    rate: undefined,
  });
  const paced: GStreamerRun[] = [];
  let best: GStreamerRun | undefined;
  let passed = 0;
  let failed = Infinity;
  let rate = Math.max(
    5,
    Math.floor(Math.min(flood.fps * 0.9, options.maxStartRate ?? Infinity)),
  );
  for (let attempt = 0; attempt < (options.maxAttempts ?? 7); attempt++) {
    const run = await runGStreamerOnce(file, {
      ...common,
      frames: Math.max(20, Math.round(rate * seconds)),
      rate,
    });
    paced.push(run);
    if (run.loss <= MAX_LOSS) {
      passed = rate;
      if (best === undefined || run.fps > best.fps) best = run;
    } else {
      failed = rate;
    }
    if (passed === 0) rate = Math.floor(rate * 0.75);
    else if (failed === Infinity) rate = Math.floor(rate * 1.25);
    else if (failed / passed < 1.1) break;
    else rate = Math.floor((passed + failed) / 2);
    if (rate < 1) break;
  }
  return { flood, best, paced };
}

/**
 * GStreamer's sender: `multifilesrc` loops the file, `identity` stamps the
 * buffers at `rate` (from the byte count, exact for a file of fixed size),
 * `rtpjpegpay` packetizes and `udpsink` sends each frame at its time
 * (`sync=true`), back to back; flooding, `sync=false`.
 *
 * @param job What to send.
 *
 * @example Ten frames at 30 frames/s
 * ```ts ignore
 * import { gstreamerSender } from "./gstreamer.ts";
 * await gstreamerSender({ file: "f.jpg", fileBytes: 50000, width: 640, height: 480, port: 5004, frames: 10, rate: 30 });
 * ```
 */
export async function gstreamerSender(job: RtpSendJob): Promise<void> {
  const rate = job.rate;
  const sender = new Peer("gst-launch-1.0", [
    "-q",
    "multifilesrc",
    `location=${job.file}`,
    "loop=true",
    `num-buffers=${job.frames}`,
    `caps=image/jpeg,framerate=${
      rate === undefined ? 30 : Math.round(rate)
    }/1,width=${job.width},height=${job.height}`,
    // multifilesrc leaves buffers untimed; identity stamps them from the
    // byte count, which paces a file of fixed size at exactly `rate`.
    ...(rate === undefined ? [] : [
      "!",
      "identity",
      `datarate=${Math.round(job.fileBytes * rate)}`,
    ]),
    "!",
    "rtpjpegpay",
    "!",
    "udpsink",
    "host=127.0.0.1",
    `port=${job.port}`,
    `sync=${rate !== undefined}`,
  ]);
  const budgetMs = rate === undefined
    ? 60_000
    : 10_000 + 2000 * job.frames / rate;
  const status = await sender.wait(budgetMs);
  if (!status.success) {
    throw new PeerError(
      `GStreamer sender failed with exit code ${status.code}: ${sender.stderrTail()}`,
    );
  }
}

/** Resolves once `count()` has not changed for `idleMs`, or after `maxMs`. */
async function quiet(
  count: () => number,
  idleMs: number,
  maxMs: number,
): Promise<void> {
  const start = performance.now();
  let seen = count();
  let since = performance.now();
  while (performance.now() - start < maxMs) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = count();
    if (now !== seen) {
      seen = now;
      since = performance.now();
    } else if (performance.now() - since >= idleMs) {
      return;
    }
  }
}
