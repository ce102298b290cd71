"""digits: read handwritten digits and numbers in images, from Python.

A thin layer over libdigits (the C library of the `digits` program, include/digits.h) through
ctypes: no compiler is needed, only the library. Images are NumPy uint8 arrays as OpenCV gives
them: (H, W) grey, (H, W, 3) BGR or (H, W, 4) BGRA. Results are plain Python objects with the
fields of `digits scan --json`.

    import cv2, digits
    reader = digits.Reader()                 # the installed robust model, one thread
    result = reader.read(cv2.imread("page.jpg"))
    for n in result["numbers"]:
        print(n["text"], n["box"])

The library is found at $DIGITS_LIBRARY when set, else in the build tree beside this package
(build/libdigits.so, for PYTHONPATH=python), else by the system's loader (libdigits.so.0, after
`make install`). The GIL is released while the C code runs, so readers in several threads read in
parallel; a Reader itself is for one thread at a time.
"""
import ctypes
import ctypes.util
import os
import struct

import numpy as np

__all__ = ["Reader", "DigitsError", "version", "default_model", "as_printed"]

_GREY, _RGB, _BGR, _RGBA, _BGRA = 1, 2, 3, 4, 5
_CODES = {-1: "EIO", -2: "EFORMAT", -3: "ENOMEM", -4: "EARG"}


class DigitsError(Exception):
    """A libdigits error: str(e) is the library's one-line reason, e.code its DIGITS_E* code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.name = _CODES.get(code, str(code))


class _Digit(ctypes.Structure):
    _fields_ = [("digit", ctypes.c_int), ("confidence", ctypes.c_float),
                ("top3", ctypes.c_int * 3), ("top3_p", ctypes.c_float * 3),
                ("box", ctypes.c_int * 4)]


class _Number(ctypes.Structure):
    _fields_ = [("text", ctypes.c_char_p), ("confidence", ctypes.c_float),
                ("box", ctypes.c_int * 4), ("first", ctypes.c_int), ("count", ctypes.c_int)]


class _Result(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int),
                ("n_digits", ctypes.c_int), ("digits", ctypes.POINTER(_Digit)),
                ("n_numbers", ctypes.c_int), ("numbers", ctypes.POINTER(_Number)),
                ("ms", ctypes.c_double), ("light", ctypes.c_float), ("noise", ctypes.c_float),
                ("blur", ctypes.c_float), ("hints", ctypes.c_uint), ("advice", ctypes.c_char_p)]


def _find_library():
    explicit = os.environ.get("DIGITS_LIBRARY")
    if explicit:
        return explicit
    here = os.path.dirname(os.path.abspath(__file__))
    tree = os.path.join(here, "..", "..", "build", "libdigits.so")
    if os.path.exists(tree):
        return tree
    return ctypes.util.find_library("digits") or "libdigits.so.0"


def _load():
    path = _find_library()
    try:
        lib = ctypes.CDLL(path)  # CDLL releases the GIL around every call
    except OSError as e:
        raise ImportError(f"digits: cannot load libdigits ({path}): {e}; build it with `make lib` "
                          "or install it with `make install`, or set DIGITS_LIBRARY") from None
    P, c_int, c_size_t = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
    lib.digits_version.restype = ctypes.c_char_p
    lib.digits_errmsg.restype = ctypes.c_char_p
    lib.digits_default_model.restype = ctypes.c_char_p
    lib.digits_reader_open.argtypes = [ctypes.c_char_p, c_int, ctypes.POINTER(P)]
    lib.digits_reader_close.argtypes = [P]
    lib.digits_reader_set_min_confidence.argtypes = [P, ctypes.c_float]
    lib.digits_reader_set_video.argtypes = [P, c_int]
    lib.digits_read.argtypes = [P, P, c_int, c_int, c_size_t, c_int,
                                ctypes.POINTER(ctypes.POINTER(_Result))]
    lib.digits_read_file.argtypes = [P, ctypes.c_char_p, ctypes.POINTER(ctypes.POINTER(_Result))]
    lib.digits_result_free.argtypes = [ctypes.POINTER(_Result)]
    lib.digits_classify.argtypes = [P, P, c_int, P, P]
    return lib


_lib = _load()
_string_at = ctypes.string_at


def version():
    """The version of the libdigits loaded, "MAJOR.MINOR.PATCH"."""
    return _lib.digits_version().decode()


def default_model():
    """The path of the model Reader() opens by default: $DIGITS_ROOT/models/robust.safetensors when
    DIGITS_ROOT is set, else the installed one (PREFIX/share/digits/models/robust.safetensors)."""
    root = os.environ.get("DIGITS_ROOT")
    if root:
        return os.path.join(root, "models", "robust.safetensors")
    return _lib.digits_default_model().decode()


def as_printed(result):
    """A Reader.read result as `digits scan --json` prints it (without "image" and "ms"):
    probabilities to 4 places, the camera's light, noise and blur to 1, 4 and 3, no number's
    digit indices."""
    out = {"width": result["width"], "height": result["height"],
           "digits": [{"digit": d["digit"], "confidence": round(d["confidence"], 4),
                       "top3": [[k, round(p, 4)] for k, p in d["top3"]], "box": d["box"]}
                      for d in result["digits"]],
           "numbers": [{"text": n["text"], "confidence": round(n["confidence"], 4),
                        "box": n["box"]} for n in result["numbers"]]}
    if "camera" in result:
        c = result["camera"]
        out["camera"] = dict(c, light=round(c["light"], 1), noise=round(c["noise"], 4),
                             blur=round(c["blur"], 3))
    return out


def _check(rc):
    if rc != 0:
        raise DigitsError(rc, _lib.digits_errmsg().decode(errors="replace"))


# The C structs as struct formats (native alignment; "0P" pads a number to its pointer's
# alignment as C does), checked against ctypes' layout at import.
_DIGIT = struct.Struct("@if3i3f4i")
_NUMBER = struct.Struct("@Pf4iii0P")
_RESULT = struct.Struct("@iiiPiPdfffIP")
_HINTS = ("dark", "noisy", "blurred")
assert _DIGIT.size == ctypes.sizeof(_Digit) and _NUMBER.size == ctypes.sizeof(_Number)
assert _RESULT.size == ctypes.sizeof(_Result)


def _to_python(res):
    """The C result as plain Python objects. Each array is copied out in one ctypes.string_at and
    unpacked by struct: a ctypes field access per value cost more than the conversion itself, and
    the module's overhead over the C call is measured in `make bench` (goal: under 5%)."""
    (width, height, n_digits, digits_at, n_numbers, numbers_at, ms, light, noise, blur, hints,
     advice) = _RESULT.unpack(_string_at(res, _RESULT.size))
    digits = [{"digit": d, "confidence": c, "top3": [[t0, p0], [t1, p1], [t2, p2]],
               "box": [x, y, w, h]}
              for d, c, t0, t1, t2, p0, p1, p2, x, y, w, h
              in _DIGIT.iter_unpack(_string_at(digits_at, n_digits * _DIGIT.size))
              ] if n_digits else []
    numbers = [{"text": _string_at(v[0]).decode(), "confidence": v[1], "box": list(v[2:6]),
                "digits": list(range(v[6], v[6] + v[7]))}
               for v in _NUMBER.iter_unpack(_string_at(numbers_at, n_numbers * _NUMBER.size))
               ] if n_numbers else []
    out = {"width": width, "height": height, "digits": digits, "numbers": numbers}
    if light >= 0:
        out["camera"] = {"light": light, "noise": noise, "blur": blur,
                         "hints": [h for k, h in enumerate(_HINTS) if hints & (1 << k)]}
        if hints:
            out["camera"]["advice"] = _string_at(advice).decode()
    out["ms"] = ms
    return out


class Reader:
    """A reader: a model and the scanner's working memory. For one thread at a time.

    model: a safetensors file written by `digits train` (None: the installed robust model, or
    $DIGITS_ROOT/models/robust.safetensors). threads: OpenMP threads per image (0: all cores).
    min_confidence: below this a candidate is not reported as a digit (0.5). video: the images
    read are frames of one video, as `digits live` reads them (see set_video)."""

    def __init__(self, model=None, threads=1, min_confidence=None, video=False):
        self._rd = ctypes.c_void_p()
        path = None if model is None else os.fsencode(model)
        _check(_lib.digits_reader_open(path, int(threads), ctypes.byref(self._rd)))
        if min_confidence is not None:
            _check(_lib.digits_reader_set_min_confidence(self._rd, float(min_confidence)))
        if video:
            self.set_video(True)

    def set_video(self, on=True):
        """With on, the images read next are frames of one video: a candidate that looks as it
        did in the frame before takes the network's sure answer of then instead of being read
        again (a third to two thirds less network work on hand-held video; a few readings in a
        thousand differ). Off (the default), every image is read afresh."""
        _check(_lib.digits_reader_set_video(self._handle(), 1 if on else 0))

    def close(self):
        """Frees the reader now rather than when it is collected."""
        if self._rd:
            _lib.digits_reader_close(self._rd)
            self._rd = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_rd", None):
            self.close()

    def _handle(self):
        if not self._rd:
            raise ValueError("digits: this Reader is closed")
        return self._rd

    def read(self, image):
        """Reads a uint8 image: (H, W) grey, (H, W, 3) BGR or (H, W, 4) BGRA, as cv2.imread and
        VideoCapture give them. Returns {"width", "height", "digits": [{"digit", "confidence",
        "top3", "box"}], "numbers": [{"text", "confidence", "box", "digits"}], "camera", "ms"};
        boxes are [x, y, width, height] in pixels, a number's "digits" the indices of its digits,
        probabilities the network's own (scan --json prints them to 4 places), and "camera" what
        the reader saw of the camera: {"light", "noise", "blur", "hints": ["dark", "noisy",
        "blurred"], "advice"} ("advice" when a hint holds; no "camera" for an image under 64 px,
        read as a crop)."""
        a = np.asarray(image)
        if a.dtype != np.uint8:
            raise TypeError(f"digits: images must be uint8, not {a.dtype}")
        if a.ndim == 2:
            fmt = _GREY
        elif a.ndim == 3 and a.shape[2] in (3, 4):
            fmt = _BGR if a.shape[2] == 3 else _BGRA
        else:
            raise ValueError(f"digits: an image is (H, W), (H, W, 3) or (H, W, 4), not {a.shape}")
        bpp = 1 if a.ndim == 2 else a.shape[2]
        if a.strides[-1] != 1 or (a.ndim == 3 and a.strides[1] != bpp) or a.strides[0] < 0:
            a = np.ascontiguousarray(a)  # rows may be padded; pixels must be packed
        res = ctypes.POINTER(_Result)()
        # __array_interface__ gives the address for less than a.ctypes does
        _check(_lib.digits_read(self._handle(), a.__array_interface__["data"][0], a.shape[1],
                                a.shape[0], a.strides[0], fmt, ctypes.byref(res)))
        try:
            return _to_python(res)
        finally:
            _lib.digits_result_free(res)

    def read_file(self, path):
        """Reads an image file (PNG, JPEG with its EXIF orientation, BMP, PGM, ...) as
        `digits scan` does; the same dictionary as read()."""
        res = ctypes.POINTER(_Result)()
        _check(_lib.digits_read_file(self._handle(), os.fsencode(path), ctypes.byref(res)))
        try:
            return _to_python(res)
        finally:
            _lib.digits_result_free(res)

    def classify(self, batch):
        """Classifies ready MNIST-style inputs: uint8 (N, 28, 28), white ink on black, fitted into
        the middle 20x20 and centred by mass. Returns (labels, probs): labels (N,) int, the
        likeliest digit; probs (N, 11) float32, digits 0..9 then "not a digit" (or,
        with a 12-class model such as the shipped ones, two digits: not one digit)."""
        a = np.ascontiguousarray(batch, dtype=np.uint8)
        if a.ndim == 2 and a.shape == (28, 28):
            a = a[None]
        if a.ndim != 3 or a.shape[1:] != (28, 28):
            raise ValueError(f"digits: classify takes (N, 28, 28), not {a.shape}")
        labels = np.empty(a.shape[0], dtype=np.intc)
        probs = np.empty((a.shape[0], 11), dtype=np.float32)
        _check(_lib.digits_classify(self._handle(), a.ctypes.data, a.shape[0],
                                    labels.ctypes.data, probs.ctypes.data))
        return labels.astype(int), probs
