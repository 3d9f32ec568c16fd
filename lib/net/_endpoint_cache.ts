/**
 * A small bounded cache of sender {@linkcode Endpoint}s and their keys, so
 * that a datagram from a sender seen before costs no allocation.
 *
 * @module
 */

import { endpointKey, formatIpv4, formatIpv6 } from "./_ip.ts";
import type { Endpoint } from "./types.ts";

/** A cached sender. */
export interface SenderEntry {
  /** The shared endpoint object. */
  readonly endpoint: Endpoint;
  /** Its `host:port` key. */
  readonly key: string;
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  readonly port: number;
  readonly v6: boolean;
}

/** Looks up senders by raw address words; evicts the oldest when full. */
export class EndpointCache {
  #entries = new Map<number, SenderEntry>();
  #limit: number;
  #last: SenderEntry | undefined;

  /** Creates a cache holding at most `limit` senders. */
  constructor(limit = 1024) {
    this.#limit = limit;
  }

  /** The entry for an IPv4 sender; `address` is the big-endian word. */
  ipv4(address: number, port: number): SenderEntry {
    const last = this.#last;
    // One busy sender is the common case: no Map lookup, no boxed number.
    if (
      last !== undefined && !last.v6 && last.w3 === address &&
      last.port === port
    ) {
      return last;
    }
    const hash = address * 65536 + port;
    let entry = this.#entries.get(hash);
    if (entry === undefined || entry.v6) {
      const endpoint = { hostname: formatIpv4(address), port };
      entry = this.#insert(hash, {
        endpoint,
        key: endpointKey(endpoint),
        w0: 0,
        w1: 0,
        w2: 0,
        w3: address,
        port,
        v6: false,
      });
    }
    this.#last = entry;
    return entry;
  }

  /** The entry for an IPv6 sender given as four big-endian words. */
  ipv6(
    w0: number,
    w1: number,
    w2: number,
    w3: number,
    port: number,
  ): SenderEntry {
    const last = this.#last;
    if (last !== undefined && last.v6 && same(last, w0, w1, w2, w3, port)) {
      return last;
    }
    // Negative keys keep IPv6 hashes apart from IPv4 keys, which are >= 0.
    let hash = Math.imul(w0 ^ port, 0x9e3779b1);
    hash = Math.imul(hash ^ w1, 0x85ebca6b);
    hash = Math.imul(hash ^ w2, 0xc2b2ae35);
    hash = Math.imul(hash ^ w3, 0x27d4eb2f);
    const key = -1 - (hash >>> 0);
    let entry = this.#entries.get(key);
    if (entry === undefined || !same(entry, w0, w1, w2, w3, port)) {
      const endpoint = { hostname: formatIpv6(w0, w1, w2, w3), port };
      entry = this.#insert(key, {
        endpoint,
        key: endpointKey(endpoint),
        w0,
        w1,
        w2,
        w3,
        port,
        v6: true,
      });
    }
    this.#last = entry;
    return entry;
  }

  #insert(key: number, entry: SenderEntry): SenderEntry {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#limit) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, entry);
    return entry;
  }
}

function same(
  entry: SenderEntry,
  w0: number,
  w1: number,
  w2: number,
  w3: number,
  port: number,
): boolean {
  return entry.v6 && entry.w0 === w0 && entry.w1 === w1 && entry.w2 === w2 &&
    entry.w3 === w3 && entry.port === port;
}
