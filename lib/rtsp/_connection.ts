/**
 * One RTSP connection's output: answers and RTCP go out in order, and the
 * frames of each interleaved session wait in a slot that holds only the
 * newest, so a client that reads slowly skips frames instead of queueing
 * them. A message is always written whole, so that answers never land in
 * the middle of a frame.
 *
 * @module
 */

import type { RtspConnectionInfo } from "./session.ts";
import { RtspMessageReader, type RtspMessageReaderOptions } from "./message.ts";

/** Control bytes (answers, RTCP) a connection may have queued before it is closed. */
const MAX_CONTROL_BYTES = 256 * 1024;

/** The writing side of one connection, and its reader and clocks. */
export class RtspConnection {
  /** The connection as the state machine sees it. */
  readonly info: RtspConnectionInfo;
  /** Parses what the client sends. */
  readonly reader: RtspMessageReader;
  /** When it opened. */
  readonly openedMs: number;
  /** When the last whole request arrived (or the connection opened). */
  lastRequestMs: number;
  /** Since when a partial message has been held, if one is. */
  partialSinceMs: number | undefined;
  /** Whether it is past the connection cap: answer 503 once, then close. */
  readonly refusing: boolean;
  /** Frames replaced in a slot before they were written. */
  skipped = 0;
  readonly #conn: Deno.Conn;
  readonly #control: Uint8Array[] = [];
  #controlBytes = 0;
  readonly #frames = new Map<string, Uint8Array>();
  #writing = false;
  #writeSinceMs: number | undefined;
  #endAfterFlush = false;
  #closed = false;

  constructor(
    conn: Deno.TcpConn,
    id: number,
    nowMs: number,
    refusing: boolean,
    limits: RtspMessageReaderOptions,
  ) {
    this.#conn = conn;
    const remote = conn.remoteAddr;
    const local = conn.localAddr;
    this.info = {
      id,
      remote: { hostname: remote.hostname, port: remote.port },
      local: { hostname: local.hostname, port: local.port },
    };
    this.reader = new RtspMessageReader({ ...limits, kind: "request" });
    this.openedMs = nowMs;
    this.lastRequestMs = nowMs;
    this.refusing = refusing;
  }

  /** Whether it has been closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Since when the current write has been waiting, if one is. */
  get writeSinceMs(): number | undefined {
    return this.#writeSinceMs;
  }

  /** Reads from the socket; `null` at its end. */
  read(buffer: Uint8Array): Promise<number | null> {
    return this.#conn.read(buffer);
  }

  /** Queues an answer or an RTCP packet, to go before waiting frames. */
  sendControl(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#controlBytes += bytes.length;
    if (this.#controlBytes > MAX_CONTROL_BYTES) {
      // A client that sends requests and never reads the answers.
      this.close();
      return;
    }
    this.#control.push(bytes);
    void this.#pump();
  }

  /** Makes `bytes` the frame to write next for `slot`, replacing an older one. */
  sendFrame(slot: string, bytes: Uint8Array): void {
    if (this.#closed || this.#endAfterFlush) return;
    if (this.#frames.delete(slot)) this.skipped++;
    this.#frames.set(slot, bytes);
    void this.#pump();
  }

  /** Forgets a slot's waiting frame, when its session stops. */
  dropFrames(slot: string): void {
    this.#frames.delete(slot);
  }

  /** Closes the connection once what is queued has been written. */
  endAfterFlush(): void {
    this.#endAfterFlush = true;
    this.#frames.clear();
    if (!this.#writing) this.close();
  }

  /** Closes the socket now; the read loop then ends. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#control.length = 0;
    this.#frames.clear();
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  async #pump(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (!this.#closed) {
        let chunk = this.#control.shift();
        if (chunk !== undefined) this.#controlBytes -= chunk.length;
        else {
          const next = this.#frames.entries().next();
          if (next.done) break;
          this.#frames.delete(next.value[0]);
          chunk = next.value[1];
        }
        this.#writeSinceMs = performance.now();
        let at = 0;
        while (at < chunk.length) {
          at += await this.#conn.write(chunk.subarray(at));
        }
        this.#writeSinceMs = undefined;
      }
    } catch {
      this.close();
    } finally {
      this.#writing = false;
      this.#writeSinceMs = undefined;
    }
    if (this.#endAfterFlush) this.close();
  }
}
