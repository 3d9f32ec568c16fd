#!/usr/bin/env python3
"""udpimg's stream protocol, version 1, in one file of standard-library Python.

A second, independent implementation of the stream protocol specified in
udpimg's docs/PROTOCOL.md ("The stream wire format (version 1)"): a sender that
paces its datagrams and answers NACKs from a bounded history, and a receiver
that reassembles, asks for what is missing, checks each frame's CRC-32C,
delivers in frame-id order within a latency budget, and reports a few times a
second. XOR parity (FEC) and the JSON message channel are implemented too;
sealing is not (a sealed stream is refused, and its sender told so by a
notice).

    python3 udpimg_stream.py send a.jpg b.jpg --host 127.0.0.1 --port 9999 --count 100
    python3 udpimg_stream.py recv --port 9999 --out frames/
    python3 udpimg_stream.py send --camera 0 --port 9999      # needs OpenCV

Python 3.9 or later; OpenCV only for --camera.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import random
import select
import signal
import socket
import struct
import sys
import threading
import time

# ---------------------------------------------------------------------------
# Wire format (docs/PROTOCOL.md, "The stream wire format (version 1)")
# ---------------------------------------------------------------------------
#
#  0                   1                   2                   3
#  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# |  magic 0x55   |  magic 0x53   |  version = 1  |     type      |  0
# |     flags     |               reserved = 0                    |  4
# |                          stream id                            |  8
# |D|                  packet number (63 bits)                    | 12
# |                                                               | 16
# +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
# data (1) / parity (2):
# |                           frame id                            | 20
# |  chunk index / parity: first  |          chunk count          | 24
# |                         frame length                          | 28
# |                         frame CRC-32C                         | 32
# |                 frame timestamp (µs, 64 bits)                 | 36
# |                        send offset (µs)                       | 44
# |       parity: stride          |     parity: group length      | 48
#  payload from 48 (data) or 52 (parity)
# nack (3): entry count (16), reserved (16), entries of
#   frame id (32) | first chunk (16, 0xFFFF: whole frame) | bitmap (16)
# report (4): highest packet number (64), delay since (32), receiver clock
#   (64), then fourteen 32-bit fields (the last two: frames skipped, frames
#   waiting): 96 bytes
# message (5): message id (32), UTF-8 JSON
# message-ack (6): message id (32), status (8), reserved (24), UTF-8 reply
# sender-report (7): sender clock (64), echoed clock (64), delay since (32),
#   next frame id (32): 44 bytes
# bye (8): no body
# notice (9): code (8), reserved (24), UTF-8 text; unsealed, packet number 0

VERSION = 1
DATA, PARITY, NACK, REPORT, MESSAGE, MESSAGE_ACK, SENDER_REPORT, BYE, NOTICE = range(1, 10)
FROM_RECEIVER_TYPES = frozenset((NACK, REPORT, MESSAGE_ACK, NOTICE))
FLAG_SEALED = 0x01
FLAG_PARITY_FOLLOWS = 0x02
FLAG_RETRANSMISSION = 0x04
KNOWN_FLAGS = 0x07
DIRECTION_BIT = 1 << 63
PACKET_NUMBER_MASK = DIRECTION_BIT - 1

HEADER_BYTES = 20
DATA_HEADER_BYTES = 48
PARITY_HEADER_BYTES = 52
NACK_HEADER_BYTES = 24
NACK_ENTRY_BYTES = 8
REPORT_BYTES = 96
SENDER_REPORT_BYTES = 44
MESSAGE_HEADER_BYTES = 24
MESSAGE_ACK_HEADER_BYTES = 28
NOTICE_HEADER_BYTES = 24
NOTICE_NO_KEY = 1
WHOLE_FRAME = 0xFFFF
MAX_CHUNKS = 0xFFFF
DEFAULT_DATAGRAM_BYTES = 1200
MIN_DATAGRAM_BYTES = 256
MAX_DATAGRAM_BYTES = 65507
U32 = 0xFFFFFFFF

FIXED = struct.Struct(">2sBBB3xIQ")
CHUNK_FIELDS = struct.Struct(">IHHIIQI")  # at offset 20
DATA_HEADER = struct.Struct(">2sBBB3xIQIHHIIQI")
PARITY_HEADER = struct.Struct(">2sBBB3xIQIHHIIQIHH")
NACK_COUNT = struct.Struct(">H")  # at offset 20
NACK_ENTRY = struct.Struct(">IHH")
REPORT_BODY = struct.Struct(">QIQ14I")  # at offset 20
SENDER_REPORT_BODY = struct.Struct(">QQII")  # at offset 20
U32_AT = struct.Struct(">I")
MESSAGE_ACK_BODY = struct.Struct(">IB3x")  # at offset 20


def serial_diff(a: int, b: int) -> int:
    """Signed distance from frame id b to a in serial arithmetic (RFC 1982)."""
    d = (a - b) & U32
    return d - (1 << 32) if d >= 1 << 31 else d


def pack_fixed(into: bytearray, kind: int, flags: int, stream_id: int,
               from_receiver: bool, packet_number: int) -> None:
    """Writes the 20-byte fixed header at the start of `into`."""
    FIXED.pack_into(into, 0, b"US", VERSION, kind, flags, stream_id,
                    packet_number | (DIRECTION_BIT if from_receiver else 0))


def read_fixed(datagram) -> tuple:
    """Reads a fixed header: (kind, flags, stream id, from receiver, packet
    number), or a string saying why the datagram is not a version 1 one."""
    if len(datagram) < HEADER_BYTES or datagram[0] != 0x55 or datagram[1] != 0x53:
        return "stray"
    magic, version, kind, flags, stream_id, number = FIXED.unpack_from(datagram)
    if kind < DATA or kind > NOTICE:
        return "malformed"
    if version != VERSION:
        return "unsupported"
    if flags & ~KNOWN_FLAGS:
        return "flags"
    from_receiver = number >= DIRECTION_BIT
    if from_receiver != (kind in FROM_RECEIVER_TYPES):
        return "direction"
    return kind, flags, stream_id, from_receiver, number & PACKET_NUMBER_MASK


def chunk_count_for(length: int, datagram_bytes: int) -> int:
    """Chunks a sender cuts a frame into, leaving room for a parity header."""
    return -(-length // (datagram_bytes - PARITY_HEADER_BYTES))


def sniff_extension(data) -> str:
    """The file extension of an encoded image: .jpg, .png or .bin."""
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png"
    return ".bin"


# ---------------------------------------------------------------------------
# CRC-32C (Castagnoli, reflected 0x82F63B78), as in iSCSI (RFC 3720 B.4)
# ---------------------------------------------------------------------------
#
# A byte loop in CPython runs at about 13 MB/s. The CRC register is linear
# over GF(2), so the frame is read as a matrix of rows of ROW bytes: the
# contribution of every byte of column k to its row's CRC is one table
# lookup, done for a whole column at once by bytes.translate (one table per
# byte of the 32-bit result) and XORed across columns as big integers. Only
# the rows then need a Python loop, one step per ROW bytes.

_POLY = 0x82F63B78
_ROW = 256
_T1 = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ _POLY if _c & 1 else _c >> 1
    _T1.append(_c)
del _n, _c
_T = []  # _T[d][b]: the register after byte b and d - 1 zero bytes
_PLANES = []  # _PLANES[d][j]: translate table to byte j of _T[d]


def _build_tables() -> None:
    _T.extend((None, _T1))
    for _d in range(2, _ROW + 1):
        prev = _T[-1]
        _T.append([(x >> 8) ^ _T1[x & 0xFF] for x in prev])
    _PLANES.append(None)
    for d in range(1, _ROW + 1):
        t = _T[d]
        _PLANES.append(tuple(bytes((x >> s) & 0xFF for x in t) for s in (0, 8, 16, 24)))


def _crc_bytes(c: int, data) -> int:
    t = _T1
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c


def crc32c(data, crc: int = 0) -> int:
    """The CRC-32C of `data` (bytes or bytearray); `crc` continues an earlier
    one: crc32c(b, crc32c(a)) == crc32c(a + b)."""
    c = crc ^ U32
    length = len(data)
    rows = length // _ROW
    if rows < 4:
        return _crc_bytes(c, data) ^ U32
    if not _T:
        _build_tables()
    if not isinstance(data, (bytes, bytearray)):
        data = bytes(data)
    head = length - rows * _ROW
    if head:
        c = _crc_bytes(c, data[:head])
    a0 = a1 = a2 = a3 = 0
    from_bytes = int.from_bytes
    planes = _PLANES
    for k in range(_ROW):
        column = data[head + k::_ROW]
        p0, p1, p2, p3 = planes[_ROW - k]
        a0 ^= from_bytes(column.translate(p0), "little")
        a1 ^= from_bytes(column.translate(p1), "little")
        a2 ^= from_bytes(column.translate(p2), "little")
        a3 ^= from_bytes(column.translate(p3), "little")
    b0 = a0.to_bytes(rows, "little")
    b1 = a1.to_bytes(rows, "little")
    b2 = a2.to_bytes(rows, "little")
    b3 = a3.to_bytes(rows, "little")
    t0, t1, t2, t3 = _T[_ROW], _T[_ROW - 1], _T[_ROW - 2], _T[_ROW - 3]
    for r in range(rows):
        c = (t0[c & 0xFF] ^ t1[(c >> 8) & 0xFF] ^ t2[(c >> 16) & 0xFF] ^ t3[c >> 24]
             ^ b0[r] ^ (b1[r] << 8) ^ (b2[r] << 16) ^ (b3[r] << 24))
    return c ^ U32


def xor_into(acc: int, chunk) -> int:
    """XORs a chunk, zero-padded at its end, into a little-endian big int."""
    return acc ^ int.from_bytes(chunk, "little")


# ---------------------------------------------------------------------------
# Clocks
# ---------------------------------------------------------------------------


class Clock:
    """The wall clock in µs since the epoch at a monotonic time in seconds.
    The wall clock's lead over the monotonic one is sampled afresh as time
    goes, not once: on some machines the two drift apart by milliseconds a
    second (docs/PROTOCOL.md, "Latency and clocks")."""

    RESAMPLE = 0.05

    def __init__(self) -> None:
        self.sampled_at = -1e9
        self.lead_us = 0

    def us(self, now: float) -> int:
        mono = time.monotonic()
        if mono - self.sampled_at >= self.RESAMPLE:
            self.lead_us = time.time_ns() // 1000 - int(mono * 1e6)
            self.sampled_at = mono
        return int(now * 1e6) + self.lead_us


class Rtt:
    """A smoothed round-trip time, in seconds (RFC 6298's weights)."""

    def __init__(self, initial: float = 0.02) -> None:
        self.smoothed = initial
        self.variation = initial / 2
        self.measured = False

    def sample(self, seconds: float) -> None:
        if not (0 <= seconds < 60):
            return
        if not self.measured:
            self.smoothed = seconds
            self.variation = seconds / 2
            self.measured = True
        else:
            self.variation += (abs(self.smoothed - seconds) - self.variation) / 4
            self.smoothed += (seconds - self.smoothed) / 8


# ---------------------------------------------------------------------------
# The sender
# ---------------------------------------------------------------------------


class SentFrame:
    """A frame being sent or kept in the history for NACKs."""

    __slots__ = ("id", "data", "count", "size", "crc", "timestamp", "flags",
                 "next_index", "parities", "finished_at", "queued", "resent_at")

    def __init__(self, frame_id: int, data: bytes, count: int, crc: int,
                 timestamp: int, parity_groups: int) -> None:
        self.id = frame_id
        self.data = data
        self.count = count
        self.size = -(-len(data) // count)
        self.crc = crc
        self.timestamp = timestamp
        self.flags = FLAG_PARITY_FOLLOWS if parity_groups else 0
        self.next_index = 0
        # (first, stride, length) of each parity group still to send
        self.parities = collections.deque(
            (j, parity_groups, len(range(j, count, parity_groups)))
            for j in range(parity_groups))
        self.finished_at = None
        self.queued = None  # bytearray of chunks queued for retransmission
        self.resent_at = None  # when each chunk was last sent again

    def chunk(self, index: int):
        start = index * self.size
        return memoryview(self.data)[start:start + self.size]


class Pacer:
    """A token bucket in bytes: bursts of at most 4 ms of the rate, and at
    least 4800 bytes (docs/PROTOCOL.md, "The sender")."""

    def __init__(self, rate_bytes: float, datagram_bytes: int) -> None:
        self.rate = rate_bytes
        self.depth = max(4800, rate_bytes * 0.004)
        self.tokens = self.depth
        self.updated = None

    def _refill(self, now: float) -> None:
        if self.updated is not None and now > self.updated:
            self.tokens = min(self.depth, self.tokens + (now - self.updated) * self.rate)
        if self.updated is None or now > self.updated:
            self.updated = now

    def ready(self, now: float, size: int) -> bool:
        self._refill(now)
        return self.tokens >= min(size, self.depth)

    def consume(self, size: int) -> None:
        self.tokens -= size

    def next_time(self, now: float, size: int) -> float:
        self._refill(now)
        lacking = min(size, self.depth) - self.tokens
        return now if lacking <= 0 else now + lacking / self.rate


class OutgoingMessage:
    __slots__ = ("id", "payload", "first_sent", "next_at", "interval")

    def __init__(self, message_id: int, payload: bytes) -> None:
        self.id = message_id
        self.payload = payload
        self.first_sent = None
        self.next_at = 0.0
        self.interval = 0.0


class Sender:
    """The sending side of one stream, with no socket and no timer: frames
    and datagrams in with the time, datagrams out (`poll_transmit`), and when
    to call again (`poll_timeout`)."""

    RING = 4096  # send times kept for RTT samples, by packet number
    SENDER_REPORT_MIN_INTERVAL = 0.1
    SENDER_REPORT_IDLE_INTERVAL = 0.5

    def __init__(self, clock: Clock, now: float, *, stream_id: int | None = None,
                 datagram_bytes: int = DEFAULT_DATAGRAM_BYTES,
                 rate_bps: float = 100e6, latency: float = 0.12, fec: int = 0,
                 history_bytes: int = 32 << 20, message_timeout: float = 2.0) -> None:
        if not MIN_DATAGRAM_BYTES <= datagram_bytes <= MAX_DATAGRAM_BYTES:
            raise ValueError(f"datagram size must be from {MIN_DATAGRAM_BYTES} to "
                             f"{MAX_DATAGRAM_BYTES}, got {datagram_bytes}")
        self.clock = clock
        self.stream_id = random.getrandbits(32) if stream_id is None else stream_id
        self.datagram_bytes = datagram_bytes
        self.latency = latency
        self.fec = fec
        self.history_bytes = history_bytes
        self.message_timeout = message_timeout
        self.pacer = Pacer(rate_bps / 8, datagram_bytes)
        self.rtt = Rtt()
        self.packet_number = 0
        self.sent_at = [-1.0] * self.RING
        self.sent_number = [-1] * self.RING
        self.next_frame_id = 0
        self.current: SentFrame | None = None
        self.waiting: tuple | None = None  # (data, timestamp)
        self.history: collections.OrderedDict[int, SentFrame] = collections.OrderedDict()
        self.history_held = 0
        self.resend = collections.deque()  # (frame, index)
        # Retransmissions: a quarter of the pacing rate, full at the first NACK.
        self.resend_rate = rate_bps / 8 / 4
        self.resend_depth = max(64 * 1024.0, self.resend_rate * 0.05)
        self.resend_tokens = self.resend_depth
        self.resend_updated = None
        self.messages: collections.OrderedDict[int, OutgoingMessage] = collections.OrderedDict()
        self.next_message_id = 0
        self.last_report = None  # (receiver clock, arrival time)
        self.last_sender_report = -1e9
        # The first datagram is a sender report: it starts the receiver's
        # clock exchange before any frame.
        self.sender_report_due = now
        self.final_report_due = math.inf
        self.started = now
        self.finishing_since = None
        self.notices: list = []  # codes of the notices shown, each once
        self.byes_left = 0
        self.done = False
        self._scratch = bytearray(MAX_DATAGRAM_BYTES)
        self.events = collections.deque()
        # counts
        self.frames_sent = 0
        self.stale = 0
        self.datagrams = 0
        self.bytes_sent = 0
        self.frame_bytes = 0
        self.parity_sent = 0
        self.resent = 0
        self.skipped = 0
        self.unknown_nacks = 0
        self.suppressed = 0
        self.ignored = 0
        self.report: tuple | None = None  # the newest report's fields
        self.unreachable = False  # the driver was told the port is closed

    # -- frames in ---------------------------------------------------------

    def push_frame(self, now: float, data: bytes, timestamp: int | None = None) -> None:
        """Hands a frame to send; a frame still waiting is replaced (stale)."""
        length = len(data)
        if length == 0:
            raise ValueError("cannot send an empty frame")
        count = chunk_count_for(length, self.datagram_bytes)
        if count > MAX_CHUNKS:
            raise ValueError(f"a {length}-byte frame needs {count} chunks of at most "
                             f"{self.datagram_bytes - PARITY_HEADER_BYTES} bytes and a frame "
                             f"holds at most {MAX_CHUNKS}; use a larger --chunk-size")
        if self.waiting is not None:
            self.stale += 1
        self.waiting = (bytes(data), self.clock.us(now) if timestamp is None else timestamp)

    @property
    def idle(self) -> bool:
        """Whether no frame is being sent or waits to be."""
        return self.current is None and self.waiting is None

    def _start_next(self, now: float) -> None:
        data, timestamp = self.waiting
        self.waiting = None
        count = chunk_count_for(len(data), self.datagram_bytes)
        groups = -(-count // self.fec) if self.fec else 0
        frame = SentFrame(self.next_frame_id, data, count, crc32c(data), timestamp, groups)
        self.next_frame_id = (self.next_frame_id + 1) & U32
        self.current = frame
        self.history[frame.id] = frame
        self.history_held += len(data)
        while self.history_held > self.history_bytes and len(self.history) > 1:
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        _, old = self.history.popitem(last=False)
        self.history_held -= len(old.data)

    # -- messages ----------------------------------------------------------

    def send_message(self, now: float, text: str | bytes) -> int:
        """Queues a JSON message; returns its id. Its ack comes as an event
        ("ack", id, status, reply, rtt) or ("message-timeout", id)."""
        payload = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        if MESSAGE_HEADER_BYTES + len(payload) > MAX_DATAGRAM_BYTES:
            raise ValueError(f"a message holds at most {MAX_DATAGRAM_BYTES - MESSAGE_HEADER_BYTES} "
                             f"bytes, got {len(payload)}")
        message = OutgoingMessage(self.next_message_id, payload)
        self.next_message_id = (self.next_message_id + 1) & U32
        message.next_at = now
        self.messages[message.id] = message
        return message.id

    # -- datagrams in ------------------------------------------------------

    def handle_datagram(self, now: float, datagram) -> None:
        """Takes a datagram from the receiver (the caller has checked that it
        came from the receiver's address)."""
        header = read_fixed(datagram)
        # A sealed one cannot be opened without a key (and ours never seals).
        if (isinstance(header, str) or not header[3] or header[2] != self.stream_id
                or header[1] & FLAG_SEALED):
            self.ignored += 1
            return
        kind = header[0]
        size = len(datagram)
        if kind == NACK:
            if size < NACK_HEADER_BYTES:
                self.ignored += 1
                return
            (entries,) = NACK_COUNT.unpack_from(datagram, 20)
            if NACK_HEADER_BYTES + NACK_ENTRY_BYTES * entries > size:
                self.ignored += 1
                return
            if self.resend_updated is not None:
                self.resend_tokens = min(self.resend_depth, self.resend_tokens
                                         + (now - self.resend_updated) * self.resend_rate)
            self.resend_updated = now
            for k in range(entries):
                frame_id, first, bitmap = NACK_ENTRY.unpack_from(
                    datagram, NACK_HEADER_BYTES + NACK_ENTRY_BYTES * k)
                self._answer(now, frame_id, first, bitmap)
        elif kind == REPORT:
            if size < REPORT_BYTES:
                self.ignored += 1
                return
            fields = REPORT_BODY.unpack_from(datagram, 20)
            highest, delay, receiver_clock = fields[0], fields[1], fields[2]
            slot = highest % self.RING
            if self.sent_number[slot] == highest:
                self.rtt.sample(now - self.sent_at[slot] - delay / 1e6)
            self.last_report = (receiver_clock, now)
            self.report = fields
            if now - self.last_sender_report >= self.SENDER_REPORT_MIN_INTERVAL:
                self.sender_report_due = now
            else:
                self.sender_report_due = min(self.sender_report_due,
                                             self.last_sender_report + self.SENDER_REPORT_MIN_INTERVAL)
        elif kind == MESSAGE_ACK:
            if size < MESSAGE_ACK_HEADER_BYTES:
                self.ignored += 1
                return
            message_id, status = MESSAGE_ACK_BODY.unpack_from(datagram, 20)
            message = self.messages.pop(message_id, None)
            if message is not None:
                reply = bytes(datagram[MESSAGE_ACK_HEADER_BYTES:]).decode("utf-8", "replace")
                self.events.append(("ack", message_id, status, reply, now - message.first_sent))
        elif kind == NOTICE:
            # Unsealed, so anyone could forge one: shown, never acted on.
            if size < NOTICE_HEADER_BYTES:
                self.ignored += 1
                return
            text = bytes(datagram[NOTICE_HEADER_BYTES:]).decode("utf-8", "replace")
            code = datagram[20]
            if code not in self.notices and len(self.notices) < 8:
                self.notices.append(code)
                self.events.append(("notice", code, text))

    def _answer(self, now: float, frame_id: int, first: int, bitmap: int) -> None:
        frame = self.history.get(frame_id)
        if frame is None:
            self.unknown_nacks += 1
            return
        if first == WHOLE_FRAME:
            indexes = range(frame.count)
        else:
            indexes = [first] + [first + 1 + b for b in range(16) if bitmap >> b & 1]
        if frame.queued is None:
            frame.queued = bytearray(frame.count)
            frame.resent_at = [-1e9] * frame.count
        recently = now - self.rtt.smoothed / 2
        for index in indexes:
            # A chunk not yet sent the first time is not sent again, and one
            # sent again is so at most once per half RTT.
            if index >= frame.count or (frame is self.current and index >= frame.next_index):
                continue
            if frame.resent_at[index] > recently or frame.queued[index]:
                self.suppressed += 1
                continue
            cost = DATA_HEADER_BYTES + frame.size
            if self.resend_tokens < cost:
                self.skipped += 1  # past the cap: the receiver asks again
                continue
            self.resend_tokens -= cost
            frame.queued[index] = 1
            self.resend.append((frame, index))

    # -- datagrams out -----------------------------------------------------

    def _number(self, now: float) -> int:
        number = self.packet_number
        self.packet_number += 1
        slot = number % self.RING
        self.sent_at[slot] = now
        self.sent_number[slot] = number
        return number

    def _data(self, now: float, frame: SentFrame, index: int, flags: int) -> memoryview:
        chunk = frame.chunk(index)
        size = DATA_HEADER_BYTES + len(chunk)
        out = self._scratch
        offset = min(U32, max(0, self.clock.us(now) - frame.timestamp))
        DATA_HEADER.pack_into(out, 0, b"US", VERSION, DATA, flags, self.stream_id,
                              self._number(now), frame.id, index, frame.count,
                              len(frame.data), frame.crc, frame.timestamp, offset)
        out[DATA_HEADER_BYTES:size] = chunk
        return memoryview(out)[:size]

    def _parity(self, now: float, frame: SentFrame, first: int, stride: int,
                length: int) -> memoryview:
        acc = 0
        for k in range(length):
            acc = xor_into(acc, frame.chunk(first + k * stride))
        size = PARITY_HEADER_BYTES + frame.size
        out = self._scratch
        offset = min(U32, max(0, self.clock.us(now) - frame.timestamp))
        PARITY_HEADER.pack_into(out, 0, b"US", VERSION, PARITY, 0, self.stream_id,
                                self._number(now), frame.id, first, frame.count,
                                len(frame.data), frame.crc, frame.timestamp, offset,
                                stride, length)
        out[PARITY_HEADER_BYTES:size] = acc.to_bytes(frame.size, "little")
        return memoryview(out)[:size]

    def _control(self, now: float, kind: int, body: bytes = b"") -> bytes:
        out = bytearray(HEADER_BYTES + len(body))
        pack_fixed(out, kind, 0, self.stream_id, False, self._number(now))
        out[HEADER_BYTES:] = body
        return bytes(out)

    def _sender_report(self, now: float) -> bytes:
        echoed, delay = 0, 0
        if self.last_report is not None:
            echoed = self.last_report[0]
            delay = min(U32, int((now - self.last_report[1]) * 1e6))
        # The frame being sent counts: it has its id once its first datagram
        # may go (a whole-frame NACK for it is answered with what was sent).
        body = SENDER_REPORT_BODY.pack(self.clock.us(now), echoed, delay, self.next_frame_id)
        self.last_sender_report = now
        self.sender_report_due = now + self.SENDER_REPORT_IDLE_INTERVAL
        return self._control(now, SENDER_REPORT, body)

    def _sent(self, datagram) -> None:
        self.datagrams += 1
        self.bytes_sent += len(datagram)
        self.pacer.consume(len(datagram))

    def poll_transmit(self, now: float):
        """The next datagram to send now, or None. The bytes are valid until
        the next call."""
        if self.done:
            return None
        if now >= self.sender_report_due:
            datagram = self._sender_report(now)
            self._sent(datagram)
            return datagram
        for message in self.messages.values():
            if now >= message.next_at:
                return self._message(now, message)
        if self.finishing_since is not None and not self.resend and self.idle:
            return self._closing(now)
        if not self.pacer.ready(now, self.datagram_bytes):
            return None
        while self.resend:
            frame, index = self.resend.popleft()
            frame.queued[index] = 0
            if self.history.get(frame.id) is not frame:
                continue
            self.resent += 1
            frame.resent_at[index] = now
            # `parity follows` belongs to a chunk's first sending only.
            datagram = self._data(now, frame, index, FLAG_RETRANSMISSION)
            self._sent(datagram)
            return datagram
        frame = self.current
        if frame is None and self.waiting is not None:
            self._start_next(now)
            frame = self.current
        if frame is not None:
            if frame.next_index < frame.count:
                index = frame.next_index
                frame.next_index += 1
                datagram = self._data(now, frame, index, frame.flags)
            else:
                datagram = self._parity(now, frame, *frame.parities.popleft())
                self.parity_sent += 1
            if frame.next_index == frame.count and not frame.parities:
                frame.finished_at = now
                self.frames_sent += 1
                self.frame_bytes += len(frame.data)
                self.current = None
            self._sent(datagram)
            return datagram
        return None

    def _closing(self, now: float):
        """Every frame is sent: sender reports until the receiver has them
        all, then bye, twice (control datagrams, not paced)."""
        if not self._frames_resolved(now):
            if now < self.final_report_due:
                return None
            # Says where the stream ends, so that a receiver that lost the
            # last frame whole asks for it; again every few round trips.
            self.final_report_due = now + max(0.01, 2 * self.rtt.smoothed)
            datagram = self._sender_report(now)
        elif self.messages or self.byes_left == 0:
            return None
        else:
            self.byes_left -= 1
            datagram = self._control(now, BYE)
            if self.byes_left == 0:
                self.done = True
        self._sent(datagram)
        return datagram

    def _message(self, now: float, message: OutgoingMessage):
        if message.first_sent is None:
            message.first_sent = now
            message.interval = max(2 * self.rtt.smoothed, 0.02)
        elif now - message.first_sent >= self.message_timeout:
            del self.messages[message.id]
            self.events.append(("message-timeout", message.id))
            return self.poll_transmit(now)
        else:
            message.interval *= 2
        message.next_at = min(now + message.interval, message.first_sent + self.message_timeout)
        datagram = self._control(now, MESSAGE, U32_AT.pack(message.id) + message.payload)
        self._sent(datagram)
        return datagram

    def expire(self, now: float) -> None:
        """Forgets frames older than the history keeps; while closing, none
        goes by age, so that the last frames stay answerable to the end."""
        if self.finishing_since is not None:
            return
        keep = self.latency + 0.2
        while self.history:
            oldest = next(iter(self.history.values()))
            if oldest.finished_at is None or now - oldest.finished_at <= keep:
                break
            self._forget_oldest()

    def finish(self, now: float) -> None:
        """Begins the end: once every frame is sent and the receiver has them
        (or one latency budget and a second passed), says bye twice."""
        if self.finishing_since is None:
            self.finishing_since = now
            self.byes_left = 2
            self.final_report_due = now

    def _frames_resolved(self, now: float) -> bool:
        """Whether the receiver reported every frame resolved (its next frame
        id reached ours), or a latency budget and a second passed since
        closing began."""
        if self.next_frame_id == 0:
            return True
        if self.report is not None and serial_diff(self.report[5], self.next_frame_id) >= 0:
            return True
        return now - self.finishing_since >= self.latency + 1.0

    def poll_timeout(self, now: float) -> float:
        """When to call poll_transmit again, at the latest."""
        due = self.sender_report_due
        for message in self.messages.values():
            due = min(due, message.next_at)
        if self.resend or self.current is not None or self.waiting is not None:
            due = min(due, self.pacer.next_time(now, self.datagram_bytes))
        elif self.finishing_since is not None and not self._frames_resolved(now):
            due = min(due, self.final_report_due, self.finishing_since + self.latency + 1.0)
        return due


# ---------------------------------------------------------------------------
# The receiver
# ---------------------------------------------------------------------------


class Frame:
    """A frame a stream knows of and has not delivered or given up on."""

    __slots__ = ("id", "seen", "count", "length", "size", "crc", "timestamp",
                 "buffer", "have", "received", "highest", "parity_follows",
                 "parity_seen", "parities", "parity_bytes", "opened_at", "deadline",
                 "last_arrival", "last_nack_at", "complete", "dropped")

    def __init__(self, frame_id: int, now: float, deadline: float) -> None:
        self.id = frame_id
        self.seen = False
        self.count = 0
        self.length = 0
        self.size = 0
        self.crc = 0
        self.timestamp = 0
        self.buffer = None
        self.have = None  # per chunk: 0 missing, 1 present, 2 missing and asked for
        self.received = 0
        self.highest = -1
        self.parity_follows = False
        self.parity_seen = False
        self.parities = None  # [(first, stride, length, payload)]
        self.parity_bytes = 0
        self.opened_at = now
        self.deadline = deadline
        self.last_arrival = now
        self.last_nack_at = None
        self.complete = False
        self.dropped = False


class Budget:
    """Bytes that all partial frames of all streams may hold together."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.reserved = 0


STAT_NAMES = ("delivered", "lost", "late", "corrupt", "recovered_nack",
              "recovered_fec", "chunks_late")


class Stream:
    """The receiving side of one stream: reassembly, the receive log, NACKs,
    reports, clock estimates and messages."""

    MAX_FRAMES = 64
    MAX_GAP = 4096  # a forward jump past this many frames is a restart
    LOG = 4096  # packet numbers remembered for duplicate detection
    MAX_JUMP = 1 << 20  # a larger step forward is forged: it moves no window
    REPORT_CLOCKS = 8  # own reports whose echo gives an RTT sample
    MAX_ACKS = 32
    REORDER_SKIP = 3
    QUIET = 0.01

    def __init__(self, receiver: Receiver, key: tuple, stream_id: int, now: float) -> None:
        self.receiver = receiver
        self.key = key
        self.addr = key[0]
        self.stream_id = stream_id
        self.frames: dict[int, Frame] = {}  # in frame-id order
        self.next_id = None
        self.start_id = 0
        self.newest_id = 0
        self.late_ids = collections.deque(maxlen=16)
        self.stats = dict.fromkeys(STAT_NAMES, 0)
        self.packets = 0
        self.bytes = 0
        self.highest = -1
        self.highest_at = now
        self.log = [-1] * self.LOG
        # A random start below 2^62, so that the receivers of one multicast
        # stream are told apart by where their numbers lie.
        self.packet_number = random.getrandbits(62)
        self.feedback_bytes = 0  # NACKs and reports sent, at most self.bytes
        self.report_clocks = collections.deque(maxlen=self.REPORT_CLOCKS)
        self.first_arrival = now
        self.last_arrival = now
        self.next_report = now + 0.02
        self.last_transit = None
        self.jitter = 0.0
        self.smoothed_transit = None
        self.min_transit = math.inf
        self.previous_min = math.inf
        self.min_since = now
        self.rtt = Rtt(0.01)  # 10 ms (variation 5 ms) until measured
        self.offsets = collections.deque(maxlen=16)  # (rtt, θ) from sender reports
        self.theta = None
        self.local = receiver.is_local(self.addr[0])
        self.acks: collections.OrderedDict[int, bytes] = collections.OrderedDict()
        self.bye_at = None
        self.nack_due = math.inf

    # -- the receive log and delay meters ---------------------------------

    def log_packet(self, now: float, number: int, size: int) -> bool:
        """Counts a datagram; False for a duplicate, to be dropped."""
        self.last_arrival = now
        self.packets += 1
        self.bytes += size
        highest = self.highest
        if highest >= 0 and number - highest > self.MAX_JUMP:
            return True  # no sender counts that fast: it moves nothing
        slot = number % self.LOG
        if number > highest:
            self.highest = number
            self.highest_at = now
        elif highest - number >= self.LOG:
            return True  # below the window: cannot be told from a new one
        elif self.log[slot] == number:
            self.packets -= 1
            self.bytes -= size
            return False
        self.log[slot] = number
        return True

    def measure_delay(self, now: float, sent_us: int) -> None:
        """Jitter and queueing delay; the caller leaves out retransmissions."""
        transit = self.receiver.clock.us(now) - sent_us
        if self.last_transit is not None:
            self.jitter += (abs(transit - self.last_transit) - self.jitter) / 16
        self.last_transit = transit
        if self.smoothed_transit is None:
            self.smoothed_transit = float(transit)
        else:
            self.smoothed_transit += (transit - self.smoothed_transit) / 8
        if now - self.min_since >= 5:
            self.previous_min, self.min_transit, self.min_since = self.min_transit, transit, now
        elif transit < self.min_transit:
            self.min_transit = transit

    def queueing_delay(self) -> int:
        if self.smoothed_transit is None:
            return 0
        return max(0, int(self.smoothed_transit - min(self.min_transit, self.previous_min)))

    # -- reassembly -------------------------------------------------------

    def frame_for(self, now: float, frame_id: int, count: int, length: int, crc: int,
                  timestamp: int):
        """The open frame for a chunk, allocated when new; None to refuse it."""
        if self.next_id is None:
            self.begin(frame_id)
        if serial_diff(frame_id, self.next_id) < 0:
            self.stats["chunks_late"] += 1
            if serial_diff(frame_id, self.start_id) < 0 and frame_id not in self.late_ids:
                self.late_ids.append(frame_id)
                self.stats["late"] += 1
                self.receiver.drop("late", self, frame_id, "came after a newer frame was delivered")
            return None
        if serial_diff(frame_id, self.newest_id) > 0:
            self.advance_to(now, frame_id)
        frame = self.frames.get(frame_id)
        if frame is None:
            return None
        if frame.complete:
            self.stats["chunks_late"] += 1
            return None
        if not frame.seen:
            budget = self.receiver.budget
            if budget.reserved + length > budget.max_bytes:
                self.receiver.count("over-budget")
                return None
            budget.reserved += length
            frame.seen = True
            frame.count = count
            frame.length = length
            frame.size = -(-length // count)
            frame.crc = crc
            frame.timestamp = timestamp
            frame.buffer = bytearray(length)
            frame.have = bytearray(count)
        elif (count != frame.count or length != frame.length or crc != frame.crc
              or timestamp != frame.timestamp):
            self.receiver.count("inconsistent")
            return None
        frame.last_arrival = now
        return frame

    def begin(self, frame_id: int) -> None:
        """Starts the stream at the first frame id heard of. Ids count from
        0, so one below the in-flight window means the receiver has been
        there from the start and the first frames are only late: it starts
        at 0. A receiver that joins a running stream starts where it joined."""
        start = frame_id if frame_id >= self.MAX_FRAMES else 0
        self.next_id = self.start_id = start
        self.newest_id = (start - 1) & U32

    def advance_to(self, now: float, frame_id: int) -> None:
        """Opens every frame up to frame_id, pushing the oldest out as lost."""
        if serial_diff(frame_id, self.next_id) > self.MAX_GAP:
            # A restart, or a forgery: every frame not yet handed on is lost
            # (as lib/stream does), the gap is counted nowhere.
            for frame in list(self.frames.values()):
                if not frame.dropped:
                    self.give_up(frame)
            self.release()
            self.free_all()
            self.next_id = self.start_id = frame_id
            self.newest_id = (frame_id - 1) & U32
        floor = (frame_id - self.MAX_FRAMES + 1) & U32
        if serial_diff(floor, self.next_id) > 0:
            for frame in list(self.frames.values()):
                if not frame.complete and serial_diff(floor, frame.id) > 0:
                    self.give_up(frame)
            self.release()
            if serial_diff(floor, self.next_id) > 0:
                # Ids never opened, jumped over at once: neither lost nor
                # delivered, counted nowhere.
                self.next_id = floor
        deadline = now + self.receiver.latency
        start = (self.newest_id + 1) & U32
        if serial_diff(start, self.next_id) < 0:
            start = self.next_id
        f = start
        while serial_diff(frame_id, f) >= 0:
            if f not in self.frames:
                self.frames[f] = Frame(f, now, deadline)
            f = (f + 1) & U32
        self.newest_id = frame_id
        self.nack_due = min(self.nack_due, now + 0.001)

    def add_chunk(self, now: float, frame: Frame, index: int, payload, flags: int) -> None:
        if frame.have[index] == 1:
            self.stats["chunks_late"] += 1
            return
        start = index * frame.size
        frame.buffer[start:start + len(payload)] = payload
        frame.have[index] = 1
        frame.received += 1
        if index > frame.highest:
            frame.highest = index
        if flags & FLAG_PARITY_FOLLOWS:
            frame.parity_follows = True
        if flags & FLAG_RETRANSMISSION:
            self.stats["recovered_nack"] += 1
        if frame.received == frame.count:
            self.complete(frame)
            return
        if frame.parities:
            self.try_parities(frame)
        if frame.received < frame.highest + 1:
            self.nack_due = now  # a hole below the newest chunk

    def add_parity(self, now: float, frame: Frame, first: int, stride: int, length: int,
                   payload) -> None:
        frame.parity_seen = True
        missing = self.missing_in(frame, first, stride, length)
        if missing == -1:
            return
        if missing is None:
            # Kept until one chunk of its group is left; at most a frame's worth.
            if frame.parity_bytes + len(payload) <= frame.length:
                frame.parity_bytes += len(payload)
                if frame.parities is None:
                    frame.parities = []
                frame.parities.append((first, stride, length, bytes(payload)))
            return
        self.recover(frame, first, stride, length, missing, payload)

    @staticmethod
    def missing_in(frame: Frame, first: int, stride: int, length: int):
        """The one missing chunk of a group; -1 when none is, None when more are."""
        missing = -1
        have = frame.have
        for index in range(first, first + length * stride, stride):
            if have[index] != 1:
                if missing >= 0:
                    return None
                missing = index
        return missing

    def recover(self, frame: Frame, first: int, stride: int, length: int, missing: int,
                payload) -> None:
        size = frame.size
        buffer = frame.buffer
        acc = int.from_bytes(payload, "little")
        for index in range(first, first + length * stride, stride):
            if index != missing:
                acc = xor_into(acc, buffer[index * size:(index + 1) * size])
        chunk_length = size if missing < frame.count - 1 else frame.length - (frame.count - 1) * size
        buffer[missing * size:missing * size + chunk_length] = acc.to_bytes(size, "little")[:chunk_length]
        frame.have[missing] = 1
        frame.received += 1
        self.stats["recovered_fec"] += 1
        if frame.received == frame.count:
            self.complete(frame)
        elif frame.parities:
            self.try_parities(frame)

    def try_parities(self, frame: Frame) -> None:
        progress = True
        while progress and frame.parities and not frame.complete:
            progress = False
            for p, (first, stride, length, payload) in enumerate(frame.parities):
                missing = self.missing_in(frame, first, stride, length)
                if missing is None:
                    continue
                del frame.parities[p]
                frame.parity_bytes -= len(payload)
                if missing >= 0:
                    self.recover(frame, first, stride, length, missing, payload)
                progress = True
                break

    def complete(self, frame: Frame) -> None:
        frame.parities = None
        frame.complete = True
        if crc32c(frame.buffer) != frame.crc:
            self.stats["corrupt"] += 1
            self.receiver.drop("corrupt", self, frame.id,
                               f"CRC-32C mismatch over {frame.length} bytes")
            self.free(frame)
            frame.dropped = True
        self.release()

    def give_up(self, frame: Frame) -> None:
        self.free(frame)
        frame.complete = True
        frame.dropped = True
        self.stats["lost"] += 1
        detail = (f"incomplete after {self.receiver.latency * 1000:g} ms: "
                  f"{frame.received} of {frame.count} chunks" if frame.seen else "never seen")
        self.receiver.drop("lost", self, frame.id, detail)

    def free(self, frame: Frame) -> None:
        if frame.buffer is not None:
            self.receiver.budget.reserved -= frame.length
            frame.buffer = None

    def free_all(self) -> None:
        for frame in self.frames.values():
            self.free(frame)
        self.frames.clear()

    def release(self) -> None:
        """Hands on, in order, the resolved frames at the head."""
        frames = self.frames
        while self.next_id is not None:
            head = frames.get(self.next_id)
            if head is None or not head.complete:
                return
            del frames[self.next_id]
            self.next_id = (self.next_id + 1) & U32
            if head.dropped:
                continue
            data = head.buffer
            self.free(head)
            self.stats["delivered"] += 1
            self.receiver.deliver(self, head, data)

    def expire(self, now: float) -> None:
        for frame in list(self.frames.values()):
            if not frame.complete and frame.deadline <= now:
                self.give_up(frame)
        self.release()

    def reveal(self, now: float, next_frame_id: int) -> None:
        """A sender report says frames before next_frame_id were sent."""
        newest = (next_frame_id - 1) & U32
        if self.next_id is None:
            if next_frame_id == 0:
                return  # says nothing
            self.begin(newest)
        if 0 < serial_diff(newest, self.newest_id) <= self.MAX_GAP:
            self.advance_to(now, newest)
        self.nack_due = now

    # -- NACKs --------------------------------------------------------------

    def collect_nacks(self, now: float, entries: list, max_entries: int) -> None:
        """Appends (frame id, first, bitmap) for chunks to ask for now, at
        most `max_entries` of them, and sets when to look again."""
        rtt = self.rtt
        retry = max(1.5 * rtt.smoothed + rtt.variation, 0.002)
        quiet_after = max(retry, self.QUIET)
        unseen_wait = min(0.01, max(0.001, rtt.smoothed / 2))
        due = math.inf
        for frame in self.frames.values():
            if frame.complete:
                continue
            # A sender report's next frame id may count the frame being sent
            # (udpimg's does), so only a newer frame says this one is all sent.
            newer = serial_diff(self.newest_id, frame.id) > 0
            if not frame.seen:
                ask_at = (frame.opened_at + unseen_wait if frame.last_nack_at is None
                          else frame.last_nack_at + retry)
                if now >= ask_at:
                    if len(entries) < max_entries:
                        entries.append((frame.id, WHOLE_FRAME, 0))
                        frame.last_nack_at = now
                        ask_at = now + retry
                    else:
                        ask_at = now + 0.002
                due = min(due, ask_at)
                continue
            # A frame silent this long has lost its tail.
            quiet = now - frame.last_arrival >= quiet_after
            if newer or quiet or frame.parity_seen:  # parity comes after all the data
                limit = frame.count - 1
            elif frame.parity_follows:
                limit = -1
            else:
                limit = frame.highest - self.REORDER_SKIP
            if limit < frame.count - 1:
                due = min(due, frame.last_arrival + quiet_after)
            retry_now = frame.last_nack_at is None or now >= frame.last_nack_at + retry
            have = frame.have
            asked = waiting = False
            entry = None
            index = _find_missing(have, 0)
            while 0 <= index <= limit:
                if have[index] == 2 and not retry_now:
                    waiting = True
                else:
                    if entry is not None and index - entry[1] <= 16:
                        entry[2] |= 1 << (index - entry[1] - 1)
                    elif len(entries) >= max_entries:
                        # One round asks for so many; the rest in the next.
                        due = min(due, now + 0.002)
                        break
                    else:
                        entry = [frame.id, index, 0]
                        entries.append(entry)
                    have[index] = 2
                    asked = True
                index = _find_missing(have, index + 1)
            if asked:
                frame.last_nack_at = now
            if asked or waiting:
                due = min(due, frame.last_nack_at + retry)
        self.nack_due = due


def _find_missing(have: bytearray, start: int) -> int:
    """The first chunk at or after start that is missing, asked for or not."""
    a = have.find(0, start)
    b = have.find(2, start)
    if a < 0:
        return b
    if b < 0:
        return a
    return min(a, b)


class Receiver:
    """The receiving side, with no socket and no timer: datagrams in with the
    time, datagrams out (`transmits`), frames and drops out (`events`)."""

    MAX_STREAMS = 256
    MAX_GONE = 4096  # streams gone whose highest packet number is remembered
    SILENT = 10.0
    FIRST_REPORT = 0.02
    REPORT_INTERVAL = 0.1
    REPORTS_STOP_AFTER = 1.0
    NOTICE_INTERVAL = 0.25  # per source
    NOTICES_PER_SECOND = 32  # in all
    NACK_DATAGRAM_BYTES = DEFAULT_DATAGRAM_BYTES
    MAX_NACK_ENTRIES = 1024

    def __init__(self, clock: Clock, *, latency: float = 0.12,
                 max_frame_bytes: int = 64 << 20, max_pending_bytes: int = 256 << 20,
                 local_addresses=None) -> None:
        self.clock = clock
        self.latency = latency
        self.max_frame_bytes = max_frame_bytes
        self.budget = Budget(max_pending_bytes)
        self.streams: collections.OrderedDict[tuple, Stream] = collections.OrderedDict()
        # Streams gone (bye, silence, evicted) and their highest packet number:
        # a late copy, the second bye or a replay must not start them again.
        self.gone: collections.OrderedDict[tuple, int] = collections.OrderedDict()
        self.notice_at: dict = {}  # source: when it was last sent a notice
        self.notice_second = (0.0, 0)  # (start, notices sent in it)
        self.transmits: list = []  # (bytes, addr)
        self.events = collections.deque()
        self.drops = collections.Counter()
        self.feedback_capped = 0  # NACK and report datagrams not sent (the cap)
        self.totals = dict.fromkeys(STAT_NAMES, 0)
        self.sealed_told = set()
        self.now = 0.0
        self._local = {} if local_addresses is None else dict.fromkeys(local_addresses, True)

    def is_local(self, host: str) -> bool:
        """Whether an address is this machine's: a loopback one or one a
        socket can bind to (the standard library has no interface list)."""
        known = self._local.get(host)
        if known is None:
            if len(self._local) >= 1024:
                self._local.clear()
            known = host.startswith("127.") or host == "::1"
            if not known:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                try:
                    with socket.socket(family, socket.SOCK_DGRAM) as probe:
                        probe.bind((host, 0))
                    known = True
                except OSError:
                    known = False
            self._local[host] = known
        return known

    def count(self, reason: str) -> None:
        self.drops[reason] += 1

    def drop(self, reason: str, stream: Stream, frame_id: int, detail: str) -> None:
        self.events.append(("dropped", stream, frame_id, reason, detail))

    def total(self, name: str) -> int:
        """A count over every stream, forgotten ones included."""
        return self.totals[name] + sum(s.stats[name] for s in self.streams.values())

    def _forget(self, key: tuple) -> None:
        """Forgets a stream: its open frames are given up on, those whole
        behind them handed on, and its highest packet number remembered."""
        stream = self.streams.pop(key)
        for frame in list(stream.frames.values()):
            if not frame.complete:
                stream.give_up(frame)
        stream.release()
        stream.free_all()
        for name, value in stream.stats.items():
            self.totals[name] += value
        self.gone.pop(key, None)
        if len(self.gone) >= self.MAX_GONE:
            self.gone.popitem(last=False)
        self.gone[key] = stream.highest

    def deliver(self, stream: Stream, frame: Frame, data: bytearray) -> None:
        now_us = self.clock.us(self.now)
        latency = estimated = None
        if stream.local:
            latency = now_us - frame.timestamp
        elif stream.theta is not None:
            latency = now_us - (frame.timestamp - stream.theta)
            estimated = True
        self.events.append(("frame", stream, frame.id, data, latency, estimated))

    # -- input ----------------------------------------------------------------

    def handle_datagram(self, now: float, datagram, addr: tuple) -> None:
        """Takes one datagram (a bytes-like object valid only during the call)."""
        self.now = now
        header = read_fixed(datagram)
        if isinstance(header, str):
            self.count(header)
            return
        kind, flags, stream_id, from_receiver, number = header
        size = len(datagram)
        if from_receiver:
            # Feedback sent to a receiver would open a stream and draw
            # feedback back, toward whoever it names.
            self.count("direction")
            return
        if flags & FLAG_SEALED:
            self.count("sealed")
            if addr not in self.sealed_told and len(self.sealed_told) < 64:
                self.sealed_told.add(addr)
                self.events.append(("notice", f"{addr[0]}:{addr[1]} sends a sealed stream; "
                                              "this receiver has no key (sealing is not "
                                              "implemented), its datagrams are dropped"))
            self._notice(now, addr, stream_id, NOTICE_NO_KEY, "this server has no key", size)
            return
        key = (addr, stream_id)
        stream = self.streams.get(key)
        if stream is None:
            gone = self.gone.get(key)
            if gone is not None and number <= gone:
                self.count("afterBye")  # a copy that lagged behind its end
                return
            if kind == BYE:
                # The end of a stream never known or forgotten: it has ended.
                self.gone.pop(key, None)
                if len(self.gone) >= self.MAX_GONE:
                    self.gone.popitem(last=False)
                self.gone[key] = number
                return
            stream = Stream(self, key, stream_id, now)
            self.streams[key] = stream
            while len(self.streams) > self.MAX_STREAMS:
                self._forget(next(iter(self.streams)))
        else:
            self.streams.move_to_end(key)
            if stream.next_report == math.inf:
                # Reports stopped after a silence; they start again.
                stream.next_report = now + self.FIRST_REPORT
        if not stream.log_packet(now, number, size):
            self.count("duplicate")
            return
        if kind == DATA or kind == PARITY:
            self._chunk(now, stream, kind, flags, datagram)
        elif kind == SENDER_REPORT:
            if size < SENDER_REPORT_BYTES:
                self.count("malformed")
                return
            t3, t1, delay, next_id = SENDER_REPORT_BODY.unpack_from(datagram, 20)
            # Only an echo of one of our own reports: a multicast sender
            # echoes whichever receiver's report came last.
            if t1 and t1 in stream.report_clocks:
                t4 = self.clock.us(now)
                rtt = (t4 - t1) - delay
                if 0 <= rtt < 60_000_000:
                    stream.rtt.sample(rtt / 1e6)
                    stream.offsets.append((rtt, ((t3 - delay - t1) + (t3 - t4)) / 2))
                    best = sorted(o for _, o in sorted(stream.offsets)[:8])
                    stream.theta = best[len(best) // 2]
            stream.reveal(now, next_id)
            if next_id == (stream.next_id if stream.next_id is not None else 0):
                # Everything the sender has sent is resolved: it may be
                # waiting for that to end the stream, so say so at once.
                stream.next_report = min(stream.next_report, now)
        elif kind == MESSAGE:
            if size < MESSAGE_HEADER_BYTES:
                self.count("malformed")
                return
            (message_id,) = U32_AT.unpack_from(datagram, 20)
            self._message(now, stream, message_id, bytes(datagram[MESSAGE_HEADER_BYTES:]))
        elif kind == BYE:
            if stream.bye_at is None:
                stream.bye_at = now

    def _chunk(self, now: float, stream: Stream, kind: int, flags: int, datagram) -> None:
        parity = kind == PARITY
        offset = PARITY_HEADER_BYTES if parity else DATA_HEADER_BYTES
        size = len(datagram)
        if size <= offset:
            self.count("malformed")
            return
        frame_id, index, count, length, crc, timestamp, send_offset = \
            CHUNK_FIELDS.unpack_from(datagram, 20)
        if length > self.max_frame_bytes:
            self.count("bad-size")
            return
        if count == 0 or length < count or index >= count:
            self.count("malformed")
            return
        chunk_size = -(-length // count)
        if (count - 1) * chunk_size >= length:
            self.count("malformed")
            return
        payload = size - offset
        if parity:
            stride, group = struct.unpack_from(">HH", datagram, 48)
            if (stride == 0 or group == 0 or index + (group - 1) * stride >= count
                    or payload != chunk_size):
                self.count("malformed")
                return
        else:
            expected = chunk_size if index < count - 1 else length - (count - 1) * chunk_size
            if payload != expected:
                self.count("malformed")
                return
        if not flags & FLAG_RETRANSMISSION:
            stream.measure_delay(now, timestamp + send_offset)
        frame = stream.frame_for(now, frame_id, count, length, crc, timestamp)
        if frame is None:
            return
        if parity:
            stream.add_parity(now, frame, index, stride, group, datagram[offset:])
        else:
            stream.add_chunk(now, frame, index, datagram[offset:], flags)

    def _message(self, now: float, stream: Stream, message_id: int, text: bytes) -> None:
        ack = stream.acks.get(message_id)
        if ack is None:
            ack = self._new_message(stream, message_id, text)
            stream.acks[message_id] = ack
            if len(stream.acks) > stream.MAX_ACKS:
                stream.acks.popitem(last=False)
        # Every copy gets the same ack; acks are not held to the feedback cap.
        self._send(now, stream, MESSAGE_ACK, ack)

    def _new_message(self, stream: Stream, message_id: int, text: bytes) -> bytes:
        """Hands a message on; returns the body of its ack."""
        try:
            decoded = text.decode("utf-8")
            if decoded.startswith("\ufeff"):
                decoded = decoded[1:]  # a byte-order mark is skipped
            value = json.loads(decoded, parse_constant=_reject_constant)
            status, reply = 0, b"get the msg"
        except UnicodeDecodeError:
            value = None
            status, reply = 1, f"error: invalid UTF-8 in a {len(text)}-byte message".encode()
        except (ValueError, RecursionError) as error:
            value = None
            reason = str(error).splitlines()[0][:200] if str(error) else "too deeply nested"
            status, reply = 1, f"error: invalid JSON: {reason}".encode()
        self.events.append(("message", stream, message_id, status, value,
                            reply.decode("utf-8", "replace")))
        return MESSAGE_ACK_BODY.pack(message_id, status) + reply

    # -- output -------------------------------------------------------------------

    def _may_answer(self, stream: Stream, size: int) -> bool:
        """Whether `size` more bytes of NACKs and reports keep what a stream
        is sent within what it sent: so that forged chunk counts or spoofed
        headers cannot make this receiver an amplifier toward their source."""
        if stream.feedback_bytes + size > stream.bytes:
            self.feedback_capped += 1
            return False
        stream.feedback_bytes += size
        return True

    def _notice(self, now: float, addr: tuple, stream_id: int, code: int, text: str,
                cause_bytes: int) -> None:
        """An unsealed hint to a sender about keys, rate-limited and never
        longer than the datagram that caused it, so that it cannot amplify."""
        if cause_bytes < NOTICE_HEADER_BYTES:
            return
        if now - self.notice_at.get(addr, -math.inf) < self.NOTICE_INTERVAL:
            return
        start, sent = self.notice_second
        if now - start >= 1.0:
            start, sent = now, 0
        if sent >= self.NOTICES_PER_SECOND:
            return
        self.notice_second = (start, sent + 1)
        if len(self.notice_at) >= 1024:
            self.notice_at.clear()
        self.notice_at[addr] = now
        encoded = text.encode("utf-8")[:cause_bytes - NOTICE_HEADER_BYTES]
        encoded = encoded.decode("utf-8", "ignore").encode("utf-8")  # no cut character
        out = bytearray(NOTICE_HEADER_BYTES + len(encoded))
        pack_fixed(out, NOTICE, 0, stream_id, True, 0)
        out[20] = code
        out[NOTICE_HEADER_BYTES:] = encoded
        self.transmits.append((bytes(out), addr))

    def _send(self, now: float, stream: Stream, kind: int, body: bytes) -> None:
        out = bytearray(HEADER_BYTES + len(body))
        pack_fixed(out, kind, 0, stream.stream_id, True, stream.packet_number)
        stream.packet_number += 1
        out[HEADER_BYTES:] = body
        self.transmits.append((bytes(out), stream.addr))

    def _report(self, now: float, stream: Stream) -> None:
        if not self._may_answer(stream, REPORT_BYTES):
            return
        s = stream.stats
        delay = min(U32, int((now - stream.highest_at) * 1e6))
        receiver_clock = self.clock.us(now)
        stream.report_clocks.append(receiver_clock)
        body = REPORT_BODY.pack(
            max(stream.highest, 0), delay, receiver_clock,
            stream.packets & U32, stream.bytes & U32,
            stream.next_id if stream.next_id is not None else 0,
            s["delivered"] & U32, s["lost"] & U32, s["late"] & U32, s["corrupt"] & U32,
            s["recovered_nack"] & U32, s["recovered_fec"] & U32, s["chunks_late"] & U32,
            min(U32, int(stream.jitter)), min(U32, stream.queueing_delay()),
            # Frames are written as they come: none is skipped, none waits.
            0, 0)
        self._send(now, stream, REPORT, body)

    def _nacks(self, now: float, stream: Stream) -> None:
        entries: list = []
        stream.collect_nacks(now, entries, self.MAX_NACK_ENTRIES)
        per = (self.NACK_DATAGRAM_BYTES - NACK_HEADER_BYTES) // NACK_ENTRY_BYTES
        for start in range(0, len(entries), per):
            part = entries[start:start + per]
            body = bytearray(4 + NACK_ENTRY_BYTES * len(part))
            NACK_COUNT.pack_into(body, 0, len(part))
            for k, (frame_id, first, bitmap) in enumerate(part):
                NACK_ENTRY.pack_into(body, 4 + NACK_ENTRY_BYTES * k, frame_id, first, bitmap)
            if not self._may_answer(stream, HEADER_BYTES + len(body)):
                return
            self._send(now, stream, NACK, bytes(body))

    def handle_timeout(self, now: float, drained: bool = True) -> None:
        """Runs what is due: NACKs, reports, expiry, forgetting streams.
        `drained` says that no datagram waits to be read: while some do,
        NACKs wait, lest they ask for chunks that are already here."""
        self.now = now
        for key, stream in list(self.streams.items()):
            stream.expire(now)
            if drained and now >= stream.nack_due:
                self._nacks(now, stream)
            silent = now - stream.last_arrival
            if now >= stream.next_report:
                if silent > self.REPORTS_STOP_AFTER:
                    stream.next_report = math.inf  # until datagrams come again
                else:
                    self._report(now, stream)
                    stream.next_report = now + self.REPORT_INTERVAL
            if now >= self._forget_at(stream):
                self._forget(key)

    def _forget_at(self, stream: Stream) -> float:
        """After silence; after a bye, once no frame is open or its latency
        budget has passed."""
        idle = stream.last_arrival + self.SILENT
        if stream.bye_at is None:
            return idle
        if not stream.frames:
            return stream.bye_at
        return min(idle, stream.bye_at + self.latency)

    def flush_reports(self, now: float) -> None:
        """Reports to every stream heard from lately, as the receiver stops."""
        self.now = now
        for stream in self.streams.values():
            if now - stream.last_arrival < self.REPORTS_STOP_AFTER:
                self._report(now, stream)

    def poll_timeout(self, now: float) -> float:
        due = now + 1.0
        for stream in self.streams.values():
            due = min(due, stream.next_report, stream.nack_due, self._forget_at(stream))
            for frame in stream.frames.values():
                if not frame.complete:
                    due = min(due, frame.deadline)
                    break  # frames are opened in order, so the first has the earliest deadline
        return due


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

PROG = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "udpimg_stream.py"


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{message}; see --help")


def positive_int(low: int = 0, high: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be an integer {bounds}, got '{text}'")
        return value
    return parse


def add_receiver_address(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="the receiver (default 127.0.0.1)")
    parser.add_argument("--port", type=positive_int(1, 65535), default=9999,
                        help="the receiver's port (default 9999)")


def make_parser() -> Parser:
    parser = Parser(prog=PROG, description="udpimg's stream protocol (version 1): "
                    "send and receive frames over UDP with NACK retransmission.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    send = sub.add_parser("send", help="send image files (or a camera) as a stream",
                          description="Send image files, in turn, as a stream of frames.")
    send.add_argument("files", nargs="*", metavar="FILE", help="images to send, repeated in turn")
    send.add_argument("--camera", metavar="DEVICE",
                      help="capture with OpenCV: a camera index such as 0, a device or a video file")
    add_receiver_address(send)
    send.add_argument("--fps", type=float, default=30.0,
                      help="frames a second; 0 sends as fast as pacing allows (default 30)")
    send.add_argument("--count", type=positive_int(1), default=None,
                      help="frames to send (default: each file once; a camera: until Ctrl-C)")
    send.add_argument("--rate", type=float, default=100.0, metavar="MBIT",
                      help="pacing rate in Mbit/s (default 100)")
    send.add_argument("--chunk-size", type=positive_int(MIN_DATAGRAM_BYTES,
                                                        MAX_DATAGRAM_BYTES),
                      default=DEFAULT_DATAGRAM_BYTES, metavar="BYTES",
                      help="largest datagram, headers included (default 1200)")
    send.add_argument("--fec", type=positive_int(0, MAX_CHUNKS), default=0,
                      metavar="K", help="one XOR parity datagram per K chunks (default 0: none)")
    send.add_argument("--latency", type=positive_int(1), default=120, metavar="MS",
                      help="the receiver's latency budget, for the history (default 120)")
    send.add_argument("--quality", type=positive_int(1, 100), default=80,
                      help="JPEG quality for --camera (default 80)")
    send.add_argument("--quiet", action="store_true", help="print only the summary")

    recv = sub.add_parser("recv", help="receive streams and save their frames",
                          description="Receive streams, save each whole frame to DIR.")
    recv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    recv.add_argument("--port", type=positive_int(0, 65535), default=9999,
                      help="port to bind (default 9999; 0 picks a free one)")
    recv.add_argument("--out", metavar="DIR", help="save frames as DIR/000001.jpg, …")
    recv.add_argument("--count", type=positive_int(1), default=None,
                      help="exit after N frames")
    recv.add_argument("--latency", type=positive_int(1), default=120, metavar="MS",
                      help="latency budget of a frame (default 120)")
    recv.add_argument("--max-frame-bytes", type=positive_int(1, U32),
                      default=64 << 20, metavar="N",
                      help="largest frame accepted (default 64 MiB)")
    recv.add_argument("--quiet", action="store_true", help="print only the summary")

    msg = sub.add_parser("msg", help="send JSON messages on a stream",
                         description="Send a JSON value as stream messages and print each reply.")
    add_receiver_address(msg)
    msg.add_argument("--data", default="[0,0,0,1]", metavar="JSON",
                     help="the message (default [0,0,0,1])")
    msg.add_argument("--count", type=positive_int(1), default=1,
                     help="messages to send (default 1)")
    msg.add_argument("--interval", type=positive_int(0), default=10, metavar="MS",
                     help="between messages (default 10)")
    msg.add_argument("--timeout", type=positive_int(1), default=2000, metavar="MS",
                     help="give up on a message after this long (default 2000)")

    crc = sub.add_parser("crc32c", help="print the CRC-32C of files, and the rate",
                         description="Print each file's CRC-32C and how fast it was computed.")
    crc.add_argument("files", nargs="+", metavar="FILE")
    return parser


class Stop:
    """Turns SIGINT and SIGTERM into a flag the loops check."""

    def __init__(self) -> None:
        self.requested = False
        for name in ("SIGINT", "SIGTERM"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), self._handle)

    def _handle(self, signum, frame) -> None:
        self.requested = True


def resolve(host: str, port: int) -> tuple:
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)
    except socket.gaierror as error:
        raise OSError(f"cannot resolve '{host}': {error.strerror}") from None
    except UnicodeError:
        raise OSError(f"cannot resolve '{host}': not a valid host name") from None
    family, _, _, _, address = infos[0]
    return family, address


def out_line(*parts) -> None:
    print(" ".join(str(p) for p in parts), flush=True)


def rate_text(frames: int, seconds: float) -> str:
    return f"{frames / seconds:.1f}" if seconds > 0 else "0.0"


def read_frames(paths: list) -> list:
    frames = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as error:
            raise OSError(f"cannot read '{path}': {error.strerror}") from None
        if not data:
            raise UsageError(f"'{path}' is empty: a frame has at least one byte")
        frames.append(data)
    return frames


class Camera:
    """Frames from OpenCV, captured on a thread. Of a camera's frames the
    newest is kept; a video file's are all kept, in turn, and its end ends
    the stream."""

    def __init__(self, device: str, quality: int) -> None:
        try:
            import cv2  # noqa: PLC0415
        except ImportError:
            raise UsageError("--camera needs OpenCV, which this Python cannot import: "
                             "install python3-opencv (or pip install opencv-python)") from None
        self.cv2 = cv2
        self.capture = cv2.VideoCapture(int(device) if device.isdigit() else device)
        if not self.capture.isOpened():
            raise OSError(f"cannot open camera '{device}'")
        self.params = [int(cv2.IMWRITE_JPEG_QUALITY), quality]
        self.is_file = os.path.isfile(device)
        self.frames = collections.deque()
        self.room = threading.Semaphore(4)  # a file's frames read ahead
        self.lock = threading.Lock()
        self.failed = None
        self.ended = False
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self._capture()
        except Exception as error:  # told by take(), in one line, not a thread traceback
            self.failed = f"the camera failed: {type(error).__name__}: {error}"
            self.ended = True

    def _capture(self) -> None:
        frames = 0
        while self.running:
            if self.is_file:
                while self.running and not self.room.acquire(timeout=0.1):
                    pass
            ok, image = self.capture.read()
            if not ok:
                if frames == 0:
                    self.failed = "the camera gave no frame"
                self.ended = True
                return
            frames += 1
            ok, encoded = self.cv2.imencode(".jpg", image, self.params)
            if ok:
                with self.lock:
                    if not self.is_file:
                        self.frames.clear()
                    self.frames.append((encoded.tobytes(), time.time_ns() // 1000))

    def take(self):
        """The next frame, or None (see `ended`)."""
        with self.lock:
            frame = self.frames.popleft() if self.frames else None
        if frame is not None and self.is_file:
            self.room.release()
        return frame

    def close(self) -> None:
        self.running = False
        self.thread.join(timeout=1)
        self.capture.release()


def open_connected(host: str, port: int) -> socket.socket:
    family, address = resolve(host, port)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, 4 << 20)
        except OSError:
            pass
    try:
        sock.connect(address)
    except OSError as error:
        sock.close()
        raise OSError(f"cannot send to {host}:{port}: {error.strerror}") from None
    sock.setblocking(False)
    return sock


def drive_sender(sock: socket.socket, sender: Sender, stop: Stop, source=None,
                 on_event=None) -> None:
    """Runs a sender over a connected socket until it is done or stopped.
    `source(now)` is called when the loop may take a frame; it returns when
    it wants to be called next, or None when it has no more frames."""
    buffer = bytearray(65536)
    view = memoryview(buffer)
    pending = None
    next_frame = time.monotonic()
    while not sender.done:
        now = time.monotonic()
        if stop.requested:
            sender.finish(now)
            if sender.finishing_since is not None and now - sender.finishing_since > 0.5:
                break
        while True:
            try:
                n = sock.recv_into(buffer)
            except (BlockingIOError, InterruptedError):
                break
            except ConnectionRefusedError:
                if not sender.unreachable and sender.report is None:
                    sender.unreachable = True
                    host, port = sock.getpeername()[:2]
                    print(f"warning: nothing listens at {host}:{port} (port unreachable): "
                          "start a stream receiver there (udpimg_stream.py recv, or "
                          "server.ts --protocol stream)", file=sys.stderr, flush=True)
                continue
            sender.handle_datagram(now, view[:n])
        _drain_sender_events(sock, sender, on_event)
        if source is not None and next_frame is not None and now >= next_frame:
            next_frame = source(now)
            if next_frame is None:
                source = None
                sender.finish(now)
        sender.expire(now)
        blocked = False
        while True:
            if pending is None:
                pending = sender.poll_transmit(now)
                if pending is None:
                    break
            try:
                sock.send(pending)
                pending = None
            except (BlockingIOError, InterruptedError):
                pending = bytes(pending)
                blocked = True
                break
            except ConnectionRefusedError:
                pending = None  # the receiver is not there (yet): open loop, carry on
            except OSError as error:
                host, port = sock.getpeername()[:2]
                raise OSError(f"cannot send to {host}:{port}: {error.strerror}") from None
        wake = sender.poll_timeout(now)
        if source is not None and next_frame is not None:
            wake = min(wake, next_frame)
        timeout = min(max(0.0, wake - time.monotonic()), 0.05)
        select.select([sock], [sock] if blocked else [], [], timeout)
    _drain_sender_events(sock, sender, on_event)


NOTICE_HINTS = {
    1: "this sender does not seal, so this is a forgery or a stray",
    2: "this sender cannot seal (sealing is not implemented here): use client.ts --key-file",
    3: "this sender does not seal, so this is a forgery or a stray",
}


def _drain_sender_events(sock: socket.socket, sender: Sender, on_event) -> None:
    while sender.events:
        event = sender.events.popleft()
        if event[0] == "notice":
            _, code, text = event
            try:
                host, port = sock.getpeername()[:2]
            except OSError:
                host, port = "the receiver", "?"
            shown = " ".join(text.split())[:200] or f"code {code}"
            print(f"warning: {host}:{port} says: {shown}; "
                  f"{NOTICE_HINTS.get(code, 'an unknown notice, ignored')}",
                  file=sys.stderr, flush=True)
        elif on_event is not None:
            on_event(event)


def run_send(args) -> int:
    if args.camera is None and not args.files:
        raise UsageError("give image files to send, or --camera DEVICE")
    if args.camera is not None and args.files:
        raise UsageError("give image files or --camera, not both")
    if not (args.fps >= 0 and math.isfinite(args.fps)):
        raise UsageError(f"--fps must be a number from 0, got '{args.fps}'")
    if not (args.rate > 0 and math.isfinite(args.rate)):
        raise UsageError(f"--rate must be a positive number of Mbit/s, got '{args.rate}'")
    files = read_frames(args.files)
    for data in files:
        if chunk_count_for(len(data), args.chunk_size) > MAX_CHUNKS:
            raise UsageError(f"a {len(data)}-byte file needs more than {MAX_CHUNKS} chunks; "
                             "use a larger --chunk-size")
    camera = Camera(args.camera, args.quality) if args.camera is not None else None
    stop = Stop()
    sock = open_connected(args.host, args.port)
    clock = Clock()
    start = time.monotonic()
    sender = Sender(clock, start, datagram_bytes=args.chunk_size, rate_bps=args.rate * 1e6,
                    latency=args.latency / 1000, fec=args.fec)
    count = args.count if args.count is not None else (len(files) if camera is None else None)
    interval = 1 / args.fps if args.fps > 0 else 0.0
    produced = 0
    schedule = [start]

    def source(now: float):
        nonlocal produced
        if count is not None and produced >= count:
            return None
        all_sent = camera is None or camera.is_file
        if all_sent and sender.waiting is not None or interval == 0 and not sender.idle:
            return now + 0.0005  # files are all sent: none is replaced by the next
        if camera is not None:
            if camera.failed:
                raise OSError(camera.failed)
            ended = camera.ended
            frame = camera.take()
            if frame is None:
                return None if ended else now + 0.002
            sender.push_frame(now, frame[0], frame[1])
        else:
            sender.push_frame(now, files[produced % len(files)])
        produced += 1
        if not args.quiet and produced % 100 == 0:
            out_line(f"sent {produced} frames")
        if interval == 0:
            return now
        schedule[0] += interval
        if schedule[0] < now - interval:
            schedule[0] = now  # fell behind: do not burst to catch up
        return schedule[0]

    try:
        drive_sender(sock, sender, stop, source)
    finally:
        sock.close()
        if camera is not None:
            camera.close()
    seconds = time.monotonic() - start
    report = sender.report
    delivered = report[6] if report else 0
    lost = report[7] if report else 0
    out_line(f"frames={sender.frames_sent}", f"seconds={seconds:.2f}",
             f"fps={rate_text(sender.frames_sent, seconds)}", f"bytes={sender.frame_bytes}",
             f"sent={sender.datagrams}", f"retransmitted={sender.resent}",
             f"fec={sender.parity_sent}",
             f"rtt_ms={sender.rtt.smoothed * 1000:.2f}" if sender.rtt.measured else "rtt_ms=?",
             f"delivered={delivered}", f"lost={lost}", f"stale={sender.stale}",
             f"skipped={sender.skipped}")
    if report is None and sender.frames_sent:
        if sender.unreachable:
            return 1  # already said, in one line
        print(f"warning: no report came from {args.host}:{args.port}: is a stream receiver "
              "listening there?", file=sys.stderr, flush=True)
        return 1
    return 0


def run_msg(args) -> int:
    try:
        json.loads(args.data, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        raise UsageError(f"--data must be JSON: {error}") from None
    size = len(args.data.encode("utf-8", "surrogatepass"))
    if MESSAGE_HEADER_BYTES + size > MAX_DATAGRAM_BYTES:
        raise UsageError(f"--data holds at most {MAX_DATAGRAM_BYTES - MESSAGE_HEADER_BYTES} "
                         f"bytes (one datagram), got {size}")
    stop = Stop()
    sock = open_connected(args.host, args.port)
    clock = Clock()
    start = time.monotonic()
    sender = Sender(clock, start, message_timeout=args.timeout / 1000)
    results = {"acked": 0, "failed": 0}
    sent = [0]
    next_at = [start]

    def source(now: float):
        if sent[0] >= args.count:
            return None
        sender.send_message(now, args.data)
        sent[0] += 1
        next_at[0] = now + args.interval / 1000
        return next_at[0]

    def on_event(event) -> None:
        if event[0] == "ack":
            results["acked"] += 1
            out_line(f"reply id={event[1]} status={event[2]} rtt_ms={event[4] * 1000:.2f}",
                     event[3])
        else:
            results["failed"] += 1
            out_line(f"no reply id={event[1]} after {args.timeout} ms")

    try:
        drive_sender(sock, sender, stop, source, on_event)
    finally:
        sock.close()
    seconds = time.monotonic() - start
    out_line(f"messages={sent[0]}", f"acked={results['acked']}", f"failed={results['failed']}",
             f"seconds={seconds:.2f}")
    return 0 if results["acked"] == sent[0] else 1


def run_recv(args) -> int:
    if args.out is not None:
        try:
            os.makedirs(args.out, exist_ok=True)
        except OSError as error:
            raise OSError(f"cannot make '{args.out}': {error.strerror}") from None
    stop = Stop()
    family, address = resolve(args.host, args.port)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        except OSError:
            pass
        try:
            sock.bind(address)
        except OSError as error:
            raise OSError(f"cannot bind {args.host}:{args.port}: {error.strerror}") from None
        sock.setblocking(False)
        out_line(f"ready port={sock.getsockname()[1]}")
        return receive_loop(sock, args, stop)
    finally:
        sock.close()


def receive_loop(sock: socket.socket, args, stop: Stop) -> int:
    clock = Clock()
    receiver = Receiver(clock, latency=args.latency / 1000,
                        max_frame_bytes=args.max_frame_bytes)
    buffer = bytearray(65536)
    view = memoryview(buffer)
    start = time.monotonic()
    saved = 0
    received_bytes = 0
    first_frame_at = last_frame_at = None
    latencies: list = []
    while not stop.requested and (args.count is None or saved < args.count):
        now = time.monotonic()
        timeout = min(max(0.0, receiver.poll_timeout(now) - now), 0.25)
        readable, _, _ = select.select([sock], [], [], timeout)
        now = time.monotonic()
        drained = True
        if readable:
            drained = False
            for _ in range(512):
                try:
                    n, addr = sock.recvfrom_into(buffer)
                except (BlockingIOError, InterruptedError):
                    drained = True
                    break
                except OSError:
                    continue
                try:
                    receiver.handle_datagram(now, view[:n], addr[:2])
                except Exception as error:  # a bug here must not lose the frames we have
                    receiver.count("internal-error")
                    if os.environ.get("UDPIMG_DEBUG"):
                        raise
                    print(f"warning: dropped a datagram: {type(error).__name__}: {error}",
                          file=sys.stderr, flush=True)
        receiver.handle_timeout(now, drained)
        for data, addr in receiver.transmits:
            try:
                sock.sendto(data, addr)
            except OSError:
                receiver.count("send-failed")
        receiver.transmits.clear()
        while receiver.events:
            event = receiver.events.popleft()
            kind = event[0]
            if kind == "frame":
                if args.count is not None and saved >= args.count:
                    continue
                _, stream, frame_id, data, latency, estimated = event
                saved += 1
                received_bytes += len(data)
                if first_frame_at is None:
                    first_frame_at = now
                last_frame_at = now
                name = "-"
                if args.out is not None:
                    name = os.path.join(args.out, f"{saved:06d}{sniff_extension(data)}")
                    try:
                        with open(name, "wb") as f:
                            f.write(data)
                    except OSError as error:
                        raise OSError(f"cannot write '{name}': {error.strerror}") from None
                if latency is not None:
                    latencies.append(latency)
                if not args.quiet:
                    shown = "-" if latency is None else \
                        f"{latency / 1000:.1f}{'~' if estimated else ''}"
                    out_line(f"frame={saved}", f"stream={stream.stream_id:08x}",
                             f"id={frame_id}", f"bytes={len(data)}", f"latency_ms={shown}",
                             f"file={name}")
            elif kind == "dropped":
                _, stream, frame_id, reason, detail = event
                if not args.quiet:
                    out_line(f"dropped={reason}", f"stream={stream.stream_id:08x}",
                             f"id={frame_id}", detail)
            elif kind == "message":
                _, stream, message_id, status, value, reply = event
                if not args.quiet:
                    shown = json.dumps(value) if status == 0 else reply
                    out_line(f"message stream={stream.stream_id:08x} id={message_id}", shown)
            elif kind == "notice":
                print(f"warning: {event[1]}", file=sys.stderr, flush=True)
    receiver.flush_reports(time.monotonic())
    for data, addr in receiver.transmits:
        try:
            sock.sendto(data, addr)
        except OSError:
            pass
    seconds = time.monotonic() - start
    totals = {name: receiver.total(name) for name in STAT_NAMES}
    dropped = sum(receiver.drops.values())
    reasons = ",".join(f"{k}:{v}" for k, v in sorted(receiver.drops.items()))
    latencies.sort()

    def percentile(p: float) -> str:
        if not latencies:
            return "?"
        return f"{latencies[min(len(latencies) - 1, int(p * len(latencies)))] / 1000:.2f}"

    span = (last_frame_at - first_frame_at) if first_frame_at is not None else 0
    out_line(f"frames={saved}", f"dropped={dropped}" + (f"({reasons})" if reasons else ""),
             f"bytes={received_bytes}", f"seconds={seconds:.2f}",
             f"fps={rate_text(saved - 1, span) if saved > 1 else '0.0'}",
             f"lost={totals['lost']}", f"late={totals['late']}", f"corrupt={totals['corrupt']}",
             f"recovered_nack={totals['recovered_nack']}",
             f"recovered_fec={totals['recovered_fec']}",
             f"latency_p50_ms={percentile(0.5)}", f"latency_p99_ms={percentile(0.99)}",
             f"feedback_capped={receiver.feedback_capped}")
    return 0


def run_crc(args) -> int:
    for path in args.files:
        data = read_frames([path])[0]
        crc32c(b"\0" * 4096)  # build the tables outside the timing
        start = time.perf_counter()
        rounds = 0
        while True:
            crc = crc32c(data)
            rounds += 1
            elapsed = time.perf_counter() - start
            if elapsed >= 0.2:
                break
        out_line(f"{crc:08x}", path, f"bytes={len(data)}",
                 f"mb_per_s={len(data) * rounds / elapsed / 1e6:.1f}")
    return 0


def main(argv=None) -> int:
    try:
        args = make_parser().parse_args(argv)
        return {"send": run_send, "recv": run_recv, "msg": run_msg,
                "crc32c": run_crc}[args.command](args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Whoever read our output is gone (`| head`): nothing more to say,
        # and nothing for the interpreter to fail flushing at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (OSError, ValueError) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        if os.environ.get("UDPIMG_DEBUG"):
            raise
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
