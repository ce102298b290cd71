"""tools/othergen.py, the second camera-view generator (make world-other): its frames and truth
are what scan-eval reads, the same seed gives the same frames, each truth digit's box holds ink
that stands out from what is around it and lies on the sheet whose corners the truth gives, and
wrong arguments stop it with a message; --screen draws a screen in view and changes nothing
without it. Run by
`make test` (make python-test) with DIGITS_ROOT and DIGITS set."""
import json
import math
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

ROOT = os.environ["DIGITS_ROOT"]
PROGRAM = os.environ.get("DIGITS", os.path.join(ROOT, "build", "digits"))
GEN = os.path.join(ROOT, "tools", "othergen.py")
MNIST = os.path.join(ROOT, "data", "mnist")
PHOTO = os.path.join(ROOT, "tests", "fixtures", "edge-objects-no-digit.jpg")


def generate(out, n, seed):
    # the same photograph four times, so the t10k split (every fourth) has one too
    subprocess.run([sys.executable, GEN, str(out), str(n), str(seed), MNIST, "t10k"] + [PHOTO] * 4,
                   check=True, capture_output=True)
    with open(os.path.join(out, "truth.jsonl")) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("other")
    return out, generate(out, 16, 5)


def test_frames_and_truth(world):
    out, truth = world
    assert len(truth) == 16
    sizes, seen = set(), 0
    for t in truth:
        img = cv2.imread(os.path.join(out, t["image"]), cv2.IMREAD_GRAYSCALE)
        assert img is not None and img.shape == (t["height"], t["width"])
        sizes.add((t["width"], t["height"]))
        assert t["empty"] == (t["kind"] == "empty")
        if t["empty"]:
            assert not t["digits"] and not t["numbers"]
            continue
        assert any(not d.get("ignore") for d in t["digits"])
        # the sheet's corners: every digit written on it lies inside them
        sheet = np.array(t["sheet"], np.float32)
        assert sheet.shape == (4, 2)
        for d in t["digits"]:
            x, y, w, h = d["box"]
            if not d.get("ignore"):
                assert cv2.pointPolygonTest(sheet, (x + w / 2, y + h / 2), False) >= 0, (t["image"], d)
        for d in t["digits"]:
            assert 0 <= d["digit"] <= 9
            if d.get("ignore"):
                continue
            x, y, w, h = d["box"]
            assert x >= 0 and y >= 0 and w > 0 and h > 0
            assert x + w <= t["width"] and y + h <= t["height"]
            # the digit's ink: its box's darkest (or lightest) pixels stand out from its median
            box = img[y:y + h, x:x + w].astype(int)
            spread = max(np.median(box) - box.min(), box.max() - np.median(box))
            assert spread >= 20, (t["image"], d)
            seen += 1
        texts = "".join(n["text"] for n in t["numbers"])
        assert texts == "".join(str(d["digit"]) for d in t["digits"])
    assert seen > 16
    assert len(sizes) > 1  # webcams of several sizes


def test_same_seed_same_frames(world, tmp_path):
    out, truth = world
    again = generate(tmp_path, 3, 5)
    assert again == truth[:3]
    for t in again:
        with open(os.path.join(out, t["image"]), "rb") as a, open(tmp_path / t["image"], "rb") as b:
            assert a.read() == b.read()


def test_scan_eval_reads_it(world):
    out, _ = world
    r = subprocess.run([PROGRAM, "scan-eval", os.path.join(out, "truth.jsonl")],
                       capture_output=True, text=True, check=True)
    assert "16 images: digits read" in r.stdout


def test_digit_free_frames(tmp_path):
    # --empty 1: every frame without a digit, the measure of what the background is read as
    subprocess.run([sys.executable, GEN, "--empty", "1", "--photo", "1", str(tmp_path), "6", "3",
                    MNIST, "t10k"] + [PHOTO] * 4, check=True, capture_output=True)
    with open(tmp_path / "truth.jsonl") as f:
        truth = [json.loads(line) for line in f]
    assert len(truth) == 6
    assert all(t["empty"] and not t["digits"] and not t["numbers"] for t in truth)
    r = subprocess.run([PROGRAM, "scan-eval", str(tmp_path / "truth.jsonl")],
                       capture_output=True, text=True, check=True)
    assert "false digits per digit-free frame" in r.stdout and "(0 of 0)" in r.stdout


@pytest.mark.parametrize("option", ["--screen", "--held", "--form"])
def test_views(option, tmp_path):
    # --screen 1: every frame has a drawn screen in view (a desktop or phone filling the frame, or
    # a monitor beside the sheet); --held 1: the sheet is held up by a person in a room, upright
    # within 15 degrees; --form 1: numbers written one digit a box in printed forms. The truth
    # holds as for any frame, and the frames are not those of the same seed without the option,
    # while the option at 0 draws exactly those
    def run(sub, extra):
        subprocess.run([sys.executable, GEN] + extra + [str(tmp_path / sub), "6", "4", MNIST, "t10k"]
                       + [PHOTO] * 4, check=True, capture_output=True)
        with open(tmp_path / sub / "truth.jsonl") as f:
            return [json.loads(line) for line in f]
    screens, plain, zero = run("s", [option, "1"]), run("p", []), run("z", [option, "0"])
    assert zero == plain
    for t in plain:
        assert (tmp_path / "z" / t["image"]).read_bytes() == (tmp_path / "p" / t["image"]).read_bytes()
    assert screens != plain
    for t in screens:
        img = cv2.imread(str(tmp_path / "s" / t["image"]), cv2.IMREAD_GRAYSCALE)
        assert img is not None and img.shape == (t["height"], t["width"])
        for d in t["digits"]:
            x, y, w, h = d["box"]
            if not d.get("ignore"):
                sheet = np.array(t["sheet"], np.float32)
                assert cv2.pointPolygonTest(sheet, (x + w / 2, y + h / 2), False) >= 0
        if option == "--held" and t["sheet"]:
            q = np.array(t["sheet"], np.float64)  # its middle line, left edge to right
            (x0, y0), (x1, y1) = (q[0] + q[3]) / 2, (q[1] + q[2]) / 2
            assert abs(math.degrees(math.atan2(y1 - y0, x1 - x0))) <= 15.1
    r = subprocess.run([PROGRAM, "scan-eval", str(tmp_path / "s" / "truth.jsonl")],
                       capture_output=True, text=True, check=True)
    assert "6 images: digits read" in r.stdout


@pytest.mark.parametrize("args", [[], ["out", "0", "1", MNIST, "t10k"], ["out", "abc", "1", MNIST, "t10k"],
                                  ["out", "3", "1", MNIST, "test"],
                                  ["out", "3", "1", "/nonexistent", "t10k"],
                                  ["--empty", "2", "out", "3", "1", MNIST, "t10k"],
                                  ["--photo", "x", "out", "3", "1", MNIST, "t10k"],
                                  ["--screen", "1.5", "out", "3", "1", MNIST, "t10k"],
                                  ["--held", "-1", "out", "3", "1", MNIST, "t10k"],
                                  ["--form", "x", "out", "3", "1", MNIST, "t10k"]])
def test_wrong_arguments(args, tmp_path):
    if "out" in args:
        i = args.index("out")
        args = args[:i] + [str(tmp_path / "out")] + args[i + 1:]
    r = subprocess.run([sys.executable, GEN] + args, capture_output=True, text=True)
    assert r.returncode != 0
    assert r.stderr.strip().count("\n") == 0  # one line, no traceback
    assert "othergen" in r.stderr
