"""`signage kiosk`: the runtime's pipeline, and the window that shows its state.

Any missing model or catalogue is shown on screen with the command that fixes it, instead of a
crash; a camera that drops out is retried with back-off while the attract loop shows.
"""
from __future__ import annotations

import os
import sys

from edge.config import Config
from edge.errors import SignageError


def run_kiosk(cfg: Config, source: str | None = None, windowed: bool = False, quit_after: float | None = None) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from edge.runtime import Runtime

    from .app import EXIT_RESTART, KioskState, KioskWindow
    from .i18n import Language, translate

    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
        raise SignageError("no display: run under X (DISPLAY) or set QT_QPA_PLATFORM=offscreen")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    language = Language(cfg.kiosk.language)
    state = KioskState()
    rt = Runtime(cfg)
    pipeline, catalog, problem = None, None, None
    try:
        catalog = rt.open_catalog(reader=True)   # sync writes it; the kiosk only reads
        pipeline = rt.pipeline(source or cfg.kiosk.source, **state.callbacks())
    except SignageError as e:
        problem = str(e)

    def sync_status() -> str:
        if catalog is None or cfg.sync.public_key is None:
            return translate("staff", "sync: off")
        return translate("staff", "sync: seq {n}").format(n=catalog.sync_seq)
    engagement, stats = None, None
    if cfg.analytics.enabled:
        from edge.live.engagement import Engagement
        engagement = Engagement(cfg.analytics.session_min_s, cfg.kiosk.attract_after_s)
        stats = start_stats(cfg, engagement)
    window = KioskWindow(cfg, state, catalog, problem, sync_status=sync_status, engagement=engagement,
                         language=language)
    if cfg.kiosk.fullscreen and not windowed:
        window.fill_screen()
    else:
        window.resize(1600, 900)
        window.show()
    if pipeline is not None:
        pipeline.start()
    if quit_after:
        QTimer.singleShot(int(quit_after * 1000), window.close)
    try:
        rc = app.exec()
    finally:
        if pipeline is not None:
            pipeline.stop()
        if stats is not None:
            stats.stop()
    if pipeline is not None and pipeline.failure:
        print(f"signage kiosk: {pipeline.failure}; exiting so that the service restarts it", file=sys.stderr)
        return rc or EXIT_RESTART
    return rc


def start_stats(cfg: Config, engagement):
    """The screen's hourly counts to head office (sync/service.py says when there are any to send)."""
    from sync.service import stats_publisher
    publisher = stats_publisher(cfg, engagement)
    return publisher.start() if publisher is not None else None
