"""Per-stage latency of the vision core: median and p95 of N runs, on real photos.

    python -m bench.stages [--runs 50] [--precision default|f32]

detect: SSD on the full frame (+ the re-run on each person box); landmarks: BlazePose on one
person box; embed: EfficientNet-Lite0 + colour on one item; search: one query on the demo
catalogue's FAISS index (exact). Absolute times depend on the machine: it is printed too.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import cv2

from edge.catalog.store import Catalog
from edge.config import load_config
from edge.vision.stages import Vision

MESSI = "/usr/share/doc/opencv-doc/examples/data/messi5.jpg"


def timed(fn, runs: int) -> dict:
    for _ in range(5):
        fn()                      # warm-up: first inferences allocate
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    ts.sort()
    return {"p50_ms": round(statistics.median(ts), 2), "p95_ms": round(ts[int(0.95 * (len(ts) - 1))], 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--precision", default=None)
    a = ap.parse_args()
    cfg = load_config()
    if a.precision:
        cfg.precision = a.precision
    v = Vision(cfg)
    img = cv2.imread(MESSI)
    person = next(d for d in v.detector(img) if d.label == "person")
    items = v.find_items(img).items
    upper = next(i for i in items if i.kind == "upper")
    iv = v.embedder(img, upper)
    cat = Catalog(cfg.catalog_dir, cfg.index)
    idx = cat.index(v.model_version)
    out = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
           "device": cfg.device, "precision": cfg.precision, "runs": a.runs,
           "detect_once": timed(lambda: v.detector.detect_once(img), a.runs),
           "detect_with_person_rerun": timed(lambda: v.detector(img), a.runs),
           "landmarks": timed(lambda: v.pose(img, person.box), a.runs),
           "embed": timed(lambda: v.embedder(img, upper), a.runs),
           "search": timed(lambda: idx.search(iv.vector, 5), a.runs),
           "catalog_size": idx.count,
           "frame_to_items_one_person": timed(lambda: v.find_items(img), a.runs)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
