/**
 * RTP to a stream's UDP clients, paced: each frame's packets go in bursts
 * spread over half the frame interval (as measured from the frames), the
 * same burst to every client at once, one frame at a time. A client whose
 * socket has not taken its last burst when a frame starts skips that frame:
 * the newest frame wins, and memory stays bounded.
 *
 * @module
 */

import type { DatagramSocket, Endpoint } from "../net/types.ts";
import { burstSchedule } from "../rtp/pacing.ts";
import type { MediaSink, PacketizedFrame } from "./stream.ts";

/** How a stream's frames are spread. */
export interface UdpPacing {
  /** The part of the frame interval a frame is spread over. @default {0.5} */
  spreadFraction?: number;
  /** The longest spread, in ms. @default {40} */
  maxSpreadMs?: number;
  /** Packets per burst. @default {8} */
  burstPackets?: number;
  /** The clock, in ms. @default {performance.now} */
  clock?: () => number;
}

/** How long a client's sends may wait in the socket before it skips frames, in ms. */
const BUSY_SKIP_MS = 2;

interface Job {
  readonly frame: PacketizedFrame;
  readonly bursts: { packets: Uint8Array[]; atMs: number }[];
  readonly sinks: UdpSink[];
  next: number;
  startMs: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** One stream's pacer, shared by its UDP clients. */
export class UdpPacer {
  readonly #rtp: DatagramSocket;
  readonly #fraction: number;
  readonly #maxSpreadMs: number;
  readonly #burstPackets: number;
  readonly #onSkip: () => void;
  /** The clock the pacer and its sinks read. */
  readonly now: () => number;
  #job: Job | undefined;
  #lastFrameMs: number | undefined;
  #intervalMs = 0;
  #closed = false;

  constructor(rtp: DatagramSocket, pacing: UdpPacing, onSkip: () => void) {
    this.#rtp = rtp;
    this.#fraction = pacing.spreadFraction ?? 0.5;
    this.#maxSpreadMs = pacing.maxSpreadMs ?? 40;
    this.#burstPackets = pacing.burstPackets ?? 8;
    this.#onSkip = onSkip;
    this.now = pacing.clock ?? (() => performance.now());
  }

  /** Adds `sink` to the frame's job, starting the job for a new frame. */
  send(frame: PacketizedFrame, sink: UdpSink): void {
    if (this.#closed) return;
    let job = this.#job;
    if (job?.frame !== frame) {
      if (job !== undefined) this.#flush(job);
      job = this.#start(frame);
    }
    if (sink.busyMs(this.now()) > BUSY_SKIP_MS) {
      // The socket has been unable to send its earlier bursts: skip this
      // frame rather than queue it.
      this.#onSkip();
      return;
    }
    job.sinks.push(sink);
  }

  /** Stops sending to `sink`. */
  remove(sink: UdpSink): void {
    const sinks = this.#job?.sinks;
    const at = sinks?.indexOf(sink) ?? -1;
    if (at >= 0) sinks!.splice(at, 1);
  }

  /** Stops the timer; nothing more is sent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#job?.timer);
    this.#job = undefined;
  }

  #start(frame: PacketizedFrame): Job {
    const now = this.now();
    if (this.#lastFrameMs !== undefined) {
      const delta = Math.min(1000, now - this.#lastFrameMs);
      this.#intervalMs = this.#intervalMs === 0
        ? delta
        : 0.8 * this.#intervalMs + 0.2 * delta;
    }
    this.#lastFrameMs = now;
    const spreadMs = Math.min(
      this.#maxSpreadMs,
      this.#fraction * this.#intervalMs,
    );
    const packets = frame.packets;
    const bursts = burstSchedule(packets.map((p) => p.length), {
      spreadMs,
      burstPackets: this.#burstPackets,
    }).map((b) => ({ packets: packets.slice(b.start, b.end), atMs: b.atMs }));
    const job: Job = {
      frame,
      bursts,
      sinks: [],
      next: 0,
      startMs: now,
      timer: undefined,
    };
    this.#job = job;
    // The first burst goes once every sink of this frame has joined: after
    // the stream's synchronous delivery loop.
    queueMicrotask(() => this.#run(job));
    return job;
  }

  #run(job: Job): void {
    if (this.#job !== job || this.#closed) return;
    job.timer = undefined;
    const now = this.now();
    while (job.next < job.bursts.length) {
      const burst = job.bursts[job.next]!;
      if (job.startMs + burst.atMs > now + 0.5) break;
      this.#sendBurst(job, burst.packets);
      job.next++;
    }
    if (job.next < job.bursts.length) {
      const wait = job.startMs + job.bursts[job.next]!.atMs - now;
      job.timer = setTimeout(() => this.#run(job), Math.max(0, wait));
    } else if (this.#job === job) {
      this.#job = undefined;
    }
  }

  /** Sends what is left of a job at once, because a newer frame came. */
  #flush(job: Job): void {
    clearTimeout(job.timer);
    while (job.next < job.bursts.length) {
      this.#sendBurst(job, job.bursts[job.next]!.packets);
      job.next++;
    }
  }

  #sendBurst(job: Job, packets: Uint8Array[]): void {
    for (const sink of job.sinks) sink.take(this.#rtp, packets);
  }
}

/** One UDP client: its addresses, and what its socket has not yet sent. */
export class UdpSink implements MediaSink {
  readonly #pacer: UdpPacer;
  readonly #rtcp: DatagramSocket;
  readonly #to: { readonly rtp: Endpoint; readonly rtcp: Endpoint };
  readonly #onError: (error: Error) => void;
  #stopped = false;
  #pending = 0;
  #busySinceMs = 0;

  constructor(
    pacer: UdpPacer,
    rtcp: DatagramSocket,
    to: { readonly rtp: Endpoint; readonly rtcp: Endpoint },
    onError: (error: Error) => void,
  ) {
    this.#pacer = pacer;
    this.#rtcp = rtcp;
    this.#to = to;
    this.#onError = onError;
  }

  sendFrame(frame: PacketizedFrame): void {
    if (!this.#stopped) this.#pacer.send(frame, this);
  }

  sendRtcp(packet: Uint8Array): void {
    this.#rtcp.send(packet, this.#to.rtcp).catch((error) =>
      this.#onError(error)
    );
  }

  /** How long its oldest unfinished send has waited, in ms; 0 when none. */
  busyMs(nowMs: number): number {
    return this.#pending === 0 ? 0 : nowMs - this.#busySinceMs;
  }

  /** Sends one burst from `rtp`. */
  take(rtp: DatagramSocket, packets: Uint8Array[]): void {
    if (this.#stopped) return;
    if (this.#pending++ === 0) this.#busySinceMs = this.#pacer.now();
    rtp.sendMany(packets, this.#to.rtp).catch((error) => this.#onError(error))
      .finally(() => {
        if (--this.#pending === 0) this.#busySinceMs = 0;
      });
  }

  stop(): void {
    this.#stopped = true;
    this.#pacer.remove(this);
  }
}
