"""How fast the card follows a swapped garment: a video of held-out photos, each held up in the
same place for 2.5 s, through the kiosk's own path paced like a camera (`watch --pipeline
--realtime`).

    python -m bench.swaps [--photos N] [--catalog DIR] [--json]

Photos: CC0 photos of the senders bench/quality.py holds out (none of them is in the demo
catalogue, none was used to set the swap thresholds in edge/live/recognizer.py), of the
categories the demo catalogue sells. Each is placed on a grey 640x480 frame at 12 fps. For every
photo: the time from its first frame to (a) the first card that is not the previous photo's,
(b) the first card of the photo's own category; "missed" when no card came in its 2.5 s and the
card left on screen is not of its category either. A photo whose garment matches the product
already shown gets no new card, rightly: counted apart ("kept a right card"), not as missed.
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import random
import tempfile
from pathlib import Path

import cv2
import numpy as np

from bench.quality import DATA, split
from edge.config import load_config
from edge.live.watch import watch_realtime
from edge.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
HOLD_S, FPS = 2.5, 12.0


def demo_categories() -> set[str]:
    return {r["category"] for r in csv.DictReader(open(ROOT / "demo" / "catalog" / "catalog.csv"))}


def held_frames(photo_path: Path, rng: np.random.Generator):
    """The frames of one photo held up for HOLD_S on a grey 640x480 frame."""
    photo = cv2.imread(str(photo_path))
    h, w = photo.shape[:2]
    f = 400 / max(h, w)
    photo = cv2.resize(photo, (int(w * f), int(h * f)), interpolation=cv2.INTER_AREA)
    for i in range(int(HOLD_S * FPS)):
        frame = np.full((480, 640, 3), 110, np.uint8)
        y, x = 40 + i % 3, (640 - photo.shape[1]) // 2 + i % 5     # held by hand: a little drift
        frame[y:y + photo.shape[0], x:x + photo.shape[1]] = photo
        yield np.clip(frame + rng.normal(0, 3, frame.shape), 0, 255).astype(np.uint8)


def swap_video(rows: list[dict], path: Path, data: Path = DATA) -> list[np.ndarray]:
    """Writes the video; returns each photo's middle frame (what the still path is asked about)."""
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 480))
    rng = np.random.default_rng(0)
    stills = []
    for r in rows:
        frames = list(held_frames(data / "images" / f"{r['image']}.jpg", rng))
        for frame in frames:
            out.write(frame)
        stills.append(frames[len(frames) // 2])
    out.release()
    return stills


def still_categories(rt: Runtime, stills: list[np.ndarray]) -> list[str]:
    """What `signage similar` says each held-up frame is (its main item's category)."""
    out = []
    for img in stills:
        found = rt.similar(img, k=4)
        out.append(found[0].category if found else "")
    return out


def demo_photos() -> set[str]:
    """The CC0 photos the demo catalogue was made from (sku = prefix + the photo's first 8 chars)."""
    return {r["sku"].split("-", 1)[1] for r in csv.DictReader(open(ROOT / "demo" / "catalog" / "catalog.csv"))}


def measure(n: int = 40, catalog_dir: Path | None = None, seed: int = 3, swap_detector: bool = True) -> dict:
    """swap_detector=False: the baseline, where only the card's vote changes what is shown."""
    import edge.live.recognizer as recognizer
    cfg = copy.deepcopy(load_config())
    if catalog_dir is not None:
        cfg.catalog_dir = Path(catalog_dir)
    sells = demo_categories()
    _, held_out = split()
    in_demo = demo_photos()
    rows = [r for r in held_out if r["label"] in sells and r["kids"] == "False" and r["image"][:8] not in in_demo]
    random.Random(seed).shuffle(rows)
    rows = rows[:n]
    changes = []
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "swaps.avi"
        stills = swap_video(rows, video)
        rt = Runtime(cfg)
        still = still_categories(rt, stills)
        saved = recognizer.SWAP_COLOURS, recognizer.SWAP_VECTOR
        if not swap_detector:
            recognizer.SWAP_COLOURS = recognizer.SWAP_VECTOR = -2.0    # never: similarities are >= -1
        try:
            watch_realtime(rt, str(video), changes.append)
        finally:
            recognizer.SWAP_COLOURS, recognizer.SWAP_VECTOR = saved
    followed = follow_still(rows, changes, still)
    to_new, to_right, missed, kept, wrong = [], [], 0, 0, 0
    previous = None
    for i, r in enumerate(rows):
        start, end = i * HOLD_S, (i + 1) * HOLD_S
        window = [c for c in changes if start <= c.shown_at < end and c.cards]
        new = next((c for c in window if c.cards[0].sku != previous), None)
        right = next((c for c in window if c.cards[0].category == r["label"]), None)
        shown = [c for c in changes if c.shown_at < end and c.cards]
        if new is None and shown and shown[-1].cards[0].category == r["label"]:
            kept += 1           # the screen already showed a product of this garment's category
        elif new is None:
            missed += 1
        else:
            to_new.append(new.shown_at - start)
        if right is not None:
            to_right.append(right.shown_at - start)
        elif new is not None:
            wrong += 1
        previous = shown[-1].cards[0].sku if shown else None

    def pct(v, q):
        return round(float(np.percentile(v, q)), 3) if v else None
    return {**followed, "swap_detector": swap_detector, "photos": len(rows), "hold_s": HOLD_S, "fps": FPS,
            "changes": len(changes),
            "missed": missed, "kept_a_right_card": kept, "never_right_category": wrong,
            "to_new_card_s": {"p50": pct(to_new, 50), "p95": pct(to_new, 95), "n": len(to_new)},
            "to_right_category_s": {"p50": pct(to_right, 50), "p95": pct(to_right, 95), "n": len(to_right)}}


def follow_still(rows: list[dict], changes: list, still: list[str]) -> dict:
    """Every item, against what the still path says of the same frame: how long until the card's
    item has that category (an item that never got it counts as not followed, its time as never),
    and whether the live and still answers agree at the end of the hold."""
    times, agree = [], 0
    for i, _ in enumerate(rows):
        start, end = i * HOLD_S, (i + 1) * HOLD_S
        hit = next((c for c in changes if start <= c.shown_at < end and c.cards and c.cards[0].category == still[i]),
                   None)
        before = [c for c in changes if c.shown_at < start and c.cards]
        kept = before and before[-1].cards[0].category == still[i] and \
            not any(start <= c.shown_at < end for c in changes)      # the card on screen already was
        times.append(0.0 if kept else hit.shown_at - start if hit is not None else float("inf"))
        shown = [c for c in changes if c.shown_at < end and c.cards]
        agree += bool(shown) and shown[-1].cards[0].category == still[i]
    n = len(rows)
    q = lambda p: round(float(np.percentile(times, p)), 3) if n and np.isfinite(np.percentile(times, p)) else None  # noqa: E731
    ok = int(np.isfinite(times).sum()) if n else 0
    return {"followed": ok, "not_followed": n - ok,
            "to_still_category_s": {"p50": q(50), "p95": q(95), "n": n},
            "live_still_agree": int(agree), "still_categories": still}


def section(photos: int = 40, catalog: str | None = None) -> dict:
    """docs/benchmarks.md's swap section: with and without the swap detector (`signage bench` and
    `--write` both write it)."""
    if not (DATA / "images.csv").is_file():
        return {"skipped": f"CC0 photos not found at {DATA}"}
    import os

    from bench.measure import machine
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "native")
    return {"now": measure(photos, catalog), "baseline": measure(photos, catalog, swap_detector=False),
            "machine": machine(), "isa": isa}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=40)
    ap.add_argument("--catalog", help="catalogue folder (default: the config's catalog_dir)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--write", action="store_true", help="put the figures into docs/benchmarks.md (and the README)")
    a = ap.parse_args()
    res = section(a.photos, a.catalog)
    if a.write:
        from bench.docs import update_results
        update_results("swaps", res)
    print(json.dumps(res, indent=None if a.json else 2))


if __name__ == "__main__":
    main()
