"""Colour names must come from the garment, not its backdrop: the same garment pasted on white,
black, orange and grey must get the same first colour name. Needs no labels.

    python -m bench.backdrops [--photos N] [--json]

Each CC0 photo's garment is cut with the photo's own main-object mask, pasted centred (with a
margin) on four plain backdrops, and named again from scratch (detection, cut, colours).
"""
from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

import numpy as np

from edge.config import load_config
from edge.vision.imageio import read_image
from edge.vision.saliency import main_object
from edge.vision.stages import Vision
from models.cc0 import SKIP_LABELS

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "clothing-cc0"
BACKDROPS = {"white": (245, 245, 245), "black": (15, 15, 15), "orange": (40, 120, 235), "grey": (128, 128, 128)}


def pasted(bgr: np.ndarray, backdrop: tuple[int, int, int]) -> np.ndarray | None:
    """The photo's garment (its main-object cut) on a plain backdrop with a 20% margin."""
    item = main_object(bgr)
    if item.mask is None:
        return None
    x1, y1, x2, y2 = item.box
    crop, mask = bgr[y1:y2, x1:x2], item.mask
    h, w = crop.shape[:2]
    H, W = int(h * 1.4), int(w * 1.4)
    out = np.empty((H, W, 3), np.uint8)
    out[:] = backdrop
    oy, ox = (H - h) // 2, (W - w) // 2
    region = out[oy:oy + h, ox:ox + w]
    region[mask] = crop[mask]
    return out


def photos(n: int, seed: int = 3, data: Path = DATA) -> list[Path]:
    rows = [r for r in csv.DictReader(open(data / "images.csv")) if r["label"] not in SKIP_LABELS]
    random.Random(seed).shuffle(rows)
    return [data / "images" / f"{r['image']}.jpg" for r in rows[:n]]


def agreement(vision: Vision, paths: list[Path]) -> dict:
    same, asked, disagreements = 0, 0, []
    for p in paths:
        bgr = read_image(p)
        names = {}
        for b, colour in BACKDROPS.items():
            img = pasted(bgr, colour)
            if img is None:
                break
            names[b] = vision.colors_of(img)[0]
        if len(names) < len(BACKDROPS):
            continue
        asked += 1
        if len(set(names.values())) == 1:
            same += 1
        else:
            disagreements.append({"image": p.stem, **names})
    return {"garments": asked, "same_first_colour": round(same / max(asked, 1), 3), "disagreements": disagreements}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=80)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    res = agreement(Vision(load_config()), photos(a.photos))
    if a.json:
        print(json.dumps(res))
    else:
        print(f"{res['garments']} garments, same first colour on all four backdrops: {res['same_first_colour']}")
        for d in res["disagreements"][:15]:
            print("  ", d)


if __name__ == "__main__":
    main()
