"""Differential-test oracle for lib/struct.ts: CPython's struct module.

Reads one JSON document from stdin, {"cases": [...]}, runs every case with
the standard library's struct module and writes {"python": [major, minor],
"results": [...]} to stdout, one result per case.

Values travel as tagged objects so that nothing is lost in JSON:
  {"t": "int", "v": "123"}        a Python int (decimal text, any size)
  {"t": "float", "bits": "hex"}   a float by its IEEE 754 double bits, big-endian
  {"t": "bool", "v": true}
  {"t": "bytes", "hex": "..."}
  {"t": "none"}, {"t": "str", "v": "..."}, {"t": "list", "v": [...]}
A result is {"ok": true, "hex": ...} (pack, pack_into), {"ok": true,
"values": [...]} (unpack, unpack_from), {"ok": true, "rows": [[...], ...]}
(iter_unpack), {"ok": true, "size": n} (calcsize), or {"ok": false, "type":
"error" | "OverflowError" | ..., "msg": str(exception)}; pack_into results
also carry the buffer's "hex" after the call, since CPython leaves fields
before a bad value written.
"""

import json
import math
import struct
import sys


def decode(value):
    tag = value["t"]
    if tag == "int":
        return int(value["v"])
    if tag == "float":
        return struct.unpack(">d", bytes.fromhex(value["bits"]))[0]
    if tag == "bool":
        return bool(value["v"])
    if tag == "bytes":
        return bytes.fromhex(value["hex"])
    if tag == "none":
        return None
    if tag == "str":
        return value["v"]
    if tag == "list":
        return [decode(item) for item in value["v"]]
    raise ValueError(f"unknown value tag {tag!r}")


def encode(value):
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": str(value)}
    if isinstance(value, float):
        if math.isnan(value):
            return {"t": "float", "bits": "nan"}
        return {"t": "float", "bits": struct.pack(">d", value).hex()}
    if isinstance(value, bytes):
        return {"t": "bytes", "hex": value.hex()}
    raise ValueError(f"cannot encode {value!r}")


def run(case):
    op = case["op"]
    fmt = case["fmt"]
    if op == "calcsize":
        return {"ok": True, "size": struct.calcsize(fmt)}
    if op == "pack":
        values = [decode(v) for v in case["values"]]
        return {"ok": True, "hex": struct.pack(fmt, *values).hex()}
    if op == "unpack":
        values = struct.unpack(fmt, bytes.fromhex(case["hex"]))
        return {"ok": True, "values": [encode(v) for v in values]}
    if op == "unpack_from":
        data = bytes.fromhex(case["hex"])
        values = struct.unpack_from(fmt, data, case["offset"])
        return {"ok": True, "values": [encode(v) for v in values]}
    if op == "iter_unpack":
        rows = struct.iter_unpack(fmt, bytes.fromhex(case["hex"]))
        return {"ok": True, "rows": [[encode(v) for v in row] for row in rows]}
    raise ValueError(f"unknown op {op!r}")


def run_pack_into(case):
    buffer = bytearray.fromhex(case["hex"])
    values = [decode(v) for v in case["values"]]
    try:
        struct.pack_into(case["fmt"], buffer, case["offset"], *values)
        return {"ok": True, "hex": buffer.hex()}
    except Exception as error:  # noqa: BLE001 - every error is a result
        return {"ok": False, "type": type(error).__name__, "msg": str(error),
                "hex": buffer.hex()}


def main():
    request = json.load(sys.stdin)
    results = []
    for case in request["cases"]:
        if case["op"] == "pack_into":
            results.append(run_pack_into(case))
            continue
        try:
            results.append(run(case))
        except Exception as error:  # noqa: BLE001 - every error is a result
            results.append(
                {"ok": False, "type": type(error).__name__, "msg": str(error)})
    json.dump({"python": list(sys.version_info[:2]), "results": results},
              sys.stdout)


if __name__ == "__main__":
    main()
