"""Writing files so that a crash or power cut leaves either the old file or the new one, whole."""
from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, chunks: list[bytes]) -> None:
    """Write a new file beside `path`, fsync it, rename over `path`, fsync the folder."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        for c in chunks:
            f.write(c)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): such a
# cell is written with a leading apostrophe, which the spreadsheet shows as text and hides.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A value for a CSV cell a merchandiser may open in a spreadsheet: text that would run as a
    formula is neutralised; numbers and other values pass as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def plain_cell(text: str) -> str:
    """A cell read back from such a CSV: the value as it was before `safe_cell`."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text
