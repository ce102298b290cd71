"""tools/blend.py (and tools/stio.py under it): a blend of two models of one architecture is each
F32 tensor weighted tensor by tensor, integer tensors and metadata from the first with "blend"
and KEY=VALUE added, and `digits eval` reads a blend as the model it is; wrong arguments and files stop it with one line
and leave nothing behind. Run by `make test` (make python-test) with DIGITS_ROOT and DIGITS set."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.environ["DIGITS_ROOT"]
PROGRAM = os.environ.get("DIGITS", os.path.join(ROOT, "build", "digits"))
TOOLS = os.path.join(ROOT, "tools")
BLEND = os.path.join(TOOLS, "blend.py")
MODEL = os.path.join(ROOT, "tests", "fixtures", "small.model.safetensors")

sys.path.insert(0, TOOLS)
import stio  # noqa: E402  (tools/ is not a package)


def blend(*args):
    return subprocess.run([sys.executable, BLEND] + [str(a) for a in args], capture_output=True,
                          text=True)


@pytest.fixture
def two_models(tmp_path):
    """The small fixture model and a copy whose float tensors are shifted by one."""
    tensors, meta = stio.read(MODEL, "test")
    other = {k: v + 1.0 if v.dtype.kind == "f" else v for k, v in tensors.items()}
    b = tmp_path / "b.safetensors"
    stio.write(str(b), other, meta)
    return tensors, meta, MODEL, b


def test_round_trip_is_byte_for_byte(tmp_path):
    tensors, meta = stio.read(MODEL, "test")
    out = tmp_path / "copy.safetensors"
    stio.write(str(out), tensors, meta)
    with open(MODEL, "rb") as f:
        assert out.read_bytes() == f.read()


def test_blend_weights_each_tensor(tmp_path, two_models):
    tensors, meta, a, b = two_models
    out = tmp_path / "blend.safetensors"
    r = blend(a, b, 0.25, out, "recipe=a test")
    assert r.returncode == 0, r.stderr
    got, got_meta = stio.read(str(out), "test")
    assert list(got) == list(tensors)
    for name, x in tensors.items():
        want = x + 0.25 if x.dtype.kind == "f" else x
        assert got[name].dtype == x.dtype and got[name].shape == x.shape
        np.testing.assert_allclose(got[name], want, rtol=0, atol=1e-6)
    assert got_meta["blend"].startswith("0.75 x small.model.safetensors + 0.25 x b.safetensors")
    assert got_meta["recipe"] == "a test"
    assert {k: v for k, v in got_meta.items() if k not in ("blend", "recipe")} == \
        {k: v for k, v in meta.items() if k != "recipe"}
    # the blend at 0 is the first model again
    same = tmp_path / "same.safetensors"
    assert blend(a, b, 0, same).returncode == 0
    back, _ = stio.read(str(same), "test")
    for name, x in tensors.items():
        np.testing.assert_array_equal(back[name], x)


def test_digits_reads_a_blend(tmp_path):
    """The shipped fast model blended with itself is itself: digits eval finds its accuracy."""
    fast = os.path.join(ROOT, "models", "fast.safetensors")
    out = tmp_path / "fast.safetensors"
    assert blend(fast, fast, 0.5, out).returncode == 0
    _, meta = stio.read(fast, "test")
    r = subprocess.run([PROGRAM, "eval", "--json", "--model", str(out), "--data",
                        os.path.join(ROOT, "data", "mnist")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["accuracy"] == pytest.approx(float(meta["test_accuracy"]),
                                                             abs=5e-5)


@pytest.mark.parametrize("args, code, says", [
    ([], 2, "usage"),
    (["A", "B", "1.5", "OUT"], 2, "W is a share from 0 to 1"),
    (["A", "B", "half", "OUT"], 2, "W is a share from 0 to 1"),
    (["A", "B", "0.5", "OUT", "novalue"], 2, "is not KEY=VALUE"),
    (["/nonexistent.safetensors", "B", "0.5", "OUT"], 1, "cannot read /nonexistent.safetensors"),
    (["NOTST", "B", "0.5", "OUT"], 1, "is not a safetensors file"),
    (["A", "OTHER", "0.5", "OUT"], 1, "different tensors"),
    (["A", "B", "0.5", "/nonexistent-dir/out.safetensors"], 1, "cannot write"),
])
def test_bad_input_says_one_line(tmp_path, two_models, args, code, says):
    _, meta, a, b = two_models
    not_st = tmp_path / "not.safetensors"
    not_st.write_bytes(b"\xff" * 16)
    other = tmp_path / "other.safetensors"
    stio.write(str(other), {"w": np.zeros(3, dtype=np.float32)}, meta)
    names = {"A": a, "B": b, "NOTST": not_st, "OTHER": other, "OUT": tmp_path / "out.safetensors"}
    r = blend(*[names.get(x, x) for x in args])
    assert r.returncode == code
    assert says in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.safetensors").exists()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
