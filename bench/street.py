"""People, garment regions and shoes on full-body street photos (CCP, research data: measured here,
never shipped).

    python -m bench.street [--data DIR] [--split tune|report|all] [--set detector.person_threshold=0.3] [--json]
    python -m bench.street --followed [--write]    # the live loop's following against whole-frame passes

The 401 photos are split in two by a fixed seed: thresholds are tuned on `tune` and figures are
reported on `report`, which nothing was tuned on. Ground truth per photo (boxes_coco.json):
- the person: the union of everything worn (top, outerwear, bottom, dress, footwear); found when a
  person box covers >= 70% of it; every other person kept is a false person;
- upper: the union of top and outerwear; lower: the union of bottoms and legwear; a dress on its
  own; footwear: any one shoe or both shoes together. A region counts at IoU >= 0.5, taken from the
  items of the person that matched (or, with none matched, from every item).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

from edge.config import load_config
from edge.types import Box, inside, iou, union
from edge.vision.imageio import read_image
from edge.vision.stages import Vision
from models.ccp import split

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ccp-street-dev"
WORN = ("top", "outerwear", "bottom_or_legwear", "dress", "footwear")


def _box(b) -> Box:
    x, y, w, h = b
    return (int(x), int(y), int(x + w), int(y + h))


def load(data: Path = DATA) -> list[dict]:
    coco = json.loads((data / "boxes_coco.json").read_text())
    by_image: dict[int, list] = {}
    for a in coco["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    photos = []
    for im in sorted(coco["images"], key=lambda i: i["id"]):
        anns = by_image.get(im["id"], [])
        of = lambda *coarse: [_box(a["bbox"]) for a in anns if a["coarse"] in coarse]  # noqa: E731
        photos.append({"id": im["id"], "path": data / im["file_name"], "person": union(of(*WORN)),
                       "upper": union(of("top", "outerwear")), "lower": union(of("bottom_or_legwear")),
                       "dress": union(of("dress")), "shoes": of("footwear")})
    return photos


class Score:
    """Counts of people and regions found against the photos' ground truth."""

    def __init__(self):
        self.n = {"photos": 0, "people": 0, "false_people": 0, "upper": 0, "upper_n": 0, "lower": 0, "lower_n": 0,
                  "dress": 0, "dress_n": 0, "footwear": 0, "footwear_n": 0}
        self.hits: dict[int, dict[str, list[bool]]] = {}     # photo id -> figure -> one hit an answer

    def add(self, ph: dict, found, dx: int = 0) -> dict[str, bool]:
        """One answer (FrameItems) for photo `ph`, drawn `dx` px to the right of where it lies;
        returns what it got right: {"people": .., "upper": .., ...} for the figures the photo has."""
        def at(b):
            return None if b is None else (b[0] + dx, b[1], b[2] + dx, b[3])
        n, hits = self.n, {}
        n["photos"] += 1
        person = at(ph["person"])
        best = max(found.people, key=lambda p: inside(person, p.box), default=None)
        matched = best is not None and inside(person, best.box) >= 0.7
        hits["people"] = matched
        n["false_people"] += len(found.people) - (1 if matched else 0)
        items = [i for i in found.items if not matched or i.person == best.id]
        for kind in ("upper", "lower"):
            gt = at(ph[kind])
            if gt is not None:
                hits[kind] = any(iou(i.box, gt) >= 0.5 for i in items if i.kind == kind)
        if ph["dress"] is not None:
            hits["dress"] = any(iou(i.box, at(ph["dress"])) >= 0.5 for i in items)
        if ph["shoes"]:
            targets = [at(b) for b in ph["shoes"]] + [at(union(ph["shoes"]))]
            hits["footwear"] = any(iou(i.box, g) >= 0.5 for i in items if i.kind == "footwear" for g in targets)
        for kind, hit in hits.items():
            n[kind] += hit
            if kind != "people":
                n[f"{kind}_n"] += 1
            self.hits.setdefault(ph["id"], {}).setdefault(kind, []).append(hit)
        return hits

    def shares(self) -> dict[int, dict[str, float]]:
        """Per photo, the share of its answers each figure was got right in ({id: {"footwear": 0.75, ..}})."""
        return {pid: {k: sum(v) / len(v) for k, v in got.items()} for pid, got in self.hits.items()}

    def figures(self) -> dict:
        n = self.n
        out = {"photos": n["photos"], "people_found": round(n["people"] / max(n["photos"], 1), 3),
               "false_people_per_photo": round(n["false_people"] / max(n["photos"], 1), 3)}
        for kind in ("upper", "lower", "dress", "footwear"):
            out[f"{kind}_recall"] = round(n[kind] / max(n[f"{kind}_n"], 1), 3)
            out[f"{kind}_photos"] = n[f"{kind}_n"]
        return out


def measure(vision: Vision, photos: list[dict]) -> dict:
    score, ms = Score(), []
    for ph in photos:
        if ph["person"] is None:
            continue          # nothing worn is annotated: no person to find
        bgr = read_image(ph["path"])
        t = time.perf_counter()
        found = vision.find_items(bgr)
        ms.append((time.perf_counter() - t) * 1000)
        score.add(ph, found)
    ms.sort()
    out = score.figures()
    out["frame_to_items_ms_p50"] = round(ms[len(ms) // 2], 1) if ms else None
    return out


# Other framings of each photo (mirror x margins as fractions of width/height, left, top, right,
# bottom): the SSD sees a different grid and the pose a different crop, as a store camera framing
# the shopper differently would. One photo's hit at IoU 0.5 flips on a pixel; over 8 framings a
# model's change shows as a mean, not as a few photos' coin tosses (bench/int8.py).
FRAMINGS = tuple((mirror, m) for mirror in (False, True)
                 for m in ((0, 0, 0, 0), (0.12, 0, 0, 0), (0, 0.12, 0, 0), (0, 0, 0.12, 0.12)))


def framed(ph: dict, img, mirror: bool, margins: tuple[float, float, float, float]):
    """The photo mirrored and on a grey canvas with these margins, and its ground truth moved with it."""
    import cv2
    h, w = img.shape[:2]
    left, top, right, bottom = (round(f * s) for f, s in zip(margins, (w, h, w, h)))
    if mirror:
        img = img[:, ::-1]
    out = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(40, 40, 40))

    def move(b):
        if b is None:
            return None
        x1, x2 = (w - b[2], w - b[0]) if mirror else (b[0], b[2])
        return (x1 + left, b[1] + top, x2 + left, b[3] + top)
    moved = {**ph, **{k: move(ph[k]) for k in ("person", "upper", "lower", "dress")},
             "shoes": [move(b) for b in ph["shoes"]]}
    return out, moved


def framings(vision: Vision, photos: list[dict], views=FRAMINGS) -> dict:
    """Whole-frame passes on each photo in every framing: the figures over all of them, and per
    photo the share of its framings each figure was got right in ({id: {"footwear": 0.75, ..}})."""
    score = Score()
    for ph in photos:
        if ph["person"] is None:
            continue
        img = read_image(ph["path"])
        for mirror, margins in views:
            frame, moved = framed(ph, img, mirror, margins)
            score.add(moved, vision.find_items(frame))
    return {"framings": len(views), **score.figures(), "per_photo": score.shares()}


def paired(before: dict, after: dict) -> dict:
    """Per figure, `after` minus `before` over the photos both were scored on, each photo its share
    of frames got right ({id: {"footwear": 0.75, ..}}): the mean difference and its 95% half-width
    (normal, paired), and how many photos differ at all."""
    out = {}
    for kind in ("people", "upper", "lower", "dress", "footwear"):
        d = [a[kind] - before[pid][kind] for pid, a in after.items() if kind in a]
        if len(d) < 2:
            continue
        mean = sum(d) / len(d)
        sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1))
        out[kind] = {"difference": round(mean, 4), "half_width_95": round(1.96 * sd / math.sqrt(len(d)), 4),
                     "photos": len(d), "photos_differing": sum(1 for x in d if x)}
    return out


def followed(vision: Vision, photos: list[dict], frames: int = 15, step: int = 4) -> dict:
    """The live loop's following (edge/live/follow.py) against a whole-frame pass on every frame,
    on clips made of the photos: each photo on a canvas, moving `step` px a frame to the right
    (120 px/s at 30 fps: a shopper swaying at the screen), `frames` frames, a fresh follower
    for each. Following as the kiosk does it at its slowest: after each pose a frame with nothing
    found (the loop gives it to a look at an item: "hold"). Both scored on frames 2.. against the
    moved ground truth (the first frame is a whole-frame pass for both)."""
    import numpy as np

    from edge.live.follow import Follower
    follow, whole, ages = Score(), Score(), []
    for ph in photos:
        if ph["person"] is None:
            continue
        img = read_image(ph["path"])
        h, w = img.shape[:2]
        canvas = np.full((h, w + step * frames, 3), 40, np.uint8)
        follower = Follower(vision.finder)
        for k in range(frames):
            frame = canvas.copy()
            frame[:, k * step:k * step + w] = img
            found = follower.hold() if follower.may_hold else follower(frame)
            if k == 0:
                continue
            ages += [follower.posed_ago(p.id) for p in found.people]
            follow.add(ph, found, k * step)
            whole.add(ph, vision.find_items(frame), k * step)
    return {"frames_a_photo": frames, "px_a_frame": step, "followed": follow.figures(), "whole": whole.figures(),
            "paired": paired(whole.shares(), follow.shares()),
            "frames_since_posed_mean": round(float(np.mean(ages)), 2) if ages else None}


def configured(overrides: list[str]):
    """The config with `section.key=value` overrides (numbers and true/false)."""
    cfg = copy.deepcopy(load_config())
    for o in overrides:
        key, _, value = o.partition("=")
        section, _, name = key.partition(".")
        v = {"true": True, "false": False}.get(value.lower())
        if v is None:
            v = float(value) if "." in value else int(value)
        setattr(cfg, section, replace(getattr(cfg, section), **{name: v}))
    return cfg


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--split", choices=["tune", "report", "all"], default="report")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--followed", action="store_true",
                    help="the live loop's following against whole-frame passes, on clips made of the photos")
    ap.add_argument("--write", action="store_true", help="with --followed: put the figures into docs/benchmarks.md")
    a = ap.parse_args()
    data = Path(a.data)
    if not (data / "boxes_coco.json").is_file():
        sys.exit(f"bench.street: {data}/boxes_coco.json not found (give --data)")
    vision, photos = Vision(configured(a.set)), split(load(data), a.split)
    res = {"split": a.split, "set": a.set, **(followed(vision, photos) if a.followed else measure(vision, photos))}
    print(json.dumps(res) if a.json else "\n".join(f"{k}: {v}" for k, v in res.items()))
    if a.write and a.followed:
        from bench.docs import update_results
        update_results("street_followed", res)


if __name__ == "__main__":
    main()
