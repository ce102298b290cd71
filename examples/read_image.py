#!/usr/bin/env python3
"""read_image.py - the digits module from a program: reads each image file named on the command
line and prints one JSON line per image, as `digits scan --json` prints it.

    PYTHONPATH=python python3 examples/read_image.py page.png photo.jpg   # from the build tree
    python3 examples/read_image.py page.png                               # after pip install ./python
"""
import json
import sys

import digits


def main(paths):
    if not paths:
        print(f"usage: read_image.py IMAGE... (libdigits {digits.version()})", file=sys.stderr)
        return 2
    status = 0
    with digits.Reader() as reader:
        for path in paths:
            try:
                r = reader.read_file(path)
            except digits.DigitsError as e:
                print(f"read_image.py: {e}", file=sys.stderr)
                status = 1
                continue
            line = {"image": path, **digits.as_printed(r), "ms": round(r["ms"], 3)}
            print(json.dumps(line))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
