/**
 * Fuzz target of the server's receive path: the `ProtocolDemux` over the
 * receivers `FrameServer` builds by default, fed as its receive loops feed
 * them, with every protocol's datagrams from floods of senders beside a
 * good sender of either protocol.
 *
 * @module
 */

import { ClassicReceiver } from "../../../lib/classic/receiver.ts";
import { RtpReceiver } from "../../../lib/rtp/receiver.ts";
import type { ProtocolReceiver } from "../../../lib/server/types.ts";
import { receiverTarget } from "../receivers.ts";
import { invariant } from "../target.ts";
import { CLASSIC_LIMITS, classicSpec } from "./classic.ts";
import { RTP_LIMITS, rtpSpec } from "./rtp.ts";

/** The demux's bound on senders under fuzzing (the server's is 4096). */
const DEMUX_SENDERS = 512;

/**
 * The receivers `FrameServer.listen` builds by default, in its order (RTP,
 * then classic, which takes any header or image), with the fuzzing limits.
 */
export function serverReceivers(): ProtocolReceiver[] {
  return [
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

/** The demux and the server's receivers. */
export const serverDemuxTarget = receiverTarget({
  name: "server-demux",
  about:
    "ProtocolDemux over the receivers FrameServer builds (RTP, classic), every protocol's datagrams from floods of senders",
  weight: 3,
  receivers: serverReceivers,
  demuxSenders: DEMUX_SENDERS,
  maxFrameBytes: Math.max(
    CLASSIC_LIMITS.maxFrameBytes,
    RTP_LIMITS.maxFrameBytes,
  ),
  safeSenders: 3,
  safe: (input) => classicSpec.safe?.(input) !== false && rtpSpec.safe!(input),
  good: (rng, corpus) =>
    rng.chance(0.5) ? classicSpec.good(rng, corpus) : rtpSpec.good(rng, corpus),
  seeds: (
    corpus,
  ) => [
    ...classicSpec.seeds(corpus),
    ...rtpSpec.seeds(corpus),
    ...corpus.messages,
  ],
  controlSeeds: rtpSpec.controlSeeds!,
  hostileStream: (rng, corpus) =>
    rng.chance(0.5)
      ? classicSpec.hostileStream!(rng, corpus)
      : rtpSpec.hostileStream!(rng, corpus),
  fields: (datagram) =>
    datagram[0]! >> 6 === 2
      ? rtpSpec.fields!(datagram)
      : classicSpec.fields!(datagram),
  bounds: (receivers, demux) => {
    classicSpec.bounds(receivers, demux);
    rtpSpec.bounds(receivers, demux);
    invariant(
      demux !== undefined && demux.senders <= DEMUX_SENDERS,
      `the demux holds ${demux?.senders} senders, limit ${DEMUX_SENDERS}`,
    );
  },
});
