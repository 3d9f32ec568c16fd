/**
 * Every fuzz target, in the order the long run takes them. A new target is
 * a `FuzzTarget` in one of these modules (or a `receiverTarget` call for a
 * protocol's receiver) and one line here.
 *
 * @module
 */

import type { FuzzTarget } from "../target.ts";
import { captureJpegSplitterTarget } from "./capture.ts";
import {
  classicMessageTarget,
  classicReassemblerTarget,
  classicReceiverTarget,
} from "./classic.ts";
import { codecInspectTarget } from "./codec.ts";
import {
  cryptoKeyFileTarget,
  cryptoOpenTarget,
  cryptoReplayWindowTarget,
} from "./crypto.ts";
import {
  rtpJpegTarget,
  rtpPacketTarget,
  rtpReceiverTarget,
  rtpRtcpTarget,
} from "./rtp.ts";
import { serverDemuxTarget } from "./server.ts";
import { rtspMessageTarget } from "./rtsp.ts";
import {
  streamReceiverTarget,
  streamSealedReceiverTarget,
  streamSenderTarget,
  streamWireTarget,
} from "./stream.ts";
import { viewerAccessTarget, viewerMjpegTarget } from "./viewer.ts";

/** The targets. */
export const TARGETS: readonly FuzzTarget[] = [
  classicReassemblerTarget,
  classicReceiverTarget,
  classicMessageTarget,
  serverDemuxTarget,
  streamWireTarget,
  streamReceiverTarget,
  streamSealedReceiverTarget,
  streamSenderTarget,
  rtpPacketTarget,
  rtpRtcpTarget,
  rtpJpegTarget,
  rtpReceiverTarget,
  cryptoOpenTarget,
  cryptoReplayWindowTarget,
  cryptoKeyFileTarget,
  captureJpegSplitterTarget,
  viewerMjpegTarget,
  viewerAccessTarget,
  rtspMessageTarget,
  codecInspectTarget,
];

/** The target called `name`. */
export function targetNamed(name: string): FuzzTarget | undefined {
  return TARGETS.find((target) => target.name === name);
}
