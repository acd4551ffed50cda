"""The kiosk running, measured: preview fps and frame -> suggestion latency on the demo video.

    QT_QPA_PLATFORM=offscreen python -m bench.kiosk [--seconds 20] [--fps 30]

Runs the real window (offscreen) with the real pipeline. Preview fps counts distinct frames the
window drew per second. Latency is capture -> result ready for each inferred frame; "to card" is
capture of a frame -> the panel showing that frame's suggestions (only frames that changed it).
`--fps` replays the video at that rate (a 30 fps camera) instead of its own 12 fps.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pct(values, q):
    v = sorted(values)
    return round(v[min(len(v) - 1, int(q * len(v)))], 1) if v else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--fps", type=float, default=None)
    a = ap.parse_args()

    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    from edge.live.capture import open_source
    from edge.config import load_config
    from ui.app import KioskState, KioskWindow
    from edge.runtime import Runtime

    app = QApplication.instance() or QApplication([])
    cfg = load_config()
    state = KioskState()
    rt = Runtime(cfg)
    pipeline, catalog = rt.pipeline(cfg.kiosk.source, **state.callbacks()), rt.catalog
    if a.fps:
        def src():
            s = open_source(cfg.kiosk.source, loop=True)
            s.fps = a.fps
            return s
        pipeline.open_source = src
    win = KioskWindow(cfg, state, catalog)
    win.resize(1920, 1080)
    win.show()
    drawn, card_latency = [], []
    refresh = win.refresh
    last_frame = [None]

    def timed_refresh():
        frame = state.frame
        before = win._shown_key
        refresh()
        if frame is not None and frame.id != last_frame[0]:
            last_frame[0] = frame.id
            drawn.append(time.monotonic())
        r = state.result
        if win._shown_key != before and win._shown_key and win._shown_key[2] and r is not None:
            card_latency.append((time.monotonic() - r.captured_at) * 1000)
    win.timer.timeout.disconnect()
    win.timer.timeout.connect(timed_refresh)
    results = []
    put = state.put_result
    pipeline.on_result = lambda r: (results.append(r), put(r))
    pipeline.start()
    t0 = time.monotonic()
    while time.monotonic() - t0 < a.seconds:
        QCoreApplication.processEvents()
        time.sleep(0.002)
    pipeline.stop()
    pipeline.raise_if_failed()
    warm = [r for r in results if r.captured_at - t0 > 2.0]   # first 2 s: model warm-up
    lat = [r.latency_ms for r in warm]
    d = [t for t in drawn if t - t0 > 2.0]
    stage = {k: round(statistics.median(r.timings[k] for r in warm), 1) for k in ("items", "match", "look")}
    out = {"seconds": a.seconds, "source_fps": a.fps or "video (12)",
           "preview_fps": round((len(d) - 1) / (d[-1] - d[0]), 1) if len(d) > 1 else 0,
           "inferred_fps": round(len(warm) / (a.seconds - 2.0), 1), "dropped_frames": pipeline.slot.dropped,
           "result_latency_ms": {"p50": pct(lat, 0.5), "p95": pct(lat, 0.95)},
           "frame_to_card_ms": {"p50": pct(card_latency, 0.5), "p95": pct(card_latency, 0.95),
                                "n": len(card_latency)},
           "stage_ms_p50": stage}
    print(json.dumps(out, indent=2))
    os._exit(0)


if __name__ == "__main__":
    main()
