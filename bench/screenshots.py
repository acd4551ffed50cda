"""Screenshots of every kiosk screen into docs/screenshots/, from a real window on the demo video.

    deploy/screenshots.sh          (runs this under Xvfb)

The demo catalogue must be imported (deploy/install.sh does it).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication

from edge.config import load_config

from edge.runtime import Runtime
from ui.app import KioskState, KioskWindow

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def pump(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.01)


def wait_for(cond, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        if cond():
            return True
        time.sleep(0.02)
    return False


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    cfg = load_config()
    cfg.kiosk.fullscreen = False
    OUT.mkdir(parents=True, exist_ok=True)
    shots = []

    def shoot(widget, name):
        widget.grab().save(str(OUT / f"{name}.png"))
        shots.append(name)

    # attract loop: nothing in view yet
    state = KioskState()
    rt = Runtime(cfg)
    pipeline, catalog = rt.pipeline(cfg.kiosk.source, **state.callbacks()), rt.catalog
    win = KioskWindow(cfg, state, catalog)
    win.resize(1920, 1080)
    win.show()
    pump(1.0)
    shoot(win, "1-attract")

    pipeline.start()
    try:
        ok = wait_for(lambda: state.result is not None and state.result.main is not None
                      and win.stack.currentWidget() is win.live and win._shown_key is not None
                      and len(win._shown_key[2]) > 0, 30)
        if not ok:
            print("no suggestion appeared within 30 s", file=sys.stderr)
            return 1
        pump(0.5)
        shoot(win, "2-find-similar")
        win.set_mode("look")
        wait_for(lambda: win._shown_key is not None and win._shown_key[0] == "look" and win._shown_key[2], 10)
        pump(0.3)
        shoot(win, "3-complete-the-look")
        win.set_mode("shop")
        wait_for(lambda: win._shown_key is not None and win._shown_key[0] == "shop" and win._shown_key[2], 10)
        pump(0.3)
        shoot(win, "4-shop-the-look")
        sku = win._shown_key[2][0]
        win.open_detail(sku)
        pump(0.5)
        shoot(win, "5-product-detail")
        win.close_detail()
        win.set_mode("similar")
        win.resize(1080, 1920)          # a portrait screen
        pump(1.5)
        shoot(win, "6-portrait")
        win.resize(1920, 1080)
        win.set_mode("shop")            # the demo video's last part: people walking
        if wait_for(lambda: state.result is not None and state.result.people >= 2 and win._shown_key is not None
                    and win._shown_key[0] == "shop" and len(win._shown_key[2]) >= 4, 60):
            pump(0.3)
            shoot(win, "8-shop-the-look-people")
        else:
            print("no people with items in the demo video within 60 s", file=sys.stderr)
    finally:
        pipeline.stop()
        win.close()

    # the screen a store sees when a model or the catalogue is missing
    bad = KioskWindow(cfg, KioskState(), None,
                      problem="no catalogue in /var/lib/signage/catalog: import one with "
                              "`signage catalog import CSV --catalog /var/lib/signage/catalog`")
    bad.resize(1920, 1080)
    bad.show()
    pump(0.5)
    shoot(bad, "7-problem")
    bad.close()
    print("wrote " + ", ".join(f"docs/screenshots/{s}.png" for s in shots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
