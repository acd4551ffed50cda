"""Tags in the retailer's own taxonomy, learned from its tagged catalogue at tag time.

Each tag column the catalogue fills (category, gender, season, each colour's first name, ...) gets
a ridge classifier over the product's features: its whole photo's vector, and when the product
has a name, the name's sentence vector. Whatever the words (English, Chinese, "Tshirts" or
"T-Shirt"), they are the classes; nothing about them is built in. A prediction's confidence is
calibrated: the share of right answers that score had in a 5-fold cross-validation over the
catalogue itself (isotonic, so a higher score never means a lower confidence).

With a name, each column also sees which of its own values the name says in words (`says`:
"iPanema Women Ritmos Black Heels" says Heels, Women and Black), beside the name's sentence vector,
which blurs a word it has no reason to weigh.

Measured on shop photos (bench/backoffice.py): the whole photo beats the item crop for
shop-style photos (a model wearing the product, a bag on white), and a name, when there is one,
carries most of what a photo cannot (gender, the exact type).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .namewords import words_of

RIDGE = 0.1            # chosen on the tune half of bench/backoffice.py (0.03-0.3 within a point)
FOLDS = 5
MIN_CLASS = 2          # a value seen once cannot be learned: it is left to review
# Weight of `says` beside the photo and the name's vector. On the tune half of bench/backoffice.py,
# with the name: 0 -> 0.1: category 0.884 -> 0.893, gender 0.981 -> 0.988, first colour (palette
# rule) 0.905 -> 0.922, footwear types 0.851 =, season and usage =; 0.2 lost footwear (0.835).
SAYS_WEIGHT = 0.1


def features(photo: np.ndarray, name: np.ndarray | None, name_dim: int) -> np.ndarray:
    """One product's features: the photo vector, then the name vector (zeros when it has none)."""
    text = name if name is not None else np.zeros(name_dim, np.float32)
    return np.concatenate([photo, text]).astype(np.float32)


@lru_cache(maxsize=1 << 16)     # a column's values, and a name read once for each column
def _stems(text: str) -> frozenset[str]:
    # "Heels" and "heel", "Sandals" and "sandal" are one word to a shopper
    return frozenset(w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words_of(text))


def says(name: str, values: list[str]) -> np.ndarray:
    """For each of a column's values, the share of its words the name has, times SAYS_WEIGHT. A
    word in a script written without spaces (Chinese: "高跟鞋" in "女士黑色高跟鞋") counts when the
    name holds it anywhere."""
    have, low = _stems(name), name.lower()
    out = np.zeros(len(values), np.float32)
    for k, value in enumerate(values):
        words = _stems(value)
        if words:
            out[k] = sum(w in have or (not w.isascii() and w in low) for w in words) / len(words)
    return SAYS_WEIGHT * out


@dataclass
class Guess:
    value: str
    confidence: float          # calibrated: the share right at this score in cross-validation


class ColumnModel:
    """One tag column: ridge one-vs-rest over features, and its score -> confidence map."""

    def __init__(self, classes: list[str], weights: np.ndarray, scores: np.ndarray, right: np.ndarray):
        self.classes, self.weights = classes, weights
        self.cal_scores, self.cal_right = scores, right     # sorted scores, isotonic share right

    @staticmethod
    def _solve(X: np.ndarray, y: list[str], classes: list[str]) -> np.ndarray:
        idx = {c: i for i, c in enumerate(classes)}
        Y = np.zeros((len(y), len(classes)), np.float32)
        Y[np.arange(len(y)), [idx[c] for c in y]] = 1
        Xb = np.hstack([X, np.ones((len(X), 1), np.float32)])
        return np.linalg.solve(Xb.T @ Xb + RIDGE * np.eye(Xb.shape[1], dtype=np.float32), Xb.T @ Y)

    @classmethod
    def fit(cls, X: np.ndarray, y: list[str], seed: int = 0) -> ColumnModel | None:
        counts = {c: y.count(c) for c in set(y)}
        keep = [i for i, v in enumerate(y) if counts[v] >= MIN_CLASS]
        classes = sorted({y[i] for i in keep})
        if len(classes) < 2:
            return None
        X, y = X[keep], [y[i] for i in keep]
        folds = np.random.default_rng(seed).integers(0, FOLDS, len(y))
        scores, right = [], []
        for f in range(FOLDS):
            train, test = np.where(folds != f)[0], np.where(folds == f)[0]
            if len(test) == 0 or len({y[i] for i in train}) < 2:
                continue
            fold_classes = sorted({y[i] for i in train})
            s = _scores(X[test], cls._solve(X[train], [y[i] for i in train], fold_classes))
            scores += list(s.max(1))
            right += [fold_classes[j] == y[i] for j, i in zip(s.argmax(1), test)]
        order = np.argsort(scores)
        return cls(classes, cls._solve(X, y, classes), np.asarray(scores)[order],
                   _isotonic(np.asarray(right, np.float64)[order]))

    def predict(self, X: np.ndarray) -> list[Guess]:
        s = _scores(X, self.weights)
        best = s.max(1)
        conf = np.interp(best, self.cal_scores, self.cal_right) if len(self.cal_scores) else np.zeros(len(best))
        return [Guess(self.classes[j], round(float(c), 3)) for j, c in zip(s.argmax(1), conf)]


def _scores(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    return np.hstack([X, np.ones((len(X), 1), np.float32)]) @ W


def _isotonic(y: np.ndarray) -> np.ndarray:
    """Pool-adjacent-violators: the non-decreasing fit of y (already in score order)."""
    values, weights, sizes = [], [], []
    for v in y:
        values.append(float(v)), weights.append(1.0), sizes.append(1)
        while len(values) > 1 and values[-2] > values[-1]:
            w = weights[-2] + weights[-1]
            values[-2] = (values[-2] * weights[-2] + values[-1] * weights[-1]) / w
            weights[-2], sizes[-2] = w, sizes[-2] + sizes[-1]
            values.pop(), weights.pop(), sizes.pop()
    return np.repeat(values, sizes)
