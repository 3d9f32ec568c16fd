/**
 * Reassembling the RTP/JPEG packets of one source into JFIF files: the
 * fragments of a frame (one RTP timestamp) are copied once, at their
 * fragment offset, into a frame buffer, whatever order they come in; a
 * frame is whole when the packets from the one at offset 0 to the one with
 * the marker bit have all come and their data covers the scan; then the
 * headers of RFC 2435 Appendix B are written in front of it.
 *
 * A few frames may be in flight at once, so that packets reordered across
 * a frame boundary still land. When a newer frame is whole, older partial
 * ones are given up on as lost, since their packets would have had to be
 * overtaken by a whole frame; so are frames silent for `frameTimeoutMs`.
 * A sequence-number gap before a whole frame with no partial frame to
 * account for it counts as one frame lost. Packets of frames already
 * handed out or given up on are late, and ignored.
 *
 * @module
 */

import { type RtpHeader, sequenceDelta, timestampDelta } from "./packet.ts";
import {
  hasRestartHeader,
  type JpegPayloadHeader,
  MAX_FRAGMENT_OFFSET,
  readJpegPayloadHeader,
} from "./payload_header.ts";
import {
  type JpegHeaderParams,
  jpegHeadersLength,
  quantTablesForQ,
  quantTableSizes,
  writeJpegHeaders,
} from "./jpeg_headers.ts";

/**
 * Room kept in front of the scan data for the headers, the largest that
 * {@linkcode writeJpegHeaders} writes (16-bit tables and a DRI).
 */
const HEADER_ROOM = 768;
/** A first buffer for a source whose frame size is not known yet. */
const FIRST_CAPACITY = 64 * 1024;
/** A timestamp this far behind the last frame means the source restarted. */
const RESTART_UNITS = 10 * 90000;

/** Bytes that several depacketizers may hold in partial frames together. */
export interface ByteBudget {
  /** Bytes held now. */
  used: number;
  /** Bytes that may be held. */
  readonly max: number;
}

/** Options for {@linkcode RtpJpegDepacketizer}. */
export interface RtpJpegDepacketizerOptions {
  /**
   * The largest frame, headers included. RFC 2435's 24-bit offsets allow
   * 16 MiB of scan data.
   *
   * @default {16777984}
   */
  maxFrameBytes?: number;
  /**
   * Frames that may be partial at once.
   *
   * @default {4}
   */
  maxFramesInFlight?: number;
  /**
   * How long a partial frame may go without a packet before it is given
   * up on, in ms.
   *
   * @default {1000}
   */
  frameTimeoutMs?: number;
  /** A budget shared with other sources' depacketizers. */
  budget?: ByteBudget;
}

/** What a {@linkcode RtpJpegDepacketizer} hands out. */
export type DepacketizerEvent =
  | {
    /** Discriminant. */
    readonly type: "frame";
    /** The JFIF file. */
    readonly bytes: Uint8Array;
    /** Its RTP timestamp. */
    readonly timestamp: number;
    /** How many packets it came in. */
    readonly packets: number;
  }
  | {
    /** Discriminant. */
    readonly type: "dropped";
    /** `lost`, `overflow` or `corrupt`. */
    readonly reason: "lost" | "overflow" | "corrupt";
    /** Frames given up on. */
    readonly frames: number;
    /** What happened, for a log line. */
    readonly detail: string;
  };

/** Counters of a {@linkcode RtpJpegDepacketizer}. */
export interface DepacketizerStats {
  /** Packets of frames already handed out or given up on. */
  latePackets: number;
  /** Packets received twice. */
  duplicatePackets: number;
  /** Packets whose RFC 2435 headers did not make sense. */
  badPackets: number;
}

interface PendingFrame {
  timestamp: number;
  buffer: Uint8Array;
  sequences: Set<number>;
  received: number;
  firstSequence: number;
  markerSequence: number;
  maxSequence: number;
  total: number;
  params: JpegHeaderParams | undefined;
  lastAt: number;
  /** Given up on; kept only so that its other packets are ignored. */
  dead: boolean;
}

/**
 * Reassembles the RTP/JPEG packets of one synchronization source into JFIF
 * files.
 *
 * @example Packets out of order make a frame
 * ```ts
 * import { parseJpeg, packetizeJpeg, readRtpHeader, RtpJpegDepacketizer } from "./mod.ts";
 *
 * const jpeg = parseJpeg(await Deno.readFile("bench/frames/photo_640x480.jpg"));
 * const packets = packetizeJpeg(jpeg, { ssrc: 1, sequence: 0, timestamp: 0 });
 * const frames: Uint8Array[] = [];
 * const depacketizer = new RtpJpegDepacketizer((event) => {
 *   if (event.type === "frame") frames.push(event.bytes);
 * });
 * for (const packet of packets.reverse()) {
 *   const header = readRtpHeader(packet);
 *   if (typeof header !== "string") depacketizer.push(header, packet, 0);
 * }
 * console.log(frames.length, frames[0]![0], frames[0]![1]); // 1 255 216
 * ```
 */
export class RtpJpegDepacketizer {
  readonly #emit: (event: DepacketizerEvent) => void;
  readonly #maxFrameBytes: number;
  readonly #maxInFlight: number;
  readonly #timeoutMs: number;
  readonly #budget: ByteBudget;
  readonly #pending: PendingFrame[] = [];
  readonly #tablesByQ = new Map<
    number,
    { tables: Uint8Array; precision: number }
  >();
  readonly #stats: DepacketizerStats = {
    latePackets: 0,
    duplicatePackets: 0,
    badPackets: 0,
  };
  #lastTimestamp: number | undefined;
  #lastMarker: number | undefined;
  #doneSequence: number | undefined;
  #expectedBytes = FIRST_CAPACITY;

  /**
   * Makes a depacketizer with no frame in flight.
   *
   * @param emit Called with each whole frame and each frame given up on.
   * @param options Limits.
   */
  constructor(
    emit: (event: DepacketizerEvent) => void,
    options: RtpJpegDepacketizerOptions = {},
  ) {
    this.#emit = emit;
    this.#maxFrameBytes = options.maxFrameBytes ??
      HEADER_ROOM + MAX_FRAGMENT_OFFSET + 1;
    this.#maxInFlight = Math.max(1, options.maxFramesInFlight ?? 4);
    this.#timeoutMs = options.frameTimeoutMs ?? 1000;
    this.#budget = options.budget ?? { used: 0, max: Infinity };
  }

  /** Counters. */
  get stats(): Readonly<DepacketizerStats> {
    return this.#stats;
  }

  /** Frames partial now. */
  get inFlight(): number {
    return this.#pending.length;
  }

  /**
   * Takes one packet of this source.
   *
   * @param rtp Its RTP header, from `readRtpHeader`.
   * @param packet The packet; copied from, not kept.
   * @param now The time, in ms.
   * @param jpeg Its RFC 2435 headers, when already read.
   */
  push(
    rtp: RtpHeader,
    packet: Uint8Array,
    now: number,
    jpeg?: JpegPayloadHeader,
  ): void {
    if (jpeg === undefined) {
      const read = readJpegPayloadHeader(
        packet,
        rtp.payloadOffset,
        rtp.payloadEnd,
      );
      if (typeof read === "string") {
        this.#stats.badPackets++;
        return;
      }
      jpeg = read;
    }
    const timestamp = rtp.timestamp;
    const sequence = rtp.sequence;
    if (this.#lastTimestamp !== undefined) {
      const age = timestampDelta(timestamp, this.#lastTimestamp);
      if (age < -RESTART_UNITS) this.#restart();
      else if (
        age < 0 ||
        // Some senders (GStreamer fed untimed buffers) give every frame the
        // same timestamp: then the sequence number says which is newer.
        (age === 0 &&
          (this.#doneSequence === undefined ||
            sequenceDelta(sequence, this.#doneSequence) <= 0))
      ) {
        this.#stats.latePackets++;
        return;
      }
    }
    const frame = this.#frameFor(timestamp, sequence, now);
    if (
      frame.maxSequence < 0 || sequenceDelta(sequence, frame.maxSequence) > 0
    ) {
      frame.maxSequence = sequence;
    }
    if (frame.dead) return;
    frame.lastAt = now;
    if (frame.sequences.has(sequence)) {
      this.#stats.duplicatePackets++;
      return;
    }
    const offset = jpeg.fragmentOffset;
    const length = rtp.payloadEnd - jpeg.dataOffset;
    const end = offset + length;
    if (HEADER_ROOM + end + 2 > this.#maxFrameBytes) {
      this.#kill(
        frame,
        "overflow",
        `a fragment at ${offset} runs past the ${this.#maxFrameBytes}-byte frame limit`,
      );
      return;
    }
    if (!this.#reserve(frame, HEADER_ROOM + end + 2)) {
      this.#kill(
        frame,
        "overflow",
        `partial RTP frames hold ${this.#budget.used} bytes, the limit`,
      );
      return;
    }
    frame.sequences.add(sequence);
    frame.buffer.set(
      packet.subarray(jpeg.dataOffset, rtp.payloadEnd),
      HEADER_ROOM + offset,
    );
    frame.received += length;
    if (offset === 0) {
      const params = this.#params(jpeg, packet);
      if (typeof params === "string") {
        this.#stats.badPackets++;
        this.#kill(frame, "corrupt", params);
        return;
      }
      frame.params = params;
      frame.firstSequence = sequence;
    }
    if (rtp.marker) {
      frame.markerSequence = sequence;
      frame.total = end;
    }
    if (
      frame.params !== undefined && frame.total >= 0 &&
      frame.received === frame.total &&
      frame.sequences.size ===
        sequenceDelta(frame.markerSequence, frame.firstSequence) + 1
    ) {
      this.#deliver(frame);
    }
  }

  /**
   * The next time {@linkcode sweep} has something to do.
   *
   * @returns The time, or `undefined` when no frame is partial.
   */
  nextTimeout(): number | undefined {
    let due: number | undefined;
    for (const frame of this.#pending) {
      const at = frame.lastAt + this.#timeoutMs;
      if (due === undefined || at < due) due = at;
    }
    return due;
  }

  /**
   * Gives up on frames silent for longer than the timeout.
   *
   * @param now The time, in ms.
   */
  sweep(now: number): void {
    const pending = this.#pending;
    for (let i = 0; i < pending.length;) {
      const frame = pending[i]!;
      if (now - frame.lastAt < this.#timeoutMs) {
        i++;
        continue;
      }
      pending.splice(i, 1);
      this.#advance(frame);
      this.#lose(frame, `no packet for ${this.#timeoutMs} ms`);
    }
  }

  /** Gives up on every partial frame, as when the source says goodbye. */
  close(): void {
    for (const frame of this.#pending.splice(0)) {
      this.#lose(frame, "the source left");
    }
  }

  /** Gives up on a frame still partial, unless it was given up on already. */
  #lose(frame: PendingFrame, why: string): void {
    if (frame.dead) return;
    this.#release(frame);
    const parts = frame.total >= 0
      ? `${frame.received} of ${frame.total} bytes`
      : `${frame.received} bytes, no last packet`;
    this.#emit({
      type: "dropped",
      reason: "lost",
      frames: 1,
      detail: `a frame with ${parts}: ${why}`,
    });
  }

  #frameFor(timestamp: number, sequence: number, now: number): PendingFrame {
    const pending = this.#pending;
    for (let i = pending.length - 1; i >= 0; i--) {
      const frame = pending[i]!;
      if (
        frame.timestamp === timestamp &&
        !(frame.markerSequence >= 0 &&
          sequenceDelta(sequence, frame.markerSequence) > 0)
      ) {
        return frame;
      }
    }
    if (pending.length >= this.#maxInFlight) {
      const oldest = pending.shift()!;
      this.#advance(oldest);
      this.#lose(oldest, `${this.#maxInFlight} newer frames came`);
    }
    const frame: PendingFrame = {
      timestamp,
      buffer: new Uint8Array(0),
      sequences: new Set(),
      received: 0,
      firstSequence: -1,
      markerSequence: -1,
      maxSequence: -1,
      total: -1,
      params: undefined,
      lastAt: now,
      dead: false,
    };
    // Keep the frames in timestamp order; a new one is nearly always last.
    let at = pending.length;
    while (
      at > 0 && timestampDelta(pending[at - 1]!.timestamp, timestamp) > 0
    ) {
      at--;
    }
    pending.splice(at, 0, frame);
    return frame;
  }

  /** Grows the frame's buffer to hold `bytes`, within the budget. */
  #reserve(frame: PendingFrame, bytes: number): boolean {
    const old = frame.buffer;
    if (bytes <= old.length) return true;
    const wanted = Math.min(
      this.#maxFrameBytes,
      Math.max(
        bytes,
        old.length * 2,
        HEADER_ROOM + Math.ceil(this.#expectedBytes * 1.25) + 2,
      ),
    );
    const budget = this.#budget;
    if (budget.used + wanted - old.length > budget.max) return false;
    budget.used += wanted - old.length;
    const buffer = new Uint8Array(wanted);
    if (frame.received > 0) buffer.set(old);
    frame.buffer = buffer;
    return true;
  }

  #release(frame: PendingFrame): void {
    this.#budget.used -= frame.buffer.length;
    frame.buffer = new Uint8Array(0);
    frame.sequences.clear();
  }

  #kill(
    frame: PendingFrame,
    reason: "overflow" | "corrupt",
    detail: string,
  ): void {
    this.#release(frame);
    frame.dead = true;
    this.#emit({ type: "dropped", reason, frames: 1, detail });
  }

  #params(
    jpeg: JpegPayloadHeader,
    packet: Uint8Array,
  ): JpegHeaderParams | string {
    const type = jpeg.type;
    if ((type & 63) > 1 || type > 127) {
      return `RFC 2435 type ${type} is not one udpimg rebuilds (0, 1, 64, 65)`;
    }
    if (jpeg.width === 0 || jpeg.height === 0) {
      return `a ${jpeg.width}x${jpeg.height} frame`;
    }
    const q = jpeg.q;
    let quantTables: Uint8Array;
    let tablePrecision = 0;
    if (q >= 128) {
      if (jpeg.tablesLength > 0) {
        tablePrecision = jpeg.tablePrecision & 3;
        if (quantTableSizes(jpeg.tablesLength, tablePrecision) === undefined) {
          return `in-band tables of ${jpeg.tablesLength} bytes, which is not one or two tables of precision ${tablePrecision}`;
        }
        quantTables = packet.slice(
          jpeg.tablesOffset,
          jpeg.tablesOffset + jpeg.tablesLength,
        );
        if (q < 255) {
          this.#tablesByQ.set(q, {
            tables: quantTables,
            precision: tablePrecision,
          });
        }
      } else {
        const known = q < 255 ? this.#tablesByQ.get(q) : undefined;
        if (known === undefined) {
          return `Q ${q} without tables${
            q === 255 ? " (Q 255 must send them)" : " sent before"
          }`;
        }
        quantTables = known.tables;
        tablePrecision = known.precision;
      }
    } else if (q >= 1 && q <= 99) {
      quantTables = quantTablesForQ(q);
    } else {
      return `the reserved Q value ${q}`;
    }
    return {
      type,
      width: jpeg.width,
      height: jpeg.height,
      dri: hasRestartHeader(type) ? jpeg.restartInterval : 0,
      quantTables,
      tablePrecision,
    };
  }

  #deliver(frame: PendingFrame): void {
    const pending = this.#pending;
    const index = pending.indexOf(frame);
    let older = 0;
    for (let i = 0; i < index; i++) {
      const stale = pending[i]!;
      if (stale.dead) continue;
      older++;
      this.#release(stale);
    }
    if (older > 0) {
      this.#emit({
        type: "dropped",
        reason: "lost",
        frames: older,
        detail: `${older} frame${
          older > 1 ? "s" : ""
        } still missing packets when a newer one was whole`,
      });
    } else if (
      this.#lastMarker !== undefined &&
      sequenceDelta(frame.firstSequence, this.#lastMarker) > 1
    ) {
      this.#emit({
        type: "dropped",
        reason: "lost",
        frames: 1,
        detail: `${
          sequenceDelta(frame.firstSequence, this.#lastMarker) - 1
        } packets between two frames never came`,
      });
    }
    pending.splice(0, index + 1);
    this.#lastTimestamp = frame.timestamp;
    this.#lastMarker = frame.markerSequence;
    this.#doneSequence = frame.markerSequence;
    this.#expectedBytes = frame.total;

    const params = frame.params!;
    const buffer = frame.buffer;
    const headers = jpegHeadersLength(params);
    const start = HEADER_ROOM - headers;
    writeJpegHeaders(buffer, start, params);
    let end = HEADER_ROOM + frame.total;
    if (buffer[end - 2] !== 0xff || buffer[end - 1] !== 0xd9) {
      buffer[end++] = 0xff;
      buffer[end++] = 0xd9;
    }
    const packets = frame.sequences.size;
    let bytes = buffer.subarray(start, end);
    // A buffer grown well past the frame is not kept for its sake.
    if (bytes.length < buffer.length * 0.75) bytes = bytes.slice();
    this.#release(frame);
    this.#emit({ type: "frame", bytes, timestamp: frame.timestamp, packets });
  }

  /** Marks frames up to `frame` as done with, so late packets are ignored. */
  #advance(frame: PendingFrame): void {
    if (
      this.#lastTimestamp === undefined ||
      timestampDelta(frame.timestamp, this.#lastTimestamp) >= 0
    ) {
      this.#lastTimestamp = frame.timestamp;
    }
    if (
      frame.maxSequence >= 0 &&
      (this.#doneSequence === undefined ||
        sequenceDelta(frame.maxSequence, this.#doneSequence) > 0)
    ) {
      this.#doneSequence = frame.maxSequence;
    }
  }

  #restart(): void {
    this.close();
    this.#lastTimestamp = undefined;
    this.#lastMarker = undefined;
    this.#doneSequence = undefined;
  }
}
