"""Frames in, suggestions out, off the GUI thread, with back-pressure.

Two threads: capture reads the source at its own rate and keeps only the newest frame in a
one-frame slot (the preview shows every frame; inference takes whatever is newest and older
frames are dropped, never queued). Inference turns a frame into a FrameResult keyed by the
frame's id. Callbacks only hand values over; a failure in a thread is kept and re-raised on the
caller by `raise_if_failed()`. Nothing here touches disk.
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Callable

from .capture import Frame, FrameSource
from .recognizer import FrameResult


class LatestFrame:
    """A one-frame slot: put() replaces, take() waits for a frame newer than the last taken."""

    def __init__(self):
        self._cv = threading.Condition()
        self._frame: Frame | None = None
        self._taken = 0
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        with self._cv:
            if self._frame is not None and self._frame.id > self._taken:
                self.dropped += 1      # never inferred: a newer frame replaced it
            self._frame = frame
            self._cv.notify()

    def wake(self) -> None:
        """Let a thread waiting in take() return (used when stopping)."""
        with self._cv:
            self._cv.notify_all()

    def take(self, timeout: float) -> Frame | None:
        with self._cv:
            if not self._cv.wait_for(lambda: self._frame is not None and self._frame.id > self._taken, timeout):
                return None
            self._taken = self._frame.id
            return self._frame


@dataclass
class SourceStatus:
    state: str            # "starting" | "live" | "lost" | "failed" (a thread died: the kiosk must restart)
    detail: str = ""
    retry_in: float = 0.0


class KioskPipeline:
    """Capture thread + inference thread. on_frame/on_result/on_status are called from those
    threads: they must only copy or queue (the Qt side emits a signal)."""

    def __init__(self, open_source: Callable[[], FrameSource], recognize: Callable[[Frame], FrameResult],
                 on_frame: Callable[[Frame], None] = lambda f: None,
                 on_result: Callable[[FrameResult], None] = lambda r: None,
                 on_status: Callable[[SourceStatus], None] = lambda s: None,
                 pace: bool = True, backoff: tuple[float, float] = (0.5, 10.0)):
        self.open_source = open_source
        self.recognize = recognize
        self.on_frame, self.on_result, self.on_status = on_frame, on_result, on_status
        self.pace = pace
        self.backoff = backoff
        self.slot = LatestFrame()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._error: BaseException | None = None
        self._failure: str | None = None
        self.frames_captured = 0
        self.results = 0
        self.reconnects = 0

    def start(self) -> "KioskPipeline":
        self._threads = [threading.Thread(target=self._guard, args=(self._capture,), name="capture", daemon=True),
                         threading.Thread(target=self._guard, args=(self._infer,), name="inference", daemon=True)]
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.slot.wake()
        for t in self._threads:
            t.join(timeout)

    @property
    def failure(self) -> str | None:
        """Which thread died and why, or None while both run (or after a clean stop)."""
        return self._failure

    def raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _guard(self, fn) -> None:
        try:
            fn()
        except BaseException as e:  # kept for the caller: a thread must not die silently
            self._error = e
            self._failure = f"the {threading.current_thread().name} thread failed: {type(e).__name__}: {e}"
            self._stop.set()
            self.slot.wake()
            self.on_status(SourceStatus("failed", self._failure))

    def _capture(self) -> None:
        delay = self.backoff[0]
        while not self._stop.is_set():
            self.on_status(SourceStatus("starting"))
            try:
                source = self.open_source()
            except Exception as e:   # camera unplugged, stream down, file gone
                source, reason = None, str(e)
            if source is not None:
                delay = self.backoff[0]
                reason = self._read_all(source)
                source.close()
            if self._stop.is_set():
                break
            self.reconnects += 1
            wait = min(delay, self.backoff[1]) * (0.8 + 0.4 * random.random())   # jitter: no herd
            self.on_status(SourceStatus("lost", reason, wait))
            self._stop.wait(wait)
            delay = min(delay * 2, self.backoff[1])

    def _read_all(self, source: FrameSource) -> str:
        period = 1.0 / max(source.fps, 1.0)
        next_at = time.monotonic()
        live = False
        while not self._stop.is_set():
            frame = source.read()
            if frame is None:
                return "the source ended or stopped answering"
            if not live:
                live = True
                self.on_status(SourceStatus("live"))
            self.frames_captured += 1
            self.on_frame(frame)
            self.slot.put(frame)
            if self.pace and not source.is_camera:   # a file decodes faster than real time
                next_at += period
                sleep = next_at - time.monotonic()
                if sleep > 0:
                    self._stop.wait(sleep)
                else:
                    next_at = time.monotonic()
        return "stopped"

    def _infer(self) -> None:
        while not self._stop.is_set():
            frame = self.slot.take(timeout=0.2)
            if frame is None:
                continue
            result = self.recognize(frame)
            self.results += 1
            self.on_result(result)
