/**
 * The stream protocol's wire codec, version 1: the fixed header every
 * datagram starts with, and the body of each type. Readers fill objects the
 * caller reuses and return why a datagram is malformed instead of throwing;
 * writers throw `RangeError` for a value a field cannot hold. Integers are
 * big-endian. The full specification is `docs/PROTOCOL.md`.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  magic 0x55   |  magic 0x53   |  version = 1  |     type      |  0
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     flags     |               reserved = 0                    |  4
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                          stream id                            |  8
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |D|                  packet number (63 bits)                    | 12
 * +-+                                                             +
 * |                                                               | 16
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * flags: 0x01 sealed, 0x02 parity follows, 0x04 retransmission
 * D: 0 from the sender, 1 from the receiver
 *
 * data (1) and parity (2), after the fixed header:
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           frame id                            | 20
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  chunk index / parity: first  |          chunk count          | 24
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         frame length                          | 28
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         frame CRC-32C                         | 32
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |            frame timestamp (µs since the epoch, 64)           | 36
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                        send offset (µs)                       | 44
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |       parity: stride          |     parity: group length      | 48
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * payload from 48 (data) or 52 (parity)
 *
 * nack (3): entry count (16), reserved (16), then entries of
 *   frame id (32) | first chunk (16, 0xFFFF: whole frame) | bitmap (16)
 * report (4): highest packet number (64), delay since (32), receiver
 *   clock (64), packets, bytes, next frame id, frames delivered, lost,
 *   late, corrupt, chunks recovered by NACK, by FEC, chunks late, jitter,
 *   queueing delay, frames skipped, frames waiting (32 each): 96 bytes
 * message (5): message id (32), UTF-8 JSON
 * message-ack (6): message id (32), status (8), reserved (24), UTF-8 reply
 * sender-report (7): sender clock (64), echoed clock (64), delay since
 *   (32), next frame id (32): 44 bytes
 * bye (8): no body
 * notice (9, receiver to sender, never sealed): code (8), reserved (24),
 *   UTF-8 text, cut to fit
 * ```
 *
 * Sealed (flag 0x01): the fixed header stays in the clear as additional
 * data, the body after it is encrypted with AES-256-GCM and a 16-byte tag
 * follows; the nonce is bytes 8–19 of the header as sent (stream id, then
 * the packet number field, direction bit included). The opener runs right
 * after {@linkcode readHeader}, before any body reader.
 *
 * @module
 */

import { MAX_DATAGRAM_BYTES } from "../classic/constants.ts";

/** The stream protocol's version, in byte 2 of every datagram. */
export const VERSION = 1;
/** Bytes of the fixed header. */
export const FIXED_HEADER_BYTES = 20;
/** Bytes before a data chunk's payload. */
export const DATA_HEADER_BYTES = 48;
/** Bytes before a parity payload. */
export const PARITY_HEADER_BYTES = 52;
/** Bytes before the first NACK entry. */
export const NACK_HEADER_BYTES = 24;
/** Bytes of one NACK entry. */
export const NACK_ENTRY_BYTES = 8;
/** Bytes of a report. */
export const REPORT_BYTES = 96;
/** Bytes of a sender report. */
export const SENDER_REPORT_BYTES = 44;
/** Bytes before a message's text. */
export const MESSAGE_HEADER_BYTES = 24;
/** Bytes before a message-ack's reply. */
export const MESSAGE_ACK_HEADER_BYTES = 28;
/** Bytes before a notice's text. */
export const NOTICE_HEADER_BYTES = 24;
/** Where a sealed datagram's nonce lies: the stream id and packet number. */
export const NONCE_OFFSET = 8;
/** What sealing adds to a datagram: the AES-GCM tag. */
export const SEAL_OVERHEAD = 16;
/** The largest datagram unless told otherwise, headers included. */
export const DEFAULT_DATAGRAM_BYTES = 1200;
/** The smallest datagram size a sender may be given. */
export const MIN_DATAGRAM_BYTES = 256;
/** The first chunk of a NACK entry that asks for a whole frame. */
export const WHOLE_FRAME = 0xffff;
/** The most chunks a frame may have. */
export const MAX_CHUNKS = 0xffff;

/** Datagram types, byte 3. */
export const PacketType = {
  data: 1,
  parity: 2,
  nack: 3,
  report: 4,
  message: 5,
  messageAck: 6,
  senderReport: 7,
  bye: 8,
  notice: 9,
} as const;

/** A datagram type's number. */
export type PacketTypeNumber = typeof PacketType[keyof typeof PacketType];

/** Flag bits, byte 4. */
export const Flags = {
  /** The body is sealed: encrypted, with a tag after it. */
  sealed: 0x01,
  /** Data only: parity datagrams follow this frame's data. */
  parityFollows: 0x02,
  /** Sent again in answer to a NACK. */
  retransmission: 0x04,
} as const;

const KNOWN_FLAGS = 0x07;
const TWO_32 = 2 ** 32;

/** Which way a datagram travels, from its type. */
const FROM_SENDER = [
  false,
  true,
  true,
  false,
  false,
  true,
  false,
  true,
  true,
  false,
];
const LAST_TYPE = 9;

/** The fixed header, as read. */
export interface FixedHeader {
  /** Datagram type. */
  type: number;
  /** Flag bits. */
  flags: number;
  /** The sender's stream id. */
  streamId: number;
  /** Whether the receiver sent it (the direction bit). */
  fromReceiver: boolean;
  /** The packet number, without the direction bit. */
  packetNumber: number;
}

/** Makes a {@linkcode FixedHeader} to read into. */
export function newFixedHeader(): FixedHeader {
  return {
    type: 0,
    flags: 0,
    streamId: 0,
    fromReceiver: false,
    packetNumber: 0,
  };
}

/**
 * Whether a datagram looks like the stream protocol: the magic, a known
 * type and room for the fixed header. The version is not checked here, so
 * that a sender of another version is told so rather than taken for a
 * classic one.
 *
 * @param datagram A datagram.
 * @returns Whether it starts a stream datagram.
 *
 * @example Telling a stream datagram from a classic header
 * ```ts
 * import { looksLikeStream } from "./wire.ts";
 * console.log(looksLikeStream(new Uint8Array(8))); // false
 * ```
 */
export function looksLikeStream(datagram: Uint8Array): boolean {
  return datagram.length >= FIXED_HEADER_BYTES && datagram[0] === 0x55 &&
    datagram[1] === 0x53 && datagram[3]! >= 1 && datagram[3]! <= LAST_TYPE;
}

/**
 * Reads the fixed header into `out`.
 *
 * @param datagram The datagram.
 * @param out Where the fields go.
 * @returns `undefined`, or why the datagram is not a version 1 datagram:
 * `malformed`, `unsupported` (another version), `flags`, `direction`.
 *
 * @example Reading a header back
 * ```ts
 * import { newFixedHeader, PacketType, readHeader, writeHeader } from "./wire.ts";
 * const bytes = new Uint8Array(20);
 * writeHeader(bytes, PacketType.bye, 0, 0x0a0b0c0d, false, 7);
 * const header = newFixedHeader();
 * console.log(readHeader(bytes, header), header.packetNumber); // undefined 7
 * ```
 */
export function readHeader(
  datagram: Uint8Array,
  out: FixedHeader,
): string | undefined {
  if (!looksLikeStream(datagram)) return "malformed";
  if (datagram[2] !== VERSION) return "unsupported";
  const type = datagram[3]!;
  const flags = datagram[4]!;
  if ((flags & ~KNOWN_FLAGS) !== 0) return "flags";
  const hi = u32(datagram, 12);
  const fromReceiver = hi >= 0x80000000;
  if (fromReceiver === FROM_SENDER[type]) return "direction";
  out.type = type;
  out.flags = flags;
  out.streamId = u32(datagram, 8);
  out.fromReceiver = fromReceiver;
  out.packetNumber = (hi & 0x7fffffff) * TWO_32 + u32(datagram, 16);
  return undefined;
}

/**
 * Writes a fixed header at the start of `bytes`.
 *
 * @param bytes At least 20 bytes.
 * @param type The datagram type.
 * @param flags Flag bits.
 * @param streamId The stream id.
 * @param fromReceiver The direction bit.
 * @param packetNumber The packet number, below 2^53.
 *
 * @example A bye
 * ```ts
 * import { PacketType, writeHeader } from "./wire.ts";
 * const bytes = new Uint8Array(20);
 * writeHeader(bytes, PacketType.bye, 0, 1, false, 0);
 * console.log(bytes.subarray(0, 4)); // Uint8Array(4) [ 85, 83, 1, 8 ]
 * ```
 */
export function writeHeader(
  bytes: Uint8Array,
  type: PacketTypeNumber,
  flags: number,
  streamId: number,
  fromReceiver: boolean,
  packetNumber: number,
): void {
  bytes[0] = 0x55;
  bytes[1] = 0x53;
  bytes[2] = VERSION;
  bytes[3] = type;
  bytes[4] = flags;
  bytes[5] = 0;
  bytes[6] = 0;
  bytes[7] = 0;
  putU32(bytes, 8, streamId);
  putU64(bytes, 12, packetNumber);
  if (fromReceiver) bytes[12]! |= 0x80;
}

/**
 * Writes the packet number field from two words, for counters past 2^53
 * (a receiver's, which start at a random 62-bit number when sealed).
 *
 * @param bytes A datagram whose header is written.
 * @param high Bits 32–62 of the packet number.
 * @param low Bits 0–31.
 * @param fromReceiver The direction bit.
 *
 * @example A receiver's packet number
 * ```ts
 * import { writePacketWords } from "./wire.ts";
 * const bytes = new Uint8Array(20);
 * writePacketWords(bytes, 0x1234, 5, true);
 * console.log(bytes[12], bytes[19]); // 128 5
 * ```
 */
export function writePacketWords(
  bytes: Uint8Array,
  high: number,
  low: number,
  fromReceiver: boolean,
): void {
  putU32(bytes, 12, high);
  putU32(bytes, 16, low);
  if (fromReceiver) bytes[12]! |= 0x80;
  else bytes[12]! &= 0x7f;
}

/** The frame description every data and parity datagram carries. */
export interface ChunkHeader {
  /** The frame id. */
  frameId: number;
  /** Data: the chunk's index; parity: the group's first chunk. */
  index: number;
  /** Chunks in the frame. */
  count: number;
  /** Bytes in the frame. */
  frameLength: number;
  /** CRC-32C of the frame. */
  crc: number;
  /** The frame's timestamp, µs on the sender's clock. */
  timestamp: number;
  /** µs from the timestamp to this datagram's sending. */
  sendOffset: number;
  /** Parity: distance between protected chunks. */
  stride: number;
  /** Parity: how many chunks the group has. */
  groupLength: number;
  /** Where the payload starts in the datagram. */
  payloadOffset: number;
}

/** Makes a {@linkcode ChunkHeader} to read into. */
export function newChunkHeader(): ChunkHeader {
  return {
    frameId: 0,
    index: 0,
    count: 0,
    frameLength: 0,
    crc: 0,
    timestamp: 0,
    sendOffset: 0,
    stride: 0,
    groupLength: 0,
    payloadOffset: 0,
  };
}

/**
 * The chunk size of a frame: every chunk has it but the last.
 *
 * @param frameLength Bytes in the frame.
 * @param count Chunks in the frame.
 * @returns `ceil(frameLength / count)`.
 *
 * @example 2500 bytes in 3 chunks
 * ```ts
 * import { chunkSizeOf } from "./wire.ts";
 * console.log(chunkSizeOf(2500, 3)); // 834
 * ```
 */
export function chunkSizeOf(frameLength: number, count: number): number {
  return Math.ceil(frameLength / count);
}

/**
 * How many chunks a sender cuts a frame into for datagrams of at most
 * `datagramBytes`, leaving room for the parity header.
 *
 * @param frameLength Bytes in the frame.
 * @param datagramBytes The largest datagram.
 * @returns The chunk count.
 * @throws {RangeError} When the frame needs more than 65535 chunks.
 *
 * @example A 2500-byte frame in 1200-byte datagrams
 * ```ts
 * import { chunkCountFor } from "./wire.ts";
 * console.log(chunkCountFor(2500, 1200)); // 3
 * ```
 */
export function chunkCountFor(
  frameLength: number,
  datagramBytes: number,
): number {
  const count = Math.ceil(frameLength / (datagramBytes - PARITY_HEADER_BYTES));
  if (count > MAX_CHUNKS) {
    throw new RangeError(
      `Cannot send a ${frameLength}-byte frame in ${datagramBytes}-byte datagrams: it needs ${count} chunks and the header holds at most ${MAX_CHUNKS}; use a larger --chunk-size`,
    );
  }
  return count;
}

/**
 * Reads a data or parity datagram's frame description, and checks it: the
 * chunking adds up, the index is in range, the payload is exactly the
 * chunk's length, and the frame is no larger than `maxFrameBytes`.
 *
 * @param datagram The datagram (its fixed header already read).
 * @param parity Whether it is a parity datagram.
 * @param maxFrameBytes The largest frame accepted.
 * @param out Where the fields go.
 * @returns `undefined`, or why it was refused: `malformed` or `bad-size`.
 *
 * @example A chunk written and read back
 * ```ts
 * import { newChunkHeader, readChunkHeader, writeChunkHeader } from "./wire.ts";
 * const bytes = new Uint8Array(48 + 10);
 * writeChunkHeader(bytes, { frameId: 3, index: 0, count: 1, frameLength: 10, crc: 0, timestamp: 1, sendOffset: 0 });
 * const header = newChunkHeader();
 * console.log(readChunkHeader(bytes, false, 1 << 20, header), header.frameId); // undefined 3
 * ```
 */
export function readChunkHeader(
  datagram: Uint8Array,
  parity: boolean,
  maxFrameBytes: number,
  out: ChunkHeader,
): string | undefined {
  const payloadOffset = parity ? PARITY_HEADER_BYTES : DATA_HEADER_BYTES;
  if (datagram.length <= payloadOffset) return "malformed";
  const index = (datagram[24]! << 8) | datagram[25]!;
  const count = (datagram[26]! << 8) | datagram[27]!;
  const frameLength = u32(datagram, 28);
  if (frameLength > maxFrameBytes) return "bad-size";
  if (count === 0 || frameLength < count || index >= count) return "malformed";
  const size = Math.ceil(frameLength / count);
  if ((count - 1) * size >= frameLength) return "malformed";
  const payload = datagram.length - payloadOffset;
  if (parity) {
    const stride = (datagram[48]! << 8) | datagram[49]!;
    const groupLength = (datagram[50]! << 8) | datagram[51]!;
    if (
      stride === 0 || groupLength === 0 ||
      index + (groupLength - 1) * stride >= count || payload !== size
    ) return "malformed";
    out.stride = stride;
    out.groupLength = groupLength;
  } else {
    const expected = index < count - 1
      ? size
      : frameLength - (count - 1) * size;
    if (payload !== expected) return "malformed";
    out.stride = 0;
    out.groupLength = 0;
  }
  out.frameId = u32(datagram, 20);
  out.index = index;
  out.count = count;
  out.frameLength = frameLength;
  out.crc = u32(datagram, 32);
  out.timestamp = u32(datagram, 36) * TWO_32 + u32(datagram, 40);
  out.sendOffset = u32(datagram, 44);
  out.payloadOffset = payloadOffset;
  return undefined;
}

/**
 * The fields {@linkcode writeChunkHeader} writes: those of a
 * {@linkcode ChunkHeader}, with `stride` and `groupLength` for parity only.
 */
export type ChunkFields =
  & Omit<ChunkHeader, "stride" | "groupLength" | "payloadOffset">
  & { stride?: number; groupLength?: number };

/**
 * Writes a data or parity frame description at offset 20 of `bytes` (the
 * fixed header is written separately): with `stride` and `groupLength`, a
 * parity header.
 *
 * @param bytes The datagram, at least 48 (or 52) bytes.
 * @param fields The fields.
 * @throws {RangeError} When a field is out of range.
 *
 * @example See {@linkcode readChunkHeader}.
 * ```ts
 * import { writeChunkHeader } from "./wire.ts";
 * writeChunkHeader(new Uint8Array(58), { frameId: 0, index: 0, count: 1, frameLength: 10, crc: 0, timestamp: 0, sendOffset: 0 });
 * ```
 */
export function writeChunkHeader(bytes: Uint8Array, fields: ChunkFields): void {
  const { frameId, index, count, frameLength } = fields;
  checkRange("frame id", frameId, 0, TWO_32 - 1);
  checkRange("chunk count", count, 1, MAX_CHUNKS);
  checkRange("chunk index", index, 0, count - 1);
  checkRange("frame length", frameLength, count, TWO_32 - 1);
  checkRange("timestamp", fields.timestamp, 0, Number.MAX_SAFE_INTEGER);
  putU32(bytes, 20, frameId);
  bytes[24] = index >>> 8;
  bytes[25] = index & 0xff;
  bytes[26] = count >>> 8;
  bytes[27] = count & 0xff;
  putU32(bytes, 28, frameLength);
  putU32(bytes, 32, fields.crc);
  putU64(bytes, 36, fields.timestamp);
  putU32(
    bytes,
    44,
    Math.min(TWO_32 - 1, Math.max(0, Math.round(fields.sendOffset))),
  );
  if (fields.stride !== undefined) {
    const groupLength = fields.groupLength ?? 0;
    checkRange("stride", fields.stride, 1, MAX_CHUNKS);
    checkRange("group length", groupLength, 1, MAX_CHUNKS);
    bytes[48] = fields.stride >>> 8;
    bytes[49] = fields.stride & 0xff;
    bytes[50] = groupLength >>> 8;
    bytes[51] = groupLength & 0xff;
  }
}

/**
 * Rewrites the send offset of a datagram already built, at its send.
 *
 * @param bytes A data or parity datagram.
 * @param sendOffset µs from the frame timestamp; saturates.
 *
 * @example Stamping a chunk
 * ```ts
 * import { writeSendOffset } from "./wire.ts";
 * writeSendOffset(new Uint8Array(48), 1500);
 * ```
 */
export function writeSendOffset(bytes: Uint8Array, sendOffset: number): void {
  putU32(bytes, 44, Math.min(TWO_32 - 1, Math.max(0, Math.round(sendOffset))));
}

/** One NACK entry: chunks of one frame to send again. */
export interface NackEntry {
  /** The frame. */
  frameId: number;
  /** The first chunk missing, or {@linkcode WHOLE_FRAME}. */
  first: number;
  /** Bit b set: chunk `first + 1 + b` is missing too. */
  bitmap: number;
}

/**
 * The number of entries of a NACK, checked against its length.
 *
 * @param datagram A NACK datagram.
 * @returns The entry count, or -1 when the datagram is too short for it.
 *
 * @example An empty NACK
 * ```ts
 * import { nackEntryCount } from "./wire.ts";
 * console.log(nackEntryCount(new Uint8Array(24))); // 0
 * ```
 */
export function nackEntryCount(datagram: Uint8Array): number {
  if (datagram.length < NACK_HEADER_BYTES) return -1;
  const count = (datagram[20]! << 8) | datagram[21]!;
  return NACK_HEADER_BYTES + count * NACK_ENTRY_BYTES <= datagram.length
    ? count
    : -1;
}

/**
 * Reads NACK entry `k` into `out`.
 *
 * @param datagram A NACK datagram whose count was checked.
 * @param k The entry, from 0.
 * @param out Where the fields go.
 *
 * @example See {@linkcode encodeNacks}.
 * ```ts
 * import { readNackEntry } from "./wire.ts";
 * const entry = { frameId: 0, first: 0, bitmap: 0 };
 * readNackEntry(new Uint8Array(32), 0, entry);
 * ```
 */
export function readNackEntry(
  datagram: Uint8Array,
  k: number,
  out: NackEntry,
): void {
  const at = NACK_HEADER_BYTES + k * NACK_ENTRY_BYTES;
  out.frameId = u32(datagram, at);
  out.first = (datagram[at + 4]! << 8) | datagram[at + 5]!;
  out.bitmap = (datagram[at + 6]! << 8) | datagram[at + 7]!;
}

/**
 * Packs NACK entries into as few datagrams of at most `datagramBytes` as
 * they need; the fixed headers are left for the caller (the packet number
 * is stamped when each is sent).
 *
 * @param entries The entries.
 * @param datagramBytes The largest datagram.
 * @returns The datagrams, with type, counts and entries written.
 *
 * @example Two entries in one datagram
 * ```ts
 * import { encodeNacks, nackEntryCount, readNackEntry } from "./wire.ts";
 * const [nack] = encodeNacks([
 *   { frameId: 7, first: 3, bitmap: 0b101 },
 *   { frameId: 8, first: 0xffff, bitmap: 0 },
 * ], 1200);
 * const entry = { frameId: 0, first: 0, bitmap: 0 };
 * readNackEntry(nack!, 0, entry);
 * console.log(nackEntryCount(nack!), entry.first); // 2 3
 * ```
 */
export function encodeNacks(
  entries: readonly NackEntry[],
  datagramBytes: number,
): Uint8Array[] {
  const perDatagram = Math.floor(
    (datagramBytes - NACK_HEADER_BYTES) / NACK_ENTRY_BYTES,
  );
  const datagrams: Uint8Array[] = [];
  for (let start = 0; start < entries.length; start += perDatagram) {
    const n = Math.min(perDatagram, entries.length - start);
    const bytes = new Uint8Array(NACK_HEADER_BYTES + n * NACK_ENTRY_BYTES);
    bytes[3] = PacketType.nack;
    bytes[20] = n >>> 8;
    bytes[21] = n & 0xff;
    for (let k = 0; k < n; k++) {
      const entry = entries[start + k]!;
      const at = NACK_HEADER_BYTES + k * NACK_ENTRY_BYTES;
      putU32(bytes, at, entry.frameId);
      bytes[at + 4] = entry.first >>> 8;
      bytes[at + 5] = entry.first & 0xff;
      bytes[at + 6] = entry.bitmap >>> 8;
      bytes[at + 7] = entry.bitmap & 0xff;
    }
    datagrams.push(bytes);
  }
  return datagrams;
}

/** A receiver's report, as on the wire (counts are mod 2^32). */
export interface Report {
  /** The highest packet number received from the sender. */
  highestPacket: number;
  /** µs from that packet's arrival to this report's sending. */
  delaySince: number;
  /** The receiver's clock when sent, µs since the epoch. */
  receiverClock: number;
  /** Datagrams received, duplicates excluded. */
  packetsReceived: number;
  /** Bytes of those datagrams. */
  bytesReceived: number;
  /** Every frame before it is delivered or given up on. */
  nextFrameId: number;
  /** Frames delivered. */
  framesDelivered: number;
  /** Frames given up on. */
  framesLost: number;
  /** Frames that came after a newer one. */
  framesLate: number;
  /** Frames whose CRC failed. */
  framesCorrupt: number;
  /** Holes filled by retransmissions. */
  recoveredNack: number;
  /** Holes filled from parity. */
  recoveredFec: number;
  /** Chunks that came too late or twice. */
  chunksLate: number;
  /** Interarrival jitter, µs. */
  jitter: number;
  /** Queueing delay, µs. */
  queueingDelay: number;
  /** Whole frames the receiving program could not take: it is too slow. */
  framesSkipped: number;
  /** Whole frames waiting in the receiving program to be decoded or taken. */
  framesWaiting: number;
}

const REPORT_COUNTS = [
  "packetsReceived",
  "bytesReceived",
  "nextFrameId",
  "framesDelivered",
  "framesLost",
  "framesLate",
  "framesCorrupt",
  "recoveredNack",
  "recoveredFec",
  "chunksLate",
  "jitter",
  "queueingDelay",
  "framesSkipped",
  "framesWaiting",
] as const;

/**
 * Encodes a report's body; the fixed header is left for the caller.
 *
 * @param report The fields; counts are taken mod 2^32.
 * @returns A 96-byte datagram with its type set.
 *
 * @example Round trip
 * ```ts
 * import { decodeReport, encodeReport } from "./wire.ts";
 * const bytes = encodeReport({
 *   highestPacket: 41, delaySince: 250, receiverClock: 1_700_000_000_000_000,
 *   packetsReceived: 40, bytesReceived: 48000, nextFrameId: 3,
 *   framesDelivered: 3, framesLost: 0, framesLate: 0, framesCorrupt: 0,
 *   recoveredNack: 1, recoveredFec: 0, chunksLate: 0, jitter: 12, queueingDelay: 0,
 *   framesSkipped: 0, framesWaiting: 0,
 * });
 * console.log(decodeReport(bytes)?.highestPacket); // 41
 * ```
 */
export function encodeReport(report: Report): Uint8Array {
  const bytes = new Uint8Array(REPORT_BYTES);
  bytes[3] = PacketType.report;
  putU64(bytes, 20, report.highestPacket);
  putU32(bytes, 28, clampU32(report.delaySince));
  putU64(bytes, 32, report.receiverClock);
  for (let i = 0; i < REPORT_COUNTS.length; i++) {
    putU32(bytes, 40 + 4 * i, report[REPORT_COUNTS[i]!] >>> 0);
  }
  return bytes;
}

/**
 * Decodes a report.
 *
 * @param datagram A report datagram.
 * @returns The report, or `undefined` when it is too short.
 *
 * @example See {@linkcode encodeReport}.
 * ```ts
 * import { decodeReport } from "./wire.ts";
 * console.log(decodeReport(new Uint8Array(20))); // undefined
 * ```
 */
export function decodeReport(datagram: Uint8Array): Report | undefined {
  if (datagram.length < REPORT_BYTES) return undefined;
  const report = {
    highestPacket: (u32(datagram, 20) & 0x7fffffff) * TWO_32 +
      u32(datagram, 24),
    delaySince: u32(datagram, 28),
    receiverClock: u64(datagram, 32),
  } as Report;
  for (let i = 0; i < REPORT_COUNTS.length; i++) {
    report[REPORT_COUNTS[i]!] = u32(datagram, 40 + 4 * i);
  }
  return report;
}

/** A sender report. */
export interface StreamSenderReport {
  /** The sender's clock when sent, µs since the epoch. */
  senderClock: number;
  /** The receiver clock of the last report received, 0 before one. */
  echoedClock: number;
  /** µs from that report's arrival to this one's sending. */
  delaySince: number;
  /** Frames before it have been sent. */
  nextFrameId: number;
}

/**
 * Encodes a sender report's body; the fixed header is left for the caller.
 *
 * @param report The fields.
 * @returns A 44-byte datagram with its type set.
 *
 * @example Round trip
 * ```ts
 * import { decodeSenderReport, encodeSenderReport } from "./wire.ts";
 * const bytes = encodeSenderReport({ senderClock: 5, echoedClock: 4, delaySince: 1, nextFrameId: 9 });
 * console.log(decodeSenderReport(bytes)?.nextFrameId); // 9
 * ```
 */
export function encodeSenderReport(report: StreamSenderReport): Uint8Array {
  const bytes = new Uint8Array(SENDER_REPORT_BYTES);
  bytes[3] = PacketType.senderReport;
  putU64(bytes, 20, report.senderClock);
  putU64(bytes, 28, report.echoedClock);
  putU32(bytes, 36, clampU32(report.delaySince));
  putU32(bytes, 40, report.nextFrameId >>> 0);
  return bytes;
}

/**
 * Decodes a sender report.
 *
 * @param datagram A sender-report datagram.
 * @returns The report, or `undefined` when it is too short.
 *
 * @example A short datagram
 * ```ts
 * import { decodeSenderReport } from "./wire.ts";
 * console.log(decodeSenderReport(new Uint8Array(30))); // undefined
 * ```
 */
export function decodeSenderReport(
  datagram: Uint8Array,
): StreamSenderReport | undefined {
  if (datagram.length < SENDER_REPORT_BYTES) return undefined;
  return {
    senderClock: u64(datagram, 20),
    echoedClock: u64(datagram, 28),
    delaySince: u32(datagram, 36),
    nextFrameId: u32(datagram, 40),
  };
}

/**
 * Encodes a message or a message-ack body; the fixed header is left for the
 * caller.
 *
 * @param type `message` or `messageAck`.
 * @param messageId The message's id.
 * @param text The JSON text, or the reply.
 * @param status For an ack: 0 handed on, 1 refused.
 * @returns The datagram, with its type set.
 *
 * @example A message and its ack
 * ```ts
 * import { decodeMessage, encodeMessage, PacketType } from "./wire.ts";
 * const bytes = encodeMessage(PacketType.message, 2, new TextEncoder().encode("[0,0,0,1]"));
 * console.log(decodeMessage(bytes)?.id); // 2
 * ```
 */
export function encodeMessage(
  type: typeof PacketType.message | typeof PacketType.messageAck,
  messageId: number,
  text: Uint8Array,
  status = 0,
): Uint8Array {
  checkRange("message id", messageId, 0, TWO_32 - 1);
  const offset = type === PacketType.message
    ? MESSAGE_HEADER_BYTES
    : MESSAGE_ACK_HEADER_BYTES;
  if (offset + text.length > MAX_DATAGRAM_BYTES) {
    throw new RangeError(
      `Cannot send a ${text.length}-byte message: at most ${
        MAX_DATAGRAM_BYTES - offset
      } bytes fit in a datagram`,
    );
  }
  const bytes = new Uint8Array(offset + text.length);
  bytes[3] = type;
  putU32(bytes, 20, messageId);
  if (type === PacketType.messageAck) bytes[24] = status;
  bytes.set(text, offset);
  return bytes;
}

/**
 * Decodes a message or message-ack: its id, status and text (a view).
 *
 * @param datagram The datagram, its type already read.
 * @returns The fields, or `undefined` when it is too short.
 *
 * @example A short datagram
 * ```ts
 * import { decodeMessage } from "./wire.ts";
 * console.log(decodeMessage(new Uint8Array(20))); // undefined
 * ```
 */
export function decodeMessage(
  datagram: Uint8Array,
): { id: number; status: number; text: Uint8Array } | undefined {
  const ack = datagram[3] === PacketType.messageAck;
  const offset = ack ? MESSAGE_ACK_HEADER_BYTES : MESSAGE_HEADER_BYTES;
  if (datagram.length < offset) return undefined;
  return {
    id: u32(datagram, 20),
    status: ack ? datagram[24]! : 0,
    text: datagram.subarray(offset),
  };
}

/** What a notice says, byte 20. */
export const NoticeCode = {
  /** The receiver has no key: it cannot open sealed datagrams. */
  noKey: 1,
  /** The receiver has a key and refuses unsealed datagrams. */
  needsKey: 2,
  /** The receiver could not authenticate sealed datagrams: another key. */
  unauthenticated: 3,
} as const;

/** A notice's code. */
export type NoticeCodeNumber = typeof NoticeCode[keyof typeof NoticeCode];

/**
 * Encodes a notice, its text cut so that the datagram is at most
 * `maxBytes` long; the fixed header is left for the caller.
 *
 * @param code What the notice says.
 * @param text The same in words, for people and captures.
 * @param maxBytes The longest the datagram may be, at least 24.
 * @returns The datagram, with its type set.
 *
 * @example A notice cut to 30 bytes
 * ```ts
 * import { decodeNotice, encodeNotice, NoticeCode } from "./wire.ts";
 * const bytes = encodeNotice(NoticeCode.noKey, "this server has no key", 30);
 * console.log(bytes.length, decodeNotice(bytes)?.text); // 30 this s
 * ```
 */
export function encodeNotice(
  code: NoticeCodeNumber,
  text: string,
  maxBytes: number = DEFAULT_DATAGRAM_BYTES,
): Uint8Array {
  if (maxBytes < NOTICE_HEADER_BYTES) {
    throw new RangeError(
      `Cannot encode a notice in ${maxBytes} bytes: it needs at least ${NOTICE_HEADER_BYTES}`,
    );
  }
  const encoded = new TextEncoder().encode(text);
  let length = Math.min(encoded.length, maxBytes - NOTICE_HEADER_BYTES);
  // Never cut a UTF-8 sequence in two.
  while (length > 0 && (encoded[length]! & 0xc0) === 0x80) length--;
  const bytes = new Uint8Array(NOTICE_HEADER_BYTES + length);
  bytes[3] = PacketType.notice;
  bytes[20] = code;
  bytes.set(encoded.subarray(0, length), NOTICE_HEADER_BYTES);
  return bytes;
}

/**
 * Decodes a notice.
 *
 * @param datagram A notice datagram.
 * @returns Its code and text, or `undefined` when it is too short.
 *
 * @example A short datagram
 * ```ts
 * import { decodeNotice } from "./wire.ts";
 * console.log(decodeNotice(new Uint8Array(20))); // undefined
 * ```
 */
export function decodeNotice(
  datagram: Uint8Array,
): { code: number; text: string } | undefined {
  if (datagram.length < NOTICE_HEADER_BYTES) return undefined;
  return {
    code: datagram[20]!,
    text: new TextDecoder().decode(datagram.subarray(NOTICE_HEADER_BYTES)),
  };
}

/**
 * A control datagram of `bytes` bytes (a bye has only the header), with its
 * type set; the rest of the header is stamped when it is sent.
 *
 * @param type The datagram type.
 * @param bytes Its length.
 * @returns A zeroed datagram with the type in byte 3.
 *
 * @example A bye
 * ```ts
 * import { controlDatagram, PacketType } from "./wire.ts";
 * console.log(controlDatagram(PacketType.bye).length); // 20
 * ```
 */
export function controlDatagram(
  type: PacketTypeNumber,
  bytes: number = FIXED_HEADER_BYTES,
): Uint8Array {
  const datagram = new Uint8Array(bytes);
  datagram[3] = type;
  return datagram;
}

function checkRange(name: string, value: number, min: number, max: number) {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot write the ${name} ${value}: the field holds ${min} to ${max}`,
    );
  }
}

function clampU32(value: number): number {
  return Math.min(TWO_32 - 1, Math.max(0, Math.round(value)));
}

/** Reads a big-endian u32. */
export function u32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) |
    bytes[at + 3]!) >>> 0;
}

function u64(bytes: Uint8Array, at: number): number {
  return u32(bytes, at) * TWO_32 + u32(bytes, at + 4);
}

function putU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}

function putU64(bytes: Uint8Array, at: number, value: number): void {
  putU32(bytes, at, Math.floor(value / TWO_32) >>> 0);
  putU32(bytes, at + 4, value >>> 0);
}
