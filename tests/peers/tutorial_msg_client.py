#!/usr/bin/python3
"""The tutorial's message client ("Python UDP image transfer with OpenCV"):
every 10 ms it sends json.dumps([0, 0, 0, 1]).encode() to the message port
(default 6666) and reads the server's reply (b'get the msg'). Run with
/usr/bin/python3. --timeout bounds the wait for each reply (a message
without one counts as lost); at exit it prints `messages=N replies=M`.

    /usr/bin/python3 tests/peers/tutorial_msg_client.py --msg-port 6666 --count 5
"""

import argparse
import json
import socket
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description="The tutorial's UDP message client.")
    p.add_argument("--host", default="127.0.0.1", help="server address (default 127.0.0.1)")
    p.add_argument("--msg-port", "--port", dest="msg_port", type=int, default=6666,
                   help="server message port (default 6666)")
    p.add_argument("--count", type=int, default=0, help="messages to send (default: forever)")
    p.add_argument("--interval", type=float, default=0.01, help="seconds between messages (default 0.01)")
    p.add_argument("--message", default="[0, 0, 0, 1]", help="JSON to send (default [0, 0, 0, 1])")
    p.add_argument("--timeout", type=float, default=0.0,
                   help="seconds to wait for each reply (default: forever)")
    p.add_argument("--quiet", action="store_true", help="no per-message lines")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    try:
        payload = json.dumps(json.loads(args.message)).encode()
    except ValueError as e:
        print("Cannot parse --message as JSON: %s" % e, file=sys.stderr)
        return 2
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if args.timeout > 0:
        s.settimeout(args.timeout)
    sent = replies = 0
    try:
        while args.count <= 0 or sent < args.count:
            s.sendto(payload, (args.host, args.msg_port))
            sent += 1
            try:
                reply, _ = s.recvfrom(1024)
                replies += 1
                if not args.quiet:
                    print(reply.decode("utf-8", "replace"), flush=True)
            except socket.timeout:
                if not args.quiet:
                    print("message %d: no reply within %gs" % (sent, args.timeout), flush=True)
            time.sleep(args.interval)
    except KeyboardInterrupt:
        pass
    print("messages=%d replies=%d" % (sent, replies), flush=True)
    s.close()
    return 0 if replies else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
