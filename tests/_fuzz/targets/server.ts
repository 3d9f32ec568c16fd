/**
 * Fuzz target of the server's receive path: the `ProtocolDemux` over the
 * receivers `FrameServer` builds, fed as its receive loop feeds them, with
 * datagrams of every protocol from a flood of senders.
 *
 * @module
 */

import { ClassicReceiver } from "../../../lib/classic/receiver.ts";
import type { ProtocolReceiver } from "../../../lib/server/types.ts";
import { invariant } from "../target.ts";
import { receiverTarget } from "../receivers.ts";
import { CLASSIC_LIMITS, classicSpec } from "./classic.ts";

/** The demux's bound on senders under fuzzing (the server's is 4096). */
const DEMUX_SENDERS = 512;

/**
 * The receivers `FrameServer.listen` builds by default, in its order, with
 * the fuzzing limits.
 */
export function serverReceivers(): ProtocolReceiver[] {
  return [
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
  ...classicSpec,
  name: "server-demux",
  about:
    "ProtocolDemux over the receivers FrameServer builds, on every protocol's datagrams from floods of senders",
  weight: 2,
  receivers: serverReceivers,
  demuxSenders: DEMUX_SENDERS,
  seeds: (corpus) => [...corpus.classic, ...corpus.rtp, ...corpus.messages],
  bounds: (receivers, demux) => {
    classicSpec.bounds(receivers, demux);
    invariant(
      demux !== undefined && demux.senders <= DEMUX_SENDERS,
      `the demux holds ${demux?.senders} senders, limit ${DEMUX_SENDERS}`,
    );
  },
});
