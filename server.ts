/**
 * The tutorial's server, in Deno: receives images on the image port and JSON
 * messages on the message port, replies as the tutorial does, decodes each
 * frame, and can save frames and show them in a browser.
 *
 * @module
 */

import { createDecoder, type DecoderMode } from "./lib/codec/select.ts";
import { extensionOf } from "./lib/codec/types.ts";
import {
  choiceFlag,
  intFlag,
  LogLimiter,
  onShutdown,
  parseFlags,
  runMain,
} from "./lib/cli/cli.ts";
import {
  DEFAULT_HOST,
  DEFAULT_IMAGE_PORT,
  DEFAULT_MESSAGE_PORT,
} from "./lib/classic/constants.ts";
import { ClassicServer, type ServerStats } from "./lib/classic/server.ts";

const HELP = `Usage: deno run -P server.ts [options]

Receives images on the image port and JSON messages on the message port of
the tutorial's protocol, replies "get message!!!" and "get the msg", decodes
every frame and prints one line per frame.

Options:
  --host ADDR             address to bind (default ${DEFAULT_HOST}; 0.0.0.0 for all)
  --port N                image port (default ${DEFAULT_IMAGE_PORT}; 0 picks a free one)
  --msg-port N            message port (default ${DEFAULT_MESSAGE_PORT}; 0 picks a free one)
  --out DIR               save each frame's bytes, as received, as DIR/000001.jpg, …
  --count N               exit after N whole frames
  --timeout MS            drop a partial frame silent for this long (default 3000)
  --max-frame-bytes N     largest frame a header may announce (default 67108864)
  --rcvbuf BYTES          kernel receive buffer to ask for (default 4194304)
  --decoder MODE          auto, native, imagescript or none (default auto)
  --quiet                 print only the summary
  --help                  show this help

On exit (--count, Ctrl-C or SIGTERM) it prints one summary line:
frames=… decoded=… errors=… dropped=… bytes=… seconds=… fps=…`;

function summary(stats: ServerStats): string {
  const fps = stats.seconds > 0 ? stats.frames / stats.seconds : 0;
  return `frames=${stats.frames} decoded=${stats.decoded} errors=${stats.errors} dropped=${stats.dropped} bytes=${stats.bytes} seconds=${
    stats.seconds.toFixed(2)
  } fps=${fps.toFixed(1)}`;
}

await runMain(async () => {
  const { values } = parseFlags(Deno.args, {
    host: { type: "string" },
    port: { type: "string" },
    "msg-port": { type: "string" },
    out: { type: "string" },
    count: { type: "string" },
    timeout: { type: "string" },
    "max-frame-bytes": { type: "string" },
    rcvbuf: { type: "string" },
    decoder: { type: "string" },
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const port = intFlag("port", values.port, DEFAULT_IMAGE_PORT, {
    max: 65535,
  });
  const messagePort = intFlag(
    "msg-port",
    values["msg-port"],
    DEFAULT_MESSAGE_PORT,
    { max: 65535 },
  );
  const count = intFlag("count", values.count, 0, { min: 1 });
  const timeoutMs = intFlag("timeout", values.timeout, 3000, { min: 1 });
  const maxFrameBytes = intFlag(
    "max-frame-bytes",
    values["max-frame-bytes"],
    64 * 1024 * 1024,
    { min: 1, max: 2 ** 31 },
  );
  const receiveBufferBytes = intFlag("rcvbuf", values.rcvbuf, 4 * 1024 * 1024, {
    min: 1024,
    max: 2 ** 31 - 1,
  });
  const decoderMode: DecoderMode = choiceFlag("decoder", values.decoder, [
    "auto",
    "native",
    "imagescript",
    "none",
  ]);
  const quiet = values.quiet;
  const log = quiet ? () => {} : console.log;
  const out = values.out;
  if (out !== undefined) await Deno.mkdir(out, { recursive: true });

  const { decoder, reason } = await createDecoder(decoderMode);
  const limited = new LogLimiter(20, log);
  const server = await ClassicServer.listen({
    hostname: values.host ?? DEFAULT_HOST,
    port,
    messagePort,
    timeoutMs,
    maxFrameBytes,
    receiveBufferBytes,
    decoder,
    onMessage(message) {
      limited.line(
        message.ok
          ? `message from ${message.sender}: ${JSON.stringify(message.value)}`
          : `bad message from ${message.sender}: ${message.error}`,
      );
    },
    onDrop(event) {
      limited.line(
        event.type === "stray"
          ? `stray ${event.length}-byte datagram from ${event.sender}: not a header or an image`
          : `dropped a frame from ${event.sender}: ${event.reason} (announced ${event.announced} bytes, received ${event.received})`,
      );
    },
    onError(error) {
      limited.line(`warning: ${error.message}`);
    },
  });
  const image = server.imageAddr;
  const msg = server.messageAddr!;
  console.log(
    `ready image=${image.hostname}:${image.port} msg=${msg.hostname}:${msg.port}`,
  );
  const granted = server.receiveBufferBytes;
  log(
    `socket: ${server.socketKind}, receive buffer ${
      granted === undefined ? "unknown" : `${granted} bytes`
    }; ${reason}`,
  );
  if (granted !== undefined && granted < receiveBufferBytes) {
    console.error(
      `warning: the kernel granted a ${granted}-byte receive buffer, less than the ${receiveBufferBytes} asked for; large bursts may lose datagrams (raise net.core.rmem_max, or run as root)`,
    );
  }

  const removeSignals = onShutdown(() => server.close());
  try {
    for await (const frame of server) {
      const size = frame.image
        ? `${frame.image.width}x${frame.image.height}`
        : "?x?";
      const kind = frame.format ?? "unknown format";
      if (frame.decodeError) {
        limited.line(
          `frame ${frame.index}: ${frame.bytes.length} bytes ${kind} from ${frame.sender}: cannot decode: ${frame.decodeError.message}`,
        );
      } else {
        log(
          `frame ${frame.index}: ${frame.bytes.length} bytes ${size} ${kind} from ${frame.sender}`,
        );
      }
      if (out !== undefined) {
        const ext = frame.format ? extensionOf(frame.format) : "bin";
        const name = `${String(frame.index).padStart(6, "0")}.${ext}`;
        await Deno.writeFile(`${out}/${name}`, frame.bytes).catch((error) =>
          limited.line(`warning: cannot save ${out}/${name}: ${error.message}`)
        );
      }
      if (count > 0 && frame.index >= count) break;
    }
  } finally {
    removeSignals();
    await server.close();
    decoder?.close();
    limited.flush();
  }
  console.log(summary(server.stats));
  return 0;
});
