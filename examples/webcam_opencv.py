#!/usr/bin/env python3
"""webcam_opencv.py - the original design's OpenCV webcam loop with the digits reader dropped in:
capture, read, draw, show; q quits. A video file instead of the camera: webcam_opencv.py clip.mp4.
Prints each frame's numbers when they change."""
import sys

import cv2

import digits

source = sys.argv[1] if len(sys.argv) > 1 else 0          # a file, or the first camera
capture = cv2.VideoCapture(source)
if not capture.isOpened():
    sys.exit(f"webcam_opencv.py: cannot open {source!r} (no camera? name a video file)")
reader = digits.Reader(video=True)                      # frames: sure answers carried over
last = None
while True:
    ok, frame = capture.read()
    if not ok:
        break
    result = reader.read(frame)                           # BGR, as OpenCV gives it
    for d in result["digits"]:
        x, y, w, h = d["box"]
        cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 200, 0), 2)
        cv2.putText(frame, str(d["digit"]), (x, y - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                    (0, 200, 0), 2)
    for n in result["numbers"]:
        x, y, w, h = n["box"]
        cv2.putText(frame, n["text"], (x, y + h + 24), cv2.FONT_HERSHEY_SIMPLEX, 0.9,
                    (255, 80, 0), 2)
    texts = [n["text"] for n in result["numbers"]]
    if texts != last:
        print(" ".join(texts), flush=True)
        last = texts
    cv2.imshow("digits", frame)
    if cv2.waitKey(1) & 0xFF == ord("q"):
        break
capture.release()
cv2.destroyAllWindows()
