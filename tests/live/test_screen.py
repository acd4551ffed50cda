"""What the screen shows is decided in edge/live/screen.py from the result alone."""
from edge.catalog.products import Product
from edge.live.recognizer import FrameResult, TrackedItem
from edge.live.screen import panel_for
from edge.styling.looks import Suggestion
from edge.types import Match


def result(items):
    return FrameResult(1, 0.0, 0.01, (640, 480), 2, items, {})


def m(sku, image="images/x.jpg"):
    return Match(sku, 0.9, f"name {sku}", "T-Shirt", 9.5, "EUR", 2, "A1", image)


def test_no_item_yet_asks_the_shopper_to_hold_one_up():
    assert panel_for(None, "similar", 4).title.render() == "Hold a garment up to the camera"
    assert panel_for(result([]), "similar", 4).cards == ()
    unsteady = TrackedItem(1, "upper", (0, 0, 10, 10), 0, False)
    assert panel_for(result([unsteady]), "similar", 4).title.render() == "Looking…"


def test_each_mode_shows_its_cards_for_the_main_item():
    big = TrackedItem(1, "upper", (0, 0, 300, 300), 0, True, "T-Shirt", ("navy",), [m("A"), m("B"), m("C")],
                      [Suggestion("bottom", Product("J", "Jeans", "Pants", stock=1), 1.0, "goes well")], score=0.9)
    small = TrackedItem(2, "footwear", (0, 400, 50, 450), 1, True, "Shoes", ("black",), [m("S")], score=0.9)
    r = result([small, big])
    similar = panel_for(r, "similar", 2)
    assert similar.title.render() == "Like your navy t-shirt" and [c.sku for c in similar.cards] == ["A", "B"]
    look = panel_for(r, "look", 4)
    assert look.title.render() == "To wear with your navy t-shirt"
    assert [(c.sku, str(c.badge), str(c.why)) for c in look.cards] == [("J", "bottom", "goes well")]
    shop = panel_for(r, "shop", 4)
    assert [(c.sku, str(c.badge)) for c in shop.cards] == [("A", "person 1 · Top"), ("S", "person 2 · Shoes")]
    assert similar.key != panel_for(r, "similar", 3).key


def labelled(items, size=(640, 480)):
    from edge.live.screen import video_labels
    return [(lab.track_id, str(lab.text)) for lab in video_labels(items, size)]


def test_one_label_per_person_on_their_largest_item():
    """The demo's overlay stacked Dress, Bottom and Shoes over one person: now one label."""
    person = [TrackedItem(1, "upper", (200, 60, 360, 220), 0, True, "Dress"),
              TrackedItem(2, "lower", (210, 200, 350, 380), 0, True),
              TrackedItem(3, "footwear", (220, 380, 340, 430), 0, True, "Shoes")]
    assert labelled(person) == [(1, "Dress")]


def test_no_label_for_a_person_too_small_to_serve_nor_for_an_unsteady_item():
    from edge.live.screen import MIN_PERSON_H
    near = [TrackedItem(1, "upper", (40, 100, 200, 260), 0, True, "Shirt"),
            TrackedItem(2, "lower", (50, 250, 190, 420), 0, True, "Pants")]
    far_top = 200
    far = [TrackedItem(3, "upper", (400, far_top, 430, far_top + 40), 1, True, "T-Shirt"),
           TrackedItem(4, "footwear", (405, far_top + 80, 425, far_top + int(MIN_PERSON_H * 480) - 2), 1, True)]
    unsteady = [TrackedItem(5, "garment", (480, 10, 630, 200), None, False)]
    feet_at_the_edge = [TrackedItem(6, "footwear", (600, 0, 630, 30), None, True, "Shoes")]
    assert labelled(near + far + unsteady + feet_at_the_edge) == [(1, "Shirt")]
    # a small person given a shoe far below them (two people on one index) is still small
    mixed_up = far[:1] + [TrackedItem(7, "footwear", (100, 440, 120, 470), 1, True)]
    assert labelled(mixed_up) == []
    taller = far[:1] + [TrackedItem(4, "footwear", (405, 300, 425, far_top + int(MIN_PERSON_H * 480) + 2), 1, True)]
    assert [t for t, _ in labelled(near + taller)] == [1, 3]     # just tall enough: labelled


def test_labels_never_cover_each_other():
    from edge.live.screen import video_labels
    from edge.types import iou
    # two garments held up side by side whose boxes overlap: the larger keeps its label
    a = TrackedItem(1, "garment", (100, 100, 400, 400), None, True, "T-Shirt")
    b = TrackedItem(2, "garment", (300, 110, 500, 300), None, True)
    c = TrackedItem(3, "garment", (520, 100, 630, 300), None, True, "Hat")
    labels = video_labels([b, c, a], (640, 480))
    assert [(lab.track_id, str(lab.text)) for lab in labels] == [(1, "T-shirt"), (3, "Hat")]
    assert all(iou(x.rect, y.rect) == 0 for x in labels for y in labels if x is not y)
    assert all(lab.rect[3] - lab.rect[1] == round(0.06 * 480) and lab.rect[1] >= 0 for lab in labels)


def test_a_card_says_your_item_only_for_the_same_product():
    """The README's screenshot showed a pink polo as YOUR ITEM for a light blue T-shirt: a card
    claims the shopper's product only at a match score calibrated as the same product."""
    from edge.styling.looks import SAME_PRODUCT_SCORE
    held = lambda score: TrackedItem(1, "garment", (100, 50, 500, 450), None, True, "Polo", ("pink",),  # noqa: E731
                                     [Match("P", score, "Pink polo", "Polo", 20.0, "EUR", 1, "A2", None)], score=0.9)
    for score, claim in ((SAME_PRODUCT_SCORE + 0.01, "Your item"), (SAME_PRODUCT_SCORE - 0.01, "Like yours")):
        shop = panel_for(result([held(score)]), "shop", 4)
        assert [str(c.badge) for c in shop.cards] == [claim]
        similar = panel_for(result([held(score)]), "similar", 4)
        assert [str(c.badge) for c in similar.cards] == ["Your item" if claim == "Your item" else ""]


def test_the_same_product_threshold_is_the_one_its_bench_chose():
    """SAME_PRODUCT_SCORE is written by `python -m bench.claims --write`, not typed."""
    import json

    from conftest import ROOT
    from edge.styling.looks import SAME_PRODUCT_SCORE
    claims = json.loads((ROOT / "docs" / "benchmarks" / "results.json").read_text())["claims"]
    assert SAME_PRODUCT_SCORE == claims["threshold"]
    assert claims["report"]["false_claim_rate"] <= 2 * claims["max_false_claims"]
