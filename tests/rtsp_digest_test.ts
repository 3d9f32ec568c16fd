import assert from "node:assert/strict";
import {
  DigestAuth,
  digestAuthorization,
  md5Hex,
  parseAuthParams,
} from "../lib/rtsp/digest.ts";

const credentials = { username: "cam", password: "s3cret" };
const uri = "rtsp://127.0.0.1:8554/live";

Deno.test("digestAuthorization computes RFC 2617's own example", () => {
  const value = digestAuthorization(
    'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    {
      username: "Mufasa",
      password: "Circle Of Life",
      method: "GET",
      uri: "/dir/index.html",
      cnonce: "0a4f113b",
      nc: 1,
    },
  );
  const params = parseAuthParams(value.replace(/^Digest /, ""));
  assert.equal(params.get("response"), "6629fae49393a05397450978507c4ef1");
  assert.equal(params.get("nc"), "00000001");
  assert.equal(params.get("opaque"), "5ccc069c403ebaf9f0171e9517f40e41");
});

Deno.test("DigestAuth accepts answers with qop=auth and without qop (RFC 2069, as GStreamer and live555 send)", () => {
  const auth = new DigestAuth(credentials);
  const [challenge] = auth.challenge(0);
  assert.match(
    challenge!,
    /^Digest realm="udpimg", nonce="[0-9a-f]{44}", algorithm=MD5, qop="auth"$/,
  );
  const withQop = digestAuthorization(challenge!, {
    ...credentials,
    method: "DESCRIBE",
    uri,
  });
  assert.match(withQop, /qop=auth/);
  assert.deepEqual(auth.verify("DESCRIBE", uri, withQop, 10), {
    ok: true,
    username: "cam",
  });
  const nonce = parseAuthParams(challenge!.slice(7)).get("nonce")!;
  const ha1 = md5Hex("cam:udpimg:s3cret");
  const response = md5Hex(
    `${ha1}:${nonce}:${md5Hex(`SETUP:${uri}/trackID=0`)}`,
  );
  const rfc2069 =
    `Digest username="cam", realm="udpimg", nonce="${nonce}", uri="${uri}/trackID=0", response="${response}"`;
  assert.equal(auth.verify("SETUP", `${uri}/trackID=0`, rfc2069, 10).ok, true);
});

Deno.test("DigestAuth refuses wrong passwords, other users, replays to another URI and forged nonces", () => {
  const auth = new DigestAuth(credentials);
  const [challenge] = auth.challenge(0);
  const answer = (password: string, username = "cam") =>
    digestAuthorization(challenge!, {
      username,
      password,
      method: "PLAY",
      uri,
    });
  const refused = (value: string | undefined, method = "PLAY", at = uri) => {
    const result = auth.verify(method, at, value, 10);
    assert.ok(!result.ok);
    return result.reason;
  };
  assert.match(refused(answer("wrong")), /wrong password/);
  assert.match(refused(answer("s3cret", "other")), /unknown user/);
  assert.match(refused(answer("s3cret"), "TEARDOWN"), /wrong password/);
  assert.match(
    refused(answer("s3cret"), "PLAY", "rtsp://127.0.0.1:8554/other"),
    /uri/,
  );
  assert.match(refused(undefined), /no credentials/);
  assert.match(refused("Bearer abc"), /bearer/);
  const forged = digestAuthorization(
    `Digest realm="udpimg", nonce="${"0".repeat(44)}"`,
    { ...credentials, method: "PLAY", uri },
  );
  assert.match(refused(forged), /did not make/);
  const otherServer = new DigestAuth(credentials);
  const foreign = digestAuthorization(otherServer.challenge(0)[0]!, {
    ...credentials,
    method: "PLAY",
    uri,
  });
  assert.match(refused(foreign), /did not make/);
});

Deno.test("DigestAuth says stale for an expired nonce, so that clients retry", () => {
  const auth = new DigestAuth(credentials, { nonceLifetimeMs: 1000 });
  const [challenge] = auth.challenge(0);
  const value = digestAuthorization(challenge!, {
    ...credentials,
    method: "PLAY",
    uri,
  });
  assert.equal(auth.verify("PLAY", uri, value, 900).ok, true);
  const late = auth.verify("PLAY", uri, value, 2000);
  assert.ok(!late.ok && late.stale);
  assert.match(auth.challenge(2000, true)[0]!, /stale=TRUE$/);
});

Deno.test("DigestAuth takes Basic only when allowed", () => {
  const basic = `Basic ${btoa("cam:s3cret")}`;
  const strict = new DigestAuth(credentials);
  assert.equal(strict.challenge(0).length, 1);
  assert.equal(strict.verify("PLAY", uri, basic, 0).ok, false);
  const lenient = new DigestAuth(credentials, { allowBasic: true });
  assert.deepEqual(lenient.challenge(0).map((c) => c.split(" ")[0]), [
    "Digest",
    "Basic",
  ]);
  assert.equal(lenient.verify("PLAY", uri, basic, 0).ok, true);
  assert.equal(
    lenient.verify("PLAY", uri, `Basic ${btoa("cam:x")}`, 0).ok,
    false,
  );
});

Deno.test("DigestAuth refuses an empty user name and a realm that would break the header", () => {
  assert.throws(
    () => new DigestAuth({ username: "", password: "x" }),
    TypeError,
  );
  assert.throws(() => new DigestAuth(credentials, { realm: 'a"b' }), TypeError);
  assert.throws(
    () => new DigestAuth(credentials, { nonceLifetimeMs: 0 }),
    RangeError,
  );
});
