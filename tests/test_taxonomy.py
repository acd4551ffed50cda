"""One taxonomy: kinds, slots and categories mapped in one place."""
from edge.taxonomy import KIND_SLOT, KINDS, SLOTS, photo_kind, slot_of


def test_store_categories_map_to_outfit_slots_by_name_then_by_words():
    assert slot_of("T-Shirt") == "upper" and slot_of("Outwear") == "upper"
    assert slot_of("Pants") == "bottom" and slot_of("Dress") == "bottom"
    assert slot_of("Shoes") == "shoe" and slot_of("Hat") == "accessory"
    # free text a store writes: the words in it say the slot
    assert slot_of("Ankle boots") == "shoe" and slot_of("Skinny jeans") == "bottom"
    # nothing known: the kind the camera saw decides, else nothing
    assert slot_of("Mystery", "lower") == "bottom" and slot_of("Mystery", "footwear") == "shoe"
    assert slot_of("Mystery") is None and slot_of("", "garment") is None


def test_camera_kinds_fill_outfit_slots():
    assert set(KIND_SLOT) <= set(KINDS) and set(KIND_SLOT.values()) <= set(SLOTS)
    assert KIND_SLOT["lower"] == "bottom"      # the camera's "lower" is the outfit's "bottom"


def test_a_product_photo_is_narrowed_to_its_kind_only_for_shoes_and_bottoms():
    assert photo_kind("Sneakers") == "footwear" and photo_kind("Shorts") == "lower"
    assert photo_kind("T-Shirt") is None and photo_kind("Dress") is None and photo_kind("") is None


def test_an_items_kind_bounds_its_category():
    from edge.taxonomy import kind_allows
    assert kind_allows("upper", "T-Shirt") and kind_allows("upper", "Blazer") and kind_allows("upper", "Dress")
    assert not kind_allows("upper", "Shoes") and not kind_allows("upper", "Hat") and not kind_allows("upper", "Pants")
    assert kind_allows("lower", "Skirt") and kind_allows("lower", "Dress") and not kind_allows("lower", "Polo")
    assert kind_allows("footwear", "Ankle boots") and not kind_allows("footwear", "Blazer")
    assert not kind_allows("footwear", "Dress")     # a dress covers upper and lower, never the feet
    assert kind_allows("garment", "Shoes") and kind_allows("upper", "Something new")
