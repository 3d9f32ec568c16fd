/**
 * Who may use the live viewer: a pure check that runs before every request,
 * with no I/O and no state.
 *
 * Two rules:
 *
 * - **Host.** On a loopback bind, the `Host` header must name a loopback
 *   address (`127.0.0.0/8`, `[::1]`) or `localhost`, with the port the
 *   viewer listens on. A web page that rebinds its own DNS name to
 *   127.0.0.1 still sends its own name as `Host`, so it is refused and
 *   cannot read the camera (DNS rebinding).
 * - **Token.** When the viewer has a token, every request must carry it:
 *   `?token=` once, after which the browser keeps it in a cookie
 *   (`HttpOnly; SameSite=Strict; Path=/`), or an `Authorization: Bearer`
 *   header for scripts. A request for the page with the token in its query
 *   is redirected to the same address without it, so that the token leaves
 *   the address bar and the history. Other endpoints accept `?token=` as it
 *   is, so that players and scripts can open `/stream.mjpg?token=…`.
 *
 * @module
 */

/** What {@linkcode checkAccess} checks. */
export interface AccessConfig {
  /** The port the viewer listens on, which the `Host` header must name. */
  port: number;
  /**
   * Whether the `Host` header must name a loopback address or `localhost`:
   * true on a loopback bind, where it stops DNS rebinding.
   */
  checkHost: boolean;
  /** The token every request must carry, or `undefined` for none. */
  token: string | undefined;
}

import { textResponse } from "./_text.ts";

const encoder = new TextEncoder();
const TOKEN_PATTERN = /^[A-Za-z0-9._~-]{8,256}$/;
const PAGE_PATHS = new Set(["/", "/index.html"]);

/**
 * Whether `hostname` is a loopback address: `localhost`, anything in
 * `127.0.0.0/8`, `::1`, or an IPv4-mapped loopback address.
 *
 * @param hostname A host name or IP literal, with or without IPv6 brackets.
 * @returns `true` for loopback.
 *
 * @example Usage
 * ```ts
 * import { isLoopback } from "./access.ts";
 * console.log(isLoopback("127.0.0.2"), isLoopback("[::1]"), isLoopback("0.0.0.0")); // true true false
 * ```
 */
export function isLoopback(hostname: string): boolean {
  let host = hostname.toLowerCase();
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host === "localhost" || host === "::1") return true;
  if (host.startsWith("::ffff:")) host = host.slice(7);
  const octets = host.split(".");
  return octets.length === 4 && octets[0] === "127" &&
    octets.every((octet) => /^\d{1,3}$/.test(octet) && Number(octet) <= 255);
}

/**
 * A new random token: 128 bits from the system's secure generator, in
 * base64url without padding (22 characters).
 *
 * @returns The token.
 *
 * @example Usage
 * ```ts
 * import { randomToken } from "./access.ts";
 * console.log(randomToken().length); // 22
 * ```
 */
export function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-")
    .replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Throws unless `token` can be a viewer token: 8 to 256 characters that
 * need no escaping in a URL or a cookie (`A-Z a-z 0-9 - _ . ~`).
 *
 * @param token The token to check.
 * @returns `token`, unchanged.
 * @throws {TypeError} When it cannot be one.
 *
 * @example Usage
 * ```ts
 * import { checkToken } from "./access.ts";
 * console.log(checkToken("correct-horse-battery")); // "correct-horse-battery"
 * ```
 */
export function checkToken(token: string): string {
  if (typeof token !== "string" || !TOKEN_PATTERN.test(token)) {
    throw new TypeError(
      "Cannot use the viewer token: it must be 8 to 256 characters from A-Z a-z 0-9 - _ . ~",
    );
  }
  return token;
}

/**
 * The name of the cookie that keeps the token. Cookies do not tell ports
 * apart, so the port is in the name: two viewers on one host keep their
 * own.
 *
 * @param port The viewer's port.
 * @returns The cookie name.
 *
 * @example Usage
 * ```ts
 * import { tokenCookieName } from "./access.ts";
 * console.log(tokenCookieName(8080)); // "udpimg_token_8080"
 * ```
 */
export function tokenCookieName(port: number): string {
  return `udpimg_token_${port}`;
}

/**
 * The `Set-Cookie` value that keeps the token in the browser: for the whole
 * viewer, out of reach of scripts, and never sent by other sites' pages.
 *
 * @param config The viewer's port and token.
 * @returns The header value, or `undefined` when there is no token.
 *
 * @example Usage
 * ```ts
 * import { tokenCookie } from "./access.ts";
 * const cookie = tokenCookie({ port: 8080, checkHost: false, token: "s3cret-token" });
 * console.log(cookie); // "udpimg_token_8080=s3cret-token; Path=/; HttpOnly; SameSite=Strict"
 * ```
 */
export function tokenCookie(config: AccessConfig): string | undefined {
  if (config.token === undefined) return undefined;
  return `${
    tokenCookieName(config.port)
  }=${config.token}; Path=/; HttpOnly; SameSite=Strict`;
}

/**
 * Compares a presented token with the expected one in time that depends
 * only on the expected token's length, so that timing tells an attacker
 * nothing about how much of a guess was right.
 */
function sameToken(presented: string, expected: string): boolean {
  const given = encoder.encode(presented);
  const wanted = encoder.encode(expected);
  let difference = given.length ^ wanted.length;
  for (let i = 0; i < wanted.length; i++) {
    difference |= (given[i] ?? 0) ^ wanted[i]!;
  }
  return difference === 0;
}

function cookieValue(header: string | null, name: string): string | undefined {
  if (header === null) return undefined;
  for (const pair of header.split(";")) {
    const at = pair.indexOf("=");
    if (at >= 0 && pair.slice(0, at).trim() === name) {
      return pair.slice(at + 1).trim();
    }
  }
  return undefined;
}

/** Splits a `Host` header into a lower-case host name and a port. */
function parseHost(
  header: string,
): { hostname: string; port: number } | undefined {
  const host = header.trim().toLowerCase();
  let hostname: string;
  let rest: string;
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    if (close < 0) return undefined;
    hostname = host.slice(0, close + 1);
    rest = host.slice(close + 1);
  } else {
    const colon = host.indexOf(":");
    hostname = colon < 0 ? host : host.slice(0, colon);
    rest = colon < 0 ? "" : host.slice(colon);
  }
  if (rest === "") return { hostname, port: 80 };
  if (!/^:\d{1,5}$/.test(rest)) return undefined;
  return { hostname, port: Number(rest.slice(1)) };
}

/**
 * Decides whether the viewer answers `request`: `undefined` to go on, or
 * the response to send instead, which is a one-line refusal (403 for a
 * wrong `Host`, 401 for a missing or wrong token) or, for the page
 * requested with the right `?token=`, a redirect that sets the cookie.
 *
 * @param request The incoming request.
 * @param config The viewer's port, and whether it checks the host and a token.
 * @returns `undefined` when the request may proceed, else the response.
 *
 * @example A page on loopback that rebinds its DNS name is refused
 * ```ts
 * import { checkAccess } from "./access.ts";
 * const config = { port: 8080, checkHost: true, token: undefined };
 * const evil = new Request("http://evil.example:8080/stats", {
 *   headers: { host: "evil.example:8080" },
 * });
 * console.log(checkAccess(evil, config)?.status); // 403
 * const local = new Request("http://127.0.0.1:8080/stats", {
 *   headers: { host: "127.0.0.1:8080" },
 * });
 * console.log(checkAccess(local, config)); // undefined
 * ```
 *
 * @example The token by query, then by cookie
 * ```ts
 * import { checkAccess } from "./access.ts";
 * const config = { port: 8080, checkHost: false, token: "s3cret-token" };
 * const first = checkAccess(new Request("http://cam:8080/?token=s3cret-token"), config)!;
 * console.log(first.status, first.headers.get("location")); // 303 "/"
 * const cookie = first.headers.get("set-cookie")!.split(";")[0]!;
 * const next = new Request("http://cam:8080/stats", { headers: { cookie } });
 * console.log(checkAccess(next, config)); // undefined
 * ```
 */
export function checkAccess(
  request: Request,
  config: AccessConfig,
): Response | undefined {
  if (config.checkHost) {
    const header = request.headers.get("host");
    const host = header === null ? undefined : parseHost(header);
    if (
      host === undefined || !isLoopback(host.hostname) ||
      host.port !== config.port
    ) {
      return textResponse(
        403,
        `Refused: Host ${
          JSON.stringify(header ?? "")
        } is not this viewer's address; open http://127.0.0.1:${config.port}/ (this check stops DNS rebinding)`,
      );
    }
  }
  const { token } = config;
  if (token === undefined) return undefined;
  const url = new URL(request.url);
  const byQuery = url.searchParams.get("token");
  const byCookie = cookieValue(
    request.headers.get("cookie"),
    tokenCookieName(config.port),
  );
  const authorization = request.headers.get("authorization");
  const byHeader = authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  // Each credential is compared, whatever the others say, so that which
  // one was right does not show in the time taken.
  const queryOk = byQuery !== null && sameToken(byQuery, token);
  const cookieOk = byCookie !== undefined && sameToken(byCookie, token);
  const headerOk = byHeader !== undefined && sameToken(byHeader, token);
  if (!queryOk && !cookieOk && !headerOk) {
    const presented = byQuery !== null || byCookie !== undefined ||
      byHeader !== undefined;
    return textResponse(
      401,
      presented
        ? "Refused: wrong token; open the address the viewer printed, with ?token="
        : "Refused: this viewer needs its token; open the address it printed, with ?token=",
      { "www-authenticate": 'Bearer realm="udpimg viewer"' },
    );
  }
  if (
    queryOk && PAGE_PATHS.has(url.pathname) &&
    (request.method === "GET" || request.method === "HEAD")
  ) {
    // The rest of the query as it came, so that `sender=HOST:PORT` stays
    // readable; a key is compared decoded, so `tok%65n=` goes too.
    const rest = url.search.slice(1).split("&")
      .filter((pair) => pair !== "" && !new URLSearchParams(pair).has("token"))
      .join("&");
    return new Response(null, {
      status: 303,
      headers: {
        location: url.pathname + (rest === "" ? "" : `?${rest}`),
        "set-cookie": tokenCookie(config)!,
        "cache-control": "no-store",
      },
    });
  }
  return undefined;
}
