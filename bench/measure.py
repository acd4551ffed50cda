"""What every benchmark measures with: timings and their percentiles, the machine and its vector
features, the live path end to end, a cold start, and the verdict against a target. Imports
nothing else of bench/, so every benchmark and the report can use it."""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np


ROOT = Path(__file__).resolve().parent.parent
# oneDNN capped to AVX2: how a store PC without AVX-512 is emulated on a bigger CPU
ISA_ENV = {"native": {}, "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"}}
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def stats(ts: list[float]) -> dict:
    ts = sorted(ts)
    return {"p50": round(statistics.median(ts), 2), "p95": round(ts[int(0.95 * (len(ts) - 1))], 2),
            "p99": round(ts[int(0.99 * (len(ts) - 1))], 2), "n": len(ts)}


def timed(fn, runs: int, warm: int = 5) -> dict:
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    return stats(ts)


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def vector_features() -> str:
    """The CPU's vector features the figures depend on (store PCs are mostly AVX2 only)."""
    flags = set()
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    names = [("avx2", "avx2"), ("avx512f", "avx512"), ("avx512_bf16", "bf16"), ("avx512_vnni", "vnni"),
             ("avx_vnni", "avx-vnni"), ("amx_bf16", "amx")]
    return " ".join(n for f, n in names if f in flags) or "no avx2"


def machine() -> str:
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    import openvino as ov
    return (f"{cpu}, {os.cpu_count()} cores ({vector_features()}), Python {platform.python_version()}, "
            f"OpenVINO {ov.__version__.split('-')[0]}")


# ---- end to end ---------------------------------------------------------------------------------
def person_clip(n: int = 120, people: int = 1) -> list[np.ndarray]:
    """People moving across the frame (messi5.jpg side by side, every other one mirrored,
    panned): one person on 640x360, more on a 1280x720 camera frame."""
    img = cv2.imread(str(OPENCV_DATA / "messi5.jpg"))
    if people > 1:
        img = np.hstack([img if i % 2 == 0 else cv2.flip(img, 1) for i in range(people)])
        f = 1200 / img.shape[1]
        img = cv2.resize(img, (1200, int(img.shape[0] * f)), interpolation=cv2.INTER_AREA)
    canvas_w, canvas_h = (640, 360) if people == 1 else (1280, 720)
    frames = []
    for i in range(n):
        dx = int(40 * np.sin(2 * np.pi * i / n))
        frame = np.full((canvas_h, canvas_w, 3), 30, np.uint8)
        x0, y0 = (canvas_w - img.shape[1]) // 2 + dx, (canvas_h - img.shape[0]) // 2
        frame[y0:y0 + img.shape[0], x0:x0 + img.shape[1]] = img
        frames.append(frame)
    return frames


def video_frames(path: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while len(out) < n:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f)
    cap.release()
    return out


def bench_e2e(cfg, vision, catalog, compat, frames: list[np.ndarray]) -> dict:
    """Naive loop (every stage for every item, every frame, one after another) against the
    kiosk's pipelined path (capture thread + inference thread, tracking, cached matches/looks)."""
    from edge.live.capture import FrameSource
    from edge.styling.looks import Anchor, CompleteTheLook
    from edge.taxonomy import slot_of
    from edge.live.pipeline import KioskPipeline
    from edge.live.recognizer import Recognizer
    from edge.styling.similar import FindSimilar
    similar = FindSimilar(vision, catalog)
    looks = CompleteTheLook(catalog, compat)

    def naive(img):
        found = vision.find_items(img)
        out = [similar.match(vision.embedder(img, it), 4) for it in found.items]
        if out:
            m = out[0]
            looks(Anchor(slot_of(m.category, m.item.kind) or "upper", m.category, m.colors))
        return out
    for f in frames[:5]:
        naive(f)
    t0 = time.perf_counter()
    lat = []
    for f in frames:
        t = time.perf_counter()
        naive(f)
        lat.append((time.perf_counter() - t) * 1000)
    naive_fps = len(frames) / (time.perf_counter() - t0)

    def pipelined(fps: float, seconds: float) -> tuple[KioskPipeline, list, float]:
        total = int(fps * seconds)

        class Replay(FrameSource):
            def __init__(self):
                self.i = 0
                self.fps = fps

            def read(self):
                if self.i >= total:
                    return None
                self.i += 1
                return self._frame(frames[(self.i - 1) % len(frames)].copy())   # a new buffer, like a camera
        rec = Recognizer(similar, looks, k=4, stable_frames=cfg.kiosk.stable_frames)
        results: list = []
        p = KioskPipeline(Replay, rec, on_result=results.append, pace=True, backoff=(60, 60))
        t0 = time.perf_counter()
        p.start()
        while p.frames_captured < total and time.perf_counter() - t0 < 300:
            time.sleep(0.005)
        # let the last frame's result come out
        while results and results[-1].frame_id < p.slot._taken and time.perf_counter() - t0 < 300:
            time.sleep(0.005)
        elapsed = time.perf_counter() - t0
        p.stop()
        p.raise_if_failed()
        return p, results, elapsed

    # throughput: a source faster than anything can infer (200 fps): how many frames get a result
    p, results, elapsed = pipelined(200.0, len(frames) / 30.0)
    # latency and preview as a 30 fps camera feeds it
    p30, results30, elapsed30 = pipelined(30.0, len(frames) / 30.0)
    lat30 = [r.latency_ms for r in results30[3:]]
    return {"frames": len(frames), "naive_ms": stats(lat), "naive_fps": round(naive_fps, 1),
            "pipelined_inferred_fps": round(len(results) / elapsed, 1),
            "ratio_inferred_vs_naive": round((len(results) / elapsed) / naive_fps, 2),
            "camera30_preview_fps": round(p30.frames_captured / elapsed30, 1),
            "camera30_inferred_fps": round(len(results30) / elapsed30, 1),
            "camera30_result_ms": stats(lat30), "camera30_dropped": p30.slot.dropped,
            "camera30_dropped_per_60": round(p30.slot.dropped * 60 / max(1, p30.frames_captured), 2),
            "camera30_worst_ms": round(max(lat30), 1) if lat30 else None,
            # a stall: camera frames in a row that got no result (the screen's labels stand still)
            "camera30_longest_gap_frames": max((b.frame_id - a.frame_id - 1 for a, b in zip(results30[3:], results30[4:])),
                                               default=0),
            "camera30_people_mean": round(float(np.mean([r.people for r in results30[3:]] or [0])), 2)}


def cold_start(cfg, env: dict | None = None) -> dict:
    """Seconds from a new `signage similar` process to its first suggestion (load and check the
    models, open the catalogue, one photo), with its own empty model cache: the first start
    compiles every model ("first_start_s": a kiosk started after a model update with nothing
    compiled yet), the next three load them from the cache ("cold_start_s", the best of 3: every
    start after `signage models verify --compile`, which the install runs)."""
    import yaml
    original = cfg.config_file
    data = yaml.safe_load(original.read_text()) if original else {}
    cmd = [sys.executable, "-m", "signage.cli", "similar", str(ROOT / "demo" / "catalog" / "images" / "TS-3fc85a3e.jpg"),
           "--catalog", str(cfg.catalog_dir), "--json"]
    colds = []
    with tempfile.TemporaryDirectory(prefix="bench-model-cache-") as cache:
        data["model_cache"] = cache
        # beside the original so its relative paths still hold
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix=".bench-cold-",
                                         dir=original.parent if original else ROOT) as f:
            yaml.safe_dump(data, f)
            f.flush()
            for _ in range(4):
                t = time.perf_counter()
                subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT,
                               env={**(env or os.environ), "SIGNAGE_CONFIG": f.name})
                colds.append(time.perf_counter() - t)
    return {"first_start_s": round(colds[0], 2), "cold_start_s": round(min(colds[1:]), 2)}


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"
