"""Shop the look: every item every person wears in, the catalogue's matches per person out."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, TypeVar

import numpy as np

from ..types import FrameItems, ItemMatches, Person
from .similar import FindSimilar

T = TypeVar("T")


def by_person(items: Iterable[T]) -> list[tuple[int | None, list[T]]]:
    """Items grouped by the person wearing them (anything with `.person`), people in order,
    items seen without a person last."""
    groups: dict[int | None, list[T]] = {}
    for it in items:
        groups.setdefault(it.person, []).append(it)
    return [(p, groups[p]) for p in sorted(groups, key=lambda p: (p is None, p if p is not None else 0))]


@dataclass
class PersonLook:
    person: Person
    items: list[ItemMatches] = field(default_factory=list)

    def to_json(self) -> dict:
        return {**self.person.to_json(), "items": [m.to_json(full=True) for m in self.items]}


def shop_the_look(similar: FindSimilar, bgr: np.ndarray, k: int, found: FrameItems | None = None) -> list[PersonLook]:
    """Each person in the photo, with the closest products to each item they wear."""
    vision = similar.vision
    found = found or vision.find_items(bgr)
    worn = dict(by_person(i for i in found.items if i.person is not None))
    return [PersonLook(p, [similar.match(vision.embed(bgr, it), k) for it in worn.get(p.id, [])])
            for p in found.people]
