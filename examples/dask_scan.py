#!/usr/bin/env python3
"""dask_scan.py - read a folder of images on a Dask cluster through the digits module: one Reader
per worker process, the model file shipped to the workers once (its bytes are the only state a
worker needs, besides libdigits and this module installed), results printed in the folder's order
as `digits scan --json` prints them.

    python3 examples/dask_scan.py --workers 2 photos/                  # a local cluster
    python3 examples/dask_scan.py --scheduler tcp://host:8786 photos/  # a real one

On a real cluster the images must be readable by the workers at the same paths (a shared or
object file system); only the model travels with the tasks."""
import argparse
import json
import os
import sys
import tempfile

from dask.distributed import Client, LocalCluster, get_worker

import digits

IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".pnm", ".tga", ".gif")


def _reader(model_bytes):
    """This worker's reader, made at its first task from the shipped model bytes."""
    w = get_worker()
    rd = getattr(w, "_digits_reader", None)
    if rd is None:
        fd, path = tempfile.mkstemp(suffix=".safetensors")
        with os.fdopen(fd, "wb") as f:
            f.write(model_bytes)
        rd = w._digits_reader = digits.Reader(model=path)
        os.unlink(path)  # the reader has loaded it
    return rd


def read_chunk(paths, model_bytes):
    """JSON lines for a list of image paths, in order, as `digits scan --json` writes them."""
    rd = _reader(model_bytes)
    lines = []
    for path in paths:
        try:
            r = rd.read_file(path)
        except digits.DigitsError as e:
            lines.append(json.dumps({"image": path, "error": str(e)}))
            continue
        lines.append(json.dumps({"image": path, **digits.as_printed(r), "ms": round(r["ms"], 3)}))
    return lines


def images_under(folder):
    found = []
    for base, dirs, files in os.walk(folder):
        dirs.sort()
        found += [os.path.join(base, f) for f in sorted(files)
                  if f.lower().endswith(IMAGE_EXT) and not f.startswith(".")]
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--scheduler", help="a running cluster's address (default: a local one)")
    ap.add_argument("--workers", type=int, default=2, help="local worker processes (2)")
    ap.add_argument("--model", help="a model file (default: the installed robust model)")
    ap.add_argument("--chunk", type=int, default=50, help="images per task (50)")
    args = ap.parse_args()
    paths = images_under(args.folder)
    if not paths:
        sys.exit(f"dask_scan.py: no images under {args.folder}")
    model = args.model or digits.default_model()
    with open(model, "rb") as f:
        model_bytes = f.read()
    cluster = None
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        shipped = client.scatter(model_bytes, broadcast=True)
        chunks = [paths[i:i + args.chunk] for i in range(0, len(paths), args.chunk)]
        futures = client.map(read_chunk, chunks, model_bytes=shipped, pure=False)
        for fut in futures:  # in the folder's order
            for line in fut.result():
                print(line)
    finally:
        client.close()
        if cluster:
            cluster.close()


if __name__ == "__main__":
    main()
