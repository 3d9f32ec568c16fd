/**
 * The tutorial's client, in Deno: sends image files, a generated test
 * pattern, a camera or a video to a classic server, waiting for the reply to
 * each frame.
 *
 * @module
 */

import {
  choiceFlag,
  intFlag,
  MAX_TIMER_MS,
  numberFlag,
  parseFlags,
  runMain,
  UsageError,
} from "./lib/cli/cli.ts";
import {
  KEY_FILE_HELP,
  KEY_FILE_OPTION,
  loadKeyFlag,
} from "./lib/cli/key_file_flag.ts";
import {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_HOST,
  DEFAULT_IMAGE_PORT,
  MAX_DATAGRAM_BYTES,
} from "./lib/classic/constants.ts";
import { openFrameSource } from "./lib/frame_source.ts";
import {
  openClassicLink,
  openRtpLink,
  type RtpLinkOptions,
} from "./lib/cli/frame_link.ts";
import {
  type MulticastFlags,
  multicastFlags,
} from "./lib/cli/multicast_flag.ts";
import { CAMERA_FORMATS } from "./lib/capture/ffmpeg.ts";
import { cameraTable, listCaptureDevices } from "./lib/capture/devices.ts";
import { hostFlag } from "./lib/cli/host_flag.ts";
import { sizeFlag } from "./lib/cli/size_flag.ts";
import { sendFrames } from "./lib/cli/link_send.ts";
import { streamFrames } from "./lib/cli/stream_send.ts";
import type { StreamClientOptions } from "./lib/stream/client.ts";
import {
  DEFAULT_DATAGRAM_BYTES,
  MIN_DATAGRAM_BYTES,
} from "./lib/stream/wire.ts";
import { DEFAULT_RTP_MTU, JPEG_PAYLOAD_TYPE } from "./lib/rtp/packetizer.ts";

const HELP = `Usage: deno run -P client.ts [options] [IMAGE ...]

Sends images to a server on the tutorial's protocol and waits for its reply
("get message!!!") after each one, or streams them open loop over udpimg's
loss-tolerant stream protocol, or as RTP/JPEG. With no IMAGE, it sends a test
pattern it draws itself, with the frame number on it.

Sources (one of):
  IMAGE ...               JPEG or PNG files, sent in turn, as they are
  --camera DEVICE         a webcam through ffmpeg: /dev/video0 (Linux), a device
                          index (macOS), a device name (Windows), or "testsrc"
                          for ffmpeg's synthetic camera
  --video FILE            a video file through ffmpeg (--loop to repeat it)
  --camera list           list the capture devices (and on Linux their formats
                          and sizes), then exit

Options:
  --host ADDR             server address (default ${DEFAULT_HOST})
  --port N                server image port (default ${DEFAULT_IMAGE_PORT})
  --protocol P            classic (the tutorial's, default), stream (udpimg's own,
                          for real networks) or rtp (RTP/JPEG, RFC 2435, RTCP
                          on port + 1; no replies)
  --chunk-size N          image bytes per datagram (default ${DEFAULT_CHUNK_SIZE}); with
                          --protocol stream, the largest datagram, headers
                          included (default ${DEFAULT_DATAGRAM_BYTES})
  --burst N               send at most N datagrams back to back, then pause 1 ms;
                          for servers with small receive buffers, such as the
                          tutorial's with large images (try 16; default: no pause)
  --single                send each image in one datagram (at most ${MAX_DATAGRAM_BYTES} bytes)
  --count N               frames to send (default: each file once; 1 pattern
                          frame; unlimited for a camera or video)
  --fps N                 at most N frames a second (default: as fast as replies come)
  --encode jpg|png        decode each image and encode it again for every frame,
                          as the tutorial's loop does
  --quality Q             JPEG quality, 1-100 (default 95, as OpenCV's)
  --size WxH              frame size (default: 640x480 for the pattern and
                          testsrc, a camera's or video's own size otherwise)
  --camera-format F       auto, mjpeg or raw (default auto): mjpeg forwards the
                          camera's own JPEG frames (v4l2 -input_format mjpeg,
                          dshow -vcodec mjpeg) with no decode or re-encode; raw
                          has ffmpeg encode every frame; auto uses mjpeg when
                          the camera offers it at --size. For --video, auto
                          forwards an MJPEG file's frames as they are
  --loop                  repeat the video file
  --timeout MS            classic: wait this long for each reply (default 2000)
  --retries N             classic: times to send a frame again (default 3)
  --quiet                 print only the summary
  --help                  show this help

Stream options (--protocol stream; it never waits for a reply):
  --fps N                 frames a second; 0 (default) for files and the
                          pattern: as fast as the path allows, adapting to the
                          server's reports
  --rate MBIT             cap the rate, retransmissions included, in Mbit/s
  --fec K                 one parity datagram per K data datagrams (default 0)
  --latency MS            the server's latency budget (default 120): how long
                          frames are kept to answer retransmission requests
${KEY_FILE_HELP}
  A multicast --host (239.x.y.z) sends to the group: members (server.ts --join)
  ask the sender for what they miss, and each chunk asked for goes to the
  group once per interval for everyone; give --fps N (the rate does not adapt
  to several receivers; --rate caps it), and --fec K (FEC repairs without a
  round trip, for all members at once); --ttl and --multicast-if as for RTP.
  On a terminal a status line shows fps, Mbit/s, loss, RTT and retransmissions;
  the summary adds sent=… retransmitted=… fec=… rtt_ms=… (and with a key
  unauthenticated=… replayed=…)

RTP options (--protocol rtp):
  --sdp FILE              write an SDP file that ffplay, VLC and GStreamer open
  --mtu N                 largest RTP packet (default ${DEFAULT_RTP_MTU})
  --rate MBIT             cap the rate at MBIT megabits a second (default: none;
                          each frame is spread over 80% of the frame interval)
  --rtp-pt N              payload type (default ${JPEG_PAYLOAD_TYPE}; 96-127 are dynamic)
  --ttl N                 multicast TTL when --host is a group (default 1; also
                          for --protocol stream)
  --multicast-if ADDR     send multicast out of the interface with this address
  RTP/JPEG carries baseline 4:2:0 or 4:2:2 JPEGs with standard Huffman tables
  up to 2040x2040; --encode jpg re-encodes other images so. --fps defaults to 30.

It prints the server's reply to each frame, then one summary line:
frames=… seconds=… fps=… bytes=…`;

await runMain(async () => {
  const { values, positionals } = parseFlags(Deno.args, {
    host: { type: "string" },
    port: { type: "string" },
    "chunk-size": { type: "string" },
    fec: { type: "string" },
    latency: { type: "string" },
    burst: { type: "string" },
    single: { type: "boolean", default: false },
    count: { type: "string" },
    fps: { type: "string" },
    encode: { type: "string" },
    quality: { type: "string" },
    size: { type: "string" },
    camera: { type: "string" },
    video: { type: "string" },
    "camera-format": { type: "string" },
    loop: { type: "boolean", default: false },
    timeout: { type: "string" },
    retries: { type: "string" },
    protocol: { type: "string" },
    sdp: { type: "string" },
    mtu: { type: "string" },
    rate: { type: "string" },
    "rtp-pt": { type: "string" },
    ttl: { type: "string" },
    "multicast-if": { type: "string" },
    ...KEY_FILE_OPTION,
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  }, { positionals: "IMAGE ..." });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const cameraFormat = choiceFlag(
    "camera-format",
    values["camera-format"],
    CAMERA_FORMATS,
  );
  if (
    values["camera-format"] !== undefined && values.camera === undefined &&
    values.video === undefined
  ) {
    throw new UsageError("--camera-format goes with --camera or --video");
  }
  const sources = [
    positionals.length > 0,
    values.camera !== undefined,
    values.video !== undefined,
  ].filter(Boolean).length;
  if (sources > 1) {
    throw new UsageError(
      "Give image files, --camera or --video, not more than one of them",
    );
  }
  if (values.camera === "list") {
    for (const line of cameraTable(await listCaptureDevices())) {
      console.log(line);
    }
    return 0;
  }
  if (values.loop && values.video === undefined) {
    throw new UsageError("--loop goes with --video");
  }
  const live = values.camera !== undefined || values.video !== undefined;
  const port = intFlag("port", values.port, DEFAULT_IMAGE_PORT, {
    min: 1,
    max: 65535,
  });
  const protocol = values.protocol === undefined
    ? "classic"
    : choiceFlag("protocol", values.protocol, ["classic", "stream", "rtp"]);
  const streaming = protocol === "stream";
  // Checked once here; every link below reads values.host.
  values.host = hostFlag("host", values.host, {
    fallback: DEFAULT_HOST,
    ...(protocol === "classic" && {
      refuseMulticast:
        "the classic protocol waits for one server's reply; send to a group with --protocol stream or rtp",
    }),
  });
  const chunkSize = intFlag(
    "chunk-size",
    values["chunk-size"],
    streaming ? DEFAULT_DATAGRAM_BYTES : DEFAULT_CHUNK_SIZE,
    {
      min: streaming ? MIN_DATAGRAM_BYTES : 9,
      max: MAX_DATAGRAM_BYTES,
    },
  );
  // Files are each sent once by default, as the help says "in turn".
  const count = intFlag(
    "count",
    values.count,
    live ? Infinity : Math.max(1, positionals.length),
    { min: 1 },
  );
  const burst = intFlag("burst", values.burst, 0, { max: 1_000_000 });
  const fps = intFlag("fps", values.fps, 0, { min: 0, max: 1000 });
  const quality = intFlag("quality", values.quality, 95, { min: 1, max: 100 });
  const timeoutMs = intFlag("timeout", values.timeout, 2000, {
    min: 1,
    max: MAX_TIMER_MS,
  });
  const retries = intFlag("retries", values.retries, 3, { max: 1000 });
  const encode = values.encode === undefined
    ? undefined
    : choiceFlag("encode", values.encode, ["jpg", "png"]);
  if (live && encode !== undefined) {
    throw new UsageError(
      "--encode works on image files and the test pattern; camera and video frames are sent as ffmpeg encodes them (use --quality)",
    );
  }
  const size = sizeFlag("size", values.size);
  const quiet = values.quiet;
  const rtp = protocol === "rtp";
  if (!rtp) {
    for (const flag of ["sdp", "mtu", "rtp-pt"] as const) {
      if (values[flag] !== undefined) {
        throw new UsageError(`--${flag} goes with --protocol rtp`);
      }
    }
  }
  if (protocol === "classic") {
    for (const flag of ["ttl", "multicast-if"] as const) {
      if (values[flag] !== undefined) {
        throw new UsageError(`--${flag} goes with --protocol stream or rtp`);
      }
    }
  }
  if (!streaming && values["key-file"] !== undefined) {
    throw new UsageError(
      `--key-file goes with --protocol stream: the ${protocol} protocol cannot be sealed`,
    );
  }
  if (!streaming) {
    for (const flag of ["fec", "latency"] as const) {
      if (values[flag] !== undefined) {
        throw new UsageError(`--${flag} goes with --protocol stream`);
      }
    }
  }
  if (protocol !== "classic") {
    for (const flag of ["timeout", "retries"] as const) {
      if (values[flag] !== undefined) {
        throw new UsageError(
          `--${flag} goes with --protocol classic: ${protocol} waits for no reply`,
        );
      }
    }
  }
  if (protocol === "classic" && values.rate !== undefined) {
    throw new UsageError("--rate goes with --protocol stream or rtp");
  }
  const rateMbit = numberFlag("rate", values.rate, undefined, {
    min: 0.1,
    max: 100_000,
    unit: "Mbit/s",
  });
  if (rtp && (values.single || values["chunk-size"] !== undefined)) {
    throw new UsageError(
      "--single and --chunk-size go with --protocol classic; RTP uses --mtu",
    );
  }
  if (streaming && (values.single || values.burst !== undefined)) {
    throw new UsageError(
      `--${
        values.single ? "single" : "burst"
      } is for the classic protocol; the stream protocol paces its datagrams itself`,
    );
  }
  if (rtp && values.burst !== undefined) {
    throw new UsageError(
      "--burst is for the classic protocol; RTP spreads each frame over the frame interval (--fps, --rate)",
    );
  }
  // Image files are sent as they are, unless --encode makes them again.
  if (positionals.length > 0) {
    if (values.size !== undefined) {
      throw new UsageError(
        "--size goes with the test pattern, --camera or --video; image files are sent at their own size",
      );
    }
    if (values.quality !== undefined && encode !== "jpg") {
      throw new UsageError(
        "--quality goes with --encode jpg for image files (they are sent as they are otherwise)",
      );
    }
  }
  // RTP has no reply to wait for: without a rate it would flood.
  const frameRate = fps > 0 ? fps : rtp && !live ? 30 : 0;

  // Every flag is read, and the key file and --host's name with them,
  // before a camera or ffmpeg starts: a mistake is told at once.
  const stream = streaming
    ? await streamOptions(values, { hostname: values.host, port }, {
      datagramBytes: chunkSize,
      fixedPace: fps > 0 || live,
      rateMbit,
    })
    : undefined;
  const rtpFlags = rtp ? await rtpLinkFlags(values, values.host) : undefined;

  await using source = await openFrameSource({
    files: positionals,
    camera: values.camera,
    video: values.video,
    loop: values.loop,
    encode,
    quality,
    fps: fps || undefined,
    cameraFormat,
    standardHuffman: rtp,
    ...size,
  });
  if (source.passthrough && !quiet) {
    console.log(
      "capture: forwarding the source's own MJPEG frames (no decode, no re-encode)",
    );
  }

  if (stream !== undefined) {
    await streamFrames(source, stream, { count, fps, live, quiet });
    return 0;
  }
  await using link = rtp
    ? await openRtpLink({
      ...rtpFlags!,
      hostname: values.host,
      port,
      frameRate,
      rateBitsPerSecond: (rateMbit ?? 0) * 1e6,
      origin: encode === "jpg" ? "encode" : live ? "live" : "files",
      onNotice: (text) => console.error(`note: ${text}`),
    })
    : await openClassicLink({
      hostname: values.host,
      port,
      chunkSize,
      timeoutMs,
      retries,
      burst,
      single: values.single,
    });
  await sendFrames(source, link, {
    count,
    frameRate,
    live,
    quiet,
    single: values.single,
    burst,
    chunkSize,
    datagramFlag: rtp ? "--mtu" : "--chunk-size",
  });
  return 0;
});

/**
 * The stream protocol's flags, the multicast ones and the key file, as
 * {@linkcode streamFrames} takes them.
 */
async function streamOptions(
  values: MulticastFlags & {
    fec?: string | undefined;
    latency?: string | undefined;
    "key-file"?: string | undefined;
  },
  to: { hostname: string; port: number },
  run: {
    datagramBytes: number;
    fixedPace: boolean;
    rateMbit: number | undefined;
  },
): Promise<StreamClientOptions> {
  const fec = intFlag("fec", values.fec, 0, { max: 255 });
  const latencyMs = intFlag("latency", values.latency, 120, {
    min: 1,
    max: 60_000,
  });
  const group = await multicastFlags(to.hostname, values);
  if (group.multicast && !run.fixedPace) {
    throw new UsageError(
      "A multicast stream goes at a fixed pace, since no one member's reports may set it: give --fps N (and --rate MBIT to cap the rate)",
    );
  }
  const loaded = await loadKeyFlag(values["key-file"]);
  return {
    ...to,
    ...group,
    ...(loaded !== undefined && { key: loaded.key }),
    datagramBytes: run.datagramBytes,
    fec,
    latencyMs,
    ...(run.rateMbit !== undefined && { maxRate: (run.rateMbit * 1e6) / 8 }),
  };
}

/** The RTP link's own flags: --mtu, --rtp-pt, --sdp and the multicast ones. */
async function rtpLinkFlags(
  values: MulticastFlags & {
    sdp?: string | undefined;
    mtu?: string | undefined;
    "rtp-pt"?: string | undefined;
  },
  hostname: string,
): Promise<
  Pick<
    RtpLinkOptions,
    "mtu" | "payloadType" | "multicastTtl" | "multicastInterface" | "sdpFile"
  >
> {
  const mtu = intFlag("mtu", values.mtu, DEFAULT_RTP_MTU, {
    min: 300,
    max: MAX_DATAGRAM_BYTES,
  });
  const payloadType = intFlag("rtp-pt", values["rtp-pt"], JPEG_PAYLOAD_TYPE, {
    max: 127,
  });
  const { multicastTtl, multicastInterface } = await multicastFlags(
    hostname,
    values,
  );
  return {
    mtu,
    payloadType,
    multicastTtl,
    multicastInterface,
    sdpFile: values.sdp,
  };
}
