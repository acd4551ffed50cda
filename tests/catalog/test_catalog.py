import csv
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest

from conftest import ROOT, cc0_path, cc0_rows
from edge.catalog.store import INDEX_NAME, Catalog
from edge.catalog.products import Product
from edge.errors import BadInput, CatalogMissing
from edge.catalog.importer import import_catalog
from edge.catalog.index import IndexCorrupt, IndexParams, VectorIndex

HEADER = ["sku", "name", "category", "colors", "price", "currency", "stock", "aisle", "image"]


def write_csv(folder, rows, header=HEADER):
    path = folder / "catalog.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def small_csv(tmp_path):
    rows = [[f"SKU-{i}", f"{r['label']} {i}", r["label"], "", "19.99", "EUR", "3", "A1", str(cc0_path(r))]
            for i, r in enumerate(cc0_rows("Shoes", 4) + cc0_rows("Pants", 4) + cc0_rows("T-Shirt", 4))]
    (tmp_path / "bad.jpg").write_bytes(b"not really a jpeg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    good_img = str(cc0_path(cc0_rows("Dress", 1)[0]))
    rows += [
        ["", "no sku", "Dress", "", "1", "EUR", "1", "", good_img],                 # line 14
        ["BAD-PRICE", "x", "Dress", "", "ten", "EUR", "1", "", good_img],          # line 15
        ["BAD-IMG", "x", "Dress", "", "5", "EUR", "1", "", "bad.jpg"],             # line 16
        ["NO-IMG", "x", "Dress", "", "5", "EUR", "1", "", "missing.jpg"],          # line 17
        ["SKU-0", "dup", "Shoes", "", "5", "EUR", "1", "", good_img],              # line 18
        ["NEG-STOCK", "x", "Dress", "", "5", "EUR", "-2", "", good_img],           # line 19
        ["BAD-CUR", "x", "Dress", "", "5", "EURO", "1", "", good_img],             # line 20
        ["EMPTY-IMG", "x", "Dress", "", "5", "EUR", "1", "", "empty.jpg"],         # line 21
        ["NOCAT-1", "mystery shoe", "", "", "5", "EUR", "1", "", str(cc0_path(cc0_rows("Shoes", 6)[5]))],
    ]
    return write_csv(tmp_path, rows)


def test_import_reports_bad_rows_and_imports_the_rest(vision, small_csv, tmp_path):
    cat = Catalog(tmp_path / "store", create=True)
    rep = import_catalog(small_csv, cat, vision, progress=False, images_root=ROOT)
    assert rep.imported == 13
    by_line = {e.line: e.reason for e in rep.errors}
    assert set(by_line) == {14, 15, 16, 17, 18, 19, 20, 21}
    assert "sku is empty" in by_line[14]
    assert "price" in by_line[15]
    assert "not an image" in by_line[16]
    assert "not found" in by_line[17]
    assert "duplicate sku, first on line 2" in by_line[18]
    assert "negative" in by_line[19]
    assert "currency" in by_line[20]
    assert "empty" in by_line[21]
    p = cat.get("SKU-0")
    assert p.price == 19.99 and p.stock == 3 and p.colors      # colours named from the pixels
    assert (cat.dir / p.image).is_file()                          # image copied into the store
    # a row with no category takes its neighbours' (it is a shoe among shoes, pants, T-shirts)
    nocat = cat.get("NOCAT-1")
    assert nocat.category == "Shoes" and nocat.category_source == "neighbours"
    # idempotent on sku: the same file again changes nothing, not even the version
    version = cat.version
    rep2 = import_catalog(small_csv, cat, vision, progress=False, images_root=ROOT)
    assert rep2.imported == 0 and rep2.unchanged == 13 and cat.version == version
    assert len(cat.products()) == 13


def test_changed_price_updates_without_reembedding(vision, tmp_path):
    r = cc0_rows("Shoes", 1)[0]
    path = write_csv(tmp_path, [["S1", "shoe", "Shoes", "", "10", "EUR", "1", "", str(cc0_path(r))]])
    cat = Catalog(tmp_path / "store", create=True)
    import_catalog(path, cat, vision, progress=False, images_root=ROOT)
    gen = cat.vector_generation
    write_csv(tmp_path, [["S1", "shoe", "Shoes", "", "12.5", "EUR", "0", "", str(cc0_path(r))]])
    rep = import_catalog(path, cat, vision, progress=False, images_root=ROOT)
    assert rep.imported == 1 and cat.get("S1").price == 12.5 and cat.get("S1").stock == 0
    assert cat.vector_generation == gen   # no new vector, so the index stays valid


def test_whole_file_errors(vision, tmp_path):
    cat = Catalog(tmp_path / "store", create=True)
    with pytest.raises(BadInput, match="lacks column"):
        import_catalog(write_csv(tmp_path, [["x"]], header=["sku", "title"]), cat, vision, progress=False, images_root=ROOT)
    with pytest.raises(BadInput, match="no such file"):
        import_catalog(tmp_path / "nope.csv", cat, vision, progress=False, images_root=ROOT)
    (tmp_path / "sub").mkdir()
    with pytest.raises(BadInput, match="one .csv"):
        import_catalog(tmp_path / "sub", cat, vision, progress=False, images_root=ROOT)
    with pytest.raises(CatalogMissing, match="signage catalog import"):
        Catalog(tmp_path / "elsewhere")


def _vectors(n, dim=16, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def fill(cat, n, dim=16, seed=0, model="m1"):
    vecs = _vectors(n, dim, seed)
    cat.upsert([(Product(f"P{i}", f"p{i}", "Shoes"), vecs[i], model) for i in range(n)])
    return vecs


def test_index_finds_itself_and_survives_reload(tmp_path):
    cat = Catalog(tmp_path, create=True)
    vecs = fill(cat, 50)
    assert cat.search(vecs[7], 1, "m1")[0][0].sku == "P7"
    assert (tmp_path / INDEX_NAME).is_file()
    cat2 = Catalog(tmp_path)
    assert cat2.search(vecs[9], 1, "m1")[0][0].sku == "P9" and not cat2.index_rebuilt
    cat2.delete(["P9"])
    assert all(p.sku != "P9" for p, _ in cat2.search(vecs[9], 5, "m1"))


def test_corrupt_or_stale_index_is_rebuilt_from_the_catalogue(tmp_path):
    cat = Catalog(tmp_path, create=True)
    vecs = fill(cat, 30)
    cat.search(vecs[0], 1, "m1")
    (tmp_path / INDEX_NAME).write_bytes(b"SGNIDX01garbage")
    with pytest.raises(IndexCorrupt):
        VectorIndex.load(tmp_path / INDEX_NAME)
    cat2 = Catalog(tmp_path)
    assert cat2.search(vecs[3], 1, "m1")[0][0].sku == "P3" and cat2.index_rebuilt


def test_approximate_index_past_the_configured_size(tmp_path):
    cat = Catalog(tmp_path, IndexParams(exact_up_to=100, ivf_lists=8, ivf_probe=8), create=True)
    vecs = fill(cat, 400)
    idx = cat.index("m1")
    assert idx.kind.startswith("ivf")
    assert cat.search(vecs[123], 1, "m1")[0][0].sku == "P123"   # probing all lists: exact
    again, _ = VectorIndex.load(tmp_path / INDEX_NAME, IndexParams(exact_up_to=100, ivf_lists=8, ivf_probe=8))
    assert again.kind.startswith("ivf") and again.count == 400


CRASH = textwrap.dedent("""
    import os, sys, numpy as np
    sys.path.insert(0, {root!r})
    from edge.catalog.store import Catalog
    from edge.catalog.products import Product
    cat = Catalog({folder!r})
    v = np.random.default_rng(1).normal(size=(5, 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    cat.upsert([(Product(f"N{{i}}", "new", "Hat"), v[i], "m1") for i in range(5)])
    real_replace = os.replace
    def die(src, dst):   # the new index is fully written and fsynced: die before it replaces the old one
        os._exit(9)
    os.replace = die
    cat.search(v[0], 1, "m1")     # brought up to date in memory from the log ...
    cat.save_index()              # ... and written: the crash lands inside the write
""")


def test_crash_during_index_write_leaves_a_loadable_index(tmp_path):
    cat = Catalog(tmp_path, create=True)
    vecs = fill(cat, 20)
    cat.search(vecs[0], 1, "m1")
    before = (tmp_path / INDEX_NAME).read_bytes()
    cat.close()
    proc = subprocess.run([sys.executable, "-c", CRASH.format(root=str(ROOT), folder=str(tmp_path))])
    assert proc.returncode == 9
    assert (tmp_path / INDEX_NAME).read_bytes() == before       # the old index is untouched
    old, header = VectorIndex.load(tmp_path / INDEX_NAME)         # and loads
    assert old.count == 20
    cat2 = Catalog(tmp_path)          # the catalogue committed 25: the stale index is brought up to date
    assert cat2.index("m1").count == 25 and not cat2.index_rebuilt     # from the log of vector changes
    assert cat2.search(vecs[4], 1, "m1")[0][0].sku == "P4"


def test_a_model_update_reembeds_the_stored_images_and_reports_a_lost_one(cfg, fast_vision, tmp_path):
    """Vectors of another model (here: another colour weight, so another vector version) are
    made again from the images the catalogue keeps; a product whose image is gone is said."""
    import copy
    from edge.catalog.importer import reembed
    from edge.vision.stages import Vision
    rows = list(csv.DictReader(open(ROOT / "demo" / "catalog" / "catalog.csv")))[:6]
    path = write_csv(tmp_path, [[r["sku"], r["name"], r["category"], "", "10", "EUR", "1", "",
                                 str(ROOT / "demo" / "catalog" / r["image"])] for r in rows])
    cat = Catalog(tmp_path / "store", create=True)
    import_catalog(path, cat, fast_vision, progress=False, images_root=ROOT)
    c = copy.deepcopy(cfg)
    c.embedding = type(cfg.embedding)(color_weight=0.2)
    c.cutout = type(cfg.cutout)(catalogue=False)
    updated = Vision(c)
    assert updated.model_version != fast_vision.model_version
    assert cat.search(np.ones(1408, np.float32) / 1408 ** 0.5, 3, updated.model_version) == []
    lost = cat.get(rows[0]["sku"])
    cat.image_path(lost).unlink()
    rep = reembed(cat, updated)
    assert rep.reembedded == 5 and [e.sku for e in rep.errors] == [rows[0]["sku"]]
    assert "not in the catalogue" in rep.errors[0].reason
    assert cat.model_versions()[updated.model_version] == 5
    bgr = cv2.imread(str(ROOT / "demo" / "catalog" / rows[1]["image"]))
    iv = updated.embed(bgr, updated.main_item(bgr))
    assert cat.search(iv.vector, 1, updated.model_version)[0][0].sku == rows[1]["sku"]
    assert reembed(cat, updated).reembedded == 0 and len(reembed(cat, updated).errors) == 1   # nothing new to do


def test_a_reader_never_serves_a_product_older_than_the_catalogue(tmp_path):
    """by_ids keeps products in memory; a change committed by another process (the sync service)
    must show at the reader's next lookup, not after a restart."""
    writer = Catalog(tmp_path, create=True)
    fill(writer, 5)
    reader = Catalog(tmp_path, reader=True)
    pid = writer.get("P1").id
    assert reader.by_ids([pid])[pid].price is None
    with writer.transaction() as w:
        w.set_price("P1", 12.5)
    assert reader.by_ids([pid])[pid].price == 12.5


def unit_rows(n, dim=32, seed=0):
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_a_delta_updates_the_index_in_place_for_the_writer_and_for_the_kiosk(tmp_path):
    """A delta of a few products into a big catalogue must not rebuild the index (at 100k products
    with IVF that is a k-means training): the process that holds it updates it from the vector
    changes the transaction logged; a restart loads the saved file; too long a gap rebuilds."""
    from edge.catalog.store import CHANGES_KEPT
    vecs = unit_rows(60)
    cat = Catalog(tmp_path / "c", create=True)
    cat.upsert([(Product(f"P{i}", "shirt"), vecs[i], "m") for i in range(50)])
    idx = cat.index("m")
    assert cat.index_rebuilt
    kiosk = Catalog(tmp_path / "c", reader=True)
    kidx = kiosk.index("m")
    with cat.transaction() as w:                       # 5 new, 3 gone, 2 with new vectors
        for i in range(50, 55):
            w.upsert_product(Product(f"P{i}", "shirt"), vecs[i], "m")
        for i in (0, 1, 2):
            w.delete_product(f"P{i}")
        for i, j in ((3, 55), (4, 56)):
            w.upsert_product(Product(f"P{i}", "shirt"), vecs[j], "m")
    want = sorted(cat.vectors("m")[0].tolist())
    for c, before in ((cat, idx), (kiosk, kidx)):
        now = c.index("m")
        assert now is before and not c.index_rebuilt            # the same index, brought up to date
        assert sorted(now.ids().tolist()) == want and now.count == 52
        hits = {s: c.search(vecs[j], 1, "m")[0][0].sku for s, j in (("P50", 50), ("P3", 55))}
        assert hits == {"P50": "P50", "P3": "P3"}               # new ones found, replaced ones by their new vector
        assert all(c.search(vecs[j], 1, "m")[0][0].sku != f"P{j}" for j in (0, 1, 2))
    restarted = Catalog(tmp_path / "c")
    assert sorted(restarted.index("m").ids().tolist()) == want and not restarted.index_rebuilt
    for n in range(CHANGES_KEPT + 1):                  # the kiosk was away for more than the log holds
        cat.upsert([(Product("P5", "shirt"), vecs[57 + n % 3], "m")])
    assert sorted(kiosk.index("m").ids().tolist()) == want and kiosk.index_rebuilt


def test_a_delta_into_an_ivf_catalogue_updates_it_in_place(tmp_path):
    """Past exact_up_to the index is an IVF: removing ids from one inside an IndexIDMap aborts the
    process in FAISS (seen at 100,000 products), so the IVF keeps the ids itself."""
    from edge.catalog.index import IndexParams
    params = IndexParams(exact_up_to=100, ivf_lists=8, ivf_probe=8)
    vecs = unit_rows(420, seed=3)
    cat = Catalog(tmp_path / "c", params, create=True)
    cat.upsert([(Product(f"P{i}", "shirt"), vecs[i], "m") for i in range(400)])
    idx = cat.index("m")
    assert idx.kind.startswith("ivf") and idx.updatable
    with cat.transaction() as w:
        for i in range(400, 410):
            w.upsert_product(Product(f"P{i}", "shirt"), vecs[i], "m")
        for i in range(10):
            w.delete_product(f"P{i}")
        w.upsert_product(Product("P10", "shirt"), vecs[415], "m")
    assert cat.index("m") is idx and not cat.index_rebuilt
    assert sorted(idx.ids().tolist()) == sorted(cat.vectors("m")[0].tolist())
    assert cat.search(vecs[405], 1, "m")[0][0].sku == "P405" and cat.search(vecs[415], 1, "m")[0][0].sku == "P10"
    cat.save_index()
    again = Catalog(tmp_path / "c", params)
    assert sorted(again.index("m").ids().tolist()) == sorted(cat.vectors("m")[0].tolist()) and not again.index_rebuilt


@pytest.mark.parametrize("params", [IndexParams(), IndexParams(exact_up_to=100, ivf_lists=8, ivf_probe=8),
                                    IndexParams(exact_up_to=100, compact_from=200, compact_dim=8, compact_probe=64,
                                                rerank=1000)],
                         ids=["flat", "ivf", "compact"])
def test_fifty_random_deltas_in_place_equal_a_full_rebuild(tmp_path, params):
    """After 50 deltas of random adds, deletes and new vectors applied in place (by the writer and
    by a kiosk reading the same catalogue), ids, count and the top 10 of any query equal those of
    an index built from scratch. (IVF probes every list here, and the compact index re-ranks every
    candidate, so their answers are exact too.)"""
    rng = np.random.default_rng(11)
    vecs = unit_rows(2000, seed=5)
    cat = Catalog(tmp_path / "c", params, create=True)
    cat.upsert([(Product(f"P{i}", "shirt"), vecs[i], "m") for i in range(320)])
    idx = cat.index("m")
    kiosk = Catalog(tmp_path / "c", params, reader=True)
    kidx = kiosk.index("m")
    live, fresh = set(range(320)), 320
    for _ in range(50):
        with cat.transaction() as w:
            for _ in range(rng.integers(0, 6)):
                w.upsert_product(Product(f"P{fresh}", "shirt"), vecs[fresh], "m")
                live.add(fresh)
                fresh += 1
            for i in rng.choice(sorted(live), rng.integers(0, 4), replace=False):
                w.delete_product(f"P{i}")
                live.discard(int(i))
            for i in rng.choice(sorted(live), rng.integers(0, 4), replace=False):
                w.upsert_product(Product(f"P{i}", "shirt"), vecs[rng.integers(1500, 2000)], "m")
        kiosk.index("m")                    # the kiosk catches up after some deltas, not all
    (tmp_path / "c" / INDEX_NAME).unlink(missing_ok=True)
    rebuilt = Catalog(tmp_path / "c", params)
    ref = rebuilt.index("m")
    assert rebuilt.index_rebuilt and ref.kind[:3] == idx.kind[:3]          # flat, ivf or pca (compact)
    queries = unit_rows(20, seed=9)
    for c, before in ((cat, idx), (kiosk, kidx)):
        now = c.index("m")
        assert now is before and not c.index_rebuilt
        assert sorted(now.ids().tolist()) == sorted(ref.ids().tolist()) and now.count == ref.count == len(live)
        for q in queries:
            got = [(p.sku, round(s, 5)) for p, s in c.search(q, 10, "m")]
            want = [(p.sku, round(s, 5)) for p, s in rebuilt.search(q, 10, "m")]
            assert got == want


def test_a_big_catalogue_gets_a_compact_index_that_still_finds_the_nearest(tmp_path, monkeypatch):
    """Past index.compact_from: PCA + IVF-SQ8 (a quarter of the dims, a byte each), its best
    candidates re-ranked with the stored vectors: the top 10 are nearly those of exact search,
    the index file is a fraction of a flat one's, and it loads back the same. It is built from
    SQLite in chunks (333 vectors here), as a million products must be."""
    import edge.catalog.store as store
    monkeypatch.setattr(store, "CHUNK", 333)
    rng = np.random.default_rng(4)
    # like real embeddings, most of the spread lies in few directions (bench/scale.py: the top 256
    # of 1,408 PCA axes hold 88 % of the variance): clusters, a 12-d spread, a little of the rest
    centres = unit_rows(40, dim=64, seed=6)
    axes = unit_rows(12, dim=64, seed=7)
    vecs = (centres[rng.integers(0, 40, 4000)] + 0.1 * rng.standard_normal((4000, 12)) @ axes
            + 0.02 * rng.standard_normal((4000, 64))).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    params = IndexParams(exact_up_to=500, compact_from=1000, compact_dim=16, compact_probe=8, rerank=100)
    cat = Catalog(tmp_path / "c", params, create=True)
    cat.upsert([(Product(f"P{i}", "shirt"), vecs[i], "m") for i in range(4000)])
    idx = cat.index("m")
    assert idx.kind.startswith("pca16-ivf") and idx.compact and idx.updatable
    assert sorted(idx.ids().tolist()) == sorted(cat.vectors("m")[0].tolist())
    queries = vecs[rng.integers(0, 4000, 50)] + 0.1 * rng.standard_normal((50, 64)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = np.argsort(-(queries @ vecs.T), axis=1)[:, :10]
    got = [[int(p.sku[1:]) for p, _ in cat.search(q, 10, "m")] for q in queries]
    recall = np.mean([len(set(g) & set(e.tolist())) / 10 for g, e in zip(got, exact)])
    no_rerank = [idx.search(q, 10)[0] for q in queries]          # PCA + SQ8 alone, for comparison
    ids = cat.vectors("m")[0]
    recall_alone = np.mean([len({int(i) for i in n} & {int(ids[j]) for j in e}) / 10 for n, e in zip(no_rerank, exact)])
    assert recall >= 0.9 and recall > recall_alone, (recall, recall_alone)
    cat.save_index()
    size = (tmp_path / "c" / INDEX_NAME).stat().st_size
    assert size < 0.4 * 4000 * 64 * 4, size                       # a flat index holds 4 bytes a dim
    again = Catalog(tmp_path / "c", params)
    assert [[int(p.sku[1:]) for p, _ in again.search(q, 10, "m")] for q in queries] == got and not again.index_rebuilt
