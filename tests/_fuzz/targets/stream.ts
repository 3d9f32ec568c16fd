/**
 * Fuzz targets of the stream protocol: the `StreamReceiver` the server
 * drives, beside a good `StreamSender`'s stream, and the wire codec's
 * readers on mutated datagrams of every type.
 *
 * @module
 */

import { reportOf } from "../../_stream_report.ts";
import { StreamReceiver } from "../../../lib/stream/receiver.ts";
import { StreamSender } from "../../../lib/stream/sender.ts";
import {
  decodeMessage,
  decodeReport,
  decodeSenderReport,
  encodeMessage,
  encodeNacks,
  encodeReport,
  encodeSenderReport,
  FIXED_HEADER_BYTES,
  looksLikeStream,
  nackEntryCount,
  newChunkHeader,
  newFixedHeader,
  PacketType,
  readChunkHeader,
  readHeader,
  readNackEntry,
  writeChunkHeader,
  writeHeader,
} from "../../../lib/stream/wire.ts";
import type { Corpus } from "../corpus.ts";
import { type Field, interleave, mutate, randomDatagram } from "../mutate.ts";
import { Prng } from "../prng.ts";
import {
  type GoodStream,
  receiverTarget,
  type ReceiverTargetSpec,
} from "../receivers.ts";
import {
  countHostile,
  type FuzzTarget,
  GOOD,
  hostileSenders,
  invariant,
  keyOf,
  param,
  sameBytes,
} from "../target.ts";

/** The stream receiver's limits under fuzzing; the rest are its defaults. */
export const STREAM_LIMITS = {
  latencyMs: 120,
  maxFrameBytes: 256 * 1024,
  maxPendingBytes: 64 * 1024 * 1024,
  maxStreams: 256,
  reportIntervalMs: 100,
  // Hosts of 10.x are not this machine: clocks come from sender reports.
  isLocalAddress: () => false,
  wallClockOrigin: 0,
} as const;

/** The fixed header's fields, then a data chunk's. */
const STREAM_FIELDS: readonly Field[] = [
  { offset: 2, size: 1 }, // version
  { offset: 3, size: 1 }, // type
  { offset: 4, size: 1 }, // flags
  { offset: 8, size: 4 }, // stream id
  { offset: 12, size: 4 }, // packet number, high (with the direction bit)
  { offset: 16, size: 4 }, // packet number, low
  { offset: 20, size: 4 }, // frame id
  { offset: 24, size: 2 }, // chunk index
  { offset: 26, size: 2 }, // chunk count
  { offset: 28, size: 4 }, // frame length
  { offset: 32, size: 4 }, // CRC
  { offset: 36, size: 8 }, // timestamp
  { offset: 44, size: 4 }, // send offset
  { offset: 48, size: 2 }, // parity stride
  { offset: 50, size: 2 }, // parity group length
];

/** Images that fit the fuzzing frame limit. */
function streamImages(corpus: Corpus): Uint8Array[] {
  return corpus.images
    .filter((image) => image.bytes.length <= STREAM_LIMITS.maxFrameBytes)
    .map((image) => image.bytes);
}

/**
 * The datagrams a `StreamSender` sends for `frames`, one frame after
 * another, each as the pacer lets it out.
 */
function senderDatagrams(
  rng: Prng,
  frames: readonly Uint8Array[],
  streamId: number,
  key?: Uint8Array,
): Uint8Array[][] {
  const sender = new StreamSender({
    // Sealed: a seeded start instead of a random one, so a case replays.
    ...(key !== undefined &&
      { key, firstPacketNumber: rng.u32() * 1024 + rng.below(1024) }),
    peer: { hostname: "10.0.0.100", port: 9999 },
    streamId,
    datagramBytes: rng.pick([256, 1200, 1200, 8972]),
    fec: rng.pick([0, 0, 0, 2, 8]),
    maxRate: 1_250_000_000,
    initialRate: 1_250_000_000,
    adaptive: false,
    latencyMs: STREAM_LIMITS.latencyMs,
    wallClockOrigin: 0,
  });
  const out: Uint8Array[][] = [];
  let now = 0;
  for (const frame of frames) {
    const datagrams: Uint8Array[] = [];
    sender.sendFrame(now, frame);
    for (let rounds = 0; rounds < 100_000; rounds++) {
      sender.handleTimeout(now);
      for (let t; (t = sender.pollTransmit()) !== undefined;) {
        // A copy: the sender writes into its frame's block in place.
        datagrams.push(t.bytes.slice());
      }
      if (sender.stats.framesSent > out.length) break;
      const due = sender.pollTimeout();
      if (due === undefined) break;
      now = Math.max(now + 0.001, due);
    }
    out.push(datagrams);
    now += 33;
  }
  return out;
}

/** One to three frames as a `StreamSender` sends them. */
export function streamGoodStream(rng: Prng, corpus: Corpus): GoodStream {
  const images = streamImages(corpus);
  const count = 1 + rng.below(3);
  const frames = Array.from({ length: count }, () => rng.pick(images));
  return {
    frames: senderDatagrams(rng, frames, rng.u32()),
    images: frames,
    maxFrameMs: STREAM_LIMITS.latencyMs,
  };
}

/** Valid datagrams of every type: the sender's and the receiver's. */
function streamSeeds(corpus: Corpus): Uint8Array[] {
  const seeds: Uint8Array[] = [];
  const rng = new Prng(1);
  const small = streamImages(corpus).filter((b) => b.length <= 4096);
  for (const frames of senderDatagrams(rng, small.slice(0, 2), 0x0bad_5eed)) {
    seeds.push(...frames.slice(0, 3), frames.at(-1)!);
  }
  const withHeader = (bytes: Uint8Array, type: 3 | 4 | 5 | 6 | 7 | 8) => {
    writeHeader(
      bytes,
      type,
      0,
      0x0bad_5eed,
      type === 3 || type === 4 || type === 6,
      7,
    );
    return bytes;
  };
  seeds.push(
    withHeader(
      encodeMessage(
        PacketType.message,
        1,
        new TextEncoder().encode("[0,0,0,1]"),
      ),
      PacketType.message,
    ),
    withHeader(
      encodeSenderReport({
        senderClock: 1e15,
        echoedClock: 0,
        delaySince: 0,
        nextFrameId: 2,
      }),
      PacketType.senderReport,
    ),
    withHeader(new Uint8Array(FIXED_HEADER_BYTES), PacketType.bye),
  );
  for (
    const nack of encodeNacks([{ frameId: 1, first: 0, bitmap: 0xffff }], 1200)
  ) {
    seeds.push(withHeader(nack, PacketType.nack));
  }
  seeds.push(withHeader(
    encodeReport(reportOf({
      highestPacket: 9,
      receiverClock: 1e15,
      packetsReceived: 9,
      bytesReceived: 9000,
      nextFrameId: 2,
      framesDelivered: 2,
    })),
    PacketType.report,
  ));
  return seeds;
}

let seedCache: Uint8Array[] | undefined;

/**
 * Data chunks no sender made but every reader takes: consistent headers
 * (count, index, frame length and payload agree) for frames of a few
 * chunks or of 65535, at the edges of the limits, in a few datagrams.
 */
function craftedChunks(rng: Prng): Uint8Array[] {
  const streamId = rng.u32();
  const out: Uint8Array[] = [];
  const frames = 1 + rng.below(3);
  let packet = rng.below(1000);
  for (let f = 0; f < frames; f++) {
    const count = rng.pick([1, 2, 255, 4096, 65535, 1 + rng.below(65535)]);
    const most = Math.max(count, STREAM_LIMITS.maxFrameBytes);
    const frameLength = rng.pick([
      count,
      most,
      count + rng.below(most - count + 1),
    ]);
    const size = Math.ceil(frameLength / count);
    // Lengths for which the last chunk is not empty, as readers check.
    if ((count - 1) * size >= frameLength) continue;
    const frameId = rng.chance(0.5) ? f : rng.u32();
    const chunks = 1 + rng.below(4);
    for (let c = 0; c < chunks; c++) {
      const index = rng.pick([0, count - 1, rng.below(count)]);
      const payload = index < count - 1
        ? size
        : frameLength - (count - 1) * size;
      if (48 + payload > 65507) continue; // No UDP datagram is longer.
      const datagram = new Uint8Array(48 + payload);
      writeChunkHeader(datagram, {
        frameId,
        index,
        count,
        frameLength,
        crc: rng.u32(),
        timestamp: 1_700_000_000_000_000,
        sendOffset: 0,
      });
      writeHeader(datagram, PacketType.data, 0, streamId, false, packet++);
      out.push(datagram);
    }
  }
  return out;
}

/** The stream receiver's spec, shared with the server's demux target. */
export const streamSpec: ReceiverTargetSpec = {
  name: "stream-receiver",
  about:
    "StreamReceiver (as the server drives it, virtual clock) on mutated stream datagrams of every type beside a good StreamSender",
  weight: 3,
  receivers: () => [new StreamReceiver(STREAM_LIMITS)],
  demuxSenders: false,
  maxFrameBytes: STREAM_LIMITS.maxFrameBytes,
  safeSenders: 3,
  // 200 hostile datagrams make at most 200 streams (of 256) and reserve at
  // most 200 frames of 256 KiB (of 64 MiB): the good stream keeps its place.
  safe: (input) => hostileSenders(input) <= 3 && countHostile(input) <= 200,
  good: streamGoodStream,
  seeds: (corpus) => seedCache ??= streamSeeds(corpus),
  hostileStream: (rng, corpus) =>
    rng.chance(0.5) ? craftedChunks(rng) : senderDatagrams(
      rng,
      [rng.pick(streamImages(corpus))],
      rng.chance(0.5) ? 0x0bad_5eed : rng.u32(),
    ).flat(),
  fields: () => STREAM_FIELDS,
  bounds: (receivers) => {
    for (const receiver of receivers) {
      if (!(receiver instanceof StreamReceiver)) continue;
      invariant(
        receiver.streams <= STREAM_LIMITS.maxStreams,
        `${receiver.streams} streams held, limit ${STREAM_LIMITS.maxStreams}`,
      );
      invariant(
        receiver.pendingBytes >= 0 &&
          receiver.pendingBytes <= STREAM_LIMITS.maxPendingBytes,
        `partial frames reserve ${receiver.pendingBytes} bytes, limit ${STREAM_LIMITS.maxPendingBytes}`,
      );
    }
  },
};

/** `StreamReceiver`, fed as the server feeds it. */
export const streamReceiverTarget: FuzzTarget = receiverTarget(streamSpec);

/** The wire codec's readers on mutated datagrams of every type. */
export const streamWireTarget: FuzzTarget = {
  name: "stream-wire",
  about:
    "the stream wire codec's readers (fixed header, chunk header, NACK entries, reports, messages) on mutated datagrams",
  weight: 2,
  generate: (rng, corpus) => {
    const seeds = seedCache ??= streamSeeds(corpus);
    const datagrams = [];
    const count = 1 + rng.below(32);
    for (let n = 0; n < count; n++) {
      const bytes = rng.chance(0.05)
        ? randomDatagram(rng, 2048)
        : mutate(rng, rng.pick(seeds), {
          fields: STREAM_FIELDS,
          others: seeds,
        });
      datagrams.push({ from: 1, dtMs: 0, bytes });
    }
    return { datagrams, params: {} };
  },
  run: (input) => {
    const header = newFixedHeader();
    const chunk = newChunkHeader();
    const entry = { frameId: 0, first: 0, bitmap: 0 };
    for (const { bytes } of input.datagrams) {
      looksLikeStream(bytes);
      const error = readHeader(bytes, header);
      if (error !== undefined) {
        invariant(
          typeof error === "string" && error !== "",
          "a refusal without a reason",
        );
        continue;
      }
      invariant(
        // Up to 2^63: readHeader gives numbers past 2^53 inexact, as doubles
        // (the sealing draft drops those unopened; unsealed, they pass).
        header.packetNumber >= 0 && header.packetNumber <= 2 ** 63 &&
          header.streamId >= 0 && header.streamId <= 0xffff_ffff,
        () => `a header read as ${JSON.stringify(header)}`,
      );
      switch (header.type) {
        case PacketType.data:
        case PacketType.parity: {
          const refused = readChunkHeader(
            bytes,
            header.type === PacketType.parity,
            STREAM_LIMITS.maxFrameBytes,
            chunk,
          );
          if (refused === undefined) {
            invariant(
              chunk.count >= 1 && chunk.index < chunk.count &&
                chunk.frameLength >= 1 &&
                chunk.frameLength <= STREAM_LIMITS.maxFrameBytes,
              () => `a chunk header read as ${JSON.stringify(chunk)}`,
            );
          }
          break;
        }
        case PacketType.nack: {
          const n = nackEntryCount(bytes);
          for (let i = 0; i < n; i++) readNackEntry(bytes, i, entry);
          break;
        }
        case PacketType.report:
          decodeReport(bytes);
          break;
        case PacketType.senderReport:
          decodeSenderReport(bytes);
          break;
        case PacketType.message:
        case PacketType.messageAck:
          decodeMessage(bytes);
      }
    }
  },
};

/** Where a `StreamSender` under fuzzing sends, and whose datagrams it takes. */
const RECEIVER = { hostname: "10.0.0.100", port: 9999 };
const SENDER_STREAM = 0x0bad_5eed;

/**
 * `StreamSender` taking NACKs, reports and acks, forged from the receiver's
 * address or sent from another, while it sends frames: the datagrams it
 * sends must still be a stream that delivers every frame it kept.
 */
export const streamSenderTarget: FuzzTarget = {
  name: "stream-sender",
  about:
    "StreamSender on forged NACKs, reports and message-acks while it sends frames: a valid stream still, every kept frame delivered",
  generate: (rng, corpus) => {
    const seeds = (seedCache ??= streamSeeds(corpus)).filter((s) =>
      s[12]! >= 0x80
    );
    const images = streamImages(corpus).filter((b) => b.length <= 65536);
    const good = Array.from({ length: 1 + rng.below(3) }, () => ({
      from: GOOD,
      dtMs: 0,
      bytes: rng.pick(images),
    }));
    const hostile = [];
    const count = rng.length(300);
    for (let n = 0; n < count; n++) {
      const seed = rng.pick(seeds);
      const bytes = rng.chance(0.3) ? seed : mutate(rng, seed, {
        fields: STREAM_FIELDS,
        others: seeds,
      });
      // 1: forged from the receiver's address; 2: from another.
      hostile.push({ from: rng.chance(0.8) ? 1 : 2, dtMs: 0, bytes });
    }
    const datagrams = interleave(rng, good, hostile).map((d) => ({
      ...d,
      dtMs: rng.pick([0, 0, 0, 1, 5, 20, 200]),
    }));
    return {
      datagrams,
      params: { datagramBytes: rng.pick([256, 1200]), fec: rng.pick([0, 4]) },
    };
  },
  run: (input) => {
    const sender = new StreamSender({
      peer: RECEIVER,
      streamId: SENDER_STREAM,
      datagramBytes: param(input, "datagramBytes", 1200),
      fec: param(input, "fec", 0),
      maxRate: 1_250_000_000,
      initialRate: 1_250_000_000,
      adaptive: false,
      latencyMs: STREAM_LIMITS.latencyMs,
      wallClockOrigin: 0,
    });
    const header = newFixedHeader();
    const sent: { at: number; bytes: Uint8Array }[] = [];
    const kept: Uint8Array[] = [];
    let now = 1000;
    const drain = () => {
      for (let t; (t = sender.pollTransmit()) !== undefined;) {
        invariant(
          t.to.hostname === RECEIVER.hostname && t.to.port === RECEIVER.port,
          `a datagram to ${t.to.hostname}:${t.to.port}`,
        );
        invariant(
          readHeader(t.bytes, header) === undefined && !header.fromReceiver &&
            header.streamId === SENDER_STREAM,
          "the sender sent a datagram its own receiver cannot read",
        );
        sent.push({ at: now, bytes: t.bytes.slice() });
      }
      while (sender.pollEvent() !== undefined);
    };
    const until = (at: number) => {
      for (let rounds = 0; rounds < 100_000; rounds++) {
        const due = sender.pollTimeout();
        if (due === undefined || due > at) break;
        now = Math.max(now + 0.001, due);
        sender.handleTimeout(now);
        drain();
      }
      now = Math.max(now, at);
    };
    let at = 1000;
    for (const d of input.datagrams) {
      at += d.dtMs;
      until(at);
      if (d.from === GOOD) {
        // A frame given while one waits replaces it: that one is not kept.
        if (!sender.sendFrame(now, d.bytes)) kept.pop();
        kept.push(d.bytes);
      } else {
        const from = d.from === 1
          ? RECEIVER
          : { hostname: "10.1.0.2", port: 9999 };
        sender.handleDatagram(now, d.bytes, from);
      }
      drain();
    }
    until(now + 2000);
    // What it sent, in order, to a receiver alone: every kept frame.
    const receiver = new StreamReceiver(STREAM_LIMITS);
    const frames: Uint8Array[] = [];
    const from = { hostname: "10.0.0.1", port: 5000 };
    for (const d of sent) {
      receiver.handleDatagram(d.at, d.bytes, from, "10.0.0.1:5000");
      for (let e; (e = receiver.pollEvent()) !== undefined;) {
        if (e.type === "frame") frames.push(e.frame.bytes);
      }
    }
    receiver.handleTimeout(now + 10_000);
    for (let e; (e = receiver.pollEvent()) !== undefined;) {
      if (e.type === "frame") frames.push(e.frame.bytes);
    }
    invariant(
      frames.length === kept.length &&
        frames.every((f, i) => sameBytes(f, kept[i]!)),
      `the sender kept ${kept.length} frames; a receiver of what it sent got ${frames.length}, or other bytes`,
    );
  },
};

/** The key of the sealed targets' good stream and receiver. */
const SEALED_KEY = new Uint8Array(32).map((_, i) => i * 7 + 1);
/** A key the hostile senders have instead: they cannot seal for ours. */
const FORGER_KEY = new Uint8Array(32).map((_, i) => 255 - i);

/**
 * A keyed `StreamReceiver` that fails the case when a frame comes from any
 * sender but the good one: no mutated, replayed or forged datagram may
 * ever make a frame.
 */
class SealedStreamReceiver extends StreamReceiver {
  override pollEvent(): ReturnType<StreamReceiver["pollEvent"]> {
    const event = super.pollEvent();
    // A seed sent whole is a real sealed stream this receiver never saw:
    // its frames, exactly, may come (a replay into a fresh receiver).
    invariant(
      event?.type !== "frame" || event.frame.sender.startsWith(GOOD_KEY) ||
        sealedSeedImages.some((image) => sameBytes(image, event.frame.bytes)),
      () =>
        `a frame from ${
          event?.type === "frame" ? event.frame.sender : "?"
        }, not the good sealed stream's`,
    );
    return event;
  }
}

/** The images of the seed streams sealed under our key. */
let sealedSeedImages: readonly Uint8Array[] = [];

const GOOD_KEY = keyOf(GOOD);

let sealedSeedCache: Uint8Array[] | undefined;

/** Sealed datagrams: under our key (to mutate) and under another. */
function sealedSeeds(corpus: Corpus): Uint8Array[] {
  const rng = new Prng(2);
  const small = streamImages(corpus).filter((b) => b.length <= 4096);
  const seeds: Uint8Array[] = [];
  sealedSeedImages = small.slice(0, 2);
  for (const key of [SEALED_KEY, FORGER_KEY]) {
    for (
      const frames of senderDatagrams(rng, small.slice(0, 2), rng.u32(), key)
    ) {
      seeds.push(...frames.slice(0, 3), frames.at(-1)!);
    }
  }
  return seeds;
}

/**
 * `StreamReceiver` with a key, beside a good sealed stream: mutations of
 * sealed datagrams (ours and a forger's), the forger's whole streams,
 * replays and random datagrams must never make a frame, and the good
 * stream must still arrive whole.
 */
export const streamSealedReceiverTarget: FuzzTarget = receiverTarget({
  ...streamSpec,
  name: "stream-sealed-receiver",
  about:
    "a keyed StreamReceiver on mutated sealed datagrams, a forger's sealed streams and replays beside a good sealed stream: no frame but the good stream's",
  weight: 2,
  receivers: () => [
    new SealedStreamReceiver({ ...STREAM_LIMITS, key: SEALED_KEY }),
  ],
  good: (rng, corpus) => {
    const images = streamImages(corpus);
    const frames = Array.from(
      { length: 1 + rng.below(3) },
      () => rng.pick(images),
    );
    return {
      frames: senderDatagrams(rng, frames, rng.u32(), SEALED_KEY),
      images: frames,
      maxFrameMs: STREAM_LIMITS.latencyMs,
    };
  },
  seeds: (corpus) => sealedSeedCache ??= sealedSeeds(corpus),
  hostileStream: (rng, corpus) =>
    senderDatagrams(
      rng,
      [rng.pick(streamImages(corpus))],
      rng.u32(),
      FORGER_KEY,
    ).flat(),
});
