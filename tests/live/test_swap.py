"""A garment held still keeps its card; one swapped for another in the same place is a new item,
decided at once (not after the old item's votes run out)."""
import copy

import cv2
import numpy as np
import pytest

from conftest import ROOT
from edge.live.capture import Frame

DEMO_IMAGES = ROOT / "demo" / "catalog" / "images"


@pytest.fixture(scope="module")
def recognizer(cfg, demo_catalog):
    from edge.runtime import Runtime
    c = copy.deepcopy(cfg)
    c.catalog_dir = demo_catalog
    return Runtime(c).recognizer


def held_up(name: str, rng: np.random.Generator, shift: int = 0) -> np.ndarray:
    """A demo photo held up in front of the camera: on a grey frame, a little noise and drift."""
    photo = cv2.imread(str(DEMO_IMAGES / name))
    frame = np.full((480, 640, 3), 110, np.uint8)
    h, w = photo.shape[:2]
    f = 400 / max(h, w)
    photo = cv2.resize(photo, (int(w * f), int(h * f)))
    y, x = 40 + shift % 5, 120 + shift % 7
    frame[y:y + photo.shape[0], x:x + photo.shape[1]] = photo
    noise = rng.normal(0, 3, frame.shape)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


def run(recognize, names, rng, start_id=1):
    """Frames in order; the main item's shown sku per frame."""
    shown = []
    for i, name in enumerate(names):
        r = recognize(Frame(start_id + i, held_up(name, rng, i), float(i) / 30))
        main = r.main
        shown.append(main.matches[0].sku if main is not None else None)
    return shown


def photos():
    return sorted(p.name for p in DEMO_IMAGES.glob("TS-*.jpg"))[:1] + sorted(p.name for p in DEMO_IMAGES.glob("PA-*.jpg"))[:1]


def test_a_steady_item_never_flickers_over_300_frames(recognizer):
    """Held still for 300 frames (10 s at 30 fps): the card may settle once in the first second
    (its first looks can disagree between two close products), then never changes again."""
    rec = recognizer()
    shown = run(rec, [photos()[0]] * 300, np.random.default_rng(1))
    assert sum(s is not None for s in shown) >= 290, shown[:20]
    changes = [i for i, (a, b) in enumerate(zip(shown, shown[1:])) if a is not None and a != b]
    assert len(changes) <= 1 and all(i < 30 for i in changes), changes
    assert len(set(shown[30:])) == 1 and rec.swaps == 0


def test_a_swapped_item_is_decided_at_once(recognizer):
    rec = recognizer()
    first, second = photos()
    assert first != second
    shown = run(rec, [first] * 30 + [second] * 30, np.random.default_rng(2))
    before, after = shown[29], shown[30:]
    assert before is not None, shown[:30]
    # the card changes within two frames of the swap (majority voting took 7 looks, 1-2 s), once
    assert after[1] != before and after[1] is not None, after[:8]
    assert len(set(after[2:])) == 1 and rec.swaps == 1, (after, rec.swaps)
