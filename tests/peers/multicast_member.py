"""A multicast member written with Python's socket module alone, as a witness
for udpimg's multicast tests: it shares the group's port with SO_REUSEADDR,
joins on the given interface, and reports what arrived as one JSON line.

Usage: multicast_member.py GROUP PORT INTERFACE COUNT SIZE
"""

import json
import socket
import struct
import sys

group, port, interface, count, size = sys.argv[1:6]
port, count, size = int(port), int(count), int(size)

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    sock.setsockopt(socket.SOL_SOCKET, 33, 4 << 20)  # SO_RCVBUFFORCE, as root
except OSError:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
sock.bind(("0.0.0.0", port))
membership = socket.inet_aton(group) + socket.inet_aton(interface)
sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
sock.settimeout(20)
print(json.dumps({"ready": 1}), flush=True)

result = {"implementation": "python", "indexes": [], "damaged": 0, "unicast": 0}
try:
    while len(result["indexes"]) < count:
        data = sock.recv(65536)
        if len(data) == 1:
            result["unicast"] += 1
            continue
        (index,) = struct.unpack_from("!I", data)
        result["indexes"].append(index)
        expected = bytes((index + j) & 0xFF for j in range(4, size))
        if len(data) != size or data[4:] != expected:
            result["damaged"] += 1
except socket.timeout:
    pass
print(json.dumps({"result": [result]}), flush=True)
