"""One interface for every frame source: camera (V4L2 index), stream URL, video file, image folder,
single image. Frames stay in memory; nothing here writes to disk.

    src = open_source("demo/demo.avi", loop=True)
    frame = src.read()        # a Frame, or None when the source has ended or failed
"""
from __future__ import annotations

import itertools
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import BadInput
from ..vision.imageio import read_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
_frame_ids = itertools.count(1)


@dataclass(frozen=True)
class Frame:
    id: int                 # unique and increasing within the process: results are keyed by it
    image: np.ndarray       # BGR uint8
    timestamp: float        # time.monotonic() when captured


class FrameSource:
    """Base: read() returns the next Frame or None (ended / lost); fps is the nominal rate."""
    fps: float = 30.0
    is_camera: bool = False  # a live camera: no frame of it may ever be written anywhere

    def read(self) -> Frame | None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def _frame(img: np.ndarray) -> Frame:
        return Frame(next(_frame_ids), img, time.monotonic())


class VideoSource(FrameSource):
    """A video file (looped if asked), a camera index or a stream URL, through OpenCV."""

    def __init__(self, target: str | int, loop: bool = False):
        self.target = target
        self.loop = loop
        self.is_camera = is_live(target)
        self.cap = cv2.VideoCapture(target)
        if not self.cap.isOpened():
            raise BadInput(f"cannot open video source {target!r}")
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1 <= fps <= 240 else 30.0

    def read(self) -> Frame | None:
        ok, img = self.cap.read()
        if not ok and self.loop and not self.is_camera:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, img = self.cap.read()
        return self._frame(img) if ok and img is not None else None

    def close(self) -> None:
        self.cap.release()


def is_live(target: str | int) -> bool:
    """A camera, whatever its path: a V4L2 index, a device file (/dev/video0, a capture card), a
    named pipe a capture process writes (GStreamer, ffmpeg), or a network stream (an IP camera).
    Its frames are a shopper's: never written anywhere, never looped, never paced."""
    if isinstance(target, int) or "://" in str(target):
        return True
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


class ImagesSource(FrameSource):
    """A folder of images (sorted by name) or one image, shown at `fps`; bad files are skipped."""

    def __init__(self, path: Path, loop: bool = False, fps: float = 2.0):
        path = Path(path)
        self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if path.is_dir() else [path]
        if not self.files:
            raise BadInput(f"{path}: no images in the folder")
        self.loop = loop
        self.fps = fps
        self.pos = 0
        self.skipped: list[str] = []   # "file: reason" for each unreadable image

    def read(self) -> Frame | None:
        for _ in range(len(self.files) + 1):
            if self.pos >= len(self.files):
                if not self.loop or len(self.skipped) >= len(self.files):
                    return None
                self.pos = 0
            path = self.files[self.pos]
            self.pos += 1
            try:
                return self._frame(read_image(path))
            except Exception as e:   # BadImage: report and move on
                self.skipped.append(str(e))
        return None


def open_source(spec: str | int, loop: bool = False) -> FrameSource:
    """'0' or 0 or '/dev/video0' = camera; 'rtsp://..', 'http://..' = stream (a camera too); a device
    file or named pipe = camera; a video file; a folder; an image."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return VideoSource(int(spec))
    if spec.startswith("/dev/video") or is_live(spec):       # a /dev/video that is not there: its own error
        return VideoSource(spec)
    path = Path(spec)
    if not path.exists():
        raise BadInput(f"source {spec}: no such file or folder")
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return ImagesSource(path, loop=loop)
    return VideoSource(str(path), loop=loop)
