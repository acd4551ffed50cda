"""Run the kiosk on a camera for a few seconds (used under strace by test_kiosk).

    kiosk_probe.py CATALOG SECONDS [SOURCE]

Without SOURCE, frames come from the demo video, decoded into memory before the window opens,
through a source that says it is a camera. With SOURCE (a named pipe another process writes a
live YUV4MPEG stream into), the kiosk's own capture path reads it: `open_source` -> OpenCV's
VideoCapture (FFmpeg) on a device path, as a capture process's pipe would be read. Between the two marker look-ups (paths that do not exist), the test
checks that no file was opened for writing, created, renamed or removed, and nothing written.
"""
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))   # the checkout

import cv2  # noqa: E402
from PySide6.QtCore import QCoreApplication  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from edge.live.capture import FrameSource, open_source  # noqa: E402
from edge.config import load_config  # noqa: E402
from ui.app import KioskState, KioskWindow  # noqa: E402
from edge.runtime import Runtime  # noqa: E402


class FakeCamera(FrameSource):
    is_camera = True
    fps = 15.0

    def __init__(self, frames):
        self.frames, self.i = frames, 0

    def read(self):
        time.sleep(1 / self.fps)
        self.i += 1
        return self._frame(self.frames[self.i % len(self.frames)])


def mark(name):
    """An open() of a path that cannot exist: a line the test finds in the strace log."""
    try:
        open(f"/nonexistent/SIGNAGE-MARK-{name}")
    except OSError:
        pass


def main():
    catalog_dir, seconds = sys.argv[1], float(sys.argv[2])
    cap = cv2.VideoCapture(os.path.join(os.path.dirname(__file__), "..", "..", "demo", "demo.avi"))
    frames = []
    while len(frames) < 120:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    app = QApplication(sys.argv[:1])
    cfg = load_config()
    cfg.catalog_dir = Path(catalog_dir)
    state = KioskState()
    rt = Runtime(cfg)
    pipeline, catalog = rt.pipeline("0", **state.callbacks()), rt.catalog
    if len(sys.argv) > 3:
        live = open_source(sys.argv[3])
        assert live.is_camera, "a named pipe is a live camera feed"
        pipeline.open_source = lambda: live
    else:
        pipeline.open_source = lambda: FakeCamera(frames)
    # the screen's counters and their hourly message, every second here (to a broker that is not
    # there: paho keeps them in memory), so the trace covers them too
    from edge.live.engagement import Engagement
    from sync.stats import StatsPublisher
    engagement = Engagement(cfg.analytics.session_min_s, cfg.kiosk.attract_after_s)
    stats = StatsPublisher(engagement, "demo", "probe", "1", "127.0.0.1", 9, "probe", "x", interval_s=1.0)
    win = KioskWindow(cfg, state, catalog, engagement=engagement)
    win.resize(1280, 720)
    win.show()
    for _ in range(20):
        QCoreApplication.processEvents()
    mark("START")
    stats.start()
    pipeline.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.01)
    shown = win._shown_key
    pipeline.stop()
    stats.stop(flush=False)
    mark("END")
    pipeline.raise_if_failed()
    counted = sum(sum(m["shown"]["similar"].values()) for m in stats.sent)
    print("RESULTS", pipeline.results, "SHOWN", bool(shown and shown[2]), "WINDOWS", len(stats.sent),
          "COUNTED", counted, flush=True)
    os._exit(0)   # skip Qt teardown: the check is over


if __name__ == "__main__":
    main()
