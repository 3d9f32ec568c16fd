/**
 * HTTP Digest authentication for RTSP ([RFC 2617](https://www.rfc-editor.org/rfc/rfc2617)
 * with MD5), as IP cameras use it and as ffmpeg, GStreamer and VLC answer
 * it:
 *
 * ```text
 * S: RTSP/1.0 401 Unauthorized
 *    WWW-Authenticate: Digest realm="udpimg", nonce="…", algorithm=MD5, qop="auth"
 * C: DESCRIBE rtsp://127.0.0.1:8554/live RTSP/1.0
 *    Authorization: Digest username="cam", realm="udpimg", nonce="…",
 *      uri="rtsp://127.0.0.1:8554/live", response="<32 hex digits>"
 *      [, qop=auth, nc=00000001, cnonce="…"]
 *
 * HA1 = MD5(username ":" realm ":" password)
 * HA2 = MD5(method ":" uri)
 * response = MD5(HA1 ":" nonce ":" HA2)                              no qop
 *          = MD5(HA1 ":" nonce ":" nc ":" cnonce ":" "auth" ":" HA2) qop=auth
 * ```
 *
 * The challenge offers `qop="auth"`; answers without qop (RFC 2069, which
 * GStreamer and live555, so VLC, send) are accepted too. Nonces carry
 * their time and an HMAC under a secret made per server, so they need no
 * table; a nonce older than its lifetime is answered with `stale=TRUE`,
 * and clients retry with a new one. Basic authentication, which sends the
 * password in clear, is accepted only when asked for.
 *
 * @module
 */

import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** A user name and password. */
export interface Credentials {
  /** The user name. */
  readonly username: string;
  /** The password. */
  readonly password: string;
}

/** Options for {@linkcode DigestAuth}. */
export interface DigestAuthOptions {
  /** The realm shown to users. @default {"udpimg"} */
  realm?: string;
  /** How long a nonce is good for, in milliseconds. @default {3600000} */
  nonceLifetimeMs?: number;
  /**
   * Whether `Authorization: Basic` is accepted too. It sends the password
   * in clear: use it only on loopback or inside a trusted network.
   *
   * @default {false}
   */
  allowBasic?: boolean;
  /** The secret nonces are signed with. @default {16 random bytes} */
  secret?: Uint8Array;
}

/** What {@linkcode DigestAuth.verify} found. */
export type AuthResult =
  | { readonly ok: true; readonly username: string }
  | {
    readonly ok: false;
    /** Whether the only fault is an old nonce: challenge again with `stale=TRUE`. */
    readonly stale: boolean;
    /** What was wrong, in one line, for a log. */
    readonly reason: string;
  };

/**
 * The MD5 of a string's UTF-8 bytes, as Digest authentication uses it.
 *
 * @param text The text.
 * @returns 32 lower-case hex digits.
 *
 * @example The digest of nothing
 * ```ts
 * import { md5Hex } from "./digest.ts";
 * console.log(md5Hex("")); // "d41d8cd98f00b204e9800998ecf8427e"
 * ```
 */
export function md5Hex(text: string): string {
  return createHash("md5").update(text).digest("hex");
}

/**
 * Reads the parameters of a `WWW-Authenticate` or `Authorization` value
 * after its scheme: `name=value` or `name="quoted value"`, comma-separated.
 *
 * @param text The value without its scheme, such as `realm="x", nonce="y"`.
 * @returns The parameters, names in lower case.
 *
 * @example Reading a challenge
 * ```ts
 * import { parseAuthParams } from "./digest.ts";
 * const params = parseAuthParams('realm="udpimg", nonce="abc", qop="auth"');
 * console.log(params.get("nonce")); // "abc"
 * ```
 */
export function parseAuthParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  const pattern =
    /\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?/y;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(text)) !== null && match[0] !== "") {
    const value = match[2] !== undefined
      ? match[2].replace(/\\(.)/g, "$1")
      : match[3] ?? "";
    params.set(match[1]!.toLowerCase(), value);
  }
  return params;
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, "\\$&")}"`;
}

function sameText(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The path of a Request-URI or a digest `uri`: the part after the host. */
function uriPath(uri: string): string {
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(.*)$/i.exec(uri);
  return (match ? match[1]! : uri) || "/";
}

/**
 * The server side of Digest authentication: challenges and checks.
 *
 * @example A client that answers the challenge
 * ```ts
 * import { DigestAuth, digestAuthorization } from "./digest.ts";
 * const auth = new DigestAuth({ username: "cam", password: "secret" });
 * const [challenge] = auth.challenge(0);
 * const uri = "rtsp://127.0.0.1:8554/live";
 * const authorization = digestAuthorization(challenge!, {
 *   username: "cam", password: "secret", method: "DESCRIBE", uri,
 * });
 * console.log(auth.verify("DESCRIBE", uri, authorization, 1000).ok); // true
 * ```
 */
export class DigestAuth {
  readonly #username: string;
  readonly #realm: string;
  readonly #ha1: string;
  readonly #basic: string | undefined;
  readonly #lifetimeMs: number;
  readonly #secret: Uint8Array;

  /**
   * Sets up the check for one user, with a secret of its own for nonces.
   *
   * @param credentials The one user and password accepted.
   * @param options Realm, nonce lifetime, Basic, secret.
   */
  constructor(credentials: Credentials, options: DigestAuthOptions = {}) {
    const { username, password } = credentials;
    if (typeof username !== "string" || username === "") {
      throw new TypeError(
        "Cannot set up authentication: the user name is empty",
      );
    }
    if (typeof password !== "string") {
      throw new TypeError("Cannot set up authentication: no password");
    }
    const realm = options.realm ?? "udpimg";
    if (/["\\\r\n]/.test(realm)) {
      throw new TypeError(
        "Cannot set up authentication: the realm has a quote, backslash or line break",
      );
    }
    const lifetime = options.nonceLifetimeMs ?? 3_600_000;
    if (!(lifetime > 0)) {
      throw new RangeError(
        `Cannot set up authentication: nonceLifetimeMs must be positive, got ${lifetime}`,
      );
    }
    this.#username = username;
    this.#realm = realm;
    this.#ha1 = md5Hex(`${username}:${realm}:${password}`);
    this.#basic = options.allowBasic
      ? btoa(
        String.fromCharCode(
          ...new TextEncoder().encode(`${username}:${password}`),
        ),
      )
      : undefined;
    this.#lifetimeMs = lifetime;
    this.#secret = options.secret ?? crypto.getRandomValues(new Uint8Array(16));
  }

  /** The realm. */
  get realm(): string {
    return this.#realm;
  }

  /**
   * The `WWW-Authenticate` values of a 401 response: Digest first, then
   * Basic when it is allowed.
   *
   * @param nowMs The time, on the clock `verify` is given.
   * @param stale Whether the client's nonce was only too old.
   * @returns One value per header line.
   */
  challenge(nowMs: number, stale = false): string[] {
    const digest = `Digest realm=${quote(this.#realm)}, nonce=${
      quote(this.#nonce(nowMs))
    }, algorithm=MD5, qop="auth"${stale ? ", stale=TRUE" : ""}`;
    return this.#basic === undefined
      ? [digest]
      : [digest, `Basic realm=${quote(this.#realm)}`];
  }

  /**
   * Checks an `Authorization` header.
   *
   * @param method The request's method.
   * @param uri The request's Request-URI.
   * @param authorization The header's value, or `undefined` when absent.
   * @param nowMs The time.
   * @returns Whether it may pass, and why not.
   */
  verify(
    method: string,
    uri: string,
    authorization: string | undefined,
    nowMs: number,
  ): AuthResult {
    if (authorization === undefined) {
      return { ok: false, stale: false, reason: "no credentials" };
    }
    const space = authorization.indexOf(" ");
    const scheme = (space < 0 ? authorization : authorization.slice(0, space))
      .toLowerCase();
    const rest = space < 0 ? "" : authorization.slice(space + 1).trim();
    if (scheme === "basic") {
      if (this.#basic === undefined) {
        return {
          ok: false,
          stale: false,
          reason: "Basic credentials, and only Digest is accepted",
        };
      }
      return sameText(rest, this.#basic)
        ? { ok: true, username: this.#username }
        : { ok: false, stale: false, reason: "wrong Basic credentials" };
    }
    if (scheme !== "digest") {
      return {
        ok: false,
        stale: false,
        reason: `the ${scheme} scheme; answer the Digest challenge`,
      };
    }
    const p = parseAuthParams(rest);
    const username = p.get("username");
    const nonce = p.get("nonce") ?? "";
    const digestUri = p.get("uri");
    const response = (p.get("response") ?? "").toLowerCase();
    const algorithm = p.get("algorithm");
    if (username !== this.#username) {
      return { ok: false, stale: false, reason: "an unknown user name" };
    }
    if (p.get("realm") !== this.#realm) {
      return { ok: false, stale: false, reason: "another realm" };
    }
    if (algorithm !== undefined && algorithm.toUpperCase() !== "MD5") {
      return { ok: false, stale: false, reason: `algorithm ${algorithm}` };
    }
    if (digestUri === undefined || uriPath(digestUri) !== uriPath(uri)) {
      return {
        ok: false,
        stale: false,
        reason: "a digest uri that is not the request's",
      };
    }
    const qop = p.get("qop");
    const ha2 = md5Hex(`${method}:${digestUri}`);
    let expected: string;
    if (qop === undefined) {
      expected = md5Hex(`${this.#ha1}:${nonce}:${ha2}`);
    } else if (qop.toLowerCase() === "auth") {
      const nc = p.get("nc") ?? "";
      const cnonce = p.get("cnonce") ?? "";
      expected = md5Hex(`${this.#ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
    } else {
      return { ok: false, stale: false, reason: `qop=${qop}` };
    }
    if (!sameText(response, expected)) {
      return { ok: false, stale: false, reason: "a wrong password" };
    }
    const issued = this.#nonceTime(nonce);
    if (issued === undefined) {
      return {
        ok: false,
        stale: false,
        reason: "a nonce this server did not make",
      };
    }
    if (nowMs - issued > this.#lifetimeMs || issued > nowMs + 1000) {
      return { ok: false, stale: true, reason: "an expired nonce" };
    }
    return { ok: true, username };
  }

  #sign(time: string): string {
    return createHmac("sha256", this.#secret).update(time).digest("hex").slice(
      0,
      32,
    );
  }

  #nonce(nowMs: number): string {
    const time = Math.max(0, Math.floor(nowMs)).toString(16).padStart(12, "0");
    return time + this.#sign(time);
  }

  #nonceTime(nonce: string): number | undefined {
    if (!/^[0-9a-f]{44}$/.test(nonce)) return undefined;
    const time = nonce.slice(0, 12);
    if (!sameText(nonce.slice(12), this.#sign(time))) return undefined;
    return parseInt(time, 16);
  }
}

/** What {@linkcode digestAuthorization} answers a challenge with. */
export interface DigestAnswer extends Credentials {
  /** The request's method. */
  readonly method: string;
  /** The request's Request-URI. */
  readonly uri: string;
  /** The client nonce, for qop=auth. @default {16 random hex digits} */
  readonly cnonce?: string;
  /** The nonce count, for qop=auth. @default {1} */
  readonly nc?: number;
}

/**
 * The client side: the `Authorization` value that answers a Digest
 * challenge, with qop=auth when the challenge offers it.
 *
 * @param challenge A `WWW-Authenticate` value starting with `Digest`.
 * @param answer Credentials, method, URI.
 * @returns The `Authorization` value.
 * @throws {TypeError} When the challenge is not Digest.
 *
 * @example Answering a challenge
 * ```ts
 * import { digestAuthorization } from "./digest.ts";
 * const value = digestAuthorization('Digest realm="r", nonce="n"', {
 *   username: "u", password: "p", method: "OPTIONS", uri: "*",
 * });
 * console.log(value.startsWith('Digest username="u"')); // true
 * ```
 */
export function digestAuthorization(
  challenge: string,
  answer: DigestAnswer,
): string {
  if (!/^digest\s/i.test(challenge)) {
    throw new TypeError(
      `Cannot answer the challenge "${
        challenge.slice(0, 40)
      }": it is not Digest`,
    );
  }
  const p = parseAuthParams(challenge.replace(/^digest\s+/i, ""));
  const realm = p.get("realm") ?? "";
  const nonce = p.get("nonce") ?? "";
  const ha1 = md5Hex(`${answer.username}:${realm}:${answer.password}`);
  const ha2 = md5Hex(`${answer.method}:${answer.uri}`);
  const offersAuth = (p.get("qop") ?? "").split(",").some((q) =>
    q.trim().toLowerCase() === "auth"
  );
  let value = `Digest username=${quote(answer.username)}, realm=${
    quote(realm)
  }, nonce=${quote(nonce)}, uri=${quote(answer.uri)}`;
  if (offersAuth) {
    const nc = (answer.nc ?? 1).toString(16).padStart(8, "0");
    const cnonce = answer.cnonce ??
      Array.from(
        crypto.getRandomValues(new Uint8Array(8)),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("");
    const response = md5Hex(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
    value += `, response=${quote(response)}, qop=auth, nc=${nc}, cnonce=${
      quote(cnonce)
    }`;
  } else {
    value += `, response=${quote(md5Hex(`${ha1}:${nonce}:${ha2}`))}`;
  }
  const opaque = p.get("opaque");
  if (opaque !== undefined) value += `, opaque=${quote(opaque)}`;
  return value + ", algorithm=MD5";
}
