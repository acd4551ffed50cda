"""The main object of a frame when no person or shoe is seen: a garment held up or laid down.

GrabCut, seeded with "the border is background, the middle may be the object", on a small copy of
the frame; the largest foreground component is the item. Falls back to the centre of the frame
when the cut is implausible (almost nothing, or almost everything). `backdrop` reads a plain
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


def _small(bgr: np.ndarray) -> tuple[np.ndarray, int, int]:
    """A copy of the frame WORK_SIDE px on its long side, and the width of its border (x, y)."""
    H, W = bgr.shape[:2]
    s = WORK_SIDE / max(H, W)
    small = cv2.resize(bgr, (max(1, round(W * s)), max(1, round(H * s))), interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    return small, max(1, int(w * BORDER)), max(1, int(h * BORDER))


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


def main_object(bgr: np.ndarray) -> Item:
    H, W = bgr.shape[:2]
    small, bx, by = _small(bgr)
    h, w = small.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    rect = (bx, by, w - 2 * bx, h - 2 * by)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
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
        box = (int(W * 0.1), int(H * 0.1), int(W * 0.9), int(H * 0.9))
        return Item("garment", box, 0.1, None, None)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    big = cv2.resize(fg, (W, H), interpolation=cv2.INTER_NEAREST).astype(bool)
    ys, xs = np.nonzero(big)
    box: Box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    x1, y1, x2, y2 = box
    return Item("garment", box, round(min(1.0, share * 2), 4), None, big[y1:y2, x1:x2].copy())
