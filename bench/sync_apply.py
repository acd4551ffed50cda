"""Time for a store to apply 1,000 products with images: with head office's precomputed vectors,
and embedding every image itself. A real Mosquitto on loopback.

    python -m bench.sync_apply [--products 1000]
"""
from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

from edge.catalog.store import Catalog
from edge.config import load_config
from edge.catalog.importer import import_catalog
from edge.vision.stages import Vision, model_version
from bench.harness.broker import Broker
from sync.envelope import generate_keys, load_private, load_public
from sync.hq import HeadOffice, Publisher
from sync.store import StoreSync

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "clothing-cc0"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=1000)
    n = ap.parse_args().products
    cfg = load_config()
    vision = Vision(cfg)
    users = {"hq": "a", "s1": "b", "s2": "c"}
    out = {"products": n}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = sorted(csv.DictReader(open(DATA / "images.csv")), key=lambda r: r["image"])[:n]
        with open(tmp / "c.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["sku", "name", "category", "price", "currency", "stock", "image"])
            for i, r in enumerate(rows):
                w.writerow([f"P{i:05d}", r["label"], r["label"], "9.99", "EUR", "2", DATA / "images" / f"{r['image']}.jpg"])
        generate_keys(tmp / "k", tmp / "k.pub")
        broker = Broker(tmp / "broker", users).start()
        pub = Publisher("127.0.0.1", broker.port, "hq", "a")
        hq = HeadOffice(tmp / "hq", "demo", load_private(tmp / "k"), pub)
        t = time.perf_counter()
        import_catalog(tmp / "c.csv", hq.catalog, vision, progress=False, images_root=DATA)
        out["hq_import_embed_s"] = round(time.perf_counter() - t, 1)
        for store, vectors in (("s1", True), ("s2", False)):
            t = time.perf_counter()
            rep = hq.publish([store], with_vectors=vectors)
            publish_s = time.perf_counter() - t
            cat = Catalog(tmp / store, create=True)
            s = StoreSync(cat, "demo", store, load_public(tmp / "k.pub"), "127.0.0.1", broker.port, store,
                          users[store], model_version(cfg), vision_factory=lambda: vision).start()
            t = time.perf_counter()
            last = hq.last_seq(store)
            s.run(until=lambda: cat.sync_seq >= last)
            apply_s = time.perf_counter() - t
            s.stop()
            out["with_vectors" if vectors else "embedding_at_store"] = {
                "publish_s": round(publish_s, 2), "apply_s": round(apply_s, 2), "bytes": rep.bytes,
                "images": rep.images, "deltas": rep.stores[store]["deltas"],
                "products_per_s": round(n / apply_s, 1)}
        pub.close()
        broker.stop()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
