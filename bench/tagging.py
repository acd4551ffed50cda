"""Auto-tagging accuracy on labelled CC0 photos.

    python -m bench.tagging

Colour: the tagger's first colour name against tests/data/colour_labels.csv (hand labels, several
acceptable names per photo). Category: the catalogue-neighbour vote of find similar on held-out
senders is bench/quality.py's `category_top1_vote`.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from edge.config import load_config
from edge.vision.imageio import read_image
from edge.vision.items import main_item
from edge.vision.stages import Vision

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "tests" / "data" / "colour_labels.csv"
IMAGES = ROOT.parent / "shared" / "data" / "clothing-cc0" / "images"


def colour_accuracy(vision: Vision | None = None) -> dict:
    vision = vision or Vision(load_config())
    rows = list(csv.DictReader(open(LABELS)))
    first, any_of, misses = 0, 0, []
    for r in rows:
        ok = set(r["colours"].split(";"))
        bgr = read_image(IMAGES / f"{r['image']}.jpg")
        colors = vision.embedder(bgr, main_item(vision.find_items(bgr).items)).colors
        first += colors[0] in ok
        any_of += bool(ok & set(colors))
        if colors[0] not in ok:
            misses.append({"image": r["image"], "said": list(colors), "label": sorted(ok)})
    return {"photos": len(rows), "first_colour_accuracy": round(first / len(rows), 4),
            "any_colour_accuracy": round(any_of / len(rows), 4), "misses": misses}


if __name__ == "__main__":
    print(json.dumps(colour_accuracy(), indent=2))
