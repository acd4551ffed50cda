"""The back office's batch job: new arrivals in (a folder of photos, or a CSV of sku, image,
optional name and any columns already filled), one row of tags each out, in the retailer's own
taxonomy as its tagged catalogue teaches it (edge/styling/learned.py).

Every row is written (and flushed) as soon as it is tagged, so a killed run continues where it
stopped: the next run reads what the output holds and tags only what it lacks, never a photo
twice. A photo that cannot be read is a row with its reason, never a stopped job. A tag whose
calibrated confidence is under `REVIEW_BELOW` is flagged for a merchandiser to review.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..catalog.importer import LIST_SEP, split_list
from ..catalog.store import Catalog
from ..errors import BadImage, BadInput
from ..files import atomic_write, plain_cell, safe_cell
from ..types import Item
from ..vision.colors import names_of_shares, palette_name
from ..vision.embed import square_canvas, to_tensor
from ..vision.imageio import read_image
from .learned import ColumnModel, features, says
from .namewords import NameWords
from .tagging import describe

# A tag the cross-validation was right on less often than this, at its score, goes to review.
# bench/backoffice.py reports what share that flags and how right the unflagged tags are.
REVIEW_BELOW = 0.8
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
COLUMNS = ("category", "gender", "season", "colors")  # the catalogue CSV's own column names (colors: the first)
MIN_TAG_PRODUCTS = 5                                    # a free tag on fewer products is not learned
FEATURE_CACHE = "tagging-features.npz"                  # in the catalogue folder: catalogue_features
FEATURES_VERSION = 3                                    # how a photo's features are read (3: with the tagger model's)


@dataclass
class NewProduct:
    sku: str
    image: str
    name: str = ""
    given: dict = field(default_factory=dict)     # columns already filled: kept, not guessed


@dataclass
class TaggedRow:
    sku: str
    image: str
    name: str = ""
    tags: dict = field(default_factory=dict)          # column -> value
    confidence: dict = field(default_factory=dict)    # column -> calibrated confidence (given: 1.0)
    review: list = field(default_factory=list)        # columns under REVIEW_BELOW
    description: str = ""
    words: list = field(default_factory=list)         # what the catalogue's names say of similar products
    error: str = ""                                   # why this row has no tags


# Weight of the tagger's features beside the embedder's joined vector (unit length) in a photo's
# vector. Chosen on the tune half of bench/backoffice.py (5-fold, 1466 photos, photo alone): the
# embedder alone gave category 0.747, footwear types 0.690, gender 0.812, first colour 0.652; with
# the tagger at 0.8 x sqrt(0.65) (its share in the embedder's vector): 0.776, 0.756, 0.821, 0.662
# (at 260 px, the size Lite2 was trained at: 0.776, 0.731, 0.818, 0.665, and 1.5x the time).
TAGGER_WEIGHT = 0.65


class WholePhoto:
    """A shop photo -> the vector its tags are learned from. A shop photo (a model wearing it, a
    bag on white) is the product, so the whole photo is read, and with its mirror image (a shoe
    facing left is the same product facing right; on the tune half the mirror lifted footwear
    types 0.562 -> 0.603, category 0.724 -> 0.735, gender 0.799 -> 0.814). Two looks, joined: the
    kiosk's embedder (its CNN fine-tuned on garment categories, and the item's colour histogram)
    and the tagger model (EfficientNet-Lite2 as ImageNet trained it, which still sees what the
    fine-tune narrowed away), weighted TAGGER_WEIGHT."""

    def __init__(self, vision):
        self.vision = vision
        compiled = vision.models.compiled("tagger")     # a missing model names the command that builds it
        self.side = compiled.inputs[0].get_partial_shape()[2].get_length()
        self.request = compiled.create_infer_request()
        self.version = vision.models.info("tagger").version

    def embedder_look(self, bgr: np.ndarray) -> np.ndarray:
        """The kiosk's embedder on the photo and its mirror image (unit length): the whole vector
        before the tagger model (bench/backoffice.py --speed times it alone)."""
        box = Item("garment", (0, 0, bgr.shape[1], bgr.shape[0]), 1.0)
        return _unit(self.vision.embed(bgr, box).vector + self.vision.embed(_mirror(bgr), box).vector)

    def _tagger(self, bgr: np.ndarray) -> np.ndarray:
        self.request.infer({0: to_tensor(square_canvas(bgr), self.side)[None]})
        return _unit(np.array(self.request.get_output_tensor(0).data[0], np.float32))

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        tagger = _unit(self._tagger(bgr) + self._tagger(_mirror(bgr)))
        return np.concatenate([self.embedder_look(bgr), TAGGER_WEIGHT * tagger]).astype(np.float32)


def _mirror(bgr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(bgr[:, ::-1])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def colour_features(photo: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """The colour column's photo features: the photo's vector and its item's palette shares (square
    root, as the colour histogram is): on the tune half they lifted the catalogue's colour word,
    mapped to the palette, from 0.61 to 0.65 with the photo alone."""
    return np.concatenate([photo, np.sqrt(shares)]).astype(np.float32)


def palette_words(words: list[str], shares: np.ndarray) -> dict[str, str]:
    """Each of the catalogue's colour words -> the palette name the kiosk shows for it: a palette
    name is itself (any case); any other word (the retailer's own, in any language: "Navy Blue",
    "Maroon", "藏青") the name its products' own pixels most often get first. Learned from the
    catalogue, so nothing about a retailer's words is built in."""
    firsts: dict[str, Counter] = {}
    for word, share in zip(words, shares):
        if word and share.any():
            firsts.setdefault(word, Counter())[names_of_shares(share)[0]] += 1
    out = {}
    for word in {w for w in words if w}:
        if palette_name(word):
            out[word] = palette_name(word)
        elif word in firsts:
            out[word] = max(sorted(firsts[word]), key=firsts[word].get)      # a tie: the first name
    return out


def features_version(photo: WholePhoto) -> str:
    """What a catalogue photo's features depend on: the models, the settings that find and embed
    its item, and how this module reads them (FEATURES_VERSION)."""
    vision = photo.vision
    info = vision.models.info
    parts = [str(FEATURES_VERSION), vision.model_version, photo.version, info("detector").version,
             info("pose").version, repr(vision.cfg.detector), repr(vision.cfg.pose), repr(vision.cfg.embedding)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def catalogue_features(catalog: Catalog, photo: WholePhoto, products: list,
                       progress: Callable) -> tuple[np.ndarray, np.ndarray]:
    """Each product's (whole-photo vector, colour shares), in `products`' order. Kept in the
    catalogue folder (FEATURE_CACHE, by the image's content name and `features_version`), so a
    second batch on the same catalogue, or a killed one resumed, learns without reading its photos
    again; only new photos are read (`progress` wraps those)."""
    path, version = catalog.dir / FEATURE_CACHE, features_version(photo)
    kept: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["version"]) == version:
                kept = {str(k): (v, sh) for k, v, sh in zip(z["images"], z["photos"], z["shares"])}
    except (OSError, KeyError, ValueError):
        pass                     # none yet, or unreadable: the photos are read
    todo = [p for p in products if p.image not in kept]
    for p in progress(todo):
        bgr = read_image(str(catalog.image_path(p)))
        kept[p.image] = photo(bgr), photo.vision.colour_shares(bgr)
    photos = np.stack([kept[p.image][0] for p in products])
    shares = np.stack([kept[p.image][1] for p in products])
    if todo:                     # the catalogue's photos now, written whole (a deleted product's go)
        images = sorted({p.image for p in products})
        buf = io.BytesIO()
        np.savez(buf, version=np.array(version), images=np.array(images),
                 photos=np.stack([kept[i][0] for i in images]), shares=np.stack([kept[i][1] for i in images]))
        try:
            atomic_write(path, [buf.getvalue()])
        except OSError:
            pass                 # a catalogue folder this user may not write: read again next time
    return photos, shares


class CatalogueTagger:
    """Learns the catalogue's tag columns once (seconds), then tags photos one by one."""

    def __init__(self, catalog: Catalog, vision, text, progress: Callable | None = None):
        self.vision, self.text, self.photo = vision, text, WholePhoto(vision)
        products = [p for p in catalog.products() if catalog.image_path(p) is not None]
        if not products:
            raise BadInput(f"the catalogue in {catalog.dir} has no product with a photo to learn tags from")
        photos, shares = catalogue_features(catalog, self.photo, products, progress or (lambda x: x))
        names = self._names([p.name for p in products])
        self.name_dim = names.shape[1]
        values = {"category": [p.category for p in products], "gender": [p.gender for p in products],
                  "season": [p.season for p in products], "colors": [p.colors[0] if p.colors else "" for p in products]}
        self.palette_of = palette_words(values["colors"], shares)
        tag_counts: dict[str, int] = {}
        for p in products:
            for t in set(p.tags):
                tag_counts[t] = tag_counts.get(t, 0) + 1
        for t in sorted(t for t, n in tag_counts.items() if n >= MIN_TAG_PRODUCTS):
            values[f"tag:{t}"] = ["yes" if t in p.tags else "no" for p in products]
        # the values a name can say of each column: its own values; a free tag, its own words
        self.values_of = {c: [c[4:]] if c.startswith("tag:") else sorted({y for y in ys if y})
                          for c, ys in values.items()}
        self.models: dict[bool, dict[str, ColumnModel]] = {}
        coloured = np.stack([colour_features(v, sh) for v, sh in zip(photos, shares)])
        for with_name in (False, True):
            X = np.stack([features(v, n if with_name else None, self.name_dim) for v, n in zip(photos, names)])
            Xc = np.stack([features(v, n if with_name else None, self.name_dim) for v, n in zip(coloured, names)])
            self.models[with_name] = {}
            for c, ys in values.items():
                if sum(bool(y) for y in ys) < 2:
                    continue
                Xi = Xc if c == "colors" else X
                if with_name:
                    Xi = np.hstack([Xi, np.stack([says(p.name, self.values_of[c]) for p in products])])
                if (m := self._fit(Xi, ys)) is not None:
                    self.models[with_name][c] = m
        self.columns = [c for c in COLUMNS if c in self.models[False]]
        self.tags = [c[4:] for c in self.models[False] if c.startswith("tag:")]
        self.name_words = NameWords([p.name for p in products], photos,
                                    {v for ys in values.values() for v in ys} | set(tag_counts))

    @staticmethod
    def _fit(X: np.ndarray, ys: list[str]) -> ColumnModel | None:
        rows = [i for i, y in enumerate(ys) if y]          # products with the column filled
        return ColumnModel.fit(X[rows], [ys[i] for i in rows])

    def reads_name(self, name: str) -> bool:
        """Whether a product's name is read with its photo (there is one, and a model to read it)."""
        return bool(name) and self.text is not None

    def _names(self, names: list[str]) -> np.ndarray:
        return self.text(names) if self.text is not None else np.zeros((len(names), 0), np.float32)

    def __call__(self, bgr: np.ndarray, name: str = "", given: dict | None = None) -> TaggedRow:
        given = {k: v for k, v in (given or {}).items() if v}
        with_name = self.reads_name(name)
        photo, text = self.photo(bgr), self._names([name])[0] if with_name else None
        x = features(photo, text, self.name_dim)
        shares = self.vision.colour_shares(bgr) if "colors" in self.columns and "colors" not in given else None
        row = TaggedRow("", "", name)
        for column, model in self.models[with_name].items():
            if column in given:
                row.tags[column], row.confidence[column] = given[column], 1.0
                continue
            xc = features(colour_features(photo, shares), text, self.name_dim) if column == "colors" else x
            if with_name:
                xc = np.concatenate([xc, says(name, self.values_of[column])])
            guess = model.predict(xc[None])[0]
            if column.startswith("tag:"):
                p_yes = guess.confidence if guess.value == "yes" else 1 - guess.confidence
                row.confidence[column] = round(max(p_yes, 1 - p_yes), 3)
                if p_yes >= 0.5:
                    row.tags.setdefault("tags", []).append(column[4:])
                if max(p_yes, 1 - p_yes) < REVIEW_BELOW:
                    row.review.append(column)
                continue
            row.tags[column], row.confidence[column] = guess.value, guess.confidence
            if guess.confidence < REVIEW_BELOW:
                row.review.append(column)
        # given colours may be several ("black;white", as the catalogue CSV has them): the first names it
        colours = split_list(row.tags.get("colors", ""))
        if colours:                  # the kiosk's name for it (the photo's own for a word never learned)
            word = colours[0]
            row.tags["palette_color"] = (palette_name(word) or self.palette_of.get(word) or names_of_shares(
                shares if shares is not None else self.vision.colour_shares(bgr))[0])
        # the description says only what the tags support: a colour still to review is left out
        sure_colours = colours if "colors" not in row.review else []
        row.words = self.name_words(photo, name)
        row.description = ", ".join([describe(row.tags.get("category", ""), sure_colours),
                                     *row.words])
        return row


# ---- the batch: input, resume, output --------------------------------------------------------------
def read_new(path: Path) -> list[NewProduct]:
    """A folder of photos (sku = file name without its suffix) or a CSV with sku and image columns
    (image relative to the CSV, as the catalogue import reads it)."""
    if path.is_dir():
        return [NewProduct(p.stem, str(p)) for p in sorted(path.iterdir()) if p.suffix.lower() in PHOTO_SUFFIXES]
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in reader.fieldnames or []]
            if "image" not in header:
                raise BadInput(f"{path}: header lacks the column image (sku, image, optional name and tags)")
            out = []
            for line, r in enumerate(reader, start=2):
                r = {(k or "").strip(): (v or "").strip() for k, v in r.items() if k is not None}
                image = r.get("image", "")
                full = image if not image or Path(image).is_absolute() else str(path.parent / image)
                given = {k: r[k] for k in COLUMNS if r.get(k)}
                out.append(NewProduct(r.get("sku") or f"line-{line}", full, r.get("name", ""), given))
            return out
    except UnicodeDecodeError as e:
        raise BadInput(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except csv.Error as e:
        raise BadInput(f"{path}: not a readable CSV ({e})") from None


def done_keys(out_csv: Path) -> set[str]:
    """What an earlier (maybe killed) run already wrote: sku and image of each complete row."""
    if not out_csv.is_file():
        return set()
    with open(out_csv, newline="", encoding="utf-8") as f:
        return {key(r["sku"], r["image"]) for r in csv.DictReader(f) if r.get("sku") is not None}


def key(sku: str, image: str) -> str:
    return hashlib.sha256(f"{sku}\0{image}".encode()).hexdigest()


def tag_columns(tagger: CatalogueTagger) -> list[str]:
    """The tag columns written: the catalogue's own, and, when its colour words are its own, the
    palette name the kiosk shows beside its colour (a catalogue in palette names needs no second)."""
    own = any(word != name for word, name in tagger.palette_of.items())
    return [n for c in tagger.columns for n in ([c, "palette_color"] if c == "colors" and own else [c])]


def csv_fields(tagger: CatalogueTagger) -> list[str]:
    return ["sku", "image", "name", *tag_columns(tagger), *(["tags"] if tagger.tags else []), "description",
            "words", *[f"{c}_confidence" for c in tagger.columns], "review", "error"]


# The CSV's list cells and what separates their items (tags: as the catalogue CSV does).
LIST_CELLS = {"tags": LIST_SEP, "words": "|", "review": " "}


def csv_row(row: TaggedRow, tagger: CatalogueTagger) -> dict:
    out = {"sku": row.sku, "image": row.image, "name": row.name, "description": row.description,
           "words": LIST_CELLS["words"].join(row.words), "error": row.error,
           "review": LIST_CELLS["review"].join(c.removeprefix("tag:") for c in row.review)}
    out.update({c: row.tags.get(c, "") for c in tag_columns(tagger)})
    out.update({f"{c}_confidence": row.confidence.get(c, "") for c in tagger.columns})
    if tagger.tags:
        out["tags"] = LIST_CELLS["tags"].join(row.tags.get("tags", []))
    return {k: safe_cell(v) for k, v in out.items()}


def tag_batch(tagger: CatalogueTagger, items: list[NewProduct], out_csv: Path,
              progress: Callable[[Iterator], Iterator] = lambda it: it) -> dict:
    """Tags what out_csv does not hold yet, appending a row for each as it goes. Returns counts."""
    done = done_keys(out_csv)
    todo = [n for n in items if key(n.sku, n.image) not in done]
    fields = csv_fields(tagger)
    fresh = not out_csv.is_file() or out_csv.stat().st_size == 0
    counts = {"new": len(items), "already_tagged": len(items) - len(todo), "tagged": 0, "bad": 0, "review": 0,
              "photo_alone": 0}
    t0 = time.perf_counter()
    with open(out_csv, "a", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        if fresh:
            w.writeheader()
        for n in progress(todo):
            try:
                row = tagger(read_image(n.image), n.name, n.given)
            except (BadImage, OSError) as e:
                row = TaggedRow(n.sku, n.image, n.name, error=str(e) if isinstance(e, BadImage) else
                                f"cannot read {n.image}: {e.strerror or e}")
                counts["bad"] += 1
            else:
                counts["tagged"] += 1
                counts["review"] += bool(row.review)
                counts["photo_alone"] += not tagger.reads_name(n.name)
            row.sku, row.image = n.sku, n.image
            w.writerow(csv_row(row, tagger))
            f.flush()
    counts["seconds"] = round(time.perf_counter() - t0, 2)
    return counts


def read_rows(out_csv: Path) -> list[dict]:
    with open(out_csv, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_json(rows: list[dict], path: Path) -> None:
    """The batch's CSV rows as JSON for a shop system: values as tagged (no spreadsheet apostrophe),
    confidences as numbers (`confidence`: column -> value), tags, words and review as lists."""
    out = []
    for r in rows:
        r = {k: plain_cell(v or "") for k, v in r.items()}
        row = {k: v for k, v in r.items() if not k.endswith("_confidence") and k not in LIST_CELLS}
        row.update({k: [x for x in r[k].split(sep) if x] for k, sep in LIST_CELLS.items() if k in r})
        row["confidence"] = {k.removesuffix("_confidence"): float(v) for k, v in r.items() if k.endswith("_confidence") and v}
        out.append(row)
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")


def progress_bar(total_label: str = "tagging"):
    """tqdm on stderr: count, rate and ETA."""
    from tqdm import tqdm
    return lambda it: tqdm(it, desc=total_label, unit="photo", file=sys.stderr)


def run_batch(make_tagger: Callable, source: Path, out_csv: Path, json_out: Path | None = None,
              review: Path | None = None, progress: bool = True) -> tuple[dict, str]:
    """`signage tag NEW --out FILE.csv`: (what happened, the line that says it)."""
    items = read_new(source)
    tagger = make_tagger(progress_bar("reading catalogue photos") if progress else None)
    counts = tag_batch(tagger, items, out_csv, progress_bar() if progress else (lambda it: it))
    rows = read_rows(out_csv)
    if json_out is not None:
        write_json(rows, json_out)
    if review is not None:
        from .review_sheet import write_review_sheet
        write_review_sheet(rows, tag_columns(tagger) + (["tags"] if tagger.tags else []), review)
    counts["columns"] = tagger.columns
    text = (f"{counts['tagged']} tagged, {counts['bad']} unreadable, {counts['already_tagged']} already in "
            f"{out_csv} ({counts['new']} in all); {counts['review']} to review (a tag under "
            f"{REVIEW_BELOW:.0%} sure); columns: {', '.join(tagger.columns + (['tags'] if tagger.tags else []))}")
    if counts["photo_alone"]:
        # bench/backoffice.py: from the photo alone far fewer tags are right than with the name
        text += (f"\n{counts['photo_alone']} tagged from the photo alone (no name): a `name` column (the product's "
                 "name as the shop will show it) makes their tags surer")
    return counts, text
