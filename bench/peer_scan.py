#!/usr/bin/python3
"""The Python peer of bench/bench_scan.c, as the scan issue describes it: OpenCV's adaptive
threshold and external contours, the same MNIST-style crops (longer side 20 px by area averaging,
centred by mass in 28x28), one PyTorch batch per frame with the same model (read from the
safetensors file with numpy), digits grouped into numbers by line and gap. One thread.
Prints "read IMAGE NUMBER..." per image, then the time per frame as "measure value unit" lines.
Usage: peer_scan.py MODEL REPEATS IMAGE..."""
import json
import os
import struct
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_spec  # noqa: E402


def load_model(path):
    return torch_spec.load(path)


def mnist_crop(ink):
    h, w = ink.shape
    s = 20.0 / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    small = cv2.resize(ink.astype(np.float32) / 255.0, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.zeros((28, 28), np.float32)
    ys, xs = np.indices(small.shape)
    mass = small.sum()
    cy, cx = (ys * small).sum() / mass, (xs * small).sum() / mass
    oy, ox = int(round(13.5 - cy)), int(round(13.5 - cx))
    oy, ox = min(max(oy, 0), 28 - nh), min(max(ox, 0), 28 - nw)
    out[oy:oy + nh, ox:ox + nw] = small
    return out


def scan(model, grey):
    h, w = grey.shape
    block = max(3, (min(h, w) // 12) | 1)
    mask = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV,
                                 block, 15)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes, crops = [], []
    for c in contours:
        x, y, bw, bh = cv2.boundingRect(c)
        if bh < 0.03 * min(h, w) or bh > 0.8 * min(h, w) or bw > 2.5 * bh or bw * bh < 20:
            continue
        boxes.append((x, y, bw, bh))
        crops.append(mnist_crop(mask[y:y + bh, x:x + bw]))
    if not crops:
        return []
    with torch.no_grad():
        prob = torch.softmax(model(torch.from_numpy(np.stack(crops)[:, None])), 1).numpy()
    digits = [(b, int(p.argmax())) for b, p in zip(boxes, prob) if p.max() >= 0.5]
    digits.sort(key=lambda d: d[0][1])
    lines = []
    for b, d in digits:
        for ln in lines:
            y0, y1 = ln[0]
            if min(y1, b[1] + b[3]) - max(y0, b[1]) >= 0.5 * min(b[3], y1 - y0):
                ln[1].append((b, d))
                break
        else:
            lines.append(((b[1], b[1] + b[3]), [(b, d)]))
    numbers = []
    for _, ds in lines:
        ds.sort(key=lambda t: t[0][0])
        text, prev = "", None
        for b, d in ds:
            if prev and b[0] - (prev[0] + prev[2]) > 0.5 * max(b[3], prev[3]):
                numbers.append(text)
                text = ""
            text += str(d)
            prev = b
        numbers.append(text)
    return numbers


def main():
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    model = load_model(sys.argv[1])
    repeats = int(sys.argv[2])
    images = [(p, cv2.imread(p, cv2.IMREAD_GRAYSCALE)) for p in sys.argv[3:]]
    for p, g in images:
        if g is None:
            sys.exit(f"peer_scan: cannot read {p}")
        print("read", p, *scan(model, g))
    times = []
    for _ in range(repeats):
        for _, g in images:
            t0 = time.perf_counter()
            scan(model, g)
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    print(f"scan_median_ms {times[len(times) // 2]:.3f} ms ({len(images)} frames x {repeats} repeats)")
    print(f"scan_p99_ms {times[len(times) * 99 // 100]:.3f} ms")


if __name__ == "__main__":
    main()
