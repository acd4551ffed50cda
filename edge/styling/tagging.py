"""Auto-tagging: a product photo in; its category, colour names and a one-line description out.

The description is a template over the tags. The category is find similar's (learned from the
catalogue) or, with no catalogue, what the detector saw. Products imported without
a category take the one their visual neighbours have (`infer_categories`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..catalog.products import Product
from ..catalog.store import Catalog
from ..taxonomy import KIND_CATEGORY, Kind
from .similar import FindSimilar


@dataclass
class Tags:
    category: str
    colors: tuple[str, ...]
    description: str
    kind: Kind

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


class Tagger:
    """Tags for a photo: the main item's colours, and its category as find similar names it (or,
    with no catalogue, the kind of item the detector saw)."""

    def __init__(self, vision, similar: FindSimilar | None = None):
        self.vision = vision
        self.similar = similar

    def __call__(self, bgr: np.ndarray) -> Tags:
        photo = self.vision.product_photo(bgr)     # a product's photo, read as the import reads it
        category = self.similar.match(photo.vector, 1).category if self.similar is not None else ""
        return tag_item(category, photo.colors, photo.item.kind)


def tag_files(tagger: Tagger, paths: list[str], skipped: Callable[[str], None]) -> tuple[list[dict], list[dict]]:
    """Tag each photo file: (tags of each readable one, {image, reason} of each unreadable one, also
    said through `skipped`): one bad photo never stops the others."""
    from ..errors import BadImage
    from ..vision.imageio import read_image
    out, bad = [], []
    for path in paths:
        try:
            bgr = read_image(path)
        except BadImage as e:
            bad.append({"image": path, "reason": str(e)})
            skipped(f"skipped {e}")
            continue
        out.append({"image": path, **tagger(bgr).to_json()})
    return out, bad


def infer_categories(catalog: Catalog, products: list[Product], model_version: str,
                     neighbours: int = 16) -> list[Product]:
    """Products without a category take the category their visual neighbours have in the
    catalogue (marked as inferred); returns the products that got one, ready to store."""
    fixed = []
    stored_of = {p.sku: catalog.get(p.sku) for p in products}
    ids, vecs = catalog.vectors_of(np.array([s.id for s in stored_of.values() if s is not None], np.int64), model_version)
    row_of = {int(pid): i for i, pid in enumerate(ids)}      # only these products' vectors: a catalogue may hold 1M
    similar = FindSimilar(None, catalog)
    for product in products:
        stored = stored_of[product.sku]
        if stored is None or stored.id not in row_of:
            continue
        cat = similar.category_of(vecs[row_of[stored.id]], model_version, exclude=product.sku, k=neighbours)
        if cat:
            stored.category, stored.category_source = cat, "neighbours"
            stored.description = stored.description or describe(cat, stored.colors)
            fixed.append(stored)
    return fixed
