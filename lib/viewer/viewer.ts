/**
 * The live viewer: an HTTP server that shows the newest received frames in
 * a browser, with statistics, plots and the last message.
 *
 * @module
 */

import {
  type AccessConfig,
  checkAccess,
  checkToken,
  isLoopback,
  randomToken,
} from "./access.ts";
import { fileTimestamp, safeSenderName } from "../record/file_name.ts";
import { FrameBoard } from "./frame_board.ts";
import { type HistoryInput, ViewerHistory } from "./history.ts";
import { MJPEG_BOUNDARY, mjpegContentType } from "./mjpeg.ts";
import { PAGE_CSP, renderPage } from "./page.ts";
import { Streamer } from "./_streamer.ts";
import { textResponse } from "./_text.ts";
import { urlHost } from "../net/_ip.ts";
import type {
  LinkStats,
  SenderStats,
  ViewerCounters,
  ViewerFrame,
  ViewerStats,
} from "./types.ts";

/** Options for {@linkcode Viewer}. */
export interface ViewerOptions {
  /**
   * The address to listen on. On loopback, requests must name a loopback
   * address in their `Host` header. Beyond loopback, the viewer requires a
   * token (see `token` and `open`).
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The TCP port to listen on; 0 picks a free one.
   *
   * @default {0}
   */
  port?: number;
  /**
   * The token every request must carry, as `?token=` once (then a cookie)
   * or as `Authorization: Bearer`: 8 to 256 characters from
   * `A-Z a-z 0-9 - _ . ~`. Given, it is required on any address, loopback
   * too. By default a bind beyond loopback gets a random one, and a
   * loopback bind none.
   */
  token?: string;
  /**
   * Serve beyond loopback without a token: anyone who can reach the
   * address sees the frames. It cannot be combined with `token`.
   *
   * @default {false}
   */
  open?: boolean;
  /**
   * The most requests and streams served at once; past it, requests are
   * answered 503 at once.
   *
   * @default {64}
   */
  maxConnections?: number;
  /**
   * The server's running totals, read for each `/stats` request. Without
   * it, the viewer reports its own count of published frames and bytes, and
   * zero for the rest.
   */
  counters?: () => ViewerCounters;
  /**
   * What the receiving side knows about a sender's link: lost and late
   * frames, latency, protocol. Read for `/stats` and once a sample for
   * `/history`; return `undefined`, or leave fields out, where the
   * protocol does not know.
   */
  linkStats?: (sender: string) => LinkStats | undefined;
  /**
   * Turns a PNG into a JPEG, for `/latest.jpg` and the MJPEG streams. It
   * runs at most once per frame, and only for frames a viewer asks for.
   * Without it, or when it rejects, PNG frames are served as `image/png`.
   */
  transcode?: (bytes: Uint8Array, format: "png") => Promise<Uint8Array>;
  /** Closes the viewer when aborted. */
  signal?: AbortSignal;
  /**
   * The page title.
   *
   * @default {"udpimg"}
   */
  title?: string;
  /**
   * The command the page shows while waiting for the first frame.
   *
   * @default {"deno task client"}
   */
  frameHint?: string;
  /**
   * The command the page shows while waiting for the first message.
   *
   * @default {"deno task msg '{\"hello\": \"world\"}'"}
   */
  messageHint?: string;
  /**
   * How many senders to remember; see {@linkcode FrameBoardOptions.maxSenders}.
   *
   * @default {16}
   */
  maxSenders?: number;
  /**
   * The sliding window for fps and KB/s, in milliseconds.
   *
   * @default {2000}
   */
  windowMs?: number;
  /**
   * A sender silent this many milliseconds is shown as stale.
   *
   * @default {3000}
   */
  staleAfterMs?: number;
  /**
   * A sender silent this many milliseconds is forgotten: its tile goes.
   *
   * @default {60000}
   */
  forgetAfterMs?: number;
  /**
   * How many samples `/history` keeps per sender, one per `historyIntervalMs`.
   *
   * @default {60}
   */
  historySamples?: number;
  /**
   * Milliseconds between the samples of `/history`.
   *
   * @default {1000}
   */
  historyIntervalMs?: number;
  /**
   * When an MJPEG stream has had no new frame for this many milliseconds,
   * its last frame is sent once more. Browsers display a part only when the
   * next one begins, so without the repeat the last frame of a burst, or a
   * single image, would never appear. 0 turns it off.
   *
   * @default {100}
   */
  idleRepeatMs?: number;
}

const NO_STORE = "no-store";
const CLOSE_GRACE_MS = 1000;
const PAGE_PATHS = "/, /stream.mjpg, /wall.mjpg, /latest.jpg, /latest, " +
  "/stats or /history";

function json(body: string, head: boolean): Response {
  return new Response(head ? null : body, {
    headers: { "content-type": "application/json", "cache-control": NO_STORE },
  });
}

function toJson(stats: ViewerStats): string {
  try {
    return JSON.stringify(stats);
  } catch {
    // A published message that JSON cannot hold (a BigInt, a cycle).
    return JSON.stringify({ ...stats, lastMessage: String(stats.lastMessage) });
  }
}

function positive(name: string, value: number, integer = false): number {
  if (!(value > 0) || !Number.isFinite(value) || (integer && value % 1)) {
    throw new RangeError(
      `Cannot start viewer: ${name} must be a positive ${
        integer ? "integer" : "number"
      }, got ${value}`,
    );
  }
  return value;
}

/**
 * The file name of a snapshot: `udpimg-HOST_PORT-YYYYMMDD-HHMMSS.EXT`, in
 * local time, named as recordings are.
 */
function snapshotName(sender: string, at: Date, extension: string): string {
  return `udpimg-${safeSenderName(sender)}-${fileTimestamp(at)}.${extension}`;
}

/**
 * Serves a live view of received frames over HTTP:
 *
 * - `/` a self-contained page (no external resources): with several
 *   senders a wall of tiles, one per sender, and a click focuses one
 *   (`/?sender=HOST:PORT`); fps, KB/s, resolution, loss, plots of the last
 *   minute, a snapshot button and the last message;
 * - `/stream.mjpg` MJPEG of the newest frames of one sender;
 * - `/wall.mjpg` every sender's newest frame in turn, each part tagged with
 *   an `X-Sender` header: what the wall reads over one connection;
 * - `/latest.jpg` the newest frame as JPEG (PNG when it cannot transcode),
 *   `/latest` in its own format; `&download=1` names it as a file;
 * - `/stats` the {@linkcode ViewerStats} as JSON;
 * - `/history` the {@linkcode HistoryDocument}: one sample a second of
 *   each sender's rates, for the last minute.
 *
 * `?sender=host:port` picks a sender; the default is the most recently
 * active one.
 *
 * Publishing is synchronous and O(1): the viewer keeps only the newest frame
 * of each sender, and each MJPEG viewer is sent the newest frame whenever it
 * is ready for one, so a slow browser skips frames instead of queueing them
 * and never holds up reception.
 *
 * On a loopback address the viewer answers only requests whose `Host`
 * header names loopback, which stops DNS rebinding; beyond loopback it
 * requires a token (see {@linkcode ViewerOptions.token}) and
 * {@linkcode Viewer.openUrl} carries it.
 *
 * @example Showing a frame
 * ```ts
 * import { Viewer } from "./viewer.ts";
 * await using viewer = new Viewer({ port: 0 });
 * const bytes = await Deno.readFile("tests/fixtures/rocket.jpg");
 * viewer.publishFrame({ sender: "127.0.0.1:50000", bytes, format: "jpeg" });
 * const response = await fetch(new URL("/latest.jpg", viewer.url));
 * console.log(response.headers.get("content-type")); // "image/jpeg"
 * await response.body?.cancel();
 * ```
 *
 * @example A viewer with a token
 * ```ts
 * import { Viewer } from "./viewer.ts";
 * await using viewer = new Viewer({ token: "correct-horse-battery" });
 * console.log(viewer.openUrl.endsWith("/?token=correct-horse-battery")); // true
 * const refused = await fetch(new URL("/stats", viewer.url));
 * console.log(refused.status); // 401
 * await refused.body?.cancel();
 * ```
 */
export class Viewer implements AsyncDisposable {
  #board: FrameBoard;
  #history: ViewerHistory;
  #streamer: Streamer;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #access: AccessConfig;
  #url: string;
  #page: string;
  #counters: (() => ViewerCounters) | undefined;
  #linkStats: ViewerOptions["linkStats"];
  #transcode: ViewerOptions["transcode"];
  #jpegOf = new WeakMap<ViewerFrame, Promise<Uint8Array | undefined>>();
  #maxConnections: number;
  #connections = 0;
  #sampler: ReturnType<typeof setInterval>;
  #signal: AbortSignal | undefined;
  #onAbort = () => void this.close();
  #closing: Promise<void> | undefined;
  #message: { value: unknown; sender: string; atMs: number } | undefined;
  #messages = 0;

  /**
   * Starts listening at once; {@linkcode Viewer.url} is ready when the
   * constructor returns.
   *
   * @param options Address, access, counters, transcoder, limits and page texts.
   */
  constructor(options: ViewerOptions = {}) {
    const { hostname = "127.0.0.1", port = 0, signal } = options;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(
        `Cannot start viewer: port must be an integer from 0 to 65535, got ${port}`,
      );
    }
    if (options.token !== undefined && options.open) {
      throw new TypeError(
        "Cannot start viewer: token and open exclude each other",
      );
    }
    const loopback = isLoopback(hostname);
    const token = options.token !== undefined
      ? checkToken(options.token)
      : loopback || options.open
      ? undefined
      : randomToken();
    this.#maxConnections = positive(
      "maxConnections",
      options.maxConnections ?? 64,
      true,
    );
    const maxSenders = options.maxSenders ?? 16;
    this.#board = new FrameBoard({
      maxSenders,
      ...(options.windowMs !== undefined && { windowMs: options.windowMs }),
      ...(options.staleAfterMs !== undefined &&
        { staleAfterMs: options.staleAfterMs }),
      ...(options.forgetAfterMs !== undefined &&
        { forgetAfterMs: options.forgetAfterMs }),
    });
    const intervalMs = options.historyIntervalMs ?? 1000;
    this.#history = new ViewerHistory({
      intervalMs,
      ...(options.historySamples !== undefined &&
        { capacity: options.historySamples }),
    });
    const idleRepeatMs = options.idleRepeatMs ?? 100;
    if (!(idleRepeatMs >= 0) || !Number.isFinite(idleRepeatMs)) {
      throw new RangeError(
        `Cannot start viewer: idleRepeatMs must be 0 or more, got ${idleRepeatMs}`,
      );
    }
    this.#streamer = new Streamer(
      this.#board,
      (frame) => this.#encoded(frame),
      { idleRepeatMs, maxSenders },
    );
    this.#counters = options.counters;
    this.#linkStats = options.linkStats;
    this.#transcode = options.transcode;
    this.#page = renderPage({
      ...(options.title !== undefined && { title: options.title }),
      ...(options.frameHint !== undefined && { frameHint: options.frameHint }),
      ...(options.messageHint !== undefined &&
        { messageHint: options.messageHint }),
    });
    try {
      this.#server = Deno.serve({
        hostname,
        port,
        onListen: () => {},
        onError: () => textResponse(500, "Internal error in the viewer"),
      }, (request, info) => this.#handle(request, info));
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        throw new Deno.errors.AddrInUse(
          `Cannot start viewer: ${hostname}:${port} is already in use, choose another port`,
          { cause: error },
        );
      }
      throw error;
    }
    const addr = this.#server.addr;
    this.#access = { port: addr.port, checkHost: loopback, token };
    this.#url = `http://${urlHost(addr.hostname)}:${addr.port}/`;
    this.#sampler = setInterval(() => this.#sample(), intervalMs);
    this.#sample();
    if (signal !== undefined) {
      this.#signal = signal;
      if (signal.aborted) void this.close();
      else signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /**
   * The page's address, such as `http://127.0.0.1:8080/`. A wildcard
   * listen address is shown as loopback.
   */
  get url(): string {
    return this.#url;
  }

  /**
   * The address to open in a browser: {@linkcode Viewer.url}, with
   * `?token=` when the viewer requires a token.
   */
  get openUrl(): string {
    const token = this.#access.token;
    return token === undefined ? this.#url : `${this.#url}?token=${token}`;
  }

  /** The token requests must carry, or `undefined` when none is needed. */
  get token(): string | undefined {
    return this.#access.token;
  }

  /** The address the HTTP server listens on. */
  get addr(): Deno.NetAddr {
    return this.#server.addr;
  }

  /** Settles when the HTTP server has stopped and its last connection ended. */
  get finished(): Promise<void> {
    return this.#server.finished;
  }

  /** How many `/stream.mjpg` and `/wall.mjpg` responses are open. */
  get activeStreams(): number {
    return this.#streamer.active;
  }

  /**
   * How many requests are being served, streams included: what
   * {@linkcode ViewerOptions.maxConnections} limits.
   */
  get activeConnections(): number {
    return this.#connections;
  }

  /** Frames sent to MJPEG viewers so far, over all streams. */
  get framesStreamed(): number {
    return this.#streamer.partsSent;
  }

  /**
   * Bytes queued in open MJPEG responses that their clients have not taken
   * yet. Each response queues at most one part, so this stays below one
   * frame per viewer however slow the viewers are.
   */
  get queuedBytes(): number {
    return this.#streamer.queuedBytes;
  }

  /**
   * Makes `frame` the newest of its sender and wakes the viewers waiting
   * for it. It never blocks: it keeps a reference and returns.
   *
   * @param frame A whole received image; its `bytes` must not be reused.
   *
   * @example Usage
   * ```ts
   * import { Viewer } from "./viewer.ts";
   * await using viewer = new Viewer();
   * const bytes = new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);
   * viewer.publishFrame({ sender: "127.0.0.1:50000", bytes, format: "jpeg" });
   * ```
   */
  publishFrame(frame: ViewerFrame): void {
    this.#board.publish(frame, performance.now());
    this.#streamer.wake();
  }

  /**
   * Records the last message received on the message port, for the page.
   *
   * @param value The parsed JSON message.
   * @param sender Who sent it, `host:port`.
   *
   * @example Usage
   * ```ts
   * import { Viewer } from "./viewer.ts";
   * await using viewer = new Viewer();
   * viewer.publishMessage({ hello: "world" }, "127.0.0.1:50001");
   * console.log(viewer.stats().lastMessage); // { hello: "world" }
   * ```
   */
  publishMessage(value: unknown, sender: string): void {
    this.#message = { value, sender, atMs: performance.now() };
    this.#messages++;
  }

  /**
   * The statistics served at `/stats`.
   *
   * @param sender The sender to report as `selected`; omit it for the
   * default one.
   * @returns Totals, rates, per-sender statistics and the last message.
   *
   * @example Usage
   * ```ts
   * import { Viewer } from "./viewer.ts";
   * await using viewer = new Viewer();
   * console.log(viewer.stats().frames); // 0
   * ```
   */
  stats(sender?: string): ViewerStats {
    const nowMs = performance.now();
    const board = this.#board;
    board.expire(nowMs);
    const counters = this.#countersNow();
    const rate = board.rate(nowMs);
    const message = this.#message;
    return {
      frames: counters.frames,
      decoded: counters.decoded,
      dropped: counters.dropped,
      errors: counters.errors,
      skipped: counters.skipped,
      bytes: counters.bytes,
      ...(counters.lost !== undefined && {
        lost: counters.lost,
        late: counters.late ?? 0,
        recoveredNack: counters.recoveredNack ?? 0,
        recoveredFec: counters.recoveredFec ?? 0,
        latency: counters.latency ?? null,
      }),
      ...(counters.unauthenticated !== undefined && {
        unauthenticated: counters.unauthenticated,
        replayed: counters.replayed ?? 0,
        refused: counters.refused ?? 0,
      }),
      fps: Math.round(rate.perSecond * 10) / 10,
      kbps: Math.round(rate.bytesPerSecond / 100) / 10,
      senders: board.senderStats(nowMs).map((stats) => this.#withLink(stats)),
      selected: sender ?? board.primary ?? null,
      viewers: this.#streamer.active,
      messages: this.#messages,
      lastMessage: message?.value ?? null,
      lastMessageSender: message?.sender ?? null,
      lastMessageAgoMs: message === undefined
        ? null
        : Math.max(0, Math.round(nowMs - message.atMs)),
    };
  }

  /**
   * Ends the open streams and stops the HTTP server. New connections are
   * refused at once. A client that stopped reading (a frozen tab) can hold
   * its connection open; after a second the viewer stops waiting for it,
   * and it no longer keeps the process alive.
   *
   * @returns Settles when the server has stopped, or after that second.
   *
   * @example Usage
   * ```ts
   * import { Viewer } from "./viewer.ts";
   * const viewer = new Viewer();
   * await viewer.close();
   * ```
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    clearInterval(this.#sampler);
    this.#streamer.closeAll();
    const server = this.#server;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Deno waits for a response body write that a stalled client never
    // reads; such a connection must not keep the process alive.
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        server.unref();
        resolve();
      }, CLOSE_GRACE_MS);
    });
    this.#closing = Promise.race([server.shutdown(), grace]).finally(() =>
      clearTimeout(timer)
    );
    return this.#closing;
  }

  /** Same as {@linkcode Viewer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #countersNow(): ViewerCounters {
    return this.#counters?.() ?? {
      frames: this.#board.frames,
      decoded: 0,
      dropped: 0,
      errors: 0,
      skipped: 0,
      bytes: this.#board.bytes,
    };
  }

  /** The link statistics of `sender`; a provider that throws knows nothing. */
  #link(sender: string): LinkStats | undefined {
    try {
      return this.#linkStats?.(sender);
    } catch {
      return undefined;
    }
  }

  #withLink(stats: SenderStats): SenderStats {
    const link = this.#link(stats.sender);
    if (link === undefined) return stats;
    return {
      ...stats,
      protocol: stats.protocol ?? link.protocol ?? null,
      lost: finiteOrNull(link.lost),
      late: finiteOrNull(link.late),
      latencyMs: finiteOrNull(link.latencyMs),
    };
  }

  /** Takes one `/history` sample, and forgets long-silent senders. */
  #sample(): void {
    const nowMs = performance.now();
    const board = this.#board;
    board.expire(nowMs);
    const senders = new Map<string, HistoryInput>();
    let lost: number | undefined;
    let late: number | undefined;
    for (const entry of board.entries()) {
      const link = this.#link(entry.sender);
      const input: HistoryInput = { frames: entry.frames, bytes: entry.bytes };
      const sample = {
        lost: finiteOrNull(link?.lost),
        late: finiteOrNull(link?.late),
        latencyMs: finiteOrNull(link?.latencyMs),
      };
      if (sample.lost !== null) {
        input.lost = sample.lost;
        lost = (lost ?? 0) + sample.lost;
      }
      if (sample.late !== null) {
        input.late = sample.late;
        late = (late ?? 0) + sample.late;
      }
      if (sample.latencyMs !== null) input.latencyMs = sample.latencyMs;
      senders.set(entry.sender, input);
    }
    let dropped = 0;
    try {
      dropped = this.#countersNow().dropped;
    } catch {
      // A counters callback that throws costs /stats a 500; from the
      // sampler's timer it would end the process.
    }
    this.#history.record(nowMs, {
      frames: board.frames,
      bytes: board.bytes,
      dropped,
      lost,
      late,
    }, senders);
  }

  #handle(
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response | Promise<Response> {
    const refused = checkAccess(request, this.#access);
    if (refused !== undefined) return refused;
    if (this.#connections >= this.#maxConnections) {
      return textResponse(
        503,
        `Busy: the viewer serves at most ${this.#maxConnections} requests and streams at once; close a viewer tab and retry`,
        { "retry-after": "5" },
      );
    }
    this.#connections++;
    const done = () => void this.#connections--;
    info.completed.then(done, done);
    return this.#route(request);
  }

  #route(request: Request): Response | Promise<Response> {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return textResponse(
        405,
        `Method ${request.method} is not allowed: use GET`,
        {
          allow: "GET, HEAD",
        },
      );
    }
    const url = new URL(request.url);
    const sender = url.searchParams.get("sender") || undefined;
    const head = request.method === "HEAD";
    switch (url.pathname) {
      case "/":
      case "/index.html":
        return new Response(head ? null : this.#page, {
          headers: {
            "content-type": "text/html; charset=utf-8",
            "cache-control": NO_STORE,
            "content-security-policy": PAGE_CSP,
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
          },
        });
      case "/stats":
        return json(toJson(this.stats(sender)), head);
      case "/history":
        return json(
          JSON.stringify(this.#history.toJSON(performance.now(), sender)),
          head,
        );
      case "/stream.mjpg":
      case "/wall.mjpg":
        return new Response(
          head ? null : this.#streamer.open(
            url.pathname === "/wall.mjpg" ? "wall" : { sender },
          ),
          {
            headers: {
              "content-type": mjpegContentType(MJPEG_BOUNDARY),
              "cache-control": NO_STORE,
              "x-content-type-options": "nosniff",
            },
          },
        );
      case "/latest.jpg":
      case "/latest":
        return this.#latest(sender, {
          jpeg: url.pathname === "/latest.jpg",
          head,
          download: url.searchParams.has("download"),
        });
      default:
        return textResponse(
          404,
          `Not found: ${url.pathname}. Try ${PAGE_PATHS}`,
        );
    }
  }

  async #latest(
    sender: string | undefined,
    want: { jpeg: boolean; head: boolean; download: boolean },
  ): Promise<Response> {
    const entry = this.#board.newest(sender);
    if (entry === undefined) {
      return textResponse(
        404,
        sender === undefined
          ? "No frame yet: send one to the image port"
          : `No frame from ${sender} yet`,
      );
    }
    const { bytes, type } = want.jpeg
      ? await this.#encoded(entry.frame)
      : { bytes: entry.frame.bytes, type: `image/${entry.frame.format}` };
    // Frames arrive in ArrayBuffer-backed arrays; the type allows shared ones.
    const body = want.head ? null : bytes as Uint8Array<ArrayBuffer>;
    const headers: Record<string, string> = {
      "content-type": type,
      "content-length": String(bytes.byteLength),
      "cache-control": NO_STORE,
      "x-sender": entry.sender,
    };
    if (want.download) {
      const arrived = new Date(
        Date.now() - (performance.now() - entry.lastMs),
      );
      const name = snapshotName(
        entry.sender,
        arrived,
        type === "image/png" ? "png" : "jpg",
      );
      headers["content-disposition"] = `attachment; filename="${name}"`;
    }
    return new Response(body, { headers });
  }

  /** The frame as JPEG when it is one or can be transcoded to one. */
  async #encoded(
    frame: ViewerFrame,
  ): Promise<{ bytes: Uint8Array; type: string }> {
    if (frame.format === "jpeg" || this.#transcode === undefined) {
      return { bytes: frame.bytes, type: `image/${frame.format}` };
    }
    let jpeg = this.#jpegOf.get(frame);
    if (jpeg === undefined) {
      jpeg = this.#transcode(frame.bytes, "png").then(
        (bytes) => bytes,
        () => undefined,
      );
      this.#jpegOf.set(frame, jpeg);
    }
    const bytes = await jpeg;
    return bytes === undefined
      ? { bytes: frame.bytes, type: "image/png" }
      : { bytes, type: "image/jpeg" };
  }
}

function finiteOrNull(value: number | undefined): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}
