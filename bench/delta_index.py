"""A catalogue delta into a big catalogue: the index updated in place vs rebuilt (issue 17).

    python -m bench.delta_index [--products 100000] [--delta 1000] [--dim 1408]

Builds a catalogue of N products with random unit vectors (past `index.exact_up_to` the index is
IVF: a rebuild trains k-means again), then applies deltas of D products (half new, half with new
vectors) three times each way: in place (the vector changes the transaction logged, as the sync
daemon and the kiosk now do) and rebuilt (the index dropped, as before). Reports the seconds for
the transaction, the index update and the index file write, with the CPU's vector features.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from edge.catalog.products import Product
from edge.catalog.index import VectorIndex
from edge.catalog.store import INDEX_NAME, Catalog


def unit(n: int, dim: int, rng) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--delta", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=1408)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="into docs/benchmarks/results.json and benchmarks.md")
    a = ap.parse_args()
    from bench.measure import machine
    rng = np.random.default_rng(0)
    out = {"machine": machine(), "products": a.products, "delta": a.delta, "dim": a.dim}
    with tempfile.TemporaryDirectory() as tmp:
        cat = Catalog(Path(tmp) / "c", create=True)
        t = time.perf_counter()
        for start in range(0, a.products, 10_000):
            n = min(10_000, a.products - start)
            cat.upsert([(Product(f"P{start + i:07d}", "shirt"), v, "m") for i, v in enumerate(unit(n, a.dim, rng))])
        out["fill_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        idx = cat.index("m")
        out["first_build_s"] = round(time.perf_counter() - t, 1)
        out["index_kind"] = idx.kind
        out["index_file_mb"] = round((Path(tmp) / "c" / INDEX_NAME).stat().st_size / 2**20)
        next_sku = a.products
        times: dict[str, list] = {"in_place": [], "rebuilt": []}
        for run in range(a.runs * 2):
            way = "in_place" if run % 2 == 0 else "rebuilt"
            batch = [(Product(f"P{next_sku + i:07d}", "shirt"), v, "m")
                     for i, v in enumerate(unit(a.delta // 2, a.dim, rng))]
            next_sku += a.delta // 2
            olds = rng.choice(a.products, a.delta - a.delta // 2, replace=False)
            batch += [(Product(f"P{i:07d}", "shirt"), v, "m") for i, v in zip(olds, unit(len(olds), a.dim, rng))]
            t0 = time.perf_counter()
            cat.upsert(batch)
            t1 = time.perf_counter()
            if way == "rebuilt":                  # what every delta did before: build from SQLite, write
                ids, vecs = cat.vectors("m")
                rebuilt = VectorIndex(a.dim, cat.index_params).build(ids, vecs)
                rebuilt.save(Path(tmp) / "c" / INDEX_NAME, cat.vector_generation, "m")
                t2 = time.perf_counter()
                assert rebuilt.count == cat.count()
                cat.index("m")                    # (the catalogue's own index catches up, untimed)
            else:
                idx = cat.index("m")              # in place; the file is written at most every 30 s
                t2 = time.perf_counter()
                assert idx.count == cat.count()
            times[way].append((t1 - t0, t2 - t1))
        for way, ts in times.items():
            out[way] = {"transaction_s": round(statistics.median(x for x, _ in ts), 2),
                        "index_s": round(statistics.median(y for _, y in ts), 2),
                        "total_s": round(statistics.median(x + y for x, y in ts), 2), "runs": len(ts)}
        # the file write the writer does at most every INDEX_SAVE_S (and at a clean stop)
        idx = cat.index("m")
        t = time.perf_counter()
        idx.save(Path(tmp) / "c" / INDEX_NAME, cat.vector_generation, "m")
        out["index_file_write_s"] = round(time.perf_counter() - t, 2)
    print(json.dumps(out, indent=1))
    if a.write:
        from bench.docs import update_results
        update_results("delta_index", out)


if __name__ == "__main__":
    main()
