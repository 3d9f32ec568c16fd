/**
 * What `server.ts` needs to serve RTSP from its flags (`--rtsp PORT`,
 * `--rtsp-host ADDR`, `--rtsp-user USER:PASS`), so that the script only
 * parses, starts, publishes and closes.
 *
 * @module
 */

import { intFlag, UsageError } from "../cli/cli.ts";
import { listenHostFlag } from "../cli/host_flag.ts";
import { isLoopback } from "../viewer/access.ts";
import type { Credentials } from "./digest.ts";
import { RtspServer, type RtspServerOptions } from "./server.ts";
import { lazyTranscoder } from "../viewer/transcode.ts";
import { rtpJpegTranscoder } from "./transcode.ts";

/** The RTSP flags as `parseFlags` gives them: text, or `undefined` when absent. */
export interface RtspFlags {
  /** `--rtsp PORT`. */
  readonly rtsp?: string | undefined;
  /** `--rtsp-host ADDR`. */
  readonly "rtsp-host"?: string | undefined;
  /** `--rtsp-user USER:PASS`. */
  readonly "rtsp-user"?: string | undefined;
}

/** An RTSP server started from flags, with the codecs its transcoder made. */
export interface RtspService {
  /** The server. */
  readonly server: RtspServer;
  /** A warning to print (no password beyond loopback), if any. */
  readonly warning: string | undefined;
  /** Closes the server and the transcoder's codecs. */
  close(): Promise<void>;
}

/**
 * Reads `--rtsp-user USER:PASS`.
 *
 * @param text The flag's value.
 * @returns The credentials.
 * @throws {UsageError} When there is no colon, or the user or password is empty.
 *
 * @example Usage
 * ```ts
 * import { parseRtspUser } from "./cli.ts";
 * console.log(parseRtspUser("cam:s3cret:x")); // { username: "cam", password: "s3cret:x" }
 * ```
 */
export function parseRtspUser(text: string): Credentials {
  const colon = text.indexOf(":");
  if (colon <= 0 || colon === text.length - 1) {
    throw new UsageError(
      "--rtsp-user must be USER:PASS, with a user name and a password",
    );
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * Starts the RTSP server that the flags ask for, or nothing without
 * `--rtsp`. Frames it cannot carry as they are are transcoded with codecs
 * of its own, made on first use.
 *
 * @param flags The three flags.
 * @param options More server options, such as `onNotice`.
 * @returns The service, or `undefined` without `--rtsp`.
 * @throws {UsageError} For `--rtsp-host` or `--rtsp-user` without `--rtsp`,
 * or a bad value.
 *
 * @example Without --rtsp
 * ```ts
 * import { startRtsp } from "./cli.ts";
 * const service = await startRtsp({});
 * console.log(service); // undefined
 * ```
 */
export async function startRtsp(
  flags: RtspFlags,
  options: RtspServerOptions = {},
): Promise<RtspService | undefined> {
  if (flags.rtsp === undefined) {
    for (const name of ["rtsp-host", "rtsp-user"] as const) {
      if (flags[name] !== undefined) {
        throw new UsageError(`--${name} goes with --rtsp PORT`);
      }
    }
    return undefined;
  }
  const port = intFlag("rtsp", flags.rtsp, 8554, { max: 65535 });
  const hostname = listenHostFlag("rtsp-host", flags["rtsp-host"]);
  const credentials = flags["rtsp-user"] === undefined
    ? undefined
    : parseRtspUser(flags["rtsp-user"]);
  const codecs = lazyTranscoder(rtpJpegTranscoder);
  let server: RtspServer;
  try {
    server = await RtspServer.listen({
      transcode: codecs.transcode,
      ...options,
      hostname,
      port,
      ...(credentials && { credentials }),
    });
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new Error(
      /in use/i.test(text)
        ? `${text} (--rtsp ${port})`
        : `Cannot start the RTSP server on ${hostname}:${port}: ${text}; check --rtsp-host`,
      { cause: error },
    );
  }
  const warning = credentials === undefined && !isLoopback(hostname)
    ? `the RTSP server on ${hostname} port ${server.addr.port} asks no password: anyone who can reach it sees the frames; add --rtsp-user USER:PASS`
    : undefined;
  return {
    server,
    warning,
    async close() {
      await server.close();
      await codecs.close();
    },
  };
}
