import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import MESSI, OUTFITS, ROOT, cc0_path, cc0_rows
from edge.catalog.store import Catalog
from edge.catalog.products import Product
from edge.styling.compat import CompatItem, CompatModel, compatibility_auc, fitb_accuracy, load_polyvore, split_outfits
from edge.styling.looks import Anchor, CompleteTheLook
from edge.taxonomy import slot_of



@pytest.fixture(scope="module")
def pmi():
    """The word-pair PMI model: the baseline, and the words the explanations use."""
    return CompatModel.load(ROOT / "models" / "compat.json")


@pytest.fixture(scope="module")
def compat(cfg):
    """What the kiosk's looks use: the pair model over sentence vectors of the names."""
    from edge.runtime import Runtime
    return Runtime(cfg).compat


def test_fitb_on_held_out_outfits_beats_chance(pmi):
    compat = pmi
    # the committed model was trained on split seed 0's training part: test on its held-out part
    _, held_out = split_outfits(load_polyvore(OUTFITS), seed=0)
    assert len(held_out) == 239
    accs = [fitb_accuracy(compat, held_out, seed) for seed in range(3)]
    # measured 0.36 mean over 5 splits x 3 draws (bench/compat.py); chance is 0.25. With 239
    # outfits one standard error is ~0.03, so the floor is chance + 2 SE.
    assert sum(accs) / 3 >= 0.31, accs
    assert compatibility_auc(compat, held_out, 0) >= 0.56


def test_model_was_not_trained_on_its_test_outfits(pmi):
    compat = pmi
    train, held_out = split_outfits(load_polyvore(OUTFITS), seed=0)
    assert compat.outfits == len(train)
    fresh = CompatModel.fit([items for _, items in train])
    assert fresh.counts == compat.counts


def test_colour_pairs_learned_from_outfits(pmi):
    compat = pmi
    # in real outfits, black goes with black more than chance (the most common pairing)
    assert compat.pmi("c:black", "c:black") == 0.0   # same attribute: not a pair
    assert compat.pmi("c:white", "c:black") > 0
    top = CompatItem("upper", "black leather jacket")
    assert compat.score([top, CompatItem("bottom", "black skinny jeans"), CompatItem("shoe", "black ankle boots")]) > \
        compat.score([top, CompatItem("bottom", "floral chiffon maxi skirt"), CompatItem("shoe", "pink glitter sandals")])


def test_the_pair_model_beats_the_word_pairs_on_held_out_outfits(compat, pmi):
    """Split 0's held-out fifth (the committed models trained on the other four fifths). What the
    looks use (3 pair models + 0.25 x PMI, edge/styling/pairs.py) was chosen on validation fifths
    of the training outfits of splits 0-4, where it scored 0.449-0.504 FITB; held out, 5 splits
    x 3 draws measured 0.454 against PMI's 0.360 (bench/compat.py). Floor: the low end of
    validation less 2 SE (one SE ~0.03 at 239 outfits)."""
    _, held_out = split_outfits(load_polyvore(OUTFITS), seed=0)
    text = [fitb_accuracy(compat, held_out, d) for d in range(3)]
    words = [fitb_accuracy(pmi, held_out, d) for d in range(3)]
    assert sum(text) / 3 >= 0.39, text
    assert sum(text) > sum(words), (text, words)
    assert compatibility_auc(compat, held_out, 0) > compatibility_auc(pmi, held_out, 0)


def test_a_shared_rare_word_counts_a_shared_common_word_barely(compat):
    """Stylists put a brand or a material with itself: the same trousers score higher beside a top
    of their brand, while a word most names hold ("women's") moves the score far less."""
    top = CompatItem("upper", "stella mccartney striped silk top")
    branded, plain = CompatItem("bottom", "stella mccartney wide trousers"), CompatItem("bottom", "acme wide trousers")
    s_brand = compat.pair_scores(top, [branded, plain])
    words = compat.pairs.lexicon
    assert words.idf["stella"] > 2 * words.idf["women"]
    assert s_brand[0] > s_brand[1], s_brand


def test_a_bottom_beside_no_top_leans_to_a_dress(compat):
    """A bottom in an outfit with no upper is a dress 87 % of the time in the outfits (16 % beside
    one): the empty upper slot must lift a dress over a skirt or jeans, more than when a top is
    there, and the outfit's score must carry that lift."""
    shoe, bag = CompatItem("shoe", "black leather ankle boots"), CompatItem("bag", "black leather shoulder bag")
    top = CompatItem("upper", "white cotton shirt")
    for dress, other in (("black midi dress", "black midi skirt"), ("floral maxi dress", "denim mini skirt"),
                         ("red sweater dress", "blue jeans")):
        d, o = CompatItem("bottom", dress), CompatItem("bottom", other)

        def lift(outfit):
            return compat.pairs.missing_terms([i.slot for i in outfit], compat.vectors(outfit))[-1]
        no_top = lift([shoe, bag, d]) - lift([shoe, bag, o])
        beside_top = lift([top, shoe, bag, d]) - lift([top, shoe, bag, o])
        assert no_top > 0.05 and no_top > beside_top, (dress, other, no_top, beside_top)
        pairs_only = compat.pairs.missing_terms
        try:     # the same outfits scored with the empty-slot terms switched off
            compat.pairs.missing_terms = lambda slots, vectors: np.zeros(len(slots), np.float32)
            flat = compat.score([shoe, bag, d]) - compat.score([shoe, bag, o])
        finally:
            compat.pairs.missing_terms = pairs_only
        assert compat.score([shoe, bag, d]) - compat.score([shoe, bag, o]) > flat


SYNONYMS = [("white leather trainers", "white leather sneakers", "shoe"),
            ("canvas tote bag", "canvas shopper bag", "bag"),
            ("black slim trousers", "black slim pants", "bottom"),
            ("grey wool jumper", "grey wool sweater", "upper"),
            ("brown suede ankle boots", "brown suede booties", "shoe")]


def test_same_meaning_names_score_alike(compat, pmi):
    """Two names for one thing go with an outfit about equally: for each pair, the median gap
    between their scores over 20 held-out outfits is under 0.75 of the spread of the scores of
    other items of that slot, and on average smaller than the word-pair model's gap (which
    knows a word only if outfits showed it)."""
    outfits = load_polyvore(OUTFITS)
    _, held_out = split_outfits(outfits, seed=0)
    by_slot = {}
    for _, items in outfits:
        for it in items:
            by_slot.setdefault(it.slot, []).append(it)

    def gaps(model):
        out = []
        for a, b, slot in SYNONYMS:
            rel = []
            for _, items in held_out[:20]:
                anchor = next((i for i in items if i.slot != slot), None)
                if anchor is not None:
                    s = np.asarray(model.pair_scores(anchor, [CompatItem(slot, a), CompatItem(slot, b)] + by_slot[slot][::25]))
                    rel.append(abs(s[0] - s[1]) / s[2:].std())
            out.append(float(np.median(rel)))
        return out
    text, words = gaps(compat), gaps(pmi)
    assert max(text) < 0.75, text
    assert np.mean(text) < np.mean(words), (text, words)


def product(sku, name, category, colors, stock=3):
    return Product(sku, name, category, tuple(colors), 10.0, "EUR", stock, "A1")


@pytest.fixture
def store(tmp_path):
    cat = Catalog(tmp_path, create=True)
    items = [
        product("TOP-1", "striped cotton shirt", "Shirt", ["navy", "white"]),
        product("TOP-2", "silk blouse", "Top", ["pink"]),
        product("PANTS-1", "denim jeans", "Pants", ["blue"]),
        product("PANTS-2", "black trousers", "Pants", ["black"]),
        product("SKIRT-1", "floral skirt", "Skirt", ["pink"], stock=0),
        product("SHOE-1", "white leather sneakers", "Shoes", ["white"]),
        product("SHOE-2", "black ankle boots", "Shoes", ["black"], stock=0),
        product("SHOE-3", "red glitter heels", "Shoes", ["red"]),
        product("HAT-1", "wool beanie", "Hat", ["grey"]),
    ]
    cat.upsert([(p, None, "m") for p in items])
    return cat


def test_never_the_anchors_slot_and_one_per_slot(store, compat):
    ctl = CompleteTheLook(store, compat)
    for sku in ("TOP-1", "PANTS-1", "SHOE-1", "HAT-1"):
        anchor = ctl.anchor_for_sku(sku)
        got = ctl(anchor)
        slots = [s.slot for s in got]
        assert anchor.slot not in slots and len(slots) == len(set(slots)) and slots
        assert all(s.why for s in got)
        assert sku not in [s.product.sku for s in got]


def test_banned_never_pinned_first(store, compat):
    ctl = CompleteTheLook(store, compat)
    anchor = ctl.anchor_for_sku("TOP-1")
    first_shoe = next(s for s in ctl(anchor) if s.slot == "shoe").product.sku
    store.set_merch("sku", first_shoe, "ban")
    assert all(s.product.sku != first_shoe for s in ctl(anchor))
    store.set_merch("sku", "SHOE-3", "pin")
    shoe = next(s for s in ctl(anchor) if s.slot == "shoe")
    assert shoe.product.sku == "SHOE-3" and str(shoe.why) == "picked for you by the store"
    store.clear_merch("sku", "SHOE-3")
    assert str(next(s for s in ctl(anchor) if s.slot == "shoe").why) != "picked for you by the store"
    assert all(s.product.sku != first_shoe for s in ctl(anchor))    # the ban stays


def _base_scores(ctl, compat, anchor):
    from edge.styling.looks import compat_item
    item = CompatItem(anchor.slot, f"{anchor.name} {anchor.category}", anchor.colors)
    products = [p for p in ctl.catalog.products() if slot_of(p.category) not in (None, anchor.slot)]
    return {p.sku: float(s) for p, s in zip(products, compat.pair_scores(item, [compat_item(p) for p in products]))}


def test_in_stock_first_within_the_margin(store, compat):
    ctl = CompleteTheLook(store, compat, stock_margin=0.15)
    anchor = ctl.anchor_for_sku("TOP-1")
    base = _base_scores(ctl, compat, anchor)
    # the in-stock sneakers boosted to just within the margin of the out-of-stock boots: not the boots
    store.set_merch("sku", "SHOE-2", "boost", 0.0)
    store.set_merch("sku", "SHOE-3", "boost", -10.0)
    store.set_merch("sku", "SHOE-1", "boost", base["SHOE-2"] - base["SHOE-1"] - 0.1)
    shoe = next(s for s in ctl(anchor) if s.slot == "shoe")
    assert shoe.product.sku == "SHOE-1"
    # the boots boosted far past the margin: now they are proposed, and say they are out of stock
    store.set_merch("sku", "SHOE-2", "boost", 5.0)
    shoe = next(s for s in ctl(anchor) if s.slot == "shoe")
    assert shoe.product.sku == "SHOE-2" and "out of stock" in str(shoe.why)


def test_property_never_out_of_stock_when_in_stock_is_within_margin(store, compat):
    rng = np.random.default_rng(3)
    ctl = CompleteTheLook(store, compat, stock_margin=0.2)
    anchor = ctl.anchor_for_sku("TOP-2")
    base = _base_scores(ctl, compat, anchor)
    seen_out = 0
    for trial in range(20):
        for sku in ("SHOE-1", "SHOE-2", "SHOE-3", "PANTS-1", "PANTS-2", "SKIRT-1"):
            store.set_merch("sku", sku, "boost", float(rng.uniform(-2, 2)))
        boosts = {t: w for k, t, act, w in store.merch() if act == "boost"}
        for s in ctl(anchor):
            if s.product.stock <= 0:
                seen_out += 1
                rivals = [p for p in store.products() if slot_of(p.category) == s.slot and p.stock > 0]
                best_in = max(base[p.sku] + boosts.get(p.sku, 0) for p in rivals)
                assert best_in < s.score - 0.2
    assert seen_out > 0       # the property was put to the test


def test_curated_look_wins_and_says_so(store, compat):
    store.upsert_look("L1", "Weekend denim", ["TOP-2", "PANTS-1", "HAT-1"])
    ctl = CompleteTheLook(store, compat)
    got = {s.slot: s for s in ctl(ctl.anchor_for_sku("TOP-2"))}
    assert got["bottom"].product.sku == "PANTS-1" and str(got["bottom"].why) == "from the look 'Weekend denim'"
    store.set_merch("look", "L1", "ban")
    got = {s.slot: s for s in ctl(ctl.anchor_for_sku("TOP-2"))}
    assert "Weekend denim" not in str(got["bottom"].why)


def test_a_pinned_look_comes_first_and_clearing_a_boost_keeps_a_pin(store, compat):
    """`merch pin look:ID` was accepted and ignored; `merch clear` of a boost dropped the pin too."""
    store.upsert_look("L2", "Office", ["TOP-2", "SHOE-3"])
    ctl = CompleteTheLook(store, compat)
    anchor = ctl.anchor_for_sku("TOP-2")
    store.set_merch("sku", "SHOE-1", "boost", 10.0)          # outweighs the look's bonus
    assert next(s for s in ctl(anchor) if s.slot == "shoe").product.sku == "SHOE-1"
    store.set_merch("look", "L2", "pin")
    shoe = next(s for s in ctl(anchor) if s.slot == "shoe")
    assert shoe.product.sku == "SHOE-3" and str(shoe.why) == "from the look 'Office'"
    store.clear_merch("look", "L2")
    store.set_merch("sku", "SHOE-2", "pin")
    store.set_merch("sku", "SHOE-2", "boost", 1.0)
    store.clear_merch("sku", "SHOE-2", "boost")
    assert [(a, w) for k, t, a, w in store.merch() if t == "SHOE-2"] == [("pin", 0.0)]
    assert next(s for s in ctl(anchor) if s.slot == "shoe").product.sku == "SHOE-2"


def signage(*args):
    return subprocess.run([sys.executable, "-m", "signage.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_compat_score_cli(tmp_path):
    f = tmp_path / "o.json"
    f.write_text(json.dumps({"outfits": [
        {"id": "good", "items": [{"category": "upper", "name": "black leather biker jacket"},
                                 {"category": "bottom", "name": "black skinny jeans"},
                                 {"category": "shoe", "name": "black leather ankle boots", "colors": ["black"]}]},
        {"id": 2, "items": [{"category": "upper", "name": "black leather biker jacket"}]}]}))
    res = signage("compat", "score", str(f), "--json")
    assert res.returncode == 0, res.stderr
    scores = json.loads(res.stdout)["scores"]
    assert [s["id"] for s in scores] == ["good", 2] and isinstance(scores[0]["score"], float)


@pytest.mark.parametrize("content, reason", [
    ("not json", "not valid JSON"),
    ('{"outfit": []}', "expected"),
    ('{"outfits": [{"id": 1, "items": [{"category": "hat"}]}]}', "'category' must be one of"),
    ('{"outfits": [{"items": []}]}', "'id' and 'items'"),
    ('{"outfits": [{"id": 1, "items": [{"category": "shoe", "colors": "red"}]}]}', "'colors'"),
])
def test_compat_score_bad_input(tmp_path, content, reason):
    f = tmp_path / "o.json"
    f.write_text(content)
    res = signage("compat", "score", str(f))
    assert res.returncode == 2 and reason in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert signage("compat", "score", str(tmp_path / "none.json")).returncode == 2


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("looks")
    rows = cc0_rows("Shoes", 5) + cc0_rows("Pants", 5) + cc0_rows("T-Shirt", 5) + cc0_rows("Hat", 3)
    lines = ["sku,name,category,price,currency,stock,aisle,image"]
    lines += [f"S{i},{r['label']} {i},{r['label']},9.5,EUR,2,D1,{cc0_path(r)}" for i, r in enumerate(rows)]
    (folder / "catalog.csv").write_text("\n".join(lines) + "\n")
    assert signage("catalog", "import", "--images-root", str(ROOT), str(folder), "--catalog", str(folder / "store"),
                   "--quiet").returncode == 0
    return folder / "store"


def test_look_cli_from_sku_and_image(demo_store):
    res = signage("look", "--sku", "S0", "--catalog", str(demo_store), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["anchor"]["slot"] == "shoe"
    assert {s["slot"] for s in out["suggestions"]} == {"upper", "bottom", "accessory"}
    for s in out["suggestions"]:
        assert {"slot", "sku", "name", "score", "why"} <= set(s) and s["why"]
    res = signage("look", str(MESSI), "--catalog", str(demo_store), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["suggestions"] and out["anchor"]["slot"] not in {s["slot"] for s in out["suggestions"]}


def test_look_cli_bad_input(demo_store, tmp_path):
    assert signage("look", "--catalog", str(demo_store)).returncode == 2
    res = signage("look", "--sku", "NOPE", "--catalog", str(demo_store))
    assert res.returncode == 2 and "NOPE" in res.stderr
    (tmp_path / "x.jpg").write_text("text")
    assert signage("look", str(tmp_path / "x.jpg"), "--catalog", str(demo_store)).returncode == 2


def test_shop_the_look_keeps_people_apart(demo_store, tmp_path):
    frame = np.hstack([cv2.imread(str(MESSI)), cv2.flip(cv2.imread(str(MESSI)), 1)])
    cv2.imwrite(str(tmp_path / "two.png"), frame)
    res = signage("shop", str(tmp_path / "two.png"), "--catalog", str(demo_store), "--json", "--k", "2")
    assert res.returncode == 0, res.stderr
    people = json.loads(res.stdout)["people"]
    assert len(people) == 2
    w = frame.shape[1] / 2
    for p in people:
        kinds = [i["kind"] for i in p["items"]]
        assert {"upper", "lower"} <= set(kinds) and len(kinds) == len(set(kinds))
        side = (p["box"][0] + p["box"][2]) / 2 < w
        assert all(((i["box"][0] + i["box"][2]) / 2 < w) == side for i in p["items"])
        assert all(len(i["results"]) == 2 for i in p["items"])
    assert signage("shop", str(tmp_path / "none.png"), "--catalog", str(demo_store)).returncode == 2


def test_tag_cli(demo_store, tmp_path):
    shoe = cc0_path(cc0_rows("Shoes", 8)[7])
    (tmp_path / "bad.jpg").write_bytes(b"")
    res = signage("tag", str(shoe), str(tmp_path / "bad.jpg"), "--catalog", str(demo_store), "--json")
    assert res.returncode == 2                                        # one image was bad...
    out = json.loads(res.stdout)
    assert out["images"][0]["category"] == "Shoes"                     # ...the good one is tagged
    assert out["images"][0]["description"].lower().endswith("shoes") and out["images"][0]["colors"]
    assert out["skipped"][0]["image"].endswith("bad.jpg") and "empty" in out["skipped"][0]["reason"]


def test_import_tags_products_without_tags(demo_store):
    cat = Catalog(demo_store)
    p = cat.get("S0")
    assert p.description and p.colors and p.description.lower().endswith("shoes")


def test_what_a_shopper_wears_matches_only_products_of_its_kind(demo_store, cfg, messi):
    """messi5 against a store of shoes, pants, T-shirts and hats: the shirt never comes back as a
    shoe or a hat, the shoes only as shoes."""
    import copy
    from edge.runtime import Runtime
    c = copy.deepcopy(cfg)
    c.catalog_dir = demo_store
    rt = Runtime(c)
    found = rt.vision.find_items(messi)
    for item in found.items:
        m = rt.similar.match(rt.vision.embed(messi, item), 8)
        cats = {r.category for r in m.results}
        if item.kind == "upper":
            assert cats and cats <= {"T-Shirt"}, cats
        elif item.kind == "lower":
            assert cats and cats <= {"Pants"}, cats
        elif item.kind == "footwear":
            assert cats == {"Shoes"}, cats


def test_why_is_the_models_strongest_pair_of_words_worn_together(compat, pmi):
    """The explanation's words: pairs worn together more often than chance in the outfits (PMI > 0),
    ranked by the model the looks rank by (pair models over the two words + 0.25 x PMI)."""
    from edge.styling.pairs import PMI_WEIGHT, pair_type
    top, trousers = CompatItem("upper", "navy denim jacket"), CompatItem("bottom", "white cotton wide trousers")
    got = compat.reasons(top, trousers, most=20)
    assert got and all(pmi.pmi(x, y) > 0 for x, y, _ in got)
    assert [r[2] for r in got] == sorted((r[2] for r in got), reverse=True)
    x, y, score = got[0]
    wx, wy = x.split(":", 1)[1], y.split(":", 1)[1]
    v = compat.text([wx, wy])
    shared = np.array([compat.pairs.lexicon.shared(frozenset(wx.split()), frozenset(wy.split()))], np.float32)
    model = float(compat.pairs.pair_scores(v[:1], v[1:], np.array([pair_type("upper", "bottom")]), shared)[0])
    assert abs(score - (model + PMI_WEIGHT * next(p for a, b, p in pmi.reasons(top, trousers, 50) if (a, b) == (x, y)))) < 1e-4
