"""The typed values that flow frame -> detections -> items -> vectors -> matches.

Each stage takes one of these and returns the next; what comes after matches (looks, tracked
items, what the screen shows) is typed next to the stage that makes it:
`edge.styling.looks` (Anchor, Suggestion), `edge.styling.shop` (PersonLook),
`edge.live.recognizer` (TrackedItem, FrameResult), `edge.live.screen` (Card, Panel).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .taxonomy import Kind

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in frame pixels, x2/y2 exclusive


def box_area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    union_area = box_area(a) + box_area(b) - inter
    return inter / union_area if union_area > 0 else 0.0


def inside(inner: Box, outer: Box) -> float:
    """Share of `inner`'s area that lies in `outer`."""
    x1, y1 = max(inner[0], outer[0]), max(inner[1], outer[1])
    x2, y2 = min(inner[2], outer[2]), min(inner[3], outer[3])
    return max(0, x2 - x1) * max(0, y2 - y1) / max(1, box_area(inner))


def union(boxes: list[Box]) -> Box | None:
    """The smallest box holding all of them (None for none)."""
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


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

    def to_json(self) -> dict:
        return {"id": self.id, "box": list(self.box), "score": round(self.score, 4)}


@dataclass
class Item:
    """Something a shopper wears or holds: the unit that gets matched to the catalogue."""
    kind: Kind                     # one of taxonomy.KINDS; "garment" = main object, no person seen
    box: Box
    score: float
    person: int | None = None      # Person.id this item belongs to
    mask: np.ndarray | None = field(default=None, repr=False)  # bool [y2-y1, x2-x1]
    on_model: bool = False         # a product photo's main object a model wears (no Person kept for them)
    # What its colour is named from when not all of the mask (a picture held up: the garment in it)
    colour_mask: np.ndarray | None = field(default=None, repr=False)

    @property
    def worn(self) -> bool:
        """Someone wears it: its colour is named without the pixels of skin tones."""
        return self.person is not None or self.on_model

    def to_json(self) -> dict:
        return {"kind": self.kind, "box": list(self.box), "score": round(self.score, 4), "person": self.person}


@dataclass
class FrameItems:
    """What one frame holds: the people, the items (worn or alone) and the raw detections."""
    people: list[Person] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)
    person_score: float = 0.0      # the pose model's best "a person is here" over the person boxes, kept or not


@dataclass(frozen=True)
class ItemVector:
    item: Item
    vector: np.ndarray             # float32, L2-normalised
    colors: tuple[str, ...]        # named colours, most present first
    model_version: str


@dataclass(frozen=True)
class ProductPhoto:
    """A catalogue photo read for the catalogue: the product's item, its vector, and its colour
    names (from the photo's ISNet cut where there is one: `Vision.product_photo`)."""
    item: Item
    vector: ItemVector
    colors: tuple[str, ...]


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
    image: str | None = None       # path inside the catalogue folder

    def to_json(self, full: bool = False) -> dict:
        d = {"sku": self.sku, "score": self.score, "name": self.name, "category": self.category}
        if full:
            d.update(price=self.price, currency=self.currency, stock=self.stock, aisle=self.aisle)
        return d


@dataclass
class ItemMatches:
    """One item and the catalogue's closest products to it."""
    item: Item
    category: str            # inferred from the catalogue neighbours ('' when none has one)
    colors: tuple[str, ...]
    results: list[Match]

    def to_json(self, full: bool = False) -> dict:
        return {"kind": self.item.kind, "box": list(self.item.box), "category": self.category,
                "colors": list(self.colors), "results": [r.to_json(full) for r in self.results]}
