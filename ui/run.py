"""`signage kiosk`: build the stages from the config and show the window.

Any missing model or catalogue is shown on screen with the command that fixes it, instead of a
crash; a camera that drops out is retried with back-off while the attract loop shows.
"""
from __future__ import annotations

import os
import sys

from edge.config import Config
from edge.errors import SignageError


def build_pipeline(cfg: Config, source: str, state, loop: bool | None = None):
    """The edge side of the kiosk: vision, catalogue, recognizer and the two-thread pipeline."""
    from edge.capture import open_source
    from edge.catalog import Catalog
    from edge.compat import CompatModel
    from edge.looks import CompleteTheLook
    from edge.pipeline import KioskPipeline, Recognizer
    from edge.similar import FindSimilar
    from edge.vision import Vision, index_params
    from edge.errors import ModelMissing

    vision = Vision(cfg)
    catalog = Catalog(cfg.catalog_dir, index_params(cfg))
    compat_path = cfg.models_dir / "compat.json"
    if not compat_path.is_file():
        raise ModelMissing(f"outfit compatibility model {compat_path} not found: run `signage compat train`")
    looks = CompleteTheLook(catalog, CompatModel.load(compat_path))
    recognizer = Recognizer(FindSimilar(vision, catalog), looks, k=cfg.kiosk.suggestions,
                            stable_frames=cfg.kiosk.stable_frames)
    catalog.index(vision.model_version)    # load (or rebuild) the index before the first shopper
    loop = cfg.kiosk.loop if loop is None else loop
    pipeline = KioskPipeline(lambda: open_source(source, loop=loop), recognizer,
                             on_frame=state.put_frame, on_result=state.put_result, on_status=state.put_status)
    return pipeline, catalog


def run_kiosk(cfg: Config, source: str | None = None, windowed: bool = False, quit_after: float | None = None) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .app import KioskState, KioskWindow

    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
        raise SignageError("no display: run under X (DISPLAY) or set QT_QPA_PLATFORM=offscreen")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    state = KioskState()
    pipeline, catalog, problem = None, None, None
    try:
        pipeline, catalog = build_pipeline(cfg, source or cfg.kiosk.source, state)
    except SignageError as e:
        problem = str(e)
    def sync_status() -> str:
        if catalog is None or cfg.sync.public_key is None:
            return "sync: off"
        return f"sync: seq {catalog.sync_seq}"
    window = KioskWindow(cfg, state, catalog, problem, sync_status=sync_status)
    if cfg.kiosk.fullscreen and not windowed:
        window.showFullScreen()
    else:
        window.resize(1600, 900)
        window.show()
    if pipeline is not None:
        pipeline.start()
    if quit_after:
        QTimer.singleShot(int(quit_after * 1000), window.close)
    try:
        return app.exec()
    finally:
        if pipeline is not None:
            pipeline.stop()
            pipeline.raise_if_failed()
