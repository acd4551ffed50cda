"""Colour of an item from its own pixels: a histogram for matching and names for people.

Only masked pixels count, so the wall behind a shirt does not make it "beige".
"""
from __future__ import annotations

import cv2
import numpy as np

# The names a shopper reads on a card, with the sRGB swatch the screen shows for each.
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
_INDEX = {n: i for i, n in enumerate(_NAMES)}
_ACHROMATIC = {"black", "charcoal", "grey", "light grey", "white"}

# A pixel is named by lightness L (0-100), chroma C and hue h (degrees) in CIE Lab, not by the
# nearest swatch: phone photos of clothes are desaturated (denim has C ~15, navy in a dim room
# C ~13), and the nearest swatch to those is grey. Below ACHROMATIC_C a pixel is black to white
# by L alone; above it the hue decides the family and L/C the name within it. Thresholds were
# set on the tune half of tests/data/colour_labels.csv (split by sender, bench/tagging.py).
ACHROMATIC_C = 9.0
_GREYS = ((18, "black"), (38, "charcoal"), (62, "grey"), (82, "light grey"), (101, "white"))
# (hue from, hue to, [(condition on L and C, name), ...]): first condition that holds wins.
_HUES = (
    (330, 380, [(lambda L, C: L >= 55, "pink"), (lambda L, C: L < 30, "burgundy"),
                (lambda L, C: C >= 45, "red"), (lambda L, C: L >= 42, "pink"), (None, "burgundy")]),
    (20, 45, [(lambda L, C: L < 30, "burgundy"), (lambda L, C: (C < 30) & (L >= 50), "pink"),
              (lambda L, C: C < 25, "brown"), (lambda L, C: L >= 68, "pink"), (None, "red")]),
    (45, 75, [(lambda L, C: L < 42, "brown"), (lambda L, C: C >= 50, "orange"),
              (lambda L, C: (L >= 70) & (C < 30), "beige"), (lambda L, C: C < 22, "beige"), (None, "camel")]),
    (75, 105, [(lambda L, C: C >= 45, "yellow"), (lambda L, C: L < 45, "olive"),
               (lambda L, C: L >= 72, "beige"), (lambda L, C: (C < 22) & (L >= 58), "beige"), (None, "khaki")]),
    (105, 170, [(lambda L, C: (L < 45) & (C < 35), "olive"), (None, "green")]),
    (170, 225, [(lambda L, C: (L >= 75) & (C < 25), "light blue"), (None, "teal")]),
    # navy is a dark blue of low chroma: a saturated blue in shade (a cobalt hat) stays blue
    (225, 300, [(lambda L, C: (L < 30) & (C < 35), "navy"), (lambda L, C: L >= 62, "light blue"), (None, "blue")]),
    (300, 330, [(lambda L, C: L >= 60, "pink"), (None, "purple")]),
)
_VERY_DARK_L = 12     # below this a coloured pixel is black, or navy if its hue is blue


def name_lch(L: np.ndarray, C: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Palette index for each pixel given in L, C, h (arrays of one shape)."""
    out = np.full(L.shape, -1, np.int32)

    def put(cond, name):
        free = cond & (out < 0)
        out[free] = _INDEX[name]

    grey = C < ACHROMATIC_C
    for top, name in _GREYS:
        put(grey & (L < top), name)
    put((L < _VERY_DARK_L) & (h >= 225) & (h < 300), "navy")
    put(L < _VERY_DARK_L, "black")
    hue = np.where(h < 20, h + 360, h)   # the pink-red family wraps round 0 degrees
    for lo, hi, rules in _HUES:
        family = (hue >= lo) & (hue < hi)
        for cond, name in rules:
            put(family if cond is None else family & cond(L, C), name)
    return out


def _palette_lut() -> np.ndarray:
    """The palette name of every BGR colour quantised to 32 levels a channel: naming an item's
    pixels is then one table look-up each."""
    q = (np.arange(32, dtype=np.uint8) * 8 + 4)
    b, g, r = np.meshgrid(q, q, q, indexing="ij")
    bgr = np.stack([b, g, r], axis=-1).reshape(1, -1, 3).astype(np.float32) / 255.0
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB)[0]
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    hue = np.degrees(np.arctan2(lab[:, 2], lab[:, 1])) % 360
    return name_lch(lab[:, 0], chroma, hue).astype(np.uint8)


_LUT = _palette_lut()
_IS_CHROMATIC = np.array([n not in _ACHROMATIC for n in _NAMES])
# A garment's colour shows in fewer pixels than its shadows and highlights (which read as greys):
# coloured pixels count this much more when shares are compared. Set on the tune half.
CHROMATIC_WEIGHT = 1.5

H_BINS, S_BINS, V_BINS = 8, 4, 4
HIST_DIM = H_BINS * S_BINS * V_BINS
MAX_PIXELS = 4_096      # pixels sampled per item: plenty for a histogram and names, ~1 ms


def item_pixels(bgr: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The item's own pixels (all of the crop without a mask), at most MAX_PIXELS of them."""
    px = bgr.reshape(-1, 3) if mask is None or not mask.any() else bgr[mask]
    if len(px) > MAX_PIXELS:
        px = px[:: len(px) // MAX_PIXELS + 1]
    return np.ascontiguousarray(px, dtype=np.uint8)


def color_histogram(bgr: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """HSV histogram (8x4x4) of the item's pixels, square-rooted and L2-normalised."""
    px = item_pixels(bgr, mask)
    hsv = cv2.cvtColor(px[None], cv2.COLOR_BGR2HSV)[0].astype(np.int32)
    h = np.minimum(hsv[:, 0] * H_BINS // 180, H_BINS - 1)
    s = np.minimum(hsv[:, 1] * S_BINS // 256, S_BINS - 1)
    v = np.minimum(hsv[:, 2] * V_BINS // 256, V_BINS - 1)
    hist = np.bincount((h * S_BINS + s) * V_BINS + v, minlength=HIST_DIM).astype(np.float32)
    hist = np.sqrt(hist / max(hist.sum(), 1.0))   # Hellinger: a dot product compares distributions
    return hist / max(float(np.linalg.norm(hist)), 1e-9)


def palette_name(word: str) -> str | None:
    """The palette name a word is (any case, any spacing: "Light  Grey" is light grey), or None."""
    name = " ".join(word.lower().split())
    return name if name in PALETTE else None


def palette_shares(bgr: np.ndarray, mask: np.ndarray | None = None, worn: bool = False) -> np.ndarray:
    """Each palette name's share of the item's pixels (float32, in PALETTE's order, sums to 1).
    worn: a person wears it, so the pixels of skin tones are left out (the arms in a T-shirt's
    box, the legs around shorts), unless fewer than MIN_NOT_SKIN of them would remain."""
    px = item_pixels(bgr, mask)
    if worn and len(px):
        keep = ~skin(px[None])[0]
        if keep.sum() >= MIN_NOT_SKIN * len(px):
            px = px[keep]
    px = px.astype(np.int32) >> 3
    nearest = _LUT[(px[:, 0] << 10) | (px[:, 1] << 5) | px[:, 2]]
    share = np.bincount(nearest, minlength=len(_NAMES)).astype(np.float32)
    return share / max(float(share.sum()), 1.0)


def names_of_shares(shares: np.ndarray, min_share: float = 0.15, most: int = 3) -> tuple[str, ...]:
    """Palette names covering at least `min_share` of the pixels (coloured ones weighted up),
    most present first."""
    share = np.asarray(shares, np.float64).copy()
    share[_IS_CHROMATIC] *= CHROMATIC_WEIGHT
    share /= max(share.sum(), 1e-12)
    order = np.argsort(-share)
    names = tuple(_NAMES[i] for i in order[:most] if share[i] >= min_share)
    return names or (_NAMES[int(order[0])],)


def color_names(bgr: np.ndarray, mask: np.ndarray | None = None, min_share: float = 0.15,
                most: int = 3, worn: bool = False) -> tuple[str, ...]:
    """Palette names covering at least `min_share` of the item's pixels, most present first."""
    return names_of_shares(palette_shares(bgr, mask, worn), min_share, most)


# A beige or pink garment is mostly "skin" tones: when fewer than this share of its pixels are
# not, all are kept.
MIN_NOT_SKIN = 0.3


def skin(bgr: np.ndarray) -> np.ndarray:
    """True where a pixel has a skin tone (YCrCb's usual skin box, not too dark): left out when a
    garment someone wears is named, so a white top is not "pink" nor briefs "beige"."""
    ycc = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)
    y, cr, cb = ycc[..., 0], ycc[..., 1], ycc[..., 2]
    return (cr >= 135) & (cr <= 175) & (cb >= 80) & (cb <= 130) & (y > 60)
