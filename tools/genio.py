"""genio.py - what the Python frame generators (othergen.py, printgen.py) share: their N and SEED
arguments and writing a set of frames with its truth file. Every image is written to a .part
name and renamed, the truth to truth.jsonl.tmp and renamed at the end, so an interrupted run
never leaves a half-written frame or a truth file that names frames not there; a failure is one
line naming the tool."""
import json
import os
import sys

import cv2


def count_and_seed(tool, n_text, seed_text):
    """N (1 to 100000) and SEED (0 or more) from their arguments, or exit with one line."""
    try:
        n, seed = int(n_text), int(seed_text)
    except ValueError:
        sys.exit(f"{tool}: N and SEED must be whole numbers (got '{n_text}', '{seed_text}')")
    if n < 1 or n > 100000 or seed < 0:
        sys.exit(f"{tool}: N must be 1 to 100000 and SEED 0 or more")
    return n, seed


def write_frames(tool, out, frames):
    """Writes each (name, image, imwrite params, truth fields) of frames into out (image BGR or
    grey), and out/truth.jsonl with one line per frame: image, width, height and the fields."""
    try:
        os.makedirs(out, exist_ok=True)
        tmp = os.path.join(out, "truth.jsonl.tmp")
        with open(tmp, "w") as tf:
            for name, img, params, fields in frames:
                stem, ext = os.path.splitext(name)
                part = os.path.join(out, f"{stem}.part{ext}")
                if not cv2.imwrite(part, img, params):
                    sys.exit(f"{tool}: cannot write {part} (disk full or no permission?)")
                os.replace(part, os.path.join(out, name))
                tf.write(json.dumps({"image": name, "width": img.shape[1],
                                     "height": img.shape[0], **fields}) + "\n")
        os.replace(tmp, os.path.join(out, "truth.jsonl"))
    except OSError as e:
        sys.exit(f"{tool}: cannot write into {out}: {e.strerror}")
