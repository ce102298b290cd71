#!/usr/bin/env python3
"""Runs bench_nn and, when Debian's python3-torch is installed, the PyTorch peer in the same run;
prints one line per measure with both figures, the ratio and the goal from the Speed issue.
Usage: bench/compare.py BENCH_BINARY DATA_DIR [ROBUST_MODEL]"""
import os
import re
import subprocess
import sys

# measure: (unit, higher_is_better, goal description, goal test(ours, ratio))
GOALS = {
    "train_epoch_s": ("s", False, "<= 5.5 s and >= 2.0x", lambda v, r: v <= 5.5 and (r is None or r >= 2.0)),
    "batch1_us": ("us", False, "<= 60 us", lambda v, r: v <= 60),
    "batch64_img_s": ("img/s", True, ">= 12000 img/s", lambda v, r: v >= 12000),
    "eval_10k_s": ("s", False, ">= 4x", lambda v, r: r is not None and r >= 4.0),
    # the default model's batch-1 latency over the reference's (stronger-model issue); no peer
    "robust_vs_reference": ("x", False, "<= 3x the reference", lambda v, r: v is not None and v <= 3.0),
}


def run(cmd, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    sys.stdout.write(p.stdout)
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed (exit {p.returncode})")
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^(\w+) ([0-9.]+) ", p.stdout, re.M)}


def main():
    binary, data = sys.argv[1], sys.argv[2]
    print("== digits")
    ours = run([binary, data] + sys.argv[3:4])
    peer = None
    torch_ok = subprocess.run(["/usr/bin/python3", "-c", "import torch"],
                              stderr=subprocess.DEVNULL).returncode == 0
    if torch_ok:
        print("== PyTorch peer (OPENBLAS_NUM_THREADS=1, 2 torch threads; 1 for batch-1/64)")
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="2")
        peer = run(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "peer_torch.py"),
                    data], env)
    else:
        print("== no PyTorch peer: python3-torch is not installed "
              "(scripts/install-deps --peers); absolute figures only")
    print(f"\n{'measure':<15}{'digits':>14}{'PyTorch':>14}{'speed-up':>10}   goal")
    for name, (unit, higher, goal, test) in GOALS.items():
        v = ours.get(name)
        if v is None:
            print(f"{name:<15}{'-':>14}   not measured: {goal}: MISSED")
            continue
        p = peer.get(name) if peer and name in peer else None
        r = None
        if v and p:
            r = v / p if higher else p / v
        verdict = "met" if test(v, r) else "MISSED"
        ps = f"{p:.4g} {unit}" if p else "-"
        rs = f"{r:.2f}x" if r else "-"
        print(f"{name:<15}{v:>11.4g} {unit:<3}{ps:>14}{rs:>10}   {goal}: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
