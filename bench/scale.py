"""Search at a million products: compact vectors (PCA to 256 dims) in compressed IVF indexes,
measured on real embeddings among distractors fitted to them.

    python -m bench.scale [--data ../shared/data] [--sizes 100000 1000000] [--write] [--json]

Real vectors (the kiosk's own embedder, 1,408 dims): every CC0 photo of the catalogue-side
senders, as the importer cuts it, eight times (as is, mirrored, three crops, three mirrored
crops); every item found on the CCP street photos, as is and mirrored; the demo catalogue.
Queries: the CC0 photos of the held-out senders (models/cc0.py), as a shopper holds them up; none
of them or their senders is in the database.

Distractors, to make up the size: drawn from a mixture fitted to the real vectors: k-means (64
clusters) on them; per cluster its weight, its mean and its spread along each of the top 256
principal axes of the real vectors; the rest of the real variance (outside those axes) added as
isotropic noise of the same total; each draw scaled to unit length like a real vector.

The truth is exact search over the full 1,408 dims. Every compact index searches the PCA-256
vectors (the PCA trained on the real database vectors only, never on queries): recall@10 is the
share of the exact top 10 it returns. PCA alone caps it near 0.8 (the 8 views of one photo are
near-ties that 256 dims do not keep apart), so the last index re-ranks its top 200 with the full
vectors, float16 in a memory-mapped file on disk (2.6 GB at 1M) rather than in memory. Memory: the index's own bytes (serialised) and the
process's resident growth while it was built; latency: one query at a time on one thread, as
the kiosk asks.
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from bench.docs import update_results
from bench.measure import machine, rss_mb, stats

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
CACHE = Path.home() / ".cache" / "signage" / "bench"
PCA_DIM = 256
CLUSTERS = 64


# ---- real vectors -----------------------------------------------------------------------------
def _crops(bgr, box, rng):
    """Three crops of the photo (80-95 % of each side) that keep the item's box inside where they can."""
    H, W = bgr.shape[:2]
    out = []
    for _ in range(3):
        s = rng.uniform(0.8, 0.95)
        h, w = int(H * s), int(W * s)
        y, x = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
        x1, y1, x2, y2 = box
        nb = (max(x1 - x, 0), max(y1 - y, 0), min(x2 - x, w), min(y2 - y, h))
        if nb[2] - nb[0] >= 16 and nb[3] - nb[1] >= 16:
            out.append((bgr[y:y + h, x:x + w], nb))
    return out


def _mirrored(bgr, box):
    W = bgr.shape[1]
    x1, y1, x2, y2 = box
    return np.ascontiguousarray(bgr[:, ::-1]), (W - x2, y1, W - x1, y2)


def real_vectors(data: Path, vision, log=print) -> dict:
    """{'database': [n, DIM], 'queries': [m, DIM], 'sources': {...}}, cached per embedder version."""
    from edge.types import Item
    from edge.vision.imageio import read_image
    from edge.vision.items import main_item, product_item
    from models.cc0 import split
    key = hashlib.sha1(f"{vision.model_version}|{data.resolve()}|v1".encode()).hexdigest()[:16]
    path = CACHE / f"scale-real-{key}.npz"
    if path.is_file():
        z = np.load(path)
        return {"database": z["database"], "queries": z["queries"], "sources": json.loads(str(z["sources"]))}
    rng = np.random.default_rng(0)
    db, sources = [], {}

    def embed(bgr, item):
        return vision.embed(bgr, item).vector

    cc0 = data / "clothing-cc0"
    cat_rows, qry_rows = split(cc0)
    t0, n0 = time.perf_counter(), 0
    for i, r in enumerate(cat_rows):
        bgr = read_image(cc0 / "images" / f"{r['image']}.jpg")
        item = product_item(vision.find_items(bgr), r["label"])
        if item is None:
            continue
        db.append(embed(bgr, item))
        mb, mbox = _mirrored(bgr, item.box)
        db.append(embed(mb, Item(item.kind, mbox, item.score, None, None)))
        for src in ((bgr, item.box), (mb, mbox)):
            for crop, box in _crops(*src, rng):
                db.append(embed(crop, Item(item.kind, box, item.score, None, None)))
        if (i + 1) % 300 == 0:
            log(f"  cc0 {i + 1}/{len(cat_rows)} photos ({time.perf_counter() - t0:.0f} s)")
    sources["cc0 catalogue-side photos, 8 views each"] = len(db) - n0
    n0 = len(db)
    ccp = data / "ccp-street-dev"
    if (ccp / "boxes_coco.json").is_file():
        from bench.street import load
        for p in load(ccp):
            bgr = read_image(p["path"])
            for item in vision.find_items(bgr).items:
                db.append(embed(bgr, item))
                mb, mbox = _mirrored(bgr, item.box)
                db.append(embed(mb, Item(item.kind, mbox, item.score, None, None)))
        sources["ccp street items, as is and mirrored"] = len(db) - n0
        n0 = len(db)
    import csv
    demo = ROOT / "demo" / "catalog"
    for r in csv.DictReader(open(demo / "catalog.csv")):
        bgr = read_image(demo / r["image"])
        item = product_item(vision.find_items(bgr), r["category"])
        if item is not None:
            db.append(embed(bgr, item))
    sources["demo catalogue"] = len(db) - n0
    queries = []
    for r in qry_rows:
        bgr = read_image(cc0 / "images" / f"{r['image']}.jpg")
        queries.append(embed(bgr, main_item(vision.find_items(bgr).items)))
    sources["queries: cc0 held-out senders' photos"] = len(queries)
    out = {"database": np.stack(db).astype(np.float32), "queries": np.stack(queries).astype(np.float32),
           "sources": sources}
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, database=out["database"], queries=out["queries"], sources=json.dumps(sources))
    return out


# ---- distractors ------------------------------------------------------------------------------
class Mixture:
    """k-means clusters of the real vectors, each a Gaussian along the top principal axes (its own
    spread per axis) plus isotropic noise for the variance the axes leave out."""

    def __init__(self, real: np.ndarray, clusters: int = CLUSTERS, axes: int = PCA_DIM, seed: int = 0):
        self.mean = real.mean(0)
        centred = real - self.mean
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        self.axes = vt[:axes]                                      # [axes, D]
        km = faiss.Kmeans(real.shape[1], clusters, niter=20, seed=seed, verbose=False)
        km.train(real)
        _, assign = km.index.search(real, 1)
        assign = assign[:, 0]
        z = centred @ self.axes.T
        self.weights = np.bincount(assign, minlength=clusters) / len(real)
        self.centres = np.stack([z[assign == k].mean(0) if (assign == k).any() else np.zeros(axes) for k in range(clusters)])
        self.spread = np.stack([z[assign == k].std(0) if (assign == k).sum() > 1 else np.full(axes, 1e-3) for k in range(clusters)])
        residual = centred - z @ self.axes
        self.noise = float(np.sqrt((residual ** 2).sum(1).mean() / real.shape[1]))
        self.rng = np.random.default_rng(seed + 1)

    def draw(self, n: int, chunk: int = 50_000) -> np.ndarray:
        out = np.empty((n, self.axes.shape[1]), np.float32)
        for s in range(0, n, chunk):
            m = min(chunk, n - s)
            k = self.rng.choice(len(self.weights), m, p=self.weights)
            z = self.centres[k] + self.rng.standard_normal((m, self.axes.shape[0])) * self.spread[k]
            x = (z @ self.axes + self.mean).astype(np.float32)
            x += self.rng.standard_normal(x.shape, dtype=np.float32) * self.noise
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            out[s:s + m] = x
        return out


# ---- indexes ------------------------------------------------------------------------------------
def exact_top(db: np.ndarray, q: np.ndarray, k: int = 10, chunk: int = 200_000) -> np.ndarray:
    best_s = np.full((len(q), k), -np.inf, np.float32)
    best_i = np.zeros((len(q), k), np.int64)
    for s in range(0, len(db), chunk):
        sc = q @ db[s:s + chunk].T
        top = np.argpartition(-sc, k, axis=1)[:, :k]
        cs = np.take_along_axis(sc, top, 1)
        alls, alli = np.hstack([best_s, cs]), np.hstack([best_i, top + s])
        order = np.argsort(-alls, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(alls, order, 1), np.take_along_axis(alli, order, 1)
    return best_i


class FullRerank:
    """An index over the PCA vectors gives RERANK candidates; the full 1,408-d vectors (float16, a
    memory-mapped file: read on demand, not held in the process) put them in exact order."""

    def __init__(self, index, full: np.ndarray, candidates: int = 200):
        self.index, self.full, self.candidates = index, full, candidates

    def search_one(self, qp: np.ndarray, q: np.ndarray, k: int = 10) -> np.ndarray:
        _, ids = self.index.search(qp[None], self.candidates)
        ids = ids[0][ids[0] >= 0]
        order = np.sort(ids)                       # read the file in order
        scores = self.full[order].astype(np.float32) @ q
        return order[np.argsort(-scores)[:k]]


def compact_indexes(n: int) -> list[tuple[str, callable, list[int]]]:
    """(name, factory over PCA vectors, nprobe values to try); a name ending in "re-rank" is
    wrapped in FullRerank."""
    nlist = int(4 * np.sqrt(n))

    def ivf_sq8():
        return faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(PCA_DIM), PCA_DIM, nlist, faiss.ScalarQuantizer.QT_8bit,
                                             faiss.METRIC_INNER_PRODUCT)

    def ivf_pq():
        return faiss.IndexIVFPQ(faiss.IndexFlatIP(PCA_DIM), PCA_DIM, nlist, 32, 8, faiss.METRIC_INNER_PRODUCT)

    def ivf_pq_rerank():
        # PQ codes find candidates; their SQ8 codes (same PCA vectors, 8 bits a dim) re-rank them
        refine = faiss.IndexRefine(ivf_pq(), faiss.IndexScalarQuantizer(PCA_DIM, faiss.ScalarQuantizer.QT_8bit,
                                                                        faiss.METRIC_INNER_PRODUCT))
        refine.k_factor = 4
        return refine

    return [("pca256 flat (exact in 256 dims)", lambda: faiss.IndexFlatIP(PCA_DIM), [0]),
            (f"pca256 ivf{nlist} sq8", ivf_sq8, [16, 32, 64, 128]),
            (f"pca256 ivf{nlist} pq32", ivf_pq, [64]),
            (f"pca256 ivf{nlist} pq32 + sq8 re-rank x4", ivf_pq_rerank, [64]),
            (f"pca256 ivf{nlist} sq8, top 200 with full-dim f16 re-rank", ivf_sq8, [32, 64, 128, 256])]


def _set_probe(index, nprobe: int) -> None:
    inner = faiss.downcast_index(index.base_index) if isinstance(index, faiss.IndexRefine) else index
    if nprobe and hasattr(inner, "nprobe"):
        inner.nprobe = nprobe


def catalogue_path(db: np.ndarray, q: np.ndarray, truth: np.ndarray, log=print) -> dict:
    """The product's own path: a catalogue of these vectors (SQLite + the index it picks past
    `index.compact_from`, lowered here to 50,000), searched through Catalog.search one query at a
    time (the re-rank reads the candidates' stored vectors from SQLite)."""
    from edge.catalog.index import IndexParams
    from edge.catalog.products import Product
    from edge.catalog.store import INDEX_NAME, Catalog
    n = len(db)
    with tempfile.TemporaryDirectory() as tmp:
        cat = Catalog(Path(tmp) / "c", IndexParams(compact_from=50_000), create=True)
        t = time.perf_counter()
        for s in range(0, n, 10_000):
            cat.upsert([(Product(f"P{s + i}", "x"), v, "m") for i, v in enumerate(db[s:s + 10_000])])
        fill_s = time.perf_counter() - t
        gc.collect()
        before = rss_mb()
        t = time.perf_counter()
        idx = cat.index("m")
        build_s = time.perf_counter() - t
        grown = rss_mb() - before
        faiss.omp_set_num_threads(1)
        lat, found = [], []
        for v in q:
            t = time.perf_counter()
            hits = cat.search(v, 10, "m")
            lat.append((time.perf_counter() - t) * 1000)
            found.append([int(p.sku[1:]) for p, _ in hits])
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        recall = float(np.mean([len(set(a) & set(b.tolist())) / 10 for a, b in zip(found, truth)]))
        st = stats(lat)
        out = {"n": n, "index": idx.kind, "recall_at_10": round(recall, 3), "p50_ms": st["p50"], "p99_ms": st["p99"],
               "index_file_mb": round((Path(tmp) / "c" / INDEX_NAME).stat().st_size / 2 ** 20, 1),
               "index_rss_growth_mb": round(max(grown, 0.0), 1), "build_s": round(build_s, 1), "fill_s": round(fill_s, 1)}
        cat.close()
    log(f"  catalogue path: {out}")
    return out


def measure(data: Path = DATA, sizes=(100_000, 1_000_000), vision=None, log=print,
            catalogue_sizes=(100_000,)) -> dict:
    from edge.config import load_config
    from edge.vision.stages import Vision
    vision = vision or Vision(load_config())
    real = real_vectors(data, vision, log)
    rdb, q = real["database"], real["queries"]
    log(f"[scale] {len(rdb):,} real database vectors, {len(q)} held-out queries")
    t = time.perf_counter()
    mix = Mixture(rdb)
    fit_s = time.perf_counter() - t
    pca = faiss.PCAMatrix(rdb.shape[1], PCA_DIM)
    pca.train(rdb)
    kept = float(np.sum(np.asarray(faiss.vector_to_array(pca.eigenvalues))[:PCA_DIM]) /
                 np.sum(faiss.vector_to_array(pca.eigenvalues)))
    qp = pca.apply(q)
    qp /= np.linalg.norm(qp, axis=1, keepdims=True)
    rows, catalogue = [], []
    tmp = tempfile.TemporaryDirectory()
    for n in sizes:
        gc.collect()
        db = np.concatenate([rdb, mix.draw(max(0, n - len(rdb)))])[:n]
        t = time.perf_counter()
        truth = exact_top(db, q)
        exact_s = time.perf_counter() - t
        real_in_truth = float(np.mean(truth < len(rdb)))
        if n in catalogue_sizes:
            catalogue.append(catalogue_path(db, q, truth, log))
        full_path = Path(tmp.name) / f"full-{n}.f16"
        full = np.memmap(full_path, np.float16, "w+", shape=db.shape)
        full[:] = db
        full.flush()
        full = np.memmap(full_path, np.float16, "r", shape=db.shape)
        dbp = pca.apply(db)
        del db
        gc.collect()
        dbp /= np.linalg.norm(dbp, axis=1, keepdims=True)
        log(f"[scale] {n:,}: exact search {exact_s:.0f} s for {len(q)} queries; real vectors in the truth {real_in_truth:.2f}")
        for name, make, probes in compact_indexes(n):
            gc.collect()
            before = rss_mb()
            t = time.perf_counter()
            index = make()
            # FAISS wants >= 39 training points a list
            index.train(dbp[np.random.default_rng(0).choice(n, min(n, 40 * int(4 * np.sqrt(n))), replace=False)])
            index.add(dbp)
            build_s = time.perf_counter() - t
            grown = rss_mb() - before
            size_mb = len(faiss.serialize_index(index)) / 2 ** 20
            faiss.omp_set_num_threads(1)
            rerank = FullRerank(index, full) if name.endswith("re-rank") else None
            for nprobe in probes:
                _set_probe(index, nprobe)
                lat, found = [], []
                for v, vq in zip(qp, q):
                    t = time.perf_counter()
                    if rerank:
                        ids = rerank.search_one(v, vq)
                    else:
                        ids = index.search(v[None], 10)[1][0]
                    lat.append((time.perf_counter() - t) * 1000)
                    found.append(ids)
                recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))
                s = stats(lat)
                rows.append({"n": n, "index": name, "nprobe": nprobe or None, "recall_at_10": round(recall, 3),
                             "full_f16_file_gb": round(n * q.shape[1] * 2 / 2 ** 30, 2) if rerank else None,
                             "p50_ms": s["p50"], "p99_ms": s["p99"], "build_s": round(build_s, 1),
                             "index_mb": round(size_mb, 1), "rss_growth_mb": round(max(grown, 0.0), 1)})
                log(f"  {name} nprobe {nprobe}: recall@10 {recall:.3f}, p50 {s['p50']} ms, p99 {s['p99']} ms, "
                    f"{size_mb:.0f} MB, built in {build_s:.0f} s")
            faiss.omp_set_num_threads(os.cpu_count() or 1)
            del index
        del dbp, full
        full_path.unlink()
    tmp.cleanup()
    return {"machine": machine(), "real_database": len(rdb), "queries": len(q), "sources": real["sources"],
            "pca_dim": PCA_DIM, "pca_variance_kept": round(kept, 3), "mixture_clusters": CLUSTERS,
            "mixture_fit_s": round(fit_s, 1), "rows": rows, "catalogue": catalogue}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA, help="the shared data folder (clothing-cc0, ccp-street-dev)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--catalogue-sizes", type=int, nargs="*", default=[100_000],
                    help="sizes also measured through a real catalogue (SQLite + its index)")
    ap.add_argument("--write", action="store_true", help="into docs/benchmarks/results.json and benchmarks.md")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if not (a.data / "clothing-cc0" / "images.csv").is_file():
        sys.exit(f"--data {a.data}: no clothing-cc0/images.csv there (the shared data folder)")
    res = measure(a.data, a.sizes, log=lambda m: print(m, file=sys.stderr), catalogue_sizes=a.catalogue_sizes)
    if a.write:
        update_results("scale", res)
    print(json.dumps(res, indent=None if a.json else 1))


if __name__ == "__main__":
    main()
