"""The small licensed copy of the data that lives in the repo (tests/data, written by
bench/subset.py) and Debian's opencv-doc photos: what the tests and the benchmarks that run from a
clone (bench.faults) both read, so neither imports the other."""
from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
CC0 = ROOT / "tests" / "data" / "cc0"                         # CC0 1.0 photos, 384 of 2,915
OUTFITS = ROOT / "tests" / "data" / "polyvore" / "outfits.json"   # MIT, the whole file
# Debian's opencv-doc (installed by deploy/install.sh and .ci/run): real photos with people and shoes.
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
MESSI = OPENCV_DATA / "messi5.jpg"


def cc0_rows(label=None, n=None) -> list[dict]:
    rows = [r for r in csv.DictReader(open(CC0 / "images.csv")) if label is None or r["label"] == label]
    rows.sort(key=lambda r: r["image"])
    return rows[:n] if n else rows


def cc0_cycle(n) -> list[dict]:
    """n rows for tests that need many products: the subset's photos again and again (a catalogue
    may hold one photo under several skus)."""
    rows = cc0_rows()
    return [rows[i % len(rows)] for i in range(n)]


def cc0_path(row) -> Path:
    return CC0 / "images" / f"{row['image']}.jpg"
