"""Outfit compatibility on held-out Polyvore outfits: fill-in-the-blank accuracy and AUC.

    python -m bench.compat [--seeds 5]

Trains on 80% of the outfits and tests on the other 20% for each seed (seed 0 is the split the
committed models/compat.json was trained on). FITB: hide one item, offer it with three items of
the same slot from other outfits; chance is 25%.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from edge.styling.compat import CompatModel, compatibility_auc, fitb_accuracy, load_polyvore, split_outfits

OUTFITS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "polyvore-outfits" / "outfits.json"


def measure(seeds: int = 5, path: Path = OUTFITS, draws: int = 3) -> dict:
    outfits = load_polyvore(path)
    rows = []
    for seed in range(seeds):
        train, test = split_outfits(outfits, seed)
        model = CompatModel.fit([items for _, items in train])
        fitb = statistics.mean(fitb_accuracy(model, test, seed * 100 + d) for d in range(draws))
        rows.append({"seed": seed, "train": len(train), "test": len(test), "fitb": round(fitb, 4),
                     "auc": round(compatibility_auc(model, test, seed), 4)})
    return {"splits": rows, "fitb_mean": round(statistics.mean(r["fitb"] for r in rows), 4),
            "auc_mean": round(statistics.mean(r["auc"] for r in rows), 4), "fitb_chance": 0.25}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    print(json.dumps(measure(ap.parse_args().seeds), indent=2))
