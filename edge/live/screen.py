"""What the screen shows for a result: a FrameResult and the shopper's chosen mode in, a Panel
(a title and product cards) out. The window draws it as it is; it decides nothing."""
from __future__ import annotations

from dataclasses import dataclass

from ..styling.shop import by_person
from ..taxonomy import KIND_TITLE, KIND_WORD, SLOT_WORD, Kind
from ..text import T, Text, word
from .recognizer import FrameResult

MODES = (("similar", T("screen", "Find similar")), ("look", T("screen", "Complete the look")),
         ("shop", T("screen", "Shop the look")))


@dataclass(frozen=True)
class Card:
    sku: str
    name: str
    price: float | None
    currency: str
    stock: int
    aisle: str
    why: Text | str = ""           # complete the look: why it goes with the shopper's item
    image: str | None = None       # path inside the catalogue folder
    badge: Text | str = ""         # slot, or "person 2 · Top"
    look_id: str = ""              # complete the look: the curated look it comes from


@dataclass(frozen=True)
class Panel:
    title: Text
    cards: tuple[Card, ...] = ()

    @property
    def key(self) -> tuple:
        """Same key, same panel on screen: the window rebuilds only when it changes."""
        return (self.title, tuple(c.sku for c in self.cards))


def your_item(colors, category: str, kind: Kind) -> Text:
    """'blue t-shirt': the shopper's item by its first colour and its category (else its kind)."""
    what = word("category", category) if category else KIND_WORD[kind]
    if not colors:
        return what
    return T("screen", "{colour} {item}").fill(colour=word("colour", colors[0]), item=what)


def panel_for(result: FrameResult | None, mode: str, n: int) -> Panel:
    main = result.main if result is not None else None
    if main is None:
        return Panel(T("screen", "Looking…") if result is not None and result.items
                     else T("screen", "Hold a garment up to the camera"))
    yours = your_item(main.colors, main.category, main.kind)
    if mode == "similar":
        return Panel(T("screen", "Like your {item}").fill(item=yours),
                     tuple(Card(m.sku, m.name, m.price, m.currency or "", m.stock or 0, m.aisle or "", "", m.image)
                           for m in main.matches[:n]))
    if mode == "look":
        return Panel(T("screen", "To wear with your {item}").fill(item=yours),
                     tuple(Card(s.product.sku, s.product.name, s.product.price, s.product.currency, s.product.stock,
                                s.product.aisle, s.why, s.product.image or None, SLOT_WORD[s.slot], s.look_id)
                           for s in main.looks[:n]))
    cards = []
    groups = by_person(result.shown)
    for person, items in groups:
        for it in items:
            m = it.matches[0]
            kind = KIND_TITLE.get(it.kind, it.kind)
            badge = T("screen", "person {n} · {kind}").fill(n=person + 1, kind=kind) \
                if len(groups) > 1 and person is not None else kind
            cards.append(Card(m.sku, m.name, m.price, m.currency or "", m.stock or 0, m.aisle or "", "", m.image, badge))
    return Panel(T("screen", "Everything in view, in this store"), tuple(cards))


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
