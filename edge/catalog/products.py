"""A product as the store sells it, and how it is kept in SQLite (schema and migrations)."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field

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
-- Which products' vectors each vector generation changed (gone: deleted): a process holding the
-- index of an earlier generation updates it in place instead of rebuilding it. The last 64 only.
CREATE TABLE IF NOT EXISTS vector_changes (
    generation INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    gone INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS vector_changes_generation ON vector_changes (generation);
-- A store that follows head office's shared stream (docs/sync.md): what the shared stream says of
-- a product's price, stock and aisle (base), and what this store's own stream says instead
-- (store; NULL: the base holds). The products row holds what the store sells at: store over base.
CREATE TABLE IF NOT EXISTS base_values (
    sku TEXT PRIMARY KEY, price REAL, currency TEXT, stock INTEGER, aisle TEXT
);
CREATE TABLE IF NOT EXISTS store_values (
    sku TEXT PRIMARY KEY, price REAL, currency TEXT, stock INTEGER, aisle TEXT
);
INSERT OR IGNORE INTO meta VALUES ('catalog_version', '0'), ('vector_generation', '0');
"""

# Columns added after a catalogue may already exist in a store: (column, SQL type and default).
ADDED_COLUMNS = (("description", "TEXT NOT NULL DEFAULT ''"),)


def migrate(db: sqlite3.Connection) -> None:
    have = {r[1] for r in db.execute("PRAGMA table_info(products)")}
    for name, decl in ADDED_COLUMNS:
        if name not in have:
            db.execute(f"ALTER TABLE products ADD COLUMN {name} {decl}")


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


COLUMNS = ("sku", "name", "category", "colors", "price", "currency", "stock", "aisle", "image",
           "image_sha256", "gender", "season", "tags", "description", "category_source")


def row_to_product(row: sqlite3.Row) -> Product:
    return Product(
        sku=row["sku"], name=row["name"], category=row["category"], colors=tuple(json.loads(row["colors"])),
        price=row["price"], currency=row["currency"], stock=row["stock"], aisle=row["aisle"],
        image=row["image"], image_sha256=row["image_sha256"], gender=row["gender"], season=row["season"],
        tags=tuple(json.loads(row["tags"])), description=row["description"],
        category_source=row["category_source"], id=row["id"])


def product_row(product: Product) -> list:
    """The values of COLUMNS for one product, lists as JSON text."""
    values = [getattr(product, c) for c in COLUMNS]
    values[COLUMNS.index("colors")] = json.dumps(list(product.colors))
    values[COLUMNS.index("tags")] = json.dumps(list(product.tags))
    return values
