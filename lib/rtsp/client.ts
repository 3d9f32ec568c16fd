/**
 * A small RTSP client, for tests and benchmarks: it speaks to an RTSP
 * server as a player would (OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, with
 * Digest authentication), receives RTP over UDP or interleaved in the
 * connection, and counts frames by their marker bits. It does not decode:
 * use a player for pictures.
 *
 * @module
 */

import { openDatagramSocket } from "../net/open.ts";
import type { DatagramSocket } from "../net/types.ts";
import { digestAuthorization } from "./digest.ts";
import {
  RtspMessageReader,
  type RtspResponse,
  writeRtspRequest,
} from "./message.ts";

/** Options for {@linkcode RtspClient.connect}. */
export interface RtspClientOptions {
  /** The user name, if not in the URL. */
  username?: string;
  /** The password, if not in the URL. */
  password?: string;
  /** How long to wait for each answer, in milliseconds. @default {10000} */
  timeoutMs?: number;
}

/** Options for {@linkcode RtspClient.play}. */
export interface RtspPlayOptions {
  /** RTP over UDP, or interleaved in the RTSP connection. @default {"tcp"} */
  transport?: "udp" | "tcp";
}

/** One whole frame's packets, as received. */
export interface ReceivedRtpFrame {
  /** The RTP packets, copied, in arrival order. */
  readonly packets: Uint8Array[];
  /** Their RTP timestamp. */
  readonly timestamp: number;
}

/**
 * Thrown by {@linkcode RtspClient.play} when the server answers a step
 * with an error status.
 *
 * @example Telling a wrong password from other failures
 * ```ts ignore
 * import { RtspClient, RtspStatusError } from "./client.ts";
 * await using client = await RtspClient.connect("rtsp://cam:wrong@127.0.0.1:8554/live");
 * try {
 *   await client.play();
 * } catch (error) {
 *   if (error instanceof RtspStatusError && error.status === 401) console.log("wrong password");
 * }
 * ```
 */
export class RtspStatusError extends Error {
  /** The status code. */
  readonly status: number;

  /**
   * Says which request failed, and how.
   *
   * @param method The request's method.
   * @param response The answer.
   */
  constructor(method: string, response: RtspResponse) {
    super(`RTSP ${method} failed: ${response.status} ${response.reason}`);
    this.name = "RtspStatusError";
    this.status = response.status;
  }
}

const decoder = new TextDecoder();

/**
 * A player-like RTSP client.
 *
 * @example Playing the live stream over TCP
 * ```ts ignore
 * import { RtspClient } from "./client.ts";
 * await using client = await RtspClient.connect("rtsp://127.0.0.1:8554/live");
 * await client.play({ transport: "tcp" });
 * const frame = await client.nextFrame();
 * console.log(frame.packets.length);
 * ```
 */
export class RtspClient implements AsyncDisposable {
  readonly #conn: Deno.TcpConn;
  readonly #url: string;
  readonly #username: string | undefined;
  readonly #password: string | undefined;
  readonly #timeoutMs: number;
  readonly #reader = new RtspMessageReader({
    kind: "response",
    maxBodyBytes: 1 << 20,
  });
  #cseq = 0;
  #challenge: string | undefined;
  #session: string | undefined;
  #responses: RtspResponse[] = [];
  #responseWaiter: (() => void) | undefined;
  #readLoop: Promise<void>;
  #udp: [DatagramSocket, DatagramSocket] | undefined;
  #udpLoops: Promise<void>[] = [];
  #closed = false;
  #current: Uint8Array[] = [];
  #frameWaiters: ((frame: ReceivedRtpFrame) => void)[] = [];
  #ended: Error | undefined;
  /** Whole frames received (RTP packets with the marker bit). */
  frames = 0;
  /** RTP packets received. */
  packets = 0;
  /** RTP bytes received. */
  bytes = 0;
  /** RTCP packets received. */
  rtcpPackets = 0;
  /** Sequence numbers missing between packets received. */
  lost = 0;
  #lastSequence: number | undefined;

  private constructor(
    conn: Deno.TcpConn,
    url: string,
    username: string | undefined,
    password: string | undefined,
    timeoutMs: number,
  ) {
    this.#conn = conn;
    this.#url = url;
    this.#username = username;
    this.#password = password;
    this.#timeoutMs = timeoutMs;
    this.#readLoop = this.#read();
  }

  /**
   * Connects to the server of an `rtsp://` URL.
   *
   * @param url The stream's URL; `rtsp://user:pass@host:port/path` carries credentials.
   * @param options Credentials and the answer timeout.
   * @returns The connected client.
   */
  static async connect(
    url: string,
    options: RtspClientOptions = {},
  ): Promise<RtspClient> {
    const match =
      /^rtsp:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?(\/.*)?$/i
        .exec(url);
    if (match === null) {
      throw new TypeError(`Cannot connect to "${url}": not an rtsp:// URL`);
    }
    const [, user, pass, host, port, path] = match;
    const hostname = host!.replace(/^\[|\]$/g, "");
    const conn = await Deno.connect({
      hostname,
      port: Number(port ?? 554),
      transport: "tcp",
    });
    const clean = `rtsp://${host}${port ? `:${port}` : ""}${path ?? "/"}`;
    return new RtspClient(
      conn,
      clean,
      options.username ??
        (user === undefined ? undefined : decodeURIComponent(user)),
      options.password ??
        (pass === undefined ? undefined : decodeURIComponent(pass)),
      options.timeoutMs ?? 10_000,
    );
  }

  /** The session id, after SETUP. */
  get session(): string | undefined {
    return this.#session;
  }

  /**
   * Sends one request and waits for its answer, answering a Digest
   * challenge once.
   *
   * @param method The method.
   * @param uri The Request-URI. @default {the URL connected to}
   * @param headers More headers.
   * @returns The answer, whatever its status.
   */
  async request(
    method: string,
    uri: string = this.#url,
    headers: [string, string][] = [],
  ): Promise<RtspResponse> {
    let response = await this.#send(method, uri, headers);
    if (response.status === 401 && this.#username !== undefined) {
      const challenge = response.headers.getAll("WWW-Authenticate").find((v) =>
        /^digest\s/i.test(v)
      );
      if (challenge !== undefined) {
        this.#challenge = challenge;
        response = await this.#send(method, uri, headers);
      }
    }
    const session = response.headers.get("Session");
    if (session !== undefined) this.#session = session.split(";")[0]!.trim();
    return response;
  }

  /**
   * DESCRIBE, SETUP and PLAY.
   *
   * @param options The transport.
   * @returns The PLAY answer.
   * @throws {RtspStatusError} When the server refuses a step.
   */
  async play(options: RtspPlayOptions = {}): Promise<RtspResponse> {
    const transport = options.transport ?? "tcp";
    const describe = await this.request("DESCRIBE", this.#url, [[
      "Accept",
      "application/sdp",
    ]]);
    if (describe.status !== 200) {
      throw new RtspStatusError("DESCRIBE", describe);
    }
    const sdp = decoder.decode(describe.body);
    const control = /^a=control:(.+)$/m.exec(sdp.split(/^m=/m)[1] ?? "")?.[1]
      ?.trim() ?? "";
    const base = describe.headers.get("Content-Base") ?? `${this.#url}/`;
    const trackUrl = /^rtsp:/i.test(control)
      ? control
      : `${base.endsWith("/") ? base : `${base}/`}${control}`;
    let transportLine: string;
    if (transport === "udp") {
      const host = this.#conn.localAddr.hostname;
      const rtp = await openDatagramSocket({ hostname: host, port: 0 });
      const rtcp = await openDatagramSocket({ hostname: host, port: 0 });
      this.#udp = [rtp, rtcp];
      this.#udpLoops.push(this.#receiveUdp(rtp, false));
      this.#udpLoops.push(this.#receiveUdp(rtcp, true));
      transportLine =
        `RTP/AVP;unicast;client_port=${rtp.addr.port}-${rtcp.addr.port}`;
    } else {
      transportLine = "RTP/AVP/TCP;unicast;interleaved=0-1";
    }
    const setup = await this.request("SETUP", trackUrl, [[
      "Transport",
      transportLine,
    ]]);
    if (setup.status !== 200) throw new RtspStatusError("SETUP", setup);
    const play = await this.request("PLAY", base, [["Range", "npt=0.000-"]]);
    if (play.status !== 200) throw new RtspStatusError("PLAY", play);
    return play;
  }

  /**
   * Waits for the next whole frame.
   *
   * @returns Its packets and timestamp.
   */
  nextFrame(): Promise<ReceivedRtpFrame> {
    if (this.#ended !== undefined) return Promise.reject(this.#ended);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = this.#frameWaiters.indexOf(done);
        if (at >= 0) this.#frameWaiters.splice(at, 1);
        reject(new Error(`No frame within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      const done = (frame: ReceivedRtpFrame) => {
        clearTimeout(timer);
        resolve(frame);
      };
      this.#frameWaiters.push(done);
    });
  }

  /**
   * Sends TEARDOWN, if a session is set up.
   *
   * @returns The answer, or `undefined` without a session.
   */
  async teardown(): Promise<RtspResponse | undefined> {
    if (this.#session === undefined) return undefined;
    const response = await this.request("TEARDOWN");
    this.#session = undefined;
    return response;
  }

  /** Closes the connection and the UDP sockets. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    for (const socket of this.#udp ?? []) socket.close();
    await Promise.allSettled([this.#readLoop, ...this.#udpLoops]);
  }

  /** Same as {@linkcode RtspClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #send(
    method: string,
    uri: string,
    headers: [string, string][],
  ): Promise<RtspResponse> {
    const all: [string, string][] = [
      ["CSeq", String(++this.#cseq)],
      ["User-Agent", "udpimg-rtsp-client"],
      ...headers,
    ];
    if (this.#session !== undefined) all.push(["Session", this.#session]);
    if (this.#challenge !== undefined) {
      all.push([
        "Authorization",
        digestAuthorization(this.#challenge, {
          username: this.#username!,
          password: this.#password ?? "",
          method,
          uri,
          nc: this.#cseq,
        }),
      ]);
    }
    const bytes = writeRtspRequest({ method, uri, headers: all });
    let at = 0;
    while (at < bytes.length) at += await this.#conn.write(bytes.subarray(at));
    return await this.#nextResponse();
  }

  async #nextResponse(): Promise<RtspResponse> {
    const deadline = performance.now() + this.#timeoutMs;
    while (this.#responses.length === 0) {
      if (this.#ended !== undefined) throw this.#ended;
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(`No RTSP answer within ${this.#timeoutMs} ms`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#responseWaiter = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#responseWaiter = undefined;
    }
    return this.#responses.shift()!;
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.#reader.push(buffer.subarray(0, n));
        for (;;) {
          const item = this.#reader.next();
          if (item === undefined) break;
          if (item.type === "response") {
            this.#responses.push(item.response);
            this.#responseWaiter?.();
          } else if (item.type === "interleaved") {
            if (item.channel % 2 === 0) this.#rtp(item.data);
            else this.rtcpPackets++;
          } else if (item.type === "error") {
            throw new Error(`Bad answer from the server: ${item.reason}`);
          }
        }
      }
      this.#end(new Error("The server closed the connection"));
    } catch (error) {
      this.#end(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #end(error: Error): void {
    this.#ended ??= error;
    this.#responseWaiter?.();
  }

  async #receiveUdp(socket: DatagramSocket, rtcp: boolean): Promise<void> {
    const batch = socket.createBatch();
    try {
      for (;;) {
        const count = await socket.receive(batch);
        if (count === 0) break;
        for (let i = 0; i < count; i++) {
          if (rtcp) {
            this.rtcpPackets++;
            continue;
          }
          const offset = batch.offsets[i]!;
          this.#rtp(
            batch.buffer.subarray(offset, offset + batch.lengths[i]!),
          );
        }
      }
    } catch {
      // Closed.
    }
  }

  #rtp(packet: Uint8Array): void {
    if (packet.length < 12) return;
    this.packets++;
    this.bytes += packet.length;
    const sequence = (packet[2]! << 8) | packet[3]!;
    if (this.#lastSequence !== undefined) {
      const gap = ((sequence - this.#lastSequence - 1) << 16) >> 16;
      if (gap > 0) this.lost += gap;
    }
    this.#lastSequence = sequence;
    const keep = this.#frameWaiters.length > 0;
    if (keep) this.#current.push(packet.slice());
    if ((packet[1]! & 0x80) === 0) return;
    this.frames++;
    const packets = this.#current;
    this.#current = [];
    if (!keep || packets.length === 0) return;
    const timestamp = ((packet[4]! << 24) | (packet[5]! << 16) |
      (packet[6]! << 8) | packet[7]!) >>> 0;
    // A frame whose start came before anyone waited is not whole.
    const first = packets[0]!;
    const offset = (first[13]! << 16) | (first[14]! << 8) | first[15]!;
    if (offset !== 0) return;
    const waiters = this.#frameWaiters;
    this.#frameWaiters = [];
    for (const waiter of waiters) waiter({ packets, timestamp });
  }
}
