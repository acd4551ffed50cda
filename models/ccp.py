"""The CCP street photos (`../shared/data/ccp-street-dev`, research data: measured and calibrated
on, never shipped) split in two, once for everyone: bench/street.py tunes thresholds on `tune`
and reports on `report`; `signage models quantize` calibrates on `tune` only."""
from __future__ import annotations

import json
import random
from pathlib import Path


def photo_files(data: Path) -> list[Path]:
    """The photos in the order of their ids (the order split() is defined on)."""
    coco = json.loads((Path(data) / "boxes_coco.json").read_text())
    return [Path(data) / im["file_name"] for im in sorted(coco["images"], key=lambda i: i["id"])]


def split(photos: list, which: str, seed: int = 0) -> list:
    """One half of the photos (in id order): 'tune', 'report', or 'all'."""
    if which == "all":
        return photos
    order = list(range(len(photos)))
    random.Random(seed).shuffle(order)
    half = set(order[: len(order) // 2])
    return [p for i, p in enumerate(photos) if (i in half) == (which == "tune")]
