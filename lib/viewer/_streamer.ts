/**
 * The viewer's open MJPEG responses: each is sent the newest frame whenever
 * its client has taken the previous one, so a slow client skips frames
 * instead of queueing them.
 *
 * @module
 */

import type { BoardEntry, FrameBoard } from "./frame_board.ts";
import { encodePartHead, encodePartTail, MJPEG_BOUNDARY } from "./mjpeg.ts";
import type { ViewerFrame } from "./types.ts";

/** The frame as the stream sends it: JPEG, or PNG when it cannot be. */
export type EncodeFrame = (
  frame: ViewerFrame,
) => Promise<{ bytes: Uint8Array; type: string }>;

/** What a stream shows: one sender (the default one when `undefined`), or all. */
export type StreamTarget = { sender: string | undefined } | "wall";

/** What one response needs between pulls. */
interface StreamState {
  readonly target: StreamTarget;
  /** For one sender: the sequence number of the frame sent last. */
  lastSeq: number;
  /** For the wall: the sequence number sent last, by sender. */
  readonly sent: Map<string, number>;
  /** For the wall: the sender sent last, so that senders take turns. */
  cursor: string | undefined;
  first: boolean;
  /** Whether the last part sent repeats the one before. */
  repeated: boolean;
  closed: boolean;
  wake: (() => void) | undefined;
  controller: ReadableStreamDefaultController<Uint8Array> | undefined;
}

const PART_TAIL = encodePartTail(MJPEG_BOUNDARY);

/**
 * The open streams of one viewer, over one frame board. A stream of one
 * sender is an MJPEG stream for an `<img>`. The wall stream sends every
 * sender's newest frame in turn, each part tagged `X-Sender`, for a page
 * that reads it with `fetch` and so needs one connection for all tiles.
 */
export class Streamer {
  readonly #board: FrameBoard;
  readonly #encode: EncodeFrame;
  readonly #idleRepeatMs: number;
  readonly #maxSenders: number;
  readonly #streams = new Set<StreamState>();
  readonly #waiting = new Set<StreamState>();
  #partsSent = 0;

  constructor(
    board: FrameBoard,
    encode: EncodeFrame,
    options: { idleRepeatMs: number; maxSenders: number },
  ) {
    this.#board = board;
    this.#encode = encode;
    this.#idleRepeatMs = options.idleRepeatMs;
    this.#maxSenders = options.maxSenders;
  }

  /** How many streams are open. */
  get active(): number {
    return this.#streams.size;
  }

  /** Parts sent, over all streams. */
  get partsSent(): number {
    return this.#partsSent;
  }

  /** Bytes queued in open streams that their clients have not taken yet. */
  get queuedBytes(): number {
    let queued = 0;
    for (const stream of this.#streams) {
      queued -= Math.min(0, stream.controller?.desiredSize ?? 0);
    }
    return queued;
  }

  /** Wakes the streams waiting for a frame: call after each publish. */
  wake(): void {
    for (const stream of this.#waiting) stream.wake?.();
    this.#waiting.clear();
  }

  /** Opens a stream body; it ends when the client goes or on `closeAll`. */
  open(target: StreamTarget): ReadableStream<Uint8Array> {
    const state: StreamState = {
      target,
      lastSeq: 0,
      sent: new Map(),
      cursor: undefined,
      first: true,
      repeated: false,
      closed: false,
      wake: undefined,
      controller: undefined,
    };
    this.#streams.add(state);
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        state.controller = controller;
      },
      pull: (controller) => this.#pull(state, controller),
      cancel: () => this.#end(state),
      // Pulled only when the client has taken everything queued, so that a
      // slow client is sent the newest frame rather than a backlog.
    }, new ByteLengthQueuingStrategy({ highWaterMark: 0 }));
  }

  /** Ends every open stream. */
  closeAll(): void {
    for (const stream of this.#streams) this.#end(stream);
  }

  /** The next wall frame: the first fresh one after the sender sent last. */
  #nextForWall(state: StreamState): BoardEntry | undefined {
    let pastCursor = state.cursor === undefined;
    let firstFresh: BoardEntry | undefined;
    for (const entry of this.#board.entries()) {
      const fresh = entry.seq > (state.sent.get(entry.sender) ?? 0);
      if (fresh && pastCursor) return entry;
      if (fresh) firstFresh ??= entry;
      if (entry.sender === state.cursor) pastCursor = true;
    }
    return firstFresh;
  }

  async #pull(
    state: StreamState,
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    const wall = state.target === "wall";
    let idle = false;
    for (;;) {
      if (state.closed) return;
      const entry = state.target === "wall"
        ? this.#nextForWall(state)
        : this.#board.newest(state.target.sender);
      const fresh = entry !== undefined &&
        (wall || entry.seq !== state.lastSeq);
      if (entry !== undefined && (fresh || (idle && !state.repeated))) {
        state.repeated = !fresh;
        state.lastSeq = entry.seq;
        if (wall) this.#sentToWall(state, entry);
        const { bytes, type } = await this.#encode(entry.frame);
        if (state.closed) return;
        controller.enqueue(
          encodePartHead(type, bytes.byteLength, {
            first: state.first,
            boundary: MJPEG_BOUNDARY,
            ...(wall && { headers: { "X-Sender": entry.sender } }),
          }),
        );
        controller.enqueue(bytes);
        controller.enqueue(PART_TAIL);
        state.first = false;
        this.#partsSent++;
        return;
      }
      // Browsers show a part only once the next part's headers arrive, so a
      // stream that goes quiet repeats its last frame once to show it. The
      // wall's reader goes by Content-Length and needs no repeat.
      const repeat = !wall && entry !== undefined && !state.repeated &&
        this.#idleRepeatMs > 0;
      idle = !await this.#wait(state, repeat ? this.#idleRepeatMs : 0);
    }
  }

  #sentToWall(state: StreamState, entry: BoardEntry): void {
    state.sent.set(entry.sender, entry.seq);
    state.cursor = entry.sender;
    if (state.sent.size > 2 * this.#maxSenders) {
      // Senders the board has forgotten: keep the map bounded.
      const known = new Set<string>();
      for (const { sender } of this.#board.entries()) known.add(sender);
      for (const sender of state.sent.keys()) {
        if (!known.has(sender)) state.sent.delete(sender);
      }
    }
  }

  /** Resolves true when a frame is published, false after `timeoutMs` (0: never). */
  #wait(state: StreamState, timeoutMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      state.wake = () => {
        state.wake = undefined;
        clearTimeout(timer);
        resolve(true);
      };
      this.#waiting.add(state);
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          state.wake = undefined;
          this.#waiting.delete(state);
          resolve(false);
        }, timeoutMs);
      }
    });
  }

  #end(state: StreamState): void {
    if (state.closed) return;
    state.closed = true;
    this.#streams.delete(state);
    this.#waiting.delete(state);
    state.wake?.();
    try {
      // Erroring rather than closing drops what a stalled client has not
      // read, so that shutting down does not wait for it.
      state.controller?.error(new Error("Viewer closed"));
    } catch {
      // Already closed or errored.
    }
  }
}
