"""Under Xvfb with no window manager: does the kiosk window cover the screen? (tests/ui/test_kiosk.py)

Prints "SCREEN w h WINDOW x y w h DIRECTION d SCALE s" after the window has settled, then
"PAGE name N ..." for each page: how many of its widgets are cut (cut_widgets), the first three.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))   # the checkout

from PySide6.QtCore import QCoreApplication  # noqa: E402
from PySide6.QtWidgets import QApplication, QScrollArea, QWidget  # noqa: E402

from edge.config import load_config  # noqa: E402
from ui.app import KioskState, KioskWindow  # noqa: E402


def settle(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.02)


def cut_widgets(win) -> list[str]:
    """Visible widgets squeezed below the least size they need (a word or a button cut), or lying
    outside the window."""
    out = []
    frame = win.rect()
    for w in win.stack.currentWidget().findChildren(QWidget):
        if not w.isVisible() or isinstance(w.parentWidget(), QScrollArea) or w.objectName() == "qt_scrollarea_viewport":
            continue
        need = w.minimumSizeHint()
        r = w.rect().translated(w.mapTo(win, w.rect().topLeft()))
        if w.width() + 1 < need.width() or w.height() + 1 < need.height() or not frame.contains(r):
            out.append(f"{type(w).__name__}#{w.objectName()}:{w.width()}x{w.height()}<{need.width()}x{need.height()}")
    return out


def main():
    app = QApplication(sys.argv[:1])
    win = KioskWindow(load_config(), KioskState(), None, problem="no catalogue (probe)")
    win.fill_screen()
    settle(2.0)
    s, g = win.screen().geometry(), win.frameGeometry()
    print("SCREEN", s.width(), s.height(), "WINDOW", g.x(), g.y(), g.width(), g.height(),
          "DIRECTION", win.live_box.direction().name, "SCALE", win.scale, flush=True)
    for name in ("attract", "live", "detail", "problem"):
        win.stack.setCurrentWidget(getattr(win, name))
        settle(0.3)
        cut = cut_widgets(win)
        print("PAGE", name, len(cut), *cut[:3], flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
