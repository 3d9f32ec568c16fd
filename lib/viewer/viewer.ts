/**
 * The live viewer: an HTTP server that shows the newest received frames in
 * a browser, with statistics and the last message.
 *
 * @module
 */

import { FrameBoard } from "./frame_board.ts";
import {
  encodePartHead,
  encodePartTail,
  MJPEG_BOUNDARY,
  mjpegContentType,
} from "./mjpeg.ts";
import { PAGE_CSP, renderPage } from "./page.ts";
import type { ViewerCounters, ViewerFrame, ViewerStats } from "./types.ts";

/** Options for {@linkcode Viewer}. */
export interface ViewerOptions {
  /**
   * The address to listen on. Anyone who can reach it sees the frames.
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
   * The server's running totals, read for each `/stats` request. Without
   * it, the viewer reports its own count of published frames and bytes, and
   * zero for the rest.
   */
  counters?: () => ViewerCounters;
  /**
   * Turns a PNG into a JPEG, for `/latest.jpg` and the MJPEG stream. It
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
   * When an MJPEG stream has had no new frame for this many milliseconds,
   * its last frame is sent once more. Browsers display a part only when the
   * next one begins, so without the repeat the last frame of a burst, or a
   * single image, would never appear. 0 turns it off.
   *
   * @default {100}
   */
  idleRepeatMs?: number;
}

/** What one `/stream.mjpg` response needs between pulls. */
interface StreamState {
  readonly sender: string | undefined;
  lastSeq: number;
  first: boolean;
  /** Whether the last part sent repeats the one before. */
  repeated: boolean;
  closed: boolean;
  wake: (() => void) | undefined;
  controller: ReadableStreamDefaultController<Uint8Array> | undefined;
}

const PART_TAIL = encodePartTail(MJPEG_BOUNDARY);
const NO_STORE = "no-store";
const CLOSE_GRACE_MS = 1000;

function text(status: number, body: string, headers: HeadersInit = {}) {
  return new Response(body + "\n", {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": NO_STORE,
      ...headers,
    },
  });
}

function urlHost(hostname: string): string {
  if (hostname === "0.0.0.0") return "127.0.0.1";
  if (hostname === "::") return "[::1]";
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

function toJson(stats: ViewerStats): string {
  try {
    return JSON.stringify(stats);
  } catch {
    // A published message that JSON cannot hold (a BigInt, a cycle).
    return JSON.stringify({ ...stats, lastMessage: String(stats.lastMessage) });
  }
}

/**
 * Serves a live view of received frames over HTTP:
 *
 * - `/` a self-contained page (no external resources) with the picture,
 *   fps, frames, dropped, KB/s, resolution, a sender selector and the last
 *   message;
 * - `/stream.mjpg` MJPEG of the newest frames;
 * - `/latest.jpg` the newest frame as JPEG (PNG when it cannot transcode),
 *   `/latest` in its own format;
 * - `/stats` the {@linkcode ViewerStats} as JSON.
 *
 * `?sender=host:port` picks a sender on each of them; the default is the
 * most recently active one.
 *
 * Publishing is synchronous and O(1): the viewer keeps only the newest frame
 * of each sender, and each MJPEG viewer is sent the newest frame whenever it
 * is ready for one, so a slow browser skips frames instead of queueing them
 * and never holds up reception.
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
 */
export class Viewer implements AsyncDisposable {
  #board: FrameBoard;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #url: string;
  #page: string;
  #counters: (() => ViewerCounters) | undefined;
  #transcode: ViewerOptions["transcode"];
  #jpegOf = new WeakMap<ViewerFrame, Promise<Uint8Array | undefined>>();
  #streams = new Set<StreamState>();
  #waiting = new Set<StreamState>();
  #signal: AbortSignal | undefined;
  #onAbort = () => void this.close();
  #closing: Promise<void> | undefined;
  #message: { value: unknown; sender: string; atMs: number } | undefined;
  #messages = 0;
  #partsSent = 0;
  #idleRepeatMs: number;

  /**
   * Starts listening at once; {@linkcode Viewer.url} is ready when the
   * constructor returns.
   *
   * @param options Address, counters, transcoder and page texts.
   */
  constructor(options: ViewerOptions = {}) {
    const { hostname = "127.0.0.1", port = 0, signal } = options;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(
        `Cannot start viewer: port must be an integer from 0 to 65535, got ${port}`,
      );
    }
    this.#board = new FrameBoard({
      ...(options.maxSenders !== undefined &&
        { maxSenders: options.maxSenders }),
      ...(options.windowMs !== undefined && { windowMs: options.windowMs }),
    });
    this.#counters = options.counters;
    this.#idleRepeatMs = options.idleRepeatMs ?? 100;
    if (!(this.#idleRepeatMs >= 0) || !Number.isFinite(this.#idleRepeatMs)) {
      throw new RangeError(
        `Cannot start viewer: idleRepeatMs must be 0 or more, got ${this.#idleRepeatMs}`,
      );
    }
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
        onError: () => text(500, "Internal error in the viewer"),
      }, (request) => this.#handle(request));
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
    this.#url = `http://${urlHost(addr.hostname)}:${addr.port}/`;
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

  /** The address the HTTP server listens on. */
  get addr(): Deno.NetAddr {
    return this.#server.addr;
  }

  /** Settles when the HTTP server has stopped and its last connection ended. */
  get finished(): Promise<void> {
    return this.#server.finished;
  }

  /** How many `/stream.mjpg` responses are open. */
  get activeStreams(): number {
    return this.#streams.size;
  }

  /** Frames sent to MJPEG viewers so far, over all streams. */
  get framesStreamed(): number {
    return this.#partsSent;
  }

  /**
   * Bytes queued in open MJPEG responses that their clients have not taken
   * yet. Each response queues at most one part, so this stays below one
   * frame per viewer however slow the viewers are.
   */
  get queuedBytes(): number {
    let queued = 0;
    for (const stream of this.#streams) {
      queued -= Math.min(0, stream.controller?.desiredSize ?? 0);
    }
    return queued;
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
    for (const stream of this.#waiting) stream.wake?.();
    this.#waiting.clear();
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
    const counters = this.#counters?.() ?? {
      frames: board.frames,
      decoded: 0,
      dropped: 0,
      errors: 0,
      skipped: 0,
      bytes: board.bytes,
    };
    const rate = board.rate(nowMs);
    const message = this.#message;
    return {
      frames: counters.frames,
      decoded: counters.decoded,
      dropped: counters.dropped,
      errors: counters.errors,
      skipped: counters.skipped,
      bytes: counters.bytes,
      fps: Math.round(rate.perSecond * 10) / 10,
      kbps: Math.round(rate.bytesPerSecond / 100) / 10,
      senders: board.senderStats(nowMs),
      selected: sender ?? board.primary ?? null,
      viewers: this.#streams.size,
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
    for (const stream of this.#streams) this.#endStream(stream);
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

  #handle(request: Request): Response | Promise<Response> {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return text(405, `Method ${request.method} is not allowed: use GET`, {
        allow: "GET, HEAD",
      });
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
          },
        });
      case "/stats":
        return new Response(head ? null : toJson(this.stats(sender)), {
          headers: {
            "content-type": "application/json",
            "cache-control": NO_STORE,
          },
        });
      case "/stream.mjpg":
        return new Response(head ? null : this.#openStream(sender), {
          headers: {
            "content-type": mjpegContentType(MJPEG_BOUNDARY),
            "cache-control": NO_STORE,
            "x-content-type-options": "nosniff",
          },
        });
      case "/latest.jpg":
        return this.#latest(sender, true, head);
      case "/latest":
        return this.#latest(sender, false, head);
      default:
        return text(
          404,
          `Not found: ${url.pathname}. Try /, /stream.mjpg, /latest.jpg or /stats`,
        );
    }
  }

  async #latest(
    sender: string | undefined,
    wantJpeg: boolean,
    head: boolean,
  ): Promise<Response> {
    const entry = this.#board.newest(sender);
    if (entry === undefined) {
      return text(
        404,
        sender === undefined
          ? "No frame yet: send one to the image port"
          : `No frame from ${sender} yet`,
      );
    }
    const { bytes, type } = wantJpeg
      ? await this.#encoded(entry.frame)
      : { bytes: entry.frame.bytes, type: `image/${entry.frame.format}` };
    // Frames arrive in ArrayBuffer-backed arrays; the type allows shared ones.
    const body = head ? null : bytes as Uint8Array<ArrayBuffer>;
    return new Response(body, {
      headers: {
        "content-type": type,
        "content-length": String(bytes.byteLength),
        "cache-control": NO_STORE,
        "x-sender": entry.sender,
      },
    });
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

  #openStream(sender: string | undefined): ReadableStream<Uint8Array> {
    const state: StreamState = {
      sender,
      lastSeq: 0,
      first: true,
      repeated: false,
      closed: false,
      wake: undefined,
      controller: undefined,
    };
    this.#streams.add(state);
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        state.controller = controller;
      },
      pull: (controller) => this.#pull(state, controller),
      cancel: () => this.#endStream(state),
      // Pulled only when the client has taken everything queued, so that a
      // slow client is sent the newest frame rather than a backlog.
    }, new ByteLengthQueuingStrategy({ highWaterMark: 0 }));
  }

  async #pull(
    state: StreamState,
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    let idle = false;
    for (;;) {
      if (state.closed) return;
      const entry = this.#board.newest(state.sender);
      const fresh = entry !== undefined && entry.seq !== state.lastSeq;
      if (entry !== undefined && (fresh || (idle && !state.repeated))) {
        state.repeated = !fresh;
        state.lastSeq = entry.seq;
        const { bytes, type } = await this.#encoded(entry.frame);
        if (state.closed) return;
        controller.enqueue(
          encodePartHead(type, bytes.byteLength, {
            first: state.first,
            boundary: MJPEG_BOUNDARY,
          }),
        );
        controller.enqueue(bytes);
        controller.enqueue(PART_TAIL);
        state.first = false;
        this.#partsSent++;
        return;
      }
      // Browsers show a part only once the next part's headers arrive, so a
      // stream that goes quiet repeats its last frame once to show it.
      const repeat = entry !== undefined && !state.repeated &&
        this.#idleRepeatMs > 0;
      idle = !await this.#wait(state, repeat ? this.#idleRepeatMs : 0);
    }
  }

  /** Resolves true when a frame is published, false after `timeoutMs` (0: never). */
  #wait(state: StreamState, timeoutMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      state.wake = () => {
        state.wake = undefined;
        clearTimeout(timer);
        resolve(true);
      };
      this.#waiting.add(state);
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          state.wake = undefined;
          this.#waiting.delete(state);
          resolve(false);
        }, timeoutMs);
      }
    });
  }

  #endStream(state: StreamState): void {
    if (state.closed) return;
    state.closed = true;
    this.#streams.delete(state);
    this.#waiting.delete(state);
    state.wake?.();
    try {
      // Erroring rather than closing drops what a stalled client has not
      // read, so that shutting down does not wait for it.
      state.controller?.error(new Error("Viewer closed"));
    } catch {
      // Already closed or errored.
    }
  }
}
