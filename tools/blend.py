#!/usr/bin/env python3
"""Blends two trained models of one architecture: each F32 tensor (weights, biases, BatchNorm's
running statistics) becomes (1 - W) x A's + W x B's; other tensors (BatchNorm's batch counts)
and the metadata are A's, with "blend" saying what was done. Meant for a model and its
fine-tuned descendant (same starting point, so their weights lie in one basin): the blend keeps
part of what each learned (docs/models.md, candidates of the thirty-fourth session).

Usage: tools/blend.py A.safetensors B.safetensors W OUT.safetensors [METADATA_KEY=VALUE ...]"""
import json
import os
import struct
import sys

import numpy as np


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        sys.exit(f"blend: {path} is not a safetensors file (too short)")
    n = struct.unpack("<Q", raw[:8])[0]
    if n > len(raw) - 8:
        sys.exit(f"blend: {path} is not a safetensors file (header past the end)")
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__.splitlines()[-1])
    a_path, b_path, w, out_path = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    if not 0.0 <= w <= 1.0:
        sys.exit("blend: W is a share from 0 to 1")
    ha, da = load(a_path)
    hb, db = load(b_path)
    if set(ha) - {"__metadata__"} != set(hb) - {"__metadata__"}:
        sys.exit("blend: the two models have different tensors (not one architecture)")
    out = bytearray(da)
    for name, t in ha.items():
        if name == "__metadata__":
            continue
        u = hb[name]
        if (t["dtype"], t["shape"]) != (u["dtype"], u["shape"]):
            sys.exit(f"blend: tensor {name} differs in type or shape")
        if t["dtype"] != "F32":
            continue
        s, e = t["data_offsets"]
        x = np.frombuffer(da[s:e], np.float32)
        y = np.frombuffer(db[u["data_offsets"][0]:u["data_offsets"][1]], np.float32)
        out[s:e] = ((1.0 - w) * x + w * y).astype(np.float32).tobytes()
    meta = dict(ha.get("__metadata__", {}))
    meta["blend"] = (f"{1.0 - w:g} x {os.path.basename(a_path)} + {w:g} x "
                     f"{os.path.basename(b_path)}, tensor by tensor")
    for kv in sys.argv[5:]:
        key, sep, value = kv.partition("=")
        if not sep:
            sys.exit(f"blend: metadata '{kv}' is not KEY=VALUE")
        meta[key] = value
    ha["__metadata__"] = meta
    header = json.dumps(ha).encode()
    header += b" " * ((8 - len(header) % 8) % 8)
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + bytes(out))
    os.replace(tmp, out_path)


if __name__ == "__main__":
    main()
