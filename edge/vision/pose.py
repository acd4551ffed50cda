"""BlazePose (full) on a person box: 33 landmarks and a person mask -> upper, lower and feet regions.

The detector's person box is squared and padded into the model's 256x256 input with an affine
warp; the same warp, inverted, maps landmarks and mask back into frame pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..params import param
from ..types import Box, Item, Person

INPUT = 256
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 11, 12, 13, 14, 15, 16
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 23, 24, 25, 26, 27, 28
L_HEEL, R_HEEL, L_TOE, R_TOE = 29, 30, 31, 32


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


@dataclass(frozen=True)
class PoseParams:
    """The `pose` section of the config."""
    min_person: float = param(0.99, "the pose model's own 'a person is here' flag a person box must reach: real "
                              "people score >= 0.999 (CCP tune half); 1.5% of garment photos the SSD calls a "
                              "person pass", lo=0, hi=1)
    on_model: float = param(0.3, "a product photo's main object is worn by a model (its colour named without skin "
                            "tones) when the pose model gives one of the SSD's person boxes at least this, though "
                            "under min_person (shop models score 0.3-0.98 there). Myntra tune half: first colour "
                            "0.603 -> 0.624 on 700 photos, 15 better, none worse", lo=0, hi=1)
    min_visibility: float = param(0.5, "a landmark is used from this visibility", lo=0, hi=1)
    mask_threshold: float = param(0.5, "a pixel is the person's from this mask probability", lo=0, hi=1)


@dataclass
class PoseResult:
    landmarks: np.ndarray   # [33, 4] x, y in frame px, visibility, presence (0..1)
    mask: np.ndarray        # float32 [H, W] of the frame, person probability (0 outside the ROI)
    score: float            # the model's "a person is here" flag, 0..1


class PoseEstimator:
    def __init__(self, compiled_model, params: PoseParams = PoseParams()):
        self.request = compiled_model.create_infer_request()
        self.params = params
        self.runs = 0        # model runs so far (the live loop budgets its frames by them)

    @staticmethod
    def roi_transform(box: Box, scale: float = 1.25) -> np.ndarray:
        """2x3 affine matrix from frame pixels into the 256x256 input, person centred and squared."""
        x1, y1, x2, y2 = box
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        side = max(x2 - x1, y2 - y1) * scale
        s = INPUT / max(side, 1.0)
        return np.array([[s, 0, INPUT / 2 - s * cx], [0, s, INPUT / 2 - s * cy]], np.float32)

    def preprocess(self, bgr: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray]:
        m = self.roi_transform(box)
        crop = cv2.warpAffine(bgr, m, (INPUT, INPUT), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        return rgb[None], m

    def __call__(self, bgr: np.ndarray, box: Box) -> PoseResult:
        tensor, m = self.preprocess(bgr, box)
        self.runs += 1
        self.request.infer({0: tensor})
        raw = self.request.get_output_tensor(0).data[0].reshape(39, 5)[:33].copy()
        flag = float(self.request.get_output_tensor(1).data.reshape(-1)[0])
        seg = self.request.get_output_tensor(2).data[0, :, :, 0].copy()
        return self.postprocess(raw, flag, seg, m, bgr.shape[1], bgr.shape[0])

    @staticmethod
    def postprocess(raw: np.ndarray, flag: float, seg: np.ndarray, m: np.ndarray, width: int,
                    height: int) -> PoseResult:
        inv = cv2.invertAffineTransform(m)
        xy = raw[:, :2] @ inv[:, :2].T + inv[:, 2]
        lm = np.concatenate([xy, _sigmoid(raw[:, 3:5])], axis=1).astype(np.float32)
        mask = cv2.warpAffine(_sigmoid(seg).astype(np.float32), inv, (width, height),
                              flags=cv2.INTER_LINEAR, borderValue=0)
        # The flag is already a probability in this model (an output of a sigmoid layer).
        return PoseResult(lm, mask, float(np.clip(flag, 0.0, 1.0)))


def _visible(lm: np.ndarray, idx: tuple[int, ...], thr: float) -> np.ndarray | None:
    pts = lm[list(idx)]
    ok = pts[:, 2] >= thr
    return pts[ok, :2] if ok.any() else None


def _clip(x1, y1, x2, y2, width, height) -> Box | None:
    b = (max(0, int(x1)), max(0, int(y1)), min(width, int(round(x2))), min(height, int(round(y2))))
    if b[2] - b[0] < 8 or b[3] - b[1] < 8:
        return None
    return b


# Tuned on the CCP tune half (bench/street.py): skin's chroma within 8 (OpenCV Lab a, b units) of the
# face's, on half of the legs' pixels, for 8% of the leg's length.
HEM_SKIN_DIST, HEM_SHARE, HEM_RUN = 8.0, 0.5, 0.08
NOSE, L_EYE, R_EYE, MOUTH_L, MOUTH_R = 0, 2, 5, 9, 10


def skin_colour(bgr: np.ndarray, lm: np.ndarray, thr: float) -> tuple[np.ndarray, float] | None:
    """The person's skin tone (Lab median, spread) from the middle of their face, between nose and
    mouth: what their bare legs or arms look like in this light. Stays in memory, like the frame."""
    if min(lm[NOSE, 2], lm[L_EYE, 2], lm[R_EYE, 2]) < thr:
        return None
    eyes = float(np.linalg.norm(lm[L_EYE, :2] - lm[R_EYE, :2]))
    cx, cy = (lm[NOSE, :2] + (lm[MOUTH_L, :2] + lm[MOUTH_R, :2]) / 2) / 2
    r = max(2, int(0.35 * eyes))
    x1, y1, x2, y2 = int(cx) - r, int(cy) - r, int(cx) + r + 1, int(cy) + r + 1
    if x1 < 0 or y1 < 0 or x2 > bgr.shape[1] or y2 > bgr.shape[0]:
        return None
    # chroma only (a, b): a face in a hat's shadow and legs in the sun differ in lightness, not hue
    patch = cv2.cvtColor(bgr[y1:y2, x1:x2], cv2.COLOR_BGR2LAB).reshape(-1, 3)[:, 1:].astype(np.float32)
    colour = np.median(patch, axis=0)
    return colour, float(np.percentile(np.linalg.norm(patch - colour, axis=1), 80))


def hem_row(bgr: np.ndarray, mask: np.ndarray, x1: int, x2: int, scan: tuple[int, int], skin, min_run: int) -> int | None:
    """Where a garment on the legs ends going down: the first row of `scan` (y from, y to) from which,
    for `min_run` rows, more than HEM_SHARE of the person's pixels between x1 and x2 are bare skin.
    None: no skin shows (trousers, tights): the garment goes on to the end of the scan."""
    y0, y1 = max(0, scan[0]), min(bgr.shape[0], scan[1])
    x1, x2 = max(0, x1), min(bgr.shape[1], x2)
    if x2 - x1 < 4 or y1 - y0 <= min_run:
        return None
    colour, spread = skin
    lab = cv2.cvtColor(bgr[y0:y1, x1:x2], cv2.COLOR_BGR2LAB)[..., 1:].astype(np.float32)
    person = mask[y0:y1, x1:x2]
    bare = np.linalg.norm(lab - colour, axis=2) < max(HEM_SKIN_DIST, 1.5 * spread)
    counts = person.sum(axis=1)
    share = np.where(counts > 4, (bare & person).sum(axis=1) / np.maximum(counts, 1), 0.0)
    share = np.convolve(share, np.ones(5) / 5, mode="same")      # one odd row is not a hem
    hit = share > HEM_SHARE
    if hit[: min_run].any():
        return None       # the garment itself has the skin's hue (beige, tan, camel): no hem to see
    for r in range(0, len(share) - min_run):
        if hit[r:r + min_run].all():
            return y0 + r
    return None


def _without_hands(mask: np.ndarray, lm: np.ndarray, thr: float, hand: float) -> np.ndarray:
    """The person mask less a box around each visible hand: hands hang beside the thighs, and
    their skin is not a hem."""
    out = mask.copy()
    for w in (L_WRIST, R_WRIST):
        if lm[w, 2] >= thr:
            wx, wy = lm[w, :2]
            out[max(0, int(wy - hand)):max(0, int(wy + 2 * hand)), max(0, int(wx - hand)):max(0, int(wx + hand))] = False
    return out


def garment_regions(person: Person, pose: PoseResult, width: int, height: int,
                    params: PoseParams = PoseParams(), bgr: np.ndarray | None = None) -> list[Item]:
    """Upper body (shoulders -> hips), lower body (hips -> the hem, or the ankles) and feet, from
    the landmarks; with the frame, the lower body ends where its colour does (a skirt or shorts
    over legs) instead of at the ankles."""
    lm, thr = pose.landmarks, params.min_visibility
    px1, py1, px2, py2 = person.box
    items: list[Item] = []
    sh = _visible(lm, (L_SHOULDER, R_SHOULDER), thr)
    hip = _visible(lm, (L_HIP, R_HIP), thr)
    ank = _visible(lm, (L_ANKLE, R_ANKLE, L_KNEE, R_KNEE), thr)
    feet = _visible(lm, (L_ANKLE, R_ANKLE, L_HEEL, R_HEEL, L_TOE, R_TOE), thr)
    mask = pose.mask >= params.mask_threshold

    def add(kind: str, box: Box | None):
        if box is None:
            return
        x1, y1, x2, y2 = box
        m = mask[y1:y2, x1:x2]
        cover = float(m.mean()) if m.size else 0.0
        # A region with almost no person pixels is a wrong pose; keep box, drop mask if thin.
        items.append(Item(kind, box, round(pose.score * max(cover, 0.05), 4), person.id,
                          m.copy() if cover > 0.15 else None))

    if sh is not None and hip is not None:
        shoulder_w = float(np.ptp(sh[:, 0])) if len(sh) == 2 else (px2 - px1) * 0.3
        pad = max(shoulder_w * 0.3, 4.0)
        arms = _visible(lm, (L_ELBOW, R_ELBOW), thr)
        xs = np.concatenate([sh[:, 0], hip[:, 0]] + ([arms[:, 0]] if arms is not None else []))
        top = float(sh[:, 1].min()) - pad * 0.5
        bottom = float(hip[:, 1].max()) + pad * 0.3
        add("upper", _clip(xs.min() - pad, top, xs.max() + pad, bottom, width, height))
    if hip is not None and ank is not None and ank[:, 1].max() > hip[:, 1].max():
        hip_w = float(np.ptp(hip[:, 0])) if len(hip) == 2 else (px2 - px1) * 0.25
        pad = max(hip_w * 0.35, 4.0)
        xs = np.concatenate([hip[:, 0], ank[:, 0]])
        top, bottom = float(hip[:, 1].min()), float(ank[:, 1].max())
        skin = skin_colour(bgr, lm, thr) if bgr is not None else None
        if skin is not None:
            leg = bottom - float(hip[:, 1].max())
            hy = int(hip[:, 1].max())
            # the legs' own columns (hip joints and knees)
            knee = _visible(lm, (L_KNEE, R_KNEE), thr)
            legs = np.concatenate([hip[:, 0]] + ([knee[:, 0]] if knee is not None else []))
            hem = hem_row(bgr, _without_hands(mask, lm, thr, max(0.12 * leg, 6.0)), int(legs.min()),
                          int(legs.max()) + 1, (hy + int(0.1 * leg), int(bottom)), skin, max(3, int(HEM_RUN * leg)))
            if hem is not None:
                bottom = hem + 0.02 * leg
        add("lower", _clip(xs.min() - pad, top, xs.max() + pad, bottom, width, height))
    if feet is not None:
        span = max(float(np.ptp(feet[:, 0])), (px2 - px1) * 0.15)
        pad = span * 0.25
        items.append(Item("footwear",
                          _clip(feet[:, 0].min() - pad, feet[:, 1].min() - pad,
                                feet[:, 0].max() + pad, feet[:, 1].max() + pad * 0.8, width, height)
                          or person.box, round(pose.score * 0.5, 4), person.id, None))
        if items[-1].box == person.box:
            items.pop()
    return items
