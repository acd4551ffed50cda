"""Frame -> the items in it: detector + pose per person, or the main object when nobody is there."""
from __future__ import annotations

from typing import Iterable, TypeVar

import numpy as np

from ..taxonomy import photo_kind
from ..types import Box, FrameItems, Item, Person, box_area
from .detector import Detector, expand
from .pose import PoseEstimator, PoseParams, garment_regions
from .saliency import main_object

T = TypeVar("T")


def main_item(items: Iterable[T]) -> T | None:
    """The item the shopper most likely means: the largest, weighted by confidence. Takes
    anything with a `box` and a `score` (a detected Item, a tracked item)."""
    return max(items, key=lambda i: box_area(i.box) * (0.5 + i.score), default=None)


def product_item(found: FrameItems, category: str) -> Item | None:
    """The item of a product photo that shows the product: for shoes and bottoms (often worn by
    a model in the photo) the surest item of that kind, else the photo's main item."""
    kind = photo_kind(category)
    if kind:
        same = [i for i in found.items if i.kind == kind]
        if same:
            return max(same, key=lambda i: i.score)
    return main_item(found.items)


def _inside(inner: Box, outer: Box) -> float:
    """Share of `inner`'s area that lies in `outer`."""
    x1, y1 = max(inner[0], outer[0]), max(inner[1], outer[1])
    x2, y2 = min(inner[2], outer[2]), min(inner[3], outer[3])
    area = max(1, (inner[2] - inner[0]) * (inner[3] - inner[1]))
    return max(0, x2 - x1) * max(0, y2 - y1) / area


class ItemFinder:
    def __init__(self, detector: Detector, pose: PoseEstimator, pose_params: PoseParams = PoseParams()):
        self.detector = detector
        self.footwear_alone_threshold = detector.params.footwear_alone_threshold
        self.pose = pose
        self.pose_params = pose_params

    def __call__(self, bgr: np.ndarray) -> FrameItems:
        H, W = bgr.shape[:2]
        dets = self.detector(bgr)
        out = FrameItems(detections=dets)
        shoes = [d for d in dets if d.label == "footwear"]
        claimed: set[int] = set()
        for det in (d for d in dets if d.label == "person"):
            pose = self.pose(bgr, det.box)
            if pose.score < self.pose_params.min_person:
                continue   # the SSD's "person" was a garment on a hanger, a mannequin's part, ...
            person = Person(len(out.people), det.box, det.score, pose.landmarks)
            pid = person.id
            out.people.append(person)
            regions = garment_regions(person, pose, W, H, self.pose_params)
            # The detector's shoe boxes are tighter than the ones from ankle landmarks: prefer them.
            area = expand(det.box, 0.1, W, H)
            mine = [i for i, s in enumerate(shoes) if i not in claimed and _inside(s.box, area) > 0.6]
            if mine:
                best = max(mine, key=lambda i: shoes[i].score)
                claimed.update(mine)
                regions = [r for r in regions if r.kind != "footwear"]
                regions.append(Item("footwear", shoes[best].box, shoes[best].score, pid, None))
            out.items.extend(regions)
        # Shoes on their own (held up, on the counter) are items without a person.
        for i, s in enumerate(shoes):
            if i not in claimed and s.score >= self.footwear_alone_threshold:
                out.items.append(Item("footwear", s.box, s.score, None, None))
        # Nobody and no shoe (or a person too cut off for a pose): the frame's main object.
        if not out.items:
            out.items.append(main_object(bgr))
        return out
