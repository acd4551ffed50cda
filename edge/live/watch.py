"""What the screen would show, with no window: the kiosk's own capture -> inference -> tracking ->
cards path (`signage watch SOURCE --pipeline`), one event each time what is shown changes."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from .capture import open_source
from .recognizer import FrameResult
from .screen import ItemCard, item_cards


@dataclass(frozen=True)
class ShownChange:
    shown_at: float                 # seconds since the source started
    frame: int                      # the frame whose result changed the screen
    cards: tuple[ItemCard, ...]     # the main item's card first

    def to_json(self) -> dict:
        return {"shown_at": round(self.shown_at, 3), "frame": self.frame, "cards": [c.to_json() for c in self.cards]}


class ScreenChanges:
    """Results in, a ShownChange out only when the cards differ from the last ones shown."""

    def __init__(self):
        self.last: tuple | None = None

    def __call__(self, result: FrameResult, shown_at: float) -> ShownChange | None:
        cards = item_cards(result)
        key = tuple((c.kind, c.category, c.sku) for c in cards)
        if key == self.last:
            return None
        self.last = key
        return ShownChange(shown_at, result.frame_id, cards)


def watch_realtime(runtime, source: str, emit: Callable[[ShownChange], None], loop: bool = False,
                   frames: int | None = None, observe: Callable[[FrameResult], None] | None = None) -> int:
    """The kiosk's two threads, a file paced at its frame rate as a camera delivers it (older
    frames dropped while inference is busy). shown_at: when the result was ready, from the first
    frame's capture. Returns the number of results."""
    changes, done = ScreenChanges(), threading.Event()
    start: list[float] = []     # the first frame's capture time (set before that frame is inferred)

    def on_frame(frame):
        if not start:
            start.append(frame.timestamp)

    def on_result(result: FrameResult):     # the inference thread only: one result at a time
        change = changes(result, result.done_at - start[0])
        if change is not None:
            emit(change)
        if observe is not None:         # e.g. the screen's engagement counters, as the window feeds them
            observe(result)
        if frames is not None and pipe.frames_captured >= frames:
            done.set()

    def on_status(status):
        if status.state == "lost":      # a file ended (or a camera was lost): stop, do not reopen
            done.set()

    pipe = runtime.pipeline(source, on_frame=on_frame, on_result=on_result, on_status=on_status, loop=loop, pace=True)
    pipe.start()
    try:
        while not done.wait(0.2):
            pipe.raise_if_failed()
    finally:
        pipe.stop()
    pipe.raise_if_failed()
    return pipe.results


def watch_every_frame(runtime, source: str, emit: Callable[[ShownChange], None], loop: bool = False,
                      frames: int | None = None, observe: Callable[[FrameResult, float], None] | None = None) -> int:
    """The same recognizer and cards, every frame in order (repeatable; no frame dropped).
    shown_at: the frame's place in the source (index / fps). Returns the number of frames."""
    recognize, changes, n = runtime.recognizer(), ScreenChanges(), 0
    with open_source(source, loop=loop) as src:
        while frames is None or n < frames:
            frame = src.read()
            if frame is None:
                break
            result = recognize(frame)
            change = changes(result, n / src.fps)
            if observe is not None:     # (result, its time in the source)
                observe(result, n / src.fps)
            n += 1
            if change is not None:
                emit(change)
    return n


@dataclass(frozen=True)
class TopMatch:
    """`signage watch` without --pipeline: the top product of a still-photo search changed."""
    frame: int
    match: object | None            # a Match (sku, name, price, ...) or None: nothing found

    def to_json(self) -> dict:
        m = self.match
        return {"frame": self.frame, "sku": m.sku if m else None, "score": m.score if m else None}


def watch_top_match(runtime, source: str, emit: Callable[[TopMatch], None], loop: bool = False,
                    frames: int | None = None) -> int:
    """Find similar on every frame as on a still photo (no tracking), a TopMatch each time the top
    product changes. Returns the number of frames."""
    similar, last, n = runtime.similar, None, 0
    with open_source(source, loop=loop) as src:
        while frames is None or n < frames:
            frame = src.read()
            if frame is None:
                break
            n += 1
            found = similar(frame.image, k=1)
            top = found[0].results[0] if found and found[0].results else None
            sku = top.sku if top else None
            if sku != last:
                last = sku
                emit(TopMatch(frame.id, top))
    return n
