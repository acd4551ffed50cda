"""The category of an item, learned from this store's own catalogue: its products' shape vectors
(the CNN part of their vectors) and the categories the store gave them. The catalogue's labels
decide what a category means here; the classifier only learns to tell them apart.

A softmax regression (numpy), refit when the catalogue's vectors or categories change. On the
CC0 photos (bench/quality.py; held-out senders) it names the category better than the vote of
the 15 nearest products, which it replaces: 0.70 against 0.66 top-1 (frozen ImageNet features;
scale 10 and L2 1e-3 chosen on a validation split of the catalogue's senders).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..catalog.store import Catalog
from ..vision.embed import CNN_DIM

SCALE, L2, STEPS, RATE = 10.0, 1e-3, 300, 0.5
MAX_PER_CATEGORY = 400      # a large catalogue trains on a sample: seconds, not minutes
MIN_PRODUCTS = 20


def per_category(labels: list[str], seed: int = 0) -> np.ndarray:
    """Positions of at most MAX_PER_CATEGORY items of each category (categories in sorted order,
    one random draw each): what a fit learns from."""
    names = sorted(set(labels))
    index = {c: i for i, c in enumerate(names)}
    y = np.array([index[c] for c in labels])
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.permutation(np.flatnonzero(y == k))[:MAX_PER_CATEGORY] for k in range(len(names))])


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-9)


@dataclass
class CategoryModel:
    categories: list[str]
    weights: np.ndarray          # [CNN_DIM, n categories]
    bias: np.ndarray

    @classmethod
    def fit(cls, shapes: np.ndarray, labels: list[str], seed: int = 0) -> "CategoryModel | None":
        names = sorted(set(labels))
        if len(names) < 2 or len(labels) < MIN_PRODUCTS:
            return None
        index = {c: i for i, c in enumerate(names)}
        keep = per_category(labels, seed)
        x, y = _unit(shapes[keep]) * SCALE, np.array([index[labels[i]] for i in keep])
        w = np.zeros((x.shape[1], len(names)), np.float32)
        b = np.zeros(len(names), np.float32)
        target = np.eye(len(names), dtype=np.float32)[y]
        for _ in range(STEPS):
            z = x @ w + b
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            g = (p - target) / len(x)
            w -= RATE * (x.T @ g + L2 * w)
            b -= RATE * g.sum(axis=0)
        return cls(names, w, b)

    def probabilities(self, shape: np.ndarray) -> np.ndarray:
        z = (_unit(shape) * SCALE) @ self.weights + self.bias
        p = np.exp(z - z.max())
        return p / p.sum()

    def predict(self, shape: np.ndarray, allowed=lambda category: True) -> str:
        """The likeliest category the item may be ('' when none is allowed)."""
        p = self.probabilities(shape)
        ok = [i for i, c in enumerate(self.categories) if allowed(c)]
        return self.categories[max(ok, key=lambda i: p[i])] if ok else ""


class CatalogueCategories:
    """The CategoryModel of a catalogue for one vector model, refit when it changed."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self._key: tuple | None = None
        self._model: CategoryModel | None = None
        self._version = -1          # catalogue version last checked (a price change keeps the model)

    def model(self, model_version: str) -> CategoryModel | None:
        if self.catalog.version == self._version and self._key and self._key[0] == model_version:
            return self._model
        self._version = self.catalog.version
        labelled = self.catalog.db.execute(
            "SELECT id, category FROM products WHERE category_source='catalogue' AND category<>'' ORDER BY id").fetchall()
        key = (model_version, self.catalog.vector_generation,
               hashlib.sha1(repr([tuple(r) for r in labelled]).encode()).hexdigest())
        if key != self._key:
            # only the vectors the fit learns from are read (a million products are 5.6 GB); the
            # fit's own draw over them then keeps them all, in the order it would have anyway
            with_vector = self.catalog.db.execute(
                "SELECT p.id, p.category FROM products p JOIN vectors v ON v.product_id=p.id AND v.model_version=? "
                "WHERE p.category_source='catalogue' AND p.category<>'' ORDER BY p.id", (model_version,)).fetchall()
            by_id = dict(with_vector[i] for i in per_category([c for _, c in with_vector])) if with_vector else {}
            ids, vecs = self.catalog.vectors_of(np.array(sorted(by_id), np.int64), model_version)
            order = np.argsort(ids)
            ids, vecs = ids[order], vecs[order]
            self._model = CategoryModel.fit(vecs[:, :CNN_DIM], [by_id[int(i)] for i in ids]) if len(ids) else None
            self._key = key
        return self._model
