"""When may a card say "your item"? The top match's score at which it is the shopper's very product.

    python -m bench.claims [--different N] [--json] [--write]

Same product: each demo catalogue product's own photo, held up to the camera as bench/swaps.py
holds one (on a grey 640x480 frame, drifting, with sensor noise) and here also lit 15 % brighter or
darker and at 80-100 % of the size: the catalogue has that product. Different product: CC0 photos
of the categories the demo sells that are not in it (another garment of the same kind, the hard
case), held up the same way: the catalogue's best match is never the shopper's product. Each
query goes through the still path (`signage similar`) and keeps its top match.

Both sets are split by photo id (a hash) into a tune half and a report half before anything is
looked at. The threshold is the lowest score whose false claims on the tune half, the queries
whose top match is not their product yet would be called "your item", stay within
MAX_FALSE_CLAIMS; the report half then gives its false-claim rate and how many true products it
still names.
"""
from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import json
import random
import tempfile
from pathlib import Path

import cv2
import numpy as np

from bench.quality import DATA
from edge.catalog.importer import import_catalog
from edge.config import load_config
from edge.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
MAX_FALSE_CLAIMS = 0.01


def half(photo_id: str) -> str:
    return "tune" if hashlib.sha256(photo_id.encode()).digest()[0] % 2 == 0 else "report"


def held_up(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = photo.shape[:2]
    f = 400 / max(h, w) * rng.uniform(0.8, 1.0)
    photo = cv2.resize(photo, (int(w * f), int(h * f)), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 110, np.float32)
    y = 40 + int(rng.integers(0, 40))
    x = (640 - photo.shape[1]) // 2 + int(rng.integers(-30, 30))
    frame[y:y + photo.shape[0], x:x + photo.shape[1]] = photo * rng.uniform(0.85, 1.15)
    return np.clip(frame + rng.normal(0, 3, frame.shape), 0, 255).astype(np.uint8)


def queries(n_different: int, seed: int) -> list[dict]:
    demo = list(csv.DictReader(open(ROOT / "demo" / "catalog" / "catalog.csv")))
    out = [{"id": r["sku"], "sku": r["sku"], "path": ROOT / "demo" / "catalog" / r["image"]} for r in demo]
    in_demo = {r["sku"].split("-", 1)[1] for r in demo}
    sells = {r["category"] for r in demo}
    others = [r for r in csv.DictReader(open(DATA / "images.csv"))
              if r["label"] in sells and r["image"][:8] not in in_demo]
    random.Random(seed).shuffle(others)
    out += [{"id": r["image"], "sku": None, "path": DATA / "images" / f"{r['image']}.jpg"} for r in others[:n_different]]
    return out


def top_matches(rows: list[dict], seed: int) -> list[dict]:
    cfg = copy.deepcopy(load_config())
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        cfg.catalog_dir = Path(tmp) / "catalog"
        rt = Runtime(cfg)
        import_catalog(ROOT / "demo" / "catalog", rt.open_catalog(create=True), rt.vision, progress=False)
        out = []
        for r in rows:
            found = rt.similar(held_up(cv2.imread(str(r["path"])), rng), k=1)
            best = found[0].results[0] if found and found[0].results else None
            out.append({"id": r["id"], "half": half(r["id"]), "same_product_exists": r["sku"] is not None,
                        "right": best is not None and best.sku == r["sku"],
                        "score": float(best.score) if best is not None else -1.0})
        return out


def rates(rows: list[dict], threshold: float) -> dict:
    wrong = [r for r in rows if not r["right"]]
    right = [r for r in rows if r["right"]]
    false = sum(r["score"] >= threshold for r in wrong)
    true = sum(r["score"] >= threshold for r in right)
    return {"false_claim_rate": round(false / max(1, len(wrong)), 4), "false_claims": false, "wrong_top": len(wrong),
            "named_rate": round(true / max(1, len(right)), 4), "named": true, "right_top": len(right),
            "claim_precision": round(true / max(1, true + false), 4)}


def choose(tune: list[dict]) -> float:
    """The lowest threshold (a score seen on tune, rounded up to 0.005) with false claims within bounds."""
    for t in sorted({np.ceil(r["score"] * 200) / 200 for r in tune}):
        if rates(tune, t)["false_claim_rate"] <= MAX_FALSE_CLAIMS:
            return float(t)
    return 1.0


def measure(n_different: int = 400, seed: int = 5) -> dict:
    rows = top_matches(queries(n_different, seed), seed)
    tune = [r for r in rows if r["half"] == "tune"]
    report = [r for r in rows if r["half"] == "report"]
    t = choose(tune)
    return {"threshold": t, "max_false_claims": MAX_FALSE_CLAIMS, "queries": len(rows),
            "same_product_queries": sum(r["same_product_exists"] for r in rows),
            "tune": rates(tune, t), "report": rates(report, t)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--different", type=int, default=400, help="photos of products not in the catalogue")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--write", action="store_true", help="keep the run in bench/results.json (claims)")
    args = ap.parse_args()
    result = measure(args.different)
    if args.write:
        import time

        from bench.docs import update_results
        from bench.measure import machine
        update_results("claims", {**result, "machine": machine(), "date": time.strftime("%Y-%m-%d")})
    print(json.dumps(result, indent=2) if args.json else
          f"threshold {result['threshold']}: report half false claims {result['report']['false_claim_rate']:.2%} "
          f"({result['report']['false_claims']} of {result['report']['wrong_top']} wrong top matches), "
          f"names {result['report']['named_rate']:.1%} of the right ones")


if __name__ == "__main__":
    main()
