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


def on_person(box: Box, person: Box, width: int, height: int) -> bool:
    """A box (a shoe, half of someone) that lies on a person: most of it (60 %) inside their box
    enlarged by a tenth on each side."""
    return inside(box, expand(person, 0.1, width, height)) > 0.6


def same_person(a: np.ndarray, b: np.ndarray, thr: float) -> bool:
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

    def people(self, bgr: np.ndarray, candidates: list[Detection],
               tallest: int = 0) -> tuple[list[tuple[Detection, object]], float]:
        """The people in the frame, the shopper at the screen first: every candidate box the pose
        model accepts, one per skeleton; passers-by far behind (under `passer_by_height` of the
        tallest person, or of `tallest`: the height of someone already found) are left out before
        their pose is even run: a crowd costs nothing. Also the best pose score of any box run
        (a shop model it does not accept still wears the photo's product: Vision.product_item)."""
        H, W = bgr.shape[:2]
        thr = self.pose_params.min_visibility
        kept: list[tuple[Detection, object]] = []
        runs, best = 0, 0.0
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
            best = max(best, pose.score)
            if pose.score < self.pose_params.min_person:
                continue   # the SSD's "person" was a garment on a hanger, a mannequin's part, ...
            tallest = max(tallest, h)
            twin = next((k for k, (_, p) in enumerate(kept) if same_person(p.landmarks, pose.landmarks, thr)), None)
            if twin is None:
                kept.append((det, pose))
            elif box_area(det.box) > box_area(kept[twin][0].box):
                kept[twin] = (det, pose)   # the same person: keep the box that holds all of them
        kept.sort(key=lambda dp: -lead_score(dp[0].box, dp[1].landmarks, W, H, thr))
        return kept[: self.params.max_people], best

    def __call__(self, bgr: np.ndarray) -> FrameItems:
        """The frame's items, looked for in the whole frame: the detector on the frame, the pose
        model on each person it finds, the detector again on each person for their shoes. (The
        live loop follows the people it found more cheaply: edge/live/follow.py.)"""
        first = self.detector.detect_once(bgr)
        people, person_score = self.people(bgr, [d for d in first if d.label == "person"])
        shoes = [d for d in first if d.label == "footwear"]
        if self.params.rerun_on_person:
            shoes += self.detector.shoes_on(bgr, [det.box for det, _ in people])
        found = self.items_of(bgr, people, merge(shoes, self.params.nms_iou))
        found.person_score = person_score
        return found

    def follow(self, bgr: np.ndarray, person: Person, min_person: float | None = None):
        """A person of an earlier frame found again by a pose on their last box (the pose model
        squares and pads it by a quarter: a shopper moves a few per cent of their height a frame):
        (their moved box as a Detection, the pose), or None when the pose finds nobody there.
        `min_person`: the pose's person flag they need (default: the config's, as for someone
        new). Their shoes move with their feet: `with_feet`."""
        H, W = bgr.shape[:2]
        pose = self.pose(bgr, person.box)
        if pose.score < (self.pose_params.min_person if min_person is None else min_person):
            return None          # they left the box they stood in (or turned away)
        box = _moved(person.box, person.landmarks, pose.landmarks, range(33), self.pose_params.min_visibility, W, H)
        if box is None:
            return None
        return Detection("person", box, person.score), pose

    def with_feet(self, shoes: list[Detection], before: np.ndarray, after: np.ndarray, width: int,
                  height: int) -> list[Detection]:
        """Shoe boxes moved as the feet moved between two poses of their wearer (the median shift
        of ankles, heels and toes seen in both); a shoe whose feet neither pose sees is dropped."""
        out = []
        for d in shoes:
            box = _moved(d.box, before, after, FEET, self.pose_params.min_visibility, width, height)
            if box is not None:
                out.append(Detection(d.label, box, d.score))
        return out

    def person_items(self, bgr: np.ndarray, pid: int, det: Detection, pose, shoes: list[Detection],
                     taken: set[int] = frozenset()) -> tuple[Person, list[Item], set[int]]:
        """One person's items: garment regions from their pose, and for footwear the pair of the
        detector's shoes within their box (but those `taken` by someone before them) when it found
        any: tighter than the ankle landmarks' box. Also returns which shoes are theirs."""
        H, W = bgr.shape[:2]
        person = Person(pid, det.box, det.score, pose.landmarks)
        regions = garment_regions(person, pose, W, H, self.pose_params, bgr)
        mine = {i for i, s in enumerate(shoes) if i not in taken and on_person(s.box, det.box, W, H)}
        if mine:
            regions = [r for r in regions if r.kind != "footwear"]
            regions.append(pair_of_shoes([shoes[i] for i in sorted(mine)], pid))
        return person, regions, mine

    def items_of(self, bgr: np.ndarray, people, shoes: list[Detection]) -> FrameItems:
        """The items of people (each with their pose, the lead shopper first) and of the shoes
        found in the frame: each person's own, shoes on their own, or the frame's main object."""
        out = FrameItems(detections=[det for det, _ in people] + shoes)
        claimed: set[int] = set()
        for det, pose in people:      # the lead shopper first: their shoes are theirs
            person, regions, mine = self.person_items(bgr, len(out.people), det, pose, shoes, claimed)
            claimed |= mine
            out.people.append(person)
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
