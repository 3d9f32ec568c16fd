/**
 * Fuzz targets of the viewer: `readMjpegParts` on mutated multipart
 * bodies, and `checkAccess` on random `Host`, `Cookie`, `Authorization`
 * and query strings.
 *
 * @module
 */

import {
  checkAccess,
  isLoopback,
  tokenCookie,
} from "../../../lib/viewer/access.ts";
import {
  encodePartHead,
  encodePartTail,
  type MjpegPart,
  readMjpegParts,
} from "../../../lib/viewer/mjpeg.ts";
import { mutate, randomDatagram } from "../mutate.ts";
import type { Prng } from "../prng.ts";
import {
  concatBytes,
  type FuzzDatagram,
  type FuzzTarget,
  invariant,
  param,
  sameBytes,
} from "../target.ts";
import { chunked, joined } from "./capture.ts";

const MAX_PART_SIZES = [64, 4096, 1 << 20, 64 * 1024 * 1024];
const encoder = new TextEncoder();

/** A ReadableStream of `chunks` that counts what its reader pulled. */
function countingStream(chunks: readonly Uint8Array[]): {
  stream: ReadableStream<Uint8Array>;
  pulled: () => number;
} {
  let next = 0;
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[next++];
      if (chunk === undefined) {
        controller.close();
        return;
      }
      pulled += chunk.length;
      // A copy: the reader may keep what it is given.
      controller.enqueue(chunk.slice());
    },
  }, { highWaterMark: 0 });
  return { stream, pulled: () => pulled };
}

interface ReadResult {
  parts: MjpegPart[];
  error: unknown;
}

async function readAll(
  chunks: readonly Uint8Array[],
  maxPartBytes: number,
): Promise<ReadResult> {
  const { stream, pulled } = countingStream(chunks);
  const largest = chunks.reduce((n, c) => Math.max(n, c.length), 0);
  // Between two parts the reader holds at most garbage before a boundary,
  // a head and a body, each within the limit, and what one read brought.
  const bound = 3 * (maxPartBytes + largest) + 256;
  const parts: MjpegPart[] = [];
  let since = 0;
  try {
    for await (const part of readMjpegParts(stream, { maxPartBytes })) {
      invariant(
        part.bytes.length <= maxPartBytes &&
          (part.contentLength === undefined ||
            part.contentLength === part.bytes.length),
        `a ${part.bytes.length}-byte part, Content-Length ${part.contentLength}, limit ${maxPartBytes}`,
      );
      parts.push(part);
      since = pulled();
    }
  } catch (error) {
    if (error instanceof Error && error.name === "InvariantError") throw error;
    // A malformed body is refused with one documented error, never another.
    invariant(
      error instanceof RangeError &&
        error.message.startsWith("Cannot read MJPEG: "),
      () =>
        `readMjpegParts threw ${
          error instanceof Error ? `${error.name}: ${error.message}` : error
        }`,
    );
    invariant(
      pulled() - since <= bound,
      `refused only after holding ${pulled() - since} bytes, bound ${bound}`,
    );
    return { parts, error };
  }
  invariant(
    pulled() - since <= bound,
    `held ${pulled() - since} bytes past its last part, bound ${bound}`,
  );
  return { parts, error: undefined };
}

function mjpegBody(
  rng: Prng,
  images: readonly Uint8Array[],
): { body: Uint8Array; clean: boolean; parts: number } {
  const clean = rng.chance(0.25);
  const pieces: Uint8Array[] = [];
  const count = 1 + rng.below(5);
  for (let n = 0; n < count; n++) {
    const image = rng.pick(images);
    const headers = rng.chance(0.5) ? { "X-Sender": `10.1.0.${n}:6000` } : {};
    let head = encodePartHead(
      rng.chance(0.2) ? "image/png" : "image/jpeg",
      image.length,
      {
        first: n === 0,
        headers,
      },
    );
    if (!clean && rng.chance(0.2)) {
      // No Content-Length: the body ends at the next delimiter.
      head = encoder.encode(
        `${
          n === 0 ? "--udpimg-frame\r\n" : ""
        }Content-Type: image/jpeg\r\n\r\n`,
      );
    }
    const tail = encodePartTail();
    if (clean) {
      pieces.push(head, image, tail);
    } else {
      const kind = rng.below(8);
      pieces.push(kind === 0 ? mutate(rng, head) : head);
      pieces.push(
        kind === 1 ? mutate(rng, image, { maxLength: 1 << 20 }) : image,
      );
      pieces.push(kind === 2 ? mutate(rng, tail) : tail);
      if (kind === 3) pieces.push(randomDatagram(rng, 2048));
      if (kind === 4) {
        pieces.push(
          encoder.encode("--udpimg-frame\r\nContent-Type: image/jpeg"),
        );
      }
    }
  }
  let body: Uint8Array = concatBytes(pieces);
  if (!clean && rng.chance(0.3)) {
    body = mutate(rng, body, { maxLength: 1 << 21 });
  }
  return { body, clean, parts: clean ? count : 0 };
}

/** `readMjpegParts` on multipart bodies. */
export const viewerMjpegTarget: FuzzTarget = {
  name: "viewer-mjpeg",
  about:
    "readMjpegParts on mutated multipart/x-mixed-replace bodies in chunks: bounded, one documented error, the same however cut",
  generate: (rng, corpus) => {
    const images = corpus.smallImages.filter((i) => i.bytes.length <= 16384)
      .map((i) => i.bytes);
    const { body, clean, parts } = mjpegBody(rng, images);
    return {
      datagrams: chunked(rng, body),
      params: {
        maxPartBytes: clean ? 64 * 1024 * 1024 : rng.pick(MAX_PART_SIZES),
        parts,
      },
    };
  },
  run: async (input) => {
    const maxPartBytes = param(input, "maxPartBytes", 64 * 1024 * 1024);
    const cut = await readAll(
      input.datagrams.map((d) => d.bytes),
      maxPartBytes,
    );
    const whole = await readAll([joined(input)], maxPartBytes);
    invariant(
      cut.parts.length === whole.parts.length &&
        cut.parts.every((part, i) => sameParts(part, whole.parts[i]!)) &&
        (cut.error === undefined) === (whole.error === undefined),
      () =>
        `cut into ${input.datagrams.length} chunks the body gives ${cut.parts.length} parts${
          cut.error ? " and an error" : ""
        }, whole ${whole.parts.length}${whole.error ? " and an error" : ""}`,
    );
    const parts = param(input, "parts", 0);
    if (parts > 0) {
      invariant(
        whole.error === undefined && whole.parts.length === parts,
        `a clean body of ${parts} parts gave ${whole.parts.length}${
          whole.error ? ` and ${whole.error}` : ""
        }`,
      );
    }
  },
};

function sameParts(a: MjpegPart, b: MjpegPart): boolean {
  return a.contentType === b.contentType &&
    a.contentLength === b.contentLength &&
    JSON.stringify(a.headers) === JSON.stringify(b.headers) &&
    sameBytes(a.bytes, b.bytes);
}

const TOKENS = ["s3cret-token", "Zx9_Q-7k.p~A2bC4dE6fG8", "t".repeat(256)];
const PORTS = [8080, 80, 1, 65535];
/**
 * Latin-1 text of `bytes`, as a server decodes a header (one character a
 * byte: TextDecoder's "latin1" is windows-1252), without what HTTP forbids.
 */
function headerText(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text.replace(/[\0\r\n]/g, "");
}

/** Percent-encodes a few characters of `text`, as a client may. */
function percentEncode(rng: Prng, text: string): string {
  let out = "";
  for (const char of text) {
    out += rng.chance(0.15)
      ? `%${
        char.charCodeAt(0).toString(16).padStart(2, "0").toUpperCase().slice(-2)
      }`
      : char;
  }
  return out;
}

function validHost(rng: Prng, port: number): string {
  const name = rng.pick([
    "127.0.0.1",
    "localhost",
    "127.1.2.3",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "LOCALHOST",
    "cam.example",
    "10.0.0.1",
  ]);
  return rng.chance(0.8) || port !== 80 ? `${name}:${port}` : name;
}

/** `checkAccess` on random Host, Cookie, Authorization and query strings. */
export const viewerAccessTarget: FuzzTarget = {
  name: "viewer-access",
  about:
    "checkAccess on mutated Host, Cookie, Authorization and query strings: no way in without the right host and token",
  generate: (rng) => {
    const port = rng.pick(PORTS);
    const tokenIndex = rng.below(TOKENS.length + 1);
    const token = TOKENS[tokenIndex] ?? "none-at-all";
    const texts = [
      validHost(rng, port),
      rng.pick([
        `udpimg_token_${port}=${token}`,
        `a=b; udpimg_token_${port}=${token}; c=d`,
        `udpimg_token_${port + 1}=${token}`,
        "",
      ]),
      rng.pick([`Bearer ${token}`, `bearer  ${token} `, "Basic abc", ""]),
      `${rng.pick(["/", "/index.html", "/stats", "/stream.mjpg", "//x"])}${
        rng.pick([
          `?token=${token}`,
          `?sender=10.1.0.1:6000&token=${token}`,
          `?token=x&token=${token}`,
          "?",
          "",
        ])
      }`,
    ];
    const datagrams: FuzzDatagram[] = texts.map((text, i) => {
      let mutated = text;
      if (i === 3 && rng.chance(0.3)) mutated = percentEncode(rng, mutated);
      let bytes: Uint8Array = encoder.encode(mutated);
      if (rng.chance(0.4)) bytes = mutate(rng, bytes, { maxLength: 2048 });
      return { from: 1, dtMs: 0, bytes };
    });
    return {
      datagrams,
      params: {
        port,
        tokenIndex,
        checkHost: rng.chance(0.7) ? 1 : 0,
        method: rng.below(3),
      },
    };
  },
  run: (input) => {
    const port = param(input, "port", 8080);
    const token = TOKENS[param(input, "tokenIndex", 0)];
    const checkHost = param(input, "checkHost", 1) === 1;
    const [host, cookie, authorization, target] = input.datagrams.map((d) =>
      headerText(d.bytes)
    );
    const headers = new Headers();
    for (
      const [name, value] of [["host", host], ["cookie", cookie], [
        "authorization",
        authorization,
      ]] as const
    ) {
      if (value !== undefined && value !== "") headers.set(name, value);
    }
    let request: Request;
    const path = target ?? "/";
    try {
      request = new Request(
        `http://127.0.0.1:${port}${path.startsWith("/") ? "" : "/"}${path}`,
        {
          method: ["GET", "HEAD", "POST"][param(input, "method", 0)]!,
          headers,
        },
      );
    } catch {
      return; // No HTTP server would hand over such a request.
    }
    const config = { port, checkHost, token };
    const response = checkAccess(request, config);
    if (response !== undefined && response.status !== 303) {
      invariant(
        [401, 403].includes(response.status),
        `status ${response.status}`,
      );
      return;
    }
    if (checkHost) {
      invariant(
        hostIsLoopback(host ?? "", port),
        `let in with Host ${JSON.stringify(host)} on port ${port}`,
      );
    }
    if (token !== undefined) {
      const url = new URL(request.url);
      invariant(
        url.searchParams.getAll("token").includes(token) ||
          (cookie ?? "").includes(token) ||
          (authorization ?? "").includes(token),
        () =>
          `let in without the token: ${
            JSON.stringify([cookie, authorization, path])
          }`,
      );
    }
    if (response !== undefined) {
      const location = response.headers.get("location") ?? "";
      invariant(
        /^\/(index\.html)?(\?.*)?$/.test(location),
        `redirected to ${JSON.stringify(location)}`,
      );
      invariant(
        !new URLSearchParams(location.split("?")[1] ?? "").has("token"),
        () =>
          `the redirect keeps the token in the address: ${
            JSON.stringify(location)
          }`,
      );
      invariant(
        response.headers.get("set-cookie") === tokenCookie(config),
        "the redirect sets another cookie",
      );
    }
  },
};

/** The Host rule, written again from its description: loopback, and this port. */
function hostIsLoopback(header: string, port: number): boolean {
  const host = header.trim().toLowerCase();
  const match = /^(\[[^\]]*\]|[^:\[\]]*)(?::(\d{1,5}))?$/.exec(host);
  if (match === null) return false;
  const name = match[1]!;
  const given = match[2] === undefined ? 80 : Number(match[2]);
  return given === port && isLoopback(name);
}
