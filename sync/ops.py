"""Catalogue operations, defined once: what head office builds, what a store validates, and the one
function that applies them to a catalogue.

On the wire each op is a JSON object with an "op" field (docs/sync.md):
    upsert_product, delete_product, set_price, set_stock, upsert_look, delete_look, set_merch,
    store_values, follow_shared (a store's own stream, when it follows the shared one).
`parse_op(dict)` validates one and returns its typed value (or raises Rejected with the reason);
`op.to_json()` is the wire form (canonical JSON of it is what head office hashes and signs);
`apply_delta` writes a delta's ops through the catalogue's Writer in one transaction.
"""
from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field, replace
from typing import Union

import numpy as np

from edge.catalog.images import image_relpath
from edge.catalog.products import Product
from edge.catalog.merch import MERCH_ACTIONS, MERCH_KINDS, MERCH_MAX_WEIGHT, MERCH_OPS
from edge.ids import OWN_STREAM, SHARED_STREAM
from edge.ids import ID_RE, SHA256_RE, SKU_RE

MAX_VECTOR_DIM = 4096
MAX_AMOUNT = 1_000_000_000       # a price or a stock count past this is a typo (and past SQLite's int64)


class Rejected(Exception):
    """A message that must change nothing; str() is the reason sent back on the status topic."""


# ---- the operations ---------------------------------------------------------------------------
# Each op has a key: what it is about ("p:<sku>", "l:<look_id>", "m:<kind>:<target>:<action>"). Head
# office keeps, per store and key, the hash of what it last sent.
class ProductOp:
    @property
    def key(self) -> str:
        return f"p:{self.sku}"


class LookOp:
    @property
    def key(self) -> str:
        return f"l:{self.look_id}"


DTYPES = {"f32": np.float32, "f16": np.float16}


@dataclass(frozen=True)
class VectorRef:
    model_version: str
    data: str                   # base64 of the vector
    dtype: str = "f32"          # f16: half the bytes on the wire (a store keeps float32 either way)

    def array(self) -> np.ndarray:
        v = np.frombuffer(base64.b64decode(self.data), DTYPES[self.dtype]).astype(np.float32)
        if self.dtype == "f16":
            # catalogue vectors are unit length (inner product = cosine); rounding to float16 moved
            # the length by ~1e-4, enough to rank a product's twin (same photo) above itself
            n = float(np.linalg.norm(v))
            v = v / n if n > 0 else v
        return v

    @classmethod
    def of(cls, blob: bytes, model_version: str, half: bool = False) -> "VectorRef":
        """From head office's float32 bytes; half: sent as float16 (unit vectors lose nothing a
        search can tell: bench/faults.py measures recall@10 of f16 against f32)."""
        if half:
            blob = np.frombuffer(blob, np.float32).astype(np.float16).tobytes()
        return cls(model_version, base64.b64encode(blob).decode(), "f16" if half else "f32")

    def to_json(self) -> dict:
        return {"model_version": self.model_version, self.dtype: self.data}


@dataclass(frozen=True)
class UpsertProduct(ProductOp):
    product: Product            # as the store will sell it (its image path is the store's own)
    vector: VectorRef | None = None

    @property
    def sku(self) -> str:
        return self.product.sku

    @classmethod
    def of(cls, p: Product, vector: VectorRef | None = None) -> "UpsertProduct":
        """The op for a product of head office's catalogue (its local image path stays home)."""
        return cls(replace(p, image="", category_source="catalogue", id=None), vector)

    def to_json(self) -> dict:
        p = self.product
        d = {"op": "upsert_product", "sku": p.sku, "name": p.name, "category": p.category,
             "colors": list(p.colors), "price": p.price, "currency": p.currency, "stock": p.stock,
             "aisle": p.aisle, "gender": p.gender, "season": p.season, "tags": list(p.tags),
             "description": p.description}
        if p.image_sha256:
            d["image_sha256"] = p.image_sha256
        if p.price is None:
            del d["price"]
        if self.vector is not None:
            d["vector"] = self.vector.to_json()
        return d


@dataclass(frozen=True)
class DeleteProduct(ProductOp):
    sku: str

    def to_json(self) -> dict:
        return {"op": "delete_product", "sku": self.sku}


@dataclass(frozen=True)
class SetPrice(ProductOp):
    sku: str
    price: float
    currency: str | None = None

    def to_json(self) -> dict:
        d = {"op": "set_price", "sku": self.sku, "price": self.price}
        if self.currency is not None:
            d["currency"] = self.currency
        return d


@dataclass(frozen=True)
class SetStock(ProductOp):
    sku: str
    stock: int

    def to_json(self) -> dict:
        return {"op": "set_stock", "sku": self.sku, "stock": self.stock}


@dataclass(frozen=True)
class UpsertLook(LookOp):
    look_id: str
    name: str
    skus: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        return {"op": "upsert_look", "look_id": self.look_id, "name": self.name, "skus": list(self.skus)}


@dataclass(frozen=True)
class DeleteLook(LookOp):
    look_id: str

    def to_json(self) -> dict:
        return {"op": "delete_look", "look_id": self.look_id}


@dataclass(frozen=True)
class SetMerch:
    kind: str                   # sku | look
    target: str
    action: str                 # pin | ban | boost | clear
    weight: float = 0.0
    rule: str = ""              # clear: the one rule it takes away ("" = every rule of the target)

    @property
    def key(self) -> str:
        return f"m:{self.kind}:{self.target}:{self.rule or self.action}"

    def to_json(self) -> dict:
        out = {"op": "set_merch", "kind": self.kind, "target": self.target, "action": self.action,
               "weight": self.weight}
        return out | {"rule": self.rule} if self.rule else out


@dataclass(frozen=True)
class StoreValues(ProductOp):
    """A store's own price, currency, stock and aisle of a product, over the shared stream's (its
    own stream only; None: the shared value holds; all None: nothing of its own any more)."""
    sku: str
    price: float | None = None
    currency: str | None = None
    stock: int | None = None
    aisle: str | None = None

    @property
    def key(self) -> str:
        return f"v:{self.sku}"

    def values(self) -> dict:
        return {"price": self.price, "currency": self.currency, "stock": self.stock, "aisle": self.aisle}

    def to_json(self) -> dict:
        return {"op": "store_values", "sku": self.sku} | {k: v for k, v in self.values().items() if v is not None}


@dataclass(frozen=True)
class FollowShared:
    """On a store's own stream: from now on also follow the shared stream, after its delta `seq`
    (what the store has now is what the shared stream says at seq)."""
    seq: int

    key = "f:shared"

    def to_json(self) -> dict:
        return {"op": "follow_shared", "seq": self.seq}


Op = Union[UpsertProduct, DeleteProduct, SetPrice, SetStock, UpsertLook, DeleteLook, SetMerch, StoreValues, FollowShared]
# What each stream may carry: the shared one every store's catalogue; a store's own stream, once
# it follows the shared one, only what differs in that store (and head office's word to follow).
SHARED_OPS = (UpsertProduct, DeleteProduct, SetPrice, SetStock, UpsertLook, DeleteLook, SetMerch)


def removes(op: Op) -> bool:
    """True for the ops that take something away (head office then forgets what it sent)."""
    return (isinstance(op, (DeleteProduct, DeleteLook)) or (isinstance(op, SetMerch) and op.action == "clear")
            or (isinstance(op, StoreValues) and all(v is None for v in op.values().values())))


# ---- validation -------------------------------------------------------------------------------
def _str(op: dict, key: str, required: bool = True, max_len: int = 500) -> str | None:
    v = op.get(key)
    if v is None and not required:
        return None
    if not isinstance(v, str) or (required and not v.strip()) or len(v) > max_len:
        raise Rejected(f"op {op.get('op')}: '{key}' must be text of at most {max_len} characters")
    return v


def _num(op: dict, key: str, lo: float = 0.0, integer: bool = False, required: bool = True,
         hi: float = MAX_AMOUNT):
    v = op.get(key)
    if v is None and not required:
        return None
    ok = isinstance(v, int) if integer else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok or (isinstance(v, float) and not math.isfinite(v)) or not lo <= v <= hi:
        raise Rejected(f"op {op.get('op')}: '{key}' must be a {'whole ' if integer else ''}number "
                       f"from {lo:g} to {hi:g}")
    return v


def _list_of_str(op: dict, key: str, max_items: int = 50) -> tuple[str, ...]:
    v = op.get(key, [])
    if not isinstance(v, list) or len(v) > max_items or not all(isinstance(x, str) and len(x) <= 100 for x in v):
        raise Rejected(f"op {op.get('op')}: '{key}' must be a list of at most {max_items} short texts")
    return tuple(v)


def _skus(op: dict, key: str, max_items: int = 50) -> tuple[str, ...]:
    v = _list_of_str(op, key, max_items)
    if not all(SKU_RE.match(x) for x in v):
        raise Rejected(f"op {op.get('op')}: '{key}' holds something that is not a sku")
    return v


def _sku(op: dict) -> str:
    if not isinstance(op.get("sku"), str) or not SKU_RE.match(op["sku"]):
        raise Rejected(f"op {op.get('op')}: 'sku' missing or not a valid sku")
    return op["sku"]


def _look_id(op: dict) -> str:
    if not isinstance(op.get("look_id"), str) or not ID_RE.match(op["look_id"]):
        raise Rejected(f"op {op.get('op')}: 'look_id' missing or invalid")
    return op["look_id"]


def _vector(op: dict) -> VectorRef | None:
    vec = op.get("vector")
    if vec is None:
        return None
    kinds = [k for k in DTYPES if k in vec] if isinstance(vec, dict) else []
    if (not isinstance(vec, dict) or not isinstance(vec.get("model_version"), str) or len(kinds) != 1
            or not isinstance(vec[kinds[0]], str)):
        raise Rejected("op upsert_product: 'vector' must be {model_version, f32 or f16 (base64)}")
    dtype = kinds[0]
    width = np.dtype(DTYPES[dtype]).itemsize
    try:
        raw = base64.b64decode(vec[dtype], validate=True)
    except ValueError:
        raise Rejected(f"op upsert_product: 'vector.{dtype}' is not base64") from None
    if len(raw) % width or not 0 < len(raw) <= width * MAX_VECTOR_DIM:
        raise Rejected(f"op upsert_product: 'vector.{dtype}' is not a {'float32' if width == 4 else 'float16'} vector")
    if not np.isfinite(np.frombuffer(raw, DTYPES[dtype])).all():
        # one NaN in the index makes every search of the store return nothing useful
        raise Rejected(f"op upsert_product: 'vector.{dtype}' holds NaN or infinity")
    return VectorRef(vec["model_version"], vec[dtype], dtype)


def parse_op(op) -> Op:
    """One wire op -> its typed value, or Rejected saying what is wrong with it."""
    if not isinstance(op, dict):
        raise Rejected("an op is not an object")
    kind = op.get("op")
    if kind == "upsert_product":
        sku = _sku(op)
        name = _str(op, "name")
        text = {k: _str(op, k, required=False) or "" for k in
                ("category", "currency", "aisle", "gender", "season", "description")}
        price = _num(op, "price", required=False)
        stock = _num(op, "stock", integer=True, required=False)
        colors, tags = _list_of_str(op, "colors"), _list_of_str(op, "tags")
        img = op.get("image_sha256")
        if img is not None and (not isinstance(img, str) or not SHA256_RE.match(img)):
            raise Rejected("op upsert_product: 'image_sha256' must be 64 lowercase hex digits")
        return UpsertProduct(Product(sku, name, text["category"], colors, price, text["currency"], int(stock or 0),
                                     text["aisle"], "", img or "", text["gender"], text["season"], tags,
                                     text["description"]), _vector(op))
    if kind == "delete_product":
        return DeleteProduct(_sku(op))
    if kind == "set_price":
        sku = _sku(op)
        return SetPrice(sku, _num(op, "price"), _str(op, "currency", required=False, max_len=3))
    if kind == "set_stock":
        sku = _sku(op)
        return SetStock(sku, _num(op, "stock", integer=True))
    if kind == "upsert_look":
        look_id = _look_id(op)
        return UpsertLook(look_id, _str(op, "name"), _skus(op, "skus"))
    if kind == "delete_look":
        return DeleteLook(_look_id(op))
    if kind == "set_merch":
        if op.get("kind") not in MERCH_KINDS or op.get("action") not in MERCH_OPS:
            raise Rejected("op set_merch: 'kind' must be sku|look and 'action' pin|ban|boost|clear")
        target = _str(op, "target", max_len=64)
        if not (SKU_RE if op["kind"] == "sku" else ID_RE).match(target):
            raise Rejected(f"op set_merch: 'target' is not a {'sku' if op['kind'] == 'sku' else 'look id'}")
        rule = op.get("rule", "")
        if rule and (op["action"] != "clear" or rule not in MERCH_ACTIONS):
            raise Rejected("op set_merch: 'rule' is for clear only and must be pin|ban|boost")
        return SetMerch(op["kind"], target, op["action"], float(_num(op, "weight", lo=-MERCH_MAX_WEIGHT, hi=MERCH_MAX_WEIGHT, required=False) or 0.0),
                        rule)
    if kind == "store_values":
        sku = _sku(op)
        price = _num(op, "price", required=False)
        stock = _num(op, "stock", integer=True, required=False)
        return StoreValues(sku, price, _str(op, "currency", required=False, max_len=3), stock,
                           _str(op, "aisle", required=False, max_len=100))
    if kind == "follow_shared":
        return FollowShared(_num(op, "seq", integer=True))
    raise Rejected(f"unknown op {kind!r}")


# ---- applying -----------------------------------------------------------------------------------
def check_stream(ops: list[Op], stream: str, follows_shared: bool) -> None:
    """Rejected when a delta carries what its stream may not: the shared stream only catalogue
    ops; a store's own stream, once it follows the shared one, only store values (and the word
    to follow); before that, anything but store values."""
    for op in ops:
        if stream == SHARED_STREAM:
            ok = isinstance(op, SHARED_OPS)
        else:
            ok = isinstance(op, (StoreValues, FollowShared)) if follows_shared else not isinstance(op, StoreValues)
            follows_shared = follows_shared or isinstance(op, FollowShared)
        if not ok:
            raise Rejected(f"op {op.to_json()['op']} does not belong on the "
                           f"{'shared' if stream == SHARED_STREAM else 'store'} stream"
                           + (" of a store that follows the shared one" if follows_shared and stream != SHARED_STREAM else ""))


def apply_delta(catalog, seq: int, ops: list[Op], vectors: dict[str, tuple[np.ndarray, str]],
                images: dict[str, str], stream: str = OWN_STREAM) -> int:
    """Apply a verified delta of a stream in one transaction, together with that stream's
    sequence number, so a crash leaves it applied exactly once or not at all (an op the stream may
    not carry: Rejected, nothing changes). vectors: sku -> (vector, model version); images: sha256
    -> path in this catalogue. Returns the catalogue version."""
    with catalog.transaction() as w:
        have = w.seq_of(stream)
        if seq != have + 1:
            raise ValueError(f"delta {seq} does not follow {have}")
        check_stream(ops, stream, w.follows_shared)
        _write_ops(w, ops, vectors, images, shared=stream == SHARED_STREAM, follows=w.follows_shared)
        w.set_seq(stream, seq)
    return catalog.version


def _write_ops(w, ops: list[Op], vectors: dict[str, tuple[np.ndarray, str]], images: dict[str, str],
               shared: bool = False, follows: bool = False) -> None:
    """shared: the ops of the shared stream (their prices, stock, aisles are the base a store's own
    values go over); follows: the store follows the shared stream (its own price ops are its own values)."""
    for op in ops:
        if isinstance(op, UpsertProduct):
            vec = vectors.get(op.sku)
            w.upsert_product(replace(op.product, image=images.get(op.product.image_sha256, "")),
                             vec[0] if vec else None, vec[1] if vec else "")
            if shared:
                p = op.product
                w.set_base(op.sku, {"price": p.price, "currency": p.currency, "stock": p.stock, "aisle": p.aisle})
        elif isinstance(op, DeleteProduct):
            w.delete_product(op.sku)
        elif isinstance(op, (SetPrice, SetStock)) and (shared or follows):
            w.update_values(op.sku, shared, **({"price": op.price, "currency": op.currency}
                                               if isinstance(op, SetPrice) else {"stock": op.stock}))
        elif isinstance(op, SetPrice):
            w.set_price(op.sku, op.price, op.currency)
        elif isinstance(op, SetStock):
            w.set_stock(op.sku, op.stock)
        elif isinstance(op, StoreValues):
            w.set_store_values(op.sku, op.values())
        elif isinstance(op, FollowShared):
            w.follow_shared(op.seq)
            follows = True
        elif isinstance(op, UpsertLook):
            w.upsert_look(op.look_id, op.name, list(op.skus))
        elif isinstance(op, DeleteLook):
            w.delete_look(op.look_id)
        elif isinstance(op, SetMerch):
            if op.action == "clear":
                w.clear_merch(op.kind, op.target, op.rule or None)
            else:
                w.set_merch(op.kind, op.target, op.action, op.weight)
        else:  # pragma: no cover - parse_op makes only the types above
            raise TypeError(f"not a catalogue op: {op!r}")


def apply_snapshot(catalog, first: int, last: int, ops: list[Op], vectors: dict[str, tuple[np.ndarray, str]],
                   images: dict[str, str], stream: str = OWN_STREAM) -> int:
    """Apply head office's snapshot of a stream (deltas first..last: everything it says) in one
    transaction: whatever it does not name goes, and the stream is at `last`. A store behind
    `first` (new, or away longer than the retained history) jumps to it. The snapshot of a store's
    own stream, once it follows the shared one, replaces only the store's own values."""
    with catalog.transaction() as w:
        have = w.seq_of(stream)
        if have >= first:
            raise ValueError(f"snapshot {first}-{last} is not ahead of {have}")
        follows = w.follows_shared
        check_stream(ops, stream, follows)
        if stream == OWN_STREAM and (follows or any(isinstance(op, FollowShared) for op in ops)):
            w.clear_store_values()
        else:
            w.keep_only_products({op.sku for op in ops if isinstance(op, UpsertProduct)})
            w.delete_all_looks()
            w.clear_all_merch()
        _write_ops(w, ops, vectors, images, shared=stream == SHARED_STREAM, follows=follows)
        w.set_seq(stream, last)
    return catalog.version


def image_path_for(sha256: str) -> str:
    """Where a delta's image is kept in a store's catalogue (stores keep every image as .jpg)."""
    return image_relpath(sha256, ".jpg")
