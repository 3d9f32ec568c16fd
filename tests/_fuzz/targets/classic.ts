/**
 * Fuzz targets of the classic protocol: the `Reassembler`, the
 * `ClassicReceiver` the server drives, and the message port's
 * `handleMessage`.
 *
 * @module
 */

import { frameDatagrams } from "../../../lib/classic/client.ts";
import { MESSAGE_REPLY } from "../../../lib/classic/constants.ts";
import { handleMessage } from "../../../lib/classic/message.ts";
import {
  DROP_REASONS,
  Reassembler,
  type ReassemblerEvent,
} from "../../../lib/classic/reassembler.ts";
import { ClassicReceiver } from "../../../lib/classic/receiver.ts";
import { sniffFormat } from "../../../lib/codec/types.ts";
import type { Corpus } from "../corpus.ts";
import { type Field, mutate, randomDatagram } from "../mutate.ts";
import type { Prng } from "../prng.ts";
import {
  type GoodStream,
  receiverCase,
  receiverTarget,
  type ReceiverTargetSpec,
  timed,
} from "../receivers.ts";
import {
  type FuzzCase,
  type FuzzTarget,
  GOOD,
  hostileSenders,
  invariant,
  keyOf,
  param,
  sameBytes,
} from "../target.ts";

/**
 * The classic limits under fuzzing: the server's defaults scaled down, so
 * that floods reach them in a few thousand datagrams, yet every corpus
 * image fits.
 */
export const CLASSIC_LIMITS = {
  maxFrameBytes: 1024 * 1024,
  maxPendingBytes: 4 * 1024 * 1024,
  maxSenders: 16,
  timeoutMs: 3000,
} as const;

/** The header fields of a classic datagram: 8 or 4 bytes, little-endian. */
const CLASSIC_FIELDS: readonly Field[] = [
  { offset: 0, size: 8, littleEndian: true },
  { offset: 0, size: 4, littleEndian: true },
];

/** A few corpus images as a classic client sends them: whole, or chunked. */
export function classicGoodStream(rng: Prng, corpus: Corpus): GoodStream {
  const frames: Uint8Array[][] = [];
  const images: Uint8Array[] = [];
  const count = 1 + rng.below(3);
  for (let n = 0; n < count; n++) {
    const from = rng.chance(0.8) ? corpus.smallImages : corpus.images;
    const image = rng.pick(from).bytes;
    images.push(image);
    frames.push(classicFrame(rng, corpus, image));
  }
  return { frames, images, maxFrameMs: CLASSIC_LIMITS.timeoutMs };
}

function classicFrame(
  rng: Prng,
  corpus: Corpus,
  image: Uint8Array = rng.pick(
    rng.chance(0.8) ? corpus.smallImages : corpus.images,
  ).bytes,
): Uint8Array[] {
  if (image.length <= 65507 && rng.chance(0.3)) {
    return frameDatagrams(image, { single: true });
  }
  // At most 2000 chunks, so that a case stays quick.
  const least = Math.max(9, Math.ceil(image.length / 2000));
  const chunkSize = Math.max(
    least,
    rng.pick([1024, 1024, 1024, 1400, 9, 4096, 65507, rng.int(9, 8192)]),
  );
  return frameDatagrams(image, { chunkSize });
}

/** The classic receiver as the server builds it, with the fuzzing limits. */
function classicReceiver(): ClassicReceiver {
  return new ClassicReceiver(CLASSIC_LIMITS);
}

/** The classic receiver's spec, shared by the receiver and reassembler targets. */
export const classicSpec: ReceiverTargetSpec = {
  name: "classic-receiver",
  about:
    "ClassicReceiver (as the server drives it, virtual clock) on mutated classic datagrams beside a good sender",
  weight: 3,
  receivers: () => [classicReceiver()],
  demuxSenders: false,
  maxFrameBytes: CLASSIC_LIMITS.maxFrameBytes,
  // Three senders of 1 MiB partial frames and the good one fit in 4 MiB.
  safeSenders: 3,
  good: classicGoodStream,
  seeds: (corpus) => corpus.classic,
  hostileStream: (rng, corpus) => classicFrame(rng, corpus),
  fields: () => CLASSIC_FIELDS,
  bounds: (receivers) => {
    for (const receiver of receivers) {
      if (!(receiver instanceof ClassicReceiver)) continue;
      checkClassicBounds(receiver.pendingSenders, receiver.pendingBytes);
    }
  },
};

function checkClassicBounds(senders: number, bytes: number): void {
  invariant(
    senders >= 0 && senders <= CLASSIC_LIMITS.maxSenders,
    `${senders} senders have a partial frame, limit ${CLASSIC_LIMITS.maxSenders}`,
  );
  invariant(
    bytes >= 0 && bytes <= CLASSIC_LIMITS.maxPendingBytes,
    `partial frames reserve ${bytes} bytes, limit ${CLASSIC_LIMITS.maxPendingBytes}`,
  );
}

/** `ClassicReceiver`, fed as the server feeds it. */
export const classicReceiverTarget: FuzzTarget = receiverTarget(classicSpec);

/** `Reassembler`, fed directly, with its events and counters checked one by one. */
export const classicReassemblerTarget: FuzzTarget = {
  name: "classic-reassembler",
  about:
    "Reassembler.push/sweep on mutated classic datagrams beside a good sender: events, counters, bounds",
  weight: 3,
  generate: (rng, corpus) => receiverCase(rng, corpus, classicSpec),
  run: runReassemblerCase,
};

function runReassemblerCase(input: FuzzCase): void {
  const all = timed(input.datagrams);
  const mixed = reassemble(all);
  const goodFrames = param(input, "goodFrames", 0);
  if (goodFrames === 0 || hostileSenders(input) > classicSpec.safeSenders) {
    return;
  }
  const alone = reassemble(all.filter((d) => d.from === GOOD));
  invariant(
    alone.length === goodFrames,
    `the good sender sent ${goodFrames} frames; alone, ${alone.length} arrived`,
  );
  invariant(
    mixed.length === goodFrames,
    `the good sender sent ${goodFrames} frames; among hostile datagrams, ${mixed.length} arrived`,
  );
  for (let i = 0; i < goodFrames; i++) {
    invariant(
      sameBytes(mixed[i]!, alone[i]!),
      `good frame ${i} arrived altered among hostile datagrams`,
    );
  }
}

/** Feeds a reassembler; returns the good sender's frames. */
function reassemble(
  datagrams: readonly { at: number; from: number; bytes: Uint8Array }[],
): Uint8Array[] {
  const reassembler = new Reassembler(CLASSIC_LIMITS);
  const good: Uint8Array[] = [];
  const goodKey = keyOf(GOOD);
  const seen = { frames: 0, bytes: 0, dropped: 0, strays: 0 };
  const check = (
    events: readonly ReassemblerEvent[],
    datagram?: Uint8Array,
  ) => {
    for (const event of events) {
      switch (event.type) {
        case "frame":
          seen.frames++;
          seen.bytes += event.bytes.length;
          invariant(
            event.bytes.length > 0 &&
              event.bytes.length <= CLASSIC_LIMITS.maxFrameBytes,
            `a ${event.bytes.length}-byte frame`,
          );
          invariant(
            event.format === sniffFormat(event.bytes),
            `a frame said to be ${event.format}`,
          );
          if (event.sender === goodKey) good.push(event.bytes);
          break;
        case "dropped":
          seen.dropped++;
          invariant(
            DROP_REASONS.includes(event.reason),
            `drop reason ${event.reason}`,
          );
          if (event.reason === "bad-size") {
            invariant(
              event.received === 0 &&
                !(event.announced > 0 &&
                  event.announced <= CLASSIC_LIMITS.maxFrameBytes),
              `a bad-size drop of a header announcing ${event.announced} bytes, ${event.received} received`,
            );
          } else {
            invariant(
              event.announced > 0 &&
                event.announced <= CLASSIC_LIMITS.maxFrameBytes &&
                event.received >= 0 && event.received < event.announced,
              `a ${event.reason} drop with ${event.received} of ${event.announced} bytes`,
            );
          }
          break;
        case "stray":
          seen.strays++;
          invariant(
            datagram !== undefined && event.length === datagram.length,
            `a stray of ${event.length} bytes for a ${datagram?.length}-byte datagram`,
          );
      }
    }
    const stats = reassembler.stats;
    const byReason = DROP_REASONS.reduce(
      (sum, r) => sum + stats.droppedBy[r],
      0,
    );
    invariant(
      stats.frames === seen.frames && stats.bytes === seen.bytes &&
        stats.dropped === seen.dropped && stats.strays === seen.strays &&
        byReason === stats.dropped,
      () =>
        `the counters ${JSON.stringify(stats)} disagree with the events ${
          JSON.stringify(seen)
        }`,
    );
    checkClassicBounds(reassembler.pendingSenders, reassembler.pendingBytes);
  };
  let last = 0;
  for (const { at, from, bytes } of datagrams) {
    // Sweep now and then, as the server's timer does, between datagrams.
    if (at - last >= 500) check(reassembler.sweep(at));
    last = at;
    check(reassembler.push(bytes, keyOf(from), at), bytes);
  }
  check(reassembler.sweep(last + CLASSIC_LIMITS.timeoutMs + 1));
  invariant(
    reassembler.pendingSenders === 0 && reassembler.pendingBytes === 0,
    `after every timeout, ${reassembler.pendingSenders} partial frames still reserve ${reassembler.pendingBytes} bytes`,
  );
  return good;
}

const OK_REPLY = new TextEncoder().encode(MESSAGE_REPLY);
const utf8 = new TextDecoder();
/** What a terminal or a log would take for a line break or an escape. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** `handleMessage`, on mutated JSON and random bytes. */
export const classicMessageTarget: FuzzTarget = {
  name: "classic-message",
  about:
    "handleMessage (the message port) on mutated JSON and random bytes: a reply always, errors in one printable line",
  generate: (rng, corpus) => {
    const datagrams = [];
    const count = 1 + rng.below(16);
    for (let n = 0; n < count; n++) {
      const kind = rng.below(10);
      const bytes = kind === 0
        ? randomDatagram(rng, 4096)
        : kind === 1
        ? rng.pick(corpus.messages)
        : mutate(rng, rng.pick(corpus.messages), {
          others: corpus.messages,
          maxLength: 65507,
        });
      datagrams.push({ from: 1, dtMs: 0, bytes });
    }
    return { datagrams, params: {} };
  },
  run: (input) => {
    for (const { bytes } of input.datagrams) {
      const { message, reply } = handleMessage(bytes, "10.1.0.1:6000");
      if (message.ok) {
        invariant(
          sameBytes(reply, OK_REPLY),
          "a parsed message not answered `get the msg`",
        );
        continue;
      }
      const text = utf8.decode(reply);
      invariant(
        text === `error: ${message.error}`,
        `the reply ${JSON.stringify(text)} is not the error`,
      );
      invariant(
        !CONTROL.test(message.error),
        () =>
          `the error holds a control character or line break: ${
            JSON.stringify(message.error)
          }`,
      );
      invariant(reply.length <= 1024, `a ${reply.length}-byte error reply`);
    }
  },
};
