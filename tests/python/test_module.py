"""The digits Python module (python/digits) as its users call it: equal to `digits scan --json`
on generated scenes, through files and through NumPy arrays in every layout OpenCV gives; errors
as exceptions; classify on MNIST test digits; readers in two threads; and the two examples run
as a user runs them. Run by `make test` (make python-test) with the build tree's library:
DIGITS_ROOT, DIGITS (the program), SCENEGEN (tools/scenegen) and DIGITS_LIBRARY set."""
import gzip
import json
import os
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest

import digits

ROOT = os.environ["DIGITS_ROOT"]
PROGRAM = os.environ.get("DIGITS", os.path.join(ROOT, "build", "digits"))
SCENEGEN = os.environ.get("SCENEGEN", os.path.join(ROOT, "build", "scenegen"))
EXAMPLES = os.path.join(ROOT, "examples")


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """Twelve generated scenes of MNIST test digits on paper (PNG and JPEG)."""
    out = tmp_path_factory.mktemp("scenes")
    subprocess.run([SCENEGEN, str(out), "12", "7", os.path.join(ROOT, "data", "mnist"), "t10k"],
                   check=True, capture_output=True)
    return sorted(str(p) for p in out.iterdir() if p.suffix in (".png", ".jpg"))


@pytest.fixture(scope="module")
def reader():
    with digits.Reader() as r:
        yield r


def scan_json(paths):
    out = subprocess.run([PROGRAM, "scan", "--json", *paths], check=True, capture_output=True,
                         text=True).stdout
    lines = [json.loads(line) for line in out.splitlines()]
    for line in lines:
        line.pop("ms")
    return lines


def as_scan(r):
    """A read() result in scan --json's shape (without image and ms), as scan prints it."""
    return digits.as_printed(r)


def test_read_file_equals_scan(scenes, reader):
    want = scan_json(scenes)
    assert len(want) == len(scenes)
    found = 0
    for path, w in zip(scenes, want):
        assert w.pop("image") == path
        got = as_scan(reader.read_file(path))
        assert got == w, path
        found += len(got["digits"])
    assert found >= 5 * len(scenes)  # the scenes do hold digits


def test_read_arrays_in_every_layout(scenes, reader):
    pngs = [p for p in scenes if p.endswith(".png")]
    assert pngs
    for path in pngs:  # lossless: OpenCV's decoder gives the pixels stb gives
        want = as_scan(reader.read_file(path))
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        assert as_scan(reader.read(bgr)) == want
        bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
        assert as_scan(reader.read(bgra)) == want
        padded = np.zeros((bgr.shape[0], bgr.shape[1] + 7, 3), np.uint8)
        padded[:, :bgr.shape[1]] = bgr
        assert as_scan(reader.read(padded[:, :bgr.shape[1]])) == want  # rows with a stride
        crop = bgr[10:-10, 20:-20]  # a view: rows strided, pixels packed
        assert as_scan(reader.read(crop)) == as_scan(reader.read(np.ascontiguousarray(crop)))
        grey = bgr[:, :, 1]  # a non-contiguous 2-D view, copied by the module
        assert as_scan(reader.read(grey)) == as_scan(reader.read(np.ascontiguousarray(grey)))


def test_video_mode(scenes):
    """Reader(video=True) reads frames of one video: a scene twice with other noise reads as a
    reader reading afresh reads it, and most digits keep the first frame's answers (the second
    likeliest digit's probability, which any change of the input moves, stays the same)."""
    bgr = cv2.imread([p for p in scenes if p.endswith(".png")][0], cv2.IMREAD_COLOR)
    rng = np.random.default_rng(5)
    frames = [np.clip(bgr.astype(np.int16) + rng.integers(-3, 4, bgr.shape), 0, 255)
              .astype(np.uint8) for _ in range(2)]
    with digits.Reader(video=True) as video, digits.Reader() as fresh:
        v = [video.read(f) for f in frames]
        a = [fresh.read(f) for f in frames]
        assert [(d["digit"], d["box"]) for d in v[1]["digits"]] == \
               [(d["digit"], d["box"]) for d in a[1]["digits"]]
        assert [n["text"] for n in v[1]["numbers"]] == [n["text"] for n in a[1]["numbers"]]

        def kept(r0, r1):
            return sum(d0["box"] == d1["box"] and d0["top3"][1] == d1["top3"][1]
                       for d0, d1 in zip(r0["digits"], r1["digits"]))
        assert len(v[1]["digits"]) >= 5
        assert kept(*v) * 2 >= len(v[1]["digits"])
        assert kept(*a) < kept(*v)
        video.set_video(False)
        assert kept(*[video.read(f) for f in frames]) == kept(*a)
    with pytest.raises(ValueError):
        video.set_video(True)


def test_errors_are_exceptions(reader, tmp_path):
    with pytest.raises(digits.DigitsError) as e:
        digits.Reader(model=str(tmp_path / "missing.safetensors"))
    assert e.value.code == -1 and "missing.safetensors" in str(e.value)
    not_model = tmp_path / "not-a-model.safetensors"
    not_model.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    with pytest.raises(digits.DigitsError) as e:
        digits.Reader(model=str(not_model))
    assert e.value.code in (-2, -4)
    with pytest.raises(digits.DigitsError) as e:
        reader.read_file(str(tmp_path / "nothing.png"))
    assert "nothing.png" in str(e.value)
    with pytest.raises(TypeError):
        reader.read(np.zeros((20, 20), np.float32))
    with pytest.raises(ValueError):
        reader.read(np.zeros((20, 20, 2), np.uint8))
    with pytest.raises(digits.DigitsError):
        reader.read(np.zeros((0, 20), np.uint8))
    with pytest.raises(ValueError):
        reader.classify(np.zeros((3, 27, 28)))
    with pytest.raises(digits.DigitsError):
        digits.Reader(min_confidence=2.0)
    closed = digits.Reader()
    closed.close()
    with pytest.raises(ValueError):
        closed.read(np.zeros((20, 20), np.uint8))


def load_idx(name):
    path = os.path.join(ROOT, "data", "mnist", name)
    opener = gzip.open if not os.path.exists(path) and os.path.exists(path + ".gz") else open
    with opener(path if opener is open else path + ".gz", "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def test_classify_mnist(reader):
    images = load_idx("t10k-images-idx3-ubyte")[:1000]
    labels = load_idx("t10k-labels-idx1-ubyte")[:1000]
    got, probs = reader.classify(images)
    assert got.shape == (1000,) and probs.shape == (1000, 11)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    assert (got == probs[:, :10].argmax(axis=1)).all()
    accuracy = (got == labels).mean()
    print(f"classify: {accuracy:.3%} of 1000 MNIST test digits")
    assert accuracy >= 0.98
    one, _ = reader.classify(images[0])
    assert one[0] == got[0]


def test_readers_in_two_threads(scenes):
    want = {p: as_scan(digits.Reader().read_file(p)) for p in scenes[:4]}
    errors = []

    def work():
        with digits.Reader() as r:
            for _ in range(3):
                for p, w in want.items():
                    if as_scan(r.read_file(p)) != w:
                        errors.append(p)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def example_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(ROOT, "python")
    return env


def test_read_image_example_equals_scan(scenes):
    out = subprocess.run([sys.executable, os.path.join(EXAMPLES, "read_image.py"), *scenes],
                         check=True, capture_output=True, text=True, env=example_env()).stdout
    got = [json.loads(line) for line in out.splitlines()]
    for line in got:
        line.pop("ms")
    assert got == scan_json(scenes)


def test_webcam_example_on_a_video(tmp_path):
    """The OpenCV loop on a recorded demo video, its window on a virtual display."""
    video = tmp_path / "demo.avi"
    subprocess.run([PROGRAM, "live", "--headless", "--demo", "--frames", "45", "--record",
                    str(video)], check=True, capture_output=True)
    run = subprocess.run(["xvfb-run", "-a", sys.executable,
                          os.path.join(EXAMPLES, "webcam_opencv.py"), str(video)],
                         capture_output=True, text=True, env=example_env(), timeout=300)
    assert run.returncode == 0, run.stderr
    printed = [line for line in run.stdout.splitlines() if line.strip()]
    assert printed, "the example read no number in the demo video"


def test_dask_example_equals_scan(scenes):
    """examples/dask_scan.py on a LocalCluster of two worker processes: the folder's results, in
    its order, as digits scan --json gives them."""
    folder = os.path.dirname(scenes[0])
    run = subprocess.run([sys.executable, os.path.join(EXAMPLES, "dask_scan.py"), "--workers",
                          "2", "--chunk", "3", folder], capture_output=True, text=True,
                         env=example_env(), timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    got = [json.loads(line) for line in run.stdout.splitlines()]
    for line in got:
        line.pop("ms")
    assert got == scan_json(scenes)
