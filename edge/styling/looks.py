"""Complete the look: an anchor item in; one product for each other slot of an outfit, with why, out.

Three sources of "goes with", added up per candidate:
- learned compatibility (edge/styling/pairs.py: a pair model over sentence vectors of the names,
  from real Polyvore outfits), on a scale where real outfit pairs score 0 on average with a
  spread of 1; the explanation is the pair of words (one of each item) worn together more often
  than chance (word-pair PMI, edge/styling/compat.py) that the same model scores highest;
- curated looks: a product that shares a look with the anchor (or with the catalogue product the
  anchor looks most like) gets `look_bonus`, and its reason is the look's name;
- merchandising: boost adds its weight, pin puts a product first in its slot, ban removes it
  (a banned look gives no bonus; a pinned look's products come first in their slots whenever the
  look shares the anchor).
In stock first: an out-of-stock product is proposed only when no in-stock one in its slot scores
within `stock_margin` of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..catalog.products import Product
from ..catalog.store import Catalog
from ..taxonomy import SLOT_WORD, SLOTS, Slot, slot_of
from ..text import T, Text, word
from ..types import ItemMatches
from .compat import CompatItem, CompatModel
from .pairs import TextCompat

# A catalogue product this close to what the shopper has on is taken to be the same product: its
# curated looks apply to the shopper's item too, and its card may say "your item". Calibrated by
# bench/claims.py (the demo catalogue's products held up vs other CC0 garments of the same
# categories, chosen on the tune half for at most 1 % false claims; its report half:
# docs/benchmarks/results.json `claims`).
SAME_PRODUCT_SCORE = 0.855


def compat_item(p: Product) -> CompatItem:
    # The category is part of the name: "Relaxed" says little, "Relaxed pants" says what it is.
    return CompatItem(slot_of(p.category) or "upper", f"{p.name} {p.category}", tuple(p.colors))


@dataclass
class Anchor:
    slot: Slot
    category: str
    colors: tuple[str, ...] = ()
    name: str = ""
    sku: str | None = None
    worn: bool = False                      # seen on the shopper (from a frame), not picked by sku
    similar_skus: tuple[str, ...] = ()      # catalogue products it looks most like

    @classmethod
    def from_matches(cls, m: ItemMatches, worn: bool | None = None) -> "Anchor":
        """The anchor for an item seen in a frame and matched to the catalogue."""
        top = m.results[:1]
        return cls(slot_of(m.category, m.item.kind) or "upper", m.category, tuple(m.colors),
                   worn=m.item.person is not None if worn is None else worn,
                   similar_skus=tuple(r.sku for r in top if r.score >= SAME_PRODUCT_SCORE))

    def to_json(self) -> dict:
        return {"slot": self.slot, "category": self.category, "colors": list(self.colors), "name": self.name,
                "sku": self.sku}


@dataclass
class Suggestion:
    slot: Slot
    product: Product
    score: float
    why: Text | str             # "" until chosen
    pinned: bool = False
    look_id: str = ""          # the curated look it comes from, if any

    def to_json(self) -> dict:
        p = self.product
        return {"slot": self.slot, "sku": p.sku, "name": p.name, "score": round(self.score, 4), "why": str(self.why),
                "price": p.price, "currency": p.currency, "stock": p.stock, "aisle": p.aisle}


def _phrase(attr: str) -> str:
    return attr.split(":", 1)[1]


# Words a shopper can see on a garment: only these (and colours) are used to explain a pairing.
READABLE = {
    "leather", "denim", "suede", "silk", "cotton", "wool", "knit", "lace", "linen", "velvet", "satin",
    "chiffon", "canvas", "patent", "cashmere", "jeans", "skirt", "shorts", "pants", "trousers", "dress",
    "shirt", "blouse", "tee", "sweater", "jacket", "coat", "blazer", "hoodie", "cardigan", "sneakers",
    "boots", "sandals", "heels", "pumps", "flats", "loafers", "hat", "beanie", "scarf", "tote", "clutch",
    "backpack", "striped", "floral", "print", "plaid", "ripped", "skinny", "cropped", "oversized", "polo",
}


def _colour_attr(colors) -> str:
    return f"c:{colors[0]}" if colors else ""


def _described(attr: str, category: str, slot_word: Text) -> Text:
    """'light blue t-shirt': an item's category (else its slot's word) with the colour or the
    material (attr 'c:light blue', 'w:denim') that explains the pairing, unless the category says it."""
    what = word("category", category) if category else slot_word
    adjective = _phrase(attr) if attr else ""
    if not adjective or adjective in what.source:
        return what
    return T("why", "{adjective} {item}").fill(adjective=word("colour" if attr.startswith("c:") else "word", adjective),
                                              item=what)


def _readable(attr: str) -> bool:
    return attr.startswith("c:") or (attr.startswith("w:") and _phrase(attr) in READABLE)


@dataclass
class CompleteTheLook:
    catalog: Catalog
    compat: TextCompat | CompatModel
    look_bonus: float = 3.0       # three spreads: a store's own look beats all but a glaring mismatch
    stock_margin: float = 0.5     # half a spread
    _cache_version: int = field(default=-1, repr=False)
    _products: list[Product] = field(default_factory=list, repr=False)

    def _catalogue(self) -> list[Product]:
        if self._cache_version != self.catalog.version:
            self._products = self.catalog.products()
            self._cache_version = self.catalog.version
        return self._products

    def anchor_for_sku(self, sku: str) -> Anchor | None:
        p = self.catalog.get(sku)
        if p is None:
            return None
        return Anchor(slot_of(p.category) or "upper", p.category, tuple(p.colors), p.name, p.sku)

    def why(self, anchor: Anchor, anchor_item: CompatItem, cand: Product) -> Text:
        """'Beige shorts with the light blue t-shirt you have on: often worn together in real outfits'."""
        reasons = [r for r in self.compat.reasons(anchor_item, compat_item(cand), most=20)
                   if _readable(r[0]) and _readable(r[1])]
        a_attr = reasons[0][0] if reasons else _colour_attr(anchor.colors)
        c_attr = reasons[0][1] if reasons else _colour_attr(cand.colors)
        mine = _described(a_attr, anchor.category, SLOT_WORD[anchor.slot])
        mine = (T("why", "the {item} you have on") if anchor.worn else T("why", "the {item}")).fill(item=mine)
        theirs = _described(c_attr, cand.category, SLOT_WORD[slot_of(cand.category) or "upper"])
        text = T("why", "{theirs} with {mine}: often worn together in real outfits") if reasons \
            else T("why", "{theirs} with {mine}")
        return text.fill(theirs=theirs, mine=mine).sentence()

    def __call__(self, anchor: Anchor) -> list[Suggestion]:
        products = self._catalogue()
        rules = self.catalog.merch()
        banned = {t for k, t, a, _ in rules if k == "sku" and a == "ban"}
        banned_looks = {t for k, t, a, _ in rules if k == "look" and a == "ban"}
        pinned = {t for k, t, a, _ in rules if k == "sku" and a == "pin"}
        pinned_looks = {t for k, t, a, _ in rules if k == "look" and a == "pin"}
        boost = {t: w for k, t, a, w in rules if k == "sku" and a == "boost"}
        look_boost = {t: w for k, t, a, w in rules if k == "look" and a == "boost"}
        related = {s for s in (anchor.sku, *anchor.similar_skus) if s}
        look_of: dict[str, tuple[str, str]] = {}     # sku -> (look id, look name) sharing the anchor
        for lid, (name, skus) in self.catalog.looks().items():
            if lid not in banned_looks and related & set(skus):
                for s in skus:
                    look_of.setdefault(s, (lid, name))

        anchor_item = CompatItem(anchor.slot, f"{anchor.name} {anchor.category}", anchor.colors)
        best: dict[str, list[Suggestion]] = {}
        cands = [p for p in products if slot_of(p.category) not in (None, anchor.slot)
                 and p.sku not in banned and p.sku not in related]
        for p, score in zip(cands, self.compat.pair_scores(anchor_item, [compat_item(p) for p in cands])):
            slot = slot_of(p.category)
            score = float(score) + boost.get(p.sku, 0.0)
            if p.sku in look_of:
                lid, name = look_of[p.sku]
                score += self.look_bonus + look_boost.get(lid, 0.0)
                why = T("why", "from the look '{name}'").fill(name=name)
            else:
                why = ""
            pin = p.sku in pinned or (p.sku in look_of and look_of[p.sku][0] in pinned_looks)
            best.setdefault(slot, []).append(Suggestion(slot, p, score, why, pin, look_of.get(p.sku, ("",))[0]))

        out = []
        for slot in SLOTS:
            cands = best.get(slot)
            if not cands:
                continue
            pins = [c for c in cands if c.pinned and c.product.stock > 0] or [c for c in cands if c.pinned]
            if pins:
                choice = max(pins, key=lambda c: c.score)
                choice.why = choice.why or T("why", "picked for you by the store")
            else:
                top = max(cands, key=lambda c: c.score)
                in_stock = [c for c in cands if c.product.stock > 0]
                top_in = max(in_stock, key=lambda c: c.score) if in_stock else None
                choice = top_in if top_in is not None and top_in.score >= top.score - self.stock_margin else top
            if not choice.why:
                choice.why = self.why(anchor, anchor_item, choice.product)
            if choice.product.stock <= 0:
                choice.why = T("why", "{why} (out of stock here: ask staff)").fill(why=choice.why)
            out.append(choice)
        return out
