import assert from "node:assert/strict";
import {
  dropLine,
  frameFileName,
  frameLine,
  messageLine,
} from "../lib/cli/server_lines.ts";

const FRAME = {
  index: 7,
  bytes: new Uint8Array(1234),
  format: "png" as const,
  sender: "10.0.0.2:40000",
  image: undefined,
  decodeError: undefined,
};

Deno.test("frameLine gives the index, bytes, pixel size, format and sender", () => {
  const image = {
    width: 320,
    height: 240,
    channels: 3 as const,
    data: new Uint8Array(0),
  };
  assert.equal(
    frameLine({ ...FRAME, image }),
    "frame 7: 1234 bytes 320x240 png from 10.0.0.2:40000",
  );
  assert.equal(
    frameLine({ ...FRAME, format: undefined }),
    "frame 7: 1234 bytes ?x? unknown format from 10.0.0.2:40000",
  );
});

Deno.test("frameLine says why a frame could not be decoded", () => {
  assert.equal(
    frameLine({ ...FRAME, decodeError: new Error("truncated IDAT") }),
    "frame 7: 1234 bytes png from 10.0.0.2:40000: cannot decode: truncated IDAT",
  );
});

Deno.test("frameFileName pads the index to six digits and names the format's extension, bin when unknown", () => {
  assert.equal(frameFileName({ index: 1, format: "jpeg" }), "000001.jpg");
  assert.equal(frameFileName({ index: 1234567, format: "png" }), "1234567.png");
  assert.equal(frameFileName({ index: 12, format: undefined }), "000012.bin");
});

Deno.test("messageLine gives a message's JSON, or why it was not JSON", () => {
  assert.equal(
    messageLine({ sender: "h:1", ok: true, value: ["a", 2] }),
    'message from h:1: ["a",2]',
  );
  assert.equal(
    messageLine({ sender: "h:1", ok: false, error: "Unexpected end of JSON" }),
    "bad message from h:1: Unexpected end of JSON",
  );
});

Deno.test("dropLine tells a dropped frame from a stray datagram", () => {
  assert.equal(
    dropLine({
      type: "dropped",
      protocol: "classic",
      sender: "h:1",
      reason: "timeout",
      detail: "timed out with 3 of 5 chunks",
      frames: 1,
    }),
    "dropped a frame from h:1: timed out with 3 of 5 chunks",
  );
  assert.equal(
    dropLine({
      type: "stray",
      protocol: "rtp",
      sender: "h:1",
      length: 12,
      detail: "no frame",
    }),
    "stray 12-byte datagram from h:1: no frame",
  );
});
