/**
 * The receive loop every program here runs on a socket: batches in, each
 * datagram handed on, errors reported and, so that a lasting one does not
 * spin, followed by a short pause; it ends when the socket closes.
 *
 * @module
 */

import { sleep } from "../_sleep.ts";
import type { DatagramBatch, DatagramSocket } from "./types.ts";

/** What {@linkcode receiveLoop} does with what comes. */
export interface ReceiveLoopHandlers {
  /**
   * Takes one datagram: a view into the batch, valid until the next
   * receive, so copy what must be kept.
   */
  onDatagram(datagram: Uint8Array, batch: DatagramBatch, index: number): void;
  /** Called after each batch's datagrams. */
  onBatch?(): void;
  /** Called with a receive error; the loop pauses 10 ms and goes on. */
  onError?(error: Error): void;
  /**
   * Whether the owner closed the socket: errors after that end the loop, and
   * no datagram is handed on once it is.
   */
  closed(): boolean;
}

/**
 * Receives batches on `socket` until it closes.
 *
 * @param socket An open socket.
 * @param handlers What to do with each datagram, batch and error.
 * @returns When the socket is closed.
 *
 * @example Printing datagrams until closed
 * ```ts
 * import { openDatagramSocket } from "./open.ts";
 * import { receiveLoop } from "./receive_loop.ts";
 *
 * const socket = await openDatagramSocket({ hostname: "127.0.0.1", port: 0 });
 * let closed = false;
 * const loop = receiveLoop(socket, {
 *   onDatagram(datagram) {
 *     console.log(datagram.length);
 *     closed = true;
 *     socket.close();
 *   },
 *   closed: () => closed,
 * });
 * await socket.send(new Uint8Array(3), socket.addr);
 * await loop;
 * ```
 */
export async function receiveLoop(
  socket: DatagramSocket,
  handlers: ReceiveLoopHandlers,
): Promise<void> {
  const batch = socket.createBatch();
  while (true) {
    let count: number;
    try {
      count = await socket.receive(batch);
    } catch (error) {
      if (handlers.closed()) return;
      handlers.onError?.(
        error instanceof Error ? error : new Error(String(error)),
      );
      await sleep(10);
      continue;
    }
    // A batch can land after the owner closed the socket (and disposed of
    // what the handlers use, such as a sealed stream's key), and a handler
    // may close it mid-batch: neither is handed on.
    if (count === 0 || handlers.closed()) return;
    for (let i = 0; i < count && !handlers.closed(); i++) {
      const offset = batch.offsets[i]!;
      handlers.onDatagram(
        batch.buffer.subarray(offset, offset + batch.lengths[i]!),
        batch,
        i,
      );
    }
    if (handlers.closed()) return;
    handlers.onBatch?.();
  }
}
