#!/usr/bin/env python3
"""Batch benchmark (the library issue's figures), all in one run on the same frames:
  - `digits scan --jobs 2` against `--jobs 1` on BENCH_BATCH (1000) generated 640x480 scenes,
    the two outputs checked equal and against the truth (numbers read exactly);
  - against the Python peer (bench/peer_scan.py: OpenCV + PyTorch) run as a process pool of two;
  - the Python module's overhead: Reader.read's wall time over the C call's own time (the
    result's ms) on the same frames, as a median over frames;
  - the Dask example (examples/dask_scan.py, a LocalCluster of two worker processes).
Each timed side runs BENCH_BATCH_ROUNDS times, taking turns; the best round counts.
Usage: bench/compare_batch.py DIGITS SCENEGEN MODEL MNIST_DIR"""
import importlib.util
import json
import os
import subprocess
import sys
import time

N = int(os.environ.get("BENCH_BATCH", "1000"))
ROUNDS = int(os.environ.get("BENCH_BATCH_ROUNDS", "2"))
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from compare_scan import score  # noqa: E402  numbers read exactly, the scan bench's count


def scenes(scenegen, mnist):
    out = os.path.join(ROOT, "build", f"scenes-batch-{N}")
    truth = os.path.join(out, "truth.jsonl")
    if not os.path.exists(truth):
        subprocess.run([scenegen, out, str(N), "5", mnist, "t10k"], check=True,
                       stdout=subprocess.DEVNULL)
    with open(truth) as f:
        t = [json.loads(line) for line in f]
    return [os.path.join(out, x["image"]) for x in t], {x["image"]: [n["text"] for n in x["numbers"]]
                                                          for x in t}


def timed(cmd, **kw):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd[:4])}... failed: {p.stderr.strip()[-300:]}")
    return time.perf_counter() - t0, p.stdout


def ours(digits, model, paths, jobs):
    dt, out = timed([digits, "scan", "--json", "--model", model, "--jobs", str(jobs), "-"],
                    input="\n".join(paths))
    lines = [json.loads(line) for line in out.splitlines()]
    for line in lines:
        line.pop("ms")
    return dt, lines


def peer_pool(model, paths):
    """Two peer processes, each reading half the frames once, started together."""
    halves = [paths[0::2], paths[1::2]]
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, os.path.join(HERE, "peer_scan.py"), model, "1", *h],
                              stdout=subprocess.PIPE, text=True, env=dict(os.environ,
                              OMP_NUM_THREADS="1")) for h in halves]
    outs = [p.communicate()[0] for p in procs]
    dt = time.perf_counter() - t0
    if any(p.returncode for p in procs):
        sys.exit("bench: the peer failed")
    read = {}
    for out in outs:
        for line in out.splitlines():
            if line.startswith("read "):
                parts = line.split()
                read[os.path.basename(parts[1])] = parts[2:]
    return dt, read


def module_overhead(model, paths):
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import cv2
    import digits
    frames = [cv2.imread(p, cv2.IMREAD_COLOR) for p in paths[:300]]
    walls, cs = [], []
    with digits.Reader(model=model) as r:
        for _ in range(2):
            for f in frames:
                t0 = time.perf_counter()
                res = r.read(f)
                walls.append((time.perf_counter() - t0) * 1e3)
                cs.append(res["ms"])
    walls.sort(), cs.sort()
    return walls[len(walls) // 2], cs[len(cs) // 2]


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    digits_bin, scenegen, model, mnist = sys.argv[1:]
    paths, truth = scenes(scenegen, mnist)
    have_peer = all(importlib.util.find_spec(m) is not None for m in ("torch", "cv2"))
    t1 = t2 = tp = 1e9
    peer_read = {}
    for _ in range(ROUNDS):
        d1, out1 = ours(digits_bin, model, paths, 1)
        d2, out2 = ours(digits_bin, model, paths, 2)
        if out1 != out2:
            sys.exit("bench: --jobs 2 read differently from --jobs 1")
        t1, t2 = min(t1, d1), min(t2, d2)
        if have_peer:
            dp, peer_read = peer_pool(model, paths)
            tp = min(tp, dp)
    our_read = {os.path.basename(x["image"]): [n["text"] for n in x["numbers"]] for x in out2}
    hit, total = score(our_read, truth)
    phit, _ = score(peer_read, truth)
    print(f"frames: {N} generated 640x480 scenes (MNIST test digits), {total} numbers")
    print(f"digits scan --jobs 1: {N / t1:.1f} images/s; numbers read exactly {hit}/{total}")
    print(f"digits scan --jobs 2: {N / t2:.1f} images/s (same output)")
    if have_peer:
        print(f"peer, process pool of 2: {N / tp:.1f} images/s; numbers read exactly {phit}/{total}")
    else:
        print("peer: python3-opencv or python3-torch missing (scripts/install-deps --peers); "
              "our figures only")
    if hit * 2 < total:
        sys.exit("bench: digits reads fewer than half the numbers: the result check failed")
    r12 = t1 / t2
    print(f"jobs_2_over_1 {r12:.2f} x  (goal >= 1.8: {'met' if r12 >= 1.8 else 'MISSED'})")
    if have_peer:
        r2p = tp / t2
        print(f"jobs_2_over_peer_pool_2 {r2p:.2f} x  (goal >= 4: {'met' if r2p >= 4 else 'MISSED'})")
    wall, c = module_overhead(model, paths)
    over = wall / c - 1
    print(f"python Reader.read: median {wall:.3f} ms per frame, C call {c:.3f} ms: overhead "
          f"{over:.1%}  (goal < 5%: {'met' if over < 0.05 else 'MISSED'})")
    dask = os.path.join(ROOT, "examples", "dask_scan.py")
    if os.path.exists(dask):
        dt, out = timed([sys.executable, dask, "--workers", "2", os.path.dirname(paths[0])],
                        env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python")))
        n = len(out.splitlines())
        print(f"dask example (LocalCluster, 2 worker processes): {n} images in {dt:.2f} s, "
              f"{n / dt:.1f} images/s including the cluster's start")


if __name__ == "__main__":
    main()
