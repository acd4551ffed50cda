"""The category is learned from the store's own catalogue and follows it when it changes."""
import numpy as np

from edge.catalog.products import Product
from edge.catalog.store import Catalog
from edge.styling.category import CatalogueCategories, CategoryModel
from edge.vision.embed import CNN_DIM, DIM


def clusters(n_per, names, seed=0, noise=0.6):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((len(names), CNN_DIM))
    x = np.concatenate([c + noise * rng.standard_normal((n_per, CNN_DIM)) for c in centres])
    return x.astype(np.float32), [n for n in names for _ in range(n_per)], centres


def test_the_classifier_names_held_out_items_and_respects_what_the_kind_allows():
    x, y, centres = clusters(30, ["T-Shirt", "Pants", "Shoes"])
    model = CategoryModel.fit(x, y)
    test = np.concatenate([c + 0.6 * np.random.default_rng(2).standard_normal((10, CNN_DIM)) for c in centres])
    truth = [n for n in ["T-Shirt", "Pants", "Shoes"] for _ in range(10)]
    assert np.mean([model.predict(v) == t for v, t in zip(test, truth)]) > 0.9
    shoe = centres[2]
    assert model.predict(shoe) == "Shoes"
    assert model.predict(shoe, allowed=lambda c: c != "Shoes") in ("T-Shirt", "Pants")
    assert CategoryModel.fit(x[:10], y[:10]) is None            # too few products to learn from


def test_the_store_decides_what_a_category_is_and_a_relabel_is_learned(tmp_path):
    x, y, centres = clusters(15, ["Tops", "Bottoms"])
    cat = Catalog(tmp_path, create=True)
    vecs = np.zeros((len(x), DIM), np.float32)
    vecs[:, :CNN_DIM] = x
    cat.upsert([(Product(f"P{i}", f"p{i}", c), vecs[i], "m") for i, c in enumerate(y)])
    cats = CatalogueCategories(cat)
    assert cats.model("m").predict(centres[0]) == "Tops"
    cat.upsert([(Product(f"P{i}", f"p{i}", "Knitwear"), None, "m") for i in range(15)])   # the store renames its tops
    assert cats.model("m").predict(centres[0]) == "Knitwear"
    before, v = cats.model("m"), cat.version
    with cat.transaction() as w:
        w.set_price("P0", 9.0)                               # a price change keeps the model as it is
    assert cat.version == v + 1 and cats.model("m") is before


def test_a_huge_catalogue_reads_only_the_sample_it_learns_from(tmp_path, monkeypatch):
    """The classifier reads at most MAX_PER_CATEGORY vectors a category, never all of them (a
    million-product store: 5.6 GB of vectors), and still names the categories."""
    import edge.styling.category as category
    monkeypatch.setattr(category, "MAX_PER_CATEGORY", 12)
    x, y, centres = clusters(40, ["Tops", "Bottoms", "Shoes"])
    cat = Catalog(tmp_path, create=True)
    vecs = np.zeros((len(x), DIM), np.float32)
    vecs[:, :CNN_DIM] = x
    cat.upsert([(Product(f"P{i}", f"p{i}", c), vecs[i], "m") for i, c in enumerate(y)])
    read = []
    real = cat.vectors_of
    monkeypatch.setattr(cat, "vectors", lambda *a: (_ for _ in ()).throw(AssertionError("read every vector")))
    monkeypatch.setattr(cat, "vectors_of", lambda ids, mv: read.append(len(ids)) or real(ids, mv))
    model = CatalogueCategories(cat).model("m")
    assert read == [36] and [model.predict(c) for c in centres] == ["Tops", "Bottoms", "Shoes"]
