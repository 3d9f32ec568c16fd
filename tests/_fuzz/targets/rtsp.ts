/**
 * Fuzz target of RTSP: the `RtspMessageReader` on mutated request streams
 * in pieces, and what the server answers to each item (the session state
 * machine, then `writeRtspResponse`).
 *
 * @module
 */

import {
  readErrorResponse,
  RtspMessageReader,
  type RtspReadItem,
  writeInterleaved,
  writeRtspRequest,
  writeRtspResponse,
} from "../../../lib/rtsp/message.ts";
import { RtspSessions } from "../../../lib/rtsp/session.ts";
import { DigestAuth } from "../../../lib/rtsp/digest.ts";
import { mutate, randomDatagram } from "../mutate.ts";
import type { Prng } from "../prng.ts";
import { concatBytes, type FuzzTarget, invariant, param } from "../target.ts";
import { chunked, joined } from "./capture.ts";

const LIMITS = { maxHeaderBytes: 2048, maxUriBytes: 512, maxBodyBytes: 4096 };
const URL = "rtsp://127.0.0.1:8554/live";

function requests(rng: Prng): Uint8Array[] {
  const session = rng.pick(["0123456789abcdef", "x", ""]);
  const all = [
    writeRtspRequest({ method: "OPTIONS", uri: "*", headers: [["CSeq", "1"]] }),
    writeRtspRequest({
      method: "DESCRIBE",
      uri: URL,
      headers: [["CSeq", "2"], ["Accept", "application/sdp"]],
    }),
    writeRtspRequest({
      method: "SETUP",
      uri: `${URL}/trackID=0`,
      headers: [["CSeq", "3"], [
        "Transport",
        rng.pick([
          "RTP/AVP/TCP;unicast;interleaved=0-1",
          "RTP/AVP;unicast;client_port=5000-5001",
          "RTP/AVP;multicast",
        ]),
      ]],
    }),
    writeRtspRequest({
      method: "PLAY",
      uri: URL,
      headers: [["CSeq", "4"], ["Session", session], ["Range", "npt=0-"]],
    }),
    writeInterleaved(1, [new Uint8Array([0x80, 201, 0, 1, 0, 0, 0, 1])]),
    writeRtspRequest({
      method: "GET_PARAMETER",
      uri: URL,
      headers: [["CSeq", "5"], ["Session", session]],
      body: "ping",
    }),
    writeRtspRequest({
      method: "DESCRIBE",
      uri: URL,
      headers: [["CSeq", "6"], [
        "Authorization",
        'Digest username="u", realm="udpimg", nonce="abc", uri="rtsp://127.0.0.1:8554/live", response="00112233445566778899aabbccddeeff"',
      ]],
    }),
    writeRtspRequest({
      method: "TEARDOWN",
      uri: URL,
      headers: [["CSeq", "7"], ["Session", session]],
    }),
  ];
  return all.filter(() => rng.chance(0.7));
}

/** Copies what the reader hands out as views, so that two runs compare. */
function settle(item: RtspReadItem): unknown {
  switch (item.type) {
    case "interleaved":
      return { ...item, data: [...item.data] };
    case "request":
      return {
        ...item.request,
        headers: [...item.request.headers.entries()],
        body: [...item.request.body],
      };
    case "response":
      return {
        ...item.response,
        headers: [...item.response.headers.entries()],
      };
    default:
      return item;
  }
}

function serve(chunks: readonly Uint8Array[], auth: boolean): unknown[] {
  const reader = new RtspMessageReader(LIMITS);
  const sessions = new RtspSessions({
    host: {
      resolve: (path) => path === "live" ? "live" : undefined,
      playInfo: () => ({ sequence: 1, timestamp: 0 }),
    },
    ...(auth && { auth: new DigestAuth({ username: "u", password: "p" }) }),
    serverPort: [8556, 8557],
    maxSessions: 4,
    randomId: (() => {
      let n = 0;
      return () => `s${n++}`;
    })(),
  });
  const connection = {
    id: 1,
    remote: { hostname: "10.1.0.1", port: 40000 },
    local: { hostname: "127.0.0.1", port: 8554 },
  };
  const items: unknown[] = [];
  let now = 0;
  for (const chunk of chunks) {
    reader.push(chunk);
    now += 1;
    for (let item; (item = reader.next()) !== undefined;) {
      items.push(settle(item));
      if (item.type === "error") {
        // As the server answers a request it cannot read.
        writeRtspResponse(readErrorResponse(item));
      } else if (item.type === "request") {
        writeRtspResponse(
          sessions.handle(now, item.request, connection).response,
        );
      }
    }
    invariant(
      reader.pendingBytes <=
        LIMITS.maxHeaderBytes + LIMITS.maxBodyBytes + 4 + 0xffff,
      `the reader holds ${reader.pendingBytes} bytes`,
    );
    invariant(sessions.size <= 4, `${sessions.size} sessions`);
  }
  return items;
}

/** `RtspMessageReader`, the sessions and the answers. */
export const rtspMessageTarget: FuzzTarget = {
  name: "rtsp-message",
  about:
    "RtspMessageReader on mutated request streams in pieces, and the server's answer to each item: never a throw, the same however cut",
  generate: (rng) => {
    const pieces = requests(rng).map((bytes) =>
      rng.chance(0.4) ? mutate(rng, bytes, { maxLength: 8192 }) : bytes
    );
    if (rng.chance(0.1)) pieces.push(randomDatagram(rng, 4096));
    let stream: Uint8Array = concatBytes(pieces);
    if (rng.chance(0.2)) stream = mutate(rng, stream, { maxLength: 16384 });
    return { datagrams: chunked(rng, stream), params: { auth: rng.below(2) } };
  },
  run: (input) => {
    const auth = param(input, "auth", 0) === 1;
    const cut = serve(input.datagrams.map((d) => d.bytes), auth);
    const whole = serve([joined(input)], auth);
    invariant(
      JSON.stringify(cut) === JSON.stringify(whole),
      `cut into ${input.datagrams.length} pieces the stream reads as ${cut.length} items, whole as ${whole.length}, or other items`,
    );
  },
};
