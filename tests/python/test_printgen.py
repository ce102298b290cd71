"""tools/printgen.py (make mine-print): frames of printed text and keyboards with no digit, whose
every candidate scan-eval --mine writes as "not a digit"; the same seed gives the same frames and
wrong arguments stop it with one line. Run by `make test` (make python-test) with DIGITS_ROOT and
DIGITS set; uses DejaVu (installed for the live app) so it needs no --worlds fonts."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.environ["DIGITS_ROOT"]
PROGRAM = os.environ.get("DIGITS", os.path.join(ROOT, "build", "digits"))
GEN = os.path.join(ROOT, "tools", "printgen.py")
FONTS = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
         "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"]


def generate(out, n, seed):
    subprocess.run([sys.executable, GEN, str(out), str(n), str(seed)] + FONTS, check=True,
                   capture_output=True)
    with open(os.path.join(out, "truth.jsonl")) as f:
        return [json.loads(line) for line in f]


def test_frames_mined_as_not_digits(tmp_path):
    truth = generate(tmp_path, 8, 2)
    assert len(truth) == 8 and all(t["empty"] and not t["digits"] for t in truth)
    assert not [p for p in os.listdir(tmp_path) if ".part" in p or p.endswith(".tmp")]
    prefix = str(tmp_path / "mined")
    subprocess.run([PROGRAM, "scan-eval", "--mine", prefix, str(tmp_path / "truth.jsonl")],
                   check=True, capture_output=True)
    with open(prefix + "-labels-idx1-ubyte", "rb") as f:
        labels = f.read()[8:]
    assert len(labels) > 20  # printed letters are found as candidates
    assert set(labels) == {10}  # and every one of them is "not a digit"


def test_same_seed_same_frames(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert generate(a, 3, 7) == generate(b, 3, 7)
    for t in generate(a, 3, 7):
        assert (a / t["image"]).read_bytes() == (b / t["image"]).read_bytes()
    c = tmp_path / "c"
    generate(c, 1, 8)
    assert (a / "print_0000.jpg").read_bytes() != (c / "print_0000.jpg").read_bytes()


@pytest.mark.parametrize("args", [[], ["out", "0", "1"] + FONTS, ["out", "x", "1"] + FONTS,
                                  ["out", "2", "1", "/nonexistent.ttf"],
                                  ["out/sub", "2", "1"] + FONTS])
def test_wrong_arguments(args, tmp_path):
    (tmp_path / "file").write_bytes(b"")  # "out/sub": a folder under a file cannot be made
    args = [str(tmp_path / a) if a == "out" else str(tmp_path / "file" / "sub") if a == "out/sub"
            else a for a in args]
    r = subprocess.run([sys.executable, GEN] + args, capture_output=True, text=True)
    assert r.returncode != 0
    assert r.stderr.strip().count("\n") == 0  # one line, no traceback
    assert "printgen" in r.stderr
