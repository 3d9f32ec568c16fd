/**
 * Fuzz target of the server's receive path: the `ProtocolDemux` over the
 * receivers `FrameServer` builds by default, fed as its receive loops feed
 * them, with every protocol's datagrams from floods of senders beside a
 * good sender of any of them.
 *
 * @module
 */

import { ClassicReceiver } from "../../../lib/classic/receiver.ts";
import { RtpReceiver } from "../../../lib/rtp/receiver.ts";
import { StreamReceiver } from "../../../lib/stream/receiver.ts";
import type { ProtocolReceiver } from "../../../lib/server/types.ts";
import {
  DEFAULT_AMPLIFICATION,
  receiverTarget,
  type ReceiverTargetSpec,
} from "../receivers.ts";
import { hostileSenders, invariant } from "../target.ts";
import { CLASSIC_LIMITS, classicSpec } from "./classic.ts";
import { RTP_LIMITS, rtpSpec } from "./rtp.ts";
import { STREAM_LIMITS, streamSpec } from "./stream.ts";

/** The demux's bound on senders under fuzzing (the server's is 4096). */
const DEMUX_SENDERS = 512;

/**
 * The receivers `FrameServer.listen` builds by default, in its order
 * (stream, by its magic; RTP; then classic, which takes any header or
 * image), with the fuzzing limits.
 */
export function serverReceivers(): ProtocolReceiver[] {
  return [
    new StreamReceiver(STREAM_LIMITS),
    new RtpReceiver(RTP_LIMITS),
    new ClassicReceiver({
      ...CLASSIC_LIMITS,
      // As FrameServer: room for at least one frame of the largest size.
      maxPendingBytes: Math.max(
        CLASSIC_LIMITS.maxPendingBytes,
        CLASSIC_LIMITS.maxFrameBytes,
      ),
    }),
  ];
}

/** The specs of the protocols `serverReceivers` serves: their senders and bounds. */
const PROTOCOLS: readonly ReceiverTargetSpec[] = [
  streamSpec,
  rtpSpec,
  classicSpec,
];

/** The demux and the server's receivers. */
export const serverDemuxTarget = receiverTarget({
  name: "server-demux",
  about:
    "ProtocolDemux over the receivers FrameServer builds, every protocol's datagrams from floods of senders",
  weight: 3,
  receivers: serverReceivers,
  demuxSenders: DEMUX_SENDERS,
  maxFrameBytes: Math.max(...PROTOCOLS.map((p) => p.maxFrameBytes)),
  safeSenders: Math.min(...PROTOCOLS.map((p) => p.safeSenders)),
  safe: (input) =>
    PROTOCOLS.every((p) =>
      p.safe?.(input) ?? hostileSenders(input) <= p.safeSenders
    ),
  good: (rng, corpus) => rng.pick(PROTOCOLS).good(rng, corpus),
  seeds: (corpus) => [
    ...PROTOCOLS.flatMap((p) => p.seeds(corpus)),
    ...corpus.messages,
  ],
  controlSeeds: (corpus) =>
    PROTOCOLS.flatMap((p) => p.controlSeeds?.(corpus) ?? []),
  hostileStream: (rng, corpus) => {
    const streams = PROTOCOLS.filter((p) => p.hostileStream !== undefined);
    return rng.pick(streams).hostileStream!(rng, corpus);
  },
  fields: (datagram) => PROTOCOLS.flatMap((p) => p.fields?.(datagram) ?? []),
  // The loosest of the protocols' bounds: any of them may answer a host.
  amplification: PROTOCOLS.map((p) => p.amplification ?? DEFAULT_AMPLIFICATION)
    .reduce((a, b) => ({
      factor: Math.max(a.factor, b.factor),
      slackBytes: Math.max(a.slackBytes, b.slackBytes),
    })),
  maxTransmitsPerStep: Math.max(
    ...PROTOCOLS.map((p) => p.maxTransmitsPerStep ?? 256),
  ),
  bounds: (receivers, demux) => {
    for (const p of PROTOCOLS) p.bounds(receivers, demux);
    invariant(
      demux !== undefined && demux.senders <= DEMUX_SENDERS,
      `the demux holds ${demux?.senders} senders, limit ${DEMUX_SENDERS}`,
    );
  },
});
