"""Catalogue import side by side, three ways: ISNet's cut in float at 512 px (before), in INT8
(`cutout.int8`), and in INT8 with a first cut at 256 px, the 512 cut only where that one misses
the item (`cutout.first_size`, now): products a second, on this CPU and capped to AVX2, and what
each step changes in answers.

    python -m bench.cutout [--products 330] [--isa both|native|avx2] [--write]

Speed: the demo catalogue (demo/catalog) imported from scratch into an empty catalogue, each ISA x
setting in its own process (AVX2 only: oneDNN capped with ONEDNN_MAX_CPU_ISA=AVX2, models in f32,
as bench/live.py does it). Answers (needs ../shared/data): on the colour-labelled CC0 photos,
the INT8 cut against the float one (IoU of the two masks) and first-colour accuracy each way, tune
and report halves (ISNet's INT8 copy was calibrated on other catalogue-side photos, none of these;
`first_cover` was set on the tune half). The cut names colours only: vectors are the same each way.
Target (issue 17): import >= 2x the products a second; colours within 1 point.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.docs import SETTINGS, cutout_markdown as markdown
from bench.measure import ISA_ENV

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo" / "catalog"


def _config(int8: bool, first_size: int):
    import dataclasses

    from edge.config import load_config
    cfg = load_config()
    cfg.cutout = dataclasses.replace(cfg.cutout, int8=int8, first_size=first_size)
    return cfg


def import_speed(int8: bool, first_size: int, products: int) -> dict:
    """The first `products` rows of the demo catalogue imported from scratch (models loaded and
    warmed first: this is throughput, cold start is bench/live.py's)."""
    from bench.measure import machine
    from edge.catalog.importer import import_catalog
    from edge.catalog.store import Catalog
    from edge.vision.imageio import read_image
    from edge.vision.stages import Vision
    vision = Vision(_config(int8, first_size))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp)
        with open(DEMO / "catalog.csv", newline="") as f:
            reader = csv.DictReader(f)
            rows = [{**r, "image": str(DEMO / r["image"])} for r in list(reader)[:products]]
        with open(src / "catalog.csv", "w", newline="") as f:     # the demo's photos where they are
            w = csv.DictWriter(f, fieldnames=reader.fieldnames)
            w.writeheader()
            w.writerows(rows)
        photo = read_image(Path(rows[0]["image"]))
        cutters = {"full": vision.cutout, "first": vision.first_cut}
        cutters = {k: c for k, c in cutters.items() if c is not None}
        for _ in range(2):      # compile and warm every model the import runs (the cuts even if
            vision.product_photo(photo)                 # this photo's backdrop is plain)
            for c in cutters.values():
                c(photo)
        ms: dict[str, list[float]] = {k: [] for k in cutters}

        def timed(soft, times):
            def run(bgr):
                t = time.perf_counter()
                out = soft(bgr)
                times.append(1000 * (time.perf_counter() - t))
                return out
            return run
        for k, c in cutters.items():
            c.soft = timed(c.soft, ms[k])
        cat = Catalog(src / "c", create=True)
        t = time.perf_counter()
        rep = import_catalog(src, cat, vision, progress=False, images_root=DEMO)
        seconds = time.perf_counter() - t
    cut, first = ms["full"], ms.get("first", [])
    return {"machine": machine(), "cut_ran_in": vision.models.ran_in("cutout", int8=int8), "products": rep.imported,
            "errors": len(rep.errors), "seconds": round(seconds, 1),
            "products_per_s": round(rep.imported / seconds, 2), "ms_per_product": round(1000 * seconds / rep.imported, 1),
            "cuts": len(cut), "cut_ms_p50": round(float(np.median(cut)), 1) if cut else None,
            "first_cuts": len(first), "first_cut_ms_p50": round(float(np.median(first)), 1) if first else None,
            "cut_ms_a_product": round((sum(cut) + sum(first)) / max(1, rep.imported), 1)}


def speed(isas: list[str], products: int) -> dict:
    res = {}
    for isa in isas:
        env = {**os.environ, **ISA_ENV[isa]}
        if isa == "native":
            env.pop("ONEDNN_MAX_CPU_ISA", None)
        res[isa] = {}
        for name, (int8, first_size) in SETTINGS.items():
            p = subprocess.run([sys.executable, "-m", "bench.cutout", "--child", "--products", str(products),
                                "--first-size", str(first_size)] + (["--int8"] if int8 else []),
                               capture_output=True, text=True, cwd=ROOT, env=env)
            if p.returncode != 0:
                raise SystemExit(f"bench.cutout {isa} {name} failed:\n{p.stderr[-2000:]}")
            res[isa][name] = json.loads(p.stdout)
        rate = [res[isa][n]["products_per_s"] for n in SETTINGS]
        res[isa]["ratio"] = round(rate[-1] / rate[0], 2)
    return res


def answers() -> dict:
    """The INT8 cut against the float one on the labelled photos, and colour accuracy with each."""
    from bench.tagging import DATA, PATHS, colour_accuracy, labelled
    from edge.vision.imageio import read_image
    from edge.vision.stages import Vision
    if not (DATA / "images.csv").is_file():
        return {"skipped": f"the labelled CC0 photos are not here ({DATA})"}
    rows = labelled()
    visions = {name: Vision(_config(*setting)) for name, setting in SETTINGS.items()}
    ious = []
    for r in rows:
        bgr = read_image(r["path"])
        a, b = (v.cutout(bgr) for v in list(visions.values())[:2])     # float and INT8
        union = (a | b).sum()
        ious.append(float((a & b).sum() / union) if union else 1.0)
    ious = np.array(ious)
    out = {"photos": len(rows), "iou_mean": round(float(ious.mean()), 3), "iou_median": round(float(np.median(ious)), 3),
           "iou_under_0.9": int((ious < 0.9).sum()), "colours": {}}
    for name, vision in visions.items():
        acc = colour_accuracy(vision, rows, paths=(PATHS[2], PATHS[3]))
        out["colours"][name] = {p: {h: r["first_colour_accuracy"] for h, r in halves.items()}
                                for p, halves in acc["paths"].items()}
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=330)
    ap.add_argument("--isa", choices=["both", "native", "avx2"], default="both")
    ap.add_argument("--no-answers", action="store_true", help="speed only")
    ap.add_argument("--write", action="store_true", help="put the figures into docs/benchmarks.md")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--int8", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--first-size", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(import_speed(a.int8, a.first_size, a.products)))
        sys.exit(0)
    result = {"speed": speed(["native", "avx2"] if a.isa == "both" else [a.isa], a.products)}
    print(json.dumps(result["speed"]), flush=True)
    if not a.no_answers:
        result["answers"] = answers()
    print("\n".join(markdown(result)))
    if a.write:
        from bench.docs import update_results
        update_results("cutout", result)
