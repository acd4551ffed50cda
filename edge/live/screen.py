"""What the screen shows for a result: a FrameResult and the shopper's chosen mode in, a Panel
(a title and product cards) out. The window draws it as it is; it decides nothing."""
from __future__ import annotations

from dataclasses import dataclass

from ..styling.shop import by_person
from ..taxonomy import KIND_TITLE, Kind
from .recognizer import FrameResult

MODES = (("similar", "Find similar"), ("look", "Complete the look"), ("shop", "Shop the look"))


@dataclass(frozen=True)
class Card:
    sku: str
    name: str
    price: float | None
    currency: str
    stock: int
    aisle: str
    why: str = ""                  # complete the look: why it goes with the shopper's item
    image: str | None = None       # path inside the catalogue folder
    badge: str = ""                # slot, or "person 2 · Top"
    look_id: str = ""              # complete the look: the curated look it comes from


@dataclass(frozen=True)
class Panel:
    title: str
    cards: tuple[Card, ...] = ()

    @property
    def key(self) -> tuple:
        """Same key, same panel on screen: the window rebuilds only when it changes."""
        return (self.title, tuple(c.sku for c in self.cards))


def _your(colors: tuple[str, ...], what: str) -> str:
    return f"{' '.join(colors[:1])} {what}".strip().replace("  ", " ")


def panel_for(result: FrameResult | None, mode: str, n: int) -> Panel:
    main = result.main if result is not None else None
    if main is None:
        return Panel("Looking…" if result is not None and result.items else "Hold a garment up to the camera")
    what = (main.category or KIND_TITLE.get(main.kind, "item")).lower()
    if mode == "similar":
        return Panel(f"Like your {_your(main.colors, what)}",
                     tuple(Card(m.sku, m.name, m.price, m.currency or "", m.stock or 0, m.aisle or "", "", m.image)
                           for m in main.matches[:n]))
    if mode == "look":
        return Panel(f"To wear with your {_your(main.colors, what)}",
                     tuple(Card(s.product.sku, s.product.name, s.product.price, s.product.currency, s.product.stock,
                                s.product.aisle, s.why, s.product.image or None, s.slot, s.look_id)
                           for s in main.looks[:n]))
    cards = []
    groups = by_person(result.shown)
    for person, items in groups:
        for it in items:
            m = it.matches[0]
            badge = (f"person {person + 1} · " if len(groups) > 1 and person is not None else "") + \
                KIND_TITLE.get(it.kind, it.kind)
            cards.append(Card(m.sku, m.name, m.price, m.currency or "", m.stock or 0, m.aisle or "", "", m.image, badge))
    return Panel("Everything in view, in this store", tuple(cards))


@dataclass(frozen=True)
class ItemCard:
    """One recognised item as the screen names it: what the shopper has (kind, category, colours)
    and the product shown for it."""
    kind: Kind
    category: str
    sku: str
    name: str
    colors: tuple[str, ...]

    def to_json(self) -> dict:
        return {"kind": self.kind, "category": self.category, "sku": self.sku, "name": self.name,
                "colors": list(self.colors)}


def item_cards(result: FrameResult | None) -> tuple[ItemCard, ...]:
    """Every steady item with a match, the main item (the one the panel is about) first."""
    if result is None:
        return ()
    main = result.main
    ordered = ([main] if main is not None else []) + [i for i in result.shown if i is not main]
    return tuple(ItemCard(i.kind, i.category, i.matches[0].sku, i.matches[0].name, tuple(i.colors)) for i in ordered)
