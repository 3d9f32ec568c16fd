/**
 * The RTSP server's session state machine ([RFC 2326 §A.2](https://www.rfc-editor.org/rfc/rfc2326#appendix-A.2)),
 * with no sockets and no timers: requests and the time in, responses and
 * effects out.
 *
 * ```text
 *            SETUP                 PLAY
 *   (none) ────────▶ ready ◀──────────────▶ playing
 *                      │        PAUSE          │
 *                      └──── TEARDOWN, ────────┘──▶ (none)
 *                            timeout, connection closed (interleaved)
 * ```
 *
 * Each stream has one track (`trackID=0`): RTP/JPEG, payload type 26. A
 * session carries one stream, over UDP unicast to the client's port pair
 * or interleaved in an RTSP connection. A session times out when nothing
 * names it for `sessionTimeoutMs` (a request with its `Session` header, or
 * RTCP from its client, which the driver reports with
 * {@linkcode RtspSessions.touch}); a playing interleaved session instead
 * lives as long as its connection reads what is sent to it. Every session
 * ends with the connection that set it up.
 *
 * @module
 */

import type { Endpoint } from "../net/types.ts";
import { endpointKey } from "../net/_ip.ts";
import { writeSdp } from "../rtp/sdp.ts";
import type { DigestAuth } from "./digest.ts";
import type { RtspRequest, RtspResponseInit } from "./message.ts";
import { chooseTransport, formatTransport } from "./transport.ts";

/** The methods this server implements, as its OPTIONS answer lists them. */
export const RTSP_METHODS: readonly string[] = [
  "OPTIONS",
  "DESCRIBE",
  "SETUP",
  "PLAY",
  "PAUSE",
  "TEARDOWN",
  "GET_PARAMETER",
  "SET_PARAMETER",
];

/** RTSP methods that exist but that a camera does not take. */
const NOT_ALLOWED = new Set(["ANNOUNCE", "RECORD", "REDIRECT"]);

/** The control path of the one track of each stream. */
export const TRACK_CONTROL = "trackID=0";

/** The connection a request came on. */
export interface RtspConnectionInfo {
  /** A number unique among open connections. */
  readonly id: number;
  /** The client's address. */
  readonly remote: Endpoint;
  /** The server's address on this connection, for the SDP origin. */
  readonly local: Endpoint;
}

/** What the state machine asks of the streams behind it. */
export interface RtspStreamHost {
  /**
   * The stream a path names, or `undefined` when there is none (404).
   *
   * @param path The Request-URI's path, decoded, without the leading and
   * trailing slash and without the track: `live`, `127.0.0.1:50000`, ….
   */
  resolve(path: string): string | undefined;
  /**
   * Where a stream is now, for the `RTP-Info` of a PLAY answer: the
   * sequence number of its next packet and the RTP timestamp of `nowMs`.
   */
  playInfo(
    stream: string,
    nowMs: number,
  ): { sequence: number; timestamp: number };
  /**
   * The stream's frame rate, when known, for the SDP's `a=framerate`
   * (players and recorders show it and use it as the nominal rate).
   */
  framerate?(stream: string): number | undefined;
}

/** How a session's media travel. */
export type SessionTransport =
  | {
    readonly kind: "udp";
    /** Where RTP goes. */
    readonly rtp: Endpoint;
    /** Where RTCP goes. */
    readonly rtcp: Endpoint;
  }
  | {
    readonly kind: "interleaved";
    /** The connection that carries it. */
    readonly connectionId: number;
    /** The RTP and RTCP channels. */
    readonly channels: readonly [number, number];
  };

/** One RTSP session. */
export interface RtspSession {
  /** The session id, as in the `Session` header. */
  readonly id: string;
  /** The stream it carries, as {@linkcode RtspStreamHost.resolve} named it. */
  readonly stream: string;
  /** The track's absolute URL, for `RTP-Info`. */
  readonly trackUrl: string;
  /** The connection that set it up. */
  readonly connectionId: number;
  /** `ready` after SETUP, `playing` after PLAY. */
  readonly state: "ready" | "playing";
  /** How its media travel. */
  readonly transport: SessionTransport;
  /** When a request or RTCP last named it. */
  readonly lastSeenMs: number;
}

interface Session extends RtspSession {
  state: "ready" | "playing";
  transport: SessionTransport;
  lastSeenMs: number;
}

/** What a request changes besides its answer. */
export type SessionEffect = {
  /** `play` to start sending, `pause` to stop, `teardown` when it ends. */
  readonly type: "setup" | "play" | "pause" | "teardown";
  /** The session. */
  readonly session: RtspSession;
};

/** What {@linkcode RtspSessions.handle} returns. */
export interface HandledRequest {
  /** The answer to send. */
  readonly response: RtspResponseInit;
  /** What the driver must do, if anything. */
  readonly effect?: SessionEffect;
}

/** Options for {@linkcode RtspSessions}. */
export interface RtspSessionsOptions {
  /** The streams. */
  host: RtspStreamHost;
  /** Authentication, when the server has a password. */
  auth?: DigestAuth;
  /** The server's RTP and RTCP ports; without them UDP is refused. */
  serverPort?: readonly [number, number];
  /** Whether RTP interleaved in the RTSP connection is offered. @default {true} */
  tcp?: boolean;
  /** Milliseconds without a word from the client before a session ends. @default {60000} */
  sessionTimeoutMs?: number;
  /** The most sessions at once. @default {64} */
  maxSessions?: number;
  /** The `Server` header and SDP session name. @default {"udpimg"} */
  serverName?: string;
  /** Makes session ids. @default {16 random hex digits} */
  randomId?: () => string;
}

function randomHex(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(8)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** A Request-URI split into its stream path and whether it names the track. */
interface Target {
  /** The stream's URL, without a trailing slash. */
  readonly base: string;
  /** The decoded stream path. */
  readonly path: string;
  /** Whether the URI ends in the track's control path. */
  readonly track: boolean;
}

function parseTarget(uri: string): Target | string {
  const match = /^(rtsps?:\/\/[^/?#]+)(\/[^?#]*)?(?:[?#].*)?$/i.exec(uri);
  if (match === null) {
    return `"${uri.slice(0, 60)}" is not an absolute rtsp:// URL`;
  }
  let raw = match[2] ?? "/";
  while (raw.endsWith("/") && raw.length > 1) raw = raw.slice(0, -1);
  let track = false;
  if (raw.endsWith(`/${TRACK_CONTROL}`) || raw === `/${TRACK_CONTROL}`) {
    track = true;
    raw = raw.slice(0, -TRACK_CONTROL.length - 1);
  }
  let path: string;
  try {
    path = decodeURIComponent(raw.replace(/^\//, ""));
  } catch {
    return `the path of "${uri.slice(0, 60)}" has a bad percent escape`;
  }
  return { base: `${match[1]}${raw}`, path, track };
}

/**
 * The server's sessions and the answers to requests, as a pure state
 * machine: the driver feeds it requests, RTCP arrivals and the time, and
 * acts on the effects (start or stop sending to a session).
 *
 * @example SETUP then PLAY, over TCP
 * ```ts
 * import { RtspHeaders } from "./message.ts";
 * import { RtspSessions } from "./session.ts";
 *
 * const sessions = new RtspSessions({
 *   host: {
 *     resolve: (path) => path === "live" ? "live" : undefined,
 *     playInfo: () => ({ sequence: 1, timestamp: 0 }),
 *   },
 * });
 * const connection = {
 *   id: 1,
 *   remote: { hostname: "127.0.0.1", port: 40000 },
 *   local: { hostname: "127.0.0.1", port: 8554 },
 * };
 * const request = (method: string, uri: string, headers: [string, string][]) => ({
 *   method, uri, headers: new RtspHeaders(headers), body: new Uint8Array(),
 * });
 * const setup = sessions.handle(0, request("SETUP", "rtsp://127.0.0.1:8554/live/trackID=0", [
 *   ["CSeq", "1"], ["Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"],
 * ]), connection);
 * const id = setup.effect!.session.id;
 * const play = sessions.handle(0, request("PLAY", "rtsp://127.0.0.1:8554/live", [
 *   ["CSeq", "2"], ["Session", id],
 * ]), connection);
 * console.log(play.response.status, play.effect?.type); // 200 "play"
 * ```
 */
export class RtspSessions {
  readonly #host: RtspStreamHost;
  readonly #auth: DigestAuth | undefined;
  readonly #serverPort: readonly [number, number] | undefined;
  readonly #tcp: boolean;
  readonly #timeoutMs: number;
  readonly #maxSessions: number;
  readonly #serverName: string;
  readonly #randomId: () => string;
  readonly #sessions = new Map<string, Session>();
  readonly #byEndpoint = new Map<string, Session>();

  /**
   * Makes the state machine, with no session.
   *
   * @param options The streams, authentication, ports and limits.
   */
  constructor(options: RtspSessionsOptions) {
    const { sessionTimeoutMs = 60_000, maxSessions = 64 } = options;
    if (!(sessionTimeoutMs >= 1000) || !Number.isFinite(sessionTimeoutMs)) {
      throw new RangeError(
        `Cannot make RTSP sessions: sessionTimeoutMs must be at least 1000, got ${sessionTimeoutMs}`,
      );
    }
    if (!Number.isInteger(maxSessions) || maxSessions < 1) {
      throw new RangeError(
        `Cannot make RTSP sessions: maxSessions must be a positive integer, got ${maxSessions}`,
      );
    }
    this.#host = options.host;
    this.#auth = options.auth;
    this.#serverPort = options.serverPort;
    this.#tcp = options.tcp ?? true;
    this.#timeoutMs = sessionTimeoutMs;
    this.#maxSessions = maxSessions;
    this.#serverName = options.serverName ?? "udpimg";
    this.#randomId = options.randomId ?? randomHex;
  }

  /** How many sessions there are. */
  get size(): number {
    return this.#sessions.size;
  }

  /** The sessions, in the order they were set up. */
  sessions(): IterableIterator<RtspSession> {
    return this.#sessions.values();
  }

  /**
   * A session by its id.
   *
   * @param id The session id.
   * @returns The session, or `undefined`.
   */
  get(id: string): RtspSession | undefined {
    return this.#sessions.get(id);
  }

  /**
   * The UDP session whose client sends from `from`: its RTP or RTCP
   * address.
   *
   * @param from A `host:port` key, as {@linkcode endpointKey} makes.
   * @returns The session, or `undefined`.
   */
  sessionAt(from: string): RtspSession | undefined {
    return this.#byEndpoint.get(from);
  }

  /**
   * Notes that a session's client is alive (RTCP came from it).
   *
   * @param id The session id.
   * @param nowMs The time.
   */
  touch(id: string, nowMs: number): void {
    const session = this.#sessions.get(id);
    if (session !== undefined) session.lastSeenMs = nowMs;
  }

  /**
   * Answers one request.
   *
   * @param nowMs The time.
   * @param request The request, as the reader gave it.
   * @param connection The connection it came on.
   * @returns The response, and what the driver must do.
   */
  handle(
    nowMs: number,
    request: RtspRequest,
    connection: RtspConnectionInfo,
  ): HandledRequest {
    const cseq = request.headers.get("CSeq") ?? "0";
    const reply = (
      status: number,
      headers: [string, string][] = [],
      body?: string,
    ): RtspResponseInit => ({
      status,
      headers: [["CSeq", cseq], ["Server", this.#serverName], ...headers],
      ...(body !== undefined && { body }),
    });
    const fail = (status: number, why: string): HandledRequest => ({
      response: reply(
        status,
        [["Content-Type", "text/plain"]],
        `${why}\r\n`,
      ),
    });
    const method = request.method;
    const require = request.headers.get("Require");
    if (require !== undefined && method !== "OPTIONS") {
      return {
        response: reply(551, [["Unsupported", require]]),
      };
    }
    if (!RTSP_METHODS.includes(method)) {
      if (NOT_ALLOWED.has(method)) {
        return {
          response: reply(405, [["Allow", RTSP_METHODS.join(", ")]]),
        };
      }
      return {
        response: reply(501, [["Public", RTSP_METHODS.join(", ")]]),
      };
    }
    if (this.#auth !== undefined && method !== "OPTIONS") {
      const result = this.#auth.verify(
        method,
        request.uri,
        request.headers.get("Authorization"),
        nowMs,
      );
      // A player keeps its nonce for the whole session: an old one is
      // still good for the session it set up, so that keep-alives and
      // TEARDOWN an hour in do not fail.
      const id = request.headers.get("Session")?.split(";")[0]?.trim();
      const ongoing = !result.ok && result.stale && id !== undefined &&
        this.#sessions.has(id);
      if (!result.ok && !ongoing) {
        return {
          response: reply(
            401,
            this.#auth.challenge(nowMs, result.stale).map((
              value,
            ): [string, string] => ["WWW-Authenticate", value]),
          ),
        };
      }
    }
    const sessionHeader = request.headers.get("Session");
    const sessionId = sessionHeader === undefined
      ? undefined
      : sessionHeader.split(";")[0]!.trim();
    const session = sessionId === undefined
      ? undefined
      : this.#sessions.get(sessionId);
    if (sessionId !== undefined && session === undefined) {
      return fail(454, `no session ${sessionId.slice(0, 40)}; SETUP again`);
    }
    if (session !== undefined) session.lastSeenMs = nowMs;
    const sessionLine = (s: RtspSession): [string, string] => [
      "Session",
      `${s.id};timeout=${Math.floor(this.#timeoutMs / 1000)}`,
    ];

    switch (method) {
      case "OPTIONS":
        return {
          response: reply(200, [
            ["Public", RTSP_METHODS.join(", ")],
            ...(session ? [sessionLine(session)] : []),
          ]),
        };
      case "GET_PARAMETER":
      case "SET_PARAMETER": {
        if (method === "SET_PARAMETER" && request.body.length > 0) {
          return fail(451, "this server has no parameters to set");
        }
        return {
          response: reply(200, session ? [sessionLine(session)] : []),
        };
      }
      case "DESCRIBE": {
        const target = parseTarget(request.uri);
        if (typeof target === "string") return fail(400, target);
        const stream = this.#host.resolve(target.path);
        if (stream === undefined || target.track) {
          return fail(404, notFound(target.path));
        }
        const origin = connection.local.hostname;
        const framerate = this.#host.framerate?.(stream);
        const sdp = writeSdp({
          ...(framerate !== undefined && framerate > 0 && { framerate }),
          address: origin.includes(":") ? "::" : "0.0.0.0",
          port: 0,
          origin,
          sessionName: `${this.#serverName} ${target.path || "live"}`,
          sessionId: Math.floor(nowMs) % 1e9,
          sessionAttributes: ["control:*", "range:npt=0-"],
          mediaAttributes: [`control:${TRACK_CONTROL}`],
        });
        return {
          response: reply(200, [
            ["Content-Base", `${target.base}/`],
            ["Content-Type", "application/sdp"],
          ], sdp),
        };
      }
      case "SETUP":
        return this.#setup(nowMs, request, connection, session, reply, fail);
      case "PLAY": {
        if (session === undefined) {
          return fail(455, "PLAY needs the Session that SETUP gave");
        }
        const wasReady = session.state === "ready";
        session.state = "playing";
        const info = this.#host.playInfo(session.stream, nowMs);
        return {
          response: reply(200, [
            sessionLine(session),
            ["Range", "npt=0.000-"],
            [
              "RTP-Info",
              `url=${session.trackUrl};seq=${info.sequence & 0xffff};rtptime=${
                info.timestamp >>> 0
              }`,
            ],
          ]),
          ...(wasReady && { effect: { type: "play", session } }),
        };
      }
      case "PAUSE": {
        if (session === undefined) {
          return fail(455, "PAUSE needs the Session that SETUP gave");
        }
        const wasPlaying = session.state === "playing";
        session.state = "ready";
        return {
          response: reply(200, [sessionLine(session)]),
          ...(wasPlaying && { effect: { type: "pause", session } }),
        };
      }
      case "TEARDOWN": {
        if (session === undefined) {
          return fail(455, "TEARDOWN needs the Session that SETUP gave");
        }
        this.#remove(session);
        return {
          response: reply(200, [["Session", session.id]]),
          effect: { type: "teardown", session },
        };
      }
    }
    return fail(501, `${method} is not implemented`);
  }

  #setup(
    nowMs: number,
    request: RtspRequest,
    connection: RtspConnectionInfo,
    session: Session | undefined,
    reply: (
      status: number,
      headers?: [string, string][],
      body?: string,
    ) => RtspResponseInit,
    fail: (status: number, why: string) => HandledRequest,
  ): HandledRequest {
    const target = parseTarget(request.uri);
    if (typeof target === "string") return fail(400, target);
    const stream = this.#host.resolve(target.path);
    if (stream === undefined) return fail(404, notFound(target.path));
    const header = request.headers.get("Transport");
    if (header === undefined) {
      return fail(461, "SETUP needs a Transport header");
    }
    const choice = chooseTransport(header, {
      udp: this.#serverPort !== undefined,
      tcp: this.#tcp,
      clientAddress: connection.remote.hostname,
    });
    if (typeof choice === "string") return fail(461, choice);
    if (session !== undefined) {
      if (session.state === "playing") {
        return fail(
          455,
          "cannot change the transport while playing; PAUSE first",
        );
      }
      if (session.stream !== stream) {
        return fail(
          459,
          "a session carries one stream; SETUP it without Session",
        );
      }
    } else if (this.#sessions.size >= this.#maxSessions) {
      return fail(
        503,
        `${this.#maxSessions} sessions are open, the most this server takes`,
      );
    }
    let transport: SessionTransport;
    if (choice.kind === "udp") {
      const host = connection.remote.hostname;
      transport = {
        kind: "udp",
        rtp: { hostname: host, port: choice.clientPort[0] },
        rtcp: { hostname: host, port: choice.clientPort[1] },
      };
    } else {
      const channels = this.#channels(connection.id, choice.channels, session);
      if (channels === undefined) {
        return fail(461, "no interleaved channels are free on this connection");
      }
      transport = {
        kind: "interleaved",
        connectionId: connection.id,
        channels,
      };
    }
    let id = session?.id;
    if (session !== undefined) {
      this.#unindex(session);
      session.transport = transport;
    } else {
      do id = this.#randomId(); while (this.#sessions.has(id));
      session = {
        id,
        stream,
        trackUrl: `${target.base}/${TRACK_CONTROL}`,
        connectionId: connection.id,
        state: "ready",
        transport,
        lastSeenMs: nowMs,
      };
      this.#sessions.set(id, session);
    }
    this.#index(session);
    const transportLine = transport.kind === "udp"
      ? formatTransport({
        kind: "udp",
        clientPort: [transport.rtp.port, transport.rtcp.port],
        serverPort: this.#serverPort!,
      })
      : formatTransport({ kind: "interleaved", channels: transport.channels });
    return {
      response: reply(200, [
        ["Transport", transportLine],
        ["Session", `${id};timeout=${Math.floor(this.#timeoutMs / 1000)}`],
      ]),
      effect: { type: "setup", session },
    };
  }

  /** The channels asked for if free on the connection, else the lowest free pair. */
  #channels(
    connectionId: number,
    asked: readonly [number, number] | undefined,
    except: Session | undefined,
  ): readonly [number, number] | undefined {
    const used = new Set<number>();
    for (const s of this.#sessions.values()) {
      if (
        s !== except && s.transport.kind === "interleaved" &&
        s.transport.connectionId === connectionId
      ) {
        used.add(s.transport.channels[0]);
        used.add(s.transport.channels[1]);
      }
    }
    if (asked !== undefined && !used.has(asked[0]) && !used.has(asked[1])) {
      return asked;
    }
    for (let c = 0; c < 255; c += 2) {
      if (!used.has(c) && !used.has(c + 1)) return [c, c + 1];
    }
    return undefined;
  }

  /**
   * Ends the sessions that have timed out: any that nothing named for
   * `sessionTimeoutMs`, except playing interleaved ones, which live as
   * long as their connection.
   *
   * @param nowMs The time.
   * @returns The sessions that ended.
   */
  expire(nowMs: number): RtspSession[] {
    const ended: RtspSession[] = [];
    for (const session of this.#sessions.values()) {
      if (
        session.state === "playing" && session.transport.kind === "interleaved"
      ) continue;
      if (nowMs - session.lastSeenMs >= this.#timeoutMs) {
        this.#remove(session);
        ended.push(session);
      }
    }
    return ended;
  }

  /**
   * When the next session may time out, or `undefined` when none can.
   *
   * @returns A time on the clock `handle` is given.
   */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const session of this.#sessions.values()) {
      if (
        session.state === "playing" && session.transport.kind === "interleaved"
      ) continue;
      const at = session.lastSeenMs + this.#timeoutMs;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  /**
   * Ends the sessions of a connection that closed: those it set up, and
   * those that travel in it. A UDP session could outlive its connection
   * (RFC 2326 allows it), but players hold the connection for as long as
   * they play, and a player that died without TEARDOWN should not be sent
   * frames until its session times out.
   *
   * @param connectionId The connection.
   * @returns The sessions that ended.
   */
  dropConnection(connectionId: number): RtspSession[] {
    const ended: RtspSession[] = [];
    for (const session of this.#sessions.values()) {
      if (
        session.connectionId === connectionId ||
        (session.transport.kind === "interleaved" &&
          session.transport.connectionId === connectionId)
      ) {
        this.#remove(session);
        ended.push(session);
      }
    }
    return ended;
  }

  /**
   * Ends every session, as the server closes.
   *
   * @returns The sessions that ended.
   */
  clear(): RtspSession[] {
    const all = [...this.#sessions.values()];
    this.#sessions.clear();
    this.#byEndpoint.clear();
    return all;
  }

  #remove(session: Session): void {
    this.#sessions.delete(session.id);
    this.#unindex(session);
  }

  #index(session: Session): void {
    if (session.transport.kind !== "udp") return;
    this.#byEndpoint.set(endpointKey(session.transport.rtp), session);
    this.#byEndpoint.set(endpointKey(session.transport.rtcp), session);
  }

  #unindex(session: Session): void {
    if (session.transport.kind !== "udp") return;
    for (const endpoint of [session.transport.rtp, session.transport.rtcp]) {
      const key = endpointKey(endpoint);
      if (this.#byEndpoint.get(key) === session) this.#byEndpoint.delete(key);
    }
  }
}

function notFound(path: string): string {
  return `no stream "${
    path.slice(0, 80)
  }"; try /live, or /HOST:PORT of a sender that is streaming`;
}
