"""The digits spec grammar as a PyTorch nn.Sequential, and a loader for our safetensors files
(numpy only, no safetensors package). Shared by the peers in bench/ and tools/make_fixtures.py."""
import json
import struct

import numpy as np
import torch
import torch.nn as nn


def build(spec, in_shape=(1, 28, 28)):
    """nn.Sequential for the same spec grammar as src/nn/model.c."""
    c, h, w = in_shape
    layers = []
    spatial = True
    toks = spec.split("-")
    for i, t in enumerate(toks):
        if t[0] == "c":
            f, rest = t[1:].split("k")
            bn = rest.endswith("b")
            rest = rest.rstrip("b")
            same = rest.endswith("s")
            k = int(rest.rstrip("s"))
            pad = k // 2 if same else 0
            layers.append(nn.Conv2d(c, int(f), k, padding=pad, bias=not bn))
            if bn:
                layers.append(nn.BatchNorm2d(int(f)))
            layers.append(nn.ReLU())
            c, h, w = int(f), h + 2 * pad - k + 1, w + 2 * pad - k + 1
        elif t[0] == "p":
            k = int(t[1:])
            layers.append(nn.MaxPool2d(k))
            h, w = h // k, w // k
        elif t[0] == "f":
            if spatial:
                layers.append(nn.Flatten())
                c, h, w = c * h * w, 1, 1
                spatial = False
            bn = t.endswith("b")
            units = int(t[1:].rstrip("b"))
            layers.append(nn.Linear(c, units, bias=not bn))
            if bn:
                layers.append(nn.BatchNorm1d(units))
            c = units
            if i != len(toks) - 1:
                layers.append(nn.ReLU())
        elif t[0] == "d":
            layers.append(nn.Dropout(float(t[1:])))
    return nn.Sequential(*layers)


def load(path, part=""):
    """The model of a digits safetensors file, in eval mode (strict state_dict load); part="aux."
    gives the second network the file may carry (the reader's context network, "aux.arch")."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    state = {}
    for name, info in header.items():
        if name.startswith("optimizer.") or (name.startswith("aux.") != (part == "aux.")):
            continue
        a, b = info["data_offsets"]
        dtype = "<i8" if info["dtype"] == "I64" else "<f4"
        state[name[len(part):]] = torch.from_numpy(
            np.frombuffer(body[a:b], dtype=dtype).reshape(info["shape"]).copy())
    shape = tuple(int(v) for v in meta.get(part + "input", "1x28x28").split("x"))
    m = build(meta[part + "arch"], shape)
    m.load_state_dict(state, strict=True)
    return m.eval()
