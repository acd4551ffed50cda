"""Auto-tagging accuracy on hand-labelled CC0 photos, on a tune half and a report half.

    python -m bench.tagging [--json]

Colour: the tagger's first colour name against tests/data/colour_labels.csv (218 photos hand
labelled, several acceptable names per photo; see tests/data/README.md). The photos are split in
two halves by sender (crc32 of the sender id): thresholds in edge/vision/colors.py were set on
"tune"; "report" is the figure to quote. Category: the catalogue-neighbour vote of find similar
on held-out senders is bench/quality.py's `category_top1_vote`.
"""
from __future__ import annotations

import argparse
import csv
import json
import zlib
from pathlib import Path

from edge.config import load_config
from edge.vision.imageio import read_image
from edge.vision.items import main_item
from edge.vision.stages import Vision

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "tests" / "data" / "colour_labels.csv"
DATA = ROOT.parent / "shared" / "data" / "clothing-cc0"
HALVES = ("tune", "report")


def half_of(sender_id: str) -> str:
    return HALVES[zlib.crc32(sender_id.encode()) % 2]


def labelled(data: Path = DATA, labels: Path = LABELS) -> list[dict]:
    """The labelled photos with their sender's half; needs ../shared for the photos."""
    sender = {r["image"]: r["sender_id"] for r in csv.DictReader(open(data / "images.csv"))}
    return [{"image": r["image"], "path": data / "images" / f"{r['image']}.jpg",
             "ok": set(r["colours"].split(";")), "half": half_of(sender[r["image"]])}
            for r in csv.DictReader(open(labels))]


def colour_accuracy(vision: Vision | None = None, rows: list[dict] | None = None, cutout: bool = False) -> dict:
    """First-colour accuracy per half. cutout=False: the colours the live loop names (the item's
    own cut); True: the catalogue-import path (ISNet cut where the backdrop is not plain)."""
    vision = vision or Vision(load_config())
    rows = labelled() if rows is None else rows
    out: dict = {}
    for half in HALVES:
        part = [r for r in rows if r["half"] == half]
        if not part:
            continue
        first = any_of = 0
        misses = []
        for r in part:
            bgr = read_image(r["path"])
            item = main_item(vision.find_items(bgr).items)
            colors = vision.photo_colors(bgr, item) if cutout else vision.embed(bgr, item).colors
            first += colors[0] in r["ok"]
            any_of += bool(r["ok"] & set(colors))
            if colors[0] not in r["ok"]:
                misses.append({"image": r["image"], "said": list(colors), "label": sorted(r["ok"])})
        out[half] = {"photos": len(part), "first_colour_accuracy": round(first / len(part), 4),
                     "any_colour_accuracy": round(any_of / len(part), 4), "misses": misses}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true", help="print everything, misses included")
    a = ap.parse_args()
    cfg = load_config()
    vision = Vision(cfg)
    res = {"live cut": colour_accuracy(vision), "catalogue (ISNet) cut": colour_accuracy(vision, cutout=True)}
    if a.json:
        print(json.dumps(res, indent=2))
        return
    for path, halves in res.items():
        for half, r in halves.items():
            print(f"{path:22s} {half:6s} {r['photos']} photos: first colour {r['first_colour_accuracy']:.3f}, "
                  f"any colour {r['any_colour_accuracy']:.3f}")


if __name__ == "__main__":
    main()
