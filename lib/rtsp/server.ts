/**
 * The RTSP server's driver: a TCP listener for RTSP, a UDP socket pair
 * for RTP and RTCP, and a timer, around the pure parts (the message
 * reader, the session state machine, the streams). Frames come in through
 * {@linkcode RtspServer.publish}, one call per frame, which never blocks.
 *
 * @module
 */

import type { ImageFormat } from "../codec/types.ts";
import { endpointKey, urlHost } from "../net/_ip.ts";
import { openDatagramSocket } from "../net/open.ts";
import type { DatagramSocket } from "../net/types.ts";
import { type ParsedJpeg, parseJpeg } from "../rtp/jpeg.ts";
import { FrameBoard } from "../viewer/frame_board.ts";
import { RtspConnection } from "./_connection.ts";
import { UdpPacer, type UdpPacing, UdpSink } from "./_udp.ts";
import { type Credentials, DigestAuth } from "./digest.ts";
import {
  readErrorResponse,
  writeInterleaved,
  writeRtspResponse,
} from "./message.ts";
import {
  type RtspSession,
  RtspSessions,
  type SessionEffect,
} from "./session.ts";
import { type MediaSink, type PacketizedFrame, RtspStream } from "./stream.ts";
import type { Transcode } from "./transcode.ts";

/** The path of the stream that follows the most recently active sender. */
export const LIVE_PATH = "live";

/** One frame, as the server hands it over: the shape the viewer takes. */
export interface RtspFrame {
  /** Who sent it, `host:port`; names its stream `/host:port`. */
  readonly sender: string;
  /** The encoded image; kept by reference, so it must not change. */
  readonly bytes: Uint8Array;
  /** Its format. */
  readonly format: ImageFormat;
  /** Width in pixels, when known. */
  readonly width?: number;
  /** Height in pixels, when known. */
  readonly height?: number;
}

/** Options for {@linkcode RtspServer.listen}. */
export interface RtspServerOptions {
  /** The address to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** The RTSP (TCP) port; 0 picks a free one. @default {8554} */
  port?: number;
  /**
   * The server's RTP port (even; RTCP on the next one), for UDP clients;
   * 0 picks a free pair.
   *
   * @default {0}
   */
  rtpPort?: number;
  /** Whether RTP over UDP is offered. @default {true} */
  udp?: boolean;
  /** The one user and password; without them anyone who can connect may watch. */
  credentials?: Credentials;
  /** Whether Basic authentication is accepted besides Digest. @default {false} */
  allowBasic?: boolean;
  /** The Digest realm. @default {"udpimg"} */
  realm?: string;
  /**
   * Turns a frame RTP/JPEG cannot carry (PNG, progressive, 4:4:4,
   * optimized tables, larger than 2040 pixels) into one it can; see
   * {@linkcode rtpJpegTranscoder}. It runs once per frame, newest first,
   * and only while someone watches that sender. Without it such frames are
   * not sent, with a one-line notice.
   */
  transcode?: Transcode;
  /** The most RTSP connections at once; more are answered 503. @default {64} */
  maxConnections?: number;
  /** The most sessions at once. @default {64} */
  maxSessions?: number;
  /** Milliseconds a session may go without a request or RTCP. @default {60000} */
  sessionTimeoutMs?: number;
  /** Milliseconds a connection with no session may go without a request. @default {60000} */
  idleTimeoutMs?: number;
  /** Milliseconds a request may take to arrive whole. @default {10000} */
  requestTimeoutMs?: number;
  /** The largest request line and headers, in bytes. @default {8192} */
  maxHeaderBytes?: number;
  /** The largest request body. @default {65536} */
  maxBodyBytes?: number;
  /** The largest RTP packet. @default {1400} */
  mtu?: number;
  /** How many senders to remember. @default {64} */
  maxSenders?: number;
  /**
   * How long the sender `/live` shows may be silent, in ms, before `/live`
   * moves to another that is sending.
   *
   * @default {2000}
   */
  liveSwitchAfterMs?: number;
  /**
   * How UDP clients' frames are paced: spread over half the frame interval
   * (at most 40 ms) in bursts of 8 packets; `false` sends each frame back
   * to back.
   */
  udpPacing?: UdpPacing | false;
  /** Gets one-line notices: frames that cannot be sent, refused connections. */
  onNotice?: (text: string) => void;
}

/** The server's counters. */
export interface RtspServerStats {
  /** Open RTSP connections. */
  connections: number;
  /** Sessions set up. */
  sessions: number;
  /** Sessions playing. */
  playing: number;
  /** Frames packetized, over all streams. */
  framesSent: number;
  /** Frames a slow client skipped, over all clients. */
  framesSkipped: number;
  /** Frames transcoded for RTP/JPEG. */
  transcoded: number;
  /** Frames that could not be sent (no transcoder, or it failed). */
  unsendable: number;
  /** Connections refused: past the cap, or timed out. */
  refused: number;
}

interface StreamEntry {
  readonly stream: RtspStream;
  /** Sessions set up on it. */
  sessions: number;
  /** Paces its UDP clients, once it has one. */
  pacer: UdpPacer | undefined;
}

interface Pipeline {
  busy: boolean;
  pending: { frame: RtspFrame; arrivalMs: number } | undefined;
}

/** How many connections past the cap are read, to answer 503. */
const REFUSING_EXTRA = 16;

/**
 * The sender keys a stream path may name: `host:port` and `[v6]:port` as
 * they are, and `host_port`, `v6_port` or `[v6]_port` for tools that
 * dislike a colon in a path.
 */
function senderCandidates(path: string): string[] {
  const underscore = /^(.+)_(\d{1,5})$/.exec(path);
  if (underscore === null) return [path];
  const host = underscore[1]!;
  const bracketed = host.includes(":") && !host.startsWith("[")
    ? `[${host}]`
    : host;
  return [path, `${bracketed}:${underscore[2]}`];
}

/**
 * An RTSP server (RFC 2326, RTSP 1.0) that serves what it is given as
 * RTP/JPEG, as an IP camera does: `rtsp://HOST:PORT/live` is the most
 * recently active sender, `rtsp://HOST:PORT/SENDER` a chosen one
 * (`/127.0.0.1:50000`, or `/127.0.0.1_50000`; `/[::1]:50000` or
 * `/::1_50000` for IPv6). Players get RTP over UDP or interleaved in the
 * RTSP connection, and RTCP sender reports about once a second.
 *
 * Each frame is packetized once per stream and the packets are shared by
 * every client; a slow client gets the newest frame when it is ready for
 * one, and skips the rest, so memory stays bounded.
 *
 * @example Serving one frame to a tiny client
 * ```ts
 * import { RtspServer } from "./server.ts";
 * import { RtspClient } from "./client.ts";
 *
 * await using server = await RtspServer.listen({ port: 0 });
 * await using client = await RtspClient.connect(server.url);
 * await client.play({ transport: "tcp" });
 * const bytes = await Deno.readFile("bench/frames/photo_640x480.jpg");
 * const frame = client.nextFrame();
 * server.publish({ sender: "127.0.0.1:50000", bytes, format: "jpeg" });
 * console.log((await frame).packets.length > 1); // true
 * ```
 */
export class RtspServer implements AsyncDisposable {
  readonly #listener: Deno.TcpListener;
  readonly #rtp: DatagramSocket | undefined;
  readonly #rtcp: DatagramSocket | undefined;
  readonly #sessions: RtspSessions;
  readonly #board: FrameBoard;
  readonly #streams = new Map<string, StreamEntry>();
  readonly #sinks = new Map<string, MediaSink & { stop(): void }>();
  readonly #pacing: UdpPacing;
  readonly #connections = new Map<number, RtspConnection>();
  readonly #pipelines = new Map<string, Pipeline>();
  readonly #noted = new Map<string, string>();
  readonly #transcode: Transcode | undefined;
  readonly #onNotice: (text: string) => void;
  readonly #limits: {
    maxConnections: number;
    sessionTimeoutMs: number;
    idleTimeoutMs: number;
    requestTimeoutMs: number;
    maxHeaderBytes: number;
    maxBodyBytes: number;
    mtu: number;
  };
  readonly #url: string;
  /** The accept, receive and read loops, and running transcodes. */
  readonly #loops = new Set<Promise<void>>();
  readonly #ticker: ReturnType<typeof setInterval>;
  #nextConnectionId = 1;
  #closing: Promise<void> | undefined;
  #stats = {
    transcoded: 0,
    unsendable: 0,
    refused: 0,
    skippedUdp: 0,
    skippedClosed: 0,
    framesEnded: 0,
  };

  private constructor(
    listener: Deno.TcpListener,
    rtp: DatagramSocket | undefined,
    rtcp: DatagramSocket | undefined,
    options: RtspServerOptions,
  ) {
    this.#listener = listener;
    this.#rtp = rtp;
    this.#rtcp = rtcp;
    this.#limits = {
      maxConnections: options.maxConnections ?? 64,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 60_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      maxHeaderBytes: options.maxHeaderBytes ?? 8192,
      maxBodyBytes: options.maxBodyBytes ?? 65536,
      mtu: options.mtu ?? 1400,
    };
    this.#pacing = options.udpPacing === false
      ? { spreadFraction: 0 }
      : options.udpPacing ?? {};
    this.#transcode = options.transcode;
    this.#onNotice = options.onNotice ?? (() => {});
    this.#board = new FrameBoard({
      maxSenders: options.maxSenders ?? 64,
      ...(options.liveSwitchAfterMs !== undefined &&
        { switchAfterMs: options.liveSwitchAfterMs }),
    });
    this.#sessions = new RtspSessions({
      host: {
        resolve: (path) => this.#resolve(path),
        playInfo: (stream, nowMs) => this.#entry(stream).stream.playInfo(nowMs),
        framerate: (stream) => this.#framerate(stream),
      },
      ...(options.credentials && {
        auth: new DigestAuth(options.credentials, {
          ...(options.realm !== undefined && { realm: options.realm }),
          ...(options.allowBasic !== undefined &&
            { allowBasic: options.allowBasic }),
        }),
      }),
      ...(rtp && rtcp && { serverPort: [rtp.addr.port, rtcp.addr.port] }),
      sessionTimeoutMs: this.#limits.sessionTimeoutMs,
      maxSessions: options.maxSessions ?? 64,
    });
    const addr = listener.addr;
    this.#url = `rtsp://${urlHost(addr.hostname)}:${addr.port}/${LIVE_PATH}`;
    const smallest = Math.min(
      this.#limits.sessionTimeoutMs,
      this.#limits.idleTimeoutMs,
      this.#limits.requestTimeoutMs,
    );
    this.#ticker = setInterval(
      () => this.#tick(),
      Math.max(20, Math.min(250, smallest / 4)),
    );
    this.#track(this.#accept());
    if (rtp) this.#track(this.#receive(rtp));
    if (rtcp) this.#track(this.#receive(rtcp));
  }

  /**
   * Starts listening.
   *
   * @param options Address, ports, credentials, transcoder and limits.
   * @returns The server, listening.
   * @throws {Deno.errors.AddrInUse} When the port is taken, with a message
   * that says so.
   */
  static async listen(options: RtspServerOptions = {}): Promise<RtspServer> {
    const hostname = options.hostname ?? "127.0.0.1";
    const port = options.port ?? 8554;
    for (
      const [name, value, min] of [
        ["maxConnections", options.maxConnections, 1],
        ["maxSessions", options.maxSessions, 1],
        ["sessionTimeoutMs", options.sessionTimeoutMs, 1000],
        ["idleTimeoutMs", options.idleTimeoutMs, 1],
        ["requestTimeoutMs", options.requestTimeoutMs, 1],
      ] as const
    ) {
      if (value !== undefined && !(Number.isFinite(value) && value >= min)) {
        throw new RangeError(
          `Cannot start the RTSP server: ${name} must be at least ${min}, got ${value}`,
        );
      }
    }
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(
        `Cannot start the RTSP server: port must be 0 to 65535, got ${port}`,
      );
    }
    let listener: Deno.TcpListener;
    try {
      listener = Deno.listen({ hostname, port, transport: "tcp" });
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        throw new Deno.errors.AddrInUse(
          `Cannot start the RTSP server: ${hostname}:${port} is already in use, choose another port`,
          { cause: error },
        );
      }
      throw error;
    }
    let pair: [DatagramSocket, DatagramSocket] | undefined;
    if (options.udp ?? true) {
      try {
        pair = await openPortPair(hostname, options.rtpPort ?? 0);
      } catch (error) {
        listener.close();
        throw error;
      }
    }
    return new RtspServer(listener, pair?.[0], pair?.[1], options);
  }

  /** The URL of the live stream, such as `rtsp://127.0.0.1:8554/live`. */
  get url(): string {
    return this.#url;
  }

  /** The RTSP address. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  /** The server's RTP and RTCP ports, or `undefined` without UDP. */
  get rtpPorts(): readonly [number, number] | undefined {
    return this.#rtp && this.#rtcp
      ? [this.#rtp.addr.port, this.#rtcp.addr.port]
      : undefined;
  }

  /**
   * The URL of one sender's stream.
   *
   * @param sender The sender, `host:port`.
   * @returns Its URL, such as `rtsp://127.0.0.1:8554/127.0.0.1:50000`.
   */
  senderUrl(sender: string): string {
    return this.#url.slice(0, -LIVE_PATH.length) + sender;
  }

  /** The counters. */
  get stats(): RtspServerStats {
    let playing = 0;
    for (const s of this.#sessions.sessions()) {
      if (s.state === "playing") playing++;
    }
    let framesSent = this.#stats.framesEnded;
    for (const { stream } of this.#streams.values()) {
      framesSent += stream.frames;
    }
    let skipped = this.#stats.skippedUdp + this.#stats.skippedClosed;
    for (const c of this.#connections.values()) skipped += c.skipped;
    return {
      connections: this.#connections.size,
      sessions: this.#sessions.size,
      playing,
      framesSent,
      framesSkipped: skipped,
      transcoded: this.#stats.transcoded,
      unsendable: this.#stats.unsendable,
      refused: this.#stats.refused,
    };
  }

  /**
   * Hands the server a received frame. It returns at once: the frame is
   * packetized (or queued for transcoding) only when someone watches its
   * sender, or `/live` while it is the most recently active one.
   *
   * @param frame The frame; its bytes must not change afterwards.
   */
  publish(frame: RtspFrame): void {
    if (this.#closing !== undefined) return;
    const now = performance.now();
    this.#board.publish(frame, now);
    if (!this.#watched(frame.sender)) return;
    if (frame.format === "jpeg") {
      let jpeg: ParsedJpeg | undefined;
      try {
        jpeg = parseJpeg(frame.bytes);
      } catch (error) {
        // UnsupportedJpegError says why; anything else is a JPEG too broken
        // to read, which a transcoder may still decode.
        this.#transcodeLater(
          frame,
          now,
          error instanceof Error ? error.message : String(error),
        );
        return;
      }
      this.#deliver(frame.sender, jpeg, now);
      return;
    }
    this.#transcodeLater(
      frame,
      now,
      `RFC 2435 carries only JPEG, and this frame is ${frame.format.toUpperCase()}`,
    );
  }

  /**
   * Stops: ends every connection and session and closes the sockets.
   *
   * @returns Settles when every loop, and a transcode under way, has ended.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    clearInterval(this.#ticker);
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    for (const session of this.#sessions.clear()) {
      this.#stop(session, true);
    }
    for (const connection of this.#connections.values()) connection.close();
    for (const entry of this.#streams.values()) entry.pacer?.close();
    this.#rtp?.close();
    this.#rtcp?.close();
    this.#closing = Promise.allSettled(this.#loops).then(() => {});
    return this.#closing;
  }

  /** Same as {@linkcode RtspServer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #watched(sender: string): boolean {
    if ((this.#streams.get(sender)?.stream.sinkCount ?? 0) > 0) return true;
    return this.#board.primary === sender &&
      (this.#streams.get(LIVE_PATH)?.stream.sinkCount ?? 0) > 0;
  }

  #deliver(sender: string, jpeg: ParsedJpeg, arrivalMs: number): void {
    this.#streams.get(sender)?.stream.deliver(jpeg, arrivalMs);
    if (this.#board.primary === sender) {
      this.#streams.get(LIVE_PATH)?.stream.deliver(jpeg, arrivalMs);
    }
  }

  #note(sender: string, text: string): void {
    if (this.#noted.get(sender) === text) return;
    if (this.#noted.size >= 256) this.#noted.clear();
    this.#noted.set(sender, text);
    this.#onNotice(text);
  }

  #transcodeLater(frame: RtspFrame, arrivalMs: number, reason: string): void {
    const transcode = this.#transcode;
    if (transcode === undefined) {
      this.#stats.unsendable++;
      this.#note(
        frame.sender,
        `RTSP: frames from ${frame.sender} are not sent: ${reason}; send baseline 4:2:0 JPEG, or give the server a transcoder`,
      );
      return;
    }
    this.#note(
      frame.sender,
      `RTSP: frames from ${frame.sender} are transcoded: ${reason}`,
    );
    let pipeline = this.#pipelines.get(frame.sender);
    if (pipeline === undefined) {
      pipeline = { busy: false, pending: undefined };
      this.#pipelines.set(frame.sender, pipeline);
    }
    if (pipeline.busy) {
      // Newest first: an older frame still waiting is replaced.
      pipeline.pending = { frame, arrivalMs };
      return;
    }
    this.#track(this.#runTranscode(pipeline, transcode, frame, arrivalMs));
  }

  /** Keeps `loop` until it settles, so that `close` waits for it. */
  #track(loop: Promise<void>): void {
    this.#loops.add(loop);
    const drop = () => void this.#loops.delete(loop);
    loop.then(drop, drop);
  }

  async #runTranscode(
    pipeline: Pipeline,
    transcode: Transcode,
    frame: RtspFrame,
    arrivalMs: number,
  ): Promise<void> {
    pipeline.busy = true;
    let next: { frame: RtspFrame; arrivalMs: number } | undefined = {
      frame,
      arrivalMs,
    };
    while (next !== undefined && this.#closing === undefined) {
      const { frame, arrivalMs } = next;
      try {
        const jpeg = parseJpeg(await transcode(frame.bytes, frame.format));
        this.#stats.transcoded++;
        if (this.#closing === undefined) {
          this.#deliver(frame.sender, jpeg, arrivalMs);
        }
      } catch (error) {
        this.#stats.unsendable++;
        this.#note(
          frame.sender,
          `RTSP: cannot transcode a frame from ${frame.sender}: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
      }
      next = pipeline.pending;
      pipeline.pending = undefined;
    }
    pipeline.busy = false;
    this.#pipelines.delete(frame.sender);
  }

  #resolve(path: string): string | undefined {
    if (path === LIVE_PATH || path === "") return LIVE_PATH;
    for (const key of senderCandidates(path)) {
      if (this.#board.newest(key) !== undefined || this.#streams.has(key)) {
        return key;
      }
    }
    return undefined;
  }

  /** The sender's frame rate over the board's window, rounded to 0.01. */
  #framerate(stream: string): number | undefined {
    const sender = stream === LIVE_PATH ? this.#board.primary : stream;
    if (sender === undefined) return undefined;
    const stats = this.#board.senderStats(performance.now()).find((s) =>
      s.sender === sender
    );
    return stats && stats.fps > 0
      ? Math.round(stats.fps * 100) / 100
      : undefined;
  }

  #entry(key: string): StreamEntry {
    let entry = this.#streams.get(key);
    if (entry === undefined) {
      entry = {
        stream: new RtspStream({
          mtu: this.#limits.mtu,
          cname: `udpimg@${this.addr.hostname}`,
        }),
        sessions: 0,
        pacer: undefined,
      };
      this.#streams.set(key, entry);
    }
    return entry;
  }

  #apply(effect: SessionEffect, nowMs: number): void {
    const { session } = effect;
    switch (effect.type) {
      case "setup":
        if (!this.#setUp.has(session.id)) {
          this.#setUp.add(session.id);
          this.#entry(session.stream).sessions++;
        }
        break;
      case "play":
        this.#play(session, nowMs);
        break;
      case "pause":
        this.#pause(session, false);
        break;
      case "teardown":
        this.#stop(session, true);
        break;
    }
  }

  readonly #setUp = new Set<string>();

  #play(session: RtspSession, nowMs: number): void {
    const entry = this.#entry(session.stream);
    const transport = session.transport;
    let sink: MediaSink & { stop(): void };
    if (transport.kind === "udp") {
      if (this.#rtp === undefined || this.#rtcp === undefined) return;
      entry.pacer ??= new UdpPacer(
        this.#rtp,
        this.#pacing,
        () => this.#stats.skippedUdp++,
      );
      sink = new UdpSink(entry.pacer, this.#rtcp, transport, (error) => {
        this.#note(
          session.id,
          `RTSP: cannot send to ${
            endpointKey(transport.rtp)
          }: ${error.message}`,
        );
      });
    } else {
      const connection = this.#connections.get(transport.connectionId);
      if (connection === undefined) return;
      sink = new InterleavedSink(connection, session.id, transport.channels);
    }
    this.#sinks.set(session.id, sink);
    entry.stream.addSink(sink, nowMs, performance.timeOrigin + nowMs);
  }

  #pause(session: RtspSession, bye: boolean): void {
    const sink = this.#sinks.get(session.id);
    if (sink === undefined) return;
    this.#sinks.delete(session.id);
    this.#streams.get(session.stream)?.stream.removeSink(sink, bye);
    sink.stop();
  }

  /** Ends a session's media: its sink, and its hold on the stream. */
  #stop(session: RtspSession, bye: boolean): void {
    this.#pause(session, bye);
    if (!this.#setUp.delete(session.id)) return;
    const entry = this.#streams.get(session.stream);
    if (entry !== undefined && --entry.sessions <= 0) {
      this.#stats.framesEnded += entry.stream.frames;
      entry.pacer?.close();
      this.#streams.delete(session.stream);
    }
  }

  async #accept(): Promise<void> {
    while (this.#closing === undefined) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (
          this.#closing !== undefined ||
          error instanceof Deno.errors.BadResource
        ) break;
        // Out of file descriptors, say: wait, and accept again.
        this.#onNotice(
          `RTSP: cannot accept a connection: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      this.#open(conn);
    }
  }

  #open(conn: Deno.TcpConn): void {
    const count = this.#connections.size;
    if (
      this.#closing !== undefined ||
      count >= this.#limits.maxConnections + REFUSING_EXTRA
    ) {
      this.#stats.refused++;
      try {
        conn.close();
      } catch {
        // Gone already.
      }
      return;
    }
    const refusing = count >= this.#limits.maxConnections;
    if (refusing) {
      this.#stats.refused++;
      this.#onNotice(
        `RTSP: ${this.#limits.maxConnections} connections are open, the most allowed; refusing ${conn.remoteAddr.hostname}`,
      );
    }
    try {
      conn.setNoDelay(true);
    } catch {
      // Not every platform has it; frames are written whole anyway.
    }
    const connection = new RtspConnection(
      conn,
      this.#nextConnectionId++,
      performance.now(),
      refusing,
      {
        maxHeaderBytes: this.#limits.maxHeaderBytes,
        maxBodyBytes: this.#limits.maxBodyBytes,
      },
    );
    this.#connections.set(connection.info.id, connection);
    this.#track(this.#read(connection));
  }

  async #read(connection: RtspConnection): Promise<void> {
    const buffer = new Uint8Array(16384);
    try {
      while (!connection.closed) {
        const n = await connection.read(buffer);
        if (n === null) break;
        connection.reader.push(buffer.subarray(0, n));
        this.#drain(connection);
      }
    } catch {
      // Reset by the peer, or closed here.
    } finally {
      this.#closeConnection(connection);
    }
  }

  #drain(connection: RtspConnection): void {
    const now = performance.now();
    for (;;) {
      const item = connection.reader.next();
      if (item === undefined) break;
      if (item.type === "interleaved") {
        // RTCP receiver reports from an interleaved client keep it alive.
        for (const s of this.#sessions.sessions()) {
          if (
            s.transport.kind === "interleaved" &&
            s.transport.connectionId === connection.info.id &&
            (s.transport.channels[0] === item.channel ||
              s.transport.channels[1] === item.channel)
          ) this.#sessions.touch(s.id, now);
        }
        continue;
      }
      connection.lastRequestMs = now;
      if (item.type === "error") {
        connection.sendControl(writeRtspResponse(readErrorResponse(item)));
        if (item.fatal) {
          connection.endAfterFlush();
          return;
        }
        continue;
      }
      if (item.type !== "request") continue;
      if (connection.refusing) {
        connection.sendControl(writeRtspResponse({
          status: 503,
          headers: [
            ["CSeq", item.request.headers.get("CSeq") ?? "0"],
            ["Server", "udpimg"],
            ["Retry-After", "10"],
          ],
        }));
        connection.endAfterFlush();
        return;
      }
      try {
        const { response, effect } = this.#sessions.handle(
          now,
          item.request,
          connection.info,
        );
        connection.sendControl(writeRtspResponse(response));
        if (effect !== undefined) this.#apply(effect, now);
      } catch (error) {
        // A bug here must cost one answer, not the server.
        this.#onNotice(
          `RTSP: internal error on ${item.request.method}: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
        connection.sendControl(writeRtspResponse({
          status: 500,
          headers: [["CSeq", item.request.headers.get("CSeq") ?? "0"]],
        }));
      }
    }
    connection.partialSinceMs = connection.reader.pendingBytes > 0
      ? connection.partialSinceMs ?? now
      : undefined;
  }

  #closeConnection(connection: RtspConnection): void {
    connection.close();
    if (this.#connections.get(connection.info.id) !== connection) return;
    this.#connections.delete(connection.info.id);
    this.#stats.skippedClosed += connection.skipped;
    for (const session of this.#sessions.dropConnection(connection.info.id)) {
      this.#stop(session, true);
    }
  }

  async #receive(socket: DatagramSocket): Promise<void> {
    const batch = socket.createBatch();
    try {
      for (;;) {
        const count = await socket.receive(batch);
        if (count === 0) break;
        const now = performance.now();
        for (let i = 0; i < count; i++) {
          const session = this.#sessions.sessionAt(batch.senderKeys[i]!);
          if (session !== undefined) this.#sessions.touch(session.id, now);
        }
      }
    } catch {
      // Closed.
    }
  }

  #tick(): void {
    const now = performance.now();
    const wall = performance.timeOrigin + now;
    for (const { stream } of this.#streams.values()) {
      stream.handleTimeout(now, wall);
    }
    for (const session of this.#sessions.expire(now)) {
      this.#stop(session, true);
    }
    const { idleTimeoutMs, requestTimeoutMs, sessionTimeoutMs } = this.#limits;
    const withSessions = new Set<number>();
    for (const s of this.#sessions.sessions()) withSessions.add(s.connectionId);
    for (const connection of this.#connections.values()) {
      const since = connection.writeSinceMs;
      if (since !== undefined && now - since > sessionTimeoutMs) {
        // A client that stopped reading.
        connection.close();
      } else if (connection.refusing) {
        if (now - connection.openedMs > requestTimeoutMs) connection.close();
      } else if (
        connection.partialSinceMs !== undefined &&
        now - connection.partialSinceMs > requestTimeoutMs
      ) {
        this.#stats.refused++;
        connection.sendControl(writeRtspResponse({
          status: 408,
          headers: [["Server", "udpimg"]],
        }));
        connection.endAfterFlush();
      } else if (
        !withSessions.has(connection.info.id) &&
        now - connection.lastRequestMs > idleTimeoutMs
      ) {
        connection.close();
      }
    }
  }
}

/** Sends a session's frames interleaved in its RTSP connection. */
class InterleavedSink implements MediaSink {
  readonly #connection: RtspConnection;
  readonly #slot: string;
  readonly #channels: readonly [number, number];

  constructor(
    connection: RtspConnection,
    slot: string,
    channels: readonly [number, number],
  ) {
    this.#connection = connection;
    this.#slot = slot;
    this.#channels = channels;
  }

  sendFrame(frame: PacketizedFrame): void {
    this.#connection.sendFrame(
      this.#slot,
      frame.interleaved(this.#channels[0]),
    );
  }

  sendRtcp(packet: Uint8Array): void {
    this.#connection.sendControl(writeInterleaved(this.#channels[1], [packet]));
  }

  stop(): void {
    this.#connection.dropFrames(this.#slot);
  }
}

/** Opens an even RTP port and the RTCP port after it. */
async function openPortPair(
  hostname: string,
  rtpPort: number,
): Promise<[DatagramSocket, DatagramSocket]> {
  if (
    !Number.isInteger(rtpPort) || rtpPort < 0 || rtpPort > 65534 ||
    rtpPort % 2 !== 0
  ) {
    throw new RangeError(
      `Cannot open the RTP ports: rtpPort must be an even number from 0 to 65534, got ${rtpPort}`,
    );
  }
  const open = (port: number) =>
    openDatagramSocket({ hostname, port, receiveBufferBytes: 256 * 1024 });
  let lastError: unknown;
  for (let attempt = 0; attempt < (rtpPort === 0 ? 32 : 1); attempt++) {
    let rtp: DatagramSocket | undefined;
    try {
      rtp = await open(rtpPort);
      const port = rtp.addr.port;
      if (port % 2 !== 0 || port === 65535) {
        rtp.close();
        continue;
      }
      return [rtp, await open(port + 1)];
    } catch (error) {
      rtp?.close();
      lastError = error;
    }
  }
  throw new Error(
    `Cannot open the RTP and RTCP ports on ${hostname}${
      rtpPort === 0 ? "" : ` (${rtpPort} and ${rtpPort + 1})`
    }: ${lastError instanceof Error ? lastError.message : "no even free port"}`,
    { cause: lastError },
  );
}
