/**
 * Fuzz targets of sealing: the receive path of a sealed datagram
 * (`docs/PROTOCOL.md`, "Receiving a sealed datagram": header, counter,
 * replay window, `open`, accept) on mutated, replayed, reflected and
 * wrongly keyed datagrams beside a good sender's; the `ReplayWindow`
 * against a model; and `parseKey` on random text.
 *
 * Until the stream protocol seals its datagrams, the header here is a
 * 16-byte stand-in with the fields sealing reads: 4 opaque bytes, the
 * stream id and the 8-byte counter, all authenticated.
 *
 * @module
 */

import { type Aead, TAG_BYTES } from "../../../lib/crypto/aead.ts";
import { formatKey, parseKey } from "../../../lib/crypto/key_file.ts";
import {
  MAX_COUNTER,
  readCounter,
  writeCounter,
} from "../../../lib/crypto/nonce.ts";
import {
  type ReplayVerdict,
  ReplayWindow,
} from "../../../lib/crypto/replay_window.ts";
import { createStreamAead } from "../../../lib/crypto/stream_aead.ts";
import {
  type Field,
  interleave,
  mutate,
  mutateSequence,
  randomDatagram,
} from "../mutate.ts";
import { Prng } from "../prng.ts";
import {
  type FuzzDatagram,
  type FuzzTarget,
  GOOD,
  invariant,
  param,
  sameBytes,
} from "../target.ts";

const HEADER = 16;
const SHARED_KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const OTHER_KEY = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
const PREFIX = [0x55, 0x49, 0x01, 0x80];
const SEALED_FIELDS: readonly Field[] = [
  { offset: 0, size: 4 },
  { offset: 4, size: 4 },
  { offset: 8, size: 8 },
  { offset: 12, size: 4 },
];

type Implementation = "auto" | "node";
const aeads = new Map<string, Aead>();

/** One AEAD per key, role and implementation, made once: opening is the hot path. */
function aead(
  key: Uint8Array,
  role: "sender" | "receiver",
  implementation: Implementation,
): Aead {
  const name = `${key[0]}-${role}-${implementation}`;
  let made = aeads.get(name);
  if (made === undefined) {
    made = createStreamAead(key, role, { implementation });
    aeads.set(name, made);
  }
  return made;
}

/** The plaintext the good sender seals as packet `counter` of `streamId`. */
function plaintext(
  streamId: number,
  counter: number,
  length: number,
): Uint8Array {
  return new Prng((streamId ^ Math.imul(counter + 1, 0x9e3779b1)) >>> 0).bytes(
    length,
  );
}

function seal(
  sealer: Aead,
  streamId: number,
  counter: number,
  payload: Uint8Array,
): Uint8Array {
  const packet = new Uint8Array(HEADER + payload.length + TAG_BYTES);
  packet.set(PREFIX);
  new DataView(packet.buffer).setUint32(4, streamId);
  writeCounter(packet, counter, 8);
  packet.set(payload, HEADER);
  sealer.seal(streamId, counter, packet, HEADER, payload.length);
  return packet;
}

/** The sealed-datagram receive path. */
export const cryptoOpenTarget: FuzzTarget = {
  name: "crypto-open",
  about:
    "the sealed receive path (counter, ReplayWindow, createStreamAead().open) on forged, replayed and reflected datagrams beside a good sender",
  weight: 2,
  generate: (rng) => {
    const implementation: Implementation = rng.chance(0.15) ? "node" : "auto";
    const sender = aead(SHARED_KEY, "sender", implementation);
    const streams = rng.chance(0.7)
      ? [rng.u32()]
      : [rng.pick([0, 0xffff_ffff]), rng.u32()];
    const good: FuzzDatagram[] = [];
    const count = 1 + rng.below(48);
    const next = streams.map(() => 0);
    for (let n = 0; n < count; n++) {
      const s = rng.below(streams.length);
      const streamId = streams[s]!;
      const counter = next[s]!++;
      const length = rng.length(1400);
      good.push({
        from: GOOD,
        dtMs: 0,
        bytes: seal(
          sender,
          streamId,
          counter,
          plaintext(streamId, counter, length),
        ),
      });
    }
    const genuine = good.map((d) => d.bytes);
    const hostile: FuzzDatagram[] = [];
    const hostileCount = rng.length(200);
    const reflector = aead(SHARED_KEY, "receiver", implementation);
    const stranger = aead(OTHER_KEY, "sender", implementation);
    while (hostile.length < hostileCount) {
      const kind = rng.below(12);
      let bytes: Uint8Array;
      if (kind === 0) {
        bytes = rng.pick(genuine); // a replay, exactly
      } else if (kind === 1 || kind === 2) {
        // Sealed for the other direction, or under another key.
        const streamId = rng.chance(0.5) ? rng.pick(streams) : rng.u32();
        const counter = rng.chance(0.5)
          ? rng.below(count)
          : rng.below(MAX_COUNTER);
        bytes = seal(
          kind === 1 ? reflector : stranger,
          streamId,
          counter,
          plaintext(streamId, counter, rng.length(1400)),
        );
      } else if (kind === 3) {
        bytes = randomDatagram(rng, 2048);
      } else {
        bytes = mutate(rng, rng.pick(genuine), {
          fields: SEALED_FIELDS,
          others: genuine,
        });
      }
      hostile.push({ from: 1, dtMs: 0, bytes });
    }
    if (rng.chance(0.3)) mutateSequence(rng, hostile);
    return {
      datagrams: interleave(rng, good, hostile),
      params: { node: implementation === "node" ? 1 : 0 },
    };
  },
  run: (input) => {
    const implementation: Implementation = param(input, "node", 0) === 1
      ? "node"
      : "auto";
    const receiver = aead(SHARED_KEY, "receiver", implementation);
    const genuine = new Map<string, Uint8Array>();
    for (const d of input.datagrams) {
      if (d.from !== GOOD) continue;
      const view = new DataView(d.bytes.buffer, d.bytes.byteOffset);
      genuine.set(`${view.getUint32(4)}:${readCounter(d.bytes, 8)}`, d.bytes);
    }
    const windows = new Map<number, ReplayWindow>();
    const delivered = new Map<string, number>();
    for (const d of input.datagrams) {
      // Opening works in place: on a copy, as on the server's receive buffer.
      const packet = d.bytes.slice();
      if (packet.length < HEADER + TAG_BYTES) continue;
      const counter = readCounter(packet, 8);
      if (counter < 0) continue;
      const streamId = new DataView(packet.buffer).getUint32(4);
      let window = windows.get(streamId);
      if (window === undefined) {
        windows.set(streamId, window = new ReplayWindow());
      }
      if (window.check(counter) !== "ok") continue;
      const length = receiver.open(
        streamId,
        counter,
        packet,
        HEADER,
        packet.length,
      );
      const key = `${streamId}:${counter}`;
      if (length < 0) {
        invariant(
          packet.subarray(HEADER, packet.length - TAG_BYTES).every((b) =>
            b === 0
          ),
          "a refused datagram's payload was left in the buffer",
        );
        continue;
      }
      const original = genuine.get(key);
      invariant(
        original !== undefined && sameBytes(d.bytes, original),
        () =>
          `a forged datagram opened: stream ${streamId}, counter ${counter}, ${d.bytes.length} bytes`,
      );
      invariant(
        length === packet.length - HEADER - TAG_BYTES,
        `open returned ${length}`,
      );
      invariant(
        sameBytes(
          packet.subarray(HEADER, HEADER + length),
          plaintext(streamId, counter, length),
        ),
        "a genuine datagram opened to other bytes",
      );
      invariant(
        window.accept(counter) === "ok",
        "the window refused what it had just let through",
      );
      delivered.set(key, (delivered.get(key) ?? 0) + 1);
    }
    for (const key of genuine.keys()) {
      invariant(
        delivered.get(key) === 1,
        `good datagram ${key} was delivered ${delivered.get(key) ?? 0} times`,
      );
    }
  },
};

const WINDOW_SIZES = [32, 64, 96, 4096, 1 << 20];

/** A counter field on the wire, and whether the receiver accepts or only checks it. */
function counterDatagram(counter: number, accept: boolean): Uint8Array {
  const bytes = new Uint8Array(9);
  writeCounter(bytes, counter);
  bytes[8] = accept ? 0 : 1;
  return bytes;
}

/** `ReplayWindow` against a set of what was accepted. */
export const cryptoReplayWindowTarget: FuzzTarget = {
  name: "crypto-replay-window",
  about:
    "ReplayWindow.check/accept on reordered, repeated and jumping counters from the wire, against a model",
  generate: (rng) => {
    const size = rng.pick(WINDOW_SIZES);
    const start = rng.pick([
      0,
      0,
      rng.below(1 << 30),
      MAX_COUNTER - 5000,
      rng.below(MAX_COUNTER),
    ]);
    const counters: number[] = [];
    let at = start;
    const count = 1 + rng.length(600);
    for (let n = 0; n < count; n++) {
      const step = rng.pick([
        1,
        1,
        1,
        2,
        0,
        -1,
        size - 1,
        size,
        size + 1,
        -(size - 1),
        -size,
        -(size + 1),
        31,
        32,
        33,
        rng.below(1 << 20),
      ]);
      at = Math.min(MAX_COUNTER, Math.max(0, at + step));
      counters.push(at);
    }
    if (rng.chance(0.6)) mutateSequence(rng, counters);
    const datagrams = counters.map((counter) => {
      let bytes = counterDatagram(counter, rng.chance(0.8));
      if (rng.chance(0.05)) {
        bytes = mutate(rng, bytes, { fields: [{ offset: 0, size: 8 }] });
      }
      return { from: 1, dtMs: 0, bytes };
    });
    return { datagrams, params: { size } };
  },
  run: (input) => {
    const size = param(input, "size", 4096);
    const window = new ReplayWindow({ size });
    const accepted = new Set<number>();
    let highest = -1;
    for (const { bytes } of input.datagrams) {
      // The receive path drops a datagram too short for its counter, or beyond 2^53 − 1.
      if (bytes.length < 8) continue;
      const counter = readCounter(bytes, 0);
      if (counter < 0) continue;
      const expected: ReplayVerdict = counter > highest
        ? "ok"
        : highest - counter >= size
        ? "too-old"
        : accepted.has(counter)
        ? "replayed"
        : "ok";
      const accept = bytes[8] !== 1;
      const verdict = accept ? window.accept(counter) : window.check(counter);
      invariant(
        verdict === expected,
        `counter ${counter} (highest ${highest}, window ${size}): ${verdict}, expected ${expected}`,
      );
      if (accept && verdict === "ok") {
        accepted.add(counter);
        highest = Math.max(highest, counter);
      }
      invariant(
        window.highest === highest,
        `highest ${window.highest}, expected ${highest}`,
      );
    }
  },
};

const KEY_TEXT = formatKey(SHARED_KEY);
const BASE64 =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
const ODD = [
  " ",
  "\t",
  "\r",
  "\n",
  "\r\n",
  "\ufeff",
  "\u00a0",
  "\u2028",
  "\u0000",
  "=",
  "==",
  "-",
  "_",
  "é",
  "\ud83d",
  "\ud83d\ude00",
  "0x",
];

/** `parseKey` on key files' text, mutated and random. */
export const cryptoKeyFileTarget: FuzzTarget = {
  name: "crypto-key-file",
  about:
    "parseKey on mutated key-file text: 32 bytes, or a plain Error of one line",
  generate: (rng) => {
    const datagrams = [];
    const count = 1 + rng.below(16);
    const encoder = new TextEncoder();
    for (let n = 0; n < count; n++) {
      let text = rng.chance(0.1)
        ? "0123456789abcdef".repeat(4)
        : rng.chance(0.1)
        ? KEY_TEXT.repeat(1 + rng.below(3))
        : KEY_TEXT;
      const edits = 1 + rng.below(4);
      for (let e = 0; e < edits; e++) {
        const at = rng.below(text.length + 1);
        const piece = rng.chance(0.6)
          ? BASE64[rng.below(BASE64.length)]!
          : rng.pick(ODD);
        const cut = rng.below(3);
        text = text.slice(0, at) + (rng.chance(0.8) ? piece : "") +
          text.slice(at + cut);
      }
      const bytes = rng.chance(0.1)
        ? mutate(rng, encoder.encode(text), { maxLength: 1024 })
        : encoder.encode(text);
      datagrams.push({ from: 1, dtMs: 0, bytes });
    }
    return { datagrams, params: {} };
  },
  run: (input) => {
    const decoder = new TextDecoder();
    for (const { bytes } of input.datagrams) {
      const text = decoder.decode(bytes);
      let key: Uint8Array;
      try {
        key = parseKey(text, "k.key");
      } catch (error) {
        invariant(
          error instanceof Error && error.constructor === Error &&
            error.message.startsWith("Key file k.key ") &&
            !/[\r\n\u2028\u2029]/.test(error.message),
          () =>
            `parseKey threw ${
              error instanceof Error
                ? `${error.constructor.name}: ${JSON.stringify(error.message)}`
                : error
            }`,
        );
        continue;
      }
      invariant(key.length === 32, `a ${key.length}-byte key`);
      invariant(
        sameBytes(parseKey(formatKey(key)), key),
        "the key does not survive formatKey and parseKey",
      );
    }
  },
};
