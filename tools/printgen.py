#!/usr/bin/python3
"""printgen.py - frames of printed text and keyboards with no digit in them, whose candidates
`digits scan-eval --mine` turns into "not a digit" training examples (make mine-print).

The camera sees printed words (labels, forms, book pages, a screen) and keyboards beside the
paper far more often than our scene worlds draw them, and the networks had learned letters only
from worldgen's four DejaVu faces: a printed a, e, n or a key's light letter on a dark keyboard
was read as a digit. These frames draw random letter strings in every TrueType or OpenType face
given (Debian's URW base35, Liberation, FreeFont, DejaVu), dark on light and light on dark, from
10 px to a quarter of the frame, turned a little, and keyboards of lettered keys, then blur,
noise and JPEG. Letters a network cannot tell from a digit by their shape alone (O o D I l i j
S s Z z B b G g q Q) are left out: those are told apart by the letters around them (recog.c's
words), and teaching them as "not a digit" would teach that a round 0 is not a digit. No digit is
drawn, so every candidate in these frames is rightly "not a digit".

Not Hershey faces: tools/othergen.py draws its words in those, and it is a check on what nothing
was trained on.

usage: printgen.py OUTDIR N SEED FONT...
Writes OUTDIR/print_NNNN.jpg and OUTDIR/truth.jsonl (tools/worldgen.c's format, every frame
empty). Deterministic for a given SEED and fonts.
"""
import sys

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from genio import count_and_seed, write_frames

LETTERS = "acefhkmnprtuvwxyACEFHJKLMNPRTUVWXY"
SIGNS = "+-=:;!?&#%*<>[]{}@$"


def rand_text(rng, n):
    alphabet = LETTERS + (SIGNS if rng.random() < 0.3 else "")
    words = []
    for _ in range(n):
        k = int(rng.integers(1, 9))
        w = "".join(alphabet[int(rng.integers(0, len(alphabet)))] for _ in range(k))
        if rng.random() < 0.3 and w[0].upper() in LETTERS:
            w = w[0].upper() + w[1:]  # not str.capitalize: it would lower an L into an l
        words.append(w)
    return " ".join(words)


def any_face(rng, fonts):
    return fonts[int(rng.integers(0, len(fonts)))]


def surface(rng, w, h, light):
    """Paper or a dark surface with uneven light and a little texture."""
    base = rng.uniform(170, 245) if light else rng.uniform(15, 80)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = rng.uniform(-40, 40, 2)
    img = base + gx * (xx / w - 0.5) + gy * (yy / h - 0.5)
    img += cv2.GaussianBlur(rng.normal(0, rng.uniform(0, 12), (h, w)).astype(np.float32), (0, 0), 3)
    return np.clip(img, 0, 255)


def draw_lines(rng, img, fonts, light):
    h, w = img.shape
    layer = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(layer)
    size = float(np.exp(rng.uniform(np.log(12), np.log(max(13, h / 4)))))
    y = rng.uniform(-size * 0.3, size)
    font = ImageFont.truetype(any_face(rng, fonts), int(size))
    while y < h:
        if rng.random() < 0.25:
            font = ImageFont.truetype(any_face(rng, fonts), int(size))
        x = rng.uniform(-size, w * 0.4)
        d.text((x, y), rand_text(rng, int(rng.integers(1, 8))), font=font, fill=255)
        y += size * rng.uniform(1.1, 2.6)
    ink = np.asarray(layer, np.float32) / 255
    angle = rng.uniform(-12, 12)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    ink = cv2.warpAffine(ink, m, (w, h))
    contrast = rng.uniform(60, 180)
    return img - ink * contrast if light else img + ink * contrast


def draw_keyboard(rng, img, fonts):
    """Rows of keys with one letter or sign each, dark keys and light letters or the reverse."""
    h, w = img.shape
    pitch = rng.uniform(20, 70)
    gap = pitch * rng.uniform(0.08, 0.2)
    dark_keys = rng.random() < 0.7
    key = rng.uniform(20, 70) if dark_keys else rng.uniform(170, 235)
    letter = rng.uniform(170, 240) if dark_keys else rng.uniform(20, 90)
    frame = rng.uniform(90, 140) if dark_keys else rng.uniform(120, 170)
    layer = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(layer)
    font = ImageFont.truetype(any_face(rng, fonts), int(pitch * rng.uniform(0.3, 0.5)))
    x0, y0 = rng.uniform(-pitch, w * 0.3), rng.uniform(-pitch, h * 0.5)
    d.rectangle([x0 - gap, y0 - gap, w, h], fill=int(frame))
    alphabet = LETTERS + SIGNS
    for row in range(int(h / pitch) + 1):
        y = y0 + row * pitch
        x = x0 + row * pitch * 0.3
        while x < w:
            d.rounded_rectangle([x, y, x + pitch - gap, y + pitch - gap], radius=pitch * 0.1, fill=int(key))
            ch = alphabet[int(rng.integers(0, len(alphabet)))]
            d.text((x + pitch * 0.15, y + pitch * 0.1), ch, font=font, fill=int(letter))
            x += pitch
    out = np.asarray(layer, np.float32)
    angle = rng.uniform(-20, 20)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(out, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def make_frame(rng, fonts):
    w, h = [(640, 480), (640, 480), (1280, 720), (320, 240)][int(rng.integers(0, 4))]
    if rng.random() < 0.3:
        img = draw_keyboard(rng, surface(rng, w, h, False), fonts)
    else:
        light = rng.random() < 0.75
        img = draw_lines(rng, surface(rng, w, h, light), fonts, light)
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.6))
    img = img + rng.normal(0, rng.uniform(1, 6), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def main(argv):
    if len(argv) < 5:
        sys.exit("usage: printgen.py OUTDIR N SEED FONT...")
    n, seed = count_and_seed("printgen", argv[2], argv[3])
    fonts = argv[4:]
    for f in fonts:
        try:
            ImageFont.truetype(f, 20)
        except OSError:
            sys.exit(f"printgen: cannot open font {f}")
    rng = np.random.default_rng(seed)

    def frames():
        for k in range(n):
            img = make_frame(rng, fonts)
            params = [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(50, 95))]
            yield (f"print_{k:04d}.jpg", img, params,
                   {"kind": "print", "empty": True, "digits": [], "numbers": []})

    write_frames("printgen", argv[1], frames())


if __name__ == "__main__":
    main(sys.argv)
