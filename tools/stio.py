"""stio.py - our safetensors files as numpy arrays (no safetensors or torch package needed):
read gives each tensor and the metadata, write puts them back. Shared by make_fixtures.py and
blend.py; bench/torch_spec.py loads the same files as a PyTorch model."""
import json
import os
import struct
import sys

import numpy as np

_DTYPES = {"F32": "<f4", "I64": "<i8"}


def read(path, tool):
    """({name: array} in the file's order, metadata); a file that is not ours exits with one line
    naming the tool."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        sys.exit(f"{tool}: cannot read {path} ({e.strerror})")
    n = struct.unpack("<Q", raw[:8])[0] if len(raw) >= 8 else -1
    if n < 0 or n > len(raw) - 8:
        sys.exit(f"{tool}: {path} is not a safetensors file (its header runs past the end)")
    try:
        header = json.loads(raw[8:8 + n])
        is_object = isinstance(header, dict)
    except ValueError:
        is_object = False
    if not is_object:
        sys.exit(f"{tool}: {path} is not a safetensors file (its header is not a JSON object)")
    body = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        if info["dtype"] not in _DTYPES:
            sys.exit(f"{tool}: {path}: tensor {name} is {info['dtype']}, not F32 or I64")
        a, b = info["data_offsets"]
        tensors[name] = np.frombuffer(body[a:b], dtype=_DTYPES[info["dtype"]]).reshape(info["shape"])
    return tensors, meta


def write(path, tensors, metadata):
    """The safetensors layout, written to a temporary name and renamed."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, arr in tensors.items():
        is_int = np.asarray(arr).dtype == np.int64  # BatchNorm's num_batches_tracked
        a = np.array(arr, dtype="<i8" if is_int else "<f4", order="C")  # keeps 0-d shapes
        header[name] = {"dtype": "I64" if is_int else "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    try:
        with open(path + ".tmp", "wb") as f:
            f.write(struct.pack("<Q", len(h)))
            f.write(h)
            for b in blobs:
                f.write(b)
        os.replace(path + ".tmp", path)
    except OSError:
        if os.path.exists(path + ".tmp"):
            os.remove(path + ".tmp")  # nothing half-written is left under either name
        raise
