"""Reading images from disk with a clear reason when a file is not a usable image."""
from __future__ import annotations

import os
from pathlib import Path

MAX_PIXELS = 40_000_000    # ~ a 7,700 x 5,200 photo; larger is refused, not decoded
# OpenCV refuses to decode past this many pixels (read at first decode): no decompression bombs.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))

import cv2  # noqa: E402
import numpy as np

from ..errors import BadImage

MIN_SIDE = 16


def read_image(path: str | Path) -> np.ndarray:
    """Return the image as BGR uint8, or raise BadImage saying why not."""
    path = Path(path)
    if not path.exists():
        raise BadImage(f"{path}: no such file")
    if not path.is_file():
        raise BadImage(f"{path}: not a file")
    data = path.read_bytes()
    if not data:
        raise BadImage(f"{path}: empty file")
    return decode_image(data, str(path))


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    buf = np.frombuffer(data, np.uint8)
    # libjpeg decodes a cut-off JPEG into a half-grey picture without failing: refuse it.
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-64:]:
        raise BadImage(f"{name}: truncated JPEG (no end-of-image marker)")
    try:
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if len(buf) else None
    except cv2.error as e:
        raise BadImage(f"{name}: cannot be decoded ({str(e).strip().splitlines()[-1]})") from e
    if img is None:
        raise BadImage(f"{name}: not an image OpenCV can read (unknown format or corrupt data)")
    h, w = img.shape[:2]
    if h * w > MAX_PIXELS:
        raise BadImage(f"{name}: {w}x{h} is larger than {MAX_PIXELS:,} pixels")
    if min(h, w) < MIN_SIDE:
        raise BadImage(f"{name}: {w}x{h} is too small (under {MIN_SIDE} px)")
    return img
