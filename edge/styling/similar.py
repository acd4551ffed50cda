"""Find similar: an item's vector in, the closest products of this store's catalogue out."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..catalog.products import Product
from ..catalog.store import Catalog
from ..taxonomy import KIND_SLOTS, kind_allows
from ..types import FrameItems, ItemMatches, ItemVector, Match
from .category import CatalogueCategories
from ..vision.embed import CNN_DIM, shape_query
from ..vision.items import main_item


def to_match(p: Product, score: float) -> Match:
    return Match(p.sku, round(score, 4), p.name, p.category, p.price, p.currency, p.stock, p.aisle, p.image)


def vote_category(neighbours: list[tuple[Product, float]]) -> str:
    """Score-weighted vote of the neighbours' catalogue categories ('' when none has one)."""
    votes: dict[str, float] = defaultdict(float)
    for p, s in neighbours:
        if p.category and p.category_source == "catalogue":
            votes[p.category] += max(s, 0.0)
    return max(votes, key=votes.get) if votes else ""


class FindSimilar:
    """The CNN alone says which category the item is (a classifier learned from this catalogue's
    own products, edge/styling/category.py); CNN + colour then rank the products, those of that
    category first.

    Measured on the CC0 photos (bench/quality.py): ranking by CNN + colour alone gave category
    precision@5 0.32; voting the category by shape first and ranking inside it, 0.55-0.6.
    """

    def __init__(self, vision, catalog: Catalog, vote_k: int = 15, pool: int = 100):
        self.vision = vision
        self.catalog = catalog
        self.categories = CatalogueCategories(catalog)
        self.vote_k = vote_k
        self.pool = pool

    def category_of(self, vector: np.ndarray, model_version: str, exclude: str | None = None, k: int | None = None) -> str:
        """The category the item's catalogue neighbours vote for, by shape (CNN) alone."""
        near = self.catalog.search(shape_query(vector), k or self.vote_k, model_version)
        return vote_category([(p, s) for p, s in near if p.sku != exclude])

    def _search(self, vector: np.ndarray, k: int, iv: ItemVector) -> list[tuple[Product, float]]:
        """The k nearest products this item may be (its kind bounds the category: an upper-body
        region never matches shoes); looks deeper when the kind rules some out."""
        kind = iv.item.kind
        if kind not in KIND_SLOTS:
            return self.catalog.search(vector, k, iv.model_version)
        near = self.catalog.search(vector, 4 * k, iv.model_version)
        return [(p, s) for p, s in near if kind_allows(kind, p.category)][:k]

    def category(self, iv: ItemVector, by_shape: list[tuple[Product, float]]) -> str:
        """What the item is, in this store's categories: the classifier learned from the catalogue,
        else (a catalogue too small to learn from) its nearest products' vote."""
        model = self.categories.model(iv.model_version)
        if model is None:
            return vote_category(by_shape)
        return model.predict(shape_query(iv.vector)[:CNN_DIM], lambda c: kind_allows(iv.item.kind, c))

    def match(self, iv: ItemVector, k: int) -> ItemMatches:
        by_shape = self._search(shape_query(iv.vector), self.vote_k, iv)
        category = self.category(iv, by_shape)
        near = self._search(iv.vector, max(k, self.pool), iv)
        if category:
            same = [(p, s) for p, s in near if p.category == category]
            seen = {p.sku for p, _ in same}
            same += [(p, s) for p, s in by_shape if p.category == category and p.sku not in seen]
            near = same[:k] + [(p, s) for p, s in near if p.category != category][: max(0, k - len(same))]
        return ItemMatches(iv.item, category, iv.colors, [to_match(p, s) for p, s in near[:k]])

    def __call__(self, bgr: np.ndarray, k: int = 5, all_items: bool = False,
                 found: FrameItems | None = None) -> list[ItemMatches]:
        found = found or self.vision.find_items(bgr)
        items = found.items if all_items else [i for i in [main_item(found.items)] if i is not None]
        return [self.match(self.vision.embed(bgr, it), k) for it in items]
