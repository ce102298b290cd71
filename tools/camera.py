#!/usr/bin/python3
"""camera.py - a scene set as a webcam short of light, focus or bandwidth delivers it: every
frame of SRC_DIR (a set with truth.jsonl: make world, world-other, ...) through one camera state
drawn per frame, written to OUT_DIR with the same truth (the geometry is unchanged).

The generators draw frames the way a camera in good light sees them: a little defocus, sensor
noise of a grey level or two, JPEG. A webcam in an evening room does worse: it either leaves the
frame dark (the paper at a fifth to a half of full scale) or gains it up, and its noise with it;
its fixed focus is off for a sheet held close; a hand-held sheet smears; a cheap camera or a
video call's bandwidth gives 320x240 scaled up, or heavy JPEG. Each frame gets one state:

  good    as it came (a sixth of the frames)
  dim     underexposed: the frame times 0.2-0.55, read noise sigma 1-2.5
  gained  dim light gained back up: the frame times 0.85-1.0, noise sigma 4-10 (luminance and
          colour, as a sensor's is)
  dimgain underexposed and gained part way: times 0.35-0.65, noise sigma 3-6
  soft    defocus, a Gaussian of sigma 0.8-1.6
  smear   motion blur 3-7 px along a random direction
  small   captured at half size (320x240 for 640x480) and scaled back up
and then, on most frames, JPEG at quality 30-90 (the original format otherwise) and on a third
a vignette (the corners 15-45% darker).

Deterministic for a given SEED. Writes OUT_DIR/<image> (.jpg when JPEG, else .png) and
OUT_DIR/truth.jsonl (the source's lines with "image" renamed and "camera" naming the state).

usage: camera.py SRC_DIR OUT_DIR SEED"""
import json
import os
import sys

import cv2
import numpy as np

STATES = ("good", "dim", "gained", "dimgain", "soft", "smear", "small")


def motion_kernel(length, angle):
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2.0
    dx, dy = np.cos(angle), np.sin(angle)
    for t in np.linspace(-c, c, 4 * length):
        k[int(round(c + t * dy)), int(round(c + t * dx))] = 1.0
    return k / k.sum()


def degrade(img, rng):
    """img (BGR uint8) through one camera state: (frame, state name, JPEG quality or 0)."""
    f = img.astype(np.float32)
    h, w = f.shape[:2]
    state = STATES[int(rng.integers(len(STATES)))]

    def noise(sigma):
        lum = rng.normal(0.0, sigma, (h, w, 1))
        col = rng.normal(0.0, 0.5 * sigma, (h, w, 3))
        return lum + col

    if state == "dim":
        f = f * rng.uniform(0.2, 0.55) + noise(rng.uniform(1.0, 2.5))
    elif state == "gained":
        f = f * rng.uniform(0.85, 1.0) + noise(rng.uniform(4.0, 10.0))
    elif state == "dimgain":
        f = f * rng.uniform(0.35, 0.65) + noise(rng.uniform(3.0, 6.0))
    elif state == "soft":
        f = cv2.GaussianBlur(f, (0, 0), rng.uniform(0.8, 1.6))
    elif state == "smear":
        f = cv2.filter2D(f, -1, motion_kernel(int(rng.integers(3, 8)), rng.uniform(0, np.pi)))
    elif state == "small":
        s = cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        f = cv2.resize(s, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.uniform() < 1.0 / 3.0:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
        f = f * (1.0 - rng.uniform(0.15, 0.45) * r2)[..., None]
    quality = int(rng.integers(30, 91)) if rng.uniform() < 0.75 else 0
    return np.clip(f + 0.5, 0, 255).astype(np.uint8), state, quality


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.split("usage: ")[1])
    src, out, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        with open(os.path.join(src, "truth.jsonl")) as fh:
            truth = [json.loads(line) for line in fh]
    except OSError as e:
        sys.exit(f"camera.py: cannot read {src}/truth.jsonl ({e.strerror}): make that set first")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    tmp = os.path.join(out, "truth.jsonl.tmp")
    with open(tmp, "w") as fh:
        for t in truth:
            img = cv2.imread(os.path.join(src, t["image"]), cv2.IMREAD_COLOR)
            if img is None:
                sys.exit(f"camera.py: cannot read {src}/{t['image']}")
            frame, state, quality = degrade(img, rng)
            stem = os.path.splitext(t["image"])[0]
            name = stem + (".jpg" if quality else ".png")
            params = [cv2.IMWRITE_JPEG_QUALITY, quality] if quality else []
            if not cv2.imwrite(os.path.join(out, name), frame, params):
                sys.exit(f"camera.py: cannot write {out}/{name}")
            t = dict(t, image=name, camera=state)
            fh.write(json.dumps(t) + "\n")
    os.replace(tmp, os.path.join(out, "truth.jsonl"))


if __name__ == "__main__":
    main()
