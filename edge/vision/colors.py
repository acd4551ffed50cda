"""Colour of an item from its own pixels: a histogram for matching and names for people.

Only masked pixels count, so the wall behind a shirt does not make it "beige".
"""
from __future__ import annotations

import cv2
import numpy as np

# Named palette a shop uses (sRGB). Names are what a shopper reads on a card.
PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 22), "charcoal": (60, 60, 64), "grey": (128, 128, 128),
    "light grey": (190, 190, 190), "white": (242, 242, 240), "beige": (215, 195, 160),
    "brown": (110, 70, 40), "camel": (190, 140, 80), "khaki": (150, 140, 90),
    "olive": (100, 105, 50), "green": (40, 130, 60), "teal": (0, 120, 120),
    "navy": (28, 36, 75), "blue": (40, 80, 170), "light blue": (140, 180, 225),
    "purple": (110, 50, 130), "pink": (235, 150, 180), "red": (190, 30, 40),
    "burgundy": (110, 25, 45), "orange": (235, 120, 40), "yellow": (240, 210, 50),
}
_NAMES = list(PALETTE)
_LAB = cv2.cvtColor(np.array([list(PALETTE.values())], np.uint8), cv2.COLOR_RGB2LAB)[0].astype(np.float32)



def _palette_lut() -> np.ndarray:
    """Nearest palette colour (in Lab) for every BGR colour quantised to 32 levels a channel:
    naming an item's pixels is then one table look-up each."""
    q = (np.arange(32, dtype=np.uint8) * 8 + 4)
    b, g, r = np.meshgrid(q, q, q, indexing="ij")
    bgr = np.stack([b, g, r], axis=-1).reshape(1, -1, 3)
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB)[0].astype(np.float32)
    return np.argmin(((lab[:, None, :] - _LAB[None]) ** 2).sum(-1), axis=1).astype(np.uint8)


_LUT = _palette_lut()

H_BINS, S_BINS, V_BINS = 8, 4, 4
HIST_DIM = H_BINS * S_BINS * V_BINS
MAX_PIXELS = 4_096      # pixels sampled per item: plenty for a histogram and names, ~1 ms


def _pixels(bgr: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    px = bgr.reshape(-1, 3) if mask is None or not mask.any() else bgr[mask]
    if len(px) > MAX_PIXELS:
        px = px[:: len(px) // MAX_PIXELS + 1]
    return np.ascontiguousarray(px, dtype=np.uint8)


def color_histogram(bgr: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """HSV histogram (8x4x4) of the item's pixels, square-rooted and L2-normalised."""
    px = _pixels(bgr, mask)
    hsv = cv2.cvtColor(px[None], cv2.COLOR_BGR2HSV)[0].astype(np.int32)
    h = np.minimum(hsv[:, 0] * H_BINS // 180, H_BINS - 1)
    s = np.minimum(hsv[:, 1] * S_BINS // 256, S_BINS - 1)
    v = np.minimum(hsv[:, 2] * V_BINS // 256, V_BINS - 1)
    hist = np.bincount((h * S_BINS + s) * V_BINS + v, minlength=HIST_DIM).astype(np.float32)
    hist = np.sqrt(hist / max(hist.sum(), 1.0))   # Hellinger: a dot product compares distributions
    return hist / max(float(np.linalg.norm(hist)), 1e-9)


def color_names(bgr: np.ndarray, mask: np.ndarray | None = None, min_share: float = 0.15,
                most: int = 3) -> tuple[str, ...]:
    """Palette names covering at least `min_share` of the item's pixels, most present first."""
    px = _pixels(bgr, mask).astype(np.int32) >> 3
    nearest = _LUT[(px[:, 0] << 10) | (px[:, 1] << 5) | px[:, 2]]
    share = np.bincount(nearest, minlength=len(_NAMES)) / max(len(nearest), 1)
    order = np.argsort(-share)
    names = tuple(_NAMES[i] for i in order[:most] if share[i] >= min_share)
    return names or (_NAMES[int(order[0])],)
