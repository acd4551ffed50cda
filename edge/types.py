"""The typed values that flow frame -> detected items -> vectors -> matches."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in frame pixels, x2/y2 exclusive

ITEM_KINDS = ("upper", "lower", "footwear", "garment")


@dataclass(frozen=True)
class Detection:
    """One raw detector box (person or footwear), before items are formed."""
    label: str           # "person" | "footwear"
    box: Box
    score: float


@dataclass
class Person:
    id: int
    box: Box
    score: float
    landmarks: np.ndarray | None = None   # [33, 4] x, y (frame px), visibility, presence
    mask: np.ndarray | None = None        # bool, frame-sized region of `box`, True = person


@dataclass
class Item:
    """Something a shopper wears or holds: the unit that gets matched to the catalogue."""
    kind: str                      # one of ITEM_KINDS; "garment" = main object, no person seen
    box: Box
    score: float
    person: int | None = None      # Person.id this item belongs to
    mask: np.ndarray | None = field(default=None, repr=False)  # bool [y2-y1, x2-x1]


@dataclass(frozen=True)
class ItemVector:
    item: Item
    vector: np.ndarray             # float32, L2-normalised
    colors: tuple[str, ...]        # named colours, most present first
    model_version: str


@dataclass(frozen=True)
class Match:
    sku: str
    score: float                   # cosine similarity, higher is closer
    name: str
    category: str
    price: float | None = None
    currency: str | None = None
    stock: int | None = None
    aisle: str | None = None
    image: str | None = None
