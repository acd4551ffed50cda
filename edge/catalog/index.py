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

MAGIC = b"SGNIDX01"


class IndexCorrupt(SignageError):
    pass


@dataclass(frozen=True)
class IndexParams:
    """The `index` section of the config (validated there)."""
    exact_up_to: int = 20_000        # past this many vectors the approximate (IVF) index is built
    ivf_lists: int = 1024
    ivf_probe: int = 16


@dataclass(frozen=True)
class IndexHeader:
    generation: int
    model_version: str
    count: int
    kind: str


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

    def build(self, ids: np.ndarray, vectors: np.ndarray) -> "VectorIndex":
        """Fresh index over all vectors: exact up to `exact_up_to`, IVF (approximate) past it."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
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
        lists = self.index.invlists
        parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                 for i in range(self.index.nlist) if lists.list_size(i)]
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

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.count == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        q = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        scores, ids = self.index.search(q, min(k, self.count))
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

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
        inner = faiss.downcast_index(self.index.index) if isinstance(self.index, faiss.IndexIDMap2) else self.index
        if isinstance(inner, faiss.IndexIVF):
            inner.nprobe = min(params.ivf_probe, inner.nlist)
        self.kind = meta["kind"]
        return self, IndexHeader(meta["generation"], meta["model_version"], meta["count"], meta["kind"])
