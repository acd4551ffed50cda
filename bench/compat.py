"""Outfit compatibility on held-out Polyvore outfits: fill-in-the-blank accuracy and AUC, the pair
model over sentence vectors (edge/styling/pairs.py) and the word-pair PMI baseline side by side.

    python -m bench.compat [--seeds 5] [--json]

"text" is what the looks use: MEMBERS pair models over sentence vectors + PMI_WEIGHT x PMI
(edge/styling/pairs.py). Trains both on 80% of the outfits and tests on the other 20% for each seed (seed 0 is the split
the committed models were trained on), 3 draws of the wrong candidates per split. FITB: hide one
item, offer it with three items of the same slot from other outfits; chance is 25%.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from edge.config import load_config
from edge.styling.compat import CompatModel, compatibility_auc, fitb_accuracy, load_polyvore, split_outfits
from edge.styling.pairs import MEMBERS, PMI_WEIGHT, TextCompat, fit_pairs, item_text
from edge.styling.text import text_embedder
from edge.vision.models import ModelStore

OUTFITS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "polyvore-outfits" / "outfits.json"


def measure(seeds: int = 5, path: Path = OUTFITS, draws: int = 3) -> dict:
    outfits = load_polyvore(path)
    cfg = load_config()
    text = text_embedder(ModelStore.of(cfg))
    t0 = time.perf_counter()
    text([item_text(i.name, i.colors) for _, items in outfits for i in items])
    embed_ms = (time.perf_counter() - t0) * 1000 / sum(len(items) for _, items in outfits)
    rows = []
    for seed in range(seeds):
        train, test = split_outfits(outfits, seed)
        pmi = CompatModel.fit([items for _, items in train])
        t = time.perf_counter()
        model = TextCompat(fit_pairs([items for _, items in train], text, seed), text, pmi)
        train_s = time.perf_counter() - t
        row = {"seed": seed, "train": len(train), "test": len(test), "train_s": round(train_s, 1)}
        for name, m in (("text", model), ("pmi", pmi)):
            row[f"{name}_fitb"] = round(statistics.mean(fitb_accuracy(m, test, seed * 100 + d) for d in range(draws)), 4)
            row[f"{name}_auc"] = round(compatibility_auc(m, test, seed), 4)
        rows.append(row)
    # scoring speed: outfits of names never seen (the text model runs for each new name)
    fresh = [[type(i)(i.slot, f"{i.name} {k}", i.colors) for i in items] for k, (_, items) in enumerate(outfits)]
    train0 = [items for _, items in split_outfits(outfits, 0)[0]]
    model = TextCompat(fit_pairs(train0, text, 0), text, CompatModel.fit(train0))
    t = time.perf_counter()
    for items in fresh:
        model.score(items)
    score_ms = (time.perf_counter() - t) * 1000 / len(fresh)
    mean = lambda k: round(statistics.mean(r[k] for r in rows), 4)   # noqa: E731
    return {"splits": rows, "text_fitb_mean": mean("text_fitb"), "pmi_fitb_mean": mean("pmi_fitb"),
            "text_auc_mean": mean("text_auc"), "pmi_auc_mean": mean("pmi_auc"), "fitb_chance": 0.25,
            "members": MEMBERS, "pmi_weight": PMI_WEIGHT,
            "text_ms_per_new_name": round(embed_ms, 2), "score_ms_per_new_outfit": round(score_ms, 2),
            "pair_model_bytes": (Path(__file__).resolve().parent.parent / "models" / "compat-text.npz").stat().st_size}


def section() -> dict:
    """docs/benchmarks.md's compatibility section (`signage bench` and `--write` both write it)."""
    if not OUTFITS.is_file():
        return {"skipped": f"Polyvore outfits not found at {OUTFITS}"}
    return measure()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--write", action="store_true", help="put the figures into docs/benchmarks.md (and the README)")
    a = ap.parse_args()
    if a.write:
        from bench.docs import update_results
        update_results("compat", section())
    else:
        print(json.dumps(measure(a.seeds), indent=2))
