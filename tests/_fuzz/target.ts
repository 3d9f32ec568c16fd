/**
 * What a fuzz target is: a generator of cases (valid inputs from the
 * corpus, mutated) and a runner that feeds a case to the code under test
 * and checks its invariants. A case holds everything needed to replay it,
 * so a failing one is saved as a regression fixture and replayed alone.
 *
 * @module
 */

import type { Endpoint } from "../../lib/net/types.ts";
import type { Corpus } from "./corpus.ts";
import type { Prng } from "./prng.ts";

/** The `from` of the good sender's datagrams; every other number is hostile. */
export const GOOD = 0;

/** One input of a case: a datagram, a chunk of a byte stream, or a string's bytes. */
export interface FuzzDatagram {
  /** Who sent it: {@linkcode GOOD}, or a hostile sender's number. */
  readonly from: number;
  /** Milliseconds on the virtual clock since the previous datagram. */
  readonly dtMs: number;
  /** The bytes. */
  readonly bytes: Uint8Array;
  /**
   * `control` for the server's control port (image port + 1, where RTCP
   * comes); the image port otherwise.
   */
  readonly via?: "control";
}

/** One case: the inputs, in order, and the target's settings for it. */
export interface FuzzCase {
  /** The inputs. */
  readonly datagrams: readonly FuzzDatagram[];
  /** Settings the target chose for this case (limits, modes), by name. */
  readonly params: Readonly<Record<string, number>>;
}

/** A fuzz target: one parser or reassembler, and what must hold for it. */
export interface FuzzTarget {
  /** A short name, `area-thing`: it names fixtures and `--target`. */
  readonly name: string;
  /** One line: what is fed to what. */
  readonly about: string;
  /**
   * The share of the long run's datagrams, relative to other targets.
   *
   * @default {1}
   */
  readonly weight?: number;
  /** Builds a case from the corpus's valid inputs, mutated. */
  generate(rng: Prng, corpus: Corpus): FuzzCase;
  /**
   * Feeds the case to fresh state and checks the invariants; throws when
   * one breaks, or lets through what the code under test threw.
   */
  run(input: FuzzCase): void | Promise<void>;
}

/** An invariant that did not hold. */
export class InvariantError extends Error {
  /**
   * @param message Which invariant, and the values that broke it.
   */
  constructor(message: string) {
    super(message);
    this.name = "InvariantError";
  }
}

/** Throws an {@linkcode InvariantError} unless `condition` holds. */
export function invariant(
  condition: unknown,
  message: string | (() => string),
): asserts condition {
  if (!condition) {
    throw new InvariantError(
      typeof message === "string" ? message : message(),
    );
  }
}

/** The bytes of `parts`, one after another, in a new array. */
export function concatBytes(
  parts: readonly Uint8Array[],
): Uint8Array<ArrayBuffer> {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The address of sender `from`: 10.0.0.1:5000 for the good one. */
export function endpointOf(from: number): Endpoint {
  if (from === GOOD) return { hostname: "10.0.0.1", port: 5000 };
  return {
    hostname: `10.1.${(from >>> 8) & 0xff}.${from & 0xff}`,
    port: 6000 + (from >>> 16),
  };
}

/** The key of sender `from`, `host:port`, as the server makes it. */
export function keyOf(from: number): string {
  const { hostname, port } = endpointOf(from);
  return `${hostname}:${port}`;
}

/** How many different hostile senders a case has. */
export function hostileSenders(input: FuzzCase): number {
  const seen = new Set<number>();
  for (const d of input.datagrams) if (d.from !== GOOD) seen.add(d.from);
  return seen.size;
}

/** A param of a case, or `fallback` when a fixture predates it. */
export function param(input: FuzzCase, name: string, fallback: number): number {
  const value = input.params[name];
  return value === undefined ? fallback : value;
}

/** The datagrams from hostile senders. */
export function countHostile(input: FuzzCase): number {
  let n = 0;
  for (const d of input.datagrams) if (d.from !== GOOD) n++;
  return n;
}
