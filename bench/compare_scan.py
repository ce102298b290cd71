#!/usr/bin/env python3
"""Scan benchmark: picks the generator's 640x480 test scenes with 8 to 14 digits, runs bench_scan
and (with Debian's python3-opencv and python3-torch) the Python peer on the same frames in the same
run (taking turns, BENCH_SCAN_ROUNDS rounds of BENCH_SCAN_REPEATS repeats; each side's best round
counts), checks each side's readings against the truth (numbers read exactly), then prints the
time per frame, the ratio and the scan issue's goals.
Usage: bench/compare_scan.py BENCH_BINARY MODEL SCENES_DIR"""
import json
import os
import re
import subprocess
import sys

REPEATS = int(os.environ.get("BENCH_SCAN_REPEATS", "20"))
ROUNDS = int(os.environ.get("BENCH_SCAN_ROUNDS", "3"))


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed (exit {p.returncode})")
    read = {}
    vals = {}
    for line in p.stdout.splitlines():
        if line.startswith("stages_median_ms "):
            vals["stages"] = line.split(None, 1)[1]
        if line.startswith("read "):
            parts = line.split()
            read[os.path.basename(parts[1])] = parts[2:]
        m = re.match(r"^(\w+) ([0-9.]+) ", line)
        if m:
            vals[m.group(1)] = float(m.group(2))
    return read, vals


def score(read, truth):
    """Numbers of the truth found among those read, over all frames."""
    hit = total = 0
    for name, numbers in truth.items():
        got = list(read.get(name, []))
        for n in numbers:
            total += 1
            if n in got:
                got.remove(n)
                hit += 1
    return hit, total


def main():
    binary, model, scenes = sys.argv[1:4]
    truth = {}
    with open(os.path.join(scenes, "truth.jsonl")) as f:
        for line in f:
            t = json.loads(line)
            if t["width"] == 640 and t["height"] == 480 and 8 <= len(t["digits"]) <= 14:
                truth[t["image"]] = [n["text"] for n in t["numbers"]]
            if len(truth) == 10:
                break
    if not truth:
        sys.exit("bench: no 640x480 scene with 8 to 14 digits in " + scenes)
    paths = [os.path.join(scenes, name) for name in truth]
    print(f"== scan with {os.path.basename(model)}: {len(paths)} generated 640x480 frames of 8-14 "
          f"digits, 1 thread, "
          f"{REPEATS} repeats")
    ok = subprocess.run(["/usr/bin/python3", "-c", "import cv2, torch"],
                        stderr=subprocess.DEVNULL).returncode == 0
    peer_cmd = ["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "peer_scan.py"),
                model, str(REPEATS)] + paths
    # The two sides take turns, ROUNDS times each: the machine's speed drifts over seconds, so a
    # single run of each can land one in a slow spell. Each side's best round counts (the same
    # rule for both), and every round's median is printed.
    ours_rounds, peer_rounds = [], []
    for _ in range(ROUNDS):
        ours_rounds.append(run([binary, model, str(REPEATS)] + paths))
        if ok:
            peer_rounds.append(run(peer_cmd))
    def medians(rounds):
        return ", ".join(f"{vals['scan_median_ms']:.2f}" for _, vals in rounds)

    ours_read, ours = min(ours_rounds, key=lambda rv: rv[1]["scan_median_ms"])
    hit, total = score(ours_read, truth)
    print(f"digits: numbers read exactly {hit}/{total}; median {ours['scan_median_ms']:.2f} ms, "
          f"p99 {ours['scan_p99_ms']:.2f} ms (rounds' medians: {medians(ours_rounds)})")
    if "stages" in ours:
        print(f"digits stages alone, median ms: {ours['stages']} (the rest: candidates and network)")
    if hit < total // 2:
        sys.exit("bench: digits reads fewer than half the numbers: the result check failed")
    if not ok:
        print("peer: python3-opencv or python3-torch missing (scripts/install-deps --peers); "
              "absolute figures only")
        return
    peer_read, peer = min(peer_rounds, key=lambda rv: rv[1]["scan_median_ms"])
    phit, _ = score(peer_read, truth)
    r = peer["scan_median_ms"] / ours["scan_median_ms"]
    print(f"peer (OpenCV + PyTorch): numbers read exactly {phit}/{total}; median "
          f"{peer['scan_median_ms']:.2f} ms, p99 {peer['scan_p99_ms']:.2f} ms (rounds' medians: "
          f"{medians(peer_rounds)})")
    print(f"scan_frame_median: digits {ours['scan_median_ms']:.2f} ms, peer "
          f"{peer['scan_median_ms']:.2f} ms, {r:.2f}x; goal <= 1.0 ms and >= 3x: "
          f"{'met' if ours['scan_median_ms'] <= 1.0 and r >= 3 else 'not met'}")
    print(f"scan_frame_p99: digits {ours['scan_p99_ms']:.2f} ms, peer {peer['scan_p99_ms']:.2f} ms; "
          f"goal <= 2.5 ms: {'met' if ours['scan_p99_ms'] <= 2.5 else 'not met'}")


if __name__ == "__main__":
    main()
