"""idxcat.py OUT IN... - joins IDX example sets (PREFIX-images-idx3-ubyte and
PREFIX-labels-idx1-ubyte pairs, as digits scan-eval --mine writes them) into one pair OUT-*, for
digits train --data (make context). The images must all be of one size. Written to .part names
and renamed; a failure is one line naming the tool."""
import os
import struct
import sys


def read_pair(prefix):
    with open(prefix + "-images-idx3-ubyte", "rb") as f:
        img = f.read()
    with open(prefix + "-labels-idx1-ubyte", "rb") as f:
        lab = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", img[:16])
    lmagic, ln = struct.unpack(">II", lab[:8])
    if magic != 0x803 or lmagic != 0x801 or n != ln or len(img) != 16 + n * rows * cols \
            or len(lab) != 8 + n:
        raise ValueError(f"{prefix}: not an IDX image and label pair of {n} examples")
    return rows, cols, img[16:], lab[8:]


def write_atomic(path, head, chunks):
    with open(path + ".part", "wb") as f:
        f.write(head)
        for c in chunks:
            f.write(c)
    os.replace(path + ".part", path)


def main():
    if len(sys.argv) < 3:
        sys.exit("idxcat: usage: idxcat.py OUT IN... (IDX prefixes)")
    out, ins = sys.argv[1], sys.argv[2:]
    try:
        pairs = [read_pair(p) for p in ins]
    except (OSError, ValueError, struct.error) as e:
        sys.exit(f"idxcat: {e}")
    sizes = {(r, c) for r, c, _, _ in pairs}
    if len(sizes) != 1:
        sys.exit(f"idxcat: the sets' images differ in size: {sorted(sizes)}")
    (rows, cols), n = sizes.pop(), sum(len(lab) for _, _, _, lab in pairs)
    try:
        write_atomic(out + "-images-idx3-ubyte", struct.pack(">IIII", 0x803, n, rows, cols),
                     [img for _, _, img, _ in pairs])
        write_atomic(out + "-labels-idx1-ubyte", struct.pack(">II", 0x801, n),
                     [lab for _, _, _, lab in pairs])
    except OSError as e:
        sys.exit(f"idxcat: {e}")
    print(f"{n} examples from {len(ins)} sets into {out}-*")


if __name__ == "__main__":
    main()
