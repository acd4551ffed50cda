"""Find similar: items in a frame -> the closest products of this store's catalogue."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from .catalog import Catalog, Product
from .embed import shape_query
from .items import FrameItems
from .types import Item, ItemVector, Match


@dataclass
class ItemMatches:
    item: Item
    category: str            # inferred from the catalogue neighbours
    colors: tuple[str, ...]
    results: list[Match]


def to_match(p: Product, score: float) -> Match:
    return Match(p.sku, round(score, 4), p.name, p.category, p.price, p.currency, p.stock, p.aisle, p.image)


def vote_category(neighbours: list[tuple[Product, float]]) -> str:
    """Score-weighted vote of the neighbours' catalogue categories ('' when none has one)."""
    votes: dict[str, float] = defaultdict(float)
    for p, s in neighbours:
        if p.category and p.category_source == "catalogue":
            votes[p.category] += max(s, 0.0)
    return max(votes, key=votes.get) if votes else ""


def main_item(found: FrameItems) -> Item | None:
    """The item the shopper most likely means: the largest, weighted by confidence."""
    if not found.items:
        return None
    return max(found.items, key=lambda i: (i.box[2] - i.box[0]) * (i.box[3] - i.box[1]) * (0.5 + i.score))


class FindSimilar:
    """Two looks at the index: the CNN alone says which category the item is (its neighbours'
    vote); CNN + colour then rank the products, those of that category first.

    Measured on the CC0 photos (bench/quality.py): ranking by CNN + colour alone gave category
    precision@5 0.32; voting the category by shape first and ranking inside it, 0.55-0.6.
    """

    def __init__(self, vision, catalog: Catalog, vote_k: int = 15, pool: int = 100):
        self.vision = vision
        self.catalog = catalog
        self.vote_k = vote_k
        self.pool = pool

    def match(self, iv: ItemVector, k: int) -> ItemMatches:
        by_shape = self.catalog.search(shape_query(iv.vector), self.vote_k, iv.model_version)
        category = vote_category(by_shape)
        near = self.catalog.search(iv.vector, max(k, self.pool), iv.model_version)
        if category:
            same = [(p, s) for p, s in near if p.category == category]
            seen = {p.sku for p, _ in same}
            same += [(p, s) for p, s in by_shape if p.category == category and p.sku not in seen]
            near = same[:k] + [(p, s) for p, s in near if p.category != category][: max(0, k - len(same))]
        return ItemMatches(iv.item, category, iv.colors, [to_match(p, s) for p, s in near[:k]])

    def __call__(self, bgr: np.ndarray, k: int = 5, all_items: bool = False,
                 found: FrameItems | None = None) -> list[ItemMatches]:
        found = found or self.vision.find_items(bgr)
        items = found.items if all_items else [i for i in [main_item(found)] if i is not None]
        return [self.match(self.vision.embedder(bgr, it), k) for it in items]
