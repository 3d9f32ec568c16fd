import assert from "node:assert/strict";
import fc from "fast-check";
import {
  RtspMessageReader,
  type RtspReadItem,
  writeInterleaved,
  writeRtspRequest,
  writeRtspResponse,
} from "../lib/rtsp/message.ts";

const encode = (text: string) => new TextEncoder().encode(text);

function readAll(reader: RtspMessageReader): RtspReadItem[] {
  const items: RtspReadItem[] = [];
  for (let item = reader.next(); item; item = reader.next()) {
    // Interleaved data is a view that the next push may move: copy it.
    items.push(
      item.type === "interleaved" ? { ...item, data: item.data.slice() } : item,
    );
  }
  return items;
}

Deno.test("RtspMessageReader reads requests, bodies and interleaved frames in any chunking", () => {
  const describe = writeRtspRequest({
    method: "DESCRIBE",
    uri: "rtsp://127.0.0.1:8554/live",
    headers: [["CSeq", "2"], ["Accept", "application/sdp"]],
  });
  const setParameter = writeRtspRequest({
    method: "SET_PARAMETER",
    uri: "rtsp://127.0.0.1:8554/live",
    headers: [["CSeq", "3"]],
    body: "a: b\r\n",
  });
  const rtcp = writeInterleaved(1, [new Uint8Array([0x81, 0xc9, 0, 1])]);
  const stream = new Uint8Array([...describe, ...rtcp, ...setParameter]);
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), {
        maxLength: 12,
      }),
      (cuts) => {
        const reader = new RtspMessageReader();
        const items: RtspReadItem[] = [];
        let from = 0;
        for (const at of [...cuts.sort((a, b) => a - b), stream.length]) {
          reader.push(stream.subarray(from, at));
          items.push(...readAll(reader));
          from = at;
        }
        assert.deepEqual(items.map((i) => i.type), [
          "request",
          "interleaved",
          "request",
        ]);
        const [first, second, third] = items;
        assert.ok(first?.type === "request");
        assert.equal(first.request.method, "DESCRIBE");
        assert.equal(first.request.headers.get("accept"), "application/sdp");
        assert.ok(second?.type === "interleaved");
        assert.deepEqual([second.channel, ...second.data], [
          1,
          0x81,
          0xc9,
          0,
          1,
        ]);
        assert.ok(third?.type === "request");
        assert.equal(new TextDecoder().decode(third.request.body), "a: b\r\n");
        assert.equal(reader.pendingBytes, 0);
      },
    ),
  );
});

Deno.test("RtspMessageReader accepts bare LF line ends and empty lines between messages", () => {
  const reader = new RtspMessageReader();
  reader.push(encode("\r\n\r\nOPTIONS * RTSP/1.0\nCSeq: 7\n\n"));
  const [item] = readAll(reader);
  assert.ok(item?.type === "request");
  assert.equal(item.request.uri, "*");
  assert.equal(item.request.headers.get("CSeq"), "7");
});

Deno.test("RtspMessageReader answers malformed requests with the right status and keeps reading", () => {
  const cases: [string, number, string | undefined][] = [
    ["garbage\r\n\r\n", 400, undefined],
    ["OPTIONS * RTSP/1.0\r\n\r\n", 400, undefined],
    ["OPTIONS * RTSP/1.0\r\nCSeq: x\r\n\r\n", 400, "x"],
    ["OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n", 505, "1"],
    ["OPTIONS * HTTP/1.1\r\nCSeq: 1\r\n\r\n", 505, "1"],
    ["OPTIONS  * RTSP/1.0\r\nCSeq: 1\r\n\r\n", 400, "1"],
    ["OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nno colon here\r\n\r\n", 400, "1"],
    // A bare CR must not reach what is echoed back.
    ["OPTIONS * RTSP/1.0\r\nCSeq: 1\rX: y\r\n\r\n", 400, undefined],
    ["OPTIONS rtsp://h/\ra RTSP/1.0\r\nCSeq: 3\r\n\r\n", 400, "3"],
    [
      `DESCRIBE rtsp://h/${"a".repeat(3000)} RTSP/1.0\r\nCSeq: 2\r\n\r\n`,
      414,
      "2",
    ],
  ];
  for (const [text, status, cseq] of cases) {
    const reader = new RtspMessageReader();
    reader.push(encode(text + "OPTIONS * RTSP/1.0\r\nCSeq: 9\r\n\r\n"));
    const [error, next] = readAll(reader);
    assert.ok(error?.type === "error", text);
    assert.deepEqual([error.status, error.cseq, error.fatal], [
      status,
      cseq,
      false,
    ], text);
    assert.ok(next?.type === "request", `${text} then a good request`);
  }
});

Deno.test("RtspMessageReader gives up, fatally, on headers or bodies past their limits", () => {
  const huge = new RtspMessageReader({ maxHeaderBytes: 1024 });
  huge.push(encode(`OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX: ${"y".repeat(2000)}`));
  const [error] = readAll(huge);
  assert.ok(error?.type === "error");
  assert.deepEqual([error.status, error.fatal], [400, true]);
  huge.push(encode("OPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n"));
  assert.equal(huge.next(), undefined, "nothing is read after a fatal error");
  assert.equal(huge.pendingBytes, 0);

  const body = new RtspMessageReader({ maxBodyBytes: 100 });
  body.push(
    encode(
      "SET_PARAMETER * RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 101\r\n\r\n",
    ),
  );
  const [tooLarge] = readAll(body);
  assert.ok(tooLarge?.type === "error");
  assert.deepEqual([tooLarge.status, tooLarge.cseq, tooLarge.fatal], [
    413,
    "3",
    true,
  ]);

  const negative = new RtspMessageReader();
  negative.push(
    encode("SET_PARAMETER * RTSP/1.0\r\nCSeq: 4\r\nContent-Length: -1\r\n\r\n"),
  );
  const [bad] = readAll(negative);
  assert.ok(bad?.type === "error" && bad.status === 400 && bad.fatal);
});

Deno.test("RtspMessageReader holds at most the header limit while a request is incomplete", () => {
  const reader = new RtspMessageReader({ maxHeaderBytes: 4096 });
  let failed = false;
  for (let i = 0; i < 1000 && !failed; i++) {
    reader.push(encode("X-Slow: yes\r\n"));
    const item = reader.next();
    failed = item?.type === "error";
    assert.ok(reader.pendingBytes <= 4096 + 13);
  }
  assert.ok(failed);
});

Deno.test("RtspMessageReader reads responses with several WWW-Authenticate headers", () => {
  const reader = new RtspMessageReader({ kind: "response" });
  reader.push(writeRtspResponse({
    status: 401,
    headers: [
      ["CSeq", "1"],
      ["WWW-Authenticate", 'Digest realm="r", nonce="n"'],
      ["WWW-Authenticate", 'Basic realm="r"'],
    ],
    body: "no\r\n",
  }));
  const [item] = readAll(reader);
  assert.ok(item?.type === "response");
  assert.equal(item.response.status, 401);
  assert.equal(item.response.reason, "Unauthorized");
  assert.equal(item.response.headers.getAll("www-authenticate").length, 2);
  assert.equal(item.response.headers.get("Content-Length"), "4");
});

Deno.test("writers refuse what would break the message", () => {
  assert.throws(
    () =>
      writeRtspResponse({ status: 200, headers: [["X", "a\r\nInjected: 1"]] }),
    TypeError,
  );
  assert.throws(
    () => writeRtspRequest({ method: "GET PARAM", uri: "*" }),
    TypeError,
  );
  assert.throws(
    () => writeRtspRequest({ method: "OPTIONS", uri: "a b" }),
    TypeError,
  );
  assert.throws(() => writeRtspResponse({ status: 20 }), RangeError);
  assert.throws(() => writeInterleaved(256, []), RangeError);
  assert.throws(() => writeInterleaved(0, [new Uint8Array(65536)]), RangeError);
});
