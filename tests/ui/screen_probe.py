"""Under Xvfb with no window manager: does the kiosk window cover the screen? (tests/ui/test_kiosk.py)

Prints "SCREEN w h WINDOW x y w h DIRECTION d" after the window has settled.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))   # the checkout

from PySide6.QtCore import QCoreApplication  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from edge.config import load_config  # noqa: E402
from ui.app import KioskState, KioskWindow  # noqa: E402


def main():
    app = QApplication(sys.argv[:1])
    win = KioskWindow(load_config(), KioskState(), None, problem="no catalogue (probe)")
    win.fill_screen()
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.02)
    s, g = win.screen().geometry(), win.frameGeometry()
    print("SCREEN", s.width(), s.height(), "WINDOW", g.x(), g.y(), g.width(), g.height(),
          "DIRECTION", win.live_box.direction().name, flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
