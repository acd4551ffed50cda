"""What one screen did, counted in memory and never per person: how many sessions (someone in front
for 2 s or more), how long engaged vs the attract loop, items recognised by kind and category,
cards shown and tapped per feature, product details opened, QR codes shown, per sku and per look.

Fed by the pipeline's results (presence, items, what the panel shows) and by the window's events
(taps, detail, QR). `close_window()` hands over the window's counts and starts the next; `fold()`
turns them into what may leave the screen: any count under `min_count` goes into "other", so no
single shopper's choice can be read from it. Nothing is written to disk: a crash loses at most the
current window, by design.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .recognizer import FrameResult
from .screen import MODES, Panel

FEATURES = tuple(key for key, _ in MODES)     # similar, look, shop
OTHER = "other"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Window:
    """One screen's counts over [start, end): aggregates only."""
    start: str
    end: str = ""
    sessions: int = 0                 # someone in front for session_min_s or more
    engaged_sessions: int = 0         # ... who tapped at least once
    engaged_s: float = 0.0            # time with someone in front
    attract_s: float = 0.0            # time with nobody: the attract loop
    items: Counter = field(default_factory=Counter)          # "kind/category" recognised
    shown: dict = field(default_factory=lambda: {f: Counter() for f in FEATURES})    # feature -> sku
    tapped: dict = field(default_factory=lambda: {f: Counter() for f in FEATURES})   # feature -> sku
    details: Counter = field(default_factory=Counter)        # sku: product detail opened
    qr: Counter = field(default_factory=Counter)             # sku: QR code shown
    looks_shown: Counter = field(default_factory=Counter)    # look id
    looks_opened: Counter = field(default_factory=Counter)   # look id


def _fold(c: Counter, min_count: int) -> dict[str, int]:
    out: dict[str, int] = {}
    other = 0
    for key, n in c.items():
        if n >= min_count:
            out[key] = n
        else:
            other += n
    if other:
        out[OTHER] = out.get(OTHER, 0) + other
    return dict(sorted(out.items()))


def fold(w: Window, min_count: int) -> dict:
    """The window as it may leave the screen: every per-item count below min_count folded into
    "other". Totals (sessions, seconds) are counts of the whole window, kept as they are."""
    return {"start": w.start, "end": w.end, "min_count": min_count, "sessions": w.sessions,
            "engaged_sessions": w.engaged_sessions, "engaged_s": round(w.engaged_s, 1),
            "attract_s": round(w.attract_s, 1), "items": _fold(w.items, min_count),
            "shown": {f: _fold(w.shown[f], min_count) for f in FEATURES},
            "tapped": {f: _fold(w.tapped[f], min_count) for f in FEATURES},
            "details": _fold(w.details, min_count), "qr": _fold(w.qr, min_count),
            "looks_shown": _fold(w.looks_shown, min_count), "looks_opened": _fold(w.looks_opened, min_count)}


class Engagement:
    """The counters of one screen (thread-safe: the inference thread and the window feed it)."""

    def __init__(self, session_min_s: float = 2.0, idle_s: float = 8.0, clock=time.monotonic, wall=time.time):
        self.session_min_s = session_min_s
        self.idle_s = idle_s           # nobody this long: the session is over (the attract loop's wait)
        self.clock, self.wall = clock, wall
        self._lock = threading.Lock()
        self._w = Window(_iso(wall()))
        self._w_started = clock()
        self._since: float | None = None     # the current session's first and last sighting
        self._last: float = 0.0
        self._tapped = False
        self._engaged_counted = 0.0          # of the current session, already put in a window
        self._shown_key: tuple | None = None
        self._tracks: set[int] = set()

    # ---- from the pipeline ------------------------------------------------------------------
    def observe(self, result: FrameResult, feature: str = "similar", panel: Panel | None = None) -> None:
        """One result: presence, items, and the panel the screen shows for it (in `feature`)."""
        now = self.clock()
        someone = bool(result.people) or any(i.stable for i in result.items)
        with self._lock:
            self._presence(now, someone)
            self._count_items(result)
            if panel is None:
                return
            key = (feature, tuple((c.sku, c.look_id) for c in panel.cards))
            if key == self._shown_key:
                return                  # the same panel still on screen: shown once
            before = {c[0] for c in self._shown_key[1]} if self._shown_key else set()
            self._shown_key = key
            for c in panel.cards:
                if c.sku in before:
                    continue
                self._w.shown[feature][c.sku] += 1
                if c.look_id:
                    self._w.looks_shown[c.look_id] += 1


    def _count_items(self, result: FrameResult) -> None:
        """Each steady track once (a garment held up for ten seconds is one item, not 120)."""
        for it in result.items:
            if it.stable and it.track_id not in self._tracks:
                self._w.items[f"{it.kind}/{it.category or '?'}"] += 1
                self._tracks.add(it.track_id)
        self._tracks &= {i.track_id for i in result.items}      # a track that is gone is forgotten

    def _presence(self, now: float, someone: bool) -> None:
        if someone:
            if self._since is None:
                self._since, self._tapped, self._engaged_counted = now, False, 0.0
            self._last = now
        elif self._since is not None and now - self._last > self.idle_s:
            self._end_session()

    def _end_session(self) -> None:
        length = self._last - self._since
        if length >= self.session_min_s:
            self._w.sessions += 1
            self._w.engaged_sessions += self._tapped
            self._w.engaged_s += length - self._engaged_counted
        self._since = None

    # ---- from the window ------------------------------------------------------------------
    def tapped(self, feature: str, sku: str, look_id: str = "") -> None:
        """A card tapped (its detail opens); feature "attract": a card of the attract loop."""
        with self._lock:
            if feature in FEATURES:
                self._w.tapped[feature][sku] += 1
            self._w.details[sku] += 1
            if look_id:
                self._w.looks_opened[look_id] += 1
            self._tapped = True

    def qr_shown(self, sku: str) -> None:
        with self._lock:
            self._w.qr[sku] += 1

    # ---- windows -----------------------------------------------------------------------------
    def close_window(self) -> Window:
        """The counts since the last close; the next window starts now. A session still going
        counts in the window it ends in; its time so far counts as engaged here."""
        now = self.clock()
        with self._lock:
            w = self._w
            w.end = _iso(self.wall())
            if self._since is not None:
                so_far = self._last - self._since
                if so_far >= self.session_min_s:
                    w.engaged_s += so_far - self._engaged_counted
                    self._engaged_counted = so_far
            w.attract_s = max(0.0, (now - self._w_started) - w.engaged_s)
            self._w = Window(w.end)
            self._w_started = now
            return w
