"""The live loop's people, followed from frame to frame at one model run a frame.

A whole-frame pass (ItemFinder: the detector on the frame, the pose model on each person, the
detector again on each person for their shoes) costs 1 + 2 runs a person: ~100 ms for three
people on a 2-core AVX2 store PC, three camera frames. Once people are found, a frame makes one
run (plan):
- "scan": every `scan_every` frames, the detector on the whole frame; the tallest person box that
  is no one followed (nor half of them, nor a passer-by far behind) is left for the next frame;
- "newcomer": the pose on that box; someone new joins the shoppers;
- "shoes": as often as a scan, half-way between two, the detector on one shopper's box for their
  shoes (the shopper whose shoes were searched for longest ago): a shoe is a few pixels of a scan
  of the whole frame;
- "pose": on the other frames, the pose model on one shopper, the one waiting longest (the lead
  shopper, at the screen, counts double): their box moves with their landmarks, their items are
  cut again, their shoes move with their feet;
- "hold" (the live loop's choice, Recognizer): nothing is found; the frame's run is a match of an
  item of the shopper just posed (embed and match, the Recognizer's).
Everyone else keeps the items they had (a few frames old at 30 fps). A shopper the pose no longer
finds has left and is dropped; the last one leaving means a whole-frame pass at once. A shoe on
its own (held up beside them) ends following: whole-frame passes every frame, as a held-up item
needs.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import cv2
import numpy as np

from ..types import Detection, FrameItems, Item, Person, inside, iou
from ..vision.detector import merge
from ..vision.items import ItemFinder, lead_score, on_person, pair_of_shoes, same_person

# A scan of the whole frame every SCAN_EVERY frames finds who walks in within 1/3 s at 30 fps (at
# 5, a scan and a shoes frame took 2 of every 5 frames and left the lead shopper one match of an
# item in 5 frames).
SCAN_EVERY = 10
LEAD_WEIGHT = 2.0      # the lead shopper's wait counts this much more when choosing whom to pose
# A scan leaves one person box to pose, on the next frame (a crowd walking in joins over a few
# scans, never all on one slow frame), and a box the pose found nobody in (a poster, half of
# someone, a person at the edge cut off) is not posed again for NOBODY_FOR frames.
NOBODY_FOR = 15        # half a second at 30 fps
# Someone followed stays followed while the pose model's person flag is at least this: they were
# found at the config's `pose.min_person` (0.99: what keeps a garment the SSD calls a person out),
# and a shopper turning or half out of their last box scores lower without being any less a
# person (hysteresis: on the three-people bench clip they scored 0.89-0.94 and were dropped).
KEEP_PERSON = 0.5

# A garment held up with nobody in view keeps the last whole-frame pass's items while the frame
# barely changes from that pass's: the detector and the GrabCut cut (27 of 32 ms a frame on a
# 2-core Xeon capped to AVX2) run again when it changes (a swap, someone walking in) or after
# STILL_FOR frames (once a second at 30 fps: a change the thumbnail missed is not kept longer).
# Change: mean absolute difference of 32x24 grey thumbnails. On the demo video a held garment's
# frames differ by at most 4.6 grey levels, a swap by 18 or more.
STILL_DIFF = 8.0
STILL_FOR = 30
THUMB = (32, 24)

# What a frame's one model run was (module docstring); "" before the first frame; "still": none,
# a held-up garment kept.
Plan = Literal["", "whole", "scan", "newcomer", "shoes", "pose", "hold", "still"]


def thumbnail(bgr: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)


@dataclass
class Shopper:
    person: Person          # box, score and landmarks as last posed
    items: list[Item]       # their items as last cut
    posed_at: int           # the follower's frame count of their last pose
    shoes_at: int           # ... of the last search for their shoes on their box
    # The detector's shoe boxes within their box, moved with their feet since: from the last scan
    # of the whole frame and from the last search of their box. Their footwear is the pair of both,
    # as a whole-frame pass makes it (ItemFinder).
    frame_shoes: list[Detection] = field(default_factory=list)
    box_shoes: list[Detection] = field(default_factory=list)


class Follower:
    """Frame -> FrameItems for the live loop; `plan` says what this frame's run was: "whole" (a
    whole-frame pass, ItemFinder), "scan", "newcomer", "shoes", "pose" or "hold"."""

    def __init__(self, finder: ItemFinder, scan_every: int = SCAN_EVERY):
        self.finder = finder
        self.scan_every = scan_every
        self.shoppers: list[Shopper] = []
        self.nobody: list[tuple[tuple[int, int, int, int], int]] = []   # (box, frame count) a pose found nobody in
        self.newcomer: tuple[Detection, list[Detection]] | None = None    # a scan's new person box (and shoes) to pose
        self.frames = 0
        self.scanned_at = 0           # frame count of the last scan of the whole frame
        self.shoes_searched_at = 0    # ... of the last shoes frame
        self.plan: Plan = ""
        self.still: tuple[FrameItems, np.ndarray] | None = None   # a held-up garment's pass, its thumbnail

    @property
    def following(self) -> bool:
        return bool(self.shoppers)

    def posed_ago(self, person: int | None) -> int:
        """Frames since the pose model last saw the person with this index in the last frame (0:
        on it; items not worn, and everyone in a frame that was not followed: 0)."""
        if person is None or person >= len(self.shoppers):
            return 0
        return self.frames - self.shoppers[person].posed_at

    @property
    def next_plan(self) -> Plan:
        """What the next frame's run will be (a pose may still turn into a whole-frame pass): a
        scan every `scan_every` frames, a shoes frame as often, half-way between two scans (a
        frame later when the frame it was due took a hold), a pose on the others."""
        if not self.shoppers or self.scan_every <= 1:
            return "whole"
        if self.frames + 1 - self.scanned_at >= self.scan_every:
            return "scan"
        if self.newcomer is not None:
            return "newcomer"
        if self.frames + 1 - self.shoes_searched_at >= self.scan_every and self.finder.params.rerun_on_person:
            return "shoes"
        return "pose"

    def __call__(self, bgr: np.ndarray) -> FrameItems:
        plan = self.next_plan
        self.frames += 1
        if plan == "whole" and self._unchanged(bgr):
            self.plan = "still"
            found = self.still[0]
            return FrameItems(list(found.people), list(found.items), list(found.detections))
        run = {"scan": self._scan, "newcomer": self._newcomer, "shoes": self._shoes, "pose": self._pose}
        found = run[plan](bgr) if plan in run else None
        return found if found is not None else self._whole(bgr)

    @property
    def may_hold(self) -> bool:
        """The next frame may be a hold: the last one posed someone, and no scan of the whole frame
        is due (a shoes frame waits a frame for a hold, a scan does not)."""
        return self.plan in ("pose", "newcomer") and self.next_plan != "scan"

    def hold(self) -> FrameItems:
        """This frame without a run of the finding models: everyone as they were (the live loop
        gives the frame's run to a match of an item instead). Only when `may_hold`."""
        assert self.shoppers, "nobody to hold: a whole-frame pass is due"
        self.frames += 1
        self.plan = "hold"
        return self._frame()

    def _unchanged(self, bgr: np.ndarray) -> bool:
        """A held-up garment's frame that barely changed since its whole-frame pass (STILL_DIFF)."""
        if self.still is None or self.frames - self.scanned_at >= STILL_FOR or self.scan_every <= 1:
            return False
        return float(np.abs(thumbnail(bgr) - self.still[1]).mean()) < STILL_DIFF

    def _whole(self, bgr: np.ndarray) -> FrameItems:
        self.plan = "whole"
        self.newcomer = None
        self.scanned_at = self.frames
        self.shoes_searched_at = self.frames - self.scan_every // 2     # everyone's shoes were searched for now
        found = self.finder(bgr)
        # follow people only while every item is on one: a shoe held up beside them, seen only in
        # whole-frame passes, would never steady
        if found.people and all(i.person is not None for i in found.items):
            H, W = bgr.shape[:2]
            shoes = [d for d in found.detections if d.label == "footwear"]
            self.shoppers = [Shopper(p, [i for i in found.items if i.person == p.id], self.frames, self.frames,
                                     self._within(shoes, p.box, W, H)) for p in found.people]
        else:
            self.shoppers = []
        held = not found.people and found.items
        self.still = (found, thumbnail(bgr)) if held else None
        return found

    def _frame(self) -> FrameItems:
        out = FrameItems()
        for n, s in enumerate(self.shoppers):
            out.people.append(replace(s.person, id=n))
            out.detections.append(Detection("person", s.person.box, s.person.score))
            out.items.extend(replace(it, person=n) for it in s.items)
        return out

    def _pose(self, bgr: np.ndarray) -> FrameItems | None:
        self.plan = "pose"
        n, s = max(enumerate(self.shoppers),
                   key=lambda ns: (self.frames - ns[1].posed_at) * (LEAD_WEIGHT if ns[0] == 0 else 1.0))
        again = self.finder.follow(bgr, s.person, KEEP_PERSON)
        if again is None:
            self.shoppers.pop(n)            # they left
            return self._frame() if self.shoppers else None
        det, pose = again
        H, W = bgr.shape[:2]
        before = s.person.landmarks
        s.frame_shoes = self.finder.with_feet(s.frame_shoes, before, pose.landmarks, W, H)
        s.box_shoes = self.finder.with_feet(s.box_shoes, before, pose.landmarks, W, H)
        s.person, s.items, _ = self.finder.person_items(bgr, n, det, pose, self._shoes_of(s))
        s.posed_at = self.frames
        return self._frame()

    @staticmethod
    def _within(shoes: list[Detection], box, width: int, height: int) -> list[Detection]:
        return [d for d in shoes if on_person(d.box, box, width, height)]

    def _shoes_of(self, s: Shopper) -> list[Detection]:
        return merge(s.frame_shoes + s.box_shoes, self.finder.params.nms_iou)

    def _pair(self, n: int, s: Shopper) -> None:
        """Their footwear item again from their shoe boxes (none: the one they have stays)."""
        shoes = self._shoes_of(s)
        if shoes:
            s.items = [it for it in s.items if it.kind != "footwear"] + [pair_of_shoes(shoes, n)]

    def _shoes(self, bgr: np.ndarray) -> FrameItems | None:
        """The detector on the shopper whose shoes were searched for longest ago (on the whole frame
        when their box is most of it: ItemFinder does the same)."""
        self.plan = "shoes"
        self.shoes_searched_at = self.frames
        n, s = min(enumerate(self.shoppers), key=lambda ns: ns[1].shoes_at)
        H, W = bgr.shape[:2]
        detector = self.finder.detector
        if detector.person_views(bgr, [s.person.box]):
            shoes = detector.shoes_on(bgr, [s.person.box])
        else:
            shoes = [d for d in detector.detect_once(bgr) if d.label == "footwear"]
        s.box_shoes = self._within(merge(shoes, self.finder.params.nms_iou), s.person.box, W, H)
        self._pair(n, s)
        s.shoes_at = self.frames
        return self._frame()

    def _scan(self, bgr: np.ndarray) -> FrameItems | None:
        """The detector on the whole frame: the tallest person box that is none of the shoppers'
        (nor on one of them) nor a passer-by's far behind them is posed on the next frame. None (a
        whole-frame pass is due) when it sees a shoe on its own."""
        self.plan = "scan"
        self.scanned_at = self.frames
        H, W = bgr.shape[:2]
        found = self.finder.detector.detect_once(bgr)
        boxes = [s.person.box for s in self.shoppers]
        self.nobody = [(b, at) for b, at in self.nobody if self.frames - at < NOBODY_FOR]
        tallest = max(b[3] - b[1] for b in boxes)
        candidates = sorted((d for d in found if d.label == "person"
                             and d.box[3] - d.box[1] >= self.finder.params.passer_by_height * tallest
                             and not any(iou(d.box, b) > 0.3 or on_person(d.box, b, W, H) or inside(b, d.box) > 0.8
                                         for b in boxes)
                             and not any(iou(d.box, b) > 0.5 for b, _ in self.nobody)),
                            key=lambda d: -(d.box[3] - d.box[1]))
        shoes = merge([d for d in found if d.label == "footwear"], self.finder.params.nms_iou)
        for n, s in enumerate(self.shoppers):       # the shoes this scan sees on the shoppers
            s.frame_shoes = self._within(shoes, s.person.box, W, H)
            self._pair(n, s)
        self.newcomer = None
        if candidates and len(self.shoppers) < self.finder.params.max_people:
            self.newcomer = (candidates[0], shoes)
        worn = boxes + [c.box for c in candidates[:1]]
        if any(d.score >= self.finder.footwear_alone_threshold and not any(on_person(d.box, b, W, H) for b in worn)
               for d in shoes):
            return None
        return self._frame()

    def _newcomer(self, bgr: np.ndarray) -> FrameItems:
        """The pose on the person box the last scan found: someone new joins the shoppers (their
        shoes searched for at the next shoes frame, before anyone else's); a box the pose finds
        nobody in (or someone followed, cut differently) is not posed again for a while, one it
        nearly accepts (its flag between KEEP_PERSON and `pose.min_person`) at the next scan."""
        self.plan = "newcomer"
        (det, shoes), self.newcomer = self.newcomer, None
        H, W = bgr.shape[:2]
        thr = self.finder.pose_params.min_visibility
        pose = self.finder.pose(bgr, det.box)
        if pose.score < self.finder.pose_params.min_person:
            if pose.score < KEEP_PERSON:      # nobody there; a near miss is tried again at the next scan
                self.nobody.append((det.box, self.frames))
            return self._frame()
        if any(same_person(pose.landmarks, s.person.landmarks, thr) for s in self.shoppers):
            self.nobody.append((det.box, self.frames))
            return self._frame()
        person, items, _ = self.finder.person_items(bgr, len(self.shoppers), det, pose, shoes)
        self.shoppers.append(Shopper(person, items, self.frames, 0, self._within(shoes, det.box, W, H)))
        self.shoppers.sort(key=lambda s: -lead_score(s.person.box, s.person.landmarks, W, H, thr))
        return self._frame()
