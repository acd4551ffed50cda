"""The back office's batch: tags in the catalogue's own words, calibrated, resumable, a bad photo a
row with its reason, spreadsheet-safe, and a review sheet a browser renders whole."""
import csv
import json
import shutil
import subprocess

import numpy as np
import pytest

from conftest import ROOT

DEMO = ROOT / "demo" / "catalog"
# the catalogue's own words for the demo's categories: whatever a retailer calls them
CHINESE = {"T-Shirt": "T恤", "Pants": "长裤", "Shoes": "鞋", "Dress": "连衣裙", "Hat": "帽子"}


def demo_rows():
    return list(csv.DictReader(open(DEMO / "catalog.csv", encoding="utf-8")))


@pytest.fixture(scope="module")
def chinese_catalogue(tmp_path_factory, cfg, fast_vision):
    """A retailer catalogue tagged in Chinese: 20 demo products of each of five categories, with
    a season word of its own; the demo's other photos of those categories are the new arrivals."""
    from edge.catalog.importer import import_catalog
    from edge.catalog.store import Catalog
    tmp = tmp_path_factory.mktemp("backoffice")
    by = {}
    for r in demo_rows():
        if r["category"] in CHINESE:
            by.setdefault(r["category"], []).append(r)
    known, new = [], []
    for cat, rs in sorted(by.items()):
        known += rs[:20]
        new += rs[20:22]
    with open(tmp / "catalog.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["sku", "name", "category", "season", "price", "currency", "stock", "image"])
        for r in known:
            w.writerow([r["sku"], r["name"], CHINESE[r["category"]], "夏季" if r["category"] != "Hat" else "冬季",
                        "99", "CNY", "1", str(DEMO / r["image"])])
    cat = Catalog(tmp / "catalog", cfg.index, create=True)
    assert import_catalog(tmp / "catalog.csv", cat, fast_vision, progress=False, images_root=ROOT).imported == len(known)
    return cat, new, tmp


@pytest.fixture(scope="module")
def tagger(chinese_catalogue, fast_vision, cfg):
    from edge.styling.backoffice import CatalogueTagger
    from edge.styling.text import text_embedder
    from edge.vision.models import ModelStore
    return CatalogueTagger(chinese_catalogue[0], fast_vision, text_embedder(ModelStore.of(cfg)))


def new_csv(path, rows, extra=()):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["sku", "image", "name"])
        for r in rows:
            w.writerow([r["sku"], str(DEMO / r["image"]), ""])
        for row in extra:
            w.writerow(row)
    return path


def test_tags_come_in_the_catalogues_own_words_with_calibrated_confidence(chinese_catalogue, tagger, tmp_path):
    from edge.styling.backoffice import REVIEW_BELOW, read_new, read_rows, tag_batch
    from edge.vision.colors import PALETTE
    _, new, _ = chinese_catalogue
    out = tmp_path / "tags.csv"
    counts = tag_batch(tagger, read_new(new_csv(tmp_path / "new.csv", new)), out)
    rows = read_rows(out)
    assert counts["tagged"] == len(new) == len(rows) and counts["bad"] == 0
    assert {r["category"] for r in rows} <= set(CHINESE.values())
    right = np.mean([r["category"] == CHINESE[next(d["category"] for d in new if d["sku"] == r["sku"])] for r in rows])
    # held-out demo photos of the five categories: 10 of 10 right when written (AVX2 and AMX);
    # the floor leaves 3 of 10 for another CPU's rounding, under it is a real regression
    assert right >= 0.7, right
    assert {r["season"] for r in rows} <= {"夏季", "冬季"}
    for r in rows:
        conf = float(r["category_confidence"])
        assert 0 <= conf <= 1 and (("category" in r["review"].split()) == (conf < REVIEW_BELOW))
    assert "gender" not in tagger.columns        # the catalogue never fills it: not guessed
    # its colours are palette names (named at import): the kiosk's name is the word itself, not repeated
    assert all(r["colors"] in PALETTE for r in rows) and "palette_color" not in rows[0]


def test_a_bad_photo_is_a_row_and_a_killed_run_continues_without_tagging_twice(chinese_catalogue, tagger, tmp_path):
    from edge.styling.backoffice import read_new, read_rows, run_batch, tag_batch
    _, new, _ = chinese_catalogue
    (tmp_path / "broken.jpg").write_bytes(b"not a photo")
    src = new_csv(tmp_path / "new.csv", new[:6], extra=[("BAD", str(tmp_path / "broken.jpg"), ""),
                                                         ("GONE", str(tmp_path / "missing.jpg"), "")])
    out = tmp_path / "tags.csv"
    seen = []

    def killed_after_three(items):
        for i, it in enumerate(items):
            if i == 3:
                raise KeyboardInterrupt          # ^C or kill mid-batch
            seen.append(it.sku)
            yield it
    with pytest.raises(KeyboardInterrupt):
        tag_batch(tagger, read_new(src), out, killed_after_three)
    assert [r["sku"] for r in read_rows(out)] == seen
    counts = tag_batch(tagger, read_new(src), out, lambda it: (seen.append(x.sku) or x for x in it))
    rows = read_rows(out)
    assert counts["already_tagged"] == 3 and len(seen) == 8 and len(set(seen)) == 8      # none twice
    assert sorted(r["sku"] for r in rows) == sorted([r["sku"] for r in new[:6]] + ["BAD", "GONE"])
    bad = {r["sku"]: r["error"] for r in rows if r["error"]}
    assert set(bad) == {"BAD", "GONE"} and "not an image" in bad["BAD"] and "missing.jpg" in bad["GONE"]
    assert counts["bad"] == 2
    assert counts["photo_alone"] == 3             # the tagged ones of this run; none has a name
    _, said = run_batch(lambda progress: tagger, src, tmp_path / "again.csv", progress=False)
    assert "6 tagged from the photo alone" in said and "`name` column" in said


def test_a_second_batch_learns_the_catalogue_without_reading_its_photos_again(chinese_catalogue, tagger, fast_vision,
                                                                              cfg, monkeypatch):
    import edge.styling.backoffice as bo
    from edge.styling.text import text_embedder
    from edge.vision.imageio import read_image
    from edge.vision.models import ModelStore
    cat, new, _ = chinese_catalogue
    text = text_embedder(ModelStore.of(cfg))
    assert (cat.dir / bo.FEATURE_CACHE).is_file()           # the first tagger kept what it read
    runs = fast_vision.embedder.runs
    again = bo.CatalogueTagger(cat, fast_vision, text)
    assert fast_vision.embedder.runs == runs                # not one catalogue photo embedded
    photos = [read_image(str(DEMO / r["image"])) for r in new[:4]]
    assert [again(p).tags for p in photos] == [tagger(p).tags for p in photos]     # the same columns learned
    # features read another way (or by other models) are not taken from the cache: every photo is read
    monkeypatch.setattr(bo, "FEATURES_VERSION", bo.FEATURES_VERSION + 1)
    runs = fast_vision.embedder.runs
    bo.CatalogueTagger(cat, fast_vision, text)
    assert fast_vision.embedder.runs - runs >= 2 * len(cat.products())    # each photo and its mirror image


def test_spreadsheet_cells_are_neutralised_and_any_language_round_trips(chinese_catalogue, tagger, tmp_path):
    from edge.files import safe_cell
    from edge.styling.backoffice import read_new, read_rows, run_batch, tag_batch
    _, new, _ = chinese_catalogue
    names = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "女士高腰直筒牛仔裤"]
    src = tmp_path / "new.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["sku", "image", "name"])
        for r, name in zip(new, names):
            w.writerow([r["sku"], str(DEMO / r["image"]), name])
    out = tmp_path / "tags.csv"
    tag_batch(tagger, read_new(src), out)
    got = [r["name"] for r in read_rows(out)]
    assert got == ["'=1+2", "'+SUM(A1)", "'-2+3", "'@cmd", "女士高腰直筒牛仔裤"]
    # the JSON beside it is for a shop system: the names as given, confidences as numbers, lists as lists
    _, said = run_batch(lambda progress: tagger, src, out, tmp_path / "tags.json", progress=False)
    assert "photo alone" not in said               # every product has a name
    rows = json.loads((tmp_path / "tags.json").read_text(encoding="utf-8"))
    assert [r["name"] for r in rows] == names
    assert all(isinstance(r["review"], list) and set(r["review"]) <= set(r["confidence"]) for r in rows)
    assert all(0 <= c <= 1 and isinstance(c, float) for r in rows for c in r["confidence"].values())
    assert {c for r in rows for c in r["confidence"]} == set(tagger.columns)
    assert safe_cell("\tx") == "'\tx" and safe_cell(3.5) == 3.5 and safe_cell("T-shirt") == "T-shirt"


def test_the_confidence_is_the_cross_validated_share_right():
    """Two clear classes and a muddled pair: high confidence where the folds were right, lower
    where they were not, never decreasing with the score."""
    from edge.styling.learned import ColumnModel, _isotonic
    rng = np.random.default_rng(0)
    centres = {"a": np.eye(8)[0] * 3, "b": np.eye(8)[1] * 3, "c": np.eye(8)[2] * 0.2, "d": np.eye(8)[3] * 0.2}
    X = np.vstack([c + rng.normal(0, 0.5, (60, 8)) for c in centres.values()]).astype(np.float32)
    y = [k for k in centres for _ in range(60)]
    m = ColumnModel.fit(X, y)
    clear = m.predict(X[:5])
    muddled = m.predict(X[-5:])
    assert all(g.value == "a" and g.confidence > 0.9 for g in clear)
    assert np.mean([g.confidence for g in muddled]) < 0.8
    assert list(_isotonic(np.array([1, 0, 1, 1, 0, 1.0]))) == sorted(_isotonic(np.array([1, 0, 1, 1, 0, 1.0])))
    assert ColumnModel.fit(X[:3], ["a", "b", "c"]) is None          # nothing seen twice: nothing to learn


def test_a_name_says_the_columns_values_in_its_own_words():
    """The name's words for a value count whole (a brand "Heelys" is not heels), plural or not, and
    a value in a script without spaces counts anywhere in the name."""
    from edge.styling.learned import SAYS_WEIGHT, says
    values = ["Heels", "Flats", "Sports Shoes", "高跟鞋"]
    assert list(says("iPanema Women Ritmos Black Heel", values) / SAYS_WEIGHT) == [1, 0, 0, 0]
    assert list(says("Puma Men White Shoes", values) / SAYS_WEIGHT) == [0, 0, 0.5, 0]
    assert list(says("Heelys Kids Flats", values) / SAYS_WEIGHT) == [0, 1, 0, 0]
    assert list(says("女士黑色高跟鞋", values) / SAYS_WEIGHT) == [0, 0, 0, 1]
    assert not says("", values).any()


def test_the_review_sheet_renders_every_row_in_a_browser(chinese_catalogue, tagger, tmp_path):
    from edge.styling.backoffice import read_new, read_rows, tag_batch
    from edge.styling.review_sheet import write_review_sheet
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("needs Debian's chromium (deploy/install.sh installs it)")
    _, new, _ = chinese_catalogue
    (tmp_path / "broken.jpg").write_bytes(b"x")
    out = tmp_path / "tags.csv"
    tag_batch(tagger, read_new(new_csv(tmp_path / "new.csv", new[:7], extra=[("BAD", str(tmp_path / "broken.jpg"), "<b>")])), out)
    rows = read_rows(out)
    page = tmp_path / "review.html"
    write_review_sheet(rows, tagger.columns, page)
    text = page.read_text(encoding="utf-8")
    assert "<br>&lt;b&gt;</td>" in text            # a name is text on the page, never markup
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'chromium'}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    body = dom.split("<tbody>")[1].split("</tbody>")[0]
    assert body.count("<tr") == len(rows) == 8
    assert 'id="shown">8<' in dom                       # the page's script ran and counted them all
    assert body.index("BAD") < min(body.index(r["sku"]) for r in rows if r["sku"] != "BAD")   # least sure first
    assert body.count("data:image/jpeg;base64,") == 7   # thumbnails inside the page: one file to send


def test_a_catalogue_in_its_own_colour_words_teaches_the_palette_name_of_each(demo_catalog, cfg, fast_vision, tmp_path):
    """A retailer that tags colours in Chinese (colour_words: own): each word's palette name (what
    the kiosk shows and translates) is learned from its products' own pixels, nothing built in;
    new arrivals get the word and its palette name side by side."""
    from edge.catalog.importer import import_catalog
    from edge.catalog.store import Catalog
    from edge.styling.backoffice import CatalogueTagger, read_new, read_rows, tag_batch
    from edge.styling.text import text_embedder
    from edge.vision.colors import PALETTE
    from edge.vision.models import ModelStore
    words = {"black": "黑色", "red": "红色", "blue": "蓝色"}
    by = {}
    for p in Catalog(demo_catalog).products():
        if p.colors and p.colors[0] in words:
            by.setdefault(p.colors[0], []).append(p)
    known = [p for ps in by.values() for p in ps[:12]]
    new = [p for ps in by.values() for p in ps[12:15]]
    with open(tmp_path / "catalog.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["sku", "name", "category", "colors", "image"])
        for p in known:
            w.writerow([p.sku, p.name, p.category, words[p.colors[0]], str(demo_catalog / p.image)])
    cat = Catalog(tmp_path / "c", cfg.index, create=True)
    rep = import_catalog(tmp_path / "catalog.csv", cat, fast_vision, progress=False, images_root=demo_catalog,
                         own_colours=True)
    assert rep.imported == len(known) == 36, rep.errors[:3]
    tagger = CatalogueTagger(cat, fast_vision, text_embedder(ModelStore.of(cfg)))
    assert tagger.palette_of == {w: name for name, w in words.items()}, tagger.palette_of
    with open(tmp_path / "new.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["sku", "image", "name"])
        for p in new:
            w.writerow([p.sku, str(demo_catalog / p.image), ""])
    tag_batch(tagger, read_new(tmp_path / "new.csv"), tmp_path / "tags.csv")
    rows = read_rows(tmp_path / "tags.csv")
    assert len(rows) == len(new) and all(r["colors"] in words.values() for r in rows)
    assert all(r["palette_color"] == tagger.palette_of[r["colors"]] in PALETTE for r in rows)
    truth = {p.sku: p.colors[0] for p in new}
    right = np.mean([r["palette_color"] == truth[r["sku"]] for r in rows])
    # 9 of 9 held-out demo photos right when written; the floor leaves 3 for another CPU's rounding
    assert right >= 6 / 9, right


def test_the_batchs_csv_imports_into_the_catalogue_as_it_is(cfg, fast_vision, tmp_path):
    """Tag, review, import: the batch writes the catalogue CSV's own columns (`colors`, `tags` split
    by ';'), so `signage catalog import TAGS.csv` takes every tag as the merchandiser left it."""
    from edge.catalog.importer import import_catalog
    from edge.catalog.store import Catalog
    from edge.styling.backoffice import CatalogueTagger, read_new, read_rows, tag_batch
    by = {}
    for r in demo_rows():
        if r["category"] in CHINESE:
            by.setdefault(r["category"], []).append(r)
    with open(tmp_path / "catalog.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["sku", "name", "category", "tags", "image"])
        for cat, rs in sorted(by.items()):
            for r in rs[:8]:
                w.writerow([r["sku"], r["name"], CHINESE[cat], "经典" if cat == "Hat" else "当季;新品", str(DEMO / r["image"])])
    known = Catalog(tmp_path / "known", cfg.index, create=True)
    assert import_catalog(tmp_path / "catalog.csv", known, fast_vision, progress=False, images_root=ROOT).imported == 40
    tagger = CatalogueTagger(known, fast_vision, None)
    assert sorted(tagger.tags) == ["当季", "新品", "经典"] and "colors" in tagger.columns
    new = [rs[8] for _, rs in sorted(by.items())]
    with open(tmp_path / "new.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["sku", "image", "name"]] + [[r["sku"], str(DEMO / r["image"]), r["name"]] for r in new])
    tag_batch(tagger, read_new(tmp_path / "new.csv"), tmp_path / "tags.csv")
    rows = read_rows(tmp_path / "tags.csv")
    assert any(";" in r["tags"] for r in rows)            # two tags in one cell, as the catalogue writes them
    store = Catalog(tmp_path / "store", cfg.index, create=True)
    rep = import_catalog(tmp_path / "tags.csv", store, fast_vision, progress=False, images_root=ROOT)
    assert rep.imported == len(new) == 5, rep.errors[:3]
    for r in rows:
        p = store.get(r["sku"])
        assert (p.category, p.colors[0], sorted(p.tags)) == (r["category"], r["colors"], sorted(r["tags"].split(";")))


def test_description_words_are_what_similar_products_names_all_say_and_right_on_the_catalogue():
    """Products that look alike (near vectors) and share a word in their names: that word is said
    of a new photo like them; the brand that starts every name, a word the tags already say, and a
    word scattered at random over the looks are never said."""
    from edge.styling.namewords import NameWords
    rng = np.random.default_rng(1)
    looks = {"striped": np.eye(16)[0], "printed": np.eye(16)[1], "solid": np.eye(16)[2], "checked": np.eye(16)[3]}
    names, vectors = [], []
    for word, centre in looks.items():
        for i in range(40):
            names.append(f"Acme{i % 4} Women {word} {'wavy' if rng.random() < 0.2 else ''} blue top")
            vectors.append(centre + rng.normal(0, 0.15, 16))
    words = NameWords(names, np.array(vectors, np.float32), tag_values={"top", "blue", "Women"})
    assert words.words == set(looks), words.words
    assert words(looks["printed"] + rng.normal(0, 0.15, 16)) == ["printed"]
    assert words(looks["solid"], "Acme1 solid wavy top") == ["solid", "wavy"]   # its own name's words first
    assert words(np.ones(16)) == []                                            # like none of them: nothing
    assert NameWords(names[:8], np.array(vectors[:8]), set()).words == set()   # too few to learn from


def test_the_bench_curves_catalogues_are_nested_parts_of_the_tune_half(tmp_path):
    from bench.backoffice import catalogue_csv, half
    rows = [{"id": str(i), "half": half(str(i)), "productDisplayName": f"p{i}", "articleType": "Tshirts",
             "baseColour": "Black", "gender": "Men", "season": "Summer", "usage": "Casual", "photo": f"{i}.jpg"}
            for i in range(2000)]
    tune = {r["id"] for r in rows if r["half"] == "tune"}
    parts = []
    for share in (0.25, 0.5, 1.0):
        n = catalogue_csv(rows, tmp_path / f"{share}.csv", share)
        skus = {r["sku"] for r in csv.DictReader(open(tmp_path / f"{share}.csv", encoding="utf-8"))}
        assert len(skus) == n and skus <= tune
        assert abs(n / len(tune) - share) < 0.05, (share, n, len(tune))
        parts.append(skus)
    assert parts[0] < parts[1] < parts[2] == tune


def test_a_photos_vector_joins_the_tagger_models_look_which_a_models_folder_must_have(cfg, fast_vision, tmp_path):
    """The back office reads a photo with the kiosk's embedder and the tagger model (its features
    weighted TAGGER_WEIGHT, the same for the photo and its mirror image); a models folder without
    the tagger stops the batch before any photo is read, naming the command that builds it."""
    import copy
    from edge.errors import ModelMissing
    from edge.styling.backoffice import TAGGER_WEIGHT, WholePhoto
    from edge.vision.embed import DIM
    from edge.vision.imageio import read_image
    from edge.vision.stages import Vision
    rows = demo_rows()
    shoe, dress = (read_image(str(DEMO / next(r for r in rows if r["category"] == c)["image"])) for c in ("Shoes", "Dress"))
    photo = WholePhoto(fast_vision)
    v, mirrored, other = photo(shoe), photo(np.ascontiguousarray(shoe[:, ::-1])), photo(dress)
    assert v.shape == (DIM + 1280,)
    assert np.linalg.norm(v[:DIM]) == pytest.approx(1, abs=1e-4)
    assert np.linalg.norm(v[DIM:]) == pytest.approx(TAGGER_WEIGHT, abs=1e-4)
    assert np.allclose(v, mirrored, atol=1e-4)
    assert float(v[DIM:] @ other[DIM:]) < 0.9 * TAGGER_WEIGHT ** 2      # a shoe does not look like a dress to it

    models = tmp_path / "models"
    (models / "ir").mkdir(parents=True)
    manifest = json.loads((cfg.models_dir / "manifest.json").read_text())
    del manifest["models"]["tagger"]
    (models / "manifest.json").write_text(json.dumps(manifest))
    for f in (cfg.models_dir / "ir").iterdir():
        (models / "ir" / f.name).symlink_to(f)
    c = copy.deepcopy(cfg)
    c.models_dir = models
    with pytest.raises(ModelMissing, match="tagger.*signage models build"):
        WholePhoto(Vision(c))
