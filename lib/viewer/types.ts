/**
 * The data a server hands to the live viewer, and the statistics the viewer
 * serves at `/stats`.
 *
 * @module
 */

import type { ImageFormat } from "../codec/types.ts";

/** One received image, as the server publishes it to the viewer. */
export interface ViewerFrame {
  /** Who sent it, as `host:port`. */
  sender: string;
  /**
   * The encoded image exactly as received. The viewer keeps this reference
   * without copying, so the caller must not reuse or modify the buffer.
   */
  bytes: Uint8Array;
  /** The encoding of `bytes`. */
  format: ImageFormat;
  /** Width in pixels, when the caller already knows it. */
  width?: number;
  /** Height in pixels, when the caller already knows it. */
  height?: number;
  /**
   * The protocol it came by, such as `"classic"`, `"stream"` or `"rtp"`,
   * shown on the sender's tile.
   */
  protocol?: string;
}

/**
 * What the receiving side knows about one sender's link, beyond the frames
 * that reached the viewer. Every field is optional: the viewer shows what
 * it is given and hides the rest.
 */
export interface LinkStats {
  /** The protocol the sender speaks, such as `"classic"`, `"stream"` or `"rtp"`. */
  protocol?: string | undefined;
  /** Frames from this sender lost on the way, counted since it was first seen. */
  lost?: number | undefined;
  /** Frames from this sender that came too late to be used, counted likewise. */
  late?: number | undefined;
  /** The sender's current latency, capture or send to reception, in milliseconds. */
  latencyMs?: number | undefined;
}

/** The server's running totals, shown by the viewer as they are. */
export interface ViewerCounters {
  /** Whole images received. */
  frames: number;
  /** Images that were decoded successfully. */
  decoded: number;
  /** Images lost or abandoned on the way (missing chunks, timeouts). */
  dropped: number;
  /** Images that arrived whole but could not be decoded or were invalid. */
  errors: number;
  /** Images deliberately not processed, for example to keep up. */
  skipped: number;
  /** Image bytes received. */
  bytes: number;
  /** Frames that never arrived whole within their latency budget. */
  lost?: number;
  /** Frames that came after a newer one had been handed out. */
  late?: number;
  /** Chunks repaired by retransmission (stream protocol). */
  recoveredNack?: number;
  /** Chunks repaired from parity (stream protocol). */
  recoveredFec?: number;
  /** With a key: sealed datagrams that failed authentication, or unsealed ones. */
  unauthenticated?: number;
  /** With a key: sealed datagrams refused as replays (or network duplicates). */
  replayed?: number;
  /** With a key: classic and RTP datagrams refused. */
  refused?: number;
  /** End-to-end latency over all senders, when a protocol carries it. */
  latency?: { p50Ms: number; p99Ms: number; estimated: boolean } | null;
}

/** Statistics of one sender, as served in `/stats`. */
export interface SenderStats {
  /** The sender, `host:port`. */
  sender: string;
  /** Frames published from this sender. */
  frames: number;
  /** Bytes published from this sender. */
  bytes: number;
  /** Frames per second over the sliding window. */
  fps: number;
  /** Kilobytes (1000 bytes) per second over the sliding window. */
  kbps: number;
  /** Width of the newest frame, or `null` when unknown. */
  width: number | null;
  /** Height of the newest frame, or `null` when unknown. */
  height: number | null;
  /** Format of the newest frame. */
  format: ImageFormat;
  /** Milliseconds since the newest frame was published. */
  lastFrameAgoMs: number;
  /** Whether the sender has been silent longer than `staleAfterMs`. */
  stale: boolean;
  /** The protocol, from the newest frame or the link statistics, or `null`. */
  protocol: string | null;
  /** Frames lost on the way ({@linkcode LinkStats.lost}), or `null` when unknown. */
  lost: number | null;
  /** Frames that came too late ({@linkcode LinkStats.late}), or `null` when unknown. */
  late: number | null;
  /** Latency in milliseconds ({@linkcode LinkStats.latencyMs}), or `null` when unknown. */
  latencyMs: number | null;
}

/** The JSON document served at `/stats`. */
export interface ViewerStats extends ViewerCounters {
  /** Frames per second over the sliding window, all senders together. */
  fps: number;
  /** Kilobytes (1000 bytes) per second over the sliding window, all senders. */
  kbps: number;
  /** Known senders, in the order they were first seen. */
  senders: SenderStats[];
  /**
   * The sender that `?sender=` selected, or else the one shown by default
   * (the most recently active), or `null` before the first frame.
   */
  selected: string | null;
  /** How many `/stream.mjpg` responses are open. */
  viewers: number;
  /** Messages received on the message port. */
  messages: number;
  /** The last message, as published, or `null` before the first. */
  lastMessage: unknown;
  /** Who sent the last message, or `null` before the first. */
  lastMessageSender: string | null;
  /** Milliseconds since the last message, or `null` before the first. */
  lastMessageAgoMs: number | null;
}
