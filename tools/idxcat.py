"""idxcat.py [--not-digits-every K] OUT IN... - joins IDX example sets (PREFIX-images-idx3-ubyte
and PREFIX-labels-idx1-ubyte pairs, as digits scan-eval --mine writes them) into one pair OUT-*,
for digits train --data (make context) or --extra. With --not-digits-every K only every K-th
example labelled 10 ("not a digit") is kept, counted over all the sets in order, and all the
other examples (make mine-words' third of its "not a digit" examples). The images must all be of one
size. Written to .part names and renamed; a failure is one line naming the tool."""
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


def thin(pairs, every, size):
    """The pairs with only the every-th, 2 every-th, ... example labelled 10 kept (counted across
    the pairs in order); the examples of the other labels all kept."""
    out, seen = [], 0
    for rows, cols, img, lab in pairs:
        keep = []
        for i, label in enumerate(lab):
            if label == 10:
                seen += 1
                if seen % every:
                    continue
            keep.append(i)
        out.append((rows, cols, b"".join(img[i * size:(i + 1) * size] for i in keep),
                    bytes(lab[i] for i in keep)))
    return out


def main():
    args, every = sys.argv[1:], 1
    if args[:1] == ["--not-digits-every"]:
        if len(args) < 2 or not args[1].isdigit() or int(args[1]) < 1:
            sys.exit("idxcat: --not-digits-every needs a whole number of 1 or more")
        every, args = int(args[1]), args[2:]
    if len(args) < 2:
        sys.exit("idxcat: usage: idxcat.py [--not-digits-every K] OUT IN... (IDX prefixes)")
    out, ins = args[0], args[1:]
    try:
        pairs = [read_pair(p) for p in ins]
    except (OSError, ValueError, struct.error) as e:
        sys.exit(f"idxcat: {e}")
    sizes = {(r, c) for r, c, _, _ in pairs}
    if len(sizes) != 1:
        sys.exit(f"idxcat: the sets' images differ in size: {sorted(sizes)}")
    rows, cols = sizes.pop()
    if every > 1:
        pairs = thin(pairs, every, rows * cols)
    n = sum(len(lab) for _, _, _, lab in pairs)
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
