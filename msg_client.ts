/**
 * The tutorial's message client, in Deno: sends a JSON value to the message
 * port every few milliseconds and prints each reply.
 *
 * @module
 */

import {
  choiceFlag,
  errorLine,
  intFlag,
  MAX_TIMER_MS,
  onShutdown,
  parseFlags,
  runMain,
  UsageError,
} from "./lib/cli/cli.ts";
import {
  KEY_FILE_HELP,
  KEY_FILE_OPTION,
  loadKeyFlag,
} from "./lib/cli/key_file_flag.ts";
import { MessageClient } from "./lib/classic/client.ts";
import { ReplyTimeoutError } from "./lib/classic/requester.ts";
import { sleep } from "./lib/_sleep.ts";
import {
  DEFAULT_HOST,
  DEFAULT_IMAGE_PORT,
  DEFAULT_MESSAGE,
  DEFAULT_MESSAGE_PORT,
} from "./lib/classic/constants.ts";
import { StreamClient } from "./lib/stream/client.ts";
import { hostFlag } from "./lib/cli/host_flag.ts";

const HELP = `Usage: deno run -P msg_client.ts [options]

Sends a JSON value to the message port of a server on the tutorial's
protocol, every --interval milliseconds, and prints each reply ("get the msg").
With --protocol stream, it sends them over the image port instead, as stream
protocol messages, each sent again until the server acknowledges it.

Options:
  --host ADDR        server address (default ${DEFAULT_HOST})
  --port N           server message port (default ${DEFAULT_MESSAGE_PORT}; with
                     --protocol stream, the image port, default ${DEFAULT_IMAGE_PORT})
  --protocol P       classic (default) or stream
  --data JSON        the value to send (default ${DEFAULT_MESSAGE})
  --interval MS      pause between messages (default 10)
  --count N          messages to send (default: until Ctrl-C, as the tutorial)
  --timeout MS       wait this long for each reply (default 2000)
${
  KEY_FILE_HELP.replaceAll(
    "\n                          ",
    "\n                     ",
  ).replace("  --key-file FILE         ", "  --key-file FILE    ")
}
                     (--protocol stream only)
  --quiet            print only the summary
  --help             show this help`;

await runMain(async () => {
  const { values } = parseFlags(Deno.args, {
    host: { type: "string" },
    port: { type: "string" },
    data: { type: "string" },
    interval: { type: "string" },
    count: { type: "string" },
    timeout: { type: "string" },
    protocol: { type: "string" },
    ...KEY_FILE_OPTION,
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const text = values.data ?? DEFAULT_MESSAGE;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `--data must be valid JSON, such as '[0,0,0,1]': ${errorLine(error)}`,
    );
  }
  const protocol = choiceFlag("protocol", values.protocol, [
    "classic",
    "stream",
  ]);
  const port = intFlag(
    "port",
    values.port,
    protocol === "stream" ? DEFAULT_IMAGE_PORT : DEFAULT_MESSAGE_PORT,
    {
      min: 1,
      max: 65535,
    },
  );
  const intervalMs = intFlag("interval", values.interval, 10, {
    max: 3_600_000,
  });
  const count = intFlag("count", values.count, Infinity, { min: 1 });
  const timeoutMs = intFlag("timeout", values.timeout, 2000, {
    min: 1,
    max: MAX_TIMER_MS,
  });

  const hostname = hostFlag("host", values.host, {
    fallback: DEFAULT_HOST,
    refuseMulticast:
      "each message waits for one server's reply; give that server's address",
  });
  if (protocol !== "stream" && values["key-file"] !== undefined) {
    throw new UsageError(
      "--key-file goes with --protocol stream: classic messages cannot be sealed",
    );
  }
  const loaded = protocol === "stream"
    ? await loadKeyFlag(values["key-file"])
    : undefined;
  await using client = protocol === "stream"
    ? await StreamClient.connect({
      hostname,
      port,
      messageTimeoutMs: timeoutMs,
      ...(loaded !== undefined && { key: loaded.key }),
      onNotice: (text) => console.error(`warning: ${text}`),
    }).then((client) => {
      if (client.sealing !== undefined && !values.quiet) {
        console.log(client.sealing);
      }
      return streamMessages(client);
    })
    : await MessageClient.connect({ hostname, port, timeoutMs });
  const stop = new AbortController();
  const { signal } = stop;
  const removeSignals = onShutdown(() => stop.abort());
  let sent = 0;
  let replies = 0;
  try {
    while (sent < count && !signal.aborted) {
      sent++;
      try {
        const reply = await client.send(value, { signal });
        replies++;
        if (!values.quiet) console.log(reply);
      } catch (error) {
        if (signal.aborted) break;
        // The tutorial's client keeps sending; so do we, and say so.
        if (!(error instanceof ReplyTimeoutError)) throw error;
        console.error(`no reply within ${timeoutMs} ms`);
      }
      if (sent < count && intervalMs > 0) await sleep(intervalMs, signal);
    }
  } finally {
    removeSignals();
  }
  console.log(`messages=${sent} replies=${replies}`);
  return 0;
});

/** A stream client with the message client's shape. */
function streamMessages(client: StreamClient) {
  return {
    send: (value: unknown, options: { signal?: AbortSignal }) =>
      client.sendMessage(value, options),
    [Symbol.asyncDispose]: () => client.close().then(() => {}),
  };
}
