/**
 * Reassembly of one stream's frames: chunks and parity in, whole frames out
 * in frame-id order, each checked against its CRC-32C. It survives loss,
 * duplication and reordering, and its memory is bounded whatever the
 * headers claim: a frame's buffer is allocated once at the announced
 * length, after the limit check and against a budget shared by all
 * streams, and at most `maxFramesInFlight` frames are open at once.
 *
 * A frame that is whole waits for older frames still within their latency
 * budget; a frame still incomplete when its budget runs out is given up on
 * (`lost`) and the stream moves on. A pure state machine: datagrams and the
 * time in, events out.
 *
 * @module
 */

import { Queue } from "./_queue.ts";
import { crc32c } from "./crc32c.ts";
import { type ParityGroup, recoverChunk } from "./fec.ts";
import type { ChunkHeader } from "./wire.ts";

/** The memory that all streams' partial frames share. */
export class FrameBudget {
  /** Bytes reserved now. */
  reserved = 0;
  /** The most bytes that may be reserved. */
  readonly maxBytes: number;

  /**
   * Makes a budget.
   *
   * @param maxBytes The most bytes partial frames may reserve together.
   *
   * @example A budget of 1 MiB
   * ```ts
   * import { FrameBudget } from "./reassembler.ts";
   * const budget = new FrameBudget(1 << 20);
   * console.log(budget.reserved); // 0
   * ```
   */
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }
}

/** A frame the stream knows of and has not yet delivered or given up on. */
export interface PendingFrame {
  /** The frame id. */
  readonly id: number;
  /** Whether any of its datagrams came (otherwise a newer frame revealed it). */
  readonly seen: boolean;
  /** Chunks in the frame (0 while unseen). */
  readonly count: number;
  /**
   * Per chunk: 0 missing, 1 present, 2 missing and asked for. The NACK
   * generator reads and marks it.
   */
  readonly have: Uint8Array;
  /** Chunks present. */
  readonly received: number;
  /** The highest chunk index that came. */
  readonly highestIndex: number;
  /** Whether its data said parity follows. */
  readonly parityFollows: boolean;
  /** Whether a parity datagram of it came. */
  readonly paritySeen: boolean;
  /** When it is given up on, in ms. */
  readonly deadline: number;
  /** Whether it is resolved: whole, or given up on. */
  readonly complete: boolean;
  /** When it was opened, in ms. */
  readonly openedAt: number;
  /** When its latest datagram came, in ms. */
  readonly lastArrival: number;
  /** When its missing chunks were last asked for, in ms. */
  lastNackAt: number;
}

/** What the reassembler hands out. */
export type ReassemblyEvent =
  | {
    readonly type: "frame";
    readonly frameId: number;
    readonly bytes: Uint8Array;
    /** The frame timestamp, µs on the sender's clock. */
    readonly timestamp: number;
  }
  | {
    readonly type: "dropped";
    readonly reason: "lost" | "late" | "corrupt";
    readonly frameId: number;
    readonly frames: number;
    readonly detail: string;
  };

/** Per-stream counters. */
export interface ReassemblyStats {
  /** Frames delivered. */
  framesDelivered: number;
  /** Frames given up on. */
  framesLost: number;
  /** Frames first seen after a newer one was delivered. */
  framesLate: number;
  /** Frames whose CRC failed. */
  framesCorrupt: number;
  /** Holes filled by retransmissions. */
  recoveredNack: number;
  /** Holes filled from parity. */
  recoveredFec: number;
  /** Chunks for frames already resolved, or that came twice. */
  chunksLate: number;
  /** Datagrams whose frame description disagreed with the frame's. */
  inconsistent: number;
  /** Datagrams refused because the frame budget was spent. */
  overBudget: number;
}

/**
 * Counters at zero.
 *
 * @returns A {@linkcode ReassemblyStats} with every count 0.
 *
 * @example Adding up streams
 * ```ts
 * import { newReassemblyStats } from "./reassembler.ts";
 * console.log(newReassemblyStats().framesDelivered); // 0
 * ```
 */
export function newReassemblyStats(): ReassemblyStats {
  return {
    framesDelivered: 0,
    framesLost: 0,
    framesLate: 0,
    framesCorrupt: 0,
    recoveredNack: 0,
    recoveredFec: 0,
    chunksLate: 0,
    inconsistent: 0,
    overBudget: 0,
  };
}

/** Options for {@linkcode StreamReassembler}. */
export interface StreamReassemblerOptions {
  /** How long a frame may take, in ms, from its first datagram. @default {120} */
  latencyMs?: number;
  /** Frames open at once. @default {64} */
  maxFramesInFlight?: number;
  /** The memory shared with other streams. @default a 256 MiB budget of its own */
  budget?: FrameBudget;
}

interface Frame extends PendingFrame {
  seen: boolean;
  count: number;
  have: Uint8Array;
  received: number;
  highestIndex: number;
  parityFollows: boolean;
  paritySeen: boolean;
  deadline: number;
  lastArrival: number;
  length: number;
  size: number;
  crc: number;
  timestamp: number;
  buffer: Uint8Array | undefined;
  complete: boolean;
  parities: StoredParity[] | undefined;
  /** Resolved without delivery: given up on, or corrupt. */
  resolvedDrop: boolean;
  /** Whether its bytes went back to the budget. */
  freed: boolean;
}

interface StoredParity extends ParityGroup {
  readonly payload: Uint8Array;
}

const EMPTY = new Uint8Array(0);
/** A forward jump past this many frames is a restart, not a gap to count. */
const MAX_GAP = 4096;

/** Signed distance from frame id `b` to `a`, in serial arithmetic. */
export function frameDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/**
 * Reassembles the frames of one stream.
 *
 * @example A frame in two chunks, the second first
 * ```ts
 * import { StreamReassembler } from "./reassembler.ts";
 * import { crc32c } from "./crc32c.ts";
 * import { newChunkHeader } from "./wire.ts";
 *
 * const frame = new Uint8Array([1, 2, 3, 4, 5]);
 * const assembler = new StreamReassembler();
 * const header = { ...newChunkHeader(), count: 2, frameLength: 5, crc: crc32c(frame), payloadOffset: 0 };
 * assembler.addChunk(0, { ...header, index: 1 }, frame.subarray(3), false);
 * assembler.addChunk(0, { ...header, index: 0 }, frame.subarray(0, 3), false);
 * const event = assembler.poll();
 * console.log(event?.type === "frame" && event.bytes); // Uint8Array(5) [ 1, 2, 3, 4, 5 ]
 * ```
 */
export class StreamReassembler {
  readonly #latencyMs: number;
  readonly #maxInFlight: number;
  readonly #budget: FrameBudget;
  readonly #frames = new Map<number, Frame>();
  readonly #events = new Queue<ReassemblyEvent>();
  readonly #lateIds = new Int32Array(16).fill(-1);
  #lateCursor = 0;
  #scratch = EMPTY;
  #startId = 0;
  #nextId: number | undefined;
  #newestId = 0;
  #earliestDeadline = Infinity;
  /**
   * Set when a chunk came past a gap in its frame, or a newer frame
   * opened: something may be missing. The NACK generator's owner clears it.
   */
  holeSeen = false;
  /** The counters. */
  readonly stats: ReassemblyStats = newReassemblyStats();

  /**
   * Makes a reassembler with no frame.
   *
   * @param options Latency budget, frames in flight and the memory budget.
   */
  constructor(options: StreamReassemblerOptions = {}) {
    this.#latencyMs = options.latencyMs ?? 120;
    this.#maxInFlight = options.maxFramesInFlight ?? 64;
    this.#budget = options.budget ?? new FrameBudget(256 * 1024 * 1024);
  }

  /** Every frame before it is delivered or given up on (0 before the first). */
  get nextFrameId(): number {
    return this.#nextId ?? 0;
  }

  /** The newest frame id seen or revealed. */
  get newestFrameId(): number {
    return this.#newestId;
  }

  /** Frames open now. */
  get openFrames(): number {
    return this.#frames.size;
  }

  /** Bytes this stream's open frames hold. */
  get heldBytes(): number {
    let bytes = 0;
    for (const frame of this.#frames.values()) {
      bytes += frame.buffer?.length ?? 0;
    }
    return bytes;
  }

  /** The frames not yet resolved, oldest first. */
  pending(): IterableIterator<PendingFrame> {
    return this.#frames.values();
  }

  /** The next event, or `undefined`. */
  poll(): ReassemblyEvent | undefined {
    return this.#events.shift();
  }

  /** When the earliest open frame is due to be given up on. */
  nextDeadline(): number {
    return this.#earliestDeadline;
  }

  /**
   * Takes one data chunk.
   *
   * @param now The time, in ms.
   * @param header Its frame description, already checked by the wire codec.
   * @param datagram The datagram; the payload is copied.
   * @param retransmission Whether it was sent again in answer to a NACK.
   * @returns Whether it filled a hole (`false`: late, duplicate or refused).
   */
  addChunk(
    now: number,
    header: ChunkHeader,
    datagram: Uint8Array,
    retransmission: boolean,
    parityFollows = false,
  ): boolean {
    const frame = this.#frameFor(now, header);
    if (frame === undefined) return false;
    const index = header.index;
    if (frame.have[index] === 1) {
      this.stats.chunksLate++;
      return false;
    }
    frame.buffer!.set(
      datagram.subarray(header.payloadOffset),
      index * frame.size,
    );
    frame.have[index] = 1;
    frame.received++;
    if (index > frame.highestIndex + 1) this.holeSeen = true;
    if (index > frame.highestIndex) frame.highestIndex = index;
    if (parityFollows) frame.parityFollows = true;
    if (retransmission) this.stats.recoveredNack++;
    if (frame.parities !== undefined) this.#tryParities(frame);
    if (frame.received === frame.count) this.#complete(frame);
    return true;
  }

  /**
   * Takes one parity datagram: repairs its group at once when exactly one
   * chunk is missing, keeps it while more are.
   *
   * @param now The time, in ms.
   * @param header Its frame description, with `stride` and `groupLength`.
   * @param datagram The datagram.
   */
  addParity(now: number, header: ChunkHeader, datagram: Uint8Array): void {
    const frame = this.#frameFor(now, header);
    if (frame === undefined) return;
    frame.paritySeen = true;
    const group = {
      first: header.index,
      stride: header.stride,
      length: header.groupLength,
    };
    const payload = datagram.subarray(header.payloadOffset);
    const missing = missingIn(frame, group);
    if (missing < 0) return;
    if (missing === Infinity) {
      // At most one kept per chunk, so that kept parity never holds more
      // than the frame itself, however many a peer sends.
      const kept = frame.parities ??= [];
      if (kept.length < frame.count) {
        kept.push({ ...group, payload: payload.slice() });
      }
      return;
    }
    if (this.#scratch.length < frame.size) {
      this.#scratch = new Uint8Array(frame.size);
    }
    const scratch = this.#scratch.subarray(0, frame.size);
    scratch.set(payload);
    this.#recover(frame, group, missing, scratch);
  }

  /**
   * Learns from a sender report that frames before `nextFrameId` were sent,
   * so that a lost last frame is known and asked for.
   *
   * @param now The time, in ms.
   * @param nextFrameId The sender's next frame id.
   */
  reveal(now: number, nextFrameId: number): void {
    const newest = (nextFrameId - 1) >>> 0;
    if (this.#nextId === undefined) {
      // Nothing has arrived yet: the frames sent so far are asked for.
      if (nextFrameId === 0) return;
      this.#begin(newest);
    }
    const ahead = frameDiff(newest, this.#newestId);
    if (ahead > 0 && ahead <= MAX_GAP) this.#advanceTo(now, newest);
  }

  /**
   * Gives up on frames whose budget ran out, and hands out those that can
   * go.
   *
   * @param now The time, in ms.
   */
  expire(now: number): void {
    if (now < this.#earliestDeadline) return;
    let earliest = Infinity;
    for (const frame of this.#frames.values()) {
      if (frame.complete) continue;
      if (frame.deadline <= now) this.#giveUp(frame);
      else if (frame.deadline < earliest) earliest = frame.deadline;
    }
    this.#earliestDeadline = earliest;
    this.#release();
  }

  /** Drops every open frame, freeing its memory (the stream is forgotten). */
  clear(): void {
    for (const frame of this.#frames.values()) this.#free(frame);
    this.#frames.clear();
    this.#earliestDeadline = Infinity;
  }

  /** The open frame for a datagram, made when new; `undefined` to refuse it. */
  #frameFor(now: number, header: ChunkHeader): Frame | undefined {
    const id = header.frameId;
    if (this.#nextId === undefined) this.#begin(id);
    const behind = frameDiff(id, this.#nextId!);
    if (behind < 0) {
      this.stats.chunksLate++;
      if (frameDiff(id, this.#startId) < 0) this.#countLate(id);
      return undefined;
    }
    if (frameDiff(id, this.#newestId) > 0) this.#advanceTo(now, id);
    const frame = this.#frames.get(id);
    if (frame === undefined) return undefined;
    if (!frame.seen) {
      const budget = this.#budget;
      if (budget.reserved + header.frameLength > budget.maxBytes) {
        this.stats.overBudget++;
        return undefined;
      }
      budget.reserved += header.frameLength;
      frame.seen = true;
      frame.count = header.count;
      frame.length = header.frameLength;
      frame.size = Math.ceil(header.frameLength / header.count);
      frame.crc = header.crc;
      frame.timestamp = header.timestamp;
      frame.buffer = new Uint8Array(header.frameLength);
      frame.have = new Uint8Array(header.count);
      frame.lastArrival = now;
      return frame;
    }
    if (frame.complete) {
      this.stats.chunksLate++;
      return undefined;
    }
    if (
      header.count !== frame.count || header.frameLength !== frame.length ||
      header.crc !== frame.crc || header.timestamp !== frame.timestamp
    ) {
      this.stats.inconsistent++;
      return undefined;
    }
    frame.lastArrival = now;
    return frame;
  }

  /**
   * Starts the stream at the first frame id heard of. Frame ids count from
   * 0, so a stream heard of within its first window of frames starts at 0:
   * the first frames' datagrams may just be late. A receiver that joins an
   * older stream starts where it joined.
   */
  #begin(id: number): void {
    const start = id < this.#maxInFlight ? 0 : id;
    this.#nextId = start;
    this.#startId = start;
    this.#newestId = (start - 1) >>> 0;
  }

  /** Opens every frame up to `id`, pushing out the oldest past the window. */
  #advanceTo(now: number, id: number): void {
    const ahead = frameDiff(id, this.#nextId!);
    if (ahead > MAX_GAP) {
      // A restart, or a forgery: everything open is lost, the gap is not;
      // a frame dropped already (corrupt) was counted then.
      for (const frame of this.#frames.values()) {
        if (!frame.resolvedDrop) this.#giveUp(frame);
      }
      this.#release();
      this.#frames.clear();
      this.#nextId = id;
      this.#startId = id;
      this.#newestId = (id - 1) >>> 0;
    }
    while (frameDiff(id, this.#nextId!) >= this.#maxInFlight) {
      const head = this.#frames.get(this.#nextId!);
      if (head === undefined) {
        this.#nextId = (this.#nextId! + 1) >>> 0;
        continue;
      }
      if (!head.complete) this.#giveUp(head);
      this.#release();
    }
    const deadline = now + this.#latencyMs;
    const after = (this.#newestId + 1) >>> 0;
    const from = frameDiff(after, this.#nextId!) < 0 ? this.#nextId! : after;
    for (let f = from; frameDiff(id, f) >= 0; f = (f + 1) >>> 0) {
      if (!this.#frames.has(f)) this.#frames.set(f, newFrame(f, now, deadline));
    }
    if (deadline < this.#earliestDeadline) this.#earliestDeadline = deadline;
    if (this.#frames.size > 1) this.holeSeen = true;
    this.#newestId = id;
  }

  #tryParities(frame: Frame): void {
    const parities = frame.parities!;
    for (let p = parities.length - 1; p >= 0; p--) {
      const stored = parities[p]!;
      const missing = missingIn(frame, stored);
      if (missing === Infinity) continue;
      parities.splice(p, 1);
      if (missing >= 0) this.#recover(frame, stored, missing, stored.payload);
    }
  }

  #recover(
    frame: Frame,
    group: ParityGroup,
    missing: number,
    parity: Uint8Array,
  ): void {
    recoverChunk(frame.buffer!, frame.size, group, missing, parity);
    frame.have[missing] = 1;
    frame.received++;
    this.stats.recoveredFec++;
    if (frame.received === frame.count) this.#complete(frame);
    else if (frame.parities !== undefined && frame.parities.length > 0) {
      this.#tryParities(frame);
    }
  }

  #complete(frame: Frame): void {
    if (frame.complete) return;
    frame.parities = undefined;
    if (crc32c(frame.buffer!) !== frame.crc) {
      this.stats.framesCorrupt++;
      this.#events.push({
        type: "dropped",
        reason: "corrupt",
        frameId: frame.id,
        frames: 1,
        detail:
          `frame ${frame.id}: CRC-32C mismatch over ${frame.length} bytes`,
      });
      this.#free(frame);
      frame.buffer = undefined;
      frame.complete = true;
      frame.resolvedDrop = true;
    } else {
      frame.complete = true;
    }
    this.#release();
  }

  #giveUp(frame: Frame): void {
    this.#free(frame);
    frame.buffer = undefined;
    frame.complete = true;
    frame.resolvedDrop = true;
    this.stats.framesLost++;
    const last = this.#events.last();
    // Consecutive unseen frames go out as one event.
    if (
      !frame.seen && last?.type === "dropped" && last.reason === "lost" &&
      last.detail.startsWith("frames never seen") &&
      frameDiff(frame.id, last.frameId) === last.frames
    ) {
      this.#events.replaceLast({
        ...last,
        frames: last.frames + 1,
        detail: `frames never seen from ${last.frameId} (${
          last.frames + 1
        } frames)`,
      });
      return;
    }
    this.#events.push({
      type: "dropped",
      reason: "lost",
      frameId: frame.id,
      frames: 1,
      detail: frame.seen
        ? `frame ${frame.id} incomplete after ${this.#latencyMs} ms: ${frame.received} of ${frame.count} chunks`
        : `frames never seen from ${frame.id} (1 frames)`,
    });
  }

  /** Hands out, in order, the frames at the head that are resolved. */
  #release(): void {
    const frames = this.#frames;
    while (this.#nextId !== undefined) {
      const head = frames.get(this.#nextId);
      if (head === undefined || !head.complete) return;
      frames.delete(this.#nextId);
      this.#nextId = (this.#nextId + 1) >>> 0;
      if (head.resolvedDrop) continue;
      this.#free(head);
      this.stats.framesDelivered++;
      this.#events.push({
        type: "frame",
        frameId: head.id,
        bytes: head.buffer!,
        timestamp: head.timestamp,
      });
      head.buffer = undefined;
    }
  }

  #free(frame: Frame): void {
    if (frame.buffer !== undefined && !frame.freed) {
      this.#budget.reserved -= frame.length;
      frame.freed = true;
    }
  }

  #countLate(id: number): void {
    const ids = this.#lateIds;
    const signed = id | 0;
    if (ids.includes(signed)) return;
    ids[this.#lateCursor] = signed;
    this.#lateCursor = (this.#lateCursor + 1) % ids.length;
    this.stats.framesLate++;
    this.#events.push({
      type: "dropped",
      reason: "late",
      frameId: id,
      frames: 1,
      detail: `frame ${id} came after a newer frame was delivered`,
    });
  }
}

function newFrame(id: number, now: number, deadline: number): Frame {
  const frame: Frame = {
    id,
    seen: false,
    count: 0,
    have: EMPTY,
    received: 0,
    highestIndex: -1,
    parityFollows: false,
    paritySeen: false,
    deadline,
    openedAt: now,
    lastArrival: -Infinity,
    lastNackAt: -Infinity,
    length: 0,
    size: 0,
    crc: 0,
    timestamp: 0,
    buffer: undefined,
    complete: false,
    parities: undefined,
    resolvedDrop: false,
    freed: false,
  };
  return frame;
}

/**
 * The one chunk of `group` still missing; -1 when none is, `Infinity` when
 * more than one is.
 */
function missingIn(frame: Frame, group: ParityGroup): number {
  let missing = -1;
  for (let k = 0; k < group.length; k++) {
    const index = group.first + k * group.stride;
    if (frame.have[index] !== 1) {
      if (missing >= 0) return Infinity;
      missing = index;
    }
  }
  return missing;
}
