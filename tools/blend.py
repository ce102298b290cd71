#!/usr/bin/python3
"""Blends two trained models of one architecture: each F32 tensor (weights, biases, BatchNorm's
running statistics) becomes (1 - W) x A's + W x B's; other tensors (BatchNorm's batch counts)
and the metadata are A's, with "blend" saying what was done. Meant for a model and its
fine-tuned descendant (same starting point, so their weights lie in one basin): the blend keeps
part of what each learned (docs/models.md, candidates of the thirty-fourth session).

Usage: tools/blend.py A.safetensors B.safetensors W OUT.safetensors [METADATA_KEY=VALUE ...]"""
import os
import sys

import stio


def usage_error(message):
    """A wrong command line: one line and exit status 2, as digits' own commands do."""
    print(f"blend: {message}", file=sys.stderr)
    sys.exit(2)


def main():
    if len(sys.argv) < 5:
        usage_error("usage: " + __doc__.splitlines()[-1].split(": ", 1)[1])
    a_path, b_path, out_path = sys.argv[1], sys.argv[2], sys.argv[4]
    try:
        w = float(sys.argv[3])
    except ValueError:
        w = -1.0
    if not 0.0 <= w <= 1.0:
        usage_error(f"W is a share from 0 to 1 (got '{sys.argv[3]}')")
    ta, meta = stio.read(a_path, "blend")
    tb, _ = stio.read(b_path, "blend")
    if set(ta) != set(tb):
        sys.exit("blend: the two models have different tensors (not one architecture)")
    out = {}
    for name, x in ta.items():
        y = tb[name]
        if x.dtype != y.dtype or x.shape != y.shape:
            sys.exit(f"blend: tensor {name} differs in type or shape")
        out[name] = (1.0 - w) * x + w * y if x.dtype.kind == "f" else x
    meta = dict(meta)
    meta["blend"] = (f"{1.0 - w:g} x {os.path.basename(a_path)} + {w:g} x "
                     f"{os.path.basename(b_path)}, tensor by tensor")
    for kv in sys.argv[5:]:
        key, sep, value = kv.partition("=")
        if not sep:
            usage_error(f"metadata '{kv}' is not KEY=VALUE")
        meta[key] = value
    try:
        stio.write(out_path, out, meta)
    except OSError as e:
        sys.exit(f"blend: cannot write {out_path} ({e.strerror})")


if __name__ == "__main__":
    main()
