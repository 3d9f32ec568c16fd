/**
 * The demo's sender: streams the generated test pattern to a classic server,
 * and a JSON message once a second, until stopped. `deno task demo` runs it
 * next to the server and its viewer.
 *
 * @module
 */

import { ClassicClient, MessageClient } from "./classic/client.ts";
import { openFrameSource } from "./frame_source.ts";
import { FrameClock } from "./frame_clock.ts";

/** Options for {@linkcode runDemoSender}. */
export interface DemoSenderOptions {
  /** The server's address. @default {"127.0.0.1"} */
  hostname?: string;
  /** The server's image port. */
  port: number;
  /** The server's message port, if it has one. */
  messagePort?: number | undefined;
  /** Frames a second. @default {30} */
  fps?: number;
  /** Frame width. @default {1280} */
  width?: number;
  /** Frame height. @default {720} */
  height?: number;
  /** Stops the sender. */
  signal: AbortSignal;
  /** Called when a frame goes unanswered; the sender carries on. */
  onError?: (error: Error) => void;
}

/**
 * Streams the test pattern, stop-and-wait, at up to `fps` frames a second,
 * with a JSON message once a second, until `signal` aborts.
 *
 * @param options Where to send, how fast and how large.
 * @returns When stopped.
 * @throws {RangeError} When `fps` is not a positive number.
 *
 * @example Ten seconds of the demo
 * ```ts ignore
 * import { runDemoSender } from "./demo.ts";
 * await runDemoSender({ port: 9999, messagePort: 6666, signal: AbortSignal.timeout(10_000) });
 * ```
 */
export async function runDemoSender(options: DemoSenderOptions): Promise<void> {
  const { signal } = options;
  const fps = options.fps ?? 30;
  if (!(fps > 0) || !Number.isFinite(fps)) {
    throw new RangeError(
      `Cannot run the demo sender: fps must be a positive number, got ${fps}`,
    );
  }
  const hostname = options.hostname ?? "127.0.0.1";
  await using source = await openFrameSource({
    encode: "jpg",
    quality: 85,
    width: options.width ?? 1280,
    height: options.height ?? 720,
    label: "udpimg demo",
  });
  await using client = await ClassicClient.connect({
    hostname,
    port: options.port,
    timeoutMs: 1000,
    retries: 0,
  });
  await using messages = options.messagePort === undefined
    ? undefined
    : await MessageClient.connect({
      hostname,
      port: options.messagePort,
      timeoutMs: 1000,
    });
  const started = performance.now();
  let frames = 0;
  const frameClock = new FrameClock(fps);
  const messageClock = new FrameClock(1);
  while (!signal.aborted) {
    try {
      const frame = await source.next();
      if (frame === undefined) return;
      await frameClock.wait(signal);
      if (signal.aborted) return;
      await client.send(frame.bytes, { signal });
      frames++;
      if (messages !== undefined && messageClock.due()) {
        await messages.send({
          demo: "udpimg",
          frame: frames,
          uptimeSeconds: Math.round((performance.now() - started) / 1000),
        }, { signal });
      }
    } catch (error) {
      if (signal.aborted) return;
      options.onError?.(
        error instanceof Error ? error : new Error(String(error)),
      );
    }
  }
}
