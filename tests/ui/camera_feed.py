"""A live camera feed into a named pipe, as a capture process (GStreamer's v4l2src ! y4menc, ffmpeg
-f v4l2) would write one: the demo video's frames as YUV4MPEG2 at 15 fps, looped, until the reader
goes away or SECONDS pass.

    camera_feed.py PIPE SECONDS
"""
import sys
import time
from pathlib import Path

import cv2

DEMO = Path(__file__).resolve().parent.parent.parent / "demo" / "demo.avi"
FPS = 15


def main():
    pipe, seconds = sys.argv[1], float(sys.argv[2])
    cap = cv2.VideoCapture(str(DEMO))
    ok, img = cap.read()
    h, w = img.shape[:2]
    end = time.monotonic() + seconds
    try:
        with open(pipe, "wb") as out:      # blocks until the kiosk opens the pipe
            out.write(f"YUV4MPEG2 W{w} H{h} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
            while time.monotonic() < end:
                out.write(b"FRAME\n" + cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420).tobytes())
                out.flush()
                time.sleep(1 / FPS)
                ok, img = cap.read()
                if not ok:
                    cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    ok, img = cap.read()
    except BrokenPipeError:      # the kiosk stopped reading: the feed is over
        pass


if __name__ == "__main__":
    main()
