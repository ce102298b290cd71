#!/usr/bin/python3
"""othergen.py - a second, independent camera-view generator (OpenCV and numpy, written apart
from tools/worldgen.c and sharing none of its code or choices), so the reader is checked on
scenes that were not made the way the ones it was tuned on were.

What it changes against worldgen: frames of several webcam sizes (320x240 to 1280x720, not only
640x480); a sheet anywhere from a small note to the whole view, in perspective, its edges and
corners in view; pens of other colours (blue ballpoint, pencil, red, green marker, white on dark
boards) and widths made by thresholding the scaled digit rather than by a drawn pen; printed
words in OpenCV's Hershey fonts (worldgen uses DejaVu), handwritten symbols, boxes drawn around
numbers, underlines, ticks and arrows; desk objects drawn as shapes (pens, a mug, a phone, a
keyboard with lettered keys, coins, paper clips, a cable, a hand); cast shadows, uneven light,
colour casts, vignetting, defocus, motion blur, low-resolution cameras, JPEG.

Digits come from MNIST's SPLIT (train for tuning, t10k for reports); every fourth photograph (in
the order given) is kept for t10k, the others for train. Writes OUTDIR/other_NNNN.{jpg,png} and
OUTDIR/truth.jsonl in tools/worldgen.c's format (image, width, height, kind, empty, digits with
box [x, y, w, h] of their ink (MNIST level > 64) and "ignore" when cut by the frame or covered,
numbers with text and box) and "sheet", the sheet's four corners in the frame clockwise from
top left (null when there is none), so readings can be told apart on and off the paper.
Deterministic for a given SEED and inputs.

usage: othergen.py [--empty X] [--photo X] [--big X] [--screen X] [--held X] [--form X] OUTDIR N
                   SEED MNIST_DIR train|t10k PHOTO...
  --empty X   share of frames with no digit at all (default 0.15); 1 makes a set of digit-free
              frames, the measure of what the background alone is read as
  --photo X   share of frames over a photograph rather than a drawn desk (default 0.7)
  --big X     share of frames written large (default 0): a sheet held close to the camera, one
              or two lines of digits a quarter to three quarters of the frame tall, often with a
              fat marker; a quarter of them drawn on a flat digital canvas (black on white or
              white on black, no camera), as digits drawn on a screen are
  --screen X  share of frames with a screen in view (default 0): a desktop or a phone's home
              screen (drawn wallpapers, icons, labels, windows) filling the frame, or a monitor or
              phone in perspective over the photograph or desk, the sheet (if any) in front of it
  --held X    share of frames with the sheet held up to the camera (default 0), as a laptop's
              webcam sees it: a person (face, hair, glasses, a striped or printed shirt) in a room
              (shelves of books with titles on their spines, window blinds, pictures, a clock),
              the sheet upright within 15 degrees, thumbs over its edges
  --form X    share of sheets with digits (not boards) that are printed forms (default 0): fields
              of a printed label and a row of boxes, one handwritten digit in each, touching or
              crossing the boxes' thin printed lines when written large or off centre
  --words X   share of sheets (not close-ups) that carry handwritten words (default 0), in a
              handwriting font of Debian's (HAND_WRITERS; every third writer for t10k, the others
              for train) with the numbers' pen and slant: a word before a number ("Tel:", "Room"),
              a unit after it ("kg"), lines of a note or a list, and on digit-free sheets a note
              alone; the words' letters (l, o, O, S, Z, g, q, B) are no digits
"""
import gzip
import math
import os
import sys

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from genio import count_and_seed, write_frames

SIZES = [((640, 480), 0.45), ((1280, 720), 0.2), ((800, 600), 0.1), ((320, 240), 0.1),
         ((1024, 768), 0.15)]
KINDS = [("desk", 0.34), ("close", 0.16), ("note", 0.1), ("board", 0.1), ("dark", 0.08),
         ("page", 0.07), ("empty", 0.15)]
WORDS = ("name date total price room phone call page note sum items order box code ref qty "
         "time week Monday Tuesday April June Ilse Otto Lola bill tax due from to and the of "
         "Fax Tel kg cm Hz Zoe Sol Bob Lisa Oslo Gobi Ohio Iowa Lille Baz Quiz flow").split()
SYMBOLS = "+-=x/()<>#%:"


def pick(rng, table):
    """One item of [(item, weight), ...]."""
    w = np.array([p for _, p in table], float)
    return table[rng.choice(len(table), p=w / w.sum())][0]


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_mnist(folder, split):
    names = {"train": "train", "t10k": "t10k"}[split]
    for suffix in ("", ".gz"):
        img = os.path.join(folder, f"{names}-images-idx3-ubyte{suffix}")
        lab = os.path.join(folder, f"{names}-labels-idx1-ubyte{suffix}")
        if os.path.exists(img) and os.path.exists(lab):
            return read_idx(img), read_idx(lab)
    sys.exit(f"othergen: no MNIST {split} files in {folder}; run make data")


# ---- backgrounds ----------------------------------------------------------------------------

def photo_background(rng, photo, w, h):
    """A random crop of the photograph, scaled to the frame, sometimes mirrored or dimmed."""
    ph, pw = photo.shape[:2]
    frac = rng.uniform(0.3, 1.0)
    cw = int(min(pw, ph * w / h) * frac)
    ch = int(cw * h / w)
    x0 = rng.integers(0, max(1, pw - cw))
    y0 = rng.integers(0, max(1, ph - ch))
    crop = photo[y0:y0 + ch, x0:x0 + cw]
    out = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out * rng.uniform(0.45, 1.05))


def desk_background(rng, w, h):
    """A plain desk: wood grain, a grey or coloured laminate, or a fabric weave."""
    base = np.array([rng.uniform(40, 200), rng.uniform(40, 180), rng.uniform(30, 160)], np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    style = rng.integers(0, 3)
    if style == 0:  # wood
        ang = rng.uniform(-0.3, 0.3)
        u = xx * math.cos(ang) + yy * math.sin(ang)
        v = -xx * math.sin(ang) + yy * math.cos(ang)
        grain = np.sin(v / rng.uniform(3, 9) + 3 * np.sin(u / rng.uniform(60, 200)))
        tex = 1 + 0.12 * grain
        base = np.array([rng.uniform(90, 190), rng.uniform(60, 130), rng.uniform(30, 80)],
                        np.float32)
    elif style == 1:  # laminate with low-frequency mottling
        small = rng.normal(0, 1, (h // 40 + 2, w // 40 + 2)).astype(np.float32)
        tex = 1 + 0.06 * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    else:  # fabric
        p = rng.uniform(2.5, 6)
        tex = 1 + 0.08 * np.sin(xx / p) * np.sin(yy / p)
    return base[None, None, :] * tex[:, :, None]


# A screen in view (--screen): a computer's desktop or a phone's home screen, as a webcam sees one
# behind the sheet. Icons are drawn from a few shapes, the kinds the reader took for digits on
# packaged wallpapers it never trained on: rings and rounded frames (0), clock faces and gears (0,
# 8), handsets and hooks (2, 7), ticks and arrows (1, 4, 7). Labels are words, never digits.
ICON_SHAPES = ("ring", "frame", "clock", "gear", "phone", "mail", "folder", "search", "tick",
               "arrow", "bubble", "bell", "play", "plus", "grid", "house", "wifi", "battery")


def draw_glyph(layer, shape, cx, cy, r, col, t, rng):
    """One icon glyph centred at (cx, cy), about r in radius, lines t wide, into layer."""
    aa = cv2.LINE_AA
    ip = lambda x, y: (int(round(x)), int(round(y)))  # noqa: E731
    if shape == "ring":
        cv2.circle(layer, ip(cx, cy), int(r), col, t, aa)
        if rng.random() < 0.5:
            cv2.circle(layer, ip(cx, cy), int(r * 0.45), col, -1 if rng.random() < 0.5 else t, aa)
    elif shape == "frame":
        k = r * rng.uniform(0.55, 0.85)
        cv2.rectangle(layer, ip(cx - r, cy - k), ip(cx + r, cy + k), col, t, aa)
        if rng.random() < 0.6:  # a picture's mountain or a screen's stand
            cv2.polylines(layer, [np.array([ip(cx - r, cy + k), ip(cx - r / 3, cy), ip(cx, cy + k / 2),
                                            ip(cx + r / 2, cy - k / 3), ip(cx + r, cy + k)], np.int32)],
                          False, col, t, aa)
    elif shape == "clock":
        cv2.circle(layer, ip(cx, cy), int(r), col, t, aa)
        a = rng.uniform(0, 2 * math.pi)
        cv2.line(layer, ip(cx, cy), ip(cx + 0.7 * r * math.cos(a), cy + 0.7 * r * math.sin(a)), col, t, aa)
        cv2.line(layer, ip(cx, cy), ip(cx, cy - 0.5 * r), col, t, aa)
    elif shape == "gear":
        n = int(rng.integers(6, 10))
        pts = [ip(cx + (r if i % 2 else 0.75 * r) * math.cos(i * math.pi / n),
                  cy + (r if i % 2 else 0.75 * r) * math.sin(i * math.pi / n)) for i in range(2 * n)]
        cv2.polylines(layer, [np.array(pts, np.int32)], True, col, t, aa)
        cv2.circle(layer, ip(cx, cy), int(0.3 * r), col, t, aa)
    elif shape == "phone":  # a handset: a thick hook
        cv2.ellipse(layer, ip(cx, cy), (int(r * 0.8), int(r * 0.8)), 0, 100, 260, col, max(t, int(r / 3)), aa)
        cv2.line(layer, ip(cx - 0.2 * r, cy - 0.8 * r), ip(cx + 0.4 * r, cy - 0.8 * r), col, max(t, int(r / 4)), aa)
        cv2.line(layer, ip(cx - 0.2 * r, cy + 0.8 * r), ip(cx + 0.4 * r, cy + 0.8 * r), col, max(t, int(r / 4)), aa)
    elif shape == "mail":
        cv2.rectangle(layer, ip(cx - r, cy - 0.65 * r), ip(cx + r, cy + 0.65 * r), col, t, aa)
        cv2.polylines(layer, [np.array([ip(cx - r, cy - 0.65 * r), ip(cx, cy + 0.1 * r),
                                        ip(cx + r, cy - 0.65 * r)], np.int32)], False, col, t, aa)
    elif shape == "folder":
        pts = [ip(cx - r, cy - 0.6 * r), ip(cx - 0.3 * r, cy - 0.6 * r), ip(cx - 0.1 * r, cy - 0.4 * r),
               ip(cx + r, cy - 0.4 * r), ip(cx + r, cy + 0.7 * r), ip(cx - r, cy + 0.7 * r)]
        cv2.polylines(layer, [np.array(pts, np.int32)], True, col, t, aa)
    elif shape == "search":
        cv2.circle(layer, ip(cx - 0.2 * r, cy - 0.2 * r), int(0.6 * r), col, t, aa)
        cv2.line(layer, ip(cx + 0.25 * r, cy + 0.25 * r), ip(cx + r, cy + r), col, max(t, int(r / 5)), aa)
    elif shape == "tick":
        cv2.polylines(layer, [np.array([ip(cx - r, cy), ip(cx - 0.3 * r, cy + 0.7 * r), ip(cx + r, cy - 0.8 * r)],
                                       np.int32)], False, col, t, aa)
    elif shape == "arrow":
        a = rng.integers(0, 4) * math.pi / 2
        c, s_ = math.cos(a), math.sin(a)
        rot = lambda x, y: ip(cx + x * c - y * s_, cy + x * s_ + y * c)  # noqa: E731
        cv2.line(layer, rot(-r, 0), rot(r, 0), col, t, aa)
        cv2.polylines(layer, [np.array([rot(0.3 * r, -0.6 * r), rot(r, 0), rot(0.3 * r, 0.6 * r)], np.int32)],
                      False, col, t, aa)
    elif shape == "bubble":
        cv2.ellipse(layer, ip(cx, cy - 0.1 * r), (int(r), int(0.7 * r)), 0, 0, 360, col, t, aa)
        cv2.line(layer, ip(cx - 0.5 * r, cy + 0.45 * r), ip(cx - 0.8 * r, cy + r), col, t, aa)
    elif shape == "bell":
        cv2.ellipse(layer, ip(cx, cy), (int(0.6 * r), int(0.8 * r)), 0, 180, 360, col, t, aa)
        cv2.line(layer, ip(cx - 0.6 * r, cy), ip(cx - 0.8 * r, cy + 0.5 * r), col, t, aa)
        cv2.line(layer, ip(cx + 0.6 * r, cy), ip(cx + 0.8 * r, cy + 0.5 * r), col, t, aa)
        cv2.line(layer, ip(cx - 0.8 * r, cy + 0.5 * r), ip(cx + 0.8 * r, cy + 0.5 * r), col, t, aa)
        cv2.circle(layer, ip(cx, cy + 0.75 * r), max(1, int(0.15 * r)), col, -1, aa)
    elif shape == "play":
        pts = [ip(cx - 0.5 * r, cy - 0.7 * r), ip(cx + 0.7 * r, cy), ip(cx - 0.5 * r, cy + 0.7 * r)]
        cv2.polylines(layer, [np.array(pts, np.int32)], True, col, t, aa)
    elif shape == "plus":
        cv2.line(layer, ip(cx - r, cy), ip(cx + r, cy), col, t, aa)
        cv2.line(layer, ip(cx, cy - r), ip(cx, cy + r), col, t, aa)
    elif shape == "grid":
        for i in range(3):
            for j in range(3):
                cv2.circle(layer, ip(cx + (i - 1) * 0.7 * r, cy + (j - 1) * 0.7 * r), max(1, int(0.15 * r)), col, -1, aa)
    elif shape == "house":
        pts = [ip(cx - 0.8 * r, cy - 0.1 * r), ip(cx, cy - 0.9 * r), ip(cx + 0.8 * r, cy - 0.1 * r),
               ip(cx + 0.6 * r, cy - 0.1 * r), ip(cx + 0.6 * r, cy + 0.8 * r), ip(cx - 0.6 * r, cy + 0.8 * r),
               ip(cx - 0.6 * r, cy - 0.1 * r)]
        cv2.polylines(layer, [np.array(pts, np.int32)], True, col, t, aa)
    elif shape == "wifi":
        for k in (0.35, 0.65, 0.95):
            cv2.ellipse(layer, ip(cx, cy + 0.5 * r), (int(k * r), int(k * r)), 0, 225, 315, col, t, aa)
        cv2.circle(layer, ip(cx, cy + 0.5 * r), max(1, int(0.12 * r)), col, -1, aa)
    else:  # battery
        cv2.rectangle(layer, ip(cx - r, cy - 0.45 * r), ip(cx + 0.8 * r, cy + 0.45 * r), col, t, aa)
        cv2.rectangle(layer, ip(cx + 0.8 * r, cy - 0.15 * r), ip(cx + r, cy + 0.15 * r), col, -1, aa)


def word(rng):
    """A label or a line of a window's text: one to three words, never a digit."""
    return " ".join(WORDS[rng.integers(0, len(WORDS))] for _ in range(int(rng.integers(1, 4))))


def screen_wallpaper(rng, sw, sh):
    """A screen's wallpaper, sw x sh RGB float (flat, a gradient or soft blotches), and whether it
    is dark."""
    dark = rng.random() < 0.6
    base = rng.uniform(15, 80, 3) if dark else rng.uniform(170, 245, 3)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    img = np.empty((sh, sw, 3), np.float32)
    img[:] = base
    style = rng.integers(0, 3)
    if style == 1:  # gradient
        other = base + rng.uniform(-60, 60, 3)
        t = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) / max(sw, sh)
        t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
        img = img * (1 - t[:, :, None]) + other[None, None, :] * t[:, :, None]
    elif style == 2:  # soft blotches
        small = rng.normal(0, 1, (6, 8, 3)).astype(np.float32)
        img += 25 * cv2.resize(small, (sw, sh), interpolation=cv2.INTER_CUBIC)
    return img, dark


def app_tile(rng, img, shape, cx, cy, size, t):
    """An app's icon: a coloured rounded square centred at (cx, cy), size wide, with a white (or
    now and then dark) glyph."""
    tile = tuple(float(v) for v in rng.uniform(30, 230, 3))
    rr = int(size * rng.uniform(0.15, 0.3))
    x_a, y_a, x_b, y_b = int(cx - size / 2), int(cy - size / 2), int(cx + size / 2), int(cy + size / 2)
    cv2.rectangle(img, (x_a + rr, y_a), (x_b - rr, y_b), tile, -1)
    cv2.rectangle(img, (x_a, y_a + rr), (x_b, y_b - rr), tile, -1)
    for (px, py) in ((x_a + rr, y_a + rr), (x_b - rr, y_a + rr), (x_a + rr, y_b - rr), (x_b - rr, y_b - rr)):
        cv2.circle(img, (px, py), rr, tile, -1, cv2.LINE_AA)
    glyph = (255.0, 255.0, 255.0) if rng.random() < 0.8 else (30.0, 30.0, 30.0)
    draw_glyph(img, shape, cx, cy, size * 0.3, glyph, t, rng)


def screen_icons(rng, img, dark):
    """Icons in a grid over img, some places left empty: symbolic line icons in one light (on a
    dark wallpaper) or dark colour, or app tiles; often a word's label under each."""
    sh, sw = img.shape[:2]
    phone = sh > sw
    size = rng.uniform(0.05, 0.13) * min(sw, sh) if not phone else rng.uniform(0.09, 0.16) * sw
    step = size * rng.uniform(1.5, 2.4)
    symbolic = rng.random() < 0.55
    line_col = tuple(float(c) for c in (rng.uniform(190, 255, 3) if dark else rng.uniform(20, 80, 3)))
    labels = rng.random() < 0.6
    x0, y0 = rng.uniform(0.3, 1.0) * step, rng.uniform(0.3, 1.0) * step
    for row in range(max(1, int((sh - y0) / step))):
        for c in range(max(1, int((sw - x0) / step))):
            if rng.random() < 0.35:
                continue
            cx, cy = x0 + c * step + size / 2, y0 + row * step + size / 2
            shape = ICON_SHAPES[rng.integers(0, len(ICON_SHAPES))]
            t = max(1, int(round(size * rng.uniform(0.04, 0.1))))
            if symbolic:
                draw_glyph(img, shape, cx, cy, size * 0.42, line_col, t, rng)
            else:
                app_tile(rng, img, shape, cx, cy, size, t)
            if labels:
                fs = size / 90.0
                cv2.putText(img, word(rng)[:10], (int(cx - size / 2), int(cy + size / 2 + 14 * fs + 4)),
                            cv2.FONT_HERSHEY_SIMPLEX, fs, line_col, 1, cv2.LINE_AA)


def screen_window(rng, img):
    """A window over img: a light or dark page under a coloured title bar with its three buttons,
    lines of words."""
    sh, sw = img.shape[:2]
    wx0, wy0 = int(rng.uniform(0, 0.5) * sw), int(rng.uniform(0, 0.5) * sh)
    wx1, wy1 = int(wx0 + rng.uniform(0.3, 0.6) * sw), int(wy0 + rng.uniform(0.3, 0.6) * sh)
    paper = rng.uniform(200, 250) if rng.random() < 0.6 else rng.uniform(30, 60)
    ink = 40.0 if paper > 128 else 220.0
    cv2.rectangle(img, (wx0, wy0), (wx1, wy1), (paper,) * 3, -1)
    bar = max(8, int(0.04 * min(sw, sh)))
    cv2.rectangle(img, (wx0, wy0), (wx1, wy0 + bar), tuple(float(v) for v in rng.uniform(40, 200, 3)), -1)
    for k, shape in enumerate(("plus", "frame", "ring")):
        draw_glyph(img, shape, wx1 - (k + 0.6) * bar, wy0 + bar / 2, bar * 0.3, (ink,) * 3, 1, rng)
    fs = rng.uniform(0.35, 0.7)
    y = wy0 + bar + int(24 * fs) + 4
    while y < wy1 - 4:
        cv2.putText(img, word(rng), (wx0 + 6, y), cv2.FONT_HERSHEY_SIMPLEX, fs, (ink,) * 3, 1, cv2.LINE_AA)
        y += int(rng.uniform(26, 40) * fs)


def screen_image(rng, sw, sh):
    """A screen's picture, sw x sh RGB float: a wallpaper, icons with labels, sometimes a
    window."""
    img, dark = screen_wallpaper(rng, sw, sh)
    screen_icons(rng, img, dark)
    if rng.random() < 0.4:
        screen_window(rng, img)
    return img


def screen_background(rng, photos, photo_share, w, h):
    """A frame with a screen in it: filling the view, or a monitor or a phone (a dark bezel round
    the screen's picture, in perspective) over a photograph or a desk."""
    if rng.random() < 0.4:
        return screen_image(rng, w, h) * rng.uniform(0.6, 1.1)
    if photos and rng.random() < photo_share:
        img = photo_background(rng, photos[rng.integers(0, len(photos))], w, h)
    else:
        img = desk_background(rng, w, h)
    phone = rng.random() < 0.3
    ah = rng.uniform(0.5, 1.1) * h
    aw = ah * (rng.uniform(0.45, 0.55) if phone else rng.uniform(1.3, 1.8))
    sw, sh = max(40, int(aw)), max(40, int(ah))
    pic = screen_image(rng, sw, sh)
    bez = int(rng.uniform(0.03, 0.08) * min(sw, sh))
    full = np.empty((sh + 2 * bez, sw + 2 * bez, 3), np.float32)
    full[:] = rng.uniform(5, 40)
    full[bez:bez + sh, bez:bez + sw] = pic * rng.uniform(0.7, 1.2)
    fh, fw = full.shape[:2]
    ang = math.radians(rng.uniform(-15, 15))
    cx, cy = w / 2 + rng.uniform(-0.35, 0.35) * w, h / 2 + rng.uniform(-0.3, 0.3) * h
    pts = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        px, py = sx * fw / 2, sy * fh / 2
        px *= 1 - rng.uniform(0, 0.15) if sy < 0 else 1
        pts.append((cx + px * math.cos(ang) - py * math.sin(ang), cy + px * math.sin(ang) + py * math.cos(ang)))
    H = cv2.getPerspectiveTransform(np.array([[0, 0], [fw, 0], [fw, fh], [0, fh]], np.float32),
                                    np.array(pts, np.float32))
    mask = cv2.warpPerspective(np.ones((fh, fw), np.float32), H, (w, h), flags=cv2.INTER_LINEAR)
    warped = cv2.warpPerspective(full, H, (w, h), flags=cv2.INTER_LINEAR)
    return img * (1 - mask[:, :, None]) + warped



# A sheet held up to the camera (--held): a laptop's webcam sees the person holding it and the
# room behind them. The room is drawn from what such rooms hold and a reader can take for digits:
# book spines and shelf edges (1s), window blinds (dashes), picture frames (0s); the person is a
# head with eyes, brows, glasses, a mouth and hair over a shirt that is plain, striped or printed
# with a word; the thumbs come over the sheet's edges.
SKINS = ((224, 172, 140), (198, 134, 100), (141, 85, 60), (240, 200, 170), (110, 70, 50))


def shelf_of_books(rng, img, x0, y0):
    """A shelf with books on it: spines of several colours and heights, a title on some."""
    h, w = img.shape[:2]
    sw, sh = int(rng.uniform(0.25, 0.6) * w), int(rng.uniform(0.12, 0.3) * h)
    board = (float(rng.uniform(60, 200)),) * 3
    cv2.rectangle(img, (x0, y0 + sh), (x0 + sw, y0 + sh + max(3, sh // 10)), board, -1)
    x = x0
    while x < x0 + sw:
        bw = int(rng.uniform(0.08, 0.2) * sh) + 2
        top = y0 + int(rng.uniform(0, 0.3) * sh)
        col = tuple(float(c) for c in rng.uniform(20, 230, 3))
        cv2.rectangle(img, (x, top), (x + bw - 1, y0 + sh), col, -1)
        if bw > 10 and rng.random() < 0.4:  # the title, written up the spine
            label = np.zeros((bw, y0 + sh - top), np.float32)
            cv2.putText(label, WORDS[rng.integers(0, len(WORDS))], (2, bw - 3),
                        cv2.FONT_HERSHEY_SIMPLEX, bw / 40.0, 1.0, 1, cv2.LINE_AA)
            lab = cv2.rotate(label, cv2.ROTATE_90_CLOCKWISE)
            lh, lw = lab.shape
            ys, xs = slice(max(0, top), min(h, top + lh)), slice(max(0, x), min(w, x + lw))
            if ys.stop > ys.start and xs.stop > xs.start:
                part = lab[ys.start - top:ys.stop - top, xs.start - x:xs.stop - x][:, :, None]
                ink = 255.0 if sum(col) < 380 else 0.0
                img[ys, xs] = img[ys, xs] * (1 - part) + ink * part
        x += bw + int(rng.integers(0, 3))


def window_blinds(rng, img, x0, y0):
    """A bright window behind blinds: light slats with dark gaps, a white frame."""
    h, w = img.shape[:2]
    ww, wh = int(rng.uniform(0.2, 0.45) * w), int(rng.uniform(0.25, 0.55) * h)
    sky = float(rng.uniform(200, 255))
    cv2.rectangle(img, (x0, y0), (x0 + ww, y0 + wh), (sky, sky, sky * rng.uniform(0.9, 1.0)), -1)
    pitch = max(4, int(rng.uniform(0.025, 0.06) * h))
    for y in range(y0, y0 + wh, pitch):
        cv2.line(img, (x0, y), (x0 + ww, y), (sky * 0.6,) * 3, max(1, pitch // 4))
    cv2.rectangle(img, (x0, y0), (x0 + ww, y0 + wh), (240, 240, 240), max(2, ww // 40))


def wall_picture(rng, img, x0, y0):
    """A framed picture, or a clock with its hour marks and hands."""
    h, w = img.shape[:2]
    fw, fh = int(rng.uniform(0.08, 0.25) * w), int(rng.uniform(0.08, 0.3) * h)
    frame = (float(rng.uniform(10, 120)),) * 3
    aa = cv2.LINE_AA
    if rng.random() < 0.3:
        r = min(fw, fh) // 2
        c = (x0 + r, y0 + r)
        cv2.circle(img, c, r, (245, 245, 240), -1, aa)
        cv2.circle(img, c, r, frame, max(2, r // 10), aa)
        for k in range(12):
            ca, sa = math.cos(k * math.pi / 6), math.sin(k * math.pi / 6)
            cv2.line(img, (int(c[0] + 0.8 * r * ca), int(c[1] + 0.8 * r * sa)),
                     (int(c[0] + 0.9 * r * ca), int(c[1] + 0.9 * r * sa)), frame, max(1, r // 20), aa)
        cv2.line(img, c, (c[0], y0 + r // 3), (20, 20, 20), max(1, r // 15), aa)
        cv2.line(img, c, (c[0] + r // 2, c[1]), (20, 20, 20), max(1, r // 12), aa)
    else:
        cv2.rectangle(img, (x0, y0), (x0 + fw, y0 + fh), tuple(float(c) for c in rng.uniform(30, 230, 3)), -1)
        cv2.rectangle(img, (x0, y0), (x0 + fw, y0 + fh), frame, max(2, fw // 15))


def room_background(rng, photos, photo_share, w, h):
    """A wall with shelves of books, a window with blinds, framed pictures; sometimes a
    photograph as the wall (a poster, the room beyond an open door)."""
    if photos and rng.random() < 0.3 * photo_share:
        img = photo_background(rng, photos[rng.integers(0, len(photos))], w, h)
    else:
        wall = np.array([rng.uniform(120, 235), rng.uniform(110, 230), rng.uniform(100, 225)], np.float32)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        grad = 1 + rng.uniform(-0.25, 0.25) * (xx / w - 0.5) + rng.uniform(-0.2, 0.2) * (yy / h - 0.5)
        img = wall[None, None, :] * grad[:, :, None]
    for _ in range(int(rng.integers(1, 4))):
        what = rng.integers(0, 3)
        x0, y0 = int(rng.uniform(-0.1, 0.8) * w), int(rng.uniform(-0.1, 0.6) * h)
        (shelf_of_books, window_blinds, wall_picture)[what](rng, img, x0, y0)
    return img


def draw_shirt(rng, img, cx, cy, hr):
    """Shoulders and chest below a head of half height hr at (cx, cy): a plain shirt, a striped
    one or one with a printed word."""
    h, w = img.shape[:2]
    shirt = tuple(float(c) for c in rng.uniform(10, 240, 3))
    aa = cv2.LINE_AA
    body = np.array([[cx - 2.6 * hr, h + 10], [cx - 2.3 * hr, cy + 1.7 * hr], [cx - 0.9 * hr, cy + 1.25 * hr],
                     [cx + 0.9 * hr, cy + 1.25 * hr], [cx + 2.3 * hr, cy + 1.7 * hr], [cx + 2.6 * hr, h + 10]],
                    np.int32)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [body], 255, aa)
    layer = np.zeros_like(img)
    layer[:] = shirt
    style = rng.integers(0, 3)
    if style == 1:  # stripes
        pitch = max(4, int(rng.uniform(0.05, 0.15) * hr))
        other = tuple(float(c) for c in rng.uniform(10, 240, 3))
        vertical = rng.random() < 0.3
        for k in range(0, w if vertical else h, pitch * 2):
            if vertical:
                cv2.rectangle(layer, (k, 0), (k + pitch - 1, h), other, -1)
            else:
                cv2.rectangle(layer, (0, k), (w, k + pitch - 1), other, -1)
    elif style == 2:  # a printed word on the chest
        ink = (255.0,) * 3 if sum(shirt) < 380 else (15.0,) * 3
        scale = hr / 45.0
        cv2.putText(layer, WORDS[rng.integers(0, len(WORDS))].upper(),
                    (int(cx - 0.9 * hr), int(cy + 2.4 * hr)), cv2.FONT_HERSHEY_DUPLEX, scale, ink,
                    max(1, int(2 * scale)), aa)
    a = (mask.astype(np.float32) / 255.0)[:, :, None]
    img[:] = img * (1 - a) + layer * a


def draw_head(rng, img, cx, cy, hr, skin):
    """A neck, ears, a face, hair short or long, eyes, brows, sometimes glasses, a nose and a
    mouth; hr is the head's half height."""
    aa = cv2.LINE_AA
    cv2.rectangle(img, (int(cx - 0.35 * hr), int(cy + 0.6 * hr)), (int(cx + 0.35 * hr), int(cy + 1.35 * hr)),
                  tuple(float(c) for c in skin * 0.85), -1)
    hair = tuple(float(c) for c in (rng.uniform(10, 120), rng.uniform(5, 90), rng.uniform(0, 60)))
    long_hair = rng.random() < 0.4
    if long_hair:
        cv2.ellipse(img, (int(cx), int(cy + 0.3 * hr)), (int(0.95 * hr), int(1.3 * hr)), 0, 0, 360, hair, -1, aa)
    for sx in (-1, 1):
        cv2.ellipse(img, (int(cx + sx * 0.75 * hr), int(cy)), (int(0.12 * hr), int(0.2 * hr)), 0, 0, 360,
                    tuple(float(c) for c in skin * 0.9), -1, aa)
    cv2.ellipse(img, (int(cx), int(cy)), (int(0.75 * hr), int(hr)), 0, 0, 360, tuple(float(c) for c in skin), -1, aa)
    if rng.random() < 0.9:
        cv2.ellipse(img, (int(cx), int(cy - 0.35 * hr)), (int(0.8 * hr), int(0.7 * hr)), 0, 180, 360, hair, -1, aa)
    # eyes, brows, glasses, nose, mouth
    ey = cy - 0.1 * hr
    t = max(1, int(0.05 * hr))
    for sx in (-1, 1):
        ex = cx + sx * 0.32 * hr
        cv2.ellipse(img, (int(ex), int(ey)), (int(0.13 * hr), int(0.06 * hr)), 0, 0, 360, (235, 235, 230), -1, aa)
        cv2.circle(img, (int(ex), int(ey)), max(1, int(0.05 * hr)), (40, 30, 20), -1, aa)
        cv2.ellipse(img, (int(ex), int(ey - 0.18 * hr)), (int(0.16 * hr), int(0.05 * hr)), 0, 180, 360, hair, t, aa)
    if rng.random() < 0.35:
        frame = (float(rng.uniform(5, 80)),) * 3
        for sx in (-1, 1):
            ex = cx + sx * 0.32 * hr
            if rng.random() < 0.5:
                cv2.circle(img, (int(ex), int(ey)), int(0.2 * hr), frame, t, aa)
            else:
                cv2.rectangle(img, (int(ex - 0.22 * hr), int(ey - 0.14 * hr)), (int(ex + 0.22 * hr), int(ey + 0.14 * hr)),
                              frame, t, aa)
        cv2.line(img, (int(cx - 0.12 * hr), int(ey)), (int(cx + 0.12 * hr), int(ey)), frame, t, aa)
    cv2.line(img, (int(cx), int(ey + 0.05 * hr)), (int(cx - 0.06 * hr), int(cy + 0.3 * hr)),
             tuple(float(c) for c in skin * 0.7), t, aa)
    cv2.ellipse(img, (int(cx), int(cy + 0.5 * hr)), (int(0.22 * hr), int(0.08 * hr)), 0, 0, 180, (90, 40, 40), t + 1, aa)


def draw_person(rng, img):
    """A person from the chest up, in the middle of the frame."""
    h, w = img.shape[:2]
    cx = w / 2 + rng.uniform(-0.2, 0.2) * w
    hr = rng.uniform(0.13, 0.24) * h
    cy = rng.uniform(0.25, 0.5) * h
    skin = np.array(SKINS[rng.integers(0, len(SKINS))], np.float32) * rng.uniform(0.8, 1.1)
    draw_shirt(rng, img, cx, cy, hr)
    draw_head(rng, img, cx, cy, hr, skin)


def held_quad(rng, w, h):
    """The corners of a sheet held up to the camera (clockwise from top left): upright within 15
    degrees, turned a little towards or away from the camera, a third of the frame to most of it."""
    sh = rng.uniform(0.35, 0.85) * h
    sw = sh * rng.uniform(0.7, 1.45)
    if sw > 0.95 * w:
        sw = 0.95 * w
    ang = math.radians(rng.uniform(-15, 15))
    cx, cy = w / 2 + rng.uniform(-0.2, 0.2) * w, h / 2 + rng.uniform(-0.05, 0.25) * h
    lean = rng.uniform(-0.12, 0.12)  # one side nearer the camera than the other
    pts = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        px, py = sx * sw / 2, sy * sh / 2 * (1 + lean * sx)
        pts.append((cx + px * math.cos(ang) - py * math.sin(ang), cy + px * math.sin(ang) + py * math.cos(ang)))
    return np.array(pts, np.float32), max(40, int(sw)), max(40, int(sh))


def draw_thumbs(rng, img, occ, quad):
    """The hands holding the sheet: a thumb over its left and right edge, the fingers behind
    it showing beyond the edge; what the thumbs cover is marked in occ."""
    h, w = img.shape[:2]
    skin = np.array(SKINS[rng.integers(0, len(SKINS))], np.float32) * rng.uniform(0.8, 1.1)
    side = float(np.linalg.norm(quad[3] - quad[0]))
    for a, b, inward in ((quad[0], quad[3], 1), (quad[1], quad[2], -1)):
        if rng.random() < 0.15:
            continue  # held by one hand
        f = rng.uniform(0.3, 0.75)
        px, py = a + f * (b - a)
        tw, tl = max(4, int(0.06 * side)), max(8, int(0.14 * side))
        layer = np.zeros((h, w), np.uint8)
        # fingers behind the sheet, showing outside its edge
        for k in range(3):
            cv2.ellipse(layer, (int(px - inward * 0.5 * tl), int(py + (k - 1) * 1.1 * tw)),
                        (int(0.6 * tl), int(0.5 * tw)), 0, 0, 360, 255, -1, cv2.LINE_AA)
        # the thumb over the sheet
        thumb = np.zeros((h, w), np.uint8)
        cv2.ellipse(thumb, (int(px + inward * 0.35 * tl), int(py)), (int(0.6 * tl), int(0.55 * tw)),
                    rng.uniform(-25, 25), 0, 360, 255, -1, cv2.LINE_AA)
        layer = np.maximum(layer, thumb)
        al = (layer.astype(np.float32) / 255.0)[:, :, None]
        img[:] = img * (1 - al) + skin[None, None, :] * rng.uniform(0.85, 1.05) * al
        occ |= layer > 0


# ---- ink ------------------------------------------------------------------------------------

def pen_for(rng, kind):
    """(colour RGB, threshold, dilation radius in px per 20 px of height, texture) of a pen."""
    if kind == "dark":
        col = [(235, 235, 230), (240, 230, 150), (200, 230, 255)][rng.integers(0, 3)]
        return np.array(col, np.float32), rng.uniform(0.25, 0.5), rng.uniform(0, 0.5), 0.35
    if kind == "board":
        col = [(20, 20, 30), (20, 40, 170), (170, 25, 25), (20, 120, 40)][rng.integers(0, 4)]
        return np.array(col, np.float32), rng.uniform(0.2, 0.4), rng.uniform(0.2, 0.7), 0.0
    r = rng.random()
    if r < 0.35:  # blue ballpoint
        col, tex = (rng.uniform(10, 50), rng.uniform(20, 70), rng.uniform(110, 190)), 0.1
    elif r < 0.65:  # black felt tip or gel
        col, tex = (rng.uniform(5, 45),) * 3, 0.0
    elif r < 0.8:  # pencil
        g = rng.uniform(70, 130)
        col, tex = (g, g, g + 5), 0.45
    elif r < 0.9:  # red
        col, tex = (rng.uniform(150, 210), 20, 30), 0.05
    else:  # green marker
        col, tex = (20, rng.uniform(90, 140), 40), 0.0
    return np.array(col, np.float32), rng.uniform(0.2, 0.75), rng.uniform(0.0, 0.6), tex


def digit_alpha(rng, img, height, thresh, dil, slant):
    """The digit's ink coverage (0..1) with its ink height `height` px: scaled with a slant,
    then thresholded (a higher threshold is a finer pen) and dilated (a marker)."""
    ys = np.nonzero(img > 64)[0]
    s = height / (ys.max() + 1 - ys.min())
    src = img.astype(np.float32) / 255.0
    pad = 4
    out_w = int((28 + 2 * pad) * s + abs(slant) * 28 * s) + 2
    out_h = int((28 + 2 * pad) * s) + 2
    # shear about the digit's vertical centre, then scale
    m = np.array([[s, -slant * s, pad * s + abs(slant) * 14 * s + slant * s * 14],
                  [0, s, pad * s]], np.float32)
    a = cv2.warpAffine(src, m, (out_w, out_h), flags=cv2.INTER_LINEAR)
    a = np.clip((a - thresh) / 0.25 + 0.5, 0, 1)
    r = int(round(dil * height / 20.0))
    if r > 0:
        a = cv2.dilate(a, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return a


def stamp(layer, alpha, x, y):
    """Adds coverage alpha into layer at (x, y) (max); returns whether any of it landed."""
    h, w = alpha.shape
    H, W = layer.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        return False
    sub = alpha[y0 - y:y1 - y, x0 - x:x1 - x]
    np.maximum(layer[y0:y1, x0:x1], sub, out=layer[y0:y1, x0:x1])
    return True


def hand_stroke_symbol(rng, layer, ch, x, y, h, width):
    """A handwritten symbol drawn with lines on layer (coverage), h px tall at (x, y)."""
    t = max(1, int(round(width)))
    j = lambda: rng.uniform(-0.08, 0.08) * h  # noqa: E731
    w = 0.7 * h
    pts = []
    if ch == "+":
        pts = [((x, y + h / 2), (x + w, y + h / 2)), ((x + w / 2, y + 0.15 * h), (x + w / 2, y + 0.85 * h))]
    elif ch == "-":
        pts = [((x, y + h / 2), (x + w, y + h / 2))]
    elif ch == "=":
        pts = [((x, y + 0.38 * h), (x + w, y + 0.38 * h)), ((x, y + 0.62 * h), (x + w, y + 0.62 * h))]
    elif ch == "x":
        pts = [((x, y + 0.3 * h), (x + w * 0.8, y + h)), ((x + w * 0.8, y + 0.3 * h), (x, y + h))]
    elif ch == "/":
        pts = [((x + w * 0.6, y), (x, y + h))]
    elif ch in "()":
        cx = x + (0.5 * h if ch == "(" else -0.1 * h)
        a0, a1 = (110, 250) if ch == "(" else (-70, 70)
        cv2.ellipse(layer, (int(cx), int(y + h / 2)), (int(0.35 * h), int(0.55 * h)), 0, a0, a1,
                    1.0, t, cv2.LINE_AA)
        return
    else:
        cv2.putText(layer, ch, (int(x), int(y + h)), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, h / 24.0, 1.0,
                    t, cv2.LINE_AA)
        return
    for (ax, ay), (bx, by) in pts:
        cv2.line(layer, (int(ax + j()), int(ay + j())), (int(bx + j()), int(by + j())), 1.0, t,
                 cv2.LINE_AA)


# ---- the sheet ------------------------------------------------------------------------------

def draw_comb(rng, layer, x, y, n, cw, ch, t):
    """A form's row of n boxes cw x ch from (x, y), lines t px: the outline, then walls between
    the boxes, full or ticks rising from the bottom."""
    cv2.rectangle(layer, (int(x), int(y)), (int(x + n * cw), int(y + ch)), 1.0, t, cv2.LINE_AA)
    for k in range(1, n):
        xk = int(x + k * cw)
        top = int(y) if rng.random() < 0.8 else int(y + 0.6 * ch)
        cv2.line(layer, (xk, top), (xk, int(y + ch)), 1.0, t, cv2.LINE_AA)


# ---- handwritten words ------------------------------------------------------------------------

# Handwriting fonts from Debian packages (scripts/install-deps --worlds), one writer each; every
# third writer (in this order) writes the t10k sets' words, the others the train sets'.
FONT_ROOT = "/usr/share/fonts"
HAND_WRITERS = [
    "truetype/fifthhorseman/dkg.ttf truetype/fifthhorseman/dkgBd.ttf truetype/fifthhorseman/dkgIt.ttf",
    "truetype/breip/Breip.ttf",
    "opentype/bwht/BecauseWeBuild-Regular.otf",
    "opentype/bwht/BecauseWeConnect-Regular.otf",
    "opentype/bwht/BecauseWeCreate-Regular.otf",
    "opentype/bwht/BecauseWeLearn-Regular.otf",
    "opentype/bwht/BecauseWeMentor-Regular.otf",
    "opentype/bwht/BecauseWeOrganize-Regular.otf",
    "opentype/dancingscript/DancingScript-Regular.otf opentype/dancingscript/DancingScript-Bold.otf",
    "truetype/ecolier-court/Ecolier-court.ttf",
    "truetype/femkeklaver/femkeklaver.ttf",
    "truetype/humor-sans/Humor-Sans.ttf",
    "truetype/kristi/Kristi.ttf",
    "truetype/klee/KleeOne-Regular.ttf truetype/klee/KleeOne-SemiBold.ttf",
    "opentype/comic-neue/ComicNeue-Regular.otf opentype/comic-neue/ComicNeue-Bold.otf "
    "opentype/comic-neue/ComicNeue-Italic.otf",
    "opentype/kaushanscript/KaushanScript-Regular.otf",
    "opentype/joscelyn/Joscelyn-Regular.otf",
]
HAND_WORDS = ("milk eggs bread butter call mom dad phone room bus train total sum cost paid owe "
              "kids shop list gas rent name date price note page items order box code ref time "
              "week Monday Friday April June July Ilse Otto Lola Zoe Sol Bob Lisa Oslo Ohio Iowa "
              "Lille quiz flow hello thanks love see you soon meet lunch dinner gift sale cash bill "
              "tax due from to and the of is go no yes ok Sue Bill Gail Liz Oslo Boston lego solo "
              "bolt zoo igloo sell toll hill ball Olga Lois").split()
HAND_LABELS = ("Tel Room Total No Page Bus Price Code Box Ref Sum Due Order Flat Gate Seat Lot "
               "Item Qty Age Year Week Day km kg").split()
HAND_UNITS = "kg km cm pm am min ml lbs euro each ok".split()


def hand_writers(split):
    """Each installed writer's font files (those of the split's third or two thirds); an empty
    list when none of the packages are installed."""
    writers = []
    for i, files in enumerate(HAND_WRITERS):
        if (i % 3 == 2) != (split == "t10k"):
            continue
        found = [os.path.join(FONT_ROOT, f) for f in files.split() if os.path.exists(os.path.join(FONT_ROOT, f))]
        if found:
            writers.append(found)
    return writers


class Hand:
    """One writer's hand on one sheet: a font (its own digit 8 as tall as the sheet's digits),
    the pen's slant and width."""

    def __init__(self, rng, files, slant, dil):
        self.path = files[rng.integers(0, len(files))]
        self.slant, self.dil = slant, dil
        self.fonts = {}
        top, bottom = ImageFont.truetype(self.path, 100).getbbox("8", anchor="ls")[1::2]
        self.em_per_px = 100.0 / max(1, bottom - top)

    def font(self, height):
        size = max(6, int(round(self.em_per_px * height)))
        if size not in self.fonts:
            self.fonts[size] = ImageFont.truetype(self.path, size)
        return self.fonts[size]

    def word(self, text, height, slope):
        """(coverage, baseline row) of text whose digits would be `height` px tall, sheared by the
        hand's slant and turned by the line's slope."""
        font = self.font(height)
        x0, y0, x1, y1 = font.getbbox(text, anchor="ls")
        pad = int(2 + 0.3 * height)
        w, h = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
        img = Image.new("L", (w, h), 0)
        ImageDraw.Draw(img).text((pad - x0, pad - y0), text, font=font, fill=255, anchor="ls")
        a = np.asarray(img, np.float32) / 255.0
        base = pad - y0
        # shear about the baseline, turn by the slope about the left end of the baseline
        ang = math.atan(slope)
        c, s = math.cos(ang), math.sin(ang)
        extra = int(abs(self.slant) * h + abs(slope) * w) + 2
        m = np.array([[c, -self.slant * c - s, 0], [s, c - self.slant * s, 0]], np.float32)
        m[:, 2] = np.array([extra, extra + base], np.float32) - m[:, :2] @ np.array([0, base], np.float32)
        a = cv2.warpAffine(a, m, (w + 2 * extra, h + 2 * extra), flags=cv2.INTER_LINEAR)
        r = int(round(self.dil * height / 40.0))
        if r > 0:
            a = cv2.dilate(a, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        ys, xs = np.nonzero(a > 0.25)
        if len(xs) == 0:
            return None, 0
        a = a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        return a, extra + base - ys.min()


def hand_text(rng, table, n_max):
    return " ".join(table[rng.integers(0, len(table))] for _ in range(int(rng.integers(1, n_max + 1))))


class Sheet:
    """A sheet's own canvas: paper colour, ruling, an ink coverage layer per colour, and the
    digits written on it (label, ink points in sheet pixels, number index)."""

    def __init__(self, rng, w, h, kind):
        self.w, self.h, self.kind = w, h, kind
        if kind == "dark":
            paper = [(30, 50, 40), (25, 25, 30), (50, 55, 60)][rng.integers(0, 3)]
        elif kind == "board":
            paper = (rng.uniform(215, 245),) * 3
        elif kind == "note":
            paper = [(250, 240, 120), (250, 190, 200), (170, 230, 250), (190, 245, 170)][rng.integers(0, 4)]
        else:
            t = rng.uniform(225, 252)
            paper = (t, t - rng.uniform(0, 12), t - rng.uniform(0, 25))
        self.rgb = np.empty((h, w, 3), np.float32)
        self.rgb[:] = np.array(paper, np.float32)
        small = rng.normal(0, 1, (h // 30 + 2, w // 30 + 2)).astype(np.float32)
        self.rgb *= (1 + rng.uniform(0.0, 0.05) * cv2.resize(small, (w, h)))[:, :, None]
        self.layers = []  # (colour, coverage, texture)
        self.digits = []  # (label, points Nx2 float, number id)
        self.numbers = []  # text per number id
        self.used = []  # rectangles (x0, y0, x1, y1) taken on the sheet
        self.writer = None  # a writer's font files when the sheet carries handwritten words
        self.hand = None  # that writer's Hand once a pen is chosen
        self.hand_layer = None

    def layer(self, colour, texture):
        cov = np.zeros((self.h, self.w), np.float32)
        self.layers.append((colour, cov, texture))
        return cov

    def free(self, x0, y0, x1, y1, margin=0):
        if x0 < 0 or y0 < 0 or x1 > self.w or y1 > self.h:
            return False
        for a in self.used:
            if x0 < a[2] + margin and a[0] - margin < x1 and y0 < a[3] + margin and a[1] - margin < y1:
                return False
        return True

    def rule(self, rng):
        """Ruled lines, a squared grid or a margin line on some paper sheets."""
        r = rng.random()
        if self.kind not in ("desk", "close", "page") or r < 0.45:
            return
        col = np.array((rng.uniform(120, 190), rng.uniform(150, 200), rng.uniform(200, 240)), np.float32)
        cov = self.layer(col, 0.0)
        step = int(rng.uniform(18, 45))
        t = 1
        for y in range(step, self.h, step):
            cv2.line(cov, (0, y), (self.w, y), rng.uniform(0.4, 0.8), t, cv2.LINE_AA)
        if r > 0.75:
            for x in range(step, self.w, step):
                cv2.line(cov, (x, 0), (x, self.h), rng.uniform(0.4, 0.8), t, cv2.LINE_AA)
        elif rng.random() < 0.5:
            red = self.layer(np.array((220, 70, 80), np.float32), 0.0)
            x = int(self.w * rng.uniform(0.08, 0.15))
            cv2.line(red, (x, 0), (x, self.h), 0.8, 2, cv2.LINE_AA)

    def printed(self, rng, n):
        """n lines of printed words in a Hershey font, placed where nothing is written yet."""
        col = np.array((rng.uniform(0, 60),) * 3, np.float32)
        cov = self.layer(col, 0.0)
        for _ in range(n):
            font = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
                    cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX][rng.integers(0, 6)]
            text = " ".join(WORDS[rng.integers(0, len(WORDS))] for _ in range(rng.integers(1, 5)))
            if rng.random() < 0.3:
                text += " " + SYMBOLS[rng.integers(0, len(SYMBOLS))]
            px = rng.uniform(9, max(10, min(30, self.h / 10)))
            scale = px / 22.0
            thick = max(1, int(round(scale * rng.uniform(1, 2.2))))
            (tw, th), base = cv2.getTextSize(text, font, scale, thick)
            for _ in range(20):
                x = int(rng.uniform(0, max(1, self.w - tw)))
                y = int(rng.uniform(th + 2, max(th + 3, self.h - base)))
                if self.free(x, y - th, x + tw, y + base, margin=6):
                    cv2.putText(cov, text, (x, y), font, scale, 1.0, thick, cv2.LINE_AA)
                    self.used.append((x, y - th, x + tw, y + base))
                    break

    def write_numbers(self, rng, mnist, labels, pool, line_h, n_lines, max_per_line, marker=False,
                      max_digits=6):
        """Lines of handwritten numbers: a writer's gap, drifting baselines, symbols between
        numbers, sometimes a box around a number or a line under it; a marker's strokes are
        fatter than any pen's."""
        colour, thresh, dil, texture = pen_for(rng, self.kind)
        if marker:
            dil = rng.uniform(0.3, 1.5)
        cov = self.layer(colour, texture)
        gap_habit = rng.uniform(-0.05, 0.35)  # between digits, in heights
        slant = rng.uniform(-0.25, 0.25)
        if self.writer is not None:
            self.hand, self.hand_layer = Hand(rng, self.writer, slant, dil), cov
        lines = 0
        for _ in range(8 * n_lines):
            if lines == n_lines:
                break
            h = line_h * rng.uniform(0.85, 1.15)
            if 1.4 * h >= self.h:
                break
            y = rng.uniform(0.02 * self.h, self.h - 1.4 * h)
            slope = rng.uniform(-0.08, 0.08)
            x = rng.uniform(0.03, 0.45) * self.w
            count = 0
            for k in range(rng.integers(1, max_per_line + 1)):
                p = np.array([0.12, 0.22, 0.24, 0.22, 0.12, 0.08])
                if max_digits < 6:
                    p = p[:max_digits] / p[:max_digits].sum()
                n_dig = int(rng.choice(np.arange(1, len(p) + 1), p=p))
                label = None
                if self.hand is not None and rng.random() < 0.35:  # a word before the number
                    text = HAND_LABELS[rng.integers(0, len(HAND_LABELS))] + (":" if rng.random() < 0.4 else "")
                    label = (x,) + self.hand.word(text, h, slope)
                    if label[1] is None:
                        label = None
                    else:
                        x += label[1].shape[1] + h * rng.uniform(0.3, 0.9)
                placed = self.write_number(rng, cov, mnist, labels, pool, x, y + slope * x, h,
                                           n_dig, gap_habit, slant, thresh, dil, slope)
                if placed is None:
                    break
                count += 1
                x1 = placed
                if label is not None:
                    self.hand_word_at(label[1], label[0], y + slope * label[0] + h - label[2])
                if self.hand is not None and rng.random() < 0.2:  # a unit after it
                    ux = x1 + h * rng.uniform(0.25, 0.6)
                    a, base = self.hand.word(HAND_UNITS[rng.integers(0, len(HAND_UNITS))], h, slope)
                    if a is not None and self.hand_word_at(a, ux, y + slope * ux + h - base):
                        x1 = int(ux) + a.shape[1]
                # what follows: a symbol, a word, or just a wide gap
                x = x1 + h * max(1.0, 3.0 * gap_habit) * rng.uniform(1.1, 2.0)
                if rng.random() < 0.3:
                    ch = SYMBOLS[rng.integers(0, 6)]
                    sx = x1 + h * rng.uniform(0.35, 0.6)
                    sy = y + slope * sx + 0.15 * h
                    if self.free(int(sx), int(sy), int(sx + 0.7 * h), int(sy + 0.7 * h)):
                        hand_stroke_symbol(rng, cov, ch, sx, sy, 0.7 * h, max(1.0, h / 14 * (1 + dil)))
                        self.used.append((int(sx), int(sy), int(sx + 0.7 * h), int(sy + 0.7 * h)))
                        x = sx + 0.7 * h + h * rng.uniform(0.35, 0.7)
                if x > self.w * 0.92:
                    break
            lines += count > 0

    def hand_word_at(self, a, x, y):
        """Writes a word's coverage at (x, y) in the writer's pen if that place is free."""
        x, y = int(round(x)), int(round(y))
        if not self.free(x, y, x + a.shape[1], y + a.shape[0]):
            return False
        stamp(self.hand_layer, a, x, y)
        self.used.append((x, y, x + a.shape[1], y + a.shape[0]))
        return True

    def handwritten(self, rng, n, line_h):
        """n lines of handwritten words (a note, a list) in the writer's hand, where nothing is
        written yet; the pen is the numbers' when the sheet has any."""
        if self.hand is None:
            colour, _, dil, texture = pen_for(rng, self.kind)
            self.hand_layer = self.layer(colour, texture)
            self.hand = Hand(rng, self.writer, rng.uniform(-0.25, 0.25), dil)
        for _ in range(n):
            h = min(line_h * rng.uniform(0.85, 1.15), self.h / 4)
            a, base = self.hand.word(hand_text(rng, HAND_WORDS, 4), h, rng.uniform(-0.08, 0.08))
            if a is None or a.shape[1] >= self.w or a.shape[0] >= self.h:
                continue
            for _ in range(20):
                x = rng.uniform(0, self.w - a.shape[1])
                y = rng.uniform(0, self.h - a.shape[0])
                if self.free(int(x) - 6, int(y) - 6, int(x) + a.shape[1] + 6, int(y) + a.shape[0] + 6):
                    self.hand_word_at(a, x, y)
                    break

    def write_form(self, rng, mnist, labels, pool, line_h, n_fields):
        """A printed form: fields of a printed label and a row of boxes (a comb), one handwritten
        digit in each box, the number the field's digits; the boxes' lines are printed thin in
        black, grey or blue, and a digit written large or off centre touches or crosses them."""
        colour, thresh, dil, texture = pen_for(rng, self.kind)
        grey = rng.uniform(0, 110)
        lines = self.layer(np.array((grey, grey, grey + rng.uniform(0, 1) * (200 - grey)), np.float32), 0.0)
        cov = self.layer(colour, texture)
        slant = rng.uniform(-0.2, 0.2)
        t = 1 if rng.random() < 0.7 else 2
        for _ in range(4 * n_fields):
            if n_fields == 0:
                break
            h = line_h * rng.uniform(0.9, 1.1)
            cw, ch = h * rng.uniform(0.8, 1.25), h * rng.uniform(1.15, 1.5)
            n = int(rng.integers(2, 9))
            label = WORDS[rng.integers(0, len(WORDS))] + (":" if rng.random() < 0.6 else "")
            scale = 0.45 * ch / 22.0
            (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            x = rng.uniform(0.02, 0.3) * self.w
            y = rng.uniform(0.02 * self.h, self.h - 1.1 * ch)
            bx = x + tw + 0.3 * ch
            x0, y0, x1, y1 = int(x), int(y), int(bx + n * cw) + 1, int(y + ch) + 1
            if not self.free(x0, y0, x1, y1, margin=int(0.25 * h)):
                continue
            self.used.append((x0, y0, x1, y1))
            cv2.putText(lines, label, (int(x), int(y + 0.5 * (ch + th))), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        1.0, 1, cv2.LINE_AA)
            draw_comb(rng, lines, bx, y, n, cw, ch, t)
            nid, text = len(self.numbers), ""
            for k in range(n):
                i = int(pool[rng.integers(0, len(pool))])
                hh = h * rng.uniform(0.6, 1.05)
                a = digit_alpha(rng, mnist[i], hh, thresh, dil, slant + rng.uniform(-0.06, 0.06))
                ys, xs = np.nonzero(a > 0.25)
                if len(xs) == 0:
                    continue
                # centred in its box, give or take a fifth of the box
                px = int(round(bx + (k + 0.5) * cw + rng.uniform(-0.2, 0.2) * cw - 0.5 * (xs.min() + xs.max())))
                py = int(round(y + 0.5 * ch + rng.uniform(-0.2, 0.2) * ch - 0.5 * (ys.min() + ys.max())))
                stamp(cov, a, px, py)
                self.digits.append((int(labels[i]), np.stack([xs + px + 0.5, ys + py + 0.5], 1).astype(np.float32), nid))
                text += str(int(labels[i]))
            if text:
                self.numbers.append(text)
            n_fields -= 1

    def write_number(self, rng, cov, mnist, labels, pool, x, y, h, n_dig, gap, slant, thresh, dil,
                     slope):
        """One number of n_dig digits from (x, y) (its top); returns its right edge, or None."""
        alphas = []
        for _ in range(n_dig):
            i = int(pool[rng.integers(0, len(pool))])
            hh = h * rng.uniform(0.88, 1.12)
            a = digit_alpha(rng, mnist[i], hh, thresh, dil, slant + rng.uniform(-0.06, 0.06))
            alphas.append((int(labels[i]), a, hh))
        # place by ink extent: each digit's ink starts gap*h after the previous one's ends
        plan, cx = [], x
        for lab, a, hh in alphas:
            cols = np.nonzero(a.max(axis=0) > 0.25)[0]
            if len(cols) == 0:
                return None
            left = cx - cols[0]
            dy = rng.uniform(-0.06, 0.06) * h + (h - hh) * rng.uniform(0.3, 0.7)
            rows = np.nonzero(a.max(axis=1) > 0.25)[0]
            top = y + slope * (cx - x) + dy - rows[0]
            plan.append((lab, a, int(round(left)), int(round(top))))
            g = gap + rng.uniform(-0.08, 0.08)
            cx = left + cols[-1] + 1 + g * h
        x0 = min(p[2] for p in plan)
        y0 = min(p[3] for p in plan)
        x1 = max(p[2] + p[1].shape[1] for p in plan)
        y1 = max(p[3] + p[1].shape[0] for p in plan)
        if not self.free(x0, y0, x1, y1, margin=int(0.4 * h)):
            return None
        nid = len(self.numbers)
        text = ""
        for lab, a, px, py in plan:
            stamp(cov, a, px, py)
            ys, xs = np.nonzero(a > 0.25)
            self.digits.append((lab, np.stack([xs + px + 0.5, ys + py + 0.5], 1).astype(np.float32), nid))
            text += str(lab)
        self.numbers.append(text)
        self.used.append((x0, y0, x1, y1))
        r = rng.random()
        t = max(1, int(round(h / 14 * (1 + dil))))
        if r < 0.08:  # a box drawn round it
            m = int(0.25 * h)
            cv2.rectangle(cov, (x0 - m, y0 - m), (x1 + m, y1 + m), 1.0, t, cv2.LINE_AA)
        elif r < 0.16:  # underlined
            yy = y1 + int(0.2 * h)
            cv2.line(cov, (x0 - 2, yy), (x1 + 2, yy + int(rng.uniform(-3, 3))), 1.0, t, cv2.LINE_AA)
        return x1

    def render(self):
        for colour, cov, texture in self.layers:
            if texture > 0:
                noise = np.random.default_rng(int(cov.sum()) % 100000).random(cov.shape, np.float32)
                cov = cov * (1 - texture * noise)
            a = cov[:, :, None]
            self.rgb = self.rgb * (1 - a) + colour[None, None, :] * a
        return self.rgb


# ---- objects on the desk ----------------------------------------------------------------------

def draw_objects(rng, img, occ, n, over_sheet_quad=None):
    """n desk objects as shapes; those drawn over the sheet mark occ (covered)."""
    h, w = img.shape[:2]
    for _ in range(n):
        kind = rng.integers(0, 8)
        col = tuple(float(c) for c in rng.uniform(0, 255, 3))
        layer = np.zeros((h, w), np.uint8)
        cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        if over_sheet_quad is not None:
            q = over_sheet_quad[rng.integers(0, 4)]
            cx, cy = int(q[0] + rng.uniform(-0.1, 0.1) * w), int(q[1] + rng.uniform(-0.1, 0.1) * h)
        s = min(w, h)
        if kind == 0:  # pen or pencil
            L, T, a = rng.uniform(0.25, 0.6) * s, rng.uniform(0.015, 0.03) * s, rng.uniform(0, math.pi)
            box = cv2.boxPoints(((cx, cy), (L, T), math.degrees(a))).astype(np.int32)
            cv2.fillConvexPoly(layer, box, 255, cv2.LINE_AA)
        elif kind == 1:  # mug from above
            r = int(rng.uniform(0.08, 0.15) * s)
            cv2.circle(layer, (cx, cy), r, 255, -1, cv2.LINE_AA)
            cv2.ellipse(layer, (cx + r, cy), (r // 2, r // 4), 0, 0, 360, 255, max(2, r // 8))
        elif kind == 2:  # phone
            box = cv2.boxPoints(((cx, cy), (0.12 * s, 0.25 * s), rng.uniform(0, 180))).astype(np.int32)
            cv2.fillConvexPoly(layer, box, 255, cv2.LINE_AA)
            col = (rng.uniform(10, 40),) * 3
        elif kind == 3:  # keyboard: light keys with letters
            kx, ky, k = cx - int(0.3 * s), cy, max(8, int(rng.uniform(0.03, 0.05) * s))
            keyimg = img.copy()
            letters = "QWERTYUIOPASDFGHJKLZXCVBNM"
            for row in range(3):
                for c in range(10):
                    x0, y0 = kx + c * (k + 3) + row * k // 2, ky + row * (k + 3)
                    cv2.rectangle(keyimg, (x0, y0), (x0 + k, y0 + k), (60, 60, 65), -1)
                    cv2.putText(keyimg, letters[(row * 10 + c) % 26], (x0 + k // 4, y0 + 3 * k // 4),
                                cv2.FONT_HERSHEY_SIMPLEX, k / 40.0, (230, 230, 230), 1, cv2.LINE_AA)
                    cv2.rectangle(layer, (x0, y0), (x0 + k, y0 + k), 255, -1)
            img[:] = keyimg
            occ |= layer > 0
            continue
        elif kind == 4:  # coins
            for _ in range(rng.integers(1, 4)):
                r = int(rng.uniform(0.02, 0.04) * s)
                cv2.circle(layer, (cx + rng.integers(-40, 40), cy + rng.integers(-40, 40)), r, 255, -1, cv2.LINE_AA)
            col = (rng.uniform(150, 200), rng.uniform(120, 160), rng.uniform(50, 90))
        elif kind == 5:  # paper clip
            L, r = int(rng.uniform(0.05, 0.1) * s), max(3, int(0.012 * s))
            ang = rng.uniform(0, 180)
            cv2.ellipse(layer, (cx, cy), (L, r), ang, 0, 360, 255, max(1, r // 3), cv2.LINE_AA)
            cv2.ellipse(layer, (cx, cy), (int(L * 0.7), int(r * 0.6)), ang, 0, 360, 255, max(1, r // 3), cv2.LINE_AA)
            col = (rng.uniform(150, 210),) * 3
        elif kind == 6:  # cable
            pts = np.array([[cx + rng.uniform(-0.4, 0.4) * w, cy + rng.uniform(-0.4, 0.4) * h] for _ in range(5)], np.int32)
            cv2.polylines(layer, [pts], False, 255, max(2, int(0.012 * s)), cv2.LINE_AA)
            col = (rng.uniform(10, 60),) * 3
        else:  # a hand: palm and fingers
            skin = [(224, 172, 140), (198, 134, 100), (141, 85, 60), (240, 200, 170)][rng.integers(0, 4)]
            col = tuple(float(c) for c in skin)
            r = int(rng.uniform(0.1, 0.16) * s)
            cv2.ellipse(layer, (cx, cy), (r, int(r * 1.2)), rng.uniform(0, 180), 0, 360, 255, -1, cv2.LINE_AA)
            base = rng.uniform(0, 2 * math.pi)
            for f in range(4):
                a = base + (f - 1.5) * 0.28
                ex, ey = int(cx + 2.0 * r * math.cos(a)), int(cy + 2.0 * r * math.sin(a))
                cv2.line(layer, (cx, cy), (ex, ey), 255, max(3, int(0.35 * r)), cv2.LINE_AA)
        a = (layer.astype(np.float32) / 255.0)[:, :, None]
        shade = 0.75 + 0.35 * rng.random()
        img[:] = img * (1 - a) + np.array(col, np.float32)[None, None, :] * shade * a
        occ |= layer > 0


# ---- a frame ----------------------------------------------------------------------------------

def sheet_quad(rng, w, h, kind, big=False):
    """The sheet's corners in the frame (clockwise from top left) and its canvas size; a sheet
    held close (big) covers 0.7 to 1.3 of the frame's height."""
    if big:
        cover = rng.uniform(0.7, 1.3)
    elif kind in ("close", "board", "dark") and rng.random() < 0.5:
        cover = rng.uniform(0.95, 1.2)
    elif kind == "note":
        cover = rng.uniform(0.25, 0.45)
    else:
        cover = rng.uniform(0.45, 0.95)
    aspect = rng.uniform(0.7, 1.5) if kind != "page" else 1 / math.sqrt(2)
    sh = cover * h
    sw = sh * aspect * (w / h if kind in ("close",) else 1)
    ang = math.radians(rng.uniform(-25, 25))
    cx = w / 2 + rng.uniform(-0.25, 0.25) * w
    cy = h / 2 + rng.uniform(-0.2, 0.2) * h
    pts = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        px, py = sx * sw / 2, sy * sh / 2
        # perspective: the far edge (top) narrower
        px *= 1 - (0.5 - 0.5 * sy) * rng.uniform(0, 0.25) if sy < 0 else 1
        pts.append((cx + px * math.cos(ang) - py * math.sin(ang), cy + px * math.sin(ang) + py * math.cos(ang)))
    quad = np.array(pts, np.float32)
    cw, ch = int(sw * 1.0), int(sh * 1.0)
    return quad, max(40, cw), max(40, ch)


def kinds_with(empty):
    """KINDS with this share of digit-free frames (--empty)."""
    if empty == 0.15:
        return KINDS  # the table as written, so the default sets stay byte for byte what they were
    rest = [(k, p) for k, p in KINDS if k != "empty"]
    total = sum(p for _, p in rest)
    return [(k, p / total * (1 - empty)) for k, p in rest] + [("empty", empty)]


def make_frame(rng, mnist, labels, pool, photos, kinds, photo_share, big=0.0, screen=0.0, held=0.0,
               form=0.0, words=0.0, writers=()):
    """A frame and its truth; a frame meant to hold digits is drawn again until one shows (with
    --big, again as a frame with digits: large writing often does not fit, and digit-free frames
    would otherwise crowd the set)."""
    want_digits = False
    while True:
        frame = draw_frame(rng, mnist, labels, pool, photos, kinds, photo_share, big, want_digits,
                           screen, held, form, words, writers)
        if frame[2] or any(not d.get("ignore") for d in frame[3]):
            return frame
        want_digits = big > 0


def canvas_frame(rng, mnist, labels, pool, w, h, empty):
    """Digits drawn on a flat digital canvas: one colour of ink on another, no paper, no camera;
    one number, or two lines of them, a quarter to 0.8 of the frame tall, brushes from fine to fat."""
    dark = rng.random() < 0.3  # white on black, as MNIST itself
    sheet = Sheet(rng, w, h, "desk")
    sheet.rgb[:] = 0.0 if dark else 255.0
    digits, numbers = [], []
    if not empty:
        colour = np.array((255.0,) * 3 if dark else (0.0,) * 3, np.float32)
        cov = sheet.layer(colour, 0.0)
        n_lines = 1 if rng.random() < 0.7 else 2
        line_h = rng.uniform(0.25, 0.8 if n_lines == 1 else 0.4) * min(w, h)
        thresh, dil = rng.uniform(0.2, 0.6), rng.uniform(0.0, 2.0)
        slant = rng.uniform(-0.2, 0.2)
        for line in range(n_lines):
            # as many digits as fit (a digit and its gap are under 0.85 of its height wide)
            fit = max(1, int(0.9 * w / (0.85 * line_h)))
            n_dig = min(fit, int(rng.choice([1, 2, 3, 4], p=[0.35, 0.25, 0.2, 0.2])))
            y = (line + 0.5) * h / n_lines - 0.55 * line_h + rng.uniform(-0.03, 0.03) * h
            x = rng.uniform(0.03, max(0.03, 0.95 - n_dig * 0.85 * line_h / w)) * w
            sheet.write_number(rng, cov, mnist, labels, pool, x, y, line_h, n_dig,
                               rng.uniform(0.05, 0.35), slant, thresh, dil, 0.0)
        sheet.render()
        for lab, pts, nid in sheet.digits:
            x0, y0 = int(math.floor(pts[:, 0].min())), int(math.floor(pts[:, 1].min()))
            x1, y1 = int(math.floor(pts[:, 0].max())), int(math.floor(pts[:, 1].max()))
            digits.append({"digit": lab, "box": [x0, y0, x1 - x0 + 1, y1 - y0 + 1]})
        for nid, text in enumerate(sheet.numbers):
            ds = [d["box"] for d, (_, _, n) in zip(digits, sheet.digits) if n == nid]
            x0, y0 = min(b[0] for b in ds), min(b[1] for b in ds)
            x1, y1 = max(b[0] + b[2] for b in ds), max(b[1] + b[3] for b in ds)
            numbers.append({"text": text, "box": [x0, y0, x1 - x0, y1 - y0]})
    img = np.clip(sheet.rgb, 0, 255).astype(np.uint8)
    return img, "canvas", empty, digits, numbers, None


def draw_frame(rng, mnist, labels, pool, photos, kinds, photo_share, big=0.0, want_digits=False,
               screen=0.0, held=0.0, form=0.0, words=0.0, writers=()):
    (w, h) = pick(rng, SIZES)
    kind = pick(rng, kinds)
    while want_digits and kind == "empty":
        kind = pick(rng, kinds)
    # drawn only for sets that ask for big writing, so the others stay as they were
    is_big = big > 0 and rng.random() < big
    if is_big and rng.random() < 0.25:
        if rng.random() < 0.5:  # a square drawing pad
            w = h = int(rng.uniform(200, 600))
        return canvas_frame(rng, mnist, labels, pool, w, h, kind == "empty")
    # drawn only for sets that ask for screens, so the others stay as they were
    is_held = False
    if screen > 0 and rng.random() < screen:
        img = screen_background(rng, photos, photo_share, w, h)
    elif held > 0 and not is_big and rng.random() < held:  # drawn only for --held sets, likewise
        is_held = True
        img = room_background(rng, photos, photo_share, w, h)
        draw_person(rng, img)
    elif photos and rng.random() < photo_share:
        img = photo_background(rng, photos[rng.integers(0, len(photos))], w, h)
    else:
        img = desk_background(rng, w, h)
    occ = np.zeros((h, w), bool)
    if not is_held:
        draw_objects(rng, img, np.zeros((h, w), bool), int(rng.integers(0, 4)))
    empty = kind == "empty"
    sheet_kind = ["desk", "close", "note", "board", "dark", "page"][rng.integers(0, 6)] if empty else kind
    digits, numbers, corners = [], [], None
    if is_big and not empty:
        sheet_kind = ["desk", "close", "note", "board", "dark"][rng.integers(0, 5)]
    if not (empty and rng.random() < 0.3):
        quad, sw, sh = held_quad(rng, w, h) if is_held else sheet_quad(rng, w, h, sheet_kind, is_big)
        corners = [[round(float(x), 1), round(float(y), 1)] for x, y in quad]
        sheet = Sheet(rng, sw, sh, sheet_kind)
        sheet.rule(rng)
        # drawn only for --words sets, so the others stay as they were
        if words > 0 and writers and not is_big and rng.random() < words:
            sheet.writer = writers[rng.integers(0, len(writers))]
        if rng.random() < 0.6:
            sheet.printed(rng, int(rng.integers(1, 4)))
        if not empty and is_big:
            line_h = min(rng.uniform(0.25, 0.75) * min(w, h), sh / 1.75)
            fit = max(1, min(4, int(0.9 * sw / (0.85 * line_h))))
            sheet.write_numbers(rng, mnist, labels, pool, line_h, int(rng.integers(1, 3)), 2,
                                marker=rng.random() < 0.5, max_digits=fit)
        elif not empty:
            small = min(w, h)
            if sheet_kind == "page":
                line_h = rng.uniform(12, 22)
            else:
                line_h = math.exp(rng.uniform(math.log(12), math.log(max(13, small / (4 if sheet_kind != "note" else 5)))))
            line_h = min(line_h, sh / 3)
            n_lines = int(rng.integers(1, 8)) if sheet_kind != "note" else int(rng.integers(1, 3))
            # drawn only for --form sets, so the others stay as they were
            if form > 0 and rng.random() < form and sheet_kind not in ("board", "dark"):
                sheet.write_form(rng, mnist, labels, pool, min(line_h, sh / 5), int(rng.integers(1, 6)))
            else:
                sheet.write_numbers(rng, mnist, labels, pool, line_h, n_lines, 3)
        if sheet.writer is not None:
            small = min(w, h)
            hh = math.exp(rng.uniform(math.log(12), math.log(max(13, small / 6))))
            sheet.handwritten(rng, int(rng.integers(1, 7 if empty else 4)), min(hh, sh / 4))
        if rng.random() < 0.3:
            sheet.printed(rng, 1)
        rgb = sheet.render()
        src = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float32)
        H = cv2.getPerspectiveTransform(src, quad)
        # shadow of the sheet on the desk, then the sheet
        mask = cv2.warpPerspective(np.ones((sh, sw), np.float32), H, (w, h), flags=cv2.INTER_LINEAR)
        off = np.float32([[1, 0, rng.uniform(-8, 8)], [0, 1, rng.uniform(2, 12)]])
        shadow = cv2.GaussianBlur(cv2.warpAffine(mask, off, (w, h)), (0, 0), rng.uniform(3, 10))
        img *= (1 - 0.45 * shadow * rng.random())[:, :, None]
        warped = cv2.warpPerspective(rgb, H, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        img[:] = img * (1 - mask[:, :, None]) + warped
        if is_held:
            draw_thumbs(rng, img, occ, quad)
        elif rng.random() < 0.35:  # something over the sheet: a pen, a hand
            draw_objects(rng, img, occ, 1, over_sheet_quad=quad)
        for lab, pts, nid in sheet.digits:
            fp = cv2.perspectiveTransform(pts[None], H)[0]
            xs, ys = fp[:, 0], fp[:, 1]
            inside = (xs >= 0) & (ys >= 0) & (xs < w) & (ys < h)
            xi = np.clip(xs.astype(int), 0, w - 1)
            yi = np.clip(ys.astype(int), 0, h - 1)
            ignore = (not inside.all()) or bool(occ[yi, xi].any())
            if not inside.any():
                box = [w, h, -w, -h]
            else:
                x0, y0 = int(math.floor(xs[inside].min())), int(math.floor(ys[inside].min()))
                x1, y1 = int(math.floor(xs[inside].max())), int(math.floor(ys[inside].max()))
                box = [x0, y0, x1 - x0 + 1, y1 - y0 + 1]
            digits.append({"digit": lab, "box": box, "ignore": ignore, "nid": nid})
        for nid, text in enumerate(sheet.numbers):
            ds = [d for d in digits if d["nid"] == nid]
            xs0 = min(d["box"][0] for d in ds)
            ys0 = min(d["box"][1] for d in ds)
            xs1 = max(d["box"][0] + d["box"][2] for d in ds)
            ys1 = max(d["box"][1] + d["box"][3] for d in ds)
            numbers.append({"text": text, "box": [xs0, ys0, xs1 - xs0, ys1 - ys0],
                            "ignore": any(d["ignore"] for d in ds)})
    # a cast shadow, uneven light, colour cast, vignette
    if rng.random() < 0.35:
        poly = np.array([[rng.uniform(-0.2, 1.2) * w, rng.uniform(-0.2, 1.2) * h] for _ in range(4)], np.int32)
        sm = np.zeros((h, w), np.float32)
        cv2.fillConvexPoly(sm, cv2.convexHull(poly), 1.0)
        sm = cv2.GaussianBlur(sm, (0, 0), rng.uniform(4, 30))
        img *= (1 - rng.uniform(0.2, 0.55) * sm)[:, :, None]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    g = 1 + rng.uniform(-0.3, 0.3) * (xx / w - 0.5) + rng.uniform(-0.3, 0.3) * (yy / h - 0.5)
    v = 1 - rng.uniform(0, 0.45) * (((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * 2)
    img *= (g * v * rng.uniform(0.6, 1.15))[:, :, None]
    img *= rng.uniform(0.85, 1.15, 3).astype(np.float32)[None, None, :]
    # the camera: defocus or motion, a low-resolution sensor, noise
    r = rng.random()
    if r < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.4))
    elif r < 0.6:
        k = int(rng.integers(3, 7))
        kern = np.zeros((k, k), np.float32)
        kern[k // 2, :] = 1.0 / k
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(0, 180), 1.0)
        kern = cv2.warpAffine(kern, rot, (k, k))
        img = cv2.filter2D(img, -1, kern / max(kern.sum(), 1e-6))
    if rng.random() < 0.15 and w >= 640:
        f = rng.uniform(0.5, 0.75)
        img = cv2.resize(cv2.resize(img, (int(w * f), int(h * f)), interpolation=cv2.INTER_AREA), (w, h),
                         interpolation=cv2.INTER_LINEAR)
    img += rng.normal(0, rng.uniform(1.5, 7), img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    for d in digits:
        del d["nid"]
        if not d["ignore"]:
            del d["ignore"]
    for n in numbers:
        if not n["ignore"]:
            del n["ignore"]
    return out, kind, empty, digits, numbers, corners


def options(argv):
    """The --empty and --photo shares and the positional arguments left."""
    argv = list(argv)
    shares = {"--empty": 0.15, "--photo": 0.7, "--big": 0.0, "--screen": 0.0, "--held": 0.0, "--form": 0.0,
              "--words": 0.0}
    while len(argv) > 2 and argv[1] in shares:
        try:
            shares[argv[1]] = float(argv[2])
        except ValueError:
            shares[argv[1]] = -1.0
        if not 0 <= shares[argv[1]] <= 1:
            sys.exit(f"othergen: {argv[1]} takes a share from 0 to 1 (got '{argv[2]}')")
        del argv[1:3]
    if len(argv) < 6 or argv[5] not in ("train", "t10k"):
        sys.exit("usage: othergen.py [--empty X] [--photo X] [--big X] [--screen X] [--held X] [--form X] "
                 "[--words X] OUTDIR N SEED MNIST_DIR train|t10k PHOTO...")
    return (shares["--empty"], shares["--photo"], shares["--big"], shares["--screen"],
            shares["--held"], shares["--form"], shares["--words"], argv)


def load_photos(paths, split):
    """Every fourth photograph (in the order given) for t10k, the others for train, RGB, at most
    1600 px on their longer side."""
    photos = []
    for i, p in enumerate(paths):
        if (i % 4 == 3) == (split == "t10k"):
            ph = cv2.imread(p, cv2.IMREAD_COLOR)
            if ph is None:
                sys.exit(f"othergen: cannot read photograph {p}")
            if max(ph.shape[:2]) > 1600:
                f = 1600 / max(ph.shape[:2])
                ph = cv2.resize(ph, (int(ph.shape[1] * f), int(ph.shape[0] * f)), interpolation=cv2.INTER_AREA)
            photos.append(ph[:, :, ::-1].copy())
    return photos


def main(argv):
    empty, photo_share, big, screen, held, form, words, argv = options(argv)
    out, mnist_dir, split = argv[1], argv[4], argv[5]
    writers = hand_writers(split) if words > 0 else []
    if words > 0 and not writers:
        sys.exit(f"othergen: --words needs the handwriting fonts under {FONT_ROOT}; run scripts/install-deps --worlds")
    n, seed = count_and_seed("othergen", argv[2], argv[3])
    mnist, labels = load_mnist(mnist_dir, split)
    photos = load_photos(argv[6:], split)
    kinds = kinds_with(empty)
    rng = np.random.default_rng(seed)
    pool = np.arange(len(labels))

    def frames():
        for k in range(n):
            img, kind, is_empty, digits, numbers, corners = make_frame(rng, mnist, labels, pool, photos,
                                                              kinds, photo_share, big, screen, held,
                                                              form, words, writers)
            ext = "png" if rng.random() < 0.15 else "jpg"
            params = [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 95))] if ext == "jpg" else []
            yield (f"other_{k:04d}.{ext}", img[:, :, ::-1], params,
                   {"kind": kind, "empty": is_empty, "digits": digits, "numbers": numbers,
                    "sheet": corners})

    write_frames("othergen", out, frames())


if __name__ == "__main__":
    main(sys.argv)
