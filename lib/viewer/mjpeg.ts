/**
 * MJPEG over HTTP: a `multipart/x-mixed-replace` body in which each part is
 * one image. Browsers show it in an `<img>` and replace the picture with
 * each part.
 *
 * ```text
 * --udpimg-frame\r\n                      first part only
 * Content-Type: image/jpeg\r\n
 * Content-Length: 112525\r\n
 * \r\n
 * <112525 bytes of JPEG>
 * \r\n--udpimg-frame\r\n                  right after each image
 * Content-Type: image/jpeg\r\n
 * ...
 * ```
 *
 * The delimiter follows each image at once, rather than preceding the next,
 * because a browser shows a part only when it sees the delimiter that ends
 * it. See {@link https://www.rfc-editor.org/rfc/rfc2046#section-5.1.1 | RFC 2046 section 5.1.1}.
 *
 * The viewer's `/wall.mjpg` is the same body with one more header per part,
 * the sender of that image; the parts of all senders take turns in one
 * stream, and its reader (the wall page) cuts them by `Content-Length`:
 *
 * ```text
 * Content-Type: image/jpeg\r\n
 * Content-Length: 48210\r\n
 * X-Sender: 127.0.0.1:50000\r\n
 * \r\n
 * ```
 *
 * @module
 */

/** The boundary used by the viewer's `/stream.mjpg`. */
export const MJPEG_BOUNDARY = "udpimg-frame";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The `Content-Type` of an MJPEG stream.
 *
 * @param boundary The multipart boundary.
 * @returns The media type with its boundary parameter.
 *
 * @example Usage
 * ```ts
 * import { mjpegContentType } from "./mjpeg.ts";
 * console.log(mjpegContentType()); // "multipart/x-mixed-replace; boundary=udpimg-frame"
 * ```
 */
export function mjpegContentType(boundary: string = MJPEG_BOUNDARY): string {
  return `multipart/x-mixed-replace; boundary=${boundary}`;
}

/** Options for {@linkcode encodePartHead}. */
export interface PartHeadOptions {
  /**
   * Whether this is the first part of the stream, which must open with the
   * boundary line.
   *
   * @default {false}
   */
  first?: boolean;
  /**
   * The multipart boundary.
   *
   * @default {"udpimg-frame"}
   */
  boundary?: string;
  /**
   * More part headers, such as `X-Sender` in the viewer's `/wall.mjpg`.
   * Names and values must not contain CR or LF.
   */
  headers?: Readonly<Record<string, string>>;
}

/**
 * The bytes that go before an image in the stream: the boundary line for
 * the first part, then the part's headers and an empty line.
 *
 * @param contentType The image's media type, such as `image/jpeg`.
 * @param byteLength The image's length in bytes.
 * @param options Whether it is the first part, and the boundary.
 * @returns The encoded head.
 *
 * @example Usage
 * ```ts
 * import { encodePartHead } from "./mjpeg.ts";
 * const head = encodePartHead("image/jpeg", 1234, { first: true });
 * console.log(new TextDecoder().decode(head).split("\r\n")[0]); // "--udpimg-frame"
 * ```
 */
export function encodePartHead(
  contentType: string,
  byteLength: number,
  options: PartHeadOptions = {},
): Uint8Array {
  const { first = false, boundary = MJPEG_BOUNDARY, headers = {} } = options;
  if (!Number.isSafeInteger(byteLength) || byteLength < 0) {
    throw new RangeError(
      `Cannot encode part head: byteLength must be a non-negative integer, got ${byteLength}`,
    );
  }
  const open = first ? `--${boundary}\r\n` : "";
  let extra = "";
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n:]/.test(name) || /[\r\n]/.test(value)) {
      throw new TypeError(
        `Cannot encode part head: header ${
          JSON.stringify(name)
        } must have no line break, and no colon in its name`,
      );
    }
    extra += `${name}: ${value}\r\n`;
  }
  return encoder.encode(
    `${open}Content-Type: ${contentType}\r\nContent-Length: ${byteLength}\r\n${extra}\r\n`,
  );
}

/**
 * The bytes that go right after each image: the delimiter that ends it and
 * opens the next part.
 *
 * @param boundary The multipart boundary.
 * @returns The encoded delimiter line.
 *
 * @example Usage
 * ```ts
 * import { encodePartTail } from "./mjpeg.ts";
 * console.log(JSON.stringify(new TextDecoder().decode(encodePartTail()))); // "\r\n--udpimg-frame\r\n"
 * ```
 */
export function encodePartTail(boundary: string = MJPEG_BOUNDARY): Uint8Array {
  return encoder.encode(`\r\n--${boundary}\r\n`);
}

/** One part read by {@linkcode readMjpegParts}. */
export interface MjpegPart {
  /** The part's `Content-Type` header, or `""` when absent. */
  contentType: string;
  /** The part's `Content-Length` header, or `undefined` when absent. */
  contentLength: number | undefined;
  /** All of the part's headers, by lower-case name. */
  headers: Record<string, string>;
  /** The part's body. */
  bytes: Uint8Array;
}

/** Options for {@linkcode readMjpegParts}. */
export interface ReadMjpegOptions {
  /**
   * The multipart boundary, as in the response's `Content-Type`.
   *
   * @default {"udpimg-frame"}
   */
  boundary?: string;
  /**
   * The largest part head or body to accept, in bytes.
   *
   * @default {67108864}
   */
  maxPartBytes?: number;
}

/** A growable byte buffer that parts are cut from. */
class ByteQueue {
  #buffer = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;

  get length(): number {
    return this.#end - this.#start;
  }

  view(): Uint8Array {
    return this.#buffer.subarray(this.#start, this.#end);
  }

  push(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buffer.length) {
      const needed = this.length + chunk.length;
      const target = needed > this.#buffer.length / 2
        ? new Uint8Array(Math.max(needed * 2, this.#buffer.length))
        : this.#buffer;
      target.set(this.view());
      this.#buffer = target;
      this.#end -= this.#start;
      this.#start = 0;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  take(count: number): Uint8Array {
    const taken = this.#buffer.slice(this.#start, this.#start + count);
    this.#start += count;
    return taken;
  }

  skip(count: number): void {
    this.#start += count;
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0];
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    if (haystack[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

const CRLF_CRLF = encoder.encode("\r\n\r\n");

/**
 * One search for `needle` in a queue that grows between calls: each call
 * looks only at bytes that earlier calls could not rule out, so a part
 * that arrives in many reads is scanned once, not once a read.
 */
class Search {
  readonly #needle: Uint8Array;
  readonly #what: string;
  #resume = -1;

  constructor(needle: Uint8Array, what: string) {
    this.#needle = needle;
    this.#what = what;
  }

  /** Starts the search over, once the queue has moved past what it found. */
  reset(): void {
    this.#resume = -1;
  }

  /**
   * Where the needle starts in `view` at or after `from`, or -1 while it
   * may still come. Throws once it is sure to start more than `limit`
   * bytes after `from`: when found there, or when not found in a view so
   * long that it cannot start within the limit. So the verdict does not
   * depend on how the body was cut into reads.
   */
  find(view: Uint8Array, from: number, limit: number): number {
    const needle = this.#needle;
    const at = indexOf(view, needle, Math.max(from, this.#resume));
    const beyond = at >= 0
      ? at - from > limit
      : view.length - from - (needle.length - 1) > limit;
    if (beyond) throw new RangeError(`Cannot read MJPEG: ${this.#what}`);
    // Found, it is found again at once, until the part moves on.
    this.#resume = at >= 0 ? at : view.length - (needle.length - 1);
    return at;
  }
}

/**
 * Reads the parts of a `multipart/x-mixed-replace` body, such as the
 * viewer's `/stream.mjpg`. A part with a `Content-Length` is read by its
 * length; one without ends at the next delimiter.
 *
 * @param body The response body.
 * @param options The boundary and a size limit.
 * @returns The parts, as they arrive.
 *
 * @example Reading the first frame of a viewer's stream
 * ```ts ignore
 * import { readMjpegParts } from "./mjpeg.ts";
 * const response = await fetch("http://127.0.0.1:8080/stream.mjpg");
 * for await (const part of readMjpegParts(response.body!)) {
 *   console.log(part.contentType, part.bytes.length);
 *   break;
 * }
 * ```
 */
export async function* readMjpegParts(
  body: ReadableStream<Uint8Array>,
  options: ReadMjpegOptions = {},
): AsyncGenerator<MjpegPart, void, undefined> {
  const { boundary = MJPEG_BOUNDARY, maxPartBytes = 64 * 1024 * 1024 } =
    options;
  const openLine = new Search(
    encoder.encode(`--${boundary}`),
    `no boundary in the first ${maxPartBytes} bytes`,
  );
  const headEnd = new Search(
    CRLF_CRLF,
    `a part head runs past ${maxPartBytes} bytes without its blank line`,
  );
  const delimiter = new Search(
    encoder.encode(`\r\n--${boundary}`),
    `part without Content-Length exceeds ${maxPartBytes} bytes`,
  );
  const queue = new ByteQueue();
  let head:
    | {
      contentType: string;
      contentLength: number | undefined;
      headers: Record<string, string>;
    }
    | null = null;
  const reader = body.getReader();
  try {
    for (;;) {
      // Parse as much as the queue holds before reading more.
      for (;;) {
        const view = queue.view();
        if (head === null) {
          const start = openLine.find(view, 0, maxPartBytes);
          if (start < 0) break;
          // A head that never ends must not grow the queue without bound.
          const end = headEnd.find(view, start, maxPartBytes);
          if (end < 0) break;
          openLine.reset();
          headEnd.reset();
          const lines = decoder.decode(view.subarray(start, end)).split("\r\n");
          let contentType = "";
          let contentLength: number | undefined;
          const headers: Record<string, string> = {};
          for (const line of lines.slice(1)) {
            const colon = line.indexOf(":");
            if (colon < 0) continue;
            const name = line.slice(0, colon).trim().toLowerCase();
            const value = line.slice(colon + 1).trim();
            headers[name] = value;
            if (name === "content-type") contentType = value;
            if (name === "content-length") contentLength = Number(value);
          }
          if (
            contentLength !== undefined &&
            !(Number.isSafeInteger(contentLength) && contentLength >= 0 &&
              contentLength <= maxPartBytes)
          ) {
            throw new RangeError(
              `Cannot read MJPEG: bad Content-Length ${contentLength}, limit is ${maxPartBytes}`,
            );
          }
          queue.skip(end + CRLF_CRLF.length);
          head = { contentType, contentLength, headers };
          continue;
        }
        let bodyLength = head.contentLength;
        if (bodyLength === undefined) {
          const at = delimiter.find(view, 0, maxPartBytes);
          if (at < 0) break;
          delimiter.reset();
          bodyLength = at;
        }
        if (view.length < bodyLength) break;
        const bytes = queue.take(bodyLength);
        const part = { ...head, bytes };
        head = null;
        yield part;
      }
      const { done, value } = await reader.read();
      if (done) return;
      queue.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}
