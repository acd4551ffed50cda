"""BlazePose (full) on a person box: 33 landmarks and a person mask -> upper, lower and feet regions.

The detector's person box is squared and padded into the model's 256x256 input with an affine
warp; the same warp, inverted, maps landmarks and mask back into frame pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..types import Box, Item, Person

INPUT = 256
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW = 11, 12, 13, 14
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 23, 24, 25, 26, 27, 28
L_HEEL, R_HEEL, L_TOE, R_TOE = 29, 30, 31, 32


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


@dataclass(frozen=True)
class PoseParams:
    """The `pose` section of the config (validated there)."""
    min_person: float = 0.5          # the model's "a person is here" flag; below: not a person
    min_visibility: float = 0.5
    mask_threshold: float = 0.5


@dataclass
class PoseResult:
    landmarks: np.ndarray   # [33, 4] x, y in frame px, visibility, presence (0..1)
    mask: np.ndarray        # float32 [H, W] of the frame, person probability (0 outside the ROI)
    score: float            # the model's "a person is here" flag, 0..1


class PoseEstimator:
    def __init__(self, compiled_model, params: PoseParams = PoseParams()):
        self.request = compiled_model.create_infer_request()
        self.params = params

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


def garment_regions(person: Person, pose: PoseResult, width: int, height: int,
                    params: PoseParams = PoseParams()) -> list[Item]:
    """Upper body (shoulders -> hips), lower body (hips -> ankles) and feet, from landmarks."""
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
        add("lower", _clip(xs.min() - pad, float(hip[:, 1].min()), xs.max() + pad,
                           float(ank[:, 1].max()), width, height))
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
