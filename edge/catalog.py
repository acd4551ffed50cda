"""This store's catalogue: products in SQLite, their vectors in SQLite and in a FAISS index.

SQLite is the source of truth (WAL, one transaction per batch). The FAISS index is a cache of
the vectors table, rebuilt from it whenever its recorded generation does not match, so a crash
at any point leaves a catalogue that loads and searches correctly.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import CatalogMissing
from .index import IndexCorrupt, IndexParams, VectorIndex, atomic_write

DB_NAME = "catalog.sqlite"
INDEX_NAME = "index.faiss"
IMAGES = "images"

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    colors TEXT NOT NULL DEFAULT '[]',
    price REAL,
    currency TEXT NOT NULL DEFAULT '',
    stock INTEGER NOT NULL DEFAULT 0,
    aisle TEXT NOT NULL DEFAULT '',
    image TEXT NOT NULL DEFAULT '',
    image_sha256 TEXT NOT NULL DEFAULT '',
    gender TEXT NOT NULL DEFAULT '',
    season TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    description TEXT NOT NULL DEFAULT '',
    category_source TEXT NOT NULL DEFAULT 'catalogue',
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TABLE IF NOT EXISTS vectors (
    product_id INTEGER PRIMARY KEY REFERENCES products(id) ON DELETE CASCADE,
    model_version TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS looks (look_id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS look_items (
    look_id TEXT NOT NULL REFERENCES looks(look_id) ON DELETE CASCADE,
    sku TEXT NOT NULL,
    PRIMARY KEY (look_id, sku)
);
-- Merchandisers' rules: pin (always first in its slot), ban (never shown), boost (+weight).
CREATE TABLE IF NOT EXISTS merch (
    kind TEXT NOT NULL CHECK (kind IN ('sku', 'look')),
    target TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('pin', 'ban', 'boost')),
    weight REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, target, action)
);
INSERT OR IGNORE INTO meta VALUES ('catalog_version', '0'), ('vector_generation', '0');
"""


@dataclass
class Product:
    sku: str
    name: str
    category: str = ""
    colors: tuple[str, ...] = ()
    price: float | None = None
    currency: str = ""
    stock: int = 0
    aisle: str = ""
    image: str = ""                # path inside the catalogue folder (images/..), or empty
    image_sha256: str = ""
    gender: str = ""
    season: str = ""
    tags: tuple[str, ...] = ()
    description: str = ""
    category_source: str = "catalogue"   # "catalogue" (given) or "neighbours" (inferred)
    id: int | None = field(default=None, compare=False)

    def to_json(self) -> dict:
        d = asdict(self)
        d["colors"], d["tags"] = list(self.colors), list(self.tags)
        d.pop("id")
        return d


_COLUMNS = ("sku", "name", "category", "colors", "price", "currency", "stock", "aisle", "image",
            "image_sha256", "gender", "season", "tags", "description", "category_source")


def _row_to_product(row: sqlite3.Row) -> Product:
    return Product(
        sku=row["sku"], name=row["name"], category=row["category"], colors=tuple(json.loads(row["colors"])),
        price=row["price"], currency=row["currency"], stock=row["stock"], aisle=row["aisle"],
        image=row["image"], image_sha256=row["image_sha256"], gender=row["gender"], season=row["season"],
        tags=tuple(json.loads(row["tags"])), description=row["description"],
        category_source=row["category_source"], id=row["id"])


class Catalog:
    def __init__(self, folder: Path, index_params: IndexParams = IndexParams(), create: bool = False):
        self.dir = Path(folder)
        db = self.dir / DB_NAME
        if not db.is_file():
            if not create:
                raise CatalogMissing(f"no catalogue in {self.dir}: import one with "
                                     f"`signage catalog import CSV --catalog {self.dir}`")
            self.dir.mkdir(parents=True, exist_ok=True)
        self.index_params = index_params
        self.read_only = False
        try:
            self.db = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")   # a committed catalogue change survives power loss
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA)
            self._migrate()
        except sqlite3.OperationalError:
            if create or not db.is_file():
                raise
            # A read-only data folder (or disk): the kiosk still serves the last good catalogue.
            self.db = sqlite3.connect(f"file:{db}?immutable=1", uri=True, check_same_thread=False,
                                      isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.read_only = True
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._index_model: str | None = None
        self._index_gen = -1
        self.index_rebuilt = False   # True when the last load had to rebuild from SQLite

    # Columns added after a catalogue may already exist in a store: (column, SQL type and default).
    ADDED_COLUMNS = (("description", "TEXT NOT NULL DEFAULT ''"),)

    def _migrate(self) -> None:
        have = {r[1] for r in self.db.execute("PRAGMA table_info(products)")}
        for name, decl in self.ADDED_COLUMNS:
            if name not in have:
                self.db.execute(f"ALTER TABLE products ADD COLUMN {name} {decl}")

    def close(self) -> None:
        self.db.close()

    # ---- meta ----------------------------------------------------------------------------
    def meta(self, key: str) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else ""

    @property
    def version(self) -> int:
        return int(self.meta("catalog_version"))

    @property
    def vector_generation(self) -> int:
        return int(self.meta("vector_generation"))

    # ---- images --------------------------------------------------------------------------
    def store_image(self, data: bytes, sha256: str, suffix: str) -> str:
        """Content-addressed copy inside the catalogue, so the store needs nothing outside it."""
        rel = f"{IMAGES}/{sha256[:2]}/{sha256}{suffix.lower()}"
        path = self.dir / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, [data])
        return rel

    def image_path(self, product: Product) -> Path | None:
        return self.dir / product.image if product.image else None

    # ---- products ------------------------------------------------------------------------
    def get(self, sku: str) -> Product | None:
        row = self.db.execute("SELECT * FROM products WHERE sku=?", (sku,)).fetchone()
        return _row_to_product(row) if row else None

    def by_ids(self, ids) -> dict[int, Product]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        q = f"SELECT * FROM products WHERE id IN ({','.join('?' * len(ids))})"
        return {r["id"]: _row_to_product(r) for r in self.db.execute(q, ids)}

    def products(self) -> list[Product]:
        return [_row_to_product(r) for r in self.db.execute("SELECT * FROM products ORDER BY sku")]

    def has_vector(self, sku: str, model_version: str, image_sha256: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM products p JOIN vectors v ON v.product_id=p.id "
            "WHERE p.sku=? AND p.image_sha256=? AND v.model_version=?", (sku, image_sha256, model_version)).fetchone()
        return row is not None

    @staticmethod
    def _write_product(cur, product: Product, vector, model_version: str) -> bool:
        """Insert or update one product row (and its vector); True when a vector was written."""
        values = [getattr(product, c) for c in _COLUMNS]
        values[3] = json.dumps(list(product.colors))
        values[12] = json.dumps(list(product.tags))
        cur.execute(
            f"INSERT INTO products ({','.join(_COLUMNS)}) VALUES ({','.join('?' * len(_COLUMNS))}) "
            f"ON CONFLICT(sku) DO UPDATE SET "
            + ", ".join(f"{c}=excluded.{c}" for c in _COLUMNS[1:])
            + ", updated_at=strftime('%Y-%m-%dT%H:%M:%SZ', 'now')", values)
        product.id = cur.execute("SELECT id FROM products WHERE sku=?", (product.sku,)).fetchone()[0]
        if vector is None:
            return False
        cur.execute("INSERT OR REPLACE INTO vectors VALUES (?,?,?)",
                    (product.id, model_version, np.asarray(vector, np.float32).tobytes()))
        return True

    def _transaction(self, body) -> int:
        """Run body(cursor) -> vectors_changed in one transaction; bump the versions; commit."""
        with self._lock:
            cur = self.db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                vectors_changed = body(cur)
                cur.execute("UPDATE meta SET value=CAST(value AS INTEGER)+1 WHERE key='catalog_version'")
                if vectors_changed:
                    cur.execute("UPDATE meta SET value=CAST(value AS INTEGER)+1 WHERE key='vector_generation'")
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            if vectors_changed:
                self._index = None   # rebuilt (and saved) on next use
            return self.version

    def upsert(self, batch: list[tuple[Product, np.ndarray | None, str]]) -> int:
        """Insert or update products (and their vectors) in one transaction; bumps the version."""
        if not batch:
            return self.version

        def body(cur):
            changed = False
            for product, vector, model_version in batch:
                changed |= self._write_product(cur, product, vector, model_version)
            return changed
        return self._transaction(body)

    def delete(self, skus: list[str]) -> int:
        n = sum(1 for s in skus if self.get(s) is not None)
        if n:
            self._transaction(lambda cur: sum(cur.execute("DELETE FROM products WHERE sku=?", (s,)).rowcount
                                              for s in skus) > 0)
        return n

    # ---- curated looks and merchandising ----------------------------------------------------
    def _write(self, statements: list[tuple[str, tuple]]) -> int:
        """Run statements in one transaction and bump the catalogue version."""
        def body(cur):
            for sql, params in statements:
                cur.execute(sql, params)
            return False
        return self._transaction(body)

    # ---- catalogue sync: one delta from head office, applied whole or not at all ------------
    @property
    def sync_seq(self) -> int:
        """The last head-office delta applied (0: none)."""
        return int(self.meta("sync_seq") or 0)

    def apply_delta(self, seq: int, ops: list[dict], vectors: dict[str, tuple[np.ndarray, str]],
                    images: dict[str, str]) -> int:
        """Apply a verified delta in one transaction, together with the new sync_seq, so a crash
        leaves it applied exactly once or not at all. vectors: sku -> (vector, model version);
        images: sha256 -> path in this catalogue."""
        def body(cur):
            have = int((cur.execute("SELECT value FROM meta WHERE key='sync_seq'").fetchone() or ["0"])[0])
            if seq != have + 1:
                raise ValueError(f"delta {seq} does not follow {have}")
            changed = False
            for op in ops:
                kind = op["op"]
                if kind == "upsert_product":
                    sha = op.get("image_sha256") or ""
                    p = Product(sku=op["sku"], name=op["name"], category=op.get("category") or "",
                                colors=tuple(op.get("colors") or ()), price=op.get("price"),
                                currency=op.get("currency") or "", stock=int(op.get("stock") or 0),
                                aisle=op.get("aisle") or "", image=images.get(sha, ""), image_sha256=sha,
                                gender=op.get("gender") or "", season=op.get("season") or "",
                                tags=tuple(op.get("tags") or ()), description=op.get("description") or "")
                    vec = vectors.get(p.sku)
                    changed |= self._write_product(cur, p, vec[0] if vec else None, vec[1] if vec else "")
                elif kind == "delete_product":
                    changed |= cur.execute("DELETE FROM products WHERE sku=?", (op["sku"],)).rowcount > 0
                elif kind == "set_price":
                    cur.execute("UPDATE products SET price=?, currency=COALESCE(?, currency) WHERE sku=?",
                                (op["price"], op.get("currency"), op["sku"]))
                elif kind == "set_stock":
                    cur.execute("UPDATE products SET stock=? WHERE sku=?", (op["stock"], op["sku"]))
                elif kind == "upsert_look":
                    cur.execute("INSERT INTO looks VALUES (?,?) ON CONFLICT(look_id) DO UPDATE SET name=excluded.name",
                                (op["look_id"], op["name"]))
                    cur.execute("DELETE FROM look_items WHERE look_id=?", (op["look_id"],))
                    for sku in op.get("skus") or []:
                        cur.execute("INSERT OR IGNORE INTO look_items VALUES (?,?)", (op["look_id"], sku))
                elif kind == "delete_look":
                    cur.execute("DELETE FROM looks WHERE look_id=?", (op["look_id"],))
                elif kind == "set_merch":
                    if op["action"] == "clear":
                        cur.execute("DELETE FROM merch WHERE kind=? AND target=?", (op["kind"], op["target"]))
                    else:
                        cur.execute("INSERT OR REPLACE INTO merch VALUES (?,?,?,?)",
                                    (op["kind"], op["target"], op["action"], float(op.get("weight") or 0.0)))
            cur.execute("INSERT OR REPLACE INTO meta VALUES ('sync_seq', ?)", (str(seq),))
            return changed
        return self._transaction(body)

    def upsert_look(self, look_id: str, name: str, skus: list[str]) -> int:
        return self._write([("INSERT INTO looks VALUES (?,?) ON CONFLICT(look_id) DO UPDATE SET name=excluded.name",
                             (look_id, name)),
                            ("DELETE FROM look_items WHERE look_id=?", (look_id,))]
                           + [("INSERT OR IGNORE INTO look_items VALUES (?,?)", (look_id, s)) for s in skus])

    def delete_look(self, look_id: str) -> int:
        return self._write([("DELETE FROM looks WHERE look_id=?", (look_id,))])

    def looks(self) -> dict[str, tuple[str, list[str]]]:
        """look_id -> (name, skus)."""
        out: dict[str, tuple[str, list[str]]] = {lid: (name, []) for lid, name in self.db.execute(
            "SELECT look_id, name FROM looks ORDER BY look_id")}
        for lid, sku in self.db.execute("SELECT look_id, sku FROM look_items ORDER BY look_id, sku"):
            out[lid][1].append(sku)
        return out

    def set_merch(self, kind: str, target: str, action: str, weight: float = 0.0) -> int:
        return self._write([("INSERT OR REPLACE INTO merch VALUES (?,?,?,?)", (kind, target, action, weight))])

    def clear_merch(self, kind: str, target: str) -> int:
        return self._write([("DELETE FROM merch WHERE kind=? AND target=?", (kind, target))])

    def merch(self) -> list[tuple[str, str, str, float]]:
        return [tuple(r) for r in self.db.execute("SELECT kind, target, action, weight FROM merch")]

    # ---- vectors and index ---------------------------------------------------------------
    def vectors(self, model_version: str) -> tuple[np.ndarray, np.ndarray]:
        rows = self.db.execute("SELECT product_id, vector FROM vectors WHERE model_version=? ORDER BY product_id",
                               (model_version,)).fetchall()
        if not rows:
            return np.empty(0, np.int64), np.empty((0, 0), np.float32)
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        return ids, np.stack([np.frombuffer(r[1], np.float32) for r in rows])

    def model_versions(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("SELECT model_version, COUNT(*) FROM vectors GROUP BY 1")}

    def index(self, model_version: str) -> VectorIndex:
        """The FAISS index for this model version, loaded, or rebuilt from SQLite when stale."""
        with self._lock:
            generation = self.vector_generation   # another process (catalogue sync) may have moved it
            if self._index is not None and self._index_model == model_version and self._index_gen == generation:
                return self._index
            path = self.dir / INDEX_NAME
            self.index_rebuilt = False
            try:
                idx, header = VectorIndex.load(path, self.index_params)
                if header.generation != generation or header.model_version != model_version:
                    raise IndexCorrupt("stale")
            except IndexCorrupt:
                ids, vecs = self.vectors(model_version)
                dim = vecs.shape[1] if len(ids) else 1
                idx = VectorIndex(dim, self.index_params).build(ids, vecs)
                if len(ids):
                    try:
                        idx.save(path, generation, model_version)
                    except OSError:
                        pass   # read-only or full disk: search from memory, the store keeps working
                self.index_rebuilt = True
            self._index, self._index_model, self._index_gen = idx, model_version, generation
            return idx

    def search(self, vector: np.ndarray, k: int, model_version: str) -> list[tuple[Product, float]]:
        idx = self.index(model_version)
        if idx.count == 0 or idx.dim != vector.shape[-1]:
            return []
        ids, scores = idx.search(vector, k)
        found = self.by_ids(ids)
        return [(found[int(i)], float(s)) for i, s in zip(ids, scores) if int(i) in found]

    def stats(self) -> dict:
        n = self.db.execute("SELECT COUNT(*) FROM products").fetchone()[0]
        in_stock = self.db.execute("SELECT COUNT(*) FROM products WHERE stock>0").fetchone()[0]
        cats = {r[0] or "(none)": r[1] for r in self.db.execute(
            "SELECT category, COUNT(*) FROM products GROUP BY 1 ORDER BY 2 DESC")}
        index_file = self.dir / INDEX_NAME
        return {"catalog_dir": str(self.dir), "catalog_version": self.version, "products": n,
                "in_stock": in_stock, "categories": cats, "vectors": self.model_versions(),
                "index_bytes": index_file.stat().st_size if index_file.exists() else 0,
                "disk_free_bytes": shutil.disk_usage(self.dir).free}
