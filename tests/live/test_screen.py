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
