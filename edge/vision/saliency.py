"""The main object of a frame when no person or shoe is seen: a garment held up or laid down.

GrabCut, seeded with "the border is background, the middle may be the object", on a small copy of
the frame; the largest foreground component is the item. Falls back to the centre of the frame
when the cut is implausible (almost nothing, or almost everything). An object that fills its box
is a picture of a garment (a photo or a phone held up; the demo video's frames): the garment is cut
again inside it, and its colour named from that (`picture_subject`). `backdrop` reads a plain
backdrop's colour from the frame's border, so items without a mask (a shoe's box) are named
from their own pixels.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..types import Box, Item

WORK_SIDE = 128       # GrabCut cost grows with pixels; 128 px keeps it to a few ms
BORDER = 0.05         # this share of each side is assumed background
BACKDROP_SPREAD = 15.0  # a border whose colours stay this close (Lab) to their median is a plain backdrop
# An object that fills this share of its box is a picture (a photo, a phone's screen) of a garment,
# cut again inside with this share of each side assumed the picture's own backdrop. Chosen on the
# tune half of bench/tagging.py's CC0 photos held up as the demo video holds them (MJPG): first
# colour 0.50 before; fill 0.85-0.92 equal, 0.95 worse; border 0.05 0.74, 0.08 0.88, 0.10 0.87,
# 0.15 0.80 (96 px instead of 128: 0.86). The same photos as the frame itself (a garment, not a
# picture of one): 0.88 unchanged at fill 0.92, one lost at 0.90. About 23 ms a cut, made only on a
# whole-frame pass that finds a picture.
PICTURE_FILL = 0.92
PICTURE_BORDER = 0.08


def _small(bgr: np.ndarray, border: float = BORDER) -> tuple[np.ndarray, int, int]:
    """A copy of the frame WORK_SIDE px on its long side, and the width of its border (x, y)."""
    H, W = bgr.shape[:2]
    s = WORK_SIDE / max(H, W)
    small = cv2.resize(bgr, (max(1, round(W * s)), max(1, round(H * s))), interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    return small, max(1, int(w * border)), max(1, int(h * border))


def backdrop(bgr: np.ndarray) -> tuple[np.ndarray, float] | None:
    """A plain backdrop's colour (Lab) and spread, read from the frame's border; None when the
    border is not plain (a room, a shop floor)."""
    small, bx, by = _small(bgr)
    lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB).astype(np.float32)
    ring = np.concatenate([lab[:by].reshape(-1, 3), lab[-by:].reshape(-1, 3),
                           lab[:, :bx].reshape(-1, 3), lab[:, -bx:].reshape(-1, 3)])
    colour = np.median(ring, axis=0)
    spread = float(np.percentile(np.linalg.norm(ring - colour, axis=1), 80))
    return None if spread > BACKDROP_SPREAD else (colour, spread)


def off_backdrop(bgr: np.ndarray, plain: tuple[np.ndarray, float]) -> np.ndarray:
    """True where a pixel is not the plain backdrop's colour."""
    colour, spread = plain
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB).astype(np.float32)
    return np.linalg.norm(lab - colour, axis=2) > max(12.0, 2.5 * spread)


def _cut(bgr: np.ndarray, border: float = BORDER) -> tuple[np.ndarray | None, float]:
    """GrabCut's largest foreground component, full size (bool), and its share of the image; None
    when the cut is implausible (almost nothing, or almost everything)."""
    H, W = bgr.shape[:2]
    small, bx, by = _small(bgr, border)
    h, w = small.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    rect = (bx, by, w - 2 * bx, h - 2 * by)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        # GrabCut seeds its colour models by k-means from OpenCV's (per-thread) random state: seeded
        # here, a photo is cut the same whatever was cut before it (an import's or a batch's order,
        # a killed batch resumed)
        cv2.setRNGSeed(0)
        cv2.grabCut(small, mask, rect, bgd, fgd, 3, cv2.GC_INIT_WITH_RECT)
        fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    except cv2.error:  # flat images (one colour) have no model to fit
        fg = np.zeros((h, w), np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    share = 0.0
    if n > 1:
        biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        fg = (labels == biggest).astype(np.uint8)
        share = float(fg.mean())
    if not 0.03 <= share <= 0.97:
        return None, share
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    return cv2.resize(fg, (W, H), interpolation=cv2.INTER_NEAREST).astype(bool), share


def main_object(bgr: np.ndarray) -> Item:
    H, W = bgr.shape[:2]
    big, share = _cut(bgr)
    if big is None:
        box = (int(W * 0.1), int(H * 0.1), int(W * 0.9), int(H * 0.9))
        return Item("garment", box, 0.1, None, None)
    ys, xs = np.nonzero(big)
    box: Box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    x1, y1, x2, y2 = box
    mask = big[y1:y2, x1:x2].copy()
    return Item("garment", box, round(min(1.0, share * 2), 4), None, mask, colour_mask=picture_subject(bgr[y1:y2, x1:x2], mask))


def picture_subject(crop: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """What a picture held up shows: when the object fills its box (a photo, a phone's screen, a
    board: the garment on a floor inside it), the garment cut from the picture's own backdrop;
    None for any other object. Its colour is named from that; its vector stays the object's."""
    if mask.mean() < PICTURE_FILL:
        return None
    inner, _ = _cut(crop, PICTURE_BORDER)
    return None if inner is None else inner & mask
