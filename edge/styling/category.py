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
LOAD_ALL_UP_TO = 50_000     # labelled products; past it only the sample the fit uses is read


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
        y = np.array([index[c] for c in labels])
        rng = np.random.default_rng(seed)
        keep = np.concatenate([rng.permutation(np.flatnonzero(y == k))[:MAX_PER_CATEGORY] for k in range(len(names))])
        x, y = _unit(shapes[keep]) * SCALE, y[keep]
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
            by_id = dict(labelled)
            if len(labelled) > LOAD_ALL_UP_TO:      # a million products: a sample per category, not 5.6 GB
                rng = np.random.default_rng(0)
                by_cat: dict[str, list[int]] = {}
                for pid, c in labelled:
                    by_cat.setdefault(c, []).append(pid)
                pick = np.concatenate([rng.permutation(v)[:MAX_PER_CATEGORY] for v in by_cat.values()]).astype(np.int64)
                ids, vecs = self.catalog.vectors_of(np.sort(pick), model_version)
            else:
                ids, vecs = self.catalog.vectors(model_version)
            rows = [i for i, pid in enumerate(ids) if int(pid) in by_id]
            self._model = CategoryModel.fit(vecs[rows, :CNN_DIM], [by_id[int(ids[i])] for i in rows]) if rows else None
            self._key = key
        return self._model
