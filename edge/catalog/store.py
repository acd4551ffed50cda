"""This store's catalogue: products in SQLite, their vectors in SQLite and in a FAISS index.

SQLite is the source of truth (WAL, one transaction per batch). The FAISS index is a cache of
the vectors table, rebuilt from it whenever its recorded generation does not match, so a crash
at any point leaves a catalogue that loads and searches correctly.

Every change goes through `transaction()`, whose Writer has one method per kind of change
(products, looks, merchandising rules, the head-office sequence number); the transaction bumps
the catalogue version (and the vector generation when vectors changed) and commits, or changes
nothing. What a change means on the wire is sync/'s business, not the catalogue's.
"""
from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import BadInput, CatalogDamaged, CatalogMissing
from ..ids import OWN_STREAM, SHARED_STREAM
from .merch import MERCH_MAX_WEIGHT
from .images import ImageStore
from .index import IndexCorrupt, IndexParams, VectorIndex, sample_rows
from .products import COLUMNS, SCHEMA, Product, migrate, product_row, row_to_product

DB_NAME = "catalog.sqlite"
INDEX_NAME = "index.faiss"
PRODUCT_CACHE = 50_000          # products kept in memory between catalogue changes (by_ids)
CHANGES_KEPT = 64               # vector generations an index held in memory can catch up by
INDEX_SAVE_S = 30.0             # the writer rewrites the index file at most this often (save_index)
CHUNK = 20_000                  # vectors read from SQLite at a time for a compact index (and ids per IN (...))

# The meta key each stream's last applied sequence number is kept under (the streams: edge/ids.py).
SEQ_KEYS = {OWN_STREAM: "sync_seq", SHARED_STREAM: "shared_seq"}
STORE_FIELDS = ("price", "currency", "stock", "aisle")     # what a store's own stream may set


class Writer:
    """The changes one transaction may make. Made by Catalog.transaction(), used inside it only."""

    def __init__(self, cur: sqlite3.Cursor):
        self.cur = cur
        self.vectors_changed = False
        self.changed_ids: dict[int, bool] = {}    # product id -> gone, for vector_changes

    # ---- products ----------------------------------------------------------------------------
    def upsert_product(self, product: Product, vector: np.ndarray | None = None, model_version: str = "") -> None:
        """Insert or update one product row (and its vector when given); sets product.id."""
        cur = self.cur
        cur.execute(
            f"INSERT INTO products ({','.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))}) "
            f"ON CONFLICT(sku) DO UPDATE SET "
            + ", ".join(f"{c}=excluded.{c}" for c in COLUMNS[1:])
            + ", updated_at=strftime('%Y-%m-%dT%H:%M:%SZ', 'now')", product_row(product))
        product.id = cur.execute("SELECT id FROM products WHERE sku=?", (product.sku,)).fetchone()[0]
        if vector is not None:
            cur.execute("INSERT OR REPLACE INTO vectors VALUES (?,?,?)",
                        (product.id, model_version, np.asarray(vector, np.float32).tobytes()))
            self.vectors_changed = True
            self.changed_ids[product.id] = False

    def delete_product(self, sku: str) -> bool:
        row = self.cur.execute("SELECT id FROM products WHERE sku=?", (sku,)).fetchone()
        if row is None:
            return False
        self.cur.execute("DELETE FROM products WHERE id=?", (row[0],))    # its vector goes too (cascade)
        self.vectors_changed = True
        self.changed_ids[row[0]] = True
        return True

    def set_price(self, sku: str, price: float, currency: str | None = None) -> None:
        self.cur.execute("UPDATE products SET price=?, currency=COALESCE(?, currency) WHERE sku=?",
                         (price, currency, sku))

    def set_stock(self, sku: str, stock: int) -> None:
        self.cur.execute("UPDATE products SET stock=? WHERE sku=?", (stock, sku))

    # ---- curated looks -------------------------------------------------------------------------
    def upsert_look(self, look_id: str, name: str, skus: list[str]) -> None:
        self.cur.execute("INSERT INTO looks VALUES (?,?) ON CONFLICT(look_id) DO UPDATE SET name=excluded.name",
                         (look_id, name))
        self.cur.execute("DELETE FROM look_items WHERE look_id=?", (look_id,))
        for sku in skus:
            self.cur.execute("INSERT OR IGNORE INTO look_items VALUES (?,?)", (look_id, sku))

    def delete_look(self, look_id: str) -> None:
        self.cur.execute("DELETE FROM looks WHERE look_id=?", (look_id,))

    def delete_all_looks(self) -> None:
        self.cur.execute("DELETE FROM looks")

    # ---- merchandising rules -------------------------------------------------------------------
    def set_merch(self, kind: str, target: str, action: str, weight: float = 0.0) -> None:
        self.cur.execute("INSERT OR REPLACE INTO merch VALUES (?,?,?,?)", (kind, target, action, float(weight)))

    def clear_merch(self, kind: str, target: str, action: str | None = None) -> None:
        """Every rule of the target, or only the one named (a boost cleared keeps the pin)."""
        if action is None:
            self.cur.execute("DELETE FROM merch WHERE kind=? AND target=?", (kind, target))
        else:
            self.cur.execute("DELETE FROM merch WHERE kind=? AND target=? AND action=?", (kind, target, action))

    # ---- head office's sequence numbers -------------------------------------------------------
    def seq_of(self, stream: str) -> int:
        """The last delta applied of a stream: the store's own, or the shared one (0: none)."""
        row = self.cur.execute("SELECT value FROM meta WHERE key=?", (SEQ_KEYS[stream],)).fetchone()
        return int(row[0]) if row else 0

    def set_seq(self, stream: str, seq: int) -> None:
        self.cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (SEQ_KEYS[stream], str(seq)))

    @property
    def follows_shared(self) -> bool:
        return self.cur.execute("SELECT 1 FROM meta WHERE key=?", (SEQ_KEYS[SHARED_STREAM],)).fetchone() is not None

    # ---- a store's own prices, stock and aisles over the shared stream's -----------------------
    def follow_shared(self, seq: int) -> None:
        """From now on this store also follows the shared stream, from `seq` on. A store that did
        not yet: what it sells now is what the shared stream says at `seq` (head office made it
        so in the same run), so its rows become the base."""
        if self.follows_shared:
            self.set_seq(SHARED_STREAM, max(seq, self.seq_of(SHARED_STREAM)))
            return
        self.cur.execute("DELETE FROM base_values")
        self.cur.execute(f"INSERT INTO base_values SELECT sku, {', '.join(STORE_FIELDS)} FROM products")
        self.set_seq(SHARED_STREAM, seq)

    def set_base(self, sku: str, values: dict) -> None:
        """What the shared stream says of a product's price, stock and aisle; the row takes it
        where the store has no value of its own."""
        self.cur.execute("INSERT OR REPLACE INTO base_values VALUES (?,?,?,?,?)",
                         (sku, *(values.get(f) for f in STORE_FIELDS)))
        self._sell_at(sku)

    def set_store_values(self, sku: str, values: dict) -> None:
        """This store's own price, currency, stock, aisle of a product (None: the base holds; all
        None: the store has nothing of its own). Kept for a product not here yet."""
        if all(values.get(f) is None for f in STORE_FIELDS):
            self.cur.execute("DELETE FROM store_values WHERE sku=?", (sku,))
        else:
            self.cur.execute("INSERT OR REPLACE INTO store_values VALUES (?,?,?,?,?)",
                             (sku, *(values.get(f) for f in STORE_FIELDS)))
        self._sell_at(sku)

    def update_values(self, sku: str, shared: bool, **values) -> None:
        """Some of a product's price, currency, stock, aisle: the shared stream's (base) or the
        store's own, the others as they were."""
        table = "base_values" if shared else "store_values"
        row = self.cur.execute(f"SELECT {', '.join(STORE_FIELDS)} FROM {table} WHERE sku=?", (sku,)).fetchone()
        merged = dict(zip(STORE_FIELDS, row or (None,) * len(STORE_FIELDS)))
        merged.update({k: v for k, v in values.items() if v is not None})
        (self.set_base if shared else self.set_store_values)(sku, merged)

    def clear_store_values(self) -> list[str]:
        """Every value of the store's own goes (a snapshot of its stream names all it keeps)."""
        skus = [r[0] for r in self.cur.execute("SELECT sku FROM store_values")]
        self.cur.execute("DELETE FROM store_values")
        for sku in skus:
            self._sell_at(sku)
        return skus

    def _sell_at(self, sku: str) -> None:
        fields = ", ".join(f"{f}=COALESCE((SELECT {f} FROM store_values WHERE sku=?), "
                           f"(SELECT {f} FROM base_values WHERE sku=?), {f})" for f in STORE_FIELDS)
        self.cur.execute(f"UPDATE products SET {fields} WHERE sku=?", (*[sku, sku] * len(STORE_FIELDS), sku))

    # ---- a snapshot replaces everything ------------------------------------------------------
    def keep_only_products(self, skus: set[str]) -> int:
        """Delete every product not in skus (a head-office snapshot names all the store sells)."""
        gone = [r[0] for r in self.cur.execute("SELECT sku FROM products") if r[0] not in skus]
        for sku in gone:
            self.delete_product(sku)
        return len(gone)

    def clear_all_merch(self) -> None:
        self.cur.execute("DELETE FROM merch")


def peek(folder: Path, sql: str, default=0):
    """One value read from a catalogue as another process sees it (read-only, beside a writer that
    may not have created it yet): how tests and benchmarks watch an import or a sync from outside."""
    db = Path(folder) / DB_NAME
    if not db.exists():
        return default
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute(sql).fetchone()
            return row[0] if row and row[0] is not None else default
        finally:
            con.close()
    except sqlite3.OperationalError:        # no tables yet
        return default


def _as_arrays(rows: list) -> tuple[np.ndarray, np.ndarray]:
    """(product_id, float32 bytes) rows -> ids [n], vectors [n, dim]."""
    if not rows:
        return np.empty(0, np.int64), np.empty((0, 0), np.float32)
    return np.fromiter((r[0] for r in rows), np.int64, len(rows)), np.stack([np.frombuffer(r[1], np.float32) for r in rows])


def damaged(db: Path, e: Exception) -> CatalogDamaged:
    return CatalogDamaged(f"{db}: the catalogue file is damaged ({e}). Move it away and build it again: "
                          f"`signage catalog import CSV --catalog {db.parent}` (a store's sync then gets "
                          f"head office's catalogue back with its next snapshot: `signage compact` at head office)")


class Catalog:
    def __init__(self, folder: Path, index_params: IndexParams = IndexParams(), create: bool = False,
                 reader: bool = False):
        """reader=True: the kiosk's way in. The catalogue is opened read-only (SQLite refuses any
        write from this process) while `signage sync` writes it: a WAL reader sees each committed
        delta whole, and needs only the -shm file (which SQLite keeps, not this code). Only where
        even that is impossible (a read-only disk) is the last good catalogue served frozen."""
        self.dir = Path(folder)
        db = self.dir / DB_NAME
        if self.dir.exists() and not self.dir.is_dir():
            raise BadInput(f"{self.dir} is a file, not a catalogue folder: give --catalog (catalog_dir) a folder")
        if not db.is_file():
            if not create:
                raise CatalogMissing(f"no catalogue in {self.dir}: import one with "
                                     f"`signage catalog import CSV --catalog {self.dir}`")
            self.dir.mkdir(parents=True, exist_ok=True)
        self.index_params = index_params
        self.images = ImageStore(self.dir)
        self.reader = reader
        self.read_only = False      # True: frozen (immutable), no other process's change is seen
        try:
            if reader:
                self.db = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False,
                                          isolation_level=None)
                self.db.row_factory = sqlite3.Row
                self.db.execute("SELECT COUNT(*) FROM meta").fetchone()   # fails here, not mid-search
            else:
                self.db = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
                self.db.row_factory = sqlite3.Row
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")   # a committed catalogue change survives power loss
                self.db.execute("PRAGMA foreign_keys=ON")
                self.db.executescript(SCHEMA)
                migrate(self.db)
        except sqlite3.OperationalError as e:
            if "not a database" in str(e) or "malformed" in str(e):
                raise damaged(db, e) from None
            if create or not db.is_file():
                raise
            # A read-only disk with no -shm to share: immutable=1 is safe only because nothing
            # can write this file either; the kiosk serves the last good catalogue.
            self.db = sqlite3.connect(f"file:{db}?immutable=1", uri=True, check_same_thread=False,
                                      isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.read_only = True
        except sqlite3.DatabaseError as e:
            raise damaged(db, e) from None
        self._lock = threading.RLock()
        self._cache: dict[int, Product] = {}
        self._cache_version = -1
        self._index: VectorIndex | None = None
        self._index_model: str | None = None
        self._index_gen = -1
        self._saved_gen = -1         # the generation of the index file this process last wrote or read
        self._saved_at = 0.0
        self.index_rebuilt = False   # True when the last load had to rebuild from SQLite

    def close(self) -> None:
        self.save_index()
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

    @property
    def sync_seq(self) -> int:
        """The last head-office delta applied of the store's own stream (0: none)."""
        return self.seq_of(OWN_STREAM)

    def seq_of(self, stream: str) -> int:
        return int(self.meta(SEQ_KEYS[stream]) or 0)

    @property
    def follows_shared(self) -> bool:
        return self.meta(SEQ_KEYS[SHARED_STREAM]) != ""

    # ---- changes: one transaction each -----------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Writer]:
        """All changes made through the Writer commit together, with the catalogue version bumped
        (and the vector generation when vectors changed), or none does."""
        with self._lock:
            cur = self.db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            w = Writer(cur)
            try:
                yield w
                cur.execute("UPDATE meta SET value=CAST(value AS INTEGER)+1 WHERE key='catalog_version'")
                if w.vectors_changed:
                    cur.execute("UPDATE meta SET value=CAST(value AS INTEGER)+1 WHERE key='vector_generation'")
                    gen = int(cur.execute("SELECT value FROM meta WHERE key='vector_generation'").fetchone()[0])
                    cur.executemany("INSERT INTO vector_changes VALUES (?,?,?)",
                                    [(gen, pid, int(gone)) for pid, gone in w.changed_ids.items()])
                    cur.execute("DELETE FROM vector_changes WHERE generation <= ?", (gen - CHANGES_KEPT,))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def upsert(self, batch: list[tuple[Product, np.ndarray | None, str]]) -> int:
        """Insert or update products (and their vectors) in one transaction; bumps the version."""
        if not batch:
            return self.version
        with self.transaction() as w:
            for product, vector, model_version in batch:
                w.upsert_product(product, vector, model_version)
        return self.version

    def delete(self, skus: list[str]) -> int:
        n = sum(1 for s in skus if self.get(s) is not None)
        if n:
            with self.transaction() as w:
                for s in skus:
                    w.delete_product(s)
        return n

    def upsert_look(self, look_id: str, name: str, skus: list[str]) -> int:
        with self.transaction() as w:
            w.upsert_look(look_id, name, skus)
        return self.version

    def upsert_looks(self, looks) -> int:
        """Add or update curated looks (anything with look_id, name, skus), in one transaction."""
        with self.transaction() as w:
            for look in looks:
                w.upsert_look(look.look_id, look.name, look.skus)
        return self.version

    def replace_looks(self, looks) -> int:
        """The curated looks become exactly these (look_id, name, skus), in one transaction."""
        with self.transaction() as w:
            w.delete_all_looks()
            for look in looks:
                w.upsert_look(look.look_id, look.name, look.skus)
        return self.version

    def delete_look(self, look_id: str) -> int:
        with self.transaction() as w:
            w.delete_look(look_id)
        return self.version

    def set_merch(self, kind: str, target: str, action: str, weight: float = 0.0) -> int:
        if not -MERCH_MAX_WEIGHT <= weight <= MERCH_MAX_WEIGHT:
            raise ValueError(f"a merch weight goes from {-MERCH_MAX_WEIGHT:g} to {MERCH_MAX_WEIGHT:g}, not {weight:g}")
        with self.transaction() as w:
            w.set_merch(kind, target, action, weight)
        return self.version

    def clear_merch(self, kind: str, target: str, action: str | None = None) -> int:
        with self.transaction() as w:
            w.clear_merch(kind, target, action)
        return self.version

    # ---- images --------------------------------------------------------------------------
    def store_image(self, data: bytes, sha256: str, suffix: str) -> str:
        """Content-addressed copy inside the catalogue, so the store needs nothing outside it."""
        return self.images.put(data, sha256, suffix)

    def image_shas(self) -> set[str]:
        """The images the catalogue's products show."""
        return {r[0] for r in self.db.execute("SELECT DISTINCT image_sha256 FROM products WHERE image_sha256 != ''")}

    def prune_images(self, keep: set[str] = frozenset()) -> int:
        """Delete the image files no product shows (and not in keep): a store keeps what it sells."""
        used = self.image_shas() | set(keep)
        gone = [sha for sha in self.images.shas() if sha not in used]
        for sha in gone:
            self.images.remove(sha)
        return len(gone)

    def image_path(self, product: Product) -> Path | None:
        return self.images.path(product.image) if product.image else None

    # ---- products ------------------------------------------------------------------------
    def get(self, sku: str) -> Product | None:
        row = self.db.execute("SELECT * FROM products WHERE sku=?", (sku,)).fetchone()
        return row_to_product(row) if row else None

    def by_ids(self, ids) -> dict[int, Product]:
        """Products by row id. Kept in memory per catalogue version: the live loop asks for the
        same few hundred neighbours frame after frame, and building each from its row cost
        ~3 ms per search of 400 (half of find similar's time)."""
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        version = self.version      # any change (here or by the sync process) starts afresh
        if version != self._cache_version or len(self._cache) > PRODUCT_CACHE:
            self._cache, self._cache_version = {}, version
        missing = [i for i in ids if i not in self._cache]
        if missing:
            q = f"SELECT * FROM products WHERE id IN ({','.join('?' * len(missing))})"
            self._cache.update({r["id"]: row_to_product(r) for r in self.db.execute(q, missing)})
        return {i: self._cache[i] for i in ids if i in self._cache}

    def count(self) -> int:
        """How many products the catalogue holds."""
        return self.db.execute("SELECT COUNT(*) FROM products").fetchone()[0]

    def products(self) -> list[Product]:
        return [row_to_product(r) for r in self.db.execute("SELECT * FROM products ORDER BY sku")]

    def has_vector(self, sku: str, model_version: str, image_sha256: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM products p JOIN vectors v ON v.product_id=p.id "
            "WHERE p.sku=? AND p.image_sha256=? AND v.model_version=?", (sku, image_sha256, model_version)).fetchone()
        return row is not None

    # ---- curated looks and merchandising ---------------------------------------------------
    def looks(self) -> dict[str, tuple[str, list[str]]]:
        """look_id -> (name, skus)."""
        out: dict[str, tuple[str, list[str]]] = {lid: (name, []) for lid, name in self.db.execute(
            "SELECT look_id, name FROM looks ORDER BY look_id")}
        for lid, sku in self.db.execute("SELECT look_id, sku FROM look_items ORDER BY look_id, sku"):
            out[lid][1].append(sku)
        return out

    def merch(self) -> list[tuple[str, str, str, float]]:
        return [tuple(r) for r in self.db.execute("SELECT kind, target, action, weight FROM merch")]

    # ---- vectors and index ---------------------------------------------------------------
    def vectors(self, model_version: str) -> tuple[np.ndarray, np.ndarray]:
        return _as_arrays(self.db.execute("SELECT product_id, vector FROM vectors WHERE model_version=? "
                                          "ORDER BY product_id", (model_version,)).fetchall())

    def vectors_of(self, ids: np.ndarray, model_version: str) -> tuple[np.ndarray, np.ndarray]:
        """The stored vectors of these products (a compact index's candidates, to re-rank; a
        delta's changes), asked CHUNK ids at a time (SQLite caps the variables of one query)."""
        rows = []
        for c in np.array_split(ids, max(1, -(-len(ids) // CHUNK))):
            rows += self.db.execute(f"SELECT product_id, vector FROM vectors WHERE model_version=? AND product_id IN "
                                    f"({','.join('?' * len(c))})", (model_version, *map(int, c))).fetchall()
        return _as_arrays(rows)

    def vectors_by_product(self) -> dict[int, tuple[bytes, str]]:
        """product id -> (float32 bytes, model version), whatever the model."""
        return {pid: (blob, mv) for pid, mv, blob in
                self.db.execute("SELECT product_id, model_version, vector FROM vectors")}

    def model_versions(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("SELECT model_version, COUNT(*) FROM vectors GROUP BY 1")}

    def _catch_up(self, idx: VectorIndex, model_version: str, since: int, generation: int) -> bool:
        """Bring an index of generation `since` to `generation` in place, from vector_changes:
        the products changed lose their old vectors and get their new ones (if of this model).
        False when the log does not reach back that far (then the index is rebuilt)."""
        try:
            rows = self.db.execute("SELECT generation, product_id, gone FROM vector_changes WHERE generation > ? "
                                   "ORDER BY generation", (since,)).fetchall()
        except sqlite3.OperationalError:     # a catalogue from before the log
            return False
        if {r[0] for r in rows} != set(range(since + 1, generation + 1)) or not idx.updatable:
            return False
        changed = np.array(sorted({r[1] for r in rows}), np.int64)
        now, vecs = self.vectors_of(changed, model_version)
        if len(now) and vecs.shape[1] != idx.dim:
            return False
        if len(changed):
            idx.remove(changed)
        if len(now):
            idx.add(now, vecs)
        return True

    def index(self, model_version: str) -> VectorIndex:
        """The FAISS index for this model version: the one in memory brought up to date with the
        vector changes since (a delta of 1,000 products into 100,000 updates, not rebuilds), else
        loaded from its file (and brought up to date the same way), else rebuilt from SQLite."""
        with self._lock:
            generation = self.vector_generation   # another process (catalogue sync) may have moved it
            if self._index is not None and self._index_model == model_version and self._index_gen == generation:
                return self._index
            if (self._index is not None and self._index_model == model_version and self._index_gen < generation
                    and self._catch_up(self._index, model_version, self._index_gen, generation)):
                self._index_gen = generation
                self.index_rebuilt = False
                self._save_index(self._index, generation, model_version)
                return self._index
            path = self.dir / INDEX_NAME
            self.index_rebuilt = False
            try:
                idx, header = VectorIndex.load(path, self.index_params)
                # a file some generations old (saved less often than deltas come, or a kill -9
                # before the next save) is brought up to date from the log, not rebuilt
                if header.model_version != model_version or not (
                        header.generation == generation or (header.generation < generation and self._catch_up(
                            idx, model_version, header.generation, generation))):
                    raise IndexCorrupt("stale")
                self._saved_gen = header.generation
            except IndexCorrupt:
                idx = self._build_index(model_version)
                self.index_rebuilt = True
                if idx.count:
                    self._save_index(idx, generation, model_version, now=True)
            self._index, self._index_model, self._index_gen = idx, model_version, generation
            return idx

    def _build_index(self, model_version: str) -> VectorIndex:
        """A fresh index of this model's vectors. A compact one (past index.compact_from) is
        trained on a sample and filled in chunks straight from SQLite: at a million products the
        vectors are 5.6 GB, more than a store PC holds."""
        all_ids = np.fromiter((r[0] for r in self.db.execute(
            "SELECT product_id FROM vectors WHERE model_version=? ORDER BY product_id", (model_version,))), np.int64)
        first = self.vectors_of(all_ids[:1], model_version)[1] if len(all_ids) else None
        probe = VectorIndex(first.shape[1] if first is not None else 1, self.index_params)
        if not probe.wants_compact(len(all_ids)):
            ids, vecs = self.vectors(model_version)
            return probe.build(ids, vecs)
        sample_ids = sample_rows(all_ids, probe.sample_size(len(all_ids)))
        sample = self.vectors_of(sample_ids, model_version)[1]
        chunks = (self.vectors_of(c, model_version) for c in np.array_split(all_ids, -(-len(all_ids) // CHUNK)))
        return probe.build_compact(len(all_ids), sample, chunks)

    def _save_index(self, idx: VectorIndex, generation: int, model_version: str, now: bool = False) -> None:
        """The writer (import, sync) keeps the file for the next start: at once after a rebuild,
        else at most every INDEX_SAVE_S (a 100k index is a 544 MB write, the bulk of a delta's
        time) and before the log could no longer bring it up to date; and at close()."""
        if self.reader:
            return
        due = (now or time.monotonic() - self._saved_at >= INDEX_SAVE_S
               or generation - self._saved_gen >= CHANGES_KEPT // 2)
        if not due:
            return
        try:
            idx.save(self.dir / INDEX_NAME, generation, model_version)
            self._saved_gen, self._saved_at = generation, time.monotonic()
        except OSError:
            pass   # read-only or full disk: search from memory, the store keeps working

    def save_index(self) -> None:
        """Write the index file now if it is behind (a clean stop of the sync daemon)."""
        with self._lock:
            if self._index is not None and self._saved_gen != self._index_gen:
                self._save_index(self._index, self._index_gen, self._index_model, now=True)

    def search(self, vector: np.ndarray, k: int, model_version: str) -> list[tuple[Product, float]]:
        with self._lock:     # the index is updated in place (index()): never while it is searched
            idx = self.index(model_version)
            if idx.count == 0 or idx.dim != vector.shape[-1]:
                return []
            ids, scores = idx.search(vector, k, exact=lambda c: self.vectors_of(c, model_version))
        found = self.by_ids(ids)
        return [(found[int(i)], float(s)) for i, s in zip(ids, scores) if int(i) in found]

    def stats(self) -> dict:
        n = self.count()
        in_stock = self.db.execute("SELECT COUNT(*) FROM products WHERE stock>0").fetchone()[0]
        cats = {r[0] or "(none)": r[1] for r in self.db.execute(
            "SELECT category, COUNT(*) FROM products GROUP BY 1 ORDER BY 2 DESC")}
        index_file = self.dir / INDEX_NAME
        return {"catalog_dir": str(self.dir), "catalog_version": self.version, "products": n,
                "in_stock": in_stock, "categories": cats, "vectors": self.model_versions(),
                "index_bytes": index_file.stat().st_size if index_file.exists() else 0,
                "disk_free_bytes": shutil.disk_usage(self.dir).free}
