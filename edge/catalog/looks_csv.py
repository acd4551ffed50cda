"""Curated looks from a CSV (look_id,name,skus with skus separated by ';'), validated row by row.

Used by `signage looks import` (a store) and `signage publish --looks` (head office).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import BadInput
from ..ids import ID_RE

HEADER = ("look_id", "name", "skus")


@dataclass(frozen=True)
class Look:
    look_id: str
    name: str
    skus: list[str]


@dataclass(frozen=True)
class RejectedLook:
    line: int
    reason: str

    def to_json(self) -> dict:
        return {"line": self.line, "reason": self.reason}


def read_looks_csv(path: Path, known_sku: Callable[[str], bool]) -> tuple[list[Look], list[RejectedLook]]:
    """The valid looks and, for every other row, its line and why it was refused."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    looks, rejected = [], []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if not set(HEADER) <= set(reader.fieldnames or []):
                raise BadInput(f"{path}: header must have {','.join(HEADER)}")
            for row in reader:
                look_id, name = (row["look_id"] or "").strip(), (row["name"] or "").strip()
                skus = [x.strip() for x in (row["skus"] or "").split(";") if x.strip()]
                unknown = [x for x in skus if not known_sku(x)]
                if unknown:
                    reason = f"unknown sku(s) {', '.join(unknown)}"
                elif not look_id or not name or len(skus) < 2:
                    reason = "needs look_id, name and 2+ skus"
                elif not ID_RE.match(look_id):
                    reason = f"look_id {look_id!r} has characters other than letters, digits, . _ - or is over 64 long"
                else:
                    looks.append(Look(look_id, name, skus))
                    continue
                rejected.append(RejectedLook(reader.line_num, reason))
    except UnicodeDecodeError as e:
        raise BadInput(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except csv.Error as e:
        raise BadInput(f"{path}: not a readable CSV ({e})") from None
    return looks, rejected
