"""Find-similar on real photos: catalogue from some senders, queries from the others."""
from bench.quality import measure


def test_category_precision_at_5_on_held_out_senders(cfg):
    res = measure(cat_per_label=20, query_per_label=6, k=5, cfg=cfg)
    assert res["queries"] >= 80 and res["catalog_products"] >= 250
    # Floor: the full split (1,831 products, 914 queries, 17 labels) measured 0.5x with chance at
    # 0.10 (bench/quality.py). Labels like T-Shirt/Polo/Undershirt/Longsleeve are hard to tell
    # apart even for people, so the floor is set at 3.5x chance, below the measured subset figure.
    assert res["precision_at_5"] >= 3.5 * res["chance"], res
    assert res["precision_at_5"] >= 0.4, res
    # shoes are unmistakable to this model: nearly every neighbour of a shoe is a shoe
    assert res["per_label"]["Shoes"] >= 0.8, res
