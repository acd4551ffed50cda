"""What the screen shows for a result: a FrameResult and the shopper's chosen mode in, a Panel
(a title and product cards) out. The window draws it as it is; it decides nothing."""
from __future__ import annotations

from dataclasses import dataclass

from ..styling.looks import SAME_PRODUCT_SCORE
from ..styling.shop import by_person
from ..taxonomy import KIND_LABEL, KIND_TITLE, KIND_WORD, SLOT_WORD, Kind
from ..text import T, Text, word
from ..types import Box, box_area, iou
from .recognizer import FrameResult, TrackedItem

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


# The card may claim the shopper's very product only when the match is that product.
YOUR_ITEM = T("screen", "Your item")


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
                     tuple(Card(m.sku, m.name, m.price, m.currency or "", m.stock or 0, m.aisle or "", "", m.image,
                                YOUR_ITEM if i == 0 and m.score >= SAME_PRODUCT_SCORE else "")
                           for i, m in enumerate(main.matches[:n])))
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
            kind = YOUR_ITEM if it.kind == "garment" and m.score >= SAME_PRODUCT_SCORE else KIND_TITLE[it.kind]
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


# The labels on the video. Their height is this share of the frame's (the window draws them that
# tall and no wider than their item's box), so where they fall is known here, not measured there.
LABEL_H = 0.06
LABEL_MIN_W = 0.25      # ... and at least this share of its width: a word fits over a narrow item
# A person whose items span less of the frame's height than this stands too far away to read the
# screen or to reach it (a 1.7 m person about 6 m from a webcam's 45 degree view): their outlines
# show, but a label over a figure that small would hide it and could not be read.
MIN_PERSON_H = 0.25


@dataclass(frozen=True)
class VideoLabel:
    track_id: int
    text: Text
    rect: Box                      # frame pixels: on top of the item's box; the text fits in it


def video_labels(items: list[TrackedItem], size: tuple[int, int]) -> tuple[VideoLabel, ...]:
    """At most one label per person (their largest item) and per garment held up, none for a
    person or a thing too small to serve, and none that would cover another: larger items first."""
    width, height = size
    groups: dict[tuple, list[TrackedItem]] = {}
    for it in items:
        if it.stable:
            groups.setdefault(("person", it.person) if it.person is not None else ("item", it.track_id), []).append(it)
    chosen = []
    for its in groups.values():
        best = max(its, key=lambda i: box_area(i.box))
        # the person's height: their items in the largest one's column (an item given to the wrong
        # person elsewhere in the frame does not make them tall). That small, or a thing alone that
        # small (feet at the frame's edge), is not someone at the screen.
        column = [i for i in its if i.box[0] < best.box[2] and best.box[0] < i.box[2]]
        if max(i.box[3] for i in column) - min(i.box[1] for i in column) >= MIN_PERSON_H * height:
            chosen.append(best)
    placed: list[VideoLabel] = []
    lh, lw = round(LABEL_H * height), round(LABEL_MIN_W * width)
    for it in sorted(chosen, key=lambda i: -box_area(i.box)):
        x1, y1, x2, _ = it.box
        x1 = max(0, min(x1, width - lw))          # inside the frame
        top = max(0, y1 - lh)
        rect = (x1, top, max(x2, x1 + lw), top + lh)
        if all(iou(rect, p.rect) == 0 for p in placed):
            text = word("category", it.category).sentence() if it.category else KIND_LABEL[it.kind]
            placed.append(VideoLabel(it.track_id, text, rect))
    return tuple(placed)
