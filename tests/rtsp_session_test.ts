import assert from "node:assert/strict";
import { DigestAuth, digestAuthorization } from "../lib/rtsp/digest.ts";
import { RtspHeaders } from "../lib/rtsp/message.ts";
import {
  type RtspConnectionInfo,
  RtspSessions,
  type RtspSessionsOptions,
} from "../lib/rtsp/session.ts";

const BASE = "rtsp://127.0.0.1:8554";
const connection: RtspConnectionInfo = {
  id: 1,
  remote: { hostname: "127.0.0.1", port: 40000 },
  local: { hostname: "127.0.0.1", port: 8554 },
};
const other: RtspConnectionInfo = { ...connection, id: 2 };

function machine(
  options: Partial<RtspSessionsOptions> = {},
  udp = true,
): RtspSessions {
  let n = 0;
  return new RtspSessions({
    host: {
      resolve: (path) =>
        path === "live" || path === "127.0.0.1:5000" ? path : undefined,
      playInfo: () => ({ sequence: 70000, timestamp: 2 ** 32 + 5 }),
    },
    ...(udp && { serverPort: [6970, 6971] as const }),
    randomId: () => `session${++n}`,
    ...options,
  });
}

let cseq = 0;
function request(
  method: string,
  uri: string,
  headers: [string, string][] = [],
  body = "",
) {
  return {
    method,
    uri,
    headers: new RtspHeaders([["CSeq", String(++cseq)], ...headers]),
    body: new TextEncoder().encode(body),
  };
}

function header(
  result: { response: { headers?: Iterable<readonly [string, string]> } },
  name: string,
) {
  return new RtspHeaders(result.response.headers ?? []).get(name);
}

function setup(
  sessions: RtspSessions,
  transport = "RTP/AVP;unicast;client_port=5000-5001",
  path = "live",
) {
  return sessions.handle(
    0,
    request("SETUP", `${BASE}/${path}/trackID=0`, [["Transport", transport]]),
    connection,
  );
}

Deno.test("RtspSessions answers OPTIONS and DESCRIBE as a camera does, echoing CSeq", () => {
  const sessions = machine();
  const options = sessions.handle(0, request("OPTIONS", "*"), connection);
  assert.equal(options.response.status, 200);
  assert.equal(header(options, "CSeq"), String(cseq));
  assert.match(
    header(options, "Public")!,
    /DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER/,
  );
  const describe = sessions.handle(
    0,
    request("DESCRIBE", `${BASE}/live`),
    connection,
  );
  assert.equal(describe.response.status, 200);
  assert.equal(header(describe, "Content-Base"), `${BASE}/live/`);
  assert.equal(header(describe, "Content-Type"), "application/sdp");
  const sdp = String(describe.response.body);
  for (
    const line of [
      "m=video 0 RTP/AVP 26",
      "a=rtpmap:26 JPEG/90000",
      "a=control:trackID=0",
      "a=control:*",
    ]
  ) {
    assert.ok(sdp.includes(`${line}\r\n`), line);
  }
  assert.ok(sdp.indexOf("a=control:*") < sdp.indexOf("m=video"));
  assert.ok(!sdp.includes("a=framerate"), "no rate before the host knows one");
  const rated = machine({
    host: {
      resolve: () => "live",
      playInfo: () => ({ sequence: 0, timestamp: 0 }),
      framerate: () => 29.97,
    },
  });
  const withRate = rated.handle(
    0,
    request("DESCRIBE", `${BASE}/live`),
    connection,
  );
  assert.ok(String(withRate.response.body).includes("a=framerate:29.97\r\n"));
});

Deno.test("RtspSessions finds a sender's stream by its path and answers 404 for an unknown one", () => {
  const sessions = machine();
  const found = sessions.handle(
    0,
    request("DESCRIBE", `${BASE}/127.0.0.1:5000`),
    connection,
  );
  assert.equal(found.response.status, 200);
  const escaped = sessions.handle(
    0,
    request("DESCRIBE", `${BASE}/127.0.0.1%3A5000/`),
    connection,
  );
  assert.equal(escaped.response.status, 200);
  const missing = sessions.handle(
    0,
    request("DESCRIBE", `${BASE}/10.0.0.1:5000`),
    connection,
  );
  assert.equal(missing.response.status, 404);
  assert.match(String(missing.response.body), /no stream "10.0.0.1:5000"/);
  const notUrl = sessions.handle(0, request("DESCRIBE", "/live"), connection);
  assert.equal(notUrl.response.status, 400);
  const badEscape = sessions.handle(
    0,
    request("DESCRIBE", `${BASE}/%zz`),
    connection,
  );
  assert.equal(badEscape.response.status, 400);
});

Deno.test("RtspSessions goes SETUP, PLAY, PAUSE, PLAY, TEARDOWN with effects and RTP-Info", () => {
  const sessions = machine();
  const set = setup(sessions);
  assert.equal(set.response.status, 200);
  assert.equal(header(set, "Session"), "session1;timeout=60");
  assert.equal(
    header(set, "Transport"),
    'RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;mode="PLAY"',
  );
  assert.equal(set.effect?.type, "setup");
  const session = set.effect!.session;
  assert.deepEqual(session.transport, {
    kind: "udp",
    rtp: { hostname: "127.0.0.1", port: 5000 },
    rtcp: { hostname: "127.0.0.1", port: 5001 },
  });
  assert.equal(sessions.sessionAt("127.0.0.1:5001")?.id, "session1");

  const play = sessions.handle(
    0,
    request("PLAY", `${BASE}/live/`, [["Session", "session1"]]),
    connection,
  );
  assert.equal(play.response.status, 200);
  assert.equal(play.effect?.type, "play");
  assert.equal(
    header(play, "RTP-Info"),
    `url=${BASE}/live/trackID=0;seq=4464;rtptime=5`,
  );
  assert.equal(header(play, "Range"), "npt=0.000-");
  const again = sessions.handle(
    0,
    request("PLAY", `${BASE}/live`, [["Session", "session1"]]),
    connection,
  );
  assert.equal(again.response.status, 200);
  assert.equal(again.effect, undefined, "a second PLAY changes nothing");

  const pause = sessions.handle(
    0,
    request("PAUSE", `${BASE}/live`, [["Session", "session1"]]),
    connection,
  );
  assert.equal(pause.effect?.type, "pause");
  assert.equal(sessions.get("session1")?.state, "ready");
  assert.equal(
    sessions.handle(
      0,
      request("PLAY", `${BASE}/live`, [["Session", "session1;timeout=60"]]),
      connection,
    ).effect?.type,
    "play",
  );
  const teardown = sessions.handle(
    0,
    request("TEARDOWN", `${BASE}/live`, [["Session", "session1"]]),
    connection,
  );
  assert.equal(teardown.effect?.type, "teardown");
  assert.equal(sessions.size, 0);
  assert.equal(sessions.sessionAt("127.0.0.1:5001"), undefined);
});

Deno.test("RtspSessions sets up interleaved channels, choosing free ones when asked for taken ones", () => {
  const sessions = machine();
  const first = setup(sessions, "RTP/AVP/TCP;unicast;interleaved=0-1");
  assert.equal(
    header(first, "Transport"),
    'RTP/AVP/TCP;unicast;interleaved=0-1;mode="PLAY"',
  );
  const second = setup(
    sessions,
    "RTP/AVP/TCP;unicast;interleaved=0-1",
    "127.0.0.1:5000",
  );
  assert.equal(
    header(second, "Transport"),
    'RTP/AVP/TCP;unicast;interleaved=2-3;mode="PLAY"',
  );
  const chosen = setup(sessions, "RTP/AVP/TCP;unicast");
  assert.equal(
    header(chosen, "Transport"),
    'RTP/AVP/TCP;unicast;interleaved=4-5;mode="PLAY"',
  );
});

Deno.test("RtspSessions refuses bad transports with 461", () => {
  const sessions = machine();
  for (
    const transport of [
      "RTP/AVP;multicast",
      "RTP/AVP;unicast",
      "garbage",
      "RTP/AVP;unicast;client_port=5000-5001;destination=192.0.2.1",
    ]
  ) {
    const result = setup(sessions, transport);
    assert.equal(result.response.status, 461, transport);
    assert.equal(result.effect, undefined);
  }
  const noTransport = sessions.handle(
    0,
    request("SETUP", `${BASE}/live/trackID=0`),
    connection,
  );
  assert.equal(noTransport.response.status, 461);
  const tcpOnly = machine({}, false);
  assert.equal(setup(tcpOnly).response.status, 461);
  assert.equal(
    setup(tcpOnly, "RTP/AVP/TCP;interleaved=0-1").response.status,
    200,
  );
  assert.equal(sessions.size, 0);
});

Deno.test("RtspSessions answers 455 without a session, 454 for an unknown one", () => {
  const sessions = machine();
  for (const method of ["PLAY", "PAUSE", "TEARDOWN"]) {
    const none = sessions.handle(
      0,
      request(method, `${BASE}/live`),
      connection,
    );
    assert.equal(none.response.status, 455, method);
    const wrong = sessions.handle(
      0,
      request(method, `${BASE}/live`, [["Session", "nope"]]),
      connection,
    );
    assert.equal(wrong.response.status, 454, method);
  }
  const keepAlive = sessions.handle(
    0,
    request("GET_PARAMETER", `${BASE}/live`, [["Session", "nope"]]),
    connection,
  );
  assert.equal(keepAlive.response.status, 454);
  assert.equal(
    sessions.handle(0, request("GET_PARAMETER", `${BASE}/live`), connection)
      .response.status,
    200,
  );
});

Deno.test("RtspSessions answers 405, 501, 551 and 451 for what a camera does not do", () => {
  const sessions = machine();
  const announce = sessions.handle(
    0,
    request("ANNOUNCE", `${BASE}/live`),
    connection,
  );
  assert.equal(announce.response.status, 405);
  assert.match(header(announce, "Allow")!, /DESCRIBE/);
  assert.equal(
    sessions.handle(0, request("RECORD", `${BASE}/live`), connection).response
      .status,
    405,
  );
  assert.equal(
    sessions.handle(0, request("FLY", `${BASE}/live`), connection).response
      .status,
    501,
  );
  const require = sessions.handle(
    0,
    request("DESCRIBE", `${BASE}/live`, [["Require", "funky-feature"]]),
    connection,
  );
  assert.equal(require.response.status, 551);
  assert.equal(header(require, "Unsupported"), "funky-feature");
  assert.equal(
    sessions.handle(
      0,
      request("SET_PARAMETER", `${BASE}/live`, [], "brightness: 5\r\n"),
      connection,
    ).response.status,
    451,
  );
});

Deno.test("RtspSessions refuses to change a playing session's transport, and a second stream in one session", () => {
  const sessions = machine();
  setup(sessions);
  const change = sessions.handle(
    0,
    request("SETUP", `${BASE}/live/trackID=0`, [
      ["Session", "session1"],
      ["Transport", "RTP/AVP;unicast;client_port=6000-6001"],
    ]),
    connection,
  );
  assert.equal(change.response.status, 200, "a ready session may change");
  assert.equal(sessions.sessionAt("127.0.0.1:5000"), undefined);
  assert.equal(sessions.sessionAt("127.0.0.1:6000")?.id, "session1");
  sessions.handle(
    0,
    request("PLAY", `${BASE}/live`, [["Session", "session1"]]),
    connection,
  );
  const whilePlaying = sessions.handle(
    0,
    request("SETUP", `${BASE}/live/trackID=0`, [
      ["Session", "session1"],
      ["Transport", "RTP/AVP;unicast;client_port=7000-7001"],
    ]),
    connection,
  );
  assert.equal(whilePlaying.response.status, 455);
  sessions.handle(
    0,
    request("PAUSE", `${BASE}/live`, [["Session", "session1"]]),
    connection,
  );
  const otherStream = sessions.handle(
    0,
    request("SETUP", `${BASE}/127.0.0.1:5000/trackID=0`, [
      ["Session", "session1"],
      ["Transport", "RTP/AVP;unicast;client_port=7000-7001"],
    ]),
    connection,
  );
  assert.equal(otherStream.response.status, 459);
});

Deno.test("RtspSessions caps sessions with 503", () => {
  const sessions = machine({ maxSessions: 2 });
  assert.equal(setup(sessions).response.status, 200);
  assert.equal(setup(sessions).response.status, 200);
  const third = setup(sessions);
  assert.equal(third.response.status, 503);
  assert.match(String(third.response.body), /2 sessions/);
});

Deno.test("RtspSessions times out silent sessions, but not playing interleaved ones; requests and RTCP keep them", () => {
  const sessions = machine({ sessionTimeoutMs: 5000 });
  setup(sessions); // session1, UDP
  setup(sessions, "RTP/AVP/TCP;interleaved=0-1"); // session2
  setup(sessions, "RTP/AVP/TCP;interleaved=2-3"); // session3, stays ready
  for (const id of ["session1", "session2"]) {
    sessions.handle(
      0,
      request("PLAY", `${BASE}/live`, [["Session", id]]),
      connection,
    );
  }
  assert.equal(sessions.nextExpiry(), 5000);
  sessions.touch("session1", 3000);
  assert.deepEqual(sessions.expire(5000).map((s) => s.id), ["session3"]);
  sessions.handle(
    6000,
    request("GET_PARAMETER", `${BASE}/live`, [["Session", "session1"]]),
    connection,
  );
  assert.deepEqual(sessions.expire(10999).map((s) => s.id), []);
  assert.deepEqual(sessions.expire(11000).map((s) => s.id), ["session1"]);
  assert.equal(sessions.nextExpiry(), undefined);
  assert.deepEqual(sessions.dropConnection(1).map((s) => s.id), ["session2"]);
});

Deno.test("RtspSessions ends every session of a connection that closes, and no other", () => {
  const sessions = machine();
  setup(sessions);
  sessions.handle(
    0,
    request("SETUP", `${BASE}/live/trackID=0`, [[
      "Transport",
      "RTP/AVP;unicast;client_port=8000-8001",
    ]]),
    other,
  );
  assert.deepEqual(sessions.dropConnection(1).map((s) => s.id), ["session1"]);
  assert.equal(sessions.size, 1);
  assert.deepEqual(sessions.clear().map((s) => s.id), ["session2"]);
});

Deno.test("RtspSessions asks for Digest credentials on every method but OPTIONS", () => {
  const auth = new DigestAuth({ username: "cam", password: "pw" });
  const sessions = machine({ auth });
  assert.equal(
    sessions.handle(0, request("OPTIONS", "*"), connection).response.status,
    200,
  );
  const refused = sessions.handle(
    0,
    request("DESCRIBE", `${BASE}/live`),
    connection,
  );
  assert.equal(refused.response.status, 401);
  const challenge = header(refused, "WWW-Authenticate")!;
  const answer = (password: string) =>
    digestAuthorization(challenge, {
      username: "cam",
      password,
      method: "DESCRIBE",
      uri: `${BASE}/live`,
    });
  const wrong = sessions.handle(
    0,
    request("DESCRIBE", `${BASE}/live`, [["Authorization", answer("nope")]]),
    connection,
  );
  assert.equal(wrong.response.status, 401);
  const right = sessions.handle(
    0,
    request("DESCRIBE", `${BASE}/live`, [["Authorization", answer("pw")]]),
    connection,
  );
  assert.equal(right.response.status, 200);
  const unauthenticatedSetup = setup(sessions);
  assert.equal(unauthenticatedSetup.response.status, 401);
  assert.equal(sessions.size, 0);
});

Deno.test("RtspSessions takes an expired nonce for the session it set up, and asks a new one otherwise", () => {
  const auth = new DigestAuth({ username: "cam", password: "pw" }, {
    nonceLifetimeMs: 1000,
  });
  const sessions = machine({ auth });
  const [challenge] = auth.challenge(0);
  const answer = (method: string, uri: string) =>
    digestAuthorization(challenge!, {
      username: "cam",
      password: "pw",
      method,
      uri,
    });
  const setupUri = `${BASE}/live/trackID=0`;
  const set = sessions.handle(
    0,
    request("SETUP", setupUri, [
      ["Transport", "RTP/AVP;unicast;client_port=5000-5001"],
      ["Authorization", answer("SETUP", setupUri)],
    ]),
    connection,
  );
  assert.equal(set.response.status, 200);
  const keepAlive = (headers: [string, string][]) =>
    sessions.handle(
      5000,
      request("GET_PARAMETER", `${BASE}/live`, [
        ["Authorization", answer("GET_PARAMETER", `${BASE}/live`)],
        ...headers,
      ]),
      connection,
    );
  assert.equal(keepAlive([["Session", "session1"]]).response.status, 200);
  const fresh = keepAlive([]);
  assert.equal(fresh.response.status, 401);
  assert.match(header(fresh, "WWW-Authenticate")!, /stale=TRUE/);
  assert.equal(keepAlive([["Session", "unknown"]]).response.status, 401);
});
