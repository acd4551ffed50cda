"""Copy the few CC0 photos and the MIT outfits the tests need from the full data into tests/data,
so a clone runs its tests alone. Run when the tests need other photos; the subset is committed,
this file says how it was chosen (like the benchmarks, it takes the data's path):

    python -m bench.subset ../shared/data

CC0 photos (clothing-cc0, CC0 1.0): the colour-labelled photos of the report half
(tests/data/colour_labels.csv, bench/tagging.py's split by sender), and per label the first 6
photos by name, the first 8 of the catalogue-side senders and the first 5 of the query-side
senders (models/cc0.py's split, as bench/quality.py and the embedder's training use it); the 60
garments bench/backdrops.py samples with seed 11 (tests/vision/test_colours.py).
Polyvore outfits (MIT): the whole file, 353 kB.
"""
from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

from bench.backdrops import photos
from bench.tagging import half_of
from models.cc0 import split

HERE = Path(__file__).resolve().parent.parent / "tests" / "data"


def choose(src: Path) -> list[dict]:
    rows = sorted(csv.DictReader(open(src / "images.csv")), key=lambda r: r["image"])
    sender = {r["image"]: r["sender_id"] for r in rows}
    keep = {r["image"] for r in csv.DictReader(open(HERE / "colour_labels.csv"))
            if half_of(sender[r["image"]]) == "report"}
    cat, qry = split(src)
    side = {r["image"]: "catalogue" for r in cat} | {r["image"]: "query" for r in qry}
    by_label: dict[str, list[dict]] = {}
    for r in rows:
        by_label.setdefault(r["label"], []).append(r)
    for rs in by_label.values():
        keep |= {r["image"] for r in rs[:6]}
        keep |= {r["image"] for r in [r for r in rs if side.get(r["image"]) == "catalogue"][:8]}
        keep |= {r["image"] for r in [r for r in rs if side.get(r["image"]) == "query"][:5]}
    # the garments tests/vision/test_colours.py pastes on four backdrops (bench/backdrops.py's
    # sample of the full data, seed 11), marked so the test takes the same ones
    backdrops = {p.stem for p in photos(60, seed=11, data=src)}
    keep |= backdrops
    # each row keeps its side of the full split (models/cc0.py reads it)
    return [dict(r, side=side.get(r["image"], ""), backdrops="yes" if r["image"] in backdrops else "")
            for r in rows if r["image"] in keep]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", help="the folder holding clothing-cc0/ and polyvore-outfits/")
    shared = Path(ap.parse_args().data)
    src, out = shared / "clothing-cc0", HERE / "cc0"
    rows = choose(src)
    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)
    for r in rows:
        shutil.copy(src / "images" / f"{r['image']}.jpg", out / "images")
    with open(out / "images.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    shutil.copy(src / "LICENSE", out / "LICENSE")
    (HERE / "polyvore").mkdir(exist_ok=True)
    for name in ("outfits.json", "LICENSE"):
        shutil.copy(shared / "polyvore-outfits" / name, HERE / "polyvore" / name)
    print(f"{len(rows)} CC0 photos -> {out}; Polyvore outfits -> {HERE / 'polyvore'}")


if __name__ == "__main__":
    main()
