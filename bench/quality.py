"""Category precision@k of find-similar on real photos: catalogue from some senders, queries from others.

    python -m bench.quality [--per-label N] [--queries N] [--json]

Senders are split by a fixed seed, so no query photo's sender (same room, same phone, often the
same garment) is in the catalogue. Labels that are not product categories are left out.
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from edge.catalog.store import Catalog
from edge.config import load_config
from edge.vision.imageio import read_image
from edge.catalog.importer import import_catalog
from edge.styling.similar import FindSimilar
from edge.vision.cutout import CutoutParams
from edge.vision.stages import Vision
from models.cc0 import split as cc0_split

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "clothing-cc0"


def split(data: Path = DATA, seed: int = 7, query_share: float = 0.3):
    return cc0_split(data, seed, query_share)


def take(rows, per_label: int | None, seed: int):
    if per_label is None:
        return rows
    rng = random.Random(seed)
    by = defaultdict(list)
    for r in sorted(rows, key=lambda r: r["image"]):
        by[r["label"]].append(r)
    out = []
    for label in sorted(by):
        rng.shuffle(by[label])
        out += by[label][:per_label]
    return out


def write_csv(rows, folder: Path, data: Path = DATA) -> Path:
    path = folder / "catalog.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sku", "name", "category", "price", "currency", "stock", "image"])
        for r in rows:
            w.writerow([r["image"][:18], r["label"], r["label"], "10", "EUR", "1",
                        str(data / "images" / f"{r['image']}.jpg")])
    return path


def measure(cat_per_label: int | None = 30, query_per_label: int | None = 10, k: int = 5,
            catalog_dir: Path | None = None, data: Path = DATA, cfg=None, query_cfg=None) -> dict:
    """query_cfg: other models for the shopper's photos than the catalogue was imported with."""
    cfg = copy.deepcopy(cfg or load_config())
    cfg.cutout = CutoutParams(catalogue=False)   # colour tags play no part in category precision
    vision = Vision(cfg)
    query_vision = Vision(query_cfg) if query_cfg is not None else vision
    cat_rows, qry_rows = split(data)
    cat_rows, qry_rows = take(cat_rows, cat_per_label, 1), take(qry_rows, query_per_label, 2)
    cat_labels = set(r["label"] for r in cat_rows)
    qry_rows = [r for r in qry_rows if r["label"] in cat_labels]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(catalog_dir or tmp)
        catalog = Catalog(folder / "store", cfg.index, create=True)
        t0 = time.perf_counter()
        report = import_catalog(write_csv(cat_rows, Path(tmp), data), catalog, vision, progress=False, images_root=data)
        import_s = time.perf_counter() - t0
        similar = FindSimilar(query_vision, catalog)
        hits, per_label, inferred, top1 = [], defaultdict(list), Counter(), defaultdict(list)
        for r in qry_rows:
            m = similar(read_image(data / "images" / f"{r['image']}.jpg"), k=k)[0]
            p = sum(x.category == r["label"] for x in m.results) / k
            hits.append(p)
            per_label[r["label"]].append(p)
            inferred[m.category == r["label"]] += 1
            top1[r["label"]].append(m.category == r["label"])
        catalog.close()
    chance = sum((Counter(r["label"] for r in cat_rows)[r["label"]] / len(cat_rows)) for r in qry_rows) / len(qry_rows)
    return {"k": k, "catalog_products": report.imported, "rejected": len(report.errors), "queries": len(qry_rows),
            f"precision_at_{k}": round(sum(hits) / len(hits), 4), "chance": round(chance, 4),
            "category_top1_vote": round(inferred[True] / len(qry_rows), 4),
            "per_label": {lab: round(sum(v) / len(v), 3) for lab, v in sorted(per_label.items())},
            "per_label_top1": {lab: round(sum(v) / len(v), 3) for lab, v in sorted(top1.items())},
            "per_label_queries": {lab: len(v) for lab, v in sorted(top1.items())},
            "import_seconds": round(import_s, 1)}


def with_baseline(cat_per_label: int | None = None, query_per_label: int | None = None) -> dict:
    """The shipped embedder (fine-tuned, models/train.py) and, side by side on the same split, the
    registry's ImageNet weights it started from (built on the fly: needs torch, as the build does)."""
    res = {"now": measure(cat_per_label, query_per_label)}
    try:
        from models.build import imagenet_embedder_dir
        with tempfile.TemporaryDirectory() as tmp:
            cfg = copy.deepcopy(load_config())
            cfg.models_dir = imagenet_embedder_dir(Path(tmp))
            res["baseline"] = measure(cat_per_label, query_per_label, cfg=cfg)
    except Exception as e:     # no torch / no registry: say so, keep the figure measured
        res["baseline"] = {"skipped": f"{type(e).__name__}: {e}"}
    return res


def section() -> dict:
    """docs/benchmarks.md's category section: the fine-tuned embedder and the ImageNet one it
    started from, on the same split (`signage bench` and `--write` both write it)."""
    if not (DATA / "images.csv").is_file():
        return {"skipped": f"CC0 photos not found at {DATA}"}
    return with_baseline()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-label", type=int, default=None, help="catalogue photos per label (default all)")
    ap.add_argument("--queries", type=int, default=None, help="query photos per label (default all)")
    ap.add_argument("--baseline", action="store_true", help="also measure the ImageNet embedder (needs torch)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--write", action="store_true", help="the whole split with the baseline into docs/benchmarks.md")
    a = ap.parse_args()
    if a.write:
        from bench.docs import update_results
        update_results("category", section())
        return
    res = with_baseline(a.per_label, a.queries) if a.baseline else measure(a.per_label, a.queries)
    print(json.dumps(res, indent=2), file=sys.stdout)


if __name__ == "__main__":
    main()
