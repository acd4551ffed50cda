"""Product images inside the catalogue folder, content-addressed: images/{sha[:2]}/{sha}{suffix}.

The one place that knows the layout; head office and the stores use the same one.
"""
from __future__ import annotations

from pathlib import Path

from ..files import atomic_write

FOLDER = "images"


def image_relpath(sha256: str, suffix: str = ".jpg") -> str:
    return f"{FOLDER}/{sha256[:2]}/{sha256}{suffix.lower()}"


class ImageStore:
    def __init__(self, catalog_dir: Path):
        self.dir = Path(catalog_dir)

    def put(self, data: bytes, sha256: str, suffix: str = ".jpg") -> str:
        """Keep the bytes (once per content); returns the path relative to the catalogue."""
        rel = image_relpath(sha256, suffix)
        path = self.dir / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, [data])
        return rel

    def has(self, sha256: str, suffix: str = ".jpg") -> bool:
        return (self.dir / image_relpath(sha256, suffix)).exists()

    def find(self, sha256: str) -> Path | None:
        """The file of this content, whatever its suffix."""
        return next((self.dir / FOLDER / sha256[:2]).glob(f"{sha256}.*"), None)

    def path(self, rel: str) -> Path:
        return self.dir / rel

    def shas(self) -> dict[str, Path]:
        """Every image kept: sha256 -> its file."""
        root = self.dir / FOLDER
        if not root.is_dir():
            return {}
        return {p.stem: p for p in root.glob("??/*") if p.is_file() and len(p.stem) == 64}

    def remove(self, sha256: str) -> bool:
        """Delete this content's file, and any copy of it a killed writer left (files.atomic_write's
        .NAME.tmp-PID); True when the file was there."""
        for tmp in (self.dir / FOLDER / sha256[:2]).glob(f".{sha256}*.tmp-*"):
            tmp.unlink(missing_ok=True)
        path = self.find(sha256)
        if path is None:
            return False
        path.unlink(missing_ok=True)
        return True
