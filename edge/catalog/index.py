"""FAISS vector index with product ids, persisted atomically next to the catalogue.

File format: 8-byte magic, 4-byte header length, a JSON header (generation, model version,
count), then the FAISS-serialised index. The header's generation is the catalogue's vector
generation at the time of writing, so a stale index (a crash after the catalogue committed but
before the index was replaced) is recognised and rebuilt from the catalogue, never trusted.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from ..errors import SignageError
from ..files import atomic_write
from ..params import param

MAGIC = b"SGNIDX01"


class IndexCorrupt(SignageError):
    pass


@dataclass(frozen=True)
class IndexParams:
    """The `index` section of the config."""
    exact_up_to: int = param(20_000, "past this many products an IVF index (100k: exact p99 44 ms, IVF 0.9 ms)",
                             lo=1)
    ivf_lists: int = param(1024, "the IVF index's lists", lo=1)
    ivf_probe: int = param(16, "IVF lists searched a query", lo=1)
    # bench/scale.py, 1M real embeddings among fitted distractors: recall@10 0.96 at probe 128
    # (p99 2.7 ms); PCA alone caps it near 0.77.
    compact_from: int = param(200_000, "past this many: PCA + IVF-SQ8 (256 MB at 1M, not 5.6 GB), the top "
                              "`rerank` put in exact order with the full vectors", lo=1)
    compact_dim: int = param(256, "the compact index's PCA dimensions", lo=1)
    compact_probe: int = param(128, "compact IVF lists searched a query", lo=1)
    rerank: int = param(200, "compact results re-ranked with the full vectors", lo=1)


@dataclass(frozen=True)
class IndexHeader:
    generation: int
    model_version: str
    count: int
    kind: str


def sample_rows(vectors: np.ndarray, m: int, seed: int = 0) -> np.ndarray:
    return vectors[np.sort(np.random.default_rng(seed).choice(len(vectors), m, replace=False))]


class VectorIndex:
    """Product ids -> unit vectors; inner product = cosine similarity."""

    def __init__(self, dim: int, params: IndexParams = IndexParams()):
        self.dim = dim
        self.params = params
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.kind = "flat"

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    @property
    def compact(self) -> bool:
        return isinstance(self.index, faiss.IndexPreTransform)

    def _ivf(self):
        """The IVF inside (with its own ids), or None for a flat index."""
        if self.compact:
            return faiss.downcast_index(self.index.index)
        return None if isinstance(self.index, faiss.IndexIDMap2) else self.index

    def wants_compact(self, n: int) -> bool:
        return n > self.params.compact_from and self.dim > self.params.compact_dim

    @staticmethod
    def _lists(n: int) -> int:
        return max(1, min(int(4 * np.sqrt(n)), n // 39))      # FAISS wants >= 39 training points a list

    def sample_size(self, n: int) -> int:
        """How many of n vectors a compact index trains on (40 a list)."""
        return min(n, 40 * self._lists(n))

    def build_compact(self, n: int, sample: np.ndarray, chunks) -> "VectorIndex":
        """A compact index over n vectors given as (ids, vectors) chunks: PCA (trained on a sample
        of them), unit length again, IVF-SQ8 over that; a million vectors (5.6 GB) are never in
        memory at once. The PCA stays with the index (and its file): a delta's vectors are
        projected the same way."""
        d, nlist = self.params.compact_dim, self._lists(n)
        quantizer = faiss.IndexFlatIP(d)
        ivf = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        ivf.own_fields = True
        quantizer.this.disown()
        pre = faiss.IndexPreTransform(ivf)            # the Python wrapper keeps ivf and the transforms alive
        pre.prepend_transform(faiss.NormalizationTransform(d, 2.0))
        pre.prepend_transform(faiss.PCAMatrix(self.dim, d))
        pre.train(np.ascontiguousarray(sample, dtype=np.float32))
        ivf.nprobe = min(self.params.compact_probe, nlist)
        self.index = pre
        self.kind = f"pca{d}-ivf{nlist}-sq8"
        for ids, vectors in chunks:
            self.add(ids, vectors)
        return self

    def build(self, ids: np.ndarray, vectors: np.ndarray) -> "VectorIndex":
        """Fresh index over all vectors: exact up to `exact_up_to`, IVF (approximate) past it,
        compact (PCA + IVF-SQ8, re-ranked) past `compact_from`."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.wants_compact(len(ids)):
            return self.build_compact(len(ids), sample_rows(vectors, self.sample_size(len(ids))), [(ids, vectors)])
        if len(ids) > self.params.exact_up_to:
            nlist = max(1, min(self.params.ivf_lists, len(ids) // 39))  # FAISS wants >= 39 per list
            quantizer = faiss.IndexFlatIP(self.dim)
            ivf = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
            # the IVF owns its quantizer: left to Python, it was freed first at exit (a segfault)
            ivf.own_fields = True
            quantizer.this.disown()
            ivf.train(vectors)
            ivf.nprobe = min(self.params.ivf_probe, nlist)
            # the IVF keeps product ids itself: an IndexIDMap around it cannot remove ids (FAISS
            # asserts and aborts the process), and a delta removes and re-adds (Catalog._catch_up)
            self.index = ivf
            self.kind = f"ivf{nlist}"
        else:
            self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
            self.kind = "flat"
        if len(ids):
            self.index.add_with_ids(vectors, ids)
        return self

    def ids(self) -> np.ndarray:
        if isinstance(self.index, faiss.IndexIDMap2):
            return faiss.vector_to_array(self.index.id_map).astype(np.int64)
        ivf = self._ivf()
        lists = ivf.invlists
        parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                 for i in range(ivf.nlist) if lists.list_size(i)]
        return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)

    @property
    def updatable(self) -> bool:
        """Ids can be removed and added in place (not an IVF inside an IndexIDMap: older files)."""
        return not (isinstance(self.index, faiss.IndexIDMap2)
                    and isinstance(faiss.downcast_index(self.index.index), faiss.IndexIVF))

    def remove(self, ids: np.ndarray) -> None:
        self.index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, np.int64))

    def search(self, vector: np.ndarray, k: int, exact=None) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest ids and their scores. A compact index asks `exact(ids) -> (ids, vectors)`
        for the full vectors of its `rerank` best candidates and orders them by those."""
        if self.count == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        q = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        wide = self.compact and exact is not None
        scores, ids = self.index.search(q, min(max(k, self.params.rerank) if wide else k, self.count))
        keep = ids[0] >= 0
        ids, scores = ids[0][keep], scores[0][keep]
        if wide and len(ids):
            ids, full = exact(ids)
            scores = (np.asarray(full, np.float32) @ q[0]) if len(ids) else np.empty(0, np.float32)
            order = np.argsort(-scores, kind="stable")[:k]
            ids, scores = np.asarray(ids, np.int64)[order], scores[order]
        return ids[:k], scores[:k]

    def save(self, path: Path, generation: int, model_version: str) -> None:
        header = json.dumps({"generation": generation, "model_version": model_version,
                             "count": self.count, "kind": self.kind, "dim": self.dim}).encode()
        body = faiss.serialize_index(self.index).tobytes()
        atomic_write(Path(path), [MAGIC, struct.pack("<I", len(header)), header, body])

    @classmethod
    def load(cls, path: Path, params: IndexParams = IndexParams()) -> tuple["VectorIndex", IndexHeader]:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise IndexCorrupt(f"index {path}: {e.strerror}") from e
        if data[:8] != MAGIC or len(data) < 12:
            raise IndexCorrupt(f"index {path}: not a signage index file")
        (n,) = struct.unpack("<I", data[8:12])
        try:
            meta = json.loads(data[12:12 + n])
            index = faiss.deserialize_index(np.frombuffer(data[12 + n:], dtype=np.uint8))
        except Exception as e:  # FAISS raises RuntimeError with C++ text on truncated data
            raise IndexCorrupt(f"index {path}: unreadable ({str(e).splitlines()[0][:200]})") from e
        if index.ntotal != meta["count"] or index.d != meta["dim"]:
            raise IndexCorrupt(f"index {path}: header says {meta['count']} vectors, file has {index.ntotal}")
        self = cls(meta["dim"], params)
        # read_index already gives the concrete type; a second proxy of it (downcast_index) would
        # not own the index, and the first one's end would free it under the second
        self.index = index
        wrapped = isinstance(self.index, (faiss.IndexIDMap2, faiss.IndexPreTransform))
        inner = faiss.downcast_index(self.index.index) if wrapped else self.index
        if isinstance(inner, faiss.IndexIVF):
            inner.nprobe = min(params.compact_probe if self.compact else params.ivf_probe, inner.nlist)
        self.kind = meta["kind"]
        return self, IndexHeader(meta["generation"], meta["model_version"], meta["count"], meta["kind"])
