"""Kinds, slots and categories, and the maps between them: the one place that says what is what.

- A *kind* is what the camera finds on a shopper or in a frame: upper body, lower body, footwear,
  or a garment seen alone (held up, no person found).
- A *slot* is a place in an outfit, as Polyvore's outfits and complete the look use them: upper,
  bottom, shoe, bag, accessory. The camera's "lower" fills the outfit's "bottom" slot; both words
  stay because both are published (`signage detect` prints kinds, `signage compat score` reads slots).
- A *category* is the store's own free-text label ("T-Shirt", "Ankle boots"); it decides what a
  product is, and it maps to a slot by name, else by the words in it.
"""
from __future__ import annotations

from typing import Literal, get_args

from .text import T

Kind = Literal["upper", "lower", "footwear", "garment"]
Slot = Literal["upper", "bottom", "shoe", "bag", "accessory"]
KINDS: tuple[Kind, ...] = get_args(Kind)
SLOTS: tuple[Slot, ...] = get_args(Slot)

KIND_SLOT = {"upper": "upper", "lower": "bottom", "footwear": "shoe"}

# Category names (lower case) -> outfit slot.
CATEGORY_SLOT = {
    "t-shirt": "upper", "longsleeve": "upper", "shirt": "upper", "polo": "upper", "outwear": "upper",
    "outerwear": "upper", "blazer": "upper", "hoodie": "upper", "top": "upper", "undershirt": "upper",
    "body": "upper", "blouse": "upper", "sweater": "upper", "jacket": "upper", "coat": "upper",
    "pants": "bottom", "trousers": "bottom", "jeans": "bottom", "shorts": "bottom", "skirt": "bottom",
    # Polyvore files dresses under "bottom": an outfit with a dress still takes an upper (a jacket).
    "dress": "bottom",
    "shoes": "shoe", "shoe": "shoe", "boots": "shoe", "sneakers": "shoe", "sandals": "shoe", "heels": "shoe",
    "bag": "bag", "bags": "bag", "handbag": "bag", "backpack": "bag",
    "hat": "accessory", "scarf": "accessory", "belt": "accessory", "jewellery": "accessory",
    "jewelry": "accessory", "sunglasses": "accessory", "accessory": "accessory", "accessories": "accessory",
}
# Words inside a free-text category that say which slot it is ("Ankle boots", "Skinny jeans").
SLOT_WORDS = {
    "shoe": ("shoe", "boot", "sneaker", "trainer", "heel", "sandal", "loafer", "pump", "flat"),
    "bottom": ("pant", "jean", "trouser", "short", "skirt", "legging", "chino"),
}
# The kind a product photo of a slot is narrowed to when the photo shows a whole person: shoes
# and bottoms are a small part of a model's photo, a top is its main item anyway.
PHOTO_KIND = {"shoe": "footwear", "bottom": "lower"}

# Words for a shopper: in a sentence, as a card's badge, as the label on the video.
SLOT_WORD = {"upper": T("slot", "top"), "bottom": T("slot", "bottom"), "shoe": T("slot", "shoes"),
             "bag": T("slot", "bag"), "accessory": T("slot", "accessory")}
KIND_WORD = {"upper": T("kind", "top"), "lower": T("kind", "bottom"), "footwear": T("kind", "shoes"),
             "garment": T("kind", "item")}
KIND_TITLE = {"upper": T("kind", "Top"), "lower": T("kind", "Bottom"), "footwear": T("kind", "Shoes"),
              "garment": T("kind", "Like yours")}   # "Your item" only for the same product (screen.py)
KIND_LABEL = {"upper": T("kind", "Top"), "lower": T("kind", "Bottom"), "footwear": T("kind", "Shoes"),
              "garment": T("kind", "Item")}
KIND_CATEGORY = {"footwear": "Shoes", "upper": "Top", "lower": "Bottoms", "garment": ""}  # no catalogue


# Which outfit slots an item the camera found may be: an upper-body region is a top or a dress,
# never shoes or a hat; the lower body is a bottom (a dress's skirt too); footwear is shoes. A
# garment seen alone (held up) may be anything.
KIND_SLOTS = {"upper": ("upper",), "lower": ("bottom",), "footwear": ("shoe",)}
ONE_PIECE = ("dress", "jumpsuit", "romper", "overall")     # cover upper and lower: either region


def _slot_by_words(category: str) -> str | None:
    c = category.lower()
    for slot, words in SLOT_WORDS.items():
        if any(w in c for w in words):
            return slot
    return None


def slot_of(category: str, kind: Kind | None = None) -> Slot | None:
    """The outfit slot of a category (by name, else by its words), else of the kind seen."""
    c = (category or "").strip().lower()
    slot = CATEGORY_SLOT.get(c) or (_slot_by_words(c) if c else None)
    return slot or (KIND_SLOT.get(kind) if kind else None)


def photo_kind(category: str) -> str | None:
    """Which item of a product photo shows the product: footwear for shoes, lower for bottoms,
    None (the photo's main item) for the rest. A dress covers upper and lower: the main item."""
    return PHOTO_KIND.get(_slot_by_words(category or "")) if category else None


def kind_allows(kind: Kind, category: str) -> bool:
    """May an item of this kind be a product of this category? Unknown categories are allowed:
    the store's own words decide what they are."""
    slots = KIND_SLOTS.get(kind)
    slot = slot_of(category)
    if slots is None or slot is None:
        return True
    # a dress covers the upper and the lower body: either region may be one, a shoe never is
    one_piece = kind in ("upper", "lower") and any(w in (category or "").lower() for w in ONE_PIECE)
    return slot in slots or one_piece
