"""One frame in, a FrameResult out: items found, tracked across frames, matched to the catalogue
once steady, and the look completed for the main one."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..styling.looks import Anchor, CompleteTheLook, Suggestion
from ..styling.similar import FindSimilar
from ..taxonomy import Kind
from ..types import Box, Match, iou
from ..vision.colors import color_histogram
from ..vision.embed import colour_part, item_crop
from ..vision.items import main_item
from .capture import Frame
from .follow import SCAN_EVERY, Follower
from .tracking import ItemTracker, Track


@dataclass
class TrackedItem:
    track_id: int
    kind: Kind
    box: Box
    person: int | None
    stable: bool
    category: str = ""
    colors: tuple[str, ...] = ()
    matches: list[Match] = field(default_factory=list)
    looks: list[Suggestion] = field(default_factory=list)
    score: float = 0.0          # the item's detection score in this frame


@dataclass
class FrameResult:
    frame_id: int
    captured_at: float          # time.monotonic() of the frame's capture
    done_at: float              # when its result was ready
    size: tuple[int, int]       # frame width, height
    people: int
    items: list[TrackedItem]
    timings: dict[str, float]   # ms per stage

    @property
    def latency_ms(self) -> float:
        return (self.done_at - self.captured_at) * 1000.0

    @property
    def shown(self) -> list[TrackedItem]:
        """The items the screen shows products for: steady, with matches."""
        return [i for i in self.items if i.stable and i.matches]

    @property
    def main(self) -> TrackedItem | None:
        """The steady item the screen is about (the same rule as a still photo's main item)."""
        return main_item(self.shown)


# A garment swapped for another in the same place keeps its track (same kind, same box). Measured
# on the demo video and CC0 photos (tests/live/test_swap.py, bench/swaps.py): one garment from
# frame to frame, vector cosine p5 0.96 and colour-histogram similarity p5 0.986; two different
# garments, vector p99 0.60 (0.755 for two of the same category) and histogram p95 0.70.
SWAP_COLOURS = 0.9    # histogram similarity below this: match again now, not at the next embed_every
SWAP_VECTOR = 0.8     # vector cosine below this: another item, decided at once
# A worn item decides a swap only in the place the last match saw it: one whose box changed (a
# shoe pair from the detector, then from the ankle landmarks) is the same item cut differently,
# left to the votes. A held-up item swaps wherever it is (the next one is held a little apart).
SWAP_SAME_PLACE = 0.5
# Matches (embed + match) a frame besides a swapped item's: ~8 ms each on 2 cores (12 on AVX2).
EMBEDS_A_FRAME = 2
# While people are followed (edge/live/follow.py) a frame has one model run, a finding model's or
# one match of an item: on a 2-core AVX2 store PC a pose is 15 ms, the detector 22, a match 12, so
# every frame is done within a 30 fps camera's frame interval and no frame waits for the one
# before (a pose and a match on one frame, 33 ms, made the next frame wait ~16 ms on average).
# A match (a hold frame: nothing found) follows a pose when the one just posed has an item that
# wants one (a first match, a vote, its turn); a shoes frame waits for it, a scan of the whole frame
# does not. A swapped item is matched at once, whatever the frame.
EMBEDS_BESIDE = {"hold": 1, "pose": 0, "newcomer": 0, "scan": 0, "shoes": 0}


def _colours(frame: Frame, t: Track):
    crop, mask = item_crop(frame.image, t.item)
    return color_histogram(crop, mask)


class Recognizer:
    """One frame -> FrameResult: items, tracks, matches for steady items, the look for the main one."""

    def __init__(self, similar: FindSimilar, looks: CompleteTheLook | None = None, k: int = 4,
                 stable_frames: int = 3, embed_every: int = 4, scan_every: int = SCAN_EVERY):
        self.similar = similar
        self.vision = similar.vision
        self.looks = looks
        self.k = k
        self.tracker = ItemTracker(stable_frames=stable_frames)
        self.embed_every = embed_every
        self.follower = Follower(self.vision.finder, scan_every)   # 1: a whole-frame pass every frame
        self.swaps = 0
        self._frames = 0
        self._matches_wanted = False

    def _swapped(self, frame: Frame, t: Track) -> bool:
        """A steady item whose colours no longer look like what was last embedded: match it again now
        (a swap is decided on that match). A worn item cut differently (a shoe pair from the
        detector, then one shoe) changes colours too but could not be decided a swap
        (SWAP_SAME_PLACE): its next match waits its turn (it re-embedded every other frame)."""
        if t.shown is None or not self.tracker.is_stable(t) or not self._fresh(t):
            return False
        if t.person is not None and t.seen_box is not None and iou(t.box, t.seen_box) < SWAP_SAME_PLACE:
            return False
        return t.seen_colours is not None and float(_colours(frame, t) @ t.seen_colours) < SWAP_COLOURS

    def _fresh(self, t: Track) -> bool:
        """A worn item is matched (and checked for a swap) only while its box is no more than a
        frame old: the box of someone followed but not posed for a few frames is off their
        moving body, and a crop of it looks like another item (7 false swaps on the three-people
        bench clip). The lead shopper is posed every other frame or so, the others less often."""
        return self.follower.posed_ago(t.person) <= 1

    def _wants_match(self, t: Track, frame: int) -> bool:
        """A track wants a match on the recognizer's frame `frame`: a first one, a vote while it is
        not steady, or, steady, its turn (embed_every frames after its last)."""
        return t.shown is None or not self.tracker.is_stable(t) or frame - t.embedded_at >= self.embed_every

    def _to_embed(self, frame: Frame, tracks: list[Track]) -> list[Track]:
        """The tracks to embed on this frame: a swapped item at once; of the others at most
        EMBEDS_A_FRAME, first matches first (a card shows only once its item is steady, after
        stable_frames, so a first match may wait a frame), then unsteady items' votes, then one
        steady item due again (every embed_every frames; more with more than embed_every steady
        items), the longest waiting first. Embedding every item that was due on the same frame made
        that frame the slowest of the loop: a shopper's three items are new, then unsteady, then due
        again all together."""
        seen = [t for t in tracks if t.misses == 0 and self._fresh(t)]
        swapped = [t for t in seen if self._swapped(frame, t)]
        rest = [t for t in seen if t not in swapped]
        first = sorted((t for t in rest if t.shown is None), key=lambda t: -t.age)
        unsteady = sorted((t for t in rest if t.shown is not None and not self.tracker.is_stable(t)),
                          key=lambda t: t.embedded_at)
        steady = [t for t in rest if t.shown is not None and self.tracker.is_stable(t)]
        due = sorted((t for t in steady if self._wants_match(t, self._frames)), key=lambda t: t.embedded_at)
        # enough steady matches a frame that each item is still matched every embed_every frames
        # (matched less often, a swaying shopper's shoe drifted past SWAP_VECTOR between matches)
        quota = max(1, -(-len(steady) // self.embed_every))
        budget = EMBEDS_BESIDE.get(self.follower.plan, max(EMBEDS_A_FRAME, quota))
        return swapped + (first + unsteady + due[:quota])[:budget]

    def _observe(self, frame: Frame, t: Track) -> None:
        iv = self.vision.embed(frame.image, t.item)
        m = self.similar.match(iv, self.k)
        top = m.results[0].sku if m.results else None
        if (t.seen_vector is not None and float(iv.vector @ t.seen_vector) < SWAP_VECTOR
                and (t.person is None or iou(t.box, t.seen_box) >= SWAP_SAME_PLACE)):
            t.swapped(top)
            t.shown = m
            self.swaps += 1
        elif t.vote(top) or t.shown is None:
            t.shown, t.looks = m, None
        seen = colour_part(iv.vector)   # the histogram the embedder just made, not made again
        t.seen_vector, t.seen_colours = iv.vector, seen if seen is not None else _colours(frame, t)
        t.seen_box = t.box
        t.embedded_at = self._frames

    def _look_for(self, t: Track) -> list[Suggestion]:
        """Complete the look for a track, computed once per shown match (cached on the track)."""
        if self.looks is None or t.shown is None or not t.shown.results:
            return []
        if t.looks is None:
            t.looks = self.looks(Anchor.from_matches(t.shown, worn=t.person is not None))
        return t.looks

    def __call__(self, frame: Frame) -> FrameResult:
        t0 = time.perf_counter()
        if self._matches_wanted and self.follower.may_hold:
            found = self.follower.hold()
        else:
            found = self.follower(frame.image)
        t1 = time.perf_counter()
        self._frames += 1
        tracks = self.tracker.update(found.items, frame.id, [p.box for p in found.people])
        for t in self._to_embed(frame, tracks):
            self._observe(frame, t)
        # does a track just posed want a match (a first one, a vote, its turn)? Then the next pose
        # waits a frame for it.
        self._matches_wanted = any(t.misses == 0 and self.follower.posed_ago(t.person) == 0
                                   and self._wants_match(t, self._frames + 1) for t in tracks)
        t2 = time.perf_counter()
        items = []
        for t in tracks:
            stable = self.tracker.is_stable(t)
            if t.misses and not stable:
                continue
            shown = t.shown
            items.append(TrackedItem(t.id, t.kind, t.box, t.person, stable, shown.category if shown else "",
                                     shown.colors if shown else (), shown.results if (shown and stable) else [],
                                     score=t.item.score))
        h, w = frame.image.shape[:2]
        result = FrameResult(frame.id, frame.timestamp, 0.0, (w, h), len(found.people), items, {})
        main = result.main
        if main is not None:
            main.looks = self._look_for(next(t for t in tracks if t.id == main.track_id))
        t3 = time.perf_counter()
        result.done_at = time.monotonic()
        result.timings = {"items": (t1 - t0) * 1e3, "match": (t2 - t1) * 1e3, "look": (t3 - t2) * 1e3}
        return result
