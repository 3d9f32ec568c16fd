/**
 * Starts `server.ts`'s {@linkcode FrameServer} on the ports its flags give,
 * with a one-line error that names the flag to change: `--port` or
 * `--msg-port` for a port that cannot be bound, `--join-if` for a group
 * that cannot be joined; `--demo` falls back to free ports.
 *
 * @module
 */

import { listenOrFallBack } from "./fall_back.ts";
import { BindError, MulticastError } from "../net/errors.ts";
import { FrameServer, type FrameServerOptions } from "../server/server.ts";

/** The ports for {@linkcode listenServer}. */
export interface ServerPorts {
  /** The image port (`--port`); 0 picks a free one. */
  port: number;
  /** The message port (`--msg-port`); 0 picks a free one. */
  messagePort: number;
  /** Take free ports if these are in use (`--demo` with neither flag). */
  fallBack: boolean;
}

/**
 * Starts the server.
 *
 * @param options The server's options, but its ports.
 * @param ports The ports, and whether free ones may replace them.
 * @returns The running server.
 * @throws {Error} With one line ending in the flag, such as
 * `(--port 9999)`, when a port cannot be bound or a group joined.
 *
 * @example Usage
 * ```ts
 * import { listenServer } from "./server_listen.ts";
 * const server = await listenServer({ decoder: "none" }, {
 *   port: 0,
 *   messagePort: 0,
 *   fallBack: false,
 * });
 * console.log(server.imageAddr.port > 0); // true
 * await server.close();
 * ```
 */
export async function listenServer(
  options: Omit<FrameServerOptions, "port" | "messagePort">,
  ports: ServerPorts,
): Promise<FrameServer> {
  const { port, messagePort } = ports;
  try {
    return await listenOrFallBack(
      ports.fallBack,
      (free) =>
        FrameServer.listen({
          ...options,
          port: free ? 0 : port,
          messagePort: free ? 0 : messagePort,
        }),
    );
  } catch (error) {
    if (error instanceof BindError) {
      const bound = error.endpoint.port;
      const flag = bound === port
        ? "--port"
        : bound === messagePort
        ? "--msg-port"
        : undefined;
      if (flag === undefined) throw error;
      throw new Error(`${error.message} (${flag} ${bound})`, { cause: error });
    }
    if (!(error instanceof MulticastError)) throw error;
    throw new Error(`${error.message} (--join-if ADDR)`, { cause: error });
  }
}
