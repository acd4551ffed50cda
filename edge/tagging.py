"""Auto-tagging: category, colour names and a one-line description for a product photo.

No text model ships here (MODELS.md), so the description is a template over the tags. The
category comes from the catalogue's neighbours (find similar's vote) or, with no catalogue, from
what the detector saw.
"""
from __future__ import annotations

from dataclasses import dataclass

KIND_CATEGORY = {"footwear": "Shoes", "upper": "Top", "lower": "Bottoms", "garment": ""}


@dataclass
class Tags:
    category: str
    colors: tuple[str, ...]
    description: str
    kind: str

    def to_json(self) -> dict:
        return {"category": self.category, "colors": list(self.colors), "description": self.description,
                "kind": self.kind}


def describe(category: str, colors: tuple[str, ...] | list[str], kind: str = "") -> str:
    what = (category or KIND_CATEGORY.get(kind, "") or "garment").lower()
    if what == "t-shirt":
        what = "T-shirt"
    cols = [c for c in colors if c][:2]
    if not cols:
        text = what
    elif len(cols) == 1:
        text = f"{cols[0]} {what}"
    else:
        text = f"{cols[0]} and {cols[1]} {what}"
    return text[0].upper() + text[1:]


def tag_item(category: str, colors: tuple[str, ...], kind: str) -> Tags:
    category = category or KIND_CATEGORY.get(kind, "")
    return Tags(category, tuple(colors), describe(category, colors, kind), kind)
