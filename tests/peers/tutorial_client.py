#!/usr/bin/python3
"""The tutorial's UDP image client ("Python UDP image transfer with OpenCV"),
kept faithful for interop tests and benchmarks. Run with /usr/bin/python3.

Per frame, as in the tutorial: cv2.imencode('.jpg', img) (quality 95 unless
--quality), send struct.pack('l', len(data)) as an 8-byte header, then the
bytes in 1024-byte sendto calls back to back, then block in recvfrom(1024)
for the server's reply (b'get message!!!') before the next frame.

Flags beyond the tutorial: --raw sends the file's bytes as they are (no
imread/imencode); --single sends the whole image in one datagram (part 1 of
the tutorial, images up to 65507 bytes); --encode-once encodes before the
loop instead of every frame; --timeout bounds the wait for each reply (a
frame without a reply counts as lost); without FILE a synthetic
--size WxH frame with its number drawn on it stands in for the camera. At
exit it prints `frames=N lost=L seconds=S fps=F bytes=B`: fps counts the
replied frames over the time from the first send to the last reply.

    /usr/bin/python3 tests/peers/tutorial_client.py tests/fixtures/rocket.jpg --port 9999 --count 10
"""

import argparse
import socket
import struct
import sys
import time

import cv2
import numpy as np

HEADER_FORMAT = "l" if struct.calcsize("l") == 8 else "<q"
MAX_DATAGRAM = 65507


def parse_args(argv):
    p = argparse.ArgumentParser(description="The tutorial's UDP image client.")
    p.add_argument("file", nargs="?", help="image to send (default: a synthetic frame)")
    p.add_argument("--host", default="127.0.0.1", help="server address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=9999, help="server image port (default 9999)")
    p.add_argument("--count", type=int, default=1, help="frames to send (default 1)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality for cv2.imencode (default 95)")
    p.add_argument("--chunk-size", type=int, default=1024, help="bytes per datagram (default 1024)")
    p.add_argument("--raw", action="store_true", help="send the file's bytes unchanged")
    p.add_argument("--single", action="store_true", help="send each image as one datagram")
    p.add_argument("--encode-once", action="store_true", help="encode once, send the same bytes each frame")
    p.add_argument("--size", default="640x480", help="synthetic frame size WxH (default 640x480)")
    p.add_argument("--timeout", type=float, default=0.0,
                   help="seconds to wait for each reply; a frame without one is lost (default: forever)")
    p.add_argument("--quiet", action="store_true", help="no per-frame lines")
    return p.parse_args(argv)


def synthetic_frame(size, n):
    w, h = (int(v) for v in size.lower().split("x"))
    x = np.linspace(0, 255, w, dtype=np.float32)
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    img = np.empty((h, w, 3), np.uint8)
    img[..., 0] = (x + n * 4) % 256
    img[..., 1] = y
    img[..., 2] = (x[::-1] + y) / 2
    cv2.putText(img, "frame %d" % n, (20, h // 2), cv2.FONT_HERSHEY_SIMPLEX, h / 240, (255, 255, 255), 3)
    return img


def main(argv):
    args = parse_args(argv)
    if args.raw and not args.file:
        print("Cannot send --raw without a FILE: give an image file", file=sys.stderr)
        return 2
    img = None
    raw = None
    if args.raw:
        with open(args.file, "rb") as f:
            raw = f.read()
    elif args.file:
        img = cv2.imread(args.file)
        if img is None:
            print("Cannot read image %s: not a file OpenCV can decode" % args.file, file=sys.stderr)
            return 2
    params = [int(cv2.IMWRITE_JPEG_QUALITY), args.quality]

    def encode(n):
        frame = img if img is not None else synthetic_frame(args.size, n)
        ok, buf = cv2.imencode(".jpg", frame, params)
        return buf.tobytes()

    once = raw if raw is not None else (encode(0) if args.encode_once else None)
    if args.single and once is not None and len(once) > MAX_DATAGRAM:
        print("Cannot send %d bytes in one datagram (--single): the limit is %d; drop --single" %
              (len(once), MAX_DATAGRAM), file=sys.stderr)
        return 2

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if args.timeout > 0:
        s.settimeout(args.timeout)
    addr = (args.host, args.port)
    step = args.chunk_size
    sent = lost = total_bytes = 0
    start = time.monotonic()
    for n in range(1, args.count + 1):
        data = once if once is not None else encode(n)
        if args.single:
            if len(data) > MAX_DATAGRAM:
                print("Cannot send frame %d of %d bytes in one datagram: the limit is %d; drop --single" %
                      (n, len(data), MAX_DATAGRAM), file=sys.stderr)
                return 2
            s.sendto(data, addr)
        else:
            s.sendto(struct.pack(HEADER_FORMAT, len(data)), addr)
            for i in range(0, len(data), step):
                s.sendto(data[i:i + step], addr)
        sent += 1
        total_bytes += len(data)
        try:
            reply, _ = s.recvfrom(1024)
        except socket.timeout:
            lost += 1
            if not args.quiet:
                print("frame %d: no reply within %gs" % (n, args.timeout), flush=True)
            continue
        if not args.quiet:
            print("frame %d: %d bytes, reply %s" % (n, len(data), reply.decode("utf-8", "replace")), flush=True)
    seconds = time.monotonic() - start
    fps = (sent - lost) / seconds if seconds > 0 else 0.0
    print("frames=%d lost=%d seconds=%.3f fps=%.2f bytes=%d" % (sent, lost, seconds, fps, total_bytes), flush=True)
    s.close()
    return 1 if lost and not sent - lost else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
