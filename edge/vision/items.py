"""Frame -> the items in it: detector + pose per person, or the main object when nobody is there."""
from __future__ import annotations

from typing import Iterable, TypeVar

import numpy as np

from ..taxonomy import photo_kind
from ..types import Box, Detection, FrameItems, Item, Person, box_area, inside, union
from .detector import Detector, expand, merge
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


def pair_of_shoes(shoes: list[Detection], person: int) -> Item:
    """A shopper's footwear is one product, a pair: the surest shoe box joined with the next
    surest when that one stands beside it (level with it, within two shoe widths). On the CCP
    tune half this box matched a shoe or the pair at IoU >= 0.5 for 0.81 of people; the surest
    shoe alone, 0.60."""
    ranked = sorted(shoes, key=lambda d: -d.score)
    a = ranked[0].box
    for other in ranked[1:]:
        b = other.box
        w = max(a[2] - a[0], b[2] - b[0])
        level = min(a[3], b[3]) - max(a[1], b[1]) > 0
        if level and max(a[0], b[0]) - min(a[2], b[2]) < 2 * w:
            a = union([a, b])
            break
    return Item("footwear", a, ranked[0].score, person, None)


# Shoes with nobody in the frame stand for the frame only when the frame's main object is those
# shoes: an object this many times the shoes' box is a garment with a stray shoe box at its edge
# (a hat's crown, a blazer's hem read as a shoe; 25 of 1,831 catalogue-side CC0 photos).
GARMENT_OVER_SHOES = 3.0

HEAD_SHOULDERS = (0, 11, 12)                    # nose, shoulders
FEET = (27, 28, 29, 30, 31, 32)                 # ankles, heels, toes
BODY = (11, 12, 23, 24, 25, 26, 27, 28)         # + knees, ankles: how complete a person is in view


def _moved(box: Box, before: np.ndarray, after: np.ndarray, idx, thr: float, width: int, height: int) -> Box | None:
    """`box` moved by how the landmarks `idx` seen in both poses moved (their median shift), kept
    inside the frame; None when none of them is seen in both."""
    idx = list(idx)
    both = (before[idx, 2] >= thr) & (after[idx, 2] >= thr)
    if not both.any():
        return None
    dx, dy = np.median(after[idx][both, :2] - before[idx][both, :2], axis=0)
    x1, y1, x2, y2 = box
    moved = (max(0, int(round(x1 + dx))), max(0, int(round(y1 + dy))),
             min(width, int(round(x2 + dx))), min(height, int(round(y2 + dy))))
    return moved if moved[2] - moved[0] >= 8 and moved[3] - moved[1] >= 8 else None


def _same_person(a: np.ndarray, b: np.ndarray, thr: float) -> bool:
    """Two poses of one skeleton (the SSD's full-body box and a box of the same person's top half):
    nose and shoulders lie within half a shoulder width of each other. Two real people cannot
    stand closer than a shoulder width. (Hips are left out: a pose on a half-body box guesses them.)"""
    both = [i for i in HEAD_SHOULDERS if a[i, 2] >= thr and b[i, 2] >= thr]
    if len(both) < 2:
        return False
    width = max(float(np.linalg.norm(a[11, :2] - a[12, :2])), float(np.linalg.norm(b[11, :2] - b[12, :2])), 1.0)
    return float(np.linalg.norm(a[both, :2] - b[both, :2], axis=1).mean()) < 0.5 * width


def lead_score(box: Box, landmarks: np.ndarray, width: int, height: int, thr: float) -> float:
    """How much a person is the shopper at the screen: tall in the frame, near its centre, and
    whole (shoulders to ankles visible inside it). A person cut off at the edge or far behind
    scores low and never leads."""
    tall = min(1.0, (box[3] - box[1]) / max(height, 1))
    off_centre = abs((box[0] + box[2]) / 2 / max(width, 1) - 0.5) * 2          # 0 centre .. 1 edge
    pts = landmarks[list(BODY)]
    inside = (pts[:, 2] >= thr) & (pts[:, 0] >= 0) & (pts[:, 0] < width) & (pts[:, 1] >= 0) & (pts[:, 1] < height)
    return tall * (1.0 - 0.5 * off_centre) * (0.5 + 0.5 * float(inside.mean()))


class ItemFinder:
    def __init__(self, detector: Detector, pose: PoseEstimator, pose_params: PoseParams = PoseParams()):
        self.detector = detector
        self.params = detector.params
        self.footwear_alone_threshold = detector.params.footwear_alone_threshold
        self.pose = pose
        self.pose_params = pose_params

    def people(self, bgr: np.ndarray, candidates: list[Detection]) -> list[tuple[Detection, object]]:
        """The people in the frame, the shopper at the screen first: every candidate box the pose
        model accepts, one per skeleton; passers-by far behind (under `passer_by_height` of the
        tallest person) are left out before their pose is even run: a crowd costs nothing."""
        H, W = bgr.shape[:2]
        thr = self.pose_params.min_visibility
        kept: list[tuple[Detection, object]] = []
        tallest, runs = 0, 0
        for det in sorted(candidates, key=lambda d: -(d.box[3] - d.box[1])):
            h = det.box[3] - det.box[1]
            if h < self.params.passer_by_height * tallest or runs >= 2 * self.params.max_people:
                break                      # tallest first: everyone after is shorter still
            if det.box[2] - det.box[0] < 8 or h < 8:
                continue
            if any(inside(det.box, k.box) > 0.9 for k, _ in kept):
                continue   # a box inside a person's box is that person's half (a pose would say so: skip it)
            pose = self.pose(bgr, det.box)
            runs += 1
            if pose.score < self.pose_params.min_person:
                continue   # the SSD's "person" was a garment on a hanger, a mannequin's part, ...
            tallest = max(tallest, h)
            twin = next((k for k, (_, p) in enumerate(kept) if _same_person(p.landmarks, pose.landmarks, thr)), None)
            if twin is None:
                kept.append((det, pose))
            elif box_area(det.box) > box_area(kept[twin][0].box):
                kept[twin] = (det, pose)   # the same person: keep the box that holds all of them
        kept.sort(key=lambda dp: -lead_score(dp[0].box, dp[1].landmarks, W, H, thr))
        return kept[: self.params.max_people]

    def __call__(self, bgr: np.ndarray, follow: FrameItems | None = None) -> FrameItems:
        """The frame's items. `follow`: the items of the previous frame (the live loop,
        edge/live/recognizer.py): its people are then looked at again by the pose model alone,
        on their last boxes, and the detector does not run (their shoes' boxes move with their
        feet): one model run a person, not three. Someone not found again means a full pass."""
        found = self._follow(bgr, follow) if follow is not None and follow.people else None
        if found is None:
            first = self.detector.detect_once(bgr)
            people = self.people(bgr, [d for d in first if d.label == "person"])
            shoes = [d for d in first if d.label == "footwear"]
            if self.params.rerun_on_person:
                shoes += self.detector.shoes_on(bgr, [det.box for det, _ in people])
        else:
            people, shoes = found
        return self._items(bgr, people, merge(shoes, self.params.nms_iou))

    def _follow(self, bgr: np.ndarray, last: FrameItems):
        """The last frame's people, each found again by a pose on their last box (the pose model
        squares and pads it by a quarter: a shopper moves a few per cent of their height a frame);
        their boxes and shoes move by how their landmarks moved. None when a pose fails."""
        H, W = bgr.shape[:2]
        thr = self.pose_params.min_visibility
        people, shoes = [], []
        for person in last.people[: self.params.max_people]:
            pose = self.pose(bgr, person.box)
            if pose.score < self.pose_params.min_person:
                return None      # they left the box they stood in (or turned away): look at the whole frame
            box = _moved(person.box, person.landmarks, pose.landmarks, range(33), thr, W, H)
            if box is None:
                return None
            people.append((Detection("person", box, person.score), pose))
            for it in last.items:
                if it.person == person.id and it.kind == "footwear":
                    feet = _moved(it.box, person.landmarks, pose.landmarks, FEET, thr, W, H)
                    if feet is not None:
                        shoes.append(Detection("footwear", feet, it.score))
        return people, shoes

    def _items(self, bgr: np.ndarray, people, shoes: list[Detection]) -> FrameItems:
        H, W = bgr.shape[:2]
        out = FrameItems(detections=[det for det, _ in people] + shoes)
        claimed: set[int] = set()
        for det, pose in people:      # the lead shopper first: their shoes are theirs
            person = Person(len(out.people), det.box, det.score, pose.landmarks)
            pid = person.id
            out.people.append(person)
            regions = garment_regions(person, pose, W, H, self.pose_params, bgr)
            # The detector's shoe boxes are tighter than the ones from ankle landmarks: prefer them.
            area = expand(det.box, 0.1, W, H)
            mine = [i for i, s in enumerate(shoes) if i not in claimed and inside(s.box, area) > 0.6]
            if mine:
                claimed.update(mine)
                regions = [r for r in regions if r.kind != "footwear"]
                regions.append(pair_of_shoes([shoes[i] for i in mine], pid))
            out.items.extend(regions)
        # Shoes on their own (held up, on the counter) are items without a person.
        for i, s in enumerate(shoes):
            if i not in claimed and s.score >= self.footwear_alone_threshold:
                out.items.append(Item("footwear", s.box, s.score, None, None))
        # Nobody and no shoe (or a person too cut off for a pose): the frame's main object. With
        # only lone shoes, the main object too when it is much more than those shoes.
        if not out.items:
            out.items.append(main_object(bgr))
        elif not out.people:
            obj = main_object(bgr)
            shoes_box = union([it.box for it in out.items])
            if obj.mask is not None and box_area(obj.box) > GARMENT_OVER_SHOES * box_area(shoes_box):
                out.items.append(obj)
        return out
