"""Person and footwear detector: SSD MobileNetV2 (Open Images v4) with our own box decoding.

The model gives raw `box_encodings [1,1917,4]` and `class_predictions [1,1917,24]`; decoding
follows the TF Object Detection API SSD the model was trained with: 6 feature maps, anchors at
scales 0.2..0.95, box encodings (ty, tx, th, tw) scaled 10/10/5/5, sigmoid class scores.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..params import param
from ..types import Box, Detection

INPUT = 300
STRIDES = (16, 32, 64, 128, 256, 512)   # feature maps 19, 10, 5, 3, 2, 1 -> 1917 anchors
ASPECTS = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)
MIN_SCALE, MAX_SCALE = 0.2, 0.95
BOX_SCALE = (10.0, 10.0, 5.0, 5.0)
MIN_SIDE = 8          # a crop narrower than this (in frame pixels) is not searched
# The SSD's Open Images labels that we use; High heels and Boot score low, so all are footwear.
KIND_OF_LABEL = {"Person": "person", "Footwear": "footwear", "Boot": "footwear", "High heels": "footwear"}


def ssd_anchors() -> np.ndarray:
    """[1917, 4] anchors as (cy, cx, h, w), normalised, in the model's output order."""
    n = len(STRIDES)

    def scale(i: int) -> float:
        return MIN_SCALE + (MAX_SCALE - MIN_SCALE) * i / (n - 1)

    out = []
    for layer, stride in enumerate(STRIDES):
        if layer == 0:  # the lowest layer has 3 boxes: a small square and two of the base scale
            shapes = [(0.1, 1.0), (scale(0), 2.0), (scale(0), 0.5)]
        else:
            s = scale(layer)
            s_next = 1.0 if layer == n - 1 else scale(layer + 1)
            shapes = [(s, a) for a in ASPECTS] + [(math.sqrt(s * s_next), 1.0)]
        fm = math.ceil(INPUT / stride)
        for y in range(fm):
            for x in range(fm):
                for s, a in shapes:
                    r = math.sqrt(a)
                    out.append(((y + 0.5) / fm, (x + 0.5) / fm, s / r, s * r))
    return np.asarray(out, np.float32)


def decode_boxes(raw: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """raw [N,4] (ty, tx, th, tw) -> [N,4] (x1, y1, x2, y2) normalised."""
    cy = raw[:, 0] / BOX_SCALE[0] * anchors[:, 2] + anchors[:, 0]
    cx = raw[:, 1] / BOX_SCALE[1] * anchors[:, 3] + anchors[:, 1]
    h = np.exp(raw[:, 2] / BOX_SCALE[2]) * anchors[:, 2]
    w = np.exp(raw[:, 3] / BOX_SCALE[3]) * anchors[:, 3]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy non-maximum suppression; returns kept indices, best first."""
    order = np.argsort(-scores)
    keep: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = (xx2 - xx1).clip(0) * (yy2 - yy1).clip(0)
        union = areas[i] + areas[rest] - inter
        order = rest[inter / np.maximum(union, 1e-9) <= iou]
    return keep


@dataclass(frozen=True)
class DetectorParams:
    """The `detector` section of the config."""
    person_threshold: float = param(0.2, "a person box is kept from this SSD score (the pose model's flag then "
                                    "decides: pose.min_person)", lo=0, hi=1)
    footwear_threshold: float = param(0.3, "a shoe box near a person is kept from this score (the SSD's shoe scores "
                                      "run low: 0.36-0.61 on real photos)", lo=0, hi=1)
    footwear_alone_threshold: float = param(0.45, "a shoe with no person near must score this (measured: 93% of "
                                            "shoe photos, 0% of T-shirts)", lo=0, hi=1)
    nms_iou: float = param(0.45, "boxes of one kind overlapping more than this are one box", lo=0, hi=1)
    rerun_on_person: bool = param(True, "run again on each person box to find small shoes")
    max_people: int = param(6, "at most this many people a frame, the shopper at the screen first", lo=1)
    passer_by_height: float = param(0.5, "a person shorter than this share of the tallest is a passer-by far "
                                    "behind, not a shopper at the screen: left out", lo=0, hi=1)


class Detector:
    """BGR frame -> person and footwear Detections in frame pixels."""

    def __init__(self, compiled_model, labels: list[str], params: DetectorParams = DetectorParams()):
        self.model = compiled_model
        self.request = compiled_model.create_infer_request()
        self.params = params
        self.runs = 0        # model runs so far (the live loop budgets its frames by them)
        self.anchors = ssd_anchors()
        self.kind_columns = {idx: KIND_OF_LABEL[name] for idx, name in enumerate(labels) if name in KIND_OF_LABEL}
        if len(self.anchors) != compiled_model.outputs[0].get_partial_shape()[1].get_length():
            raise ValueError("detector anchor count does not match the model")

    @staticmethod
    def preprocess(bgr: np.ndarray) -> np.ndarray:
        rgb = cv2.cvtColor(cv2.resize(bgr, (INPUT, INPUT), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        return (rgb.astype(np.float32) / 127.5 - 1.0)[None]

    def infer(self, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.runs += 1
        self.request.infer({0: self.preprocess(bgr)})
        return (self.request.get_output_tensor(0).data[0].copy(),
                self.request.get_output_tensor(1).data[0].copy())

    def postprocess(self, raw_boxes: np.ndarray, raw_scores: np.ndarray, width: int, height: int,
                    offset: tuple[int, int] = (0, 0)) -> list[Detection]:
        boxes = decode_boxes(raw_boxes, self.anchors)
        scores = 1.0 / (1.0 + np.exp(-raw_scores))
        out: list[Detection] = []
        for kind in ("person", "footwear"):
            cols = [c for c, k in self.kind_columns.items() if k == kind]
            s = scores[:, cols].max(axis=1)
            thr = self.params.person_threshold if kind == "person" else self.params.footwear_threshold
            idx = np.flatnonzero(s >= thr)
            if idx.size == 0:
                continue
            for i in nms(boxes[idx], s[idx], self.params.nms_iou):
                box = _to_pixels(boxes[idx[i]], width, height, offset)
                if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:   # a box clipped to nothing at the edge
                    out.append(Detection(kind, box, float(s[idx[i]])))
        return out

    def detect_once(self, bgr: np.ndarray, offset: tuple[int, int] = (0, 0)) -> list[Detection]:
        h, w = bgr.shape[:2]
        if h < MIN_SIDE or w < MIN_SIDE:      # an empty or sliver crop: nothing to find, and resize would fail
            return []
        return self.postprocess(*self.infer(bgr), w, h, offset)

    @staticmethod
    def person_views(bgr: np.ndarray, boxes: list[Box]) -> list[Box]:
        """The regions the shoes are looked for again: each person box, a little enlarged, unless
        it is most of the frame already (models/quantize.py calibrates on the same views)."""
        H, W = bgr.shape[:2]
        views = [expand(box, 0.1, W, H) for box in boxes]
        return [(x1, y1, x2, y2) for x1, y1, x2, y2 in views if (x2 - x1) * (y2 - y1) <= 0.8 * W * H]

    def shoes_on(self, bgr: np.ndarray, boxes: list[Box]) -> list[Detection]:
        """Footwear found by running again on each person box: a shoe is a few pixels in a 300x300
        view of the whole frame; on the person box it is not."""
        out: list[Detection] = []
        for x1, y1, x2, y2 in self.person_views(bgr, boxes):
            out += [d for d in self.detect_once(bgr[y1:y2, x1:x2], (x1, y1)) if d.label == "footwear"]
        return out

    def __call__(self, bgr: np.ndarray) -> list[Detection]:
        found = self.detect_once(bgr)
        people = sorted((d for d in found if d.label == "person"), key=lambda d: -d.score)
        people = people[: self.params.max_people]
        shoes = [d for d in found if d.label == "footwear"]
        if self.params.rerun_on_person:
            shoes += self.shoes_on(bgr, [p.box for p in people])
        return people + merge(shoes, self.params.nms_iou)


def merge(dets: list[Detection], iou: float) -> list[Detection]:
    if len(dets) < 2:
        return dets
    boxes = np.asarray([d.box for d in dets], np.float32)
    scores = np.asarray([d.score for d in dets], np.float32)
    return [dets[i] for i in nms(boxes, scores, iou)]


def _to_pixels(b: np.ndarray, w: int, h: int, offset: tuple[int, int]) -> Box:
    x1 = int(round(float(np.clip(b[0], 0, 1)) * w)) + offset[0]
    y1 = int(round(float(np.clip(b[1], 0, 1)) * h)) + offset[1]
    x2 = int(round(float(np.clip(b[2], 0, 1)) * w)) + offset[0]
    y2 = int(round(float(np.clip(b[3], 0, 1)) * h)) + offset[1]
    return (x1, y1, x2, y2)


def expand(box: Box, frac: float, width: int, height: int) -> Box:
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * frac, (y2 - y1) * frac
    return (max(0, int(x1 - dx)), max(0, int(y1 - dy)), min(width, int(x2 + dx)), min(height, int(y2 + dy)))
