/**
 * The tutorial's server, in Deno: receives images on the image port and JSON
 * messages on the message port, replies as the tutorial does, decodes each
 * frame, and can save frames and show them in a browser.
 *
 * @module
 */

import {
  CompositeDecoder,
  createDecoder,
  type DecoderMode,
} from "./lib/codec/select.ts";
import type { ReceivedMessage } from "./lib/classic/message.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "./lib/classic/reassembler.ts";
import { runDemoSender } from "./lib/demo.ts";
import { lazyTranscoder, pngToJpeg } from "./lib/viewer/transcode.ts";
import type { Viewer } from "./lib/viewer/viewer.ts";
import { checkToken, isLoopback } from "./lib/viewer/access.ts";
import { DEFAULT_RECEIVE_BUFFER_BYTES, endpointKey } from "./lib/net/open.ts";
import { reachableHost } from "./lib/net/_ip.ts";
import { isMulticast, multicastBindAddress } from "./lib/net/multicast.ts";
import {
  choiceFlag,
  errorLine,
  intFlag,
  LogLimiter,
  MAX_TIMER_MS,
  onShutdown,
  parseFlags,
  positiveNumberFlag,
  runMain,
  UsageError,
} from "./lib/cli/cli.ts";
import {
  KEY_FILE_HELP,
  KEY_FILE_OPTION,
  loadKeyFlag,
} from "./lib/cli/key_file_flag.ts";
import {
  DEFAULT_HOST,
  DEFAULT_IMAGE_PORT,
  DEFAULT_MESSAGE_PORT,
} from "./lib/classic/constants.ts";
import { localAddressTest } from "./lib/stream/receiver.ts";
import type { FrameDropEvent, StrayDatagramEvent } from "./lib/server/types.ts";
import { openFrameOutputs } from "./lib/record/outputs.ts";
import { hostFlag, listenHostFlag } from "./lib/cli/host_flag.ts";
import { writableDirFlag } from "./lib/cli/dir_flag.ts";
import {
  dropLine,
  frameFileName,
  frameLine,
  messageLine,
} from "./lib/cli/server_lines.ts";
import { listenServer } from "./lib/cli/server_listen.ts";
import { serverSummary } from "./lib/cli/server_summary.ts";
import { startViewer } from "./lib/cli/viewer_flag.ts";
import { startRtsp } from "./lib/rtsp/cli.ts";

const HELP = `Usage: deno run -P server.ts [options]

Receives images on the image port and JSON messages on the message port of
the tutorial's protocol, replies "get message!!!" and "get the msg", decodes
every frame and prints one line per frame. RTP/JPEG senders (RFC 2435, as
ffmpeg -f rtp and GStreamer's rtpjpegpay send) and stream protocol senders
(client.ts --protocol stream) are taken on the image port too.

Options:
  --host ADDR             address to bind (default ${DEFAULT_HOST}; 0.0.0.0 for all)
  --port N                image port (default ${DEFAULT_IMAGE_PORT}; 0 picks a free one)
  --msg-port N            message port (default ${DEFAULT_MESSAGE_PORT}; 0 picks a free one)
  --out DIR               save each frame's bytes, as received, as DIR/000001.jpg, …
  --out -                 write the frames to stdout as one MJPEG stream (PNG
                          as JPEG), for: server.ts --out - | ffplay -f mjpeg -;
                          every line goes to stderr then
  --record DIR            record each sender to DIR/SENDER-YYYYmmdd-HHMMSS.mkv
                          (MJPEG in Matroska through ffmpeg, no re-encode,
                          arrival timestamps; a new file when the size changes)
  --record-segment MIN    start a new file every MIN minutes (decimals allowed)
  --count N               exit after N whole frames
  --timeout MS            drop a partial frame silent for this long (default 3000)
  --join GROUP            also receive multicast GROUP on the image port (may be
                          given more than once); binds 0.0.0.0 unless --host
                          says otherwise, and shares the port with other receivers
  --join-if ADDR          the interface to join on, by one of its addresses
  --protocol P            auto (default: each sender's first datagram decides),
                          classic, stream or rtp to take every sender as that
                          protocol
  --latency MS            stream protocol: give up on a frame still incomplete
                          this long after its first datagram (default 120)
${KEY_FILE_HELP.replace("seal the stream", "take only stream senders sealed")}
                          (classic and RTP senders, which cannot be
                          authenticated, are refused then)
  --allow-classic         with a key: take classic senders and messages anyway
  --allow-rtp             with a key: take RTP senders anyway
  --rtp-pt N              also take RTP payload type N as JPEG (a dynamic type
                          from an SDP file; 26 always is); RTCP uses port + 1
  --max-frame-bytes N     largest frame a header may announce (default ${DEFAULT_MAX_FRAME_BYTES})
  --rcvbuf BYTES          kernel receive buffer to ask for (default ${DEFAULT_RECEIVE_BUFFER_BYTES})
  --decoder MODE          auto, native, imagescript or none (default auto)
  --view PORT             serve a live viewer at http://127.0.0.1:PORT (0 picks a free port)
  --view-host ADDR        address for the viewer (default 127.0.0.1); beyond
                          loopback it requires a token, printed in its URL
  --view-token TOKEN      the viewer's token instead of a random one (8 to 256
                          characters from A-Z a-z 0-9 - _ . ~); also on loopback
  --view-open             no token beyond loopback: anyone who can reach the
                          viewer sees the frames
  --rtsp PORT             serve what arrives as RTSP, rtsp://127.0.0.1:PORT/live
                          (the most recently active sender) or /HOST:PORT (one)
  --rtsp-host ADDR        address for RTSP (default 127.0.0.1)
  --rtsp-user USER:PASS   ask RTSP players for this user and password (Digest)
  --demo                  also stream a test pattern to this server, and serve the
                          viewer (port 8080, or a free one if it is taken)
  --quiet                 print only the summary
  --help                  show this help

On exit (--count, Ctrl-C or SIGTERM) it prints one summary line:
frames=… decoded=… errors=… dropped=… bytes=… seconds=… fps=…, and after
stream senders lost=… late=… recovered_nack=… recovered_fec=…
latency_p50_ms=… latency_p99_ms=…, and with a key unauthenticated=…
replayed=… (refused=… counts classic and RTP datagrams refused)`;

await runMain(async () => {
  const { values } = parseFlags(Deno.args, {
    host: { type: "string" },
    port: { type: "string" },
    "msg-port": { type: "string" },
    out: { type: "string" },
    record: { type: "string" },
    "record-segment": { type: "string" },
    count: { type: "string" },
    timeout: { type: "string" },
    "max-frame-bytes": { type: "string" },
    rcvbuf: { type: "string" },
    decoder: { type: "string" },
    view: { type: "string" },
    "view-host": { type: "string" },
    rtsp: { type: "string" },
    "rtsp-host": { type: "string" },
    "rtsp-user": { type: "string" },
    join: { type: "string", multiple: true },
    "join-if": { type: "string" },
    "view-token": { type: "string" },
    "view-open": { type: "boolean", default: false },
    protocol: { type: "string" },
    latency: { type: "string" },
    "rtp-pt": { type: "string", multiple: true },
    ...KEY_FILE_OPTION,
    "allow-classic": { type: "boolean", default: false },
    "allow-rtp": { type: "boolean", default: false },
    demo: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const toStdout = values.out === "-";
  // stdout carries the MJPEG stream: every line, ours or a library's, goes to stderr.
  if (toStdout) console.log = console.error;
  const port = intFlag("port", values.port, DEFAULT_IMAGE_PORT, {
    max: 65535,
  });
  const messagePort = intFlag(
    "msg-port",
    values["msg-port"],
    DEFAULT_MESSAGE_PORT,
    { max: 65535 },
  );
  if (port !== 0 && port === messagePort) {
    throw new UsageError(
      `--port and --msg-port are both ${port}; give them different ports (or 0 for free ones)`,
    );
  }
  const count = intFlag("count", values.count, 0, { min: 1 });
  const timeoutMs = intFlag("timeout", values.timeout, 3000, {
    min: 1,
    max: MAX_TIMER_MS,
  });
  const maxFrameBytes = intFlag(
    "max-frame-bytes",
    values["max-frame-bytes"],
    DEFAULT_MAX_FRAME_BYTES,
    { min: 1, max: 2 ** 31 },
  );
  const receiveBufferBytes = intFlag(
    "rcvbuf",
    values.rcvbuf,
    DEFAULT_RECEIVE_BUFFER_BYTES,
    {
      min: 1024,
      max: 2 ** 31 - 1,
    },
  );
  const decoderMode: DecoderMode = choiceFlag("decoder", values.decoder, [
    "auto",
    "native",
    "imagescript",
    "none",
  ]);
  const protocol = values.protocol === undefined
    ? "auto"
    : choiceFlag("protocol", values.protocol, [
      "auto",
      "classic",
      "stream",
      "rtp",
    ]);
  const latencyMs = intFlag("latency", values.latency, 120, {
    min: 1,
    max: 60_000,
  });
  if (
    values.latency !== undefined && protocol !== "auto" &&
    protocol !== "stream"
  ) {
    throw new UsageError(
      `--latency goes with --protocol auto or stream; ${protocol} senders have no latency budget`,
    );
  }
  const payloadTypes = (values["rtp-pt"] ?? []).map((text) =>
    intFlag("rtp-pt", text, 0, { max: 127 })
  );
  if (payloadTypes.length > 0 && protocol === "classic") {
    throw new UsageError("--rtp-pt goes with --protocol auto or rtp");
  }
  const groups = values.join ?? [];
  for (const group of groups) {
    if (!isMulticast(group)) {
      throw new UsageError(
        `--join takes a multicast group address (224.0.0.0/4 or ff00::/8, 239.x.y.z for local use), got '${group}'`,
      );
    }
  }
  if (values["join-if"] !== undefined && groups.length === 0) {
    throw new UsageError("--join-if goes with --join GROUP");
  }
  const host = hostFlag("host", values.host, {
    fallback: groups.length > 0
      ? multicastBindAddress(groups[0]!)
      : DEFAULT_HOST,
    refuseMulticast:
      `to receive the group, use --join ${values.host} (it binds 0.0.0.0)`,
  });
  if (groups.length > 0 && host !== "0.0.0.0" && host !== "::") {
    throw new UsageError(
      `--join needs the image port bound to a wildcard address: a socket bound to ${host} gets no multicast; drop --host or use --host 0.0.0.0`,
    );
  }
  const loaded = await loadKeyFlag(values["key-file"]);
  const key = loaded?.key;
  for (const flag of ["allow-classic", "allow-rtp"] as const) {
    if (values[flag] && key === undefined) {
      throw new UsageError(
        `--${flag} goes with --key-file FILE (or UDPIMG_KEY_FILE): without a key every sender is taken`,
      );
    }
  }
  if (
    key !== undefined && (protocol === "classic" || protocol === "rtp") &&
    !values[`allow-${protocol}`]
  ) {
    throw new UsageError(
      `--protocol ${protocol} with a key would refuse every sender: ${protocol} cannot be authenticated; add --allow-${protocol}, or serve --protocol stream`,
    );
  }
  if (key !== undefined && values.demo && !values["allow-classic"]) {
    throw new UsageError(
      "--demo sends the classic protocol, which a server with a key refuses: add --allow-classic",
    );
  }
  const demo = values.demo;
  const viewPort = values.view === undefined
    ? (demo ? 8080 : undefined)
    : intFlag("view", values.view, 0, { max: 65535 });
  for (const flag of ["view-host", "view-token", "view-open"] as const) {
    if (values[flag] && viewPort === undefined) {
      throw new UsageError(`--${flag} goes with --view PORT`);
    }
  }
  const viewHost = listenHostFlag("view-host", values["view-host"]);
  const viewToken = values["view-token"];
  if (viewToken !== undefined && values["view-open"]) {
    throw new UsageError("--view-token and --view-open exclude each other");
  }
  if (viewToken !== undefined) {
    try {
      checkToken(viewToken);
    } catch (error) {
      throw new UsageError(`--view-token: ${errorLine(error)}`);
    }
  }
  // The demo prints a status line instead of a line per frame.
  const quiet = values.quiet || demo;
  const log = quiet ? () => {} : console.log;
  const out = toStdout ? undefined : values.out;
  if (values.record === "-") {
    throw new UsageError(
      "--record takes a directory; to write the frames to stdout, use --out -",
    );
  }
  if (out !== undefined) await writableDirFlag("out", out);
  if (values.record !== undefined) {
    await writableDirFlag("record", values.record);
  }
  const segmentMinutes = positiveNumberFlag(
    "record-segment",
    values["record-segment"],
    Infinity,
  );
  if (values["record-segment"] !== undefined && values.record === undefined) {
    throw new UsageError("--record-segment goes with --record DIR");
  }
  const outputs = await openFrameOutputs({
    recordDir: values.record,
    segmentMs: segmentMinutes * 60_000,
    stream: toStdout ? Deno.stdout.writable : undefined,
    log: (line) => log(line),
    warn: console.error,
  });

  const { decoder, reason } = await createDecoder(decoderMode);
  const limited = new LogLimiter(20, log);
  // Warnings go to stderr even with --quiet: they need the user's attention.
  const warnings = new LogLimiter(20, console.error);
  let viewer: Viewer | undefined;
  // Codecs of its own, made at the first PNG, so that the viewer shows PNG
  // as JPEG whatever --decoder says.
  const viewerPng = lazyTranscoder(pngToJpeg);
  const listenOptions = {
    hostname: host,
    ...(groups.length > 0 && {
      reuseAddress: true,
      multicast: {
        join: groups,
        ...(values["join-if"] !== undefined &&
          { interface: values["join-if"] }),
      },
    }),
    timeoutMs,
    maxFrameBytes,
    receiveBufferBytes,
    ...(protocol !== "auto" && { protocols: [protocol] }),
    rtp: { payloadTypes: [26, ...payloadTypes] },
    stream: { latencyMs, isLocalAddress: localAddressTest() },
    ...(key !== undefined && {
      key,
      allowClassic: values["allow-classic"],
      allowRtp: values["allow-rtp"],
    }),
    decoder: decoder ?? ("none" as const),
    onMessage(message: ReceivedMessage) {
      if (message.ok) viewer?.publishMessage(message.value, message.sender);
      limited.line(messageLine(message));
    },
    onDrop(event: FrameDropEvent | StrayDatagramEvent) {
      limited.line(dropLine(event));
    },
    onNotice(text: string) {
      warnings.line(`warning: ${text}`);
    },
    onError(error: Error) {
      warnings.line(`warning: ${error.message}`);
    },
  };
  const server = await listenServer(listenOptions, {
    port,
    messagePort,
    fallBack: demo && values.port === undefined &&
      values["msg-port"] === undefined,
  });
  const image = server.imageAddr;
  const msg = server.messageAddr!;
  console.log(`ready image=${endpointKey(image)} msg=${endpointKey(msg)}`);
  const granted = server.receiveBufferBytes;
  log(
    `socket: ${server.socketKind}, receive buffer ${
      granted === undefined ? "unknown" : `${granted} bytes`
    }; ${reason}`,
  );
  if (server.sealing !== undefined) {
    log(`${server.sealing}; key from ${loaded!.path}`);
  }
  const warning = server.receiveBufferWarning;
  if (warning !== undefined) console.error(`warning: ${warning}`);
  if (server.controlAddr !== undefined) {
    log(`rtcp: ${endpointKey(server.controlAddr)}`);
  }
  if (server.controlWarning !== undefined) {
    console.error(`note: ${server.controlWarning}`);
  }

  if (viewPort !== undefined) {
    viewer = await startViewer(server, {
      hostname: viewHost,
      port: viewPort,
      fallBack: demo && values.view === undefined,
      token: viewToken,
      open: values["view-open"],
      keyed: key !== undefined,
      transcode: viewerPng.transcode,
    }).catch(async (error) => {
      await server.close();
      throw error;
    });
    console.log(`viewer: ${viewer.openUrl}`);
    if (values["view-open"] && !isLoopback(viewHost)) {
      console.error(
        `warning: --view-open: the viewer asks no token; anyone who can reach ${viewHost} port ${viewer.addr.port} sees the frames`,
      );
    }
  }
  const rtsp = await startRtsp(values, {
    onNotice: (text) => warnings.line(text),
  }).catch(async (error) => {
    await server.close();
    await viewer?.close();
    throw error;
  });
  if (rtsp !== undefined) {
    console.log(`rtsp: ${rtsp.server.url}`);
    if (rtsp.warning) console.error(`warning: ${rtsp.warning}`);
  }
  const stopDemo = new AbortController();
  const demoSender = demo
    ? runDemoSender({
      hostname: reachableHost(image.hostname),
      port: image.port,
      messagePort: msg.port,
      signal: stopDemo.signal,
      onError: (error) => warnings.line(`demo: ${error.message}`),
    }).catch((error) => warnings.line(`demo stopped: ${errorLine(error)}`))
    : undefined;
  if (demo) {
    console.log(
      `demo: streaming a test pattern to udp://${endpointKey(image)}; open ${
        viewer!.openUrl
      } in a browser, Ctrl-C to stop`,
    );
  }

  const ticker = demo
    ? setInterval(
      () => console.log(serverSummary(server.stats, key !== undefined)),
      5000,
    )
    : undefined;
  const removeSignals = onShutdown(() => server.close());
  try {
    for await (const frame of server) {
      if (frame.format !== undefined) {
        const published = {
          sender: frame.sender,
          bytes: frame.bytes,
          format: frame.format,
          protocol: frame.protocol,
          ...(frame.image
            ? { width: frame.image.width, height: frame.image.height }
            : {}),
        };
        viewer?.publishFrame(published);
        rtsp?.server.publish(published);
      }
      if (frame.decodeError) limited.line(frameLine(frame));
      else log(frameLine(frame));
      await outputs.frame(frame, frame.receivedAt);
      if (out !== undefined) {
        const name = frameFileName(frame);
        await Deno.writeFile(`${out}/${name}`, frame.bytes).catch((error) =>
          warnings.line(`warning: cannot save ${out}/${name}: ${error.message}`)
        );
      }
      // The pixels are not needed past here: let the next decode reuse them.
      if (frame.image && decoder instanceof CompositeDecoder) {
        decoder.recycle(frame.image);
      }
      if (count > 0 && frame.index >= count) break;
    }
  } finally {
    removeSignals();
    clearInterval(ticker);
    stopDemo.abort();
    await demoSender;
    await server.close();
    await viewer?.close();
    await viewerPng.close();
    await rtsp?.close();
    for (const line of await outputs.close()) console.log(line);
    decoder?.close();
    limited.flush();
    warnings.flush();
  }
  console.log(serverSummary(server.stats, key !== undefined));
  return 0;
});
