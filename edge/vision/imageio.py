"""Reading images from disk with a clear reason when a file is not a usable image."""
from __future__ import annotations

import os
import re
import struct
from pathlib import Path

MAX_PIXELS = 40_000_000    # ~ a 7,700 x 5,200 photo; larger is refused, not decoded
# OpenCV refuses to decode past this many pixels (read at first decode): no decompression bombs.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))

import cv2  # noqa: E402
import numpy as np

from ..errors import BadImage

MIN_SIDE = 16


def unreadable(path: Path, e: OSError) -> BadImage:
    """An image file the system will not hand over, said as that file's problem (a name over 255
    bytes shown cut short)."""
    name = str(path) if len(str(path)) <= 120 else str(path)[:120] + "..."
    return BadImage(f"{name}: cannot be read: {e.strerror or e}")


def read_image(path: str | Path) -> np.ndarray:
    """Return the image as BGR uint8, or raise BadImage saying why not."""
    path = Path(path)
    try:
        if not path.exists():
            raise BadImage(f"{path}: no such file")
        if not path.is_file():
            raise BadImage(f"{path}: not a file")
        data = path.read_bytes()
    except OSError as e:     # unreadable (mode 000), a name the file system refuses: that file's fault
        raise unreadable(path, e) from None
    if not data:
        raise BadImage(f"{path}: empty file")
    return decode_image(data, str(path))


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from an image file's header, without decoding it: PNG, JPEG, GIF, BMP,
    WebP, TIFF, PNM. None for a format not read here (OpenCV's own pixel limit then holds)."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if data[:6] in (b"GIF87a", b"GIF89a") and data.rstrip(b"\0")[-1:] == b";":   # whole: its trailer
            return struct.unpack("<HH", data[6:10])
        if data[:2] == b"BM":
            w, h = struct.unpack("<ii", data[18:26])
            return abs(w), abs(h)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            kind = data[12:16]
            if kind == b"VP8 ":
                w, h = struct.unpack("<HH", data[26:30])
                return w & 0x3FFF, h & 0x3FFF
            if kind == b"VP8L":
                b = int.from_bytes(data[21:25], "little")
                return (b & 0x3FFF) + 1, ((b >> 14) & 0x3FFF) + 1
            if kind == b"VP8X":
                return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
        if data[:2] == b"\xff\xd8":
            i = 2
            while i + 9 < len(data):
                if data[i] != 0xFF:
                    i += 1
                    continue
                marker = data[i + 1]
                if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                    i += 1 if marker == 0xFF else 2
                    continue
                length = struct.unpack(">H", data[i + 2:i + 4])[0]
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    h, w = struct.unpack(">HH", data[i + 5:i + 9])
                    return w, h
                i += 2 + length
            return None
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            e = "<" if data[:2] == b"II" else ">"
            ifd = struct.unpack(e + "I", data[4:8])[0]
            n = struct.unpack(e + "H", data[ifd:ifd + 2])[0]
            dims = {}
            for k in range(n):
                tag, typ, _, val = struct.unpack(e + "HHII", data[ifd + 2 + 12 * k: ifd + 14 + 12 * k])
                if tag in (256, 257):
                    dims[tag] = val if typ == 4 else (val & 0xFFFF if e == "<" else val >> 16)
            return (dims[256], dims[257]) if len(dims) == 2 else None
        if data[:1] == b"P" and data[1:2] in b"123456":
            words = re.sub(rb"#[^\n]*", b" ", data[2:200]).split()
            return int(words[0]), int(words[1])
    except (struct.error, IndexError, ValueError):
        return None
    return None


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    # The size in the header first: OpenCV's own limit (OPENCV_IO_MAX_IMAGE_PIXELS above) holds
    # only when this module was imported before OpenCV, and a 30,000 x 30,000 PNG of 855 kB
    # would be decoded in full (5 GB) before the check after decoding refused it.
    size = header_size(data)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise BadImage(f"{name}: {size[0]}x{size[1]} is larger than {MAX_PIXELS:,} pixels (not decoded)")
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
