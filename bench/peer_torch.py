#!/usr/bin/python3
"""The PyTorch peer of bench/bench_nn.c: the same reference model and recipe, the same measures,
printed as "measure value unit" lines. Run by `make bench` with Debian's python3-torch.

Tuned setting, as the issue measured it: OPENBLAS_NUM_THREADS=1 (set by the caller before torch is
imported) and 2 torch threads for training and evaluation, 1 thread for batch-1 and batch-64.
"""
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn


def idx(path, offset):
    return np.fromfile(path, dtype=np.uint8)[offset:]


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "data/mnist"
    epochs = int(os.environ.get("BENCH_EPOCHS", "3"))
    X = idx(f"{d}/train-images-idx3-ubyte", 16).reshape(-1, 1, 28, 28)
    Y = idx(f"{d}/train-labels-idx1-ubyte", 8).astype(np.int64)
    Xt = idx(f"{d}/t10k-images-idx3-ubyte", 16).reshape(-1, 1, 28, 28)
    Yt = idx(f"{d}/t10k-labels-idx1-ubyte", 8).astype(np.int64)
    torch.manual_seed(1)
    m = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                      nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(),
                      nn.Dropout(0.5), nn.Linear(128, 10))
    for mod in m:
        if hasattr(mod, "weight"):
            nn.init.xavier_uniform_(mod.weight)
            nn.init.zeros_(mod.bias)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, eps=1e-7)
    torch.set_num_threads(2)
    times = []
    for e in range(epochs):
        m.train()
        perm = np.random.permutation(len(X))
        t0 = time.perf_counter()
        for b in range(0, len(X), 128):
            i = perm[b:b + 128]
            x = torch.from_numpy(X[i].astype(np.float32) / 255)  # batching included, as in ours
            y = torch.from_numpy(Y[i])
            opt.zero_grad()
            nn.functional.cross_entropy(m(x), y).backward()
            opt.step()
        times.append(time.perf_counter() - t0)
        print(f"  torch epoch {e + 1}: {times[-1]:.2f} s", file=sys.stderr)
    m.eval()
    ev = []
    with torch.no_grad():
        for r in range(5):
            t0 = time.perf_counter()
            correct = 0
            for b in range(0, 10000, 500):
                x = torch.from_numpy(Xt[b:b + 500].astype(np.float32) / 255)
                correct += int((m(x).argmax(1).numpy() == Yt[b:b + 500]).sum())
            ev.append(time.perf_counter() - t0)
    acc = correct / 10000
    print(f"train_epoch_s {np.median(times):.3f} s (median of {epochs}; test acc after: {acc:.4f})")
    print(f"eval_10k_s {np.median(ev):.4f} s (median of 5)")
    torch.set_num_threads(1)
    x1 = torch.from_numpy(Xt[:1].astype(np.float32) / 255)
    lat = []
    with torch.no_grad():
        for i in range(200):
            m(x1)
        for i in range(3000):
            x1 = torch.from_numpy(Xt[i % 10000:i % 10000 + 1].astype(np.float32) / 255)
            t0 = time.perf_counter()
            m(x1)
            lat.append((time.perf_counter() - t0) * 1e6)
        print(f"batch1_us {np.median(lat):.1f} us (median of 3000; p99 {np.percentile(lat, 99):.1f})")
        x64 = torch.from_numpy(Xt[:64].astype(np.float32) / 255)
        for i in range(20):
            m(x64)
        thr = []
        for i in range(200):
            t0 = time.perf_counter()
            m(x64)
            thr.append(64 / (time.perf_counter() - t0))
        print(f"batch64_img_s {np.median(thr):.0f} img/s (median of 200)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
