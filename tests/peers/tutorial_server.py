#!/usr/bin/python3
"""The tutorial's UDP image server ("Python UDP image transfer with OpenCV"),
kept faithful for interop tests and benchmarks. Run with /usr/bin/python3.

Protocol, as in the tutorial: one thread receives images on the image port
(default 9999). A datagram of exactly 8 bytes is a header,
struct.pack('l', n), announcing n bytes that follow in datagrams read with
recvfrom(chunk_size) and appended until n bytes are in; any other datagram
is a whole image (part 1 of the tutorial). The image is decoded with
cv2.imdecode and b'get message!!!' goes back to the sender. A second thread
receives one JSON datagram at a time on the message port (default 6666),
prints it and replies b'get the msg'.

Differences from the tutorial, all for tests: headless (no cv2.imshow), flags
for ports (0 picks a free one), --count, --out, --timeout and --quiet, a
`ready image=PORT msg=PORT` line once bound and a `frames=N ... fps=F`
summary at exit. --rcvbuf sets SO_RCVBUF(FORCE); the tutorial never sets it,
so by default neither do we. Lost chunks are not handled, as in the
tutorial: a frame missing a chunk swallows the start of the next one.

    /usr/bin/python3 tests/peers/tutorial_server.py --host 127.0.0.1 --port 0
"""

import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading
import time

import cv2
import numpy as np

# The tutorial packs the length as a native C long, 8 bytes little-endian on
# 64-bit Linux; spell it out where a long is narrower.
HEADER_FORMAT = "l" if struct.calcsize("l") == 8 else "<q"
HEADER_BYTES = 8
IMAGE_REPLY = b"get message!!!"
MSG_REPLY = b"get the msg"


class Stats:
    def __init__(self):
        self.frames = 0
        self.errors = 0
        self.bytes = 0
        self.first = None
        self.last = None
        self.lock = threading.Lock()

    def summary(self):
        seconds = (self.last - self.first) if self.first and self.last else 0.0
        # frames - 1 intervals between the first and the last completed frame
        fps = (self.frames - 1) / seconds if self.frames > 1 and seconds > 0 else 0.0
        return "frames=%d errors=%d bytes=%d seconds=%.3f fps=%.2f" % (
            self.frames, self.errors, self.bytes, seconds, fps)


def parse_args(argv):
    p = argparse.ArgumentParser(description="The tutorial's UDP image server, headless.")
    p.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=9999, help="image port, 0 for any (default 9999)")
    p.add_argument("--msg-port", type=int, default=6666, help="message port, 0 for any (default 6666)")
    p.add_argument("--count", type=int, default=0, help="exit after N images (default: never)")
    p.add_argument("--out", help="write each received image's bytes to DIR/000001.jpg, ...")
    p.add_argument("--chunk-size", type=int, default=1024, help="recvfrom size for chunks (default 1024)")
    p.add_argument("--timeout", type=float, default=0.0,
                   help="exit after SECONDS without an image datagram (default: wait forever)")
    p.add_argument("--rcvbuf", type=int, default=0,
                   help="SO_RCVBUF in bytes for the image socket (default: the OS default, as the tutorial)")
    p.add_argument("--no-decode", action="store_true", help="skip cv2.imdecode")
    p.add_argument("--quiet", action="store_true", help="no per-frame lines")
    return p.parse_args(argv)


def set_rcvbuf(sock, size):
    # SO_RCVBUFFORCE passes rmem_max when we may (root); fall back to the capped one.
    force = getattr(socket, "SO_RCVBUFFORCE", 33)
    try:
        sock.setsockopt(socket.SOL_SOCKET, force, size)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def extension(data):
    return "png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "jpg"


def receive_images(sock, args, stats, done):
    while args.count <= 0 or stats.frames < args.count:
        try:
            data, addr = sock.recvfrom(400000)
            if len(data) == HEADER_BYTES:
                total = struct.unpack(HEADER_FORMAT, data)[0]
                data = b""
                while len(data) < total:
                    chunk, addr = sock.recvfrom(args.chunk_size)
                    data += chunk
        except socket.timeout:
            break
        except OSError:
            break  # socket closed at exit
        size = "undecodable"
        if not args.no_decode:
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if img is not None:
                size = "%dx%d" % (img.shape[1], img.shape[0])
        else:
            size = "undecoded"
        sock.sendto(IMAGE_REPLY, addr)
        now = time.monotonic()
        with stats.lock:
            stats.frames += 1
            stats.bytes += len(data)
            if size == "undecodable":
                stats.errors += 1
            if stats.first is None:
                stats.first = now
            stats.last = now
            n = stats.frames
        if args.out:
            with open(os.path.join(args.out, "%06d.%s" % (n, extension(data))), "wb") as f:
                f.write(data)
        if not args.quiet:
            print("frame %d: %d bytes %s from %s:%d" % (n, len(data), size, addr[0], addr[1]), flush=True)
    done.set()


def receive_messages(sock, args):
    while True:
        try:
            data, addr = sock.recvfrom(1024)
        except OSError:
            return
        try:
            msg = json.loads(data.decode("utf-8"))
        except ValueError as e:
            print("message from %s:%d is not JSON: %s" % (addr[0], addr[1], e), flush=True)
            continue
        if not args.quiet:
            print("msg from %s:%d: %s" % (addr[0], addr[1], json.dumps(msg)), flush=True)
        sock.sendto(MSG_REPLY, addr)


def main(argv):
    args = parse_args(argv)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    image_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    msg_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        image_sock.bind((args.host, args.port))
        msg_sock.bind((args.host, args.msg_port))
    except OSError as e:
        print("Cannot bind %s:%d/%d: %s; pick other ports with --port and --msg-port" %
              (args.host, args.port, args.msg_port, e.strerror), file=sys.stderr)
        return 1
    if args.rcvbuf > 0:
        set_rcvbuf(image_sock, args.rcvbuf)
    if args.timeout > 0:
        image_sock.settimeout(args.timeout)

    stats = Stats()
    done = threading.Event()
    # SIGTERM from a harness ends the run like the last frame would.
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=receive_images, args=(image_sock, args, stats, done), daemon=True).start()
    threading.Thread(target=receive_messages, args=(msg_sock, args), daemon=True).start()
    print("ready image=%d msg=%d" % (image_sock.getsockname()[1], msg_sock.getsockname()[1]), flush=True)
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    with stats.lock:
        print(stats.summary(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
