import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type AccessConfig,
  checkAccess,
  checkToken,
  isLoopback,
  randomToken,
  tokenCookie,
  tokenCookieName,
} from "../lib/viewer/access.ts";

const TOKEN = "s3cret-Token_1.2~x";
const LOOPBACK: AccessConfig = {
  port: 8080,
  checkHost: true,
  token: undefined,
};
const WITH_TOKEN: AccessConfig = {
  port: 8080,
  checkHost: false,
  token: TOKEN,
};

function request(
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
): Request {
  return new Request(`http://127.0.0.1:8080${path}`, {
    method,
    headers: { host: "127.0.0.1:8080", ...headers },
  });
}

Deno.test("isLoopback knows 127.0.0.0/8, ::1 and localhost, and nothing else", () => {
  for (
    const host of [
      "127.0.0.1",
      "127.0.0.2",
      "127.255.255.254",
      "localhost",
      "LOCALHOST",
      "::1",
      "[::1]",
      "::ffff:127.0.0.1",
    ]
  ) {
    assert.ok(isLoopback(host), host);
  }
  for (
    const host of [
      "0.0.0.0",
      "::",
      "128.0.0.1",
      "10.0.0.1",
      "127.0.0.1.evil.example",
      "127.1",
      "127.0.0.256",
      "localhost.evil.example",
      "evil.example",
      "",
    ]
  ) {
    assert.ok(!isLoopback(host), host);
  }
});

Deno.test("randomToken makes 128-bit base64url tokens that checkToken accepts", () => {
  const tokens = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const token = randomToken();
    assert.match(token, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(checkToken(token), token);
    tokens.add(token);
  }
  assert.equal(tokens.size, 100);
});

Deno.test("checkToken rejects a short token and one that needs escaping", () => {
  for (const token of ["short", "has space in it", "semi;colon-token", ""]) {
    assert.throws(() => checkToken(token), TypeError, token);
  }
  assert.throws(() => checkToken("x".repeat(257)), TypeError);
});

Deno.test("checkAccess on loopback lets in a loopback Host with the viewer's port", () => {
  for (
    const host of [
      "127.0.0.1:8080",
      "localhost:8080",
      "LocalHost:8080",
      "[::1]:8080",
      "127.0.0.2:8080",
    ]
  ) {
    assert.equal(checkAccess(request("/stats", { host }), LOOPBACK), undefined);
  }
  const onPort80 = { ...LOOPBACK, port: 80 };
  assert.equal(
    checkAccess(request("/", { host: "localhost" }), onPort80),
    undefined,
  );
});

Deno.test("checkAccess on loopback refuses any other Host with a one-line 403", async () => {
  for (
    const host of [
      "evil.example:8080",
      "127.0.0.1.evil.example:8080",
      "localhost.:8080",
      "127.0.0.1:8081",
      "127.0.0.1",
      "[::1]x:8080",
      "127.0.0.1:80800",
      "10.0.0.1:8080",
    ]
  ) {
    const response = checkAccess(request("/stats", { host }), LOOPBACK);
    assert.equal(response?.status, 403, host);
    const body = await response!.text();
    assert.match(body, /^Refused: Host .* is not this viewer's address/);
    assert.equal(body.trim().split("\n").length, 1);
  }
  const noHost = new Request("http://127.0.0.1:8080/");
  assert.equal(checkAccess(noHost, LOOPBACK)?.status, 403);
});

Deno.test("checkAccess beyond loopback does not check the Host", () => {
  const open: AccessConfig = { port: 8080, checkHost: false, token: undefined };
  assert.equal(
    checkAccess(request("/", { host: "camera.example:8080" }), open),
    undefined,
  );
});

Deno.test("checkAccess refuses a missing or wrong token with 401 and says which", async () => {
  const missing = checkAccess(request("/stats"), WITH_TOKEN)!;
  assert.equal(missing.status, 401);
  assert.match(missing.headers.get("www-authenticate")!, /^Bearer /);
  assert.match(await missing.text(), /needs its token/);
  for (
    const wrong of [
      request("/stats?token=s3cret-Token_1.2~y"),
      request("/stats?token=s3cret-Token_1.2~"),
      request("/stats?token="),
      request("/stats", { cookie: `${tokenCookieName(8080)}=nope-nope-nope` }),
      request("/stats", { authorization: "Bearer s3cret" }),
    ]
  ) {
    const response = checkAccess(wrong, WITH_TOKEN)!;
    assert.equal(response.status, 401, wrong.url);
    assert.match(await response.text(), /^Refused: wrong token/);
  }
});

Deno.test("checkAccess takes the token by query, cookie or bearer header", () => {
  assert.equal(
    checkAccess(request(`/stats?token=${TOKEN}`), WITH_TOKEN),
    undefined,
  );
  assert.equal(
    checkAccess(
      request("/stream.mjpg", {
        cookie: `theme=dark; ${tokenCookieName(8080)}=${TOKEN}; other=1`,
      }),
      WITH_TOKEN,
    ),
    undefined,
  );
  assert.equal(
    checkAccess(
      request("/latest.jpg", { authorization: `Bearer ${TOKEN}` }),
      WITH_TOKEN,
    ),
    undefined,
  );
  // Another viewer's cookie, on another port, is not this one's.
  assert.equal(
    checkAccess(
      request("/stats", { cookie: `${tokenCookieName(9090)}=${TOKEN}` }),
      WITH_TOKEN,
    )?.status,
    401,
  );
});

Deno.test("checkAccess redirects the page with a token to the address without it, setting the cookie", () => {
  const response = checkAccess(
    request(`/?sender=127.0.0.1:5000&token=${TOKEN}`),
    WITH_TOKEN,
  )!;
  assert.equal(response.status, 303);
  assert.equal(response.headers.get("location"), "/?sender=127.0.0.1:5000");
  const cookie = response.headers.get("set-cookie")!;
  assert.equal(cookie, tokenCookie(WITH_TOKEN));
  assert.match(cookie, new RegExp(`^${tokenCookieName(8080)}=${TOKEN};`));
  for (const attribute of ["HttpOnly", "SameSite=Strict", "Path=/"]) {
    assert.ok(cookie.split("; ").includes(attribute), attribute);
  }
  const bare = checkAccess(request(`/index.html?token=${TOKEN}`), WITH_TOKEN)!;
  assert.equal(bare.headers.get("location"), "/index.html");
  // The cookie alone is enough afterwards.
  const next = request("/", { cookie: cookie.split(";")[0]! });
  assert.equal(checkAccess(next, WITH_TOKEN), undefined);
});

Deno.test("checkAccess checks both the Host and the token when both are on", () => {
  const both = { ...WITH_TOKEN, checkHost: true };
  assert.equal(
    checkAccess(
      request(`/stats?token=${TOKEN}`, { host: "evil.example:8080" }),
      both,
    )?.status,
    403,
  );
  assert.equal(checkAccess(request("/stats"), both)?.status, 401);
  assert.equal(checkAccess(request(`/stats?token=${TOKEN}`), both), undefined);
});

Deno.test("checkAccess lets a request in exactly when it carries the token", () => {
  const tokenChars = fc.constantFrom(
    ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~",
  );
  const token = fc.string({ unit: tokenChars, minLength: 8, maxLength: 40 });
  fc.assert(
    fc.property(token, token, fc.constantFrom("query", "cookie", "bearer"), (
      expected,
      presented,
      how,
    ) => {
      const config = { port: 8080, checkHost: true, token: expected };
      const headers: Record<string, string> = how === "cookie"
        ? { cookie: `${tokenCookieName(8080)}=${presented}` }
        : how === "bearer"
        ? { authorization: `Bearer ${presented}` }
        : {};
      const path = how === "query" ? `/stats?token=${presented}` : "/stats";
      const response = checkAccess(request(path, headers), config);
      return (response === undefined) === (presented === expected);
    }),
  );
});
