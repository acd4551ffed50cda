"""Colour names against hand labels, side by side: the old nearest-swatch names, the live loop's
names, the catalogue-import names (ISNet cut), the names `signage tag` gives the same garment
photographed the way a shop does (cut out, on white), and the live loop's names for the photo held
up in front of a wall, as the demo video shows it (a picture: the garment on its own floor inside
it); on a tune half and a report half.

    python -m bench.tagging [--json]

Labels: tests/data/colour_labels.csv (288 CC0 photos hand labelled, several acceptable names per
photo; see tests/data/README.md). The photos are split in two halves by sender (crc32 of the
sender id): the thresholds in edge/vision/colors.py were set on "tune"; "report" is the figure to
quote. Category: the catalogue-neighbour vote of find similar on held-out senders is
bench/quality.py's `category_top1_vote`.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
import zlib
from pathlib import Path

import cv2
import numpy as np

from edge.config import load_config
from edge.vision.colors import PALETTE, item_pixels
from edge.vision.embed import item_crop, naming_mask
from edge.vision.imageio import read_image
from edge.vision.stages import Vision

from demo.make_demo import held_up

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "tests" / "data" / "colour_labels.csv"
DATA = ROOT.parent / "shared" / "data" / "clothing-cc0"
HALVES = ("tune", "report")
PATHS = ("nearest swatch (before)", "live cut", "catalogue (ISNet) cut", "shop photo on white",
         "held up (live, the demo video's frame)")
WHITE = (245, 245, 245)


def on_white(vision: Vision, bgr: np.ndarray) -> np.ndarray | None:
    """The photo as a shop would take it: the garment (ISNet's cut of the photo) on a white
    backdrop with a 20 % margin; None when ISNet finds nothing in it."""
    if vision.cutout is None:
        return None
    mask = vision.cutout(bgr)
    ys, xs = np.nonzero(mask)
    if len(ys) < 0.02 * mask.size:
        return None
    y1, y2, x1, x2 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    h, w = y2 - y1, x2 - x1
    out = np.empty((int(h * 1.4), int(w * 1.4), 3), np.uint8)
    out[:] = WHITE
    oy, ox = (out.shape[0] - h) // 2, (out.shape[1] - w) // 2
    region = out[oy:oy + h, ox:ox + w]
    keep = mask[y1:y2, x1:x2]
    region[keep] = bgr[y1:y2, x1:x2][keep]
    return out


def half_of(sender_id: str) -> str:
    return HALVES[zlib.crc32(sender_id.encode()) % 2]


def labelled(data: Path = DATA, labels: Path = LABELS) -> list[dict]:
    """The labelled photos `data` holds, with their sender's half (tests/data/cc0 holds the report
    half, ../shared/data/clothing-cc0 all)."""
    sender = {r["image"]: r["sender_id"] for r in csv.DictReader(open(data / "images.csv"))}
    return [{"image": r["image"], "path": data / "images" / f"{r['image']}.jpg",
             "ok": set(r["colours"].split(";")), "half": half_of(sender[r["image"]])}
            for r in csv.DictReader(open(labels)) if r["image"] in sender]


_NAMES = list(PALETTE)
_SWATCH_LAB = cv2.cvtColor(np.array([list(PALETTE.values())], np.uint8), cv2.COLOR_RGB2LAB)[0].astype(np.float32)


def nearest_swatch_names(crop: np.ndarray, mask: np.ndarray | None, min_share: float = 0.15) -> tuple[str, ...]:
    """The baseline: each pixel takes the nearest swatch in Lab (how colours were named before)."""
    lab = cv2.cvtColor(item_pixels(crop, mask)[None], cv2.COLOR_BGR2LAB)[0].astype(np.float32)
    nearest = np.argmin(((lab[:, None, :] - _SWATCH_LAB[None]) ** 2).sum(-1), axis=1)
    share = np.bincount(nearest, minlength=len(_NAMES)) / max(len(nearest), 1)
    order = np.argsort(-share)
    return tuple(_NAMES[i] for i in order[:3] if share[i] >= min_share) or (_NAMES[int(order[0])],)


def colour_accuracy(vision: Vision | None = None, rows: list[dict] | None = None,
                    paths: tuple[str, ...] = PATHS) -> dict:
    """First- and any-colour accuracy per naming path and half, with each path's misses."""
    vision = vision or Vision(load_config())
    rows = labelled() if rows is None else rows
    tally = {p: {h: {"photos": 0, "first": 0, "any": 0, "misses": []} for h in HALVES} for p in paths}
    cut_ms = []
    for r in rows:
        bgr = read_image(r["path"])
        item = vision.main_item(bgr)
        iv = vision.embed(bgr, item)
        said = {}
        if PATHS[0] in paths:
            crop, mask = item_crop(bgr, item)
            said[PATHS[0]] = nearest_swatch_names(crop, naming_mask(bgr, crop, mask))
        if PATHS[1] in paths:
            said[PATHS[1]] = iv.colors
        if PATHS[2] in paths:     # read as the catalogue import reads a photo without colours
            t = time.perf_counter()
            said[PATHS[2]] = vision.product_photo(bgr).colors
            cut_ms.append(1000 * (time.perf_counter() - t))
        if PATHS[3] in paths:
            shop = on_white(vision, bgr)
            if shop is not None:     # tagged from scratch, as `signage tag` would a shop's photo
                said[PATHS[3]] = vision.product_photo(shop).colors
        if PATHS[4] in paths:     # the photo held up in front of a wall, as the demo video shows it
            frame = cv2.imdecode(cv2.imencode(".jpg", held_up(bgr), [cv2.IMWRITE_JPEG_QUALITY, 95])[1],
                                 cv2.IMREAD_COLOR)      # stored as the demo video stores it (MJPG)
            said[PATHS[4]] = vision.embed(frame, vision.main_item(frame)).colors
        for p, colors in said.items():
            t = tally[p][r["half"]]
            t["photos"] += 1
            t["first"] += colors[0] in r["ok"]
            t["any"] += bool(r["ok"] & set(colors))
            if colors[0] not in r["ok"]:
                t["misses"].append({"image": r["image"], "said": list(colors), "label": sorted(r["ok"])})
    out: dict = {"paths": {}}
    for p, halves in tally.items():
        out["paths"][p] = {h: {"photos": t["photos"], "first_colour_accuracy": round(t["first"] / t["photos"], 4),
                               "any_colour_accuracy": round(t["any"] / t["photos"], 4), "misses": t["misses"]}
                           for h, t in halves.items() if t["photos"]}
    if cut_ms:
        out["catalogue_photo_ms_p50"] = round(float(np.median(cut_ms)), 1)
    return out


def section(vision=None) -> dict:
    """docs/benchmarks.md's colour section: colour names against the hand labels, per naming path
    and half, misses left out (`signage bench` and `--write` both write it)."""
    if not (DATA / "images.csv").is_file():
        return {"skipped": f"CC0 photos not found at {DATA}"}
    res = colour_accuracy(vision)
    for halves in res["paths"].values():
        for h in halves.values():
            h.pop("misses")
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true", help="print everything, misses included")
    ap.add_argument("--write", action="store_true", help="put the figures into docs/benchmarks.md (and the README)")
    a = ap.parse_args()
    if a.write:
        from bench.docs import update_results
        update_results("colours", section())
        return
    res = colour_accuracy()
    if a.json:
        print(json.dumps(res, indent=2))
        return
    for path, halves in res["paths"].items():
        for half, r in halves.items():
            print(f"{path:24s} {half:6s} {r['photos']} photos: first colour {r['first_colour_accuracy']:.3f}, "
                  f"any colour {r['any_colour_accuracy']:.3f}")
    if "catalogue_photo_ms_p50" in res:
        print(f"catalogue path (a photo read as the import reads it: detect, ISNet where the backdrop is not "
              f"plain, embed, names): p50 {res['catalogue_photo_ms_p50']} ms a photo")


if __name__ == "__main__":
    main()
