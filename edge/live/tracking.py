"""Items tracked across frames, so a suggestion appears only once an item is steady and stays
while the item does: no flicker when one frame's detection wobbles.
"""
from __future__ import annotations

import itertools
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from ..taxonomy import Kind
from ..types import Box, Item, ItemMatches, iou

_track_ids = itertools.count(1)
VOTES = 7          # recent matches kept per item
HOLD_VOTES = 5     # of those, how many another product needs to replace a card on screen
SAME_PERSON_IOU = 0.5   # a person's box overlaps theirs of the frame before at least this much


@dataclass
class Track:
    kind: Kind
    box: Box
    person: int | None
    item: Item
    person_box: Box | None = None   # the box of the person wearing it, in the frame it was last seen
    id: int = field(default_factory=lambda: next(_track_ids))
    hits: int = 1                # consecutive frames seen (one missed frame forgiven)
    confirmed: bool = False      # seen steadily for stable_frames: its suggestion may show
    misses: int = 0              # consecutive frames not seen
    age: int = 1                 # frames since it started
    last_frame: int = 0
    votes: deque = field(default_factory=lambda: deque(maxlen=VOTES))   # top sku of recent matches
    shown_sku: str | None = None  # what the screen shows for it (changes only by majority)
    shown: ItemMatches | None = None   # the matches behind shown_sku
    looks: list | None = None          # complete the look for `shown`, made once when first needed
    seen_vector: np.ndarray | None = None   # the item's vector when last embedded
    seen_colours: np.ndarray | None = None  # its colour histogram then (checked every frame: cheap)
    seen_box: Box | None = None             # its box then
    embedded_at: int = 0                    # the recognizer's frame count when it was last embedded

    def vote(self, sku: str | None) -> bool:
        """Record this match's top product; True when what is shown should change. Until the card is
        on screen a simple majority decides; once it is, another product must win HOLD_VOTES of
        the last matches (a swapped item is caught apart, in Recognizer, and decided at once)."""
        self.votes.append(sku)
        winner, n = Counter(self.votes).most_common(1)[0]
        need = HOLD_VOTES if self.confirmed else len(self.votes) // 2 + 1
        if winner != self.shown_sku and n >= need:
            self.shown_sku = winner
            return True
        return False

    def swapped(self, sku: str | None) -> None:
        """Another item took this one's place: it is a new item, decided at once on this match
        (the old item's votes would hold its card for several more matches)."""
        self.id = next(_track_ids)
        self.votes.clear()
        self.votes.append(sku)
        self.shown_sku = sku
        self.looks = None


class ItemTracker:
    def __init__(self, stable_frames: int = 3, max_misses: int = 5, min_iou: float = 0.3):
        self.stable_frames = stable_frames
        self.max_misses = max_misses
        self.min_iou = min_iou
        self.tracks: list[Track] = []

    @staticmethod
    def is_stable(t: Track) -> bool:
        """Shown once confirmed, and kept until the track is dropped (max_misses frames unseen)."""
        return t.confirmed

    def update(self, items: list[Item], frame_id: int, people: list[Box] | None = None) -> list[Track]:
        """Match items to tracks (greedy by IoU, same kind), then a worn item left over to a track
        of its kind worn by the same person (their boxes overlap): a small person's shoes or hem
        found a little differently from frame to frame (the detector's pair of shoes, then the
        landmarks' box) are still the same shoes. `people`: the frame's person boxes, by the
        items' `person` index. Returns the live tracks."""
        worn_by = [people[it.person] if people is not None and it.person is not None and it.person < len(people)
                   else None for it in items]
        used_t, used_i = set(), set()

        def take(pairs, floor: float) -> None:
            for score, ti, ii in sorted(pairs, reverse=True):
                if score < floor or ti in used_t or ii in used_i:
                    continue
                used_t.add(ti)
                used_i.add(ii)
                t, it = self.tracks[ti], items[ii]
                t.box, t.item, t.person, t.person_box = it.box, it, it.person, worn_by[ii]
                t.hits += 1
                t.misses = 0
        take([(iou(t.box, it.box), ti, ii) for ti, t in enumerate(self.tracks)
              for ii, it in enumerate(items) if t.kind == it.kind], self.min_iou)
        take([(iou(t.person_box, worn_by[ii]), ti, ii) for ti, t in enumerate(self.tracks)
              for ii, it in enumerate(items) if ti not in used_t and ii not in used_i and t.kind == it.kind
              and t.person_box is not None and worn_by[ii] is not None], SAME_PERSON_IOU)
        for ti, t in enumerate(self.tracks):
            t.age += 1
            if ti not in used_t:
                t.misses += 1
                t.hits = 0 if t.misses > 1 else t.hits   # one missed frame is forgiven
        for ii, it in enumerate(items):
            if ii not in used_i:
                self.tracks.append(Track(it.kind, it.box, it.person, it, worn_by[ii], last_frame=frame_id))
        self.tracks = [t for t in self.tracks if t.misses <= self.max_misses]
        for t in self.tracks:
            t.confirmed = t.confirmed or t.hits >= self.stable_frames
            if t.misses == 0:
                t.last_frame = frame_id
        return self.tracks
