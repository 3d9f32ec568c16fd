/**
 * RTSP 1.0 messages ([RFC 2326 §4–§7](https://www.rfc-editor.org/rfc/rfc2326#section-4)):
 * an incremental reader for what arrives on an RTSP connection (requests,
 * responses and interleaved binary data) with limits on what a peer may
 * send, and writers for requests, responses and interleaved frames.
 *
 * A request or response is text lines ended by CRLF (a bare LF is
 * accepted), then an empty line, then `Content-Length` bytes of body:
 *
 * ```text
 * DESCRIBE rtsp://127.0.0.1:8554/live RTSP/1.0\r\n      request line
 * CSeq: 2\r\n                                            headers
 * Accept: application/sdp\r\n
 * \r\n                                                   empty line
 *                                                        no body
 * RTSP/1.0 200 OK\r\n                                    status line
 * CSeq: 2\r\n
 * Content-Type: application/sdp\r\n
 * Content-Length: 187\r\n
 * \r\n
 * v=0\r\n ...                                            187 bytes of body
 * ```
 *
 * Between messages, RTP and RTCP may travel on the same TCP connection as
 * interleaved frames ([§10.12](https://www.rfc-editor.org/rfc/rfc2326#section-10.12)):
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  '$' = 0x24   |    channel    |     length (big-endian)       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |            one RTP or RTCP packet, length bytes ...           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */

/** The reason phrases of the RTSP status codes this module writes. */
export const RTSP_STATUS_TEXT: Readonly<Record<number, string>> = {
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Request Entity Too Large",
  414: "Request-URI Too Large",
  451: "Parameter Not Understood",
  453: "Not Enough Bandwidth",
  454: "Session Not Found",
  455: "Method Not Valid in This State",
  459: "Aggregate Operation Not Allowed",
  461: "Unsupported Transport",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "RTSP Version Not Supported",
  551: "Option not supported",
};

/**
 * A message's headers, in order, looked up without regard to case. A
 * header given twice keeps both values (a server may offer Digest and
 * Basic in two `WWW-Authenticate` headers).
 *
 * @example Looking up a header
 * ```ts
 * import { RtspHeaders } from "./message.ts";
 * const headers = new RtspHeaders([["CSeq", "3"], ["session", "abc"]]);
 * console.log(headers.get("cseq"), headers.get("Session")); // "3" "abc"
 * ```
 */
export class RtspHeaders {
  readonly #entries: [string, string][];

  /**
   * Holds the given headers.
   *
   * @param entries Name and value pairs, in order.
   */
  constructor(entries: Iterable<readonly [string, string]> = []) {
    this.#entries = [];
    for (const [name, value] of entries) this.#entries.push([name, value]);
  }

  /**
   * The first value of a header.
   *
   * @param name The header's name, in any case.
   * @returns Its value, or `undefined` when absent.
   */
  get(name: string): string | undefined {
    const key = name.toLowerCase();
    for (const [n, v] of this.#entries) if (n.toLowerCase() === key) return v;
    return undefined;
  }

  /**
   * Every value of a header, in order.
   *
   * @param name The header's name, in any case.
   * @returns Its values, empty when absent.
   */
  getAll(name: string): string[] {
    const key = name.toLowerCase();
    return this.#entries.filter(([n]) => n.toLowerCase() === key).map((
      [, v],
    ) => v);
  }

  /** How many header lines there are. */
  get size(): number {
    return this.#entries.length;
  }

  /** The name and value pairs, in order. */
  entries(): IterableIterator<[string, string]> {
    return this.#entries[Symbol.iterator]();
  }
}

/** A request, as read by {@linkcode RtspMessageReader}. */
export interface RtspRequest {
  /** The method, such as `DESCRIBE`, as sent (RTSP methods are case-sensitive). */
  readonly method: string;
  /** The Request-URI: an absolute `rtsp://` URL, or `*`. */
  readonly uri: string;
  /** The headers. */
  readonly headers: RtspHeaders;
  /** The body; empty without `Content-Length`. */
  readonly body: Uint8Array;
}

/** A response, as read by {@linkcode RtspMessageReader}. */
export interface RtspResponse {
  /** The status code. */
  readonly status: number;
  /** The reason phrase, as sent. */
  readonly reason: string;
  /** The headers. */
  readonly headers: RtspHeaders;
  /** The body; empty without `Content-Length`. */
  readonly body: Uint8Array;
}

/** What {@linkcode RtspMessageReader.next} hands out. */
export type RtspReadItem =
  | { readonly type: "request"; readonly request: RtspRequest }
  | { readonly type: "response"; readonly response: RtspResponse }
  | {
    readonly type: "interleaved";
    /** The channel byte. */
    readonly channel: number;
    /** The packet: a view that stays valid until the next `push`. */
    readonly data: Uint8Array;
  }
  | {
    readonly type: "error";
    /** The status code to answer with: 400, 413, 414 or 505. */
    readonly status: number;
    /** What was wrong, in one line. */
    readonly reason: string;
    /** The request's CSeq, when it could be read, to echo in the answer. */
    readonly cseq: string | undefined;
    /**
     * Whether the reader has lost the message boundaries: answer, then
     * close the connection.
     */
    readonly fatal: boolean;
  };

/** Options for {@linkcode RtspMessageReader}. */
export interface RtspMessageReaderOptions {
  /** Whether the peer sends requests (a server reads) or responses (a client reads). @default {"request"} */
  kind?: "request" | "response";
  /**
   * The largest start line and headers, in bytes, blank line included.
   *
   * @default {8192}
   */
  maxHeaderBytes?: number;
  /** The longest Request-URI, in bytes. @default {2048} */
  maxUriBytes?: number;
  /** The largest body that `Content-Length` may announce. @default {65536} */
  maxBodyBytes?: number;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Reads RTSP messages and interleaved frames from the bytes of a
 * connection, as they arrive in any pieces. Memory stays below the header
 * and body limits whatever the peer sends: a header past its limit, a body
 * past its limit or a message it cannot frame ends in a fatal error item.
 *
 * @example Reading a request cut in two
 * ```ts
 * import { RtspMessageReader } from "./message.ts";
 * const reader = new RtspMessageReader();
 * const text = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n";
 * reader.push(new TextEncoder().encode(text.slice(0, 10)));
 * console.log(reader.next()); // undefined
 * reader.push(new TextEncoder().encode(text.slice(10)));
 * const item = reader.next();
 * console.log(item?.type === "request" && item.request.method); // "OPTIONS"
 * ```
 */
export class RtspMessageReader {
  readonly #kind: "request" | "response";
  readonly #maxHeaderBytes: number;
  readonly #maxUriBytes: number;
  readonly #maxBodyBytes: number;
  #buffer: Uint8Array;
  #start = 0;
  #end = 0;
  #failed = false;

  /**
   * Makes a reader with nothing read yet.
   *
   * @param options What the peer sends, and the limits.
   */
  constructor(options: RtspMessageReaderOptions = {}) {
    const {
      kind = "request",
      maxHeaderBytes = 8192,
      maxUriBytes = 2048,
      maxBodyBytes = 65536,
    } = options;
    for (
      const [name, value] of [
        ["maxHeaderBytes", maxHeaderBytes],
        ["maxUriBytes", maxUriBytes],
        ["maxBodyBytes", maxBodyBytes],
      ] as const
    ) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(
          `Cannot make an RTSP reader: ${name} must be a non-negative integer, got ${value}`,
        );
      }
    }
    this.#kind = kind;
    this.#maxHeaderBytes = maxHeaderBytes;
    this.#maxUriBytes = maxUriBytes;
    this.#maxBodyBytes = maxBodyBytes;
    this.#buffer = new Uint8Array(Math.min(16384, maxHeaderBytes + 4));
  }

  /**
   * Bytes held that do not yet make a whole message: a peer that keeps
   * this above zero without finishing is slow, or a slowloris.
   */
  get pendingBytes(): number {
    return this.#end - this.#start;
  }

  /**
   * Adds bytes from the connection. They are copied; the chunk may be
   * reused at once. After a fatal error item, bytes are ignored.
   *
   * @param chunk What the connection delivered.
   */
  push(chunk: Uint8Array): void {
    if (this.#failed || chunk.length === 0) return;
    if (this.#end + chunk.length > this.#buffer.length) {
      const held = this.#end - this.#start;
      const needed = held + chunk.length;
      if (needed > this.#buffer.length) {
        const target = new Uint8Array(
          Math.max(needed, this.#buffer.length * 2),
        );
        target.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = target;
      } else {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      }
      this.#start = 0;
      this.#end = held;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /**
   * The next whole item, or `undefined` until more bytes arrive.
   *
   * @returns A request, a response, an interleaved frame or an error.
   */
  next(): RtspReadItem | undefined {
    if (this.#failed) return undefined;
    const buffer = this.#buffer;
    // Empty lines between messages are allowed.
    while (
      this.#start < this.#end &&
      (buffer[this.#start] === 0x0d || buffer[this.#start] === 0x0a)
    ) {
      this.#start++;
    }
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      return undefined;
    }
    if (buffer[this.#start] === 0x24) return this.#interleaved();
    return this.#message();
  }

  #interleaved(): RtspReadItem | undefined {
    if (this.#end - this.#start < 4) return undefined;
    const at = this.#start;
    const length = (this.#buffer[at + 2]! << 8) | this.#buffer[at + 3]!;
    if (this.#end - at < 4 + length) return undefined;
    this.#start = at + 4 + length;
    return {
      type: "interleaved",
      channel: this.#buffer[at + 1]!,
      data: this.#buffer.subarray(at + 4, at + 4 + length),
    };
  }

  #message(): RtspReadItem | undefined {
    const buffer = this.#buffer;
    const start = this.#start;
    const limit = Math.min(this.#end, start + this.#maxHeaderBytes);
    let headEnd = -1;
    let bodyStart = -1;
    for (let i = start; i < limit; i++) {
      if (buffer[i] !== 0x0a) continue;
      if (buffer[i + 1] === 0x0a && i + 1 < limit) {
        headEnd = i;
        bodyStart = i + 2;
        break;
      }
      if (buffer[i + 1] === 0x0d && buffer[i + 2] === 0x0a && i + 2 < limit) {
        headEnd = i;
        bodyStart = i + 3;
        break;
      }
    }
    if (headEnd < 0) {
      if (this.#end - start >= this.#maxHeaderBytes) {
        return this.#fail(
          400,
          `the request line and headers pass ${this.#maxHeaderBytes} bytes`,
          undefined,
        );
      }
      return undefined;
    }
    // The head ends before the newline of its last line, so a CR may
    // still close it.
    const head = decoder.decode(buffer.subarray(start, headEnd));
    const lines = (head.endsWith("\r") ? head.slice(0, -1) : head).split(
      /\r?\n/,
    );
    const startLine = lines[0] ?? "";
    const entries: [string, string][] = [];
    let malformed: string | undefined;
    // A bare CR or another control character would end up in what is
    // echoed back (CSeq, Content-Base) and split a response line.
    if (CONTROL.test(startLine)) malformed = "a control character in line 1";
    for (let l = 1; l < lines.length; l++) {
      const line = lines[l]!;
      if (CONTROL.test(line)) {
        malformed ??= `a control character in line ${l + 1}`;
        continue;
      }
      if ((line.startsWith(" ") || line.startsWith("\t")) && entries.length) {
        // An obsolete folded line continues the previous header.
        entries[entries.length - 1]![1] += " " + line.trim();
        continue;
      }
      const colon = line.indexOf(":");
      const name = colon > 0 ? line.slice(0, colon).trim() : "";
      if (!TOKEN.test(name)) {
        malformed ??= `header line ${l + 1} is not "Name: value"`;
        continue;
      }
      entries.push([name, line.slice(colon + 1).trim()]);
    }
    const headers = new RtspHeaders(entries);
    const cseq = headers.get("CSeq");
    const lengthText = headers.get("Content-Length");
    let bodyLength = 0;
    if (lengthText !== undefined) {
      if (!/^\d{1,15}$/.test(lengthText)) {
        return this.#fail(400, `Content-Length "${lengthText}"`, cseq);
      }
      bodyLength = Number(lengthText);
      if (bodyLength > this.#maxBodyBytes) {
        return this.#fail(
          413,
          `a ${bodyLength}-byte body, past the limit of ${this.#maxBodyBytes}`,
          cseq,
        );
      }
    }
    if (this.#end - bodyStart < bodyLength) return undefined;
    const body = buffer.slice(bodyStart, bodyStart + bodyLength);
    this.#start = bodyStart + bodyLength;
    if (malformed !== undefined) return error(400, malformed, cseq);
    return this.#kind === "request"
      ? this.#request(startLine, headers, body, cseq)
      : this.#response(startLine, headers, body, cseq);
  }

  #request(
    line: string,
    headers: RtspHeaders,
    body: Uint8Array,
    cseq: string | undefined,
  ): RtspReadItem {
    const parts = line.split(" ");
    if (parts.length !== 3 || !TOKEN.test(parts[0]!) || parts[1] === "") {
      return error(
        400,
        `the request line "${clip(line)}" is not "METHOD URI RTSP/1.0"`,
        cseq,
      );
    }
    const [method, uri, version] = parts as [string, string, string];
    if (uri.length > this.#maxUriBytes) {
      return error(
        414,
        `a ${uri.length}-byte URI, past the limit of ${this.#maxUriBytes}`,
        cseq,
      );
    }
    if (version !== "RTSP/1.0") {
      return error(
        /^[A-Z]+\/\d+\.\d+$/.test(version) ? 505 : 400,
        `version "${clip(version)}"; this server speaks RTSP/1.0`,
        cseq,
      );
    }
    if (cseq === undefined || !/^\d{1,10}$/.test(cseq)) {
      return error(
        400,
        cseq === undefined ? "no CSeq header" : `CSeq "${clip(cseq)}"`,
        cseq === undefined ? undefined : cseq,
      );
    }
    return { type: "request", request: { method, uri, headers, body } };
  }

  #response(
    line: string,
    headers: RtspHeaders,
    body: Uint8Array,
    cseq: string | undefined,
  ): RtspReadItem {
    const match = /^RTSP\/1\.0 (\d{3})(?: (.*))?$/.exec(line);
    if (match === null) {
      return error(400, `the status line "${clip(line)}"`, cseq);
    }
    return {
      type: "response",
      response: {
        status: Number(match[1]),
        reason: match[2] ?? "",
        headers,
        body,
      },
    };
  }

  #fail(
    status: number,
    reason: string,
    cseq: string | undefined,
  ): RtspReadItem {
    this.#failed = true;
    this.#start = this.#end = 0;
    this.#buffer = new Uint8Array(0);
    return { type: "error", status, reason, cseq, fatal: true };
  }
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

function error(
  status: number,
  reason: string,
  cseq: string | undefined,
): RtspReadItem {
  return { type: "error", status, reason, cseq, fatal: false };
}

function clip(text: string): string {
  // deno-lint-ignore no-control-regex
  const printable = text.replace(/[\x00-\x1f\x7f]/g, "?");
  return printable.length > 60 ? `${printable.slice(0, 60)}…` : printable;
}

/** What {@linkcode writeRtspResponse} writes. */
export interface RtspResponseInit {
  /** The status code. */
  status: number;
  /** The reason phrase. @default {the standard one for the code} */
  reason?: string;
  /** Headers, in order; `Content-Length` is added for a body. */
  headers?: Iterable<readonly [string, string]>;
  /** The body. */
  body?: string | Uint8Array;
}

/** What {@linkcode writeRtspRequest} writes. */
export interface RtspRequestInit {
  /** The method. */
  method: string;
  /** The Request-URI. */
  uri: string;
  /** Headers, in order, `CSeq` among them; `Content-Length` is added for a body. */
  headers?: Iterable<readonly [string, string]>;
  /** The body. */
  body?: string | Uint8Array;
}

/**
 * Writes a response: the status line, the headers, `Content-Length` when
 * there is a body, the empty line and the body.
 *
 * @param response Status, headers and body.
 * @returns The bytes to send.
 * @throws {RangeError} For a status code that is not three digits.
 * @throws {TypeError} For a header that would break the message (a line
 * break in it).
 *
 * @example Answering OPTIONS
 * ```ts
 * import { writeRtspResponse } from "./message.ts";
 * const bytes = writeRtspResponse({
 *   status: 200,
 *   headers: [["CSeq", "1"], ["Public", "OPTIONS, DESCRIBE"]],
 * });
 * console.log(new TextDecoder().decode(bytes).split("\r\n")[0]); // "RTSP/1.0 200 OK"
 * ```
 */
export function writeRtspResponse(response: RtspResponseInit): Uint8Array {
  const { status } = response;
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new RangeError(
      `Cannot write an RTSP response: status must be three digits, got ${status}`,
    );
  }
  const reason = response.reason ?? RTSP_STATUS_TEXT[status] ?? "Unknown";
  return writeMessage(
    `RTSP/1.0 ${status} ${reason}`,
    response.headers,
    response.body,
  );
}

/** An item of {@linkcode RtspMessageReader.next} that says a message could not be read. */
export type RtspReadError = Extract<RtspReadItem, { type: "error" }>;

/**
 * The answer to a request that could not be read: the reader's status, the
 * request's CSeq when it could be read, and what was wrong as a one-line
 * body.
 *
 * @param error The reader's error item.
 * @param serverName The `Server` header. @default {"udpimg"}
 * @returns The response, for {@linkcode writeRtspResponse}.
 *
 * @example A body past the limit
 * ```ts
 * import { readErrorResponse } from "./message.ts";
 * const response = readErrorResponse({
 *   type: "error", status: 413, reason: "a 99999-byte body", cseq: "4", fatal: true,
 * });
 * console.log(response.status, response.body); // 413 "Cannot read the request: a 99999-byte body\r\n"
 * ```
 */
export function readErrorResponse(
  error: RtspReadError,
  serverName = "udpimg",
): RtspResponseInit {
  return {
    status: error.status,
    headers: [
      ...(error.cseq !== undefined ? [["CSeq", error.cseq] as const] : []),
      ["Server", serverName],
      ["Content-Type", "text/plain"],
    ],
    body: `Cannot read the request: ${error.reason}\r\n`,
  };
}

/**
 * Writes a request, as a client sends it.
 *
 * @param request Method, URI, headers and body.
 * @returns The bytes to send.
 * @throws {TypeError} For a method that is not a token, or a URI or
 * header with a space or line break where it would break the message.
 *
 * @example A DESCRIBE
 * ```ts
 * import { writeRtspRequest } from "./message.ts";
 * const bytes = writeRtspRequest({
 *   method: "DESCRIBE",
 *   uri: "rtsp://127.0.0.1:8554/live",
 *   headers: [["CSeq", "2"], ["Accept", "application/sdp"]],
 * });
 * console.log(new TextDecoder().decode(bytes).startsWith("DESCRIBE rtsp://")); // true
 * ```
 */
export function writeRtspRequest(request: RtspRequestInit): Uint8Array {
  if (!TOKEN.test(request.method)) {
    throw new TypeError(
      `Cannot write an RTSP request: the method "${request.method}" is not a token`,
    );
  }
  if (/[\s]/.test(request.uri) || request.uri === "") {
    throw new TypeError(
      `Cannot write an RTSP request: the URI "${request.uri}" is empty or has white space`,
    );
  }
  return writeMessage(
    `${request.method} ${request.uri} RTSP/1.0`,
    request.headers,
    request.body,
  );
}

function writeMessage(
  startLine: string,
  headers: Iterable<readonly [string, string]> = [],
  body: string | Uint8Array | undefined,
): Uint8Array {
  const bodyBytes = typeof body === "string" ? encoder.encode(body) : body;
  let head = startLine + "\r\n";
  for (const [name, value] of headers) {
    if (!TOKEN.test(name) || /[\r\n]/.test(value)) {
      throw new TypeError(
        `Cannot write an RTSP message: the header "${name}" has a bad name or a line break`,
      );
    }
    if (name.toLowerCase() === "content-length") continue;
    head += `${name}: ${value}\r\n`;
  }
  if (bodyBytes !== undefined && bodyBytes.length > 0) {
    head += `Content-Length: ${bodyBytes.length}\r\n`;
  }
  head += "\r\n";
  const headBytes = encoder.encode(head);
  if (bodyBytes === undefined || bodyBytes.length === 0) return headBytes;
  const bytes = new Uint8Array(headBytes.length + bodyBytes.length);
  bytes.set(headBytes);
  bytes.set(bodyBytes, headBytes.length);
  return bytes;
}

/** Bytes before each packet in an interleaved frame. */
export const INTERLEAVED_HEADER_BYTES = 4;

/**
 * Writes packets as interleaved frames on one channel, one after another
 * in one buffer, ready for a single write to the connection.
 *
 * @param channel The channel, 0 to 255.
 * @param packets RTP or RTCP packets, each at most 65535 bytes.
 * @returns The frames.
 * @throws {RangeError} For a channel past 255 or a packet past 65535 bytes.
 *
 * @example One packet on channel 0
 * ```ts
 * import { writeInterleaved } from "./message.ts";
 * const bytes = writeInterleaved(0, [new Uint8Array([1, 2, 3])]);
 * console.log([...bytes]); // [ 36, 0, 0, 3, 1, 2, 3 ]
 * ```
 */
export function writeInterleaved(
  channel: number,
  packets: readonly Uint8Array[],
): Uint8Array {
  if (!Number.isInteger(channel) || channel < 0 || channel > 255) {
    throw new RangeError(
      `Cannot interleave: the channel must be 0 to 255, got ${channel}`,
    );
  }
  let total = 0;
  for (const packet of packets) {
    if (packet.length > 0xffff) {
      throw new RangeError(
        `Cannot interleave: a packet has ${packet.length} bytes, past 65535`,
      );
    }
    total += INTERLEAVED_HEADER_BYTES + packet.length;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const packet of packets) {
    bytes[at] = 0x24;
    bytes[at + 1] = channel;
    bytes[at + 2] = packet.length >> 8;
    bytes[at + 3] = packet.length & 0xff;
    bytes.set(packet, at + INTERLEAVED_HEADER_BYTES);
    at += INTERLEAVED_HEADER_BYTES + packet.length;
  }
  return bytes;
}
