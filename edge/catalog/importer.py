"""`signage catalog import`: a CSV of products with image paths -> the store's catalogue.

Every row is validated; a bad row (or a bad image) is reported with its line number and the
rest are imported. Idempotent on sku: a row whose data and image are unchanged costs nothing.
"""
from __future__ import annotations

import csv
import fcntl
import hashlib
import os
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from ..errors import BadImage, BadInput
from ..ids import SKU_RE, is_store_id
from ..styling.tagging import describe, infer_categories
from ..vision.colors import PALETTE, palette_name
from ..vision.imageio import decode_image, unreadable
from .products import Product
from .store import Catalog

REQUIRED = ("sku", "name", "image")
KNOWN = ("sku", "name", "category", "colors", "price", "currency", "stock", "aisle", "image",
         "gender", "season", "tags", "description")
MAX_IMAGE_BYTES = 20 * 1024 * 1024
# The images an import copied in before their rows were committed, one sha256 a line (in the
# catalogue folder); gone when the import ends. A killed import's copies are deleted by the next.
JOURNAL = "import-journal"
LOCK = "import.lock"


@dataclass
class RowError:
    line: int
    sku: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}" + (f" (sku {self.sku})" if self.sku else "") + f": {self.reason}"


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    catalog_version: int = 0
    cleaned: int = 0      # images a stopped import had copied in with no product row, deleted

    def to_json(self) -> dict:
        return {"rows": self.rows, "imported": self.imported, "unchanged": self.unchanged,
                "rejected": [{"line": e.line, "sku": e.sku, "reason": e.reason} for e in self.errors],
                "catalog_version": self.catalog_version, "cleaned_images": self.cleaned}


LIST_SEP = ";"     # what a list cell (colors, tags) of the catalogue CSV puts between its items


def split_list(text: str) -> tuple[str, ...]:
    """A list cell's items (`LIST_SEP`, or '|' as some exports write it), trimmed, empties left out."""
    return tuple(t.strip() for t in re.split(r"[;|]", text or "") if t.strip())


def find_csv(path: Path) -> Path:
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.csv"))
        if len(found) != 1:
            raise BadInput(f"{path}: expected one .csv file in the folder, found {len(found)}")
        return found[0]
    if not path.is_file():
        raise BadInput(f"{path}: no such file or folder")
    return path


def _price_currency_stock(text) -> tuple[float | None, str, int | None]:
    """A row's price, currency and stock, checked (None / "": not given)."""
    price = None
    if text("price"):
        try:
            price = float(text("price"))
        except ValueError:
            raise BadInput(f"price {text('price')!r} is not a number") from None
        if price < 0 or price != price or price == float("inf"):
            raise BadInput(f"price {text('price')!r} must be zero or more")
    currency = text("currency").upper()
    if currency and not re.fullmatch(r"[A-Z]{3}", currency):
        raise BadInput(f"currency {text('currency')!r} is not a 3-letter ISO code")
    stock = None
    if text("stock"):
        try:
            stock = int(text("stock"))
        except ValueError:
            raise BadInput(f"stock {text('stock')!r} is not a whole number") from None
        if stock < 0:
            raise BadInput(f"stock {stock} is negative")
    return price, currency, stock


def read_store_values(path: Path, known_sku) -> tuple[list[dict], list[RowError]]:
    """Head office's per-store CSV (store,sku,price,currency,stock,aisle): what a store sells
    differently from the shared catalogue; an empty cell: the shared value holds. Returns the
    valid rows and, for every other, its line and reason."""
    csv_path = find_csv(path)
    rows, errors, seen = [], [], {}
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            if not {"store", "sku"} <= set(header):
                raise BadInput(f"{csv_path}: header must have store,sku and any of price,currency,stock,aisle")
            for row in reader:
                row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
                store, sku = row.get("store", ""), row.get("sku", "")
                try:
                    if not is_store_id(store):
                        raise BadInput(f"store {store!r} is not a store id")
                    if not known_sku(sku):
                        raise BadInput(f"unknown sku {sku!r}")
                    if (store, sku) in seen:
                        raise BadInput(f"store {store} and sku {sku} again, first on line {seen[store, sku]}")
                    price, currency, stock = _price_currency_stock(lambda k: row.get(k, ""))
                    if len(row.get("aisle", "")) > 100:
                        raise BadInput("aisle is over 100 characters")
                except BadInput as e:
                    errors.append(RowError(reader.line_num, sku, str(e)))
                    continue
                seen[store, sku] = reader.line_num
                rows.append({"store": store, "sku": sku, "price": price, "currency": currency or None,
                             "stock": stock, "aisle": row.get("aisle") or None})
    except UnicodeDecodeError as e:
        raise BadInput(f"{csv_path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except csv.Error as e:
        raise BadInput(f"{csv_path}: not a readable CSV ({e})") from None
    return rows, errors


def image_problem(text: str, base: Path, images_root: Path | None) -> str | None:
    """Why a row's image path is refused, or None: it must lie under the CSV's folder (or under
    images_root, an explicit option): an absolute or ../ path would copy any photo on this machine
    into the catalogue. The check is on the path as written and as resolved (a symlink the
    retailer put in the folder is theirs to make)."""
    path = Path(text)
    if not path.is_absolute() and ".." not in path.parts:
        return None
    full = os.path.realpath(path if path.is_absolute() else base / path)
    if any(full.startswith(os.path.realpath(root) + os.sep) for root in (base, images_root) if root is not None):
        return None
    return (f"image {text!r} is outside the CSV's folder {base}: write it relative to that folder "
            f"(or allow a folder with --images-root)")


def palette_colours(words: tuple[str, ...]) -> tuple[str, ...]:
    """The palette's names for a row's colours (any case), or BadInput naming the word that is not
    one: the kiosk shows, translates and matches palette names only."""
    out = []
    for word in words:
        name = palette_name(word)
        if name is None:
            raise BadInput(f"colour {word!r} is not one of the palette's names ({', '.join(PALETTE)}); "
                           f"a back office's own colour words: set colour_words: own")
        out.append(name)
    return tuple(out)


def parse_row(line: int, row: dict, base: Path, images_root: Path | None = None,
              own_colours: bool = False) -> tuple[Product, Path]:
    """Validate one CSV row; raises BadInput with the reason."""
    def text(key: str) -> str:
        return (row.get(key) or "").strip()

    sku = text("sku")
    if not sku:
        raise BadInput("sku is empty")
    if not SKU_RE.match(sku):
        raise BadInput(f"sku {sku!r} has characters other than letters, digits, . _ - / or is over 64 long")
    if not text("name"):
        raise BadInput("name is empty")
    price, currency, stock = _price_currency_stock(text)
    stock = stock or 0
    if not text("image"):
        raise BadInput("image is empty")
    why = image_problem(text("image"), base, images_root)
    if why:
        raise BadInput(why)
    image = Path(text("image"))
    image = image if image.is_absolute() else base / image
    colors = split_list(text("colors")) if own_colours else palette_colours(split_list(text("colors")))
    product = Product(sku=sku, name=text("name"), category=text("category"), colors=colors,
                      price=price, currency=currency, stock=stock, aisle=text("aisle"),
                      gender=text("gender"), season=text("season"), tags=split_list(text("tags")),
                      description=text("description"))
    return product, image


def read_row_image(path: Path) -> bytes:
    """A row's image file, or BadImage saying why not (missing, too large, unreadable, a name the
    file system refuses): one bad file is that row's error, never the import's."""
    try:
        if not path.is_file():
            raise BadImage(f"image {path} not found")
        if path.stat().st_size > MAX_IMAGE_BYTES:
            raise BadImage(f"image {path} is over {MAX_IMAGE_BYTES // 2**20} MB")
        return path.read_bytes()
    except OSError as e:
        raise unreadable(path, e) from None


def import_catalog(path: Path, catalog: Catalog | Callable[[], Catalog], vision, progress: bool = True,
                   batch_size: int = 32, log=None, images_root: Path | None = None,
                   own_colours: bool = False) -> ImportReport:
    """Import a CSV of products. catalog: the catalogue, or how to open it (then opened once the
    CSV is read: a CSV that cannot be read leaves no new empty catalogue behind). images_root: a
    folder images may also come from (default: only from under the CSV's own folder).
    own_colours: colour words outside the palette are kept (config colour_words: own)."""
    rows, csv_path = read_rows(path)
    catalog = catalog if isinstance(catalog, Catalog) else catalog()
    with _one_import(catalog, log) as copied:
        report = _import_rows(rows, csv_path.parent, catalog, vision, progress, batch_size, images_root,
                              own_colours, copied)
    report.cleaned = copied.cleaned
    return report


class _CopiedImages:
    """The images this import copies into the catalogue, listed in the journal before each is
    written. Only the importer's own copies are ever deleted here: sync keeps images for deltas
    it has not applied yet, and those must stay."""

    def __init__(self, catalog: Catalog):
        self.catalog, self.path, self.cleaned = catalog, catalog.dir / JOURNAL, 0

    def clean(self) -> int:
        """Delete the journal's images that no product shows (a stopped import's), then the journal."""
        if not self.path.is_file():
            return 0
        used, gone = self.catalog.image_shas(), 0
        for sha in set(self.path.read_text(errors="replace").split()):
            if len(sha) == 64 and sha not in used:
                gone += self.catalog.images.remove(sha)
        self.path.unlink()
        return gone

    def put(self, data: bytes, sha256: str, suffix: str) -> str:
        if self.catalog.images.find(sha256) is None:
            with open(self.path, "a") as f:
                f.write(sha256 + "\n")
        return self.catalog.store_image(data, sha256, suffix)


@contextmanager
def _one_import(catalog: Catalog, log=None) -> Iterator[_CopiedImages]:
    """One import at a time into a catalogue (a second waits), so the journal it finds at its start
    is a stopped import's, never a running one's."""
    with open(catalog.dir / LOCK, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            (log or (lambda m: print(m, file=sys.stderr)))(
                f"another import into {catalog.dir} is running: waiting for it to end")
            fcntl.flock(lock, fcntl.LOCK_EX)
        copied = _CopiedImages(catalog)
        copied.cleaned = copied.clean()
        yield copied
        copied.clean()


def read_rows(path: Path) -> tuple[list[tuple[int, dict]], Path]:
    """(line, row) of a catalogue CSV (or the one CSV in a folder), its header checked."""
    csv_path = find_csv(path)
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise BadInput(f"{csv_path}: header lacks column(s) {', '.join(missing)} "
                               f"(expected {', '.join(KNOWN)})")
            # extra cells land under the key None: kept as such, so the row is refused with its line
            rows = [(reader.line_num, {(k if k is None else k.strip()): v for k, v in r.items()}) for r in reader]
    except UnicodeDecodeError as e:
        raise BadInput(f"{csv_path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except csv.Error as e:
        raise BadInput(f"{csv_path}: not a readable CSV ({e})") from None
    return rows, csv_path


def _import_rows(rows: list[tuple[int, dict]], base: Path, catalog: Catalog, vision, progress: bool,
                 batch_size: int, images_root: Path | None, own_colours: bool,
                 copied: _CopiedImages) -> ImportReport:
    report = ImportReport(rows=len(rows))
    seen: dict[str, int] = {}
    model_version = vision.model_version
    pending: list[tuple[Product, object, str]] = []
    inferred: list[Product] = []

    try:
        from tqdm import tqdm
        bar = tqdm(rows, desc="importing", unit="product", disable=not progress, file=sys.stderr)
    except ImportError:  # pragma: no cover
        bar = rows
    for line, row in bar:
        sku = (row.get("sku") or "").strip()
        try:
            if None in row:
                raise BadInput("more fields than the header has")
            product, image_path = parse_row(line, row, base, images_root, own_colours)
            if sku in seen:
                raise BadInput(f"duplicate sku, first on line {seen[sku]}")
            seen[sku] = line
            data = read_row_image(image_path)
            product.image_sha256 = hashlib.sha256(data).hexdigest()
            old = catalog.get(sku)
            if old is not None and catalog.has_vector(sku, model_version, product.image_sha256):
                product.image = old.image
                if not product.category and old.category_source == "neighbours":
                    product.category, product.category_source = old.category, old.category_source
                    product.description = product.description or old.description
                if not product.colors:
                    product.colors = old.colors
                if product.category and not product.description:
                    product.description = describe(product.category, product.colors)
                if product == old:
                    report.unchanged += 1
                    continue
                pending.append((product, None, model_version))
            else:
                bgr = decode_image(data, str(image_path))
                photo = vision.product_photo(bgr, product.category, colors=not product.colors)
                if photo is None:
                    raise BadImage(f"image {image_path}: no item found in it")
                if not product.colors:
                    product.colors = photo.colors
                product.image = copied.put(data, product.image_sha256, image_path.suffix or ".jpg")
                pending.append((product, photo.vector.vector, model_version))
            if not product.category:
                inferred.append(product)
            elif not product.description:
                product.description = describe(product.category, product.colors)
        except (BadInput, BadImage) as e:
            report.errors.append(RowError(line, sku, str(e)))
            continue
        if len(pending) >= batch_size:
            catalog.upsert(pending)
            report.imported += len(pending)
            pending = []
    catalog.upsert(pending)
    report.imported += len(pending)

    # Rows without a category take the category their visual neighbours have in the catalogue.
    if inferred:
        catalog.upsert([(p, None, model_version) for p in infer_categories(catalog, inferred, model_version)])
    report.catalog_version = catalog.version
    return report


@dataclass
class ReembedReport:
    model_version: str
    reembedded: int = 0
    errors: list[RowError] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"model_version": self.model_version, "reembedded": self.reembedded,
                "skipped": [{"sku": e.sku, "reason": e.reason} for e in self.errors]}


def reembed(catalog: Catalog, vision, batch_size: int = 32, log=None) -> ReembedReport:
    """Vectors for the products that have none from the models shipped now, made from the images
    the catalogue keeps: after a model update a store's catalogue is searchable again without
    head office sending anything. A product whose image is gone is reported and left as it is."""
    model_version = vision.model_version
    report = ReembedReport(model_version)
    rows = catalog.db.execute(
        "SELECT sku FROM products p WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.product_id=p.id "
        "AND v.model_version=?) ORDER BY sku", (model_version,)).fetchall()
    pending: list[tuple[Product, object, str]] = []
    for (sku,) in rows:
        product = catalog.get(sku)
        path = catalog.image_path(product)
        try:
            if path is None or not path.is_file():
                raise BadImage(f"its image {product.image or '(none)'} is not in the catalogue")
            bgr = decode_image(path.read_bytes(), str(path))
            photo = vision.product_photo(bgr, product.category, colors=False)
            if photo is None:
                raise BadImage(f"image {path}: no item found in it")
            pending.append((product, photo.vector.vector, model_version))
        except BadImage as e:
            report.errors.append(RowError(0, sku, str(e)))
            continue
        if len(pending) >= batch_size:
            catalog.upsert(pending)
            report.reembedded += len(pending)
            pending = []
            if log:
                log(f"re-embedded {report.reembedded} of {len(rows)}")
    if pending:
        catalog.upsert(pending)
        report.reembedded += len(pending)
    return report
