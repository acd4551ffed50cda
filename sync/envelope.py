"""The catalogue delta envelope: schema, canonical form, Ed25519 signature, validation with reasons.

    {"schema": 1, "catalog": "maison", "store": "s001", "seq": 42, "created_at": "2026-11-26T10:00:00Z",
     "ops": [{"op": "upsert_product", ...}, ...], "sig": "<base64 Ed25519 over the rest>"}

Head office signs with its private key; stores hold only the public key. The signature covers
the canonical JSON (sorted keys, no spaces) of every field but "sig". See docs/sync.md.
"""
from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SCHEMA = 1
MAX_DELTA_BYTES = 1_048_576        # a delta message; larger batches are split into chunks
MAX_IMAGE_BYTES = 8_388_608        # one product image
MAX_OPS = 500
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
SKU_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$")
SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class Rejected(Exception):
    """A message that must change nothing; str() is the reason sent back on the status topic."""


def canonical(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


# ---- keys -------------------------------------------------------------------------------------
def generate_keys(private_path: Path, public_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    private_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    private_path.chmod(0o600)
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))


def load_private(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def sign(envelope: dict, key: Ed25519PrivateKey) -> bytes:
    body = {k: v for k, v in envelope.items() if k != "sig"}
    signed = dict(body, sig=base64.b64encode(key.sign(canonical(body))).decode())
    return canonical(signed)


# ---- validation -------------------------------------------------------------------------------
def _str(op: dict, key: str, required: bool = True, max_len: int = 500) -> None:
    v = op.get(key)
    if v is None and not required:
        return
    if not isinstance(v, str) or (required and not v.strip()) or len(v) > max_len:
        raise Rejected(f"op {op.get('op')}: '{key}' must be text of at most {max_len} characters")


def _num(op: dict, key: str, lo: float = 0.0, integer: bool = False, required: bool = True) -> None:
    v = op.get(key)
    if v is None and not required:
        return
    ok = isinstance(v, int) if integer else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok or (isinstance(v, float) and not math.isfinite(v)) or v < lo:
        raise Rejected(f"op {op.get('op')}: '{key}' must be a {'whole ' if integer else ''}number >= {lo:g}")


def _list_of_str(op: dict, key: str, max_items: int = 50) -> None:
    v = op.get(key, [])
    if not isinstance(v, list) or len(v) > max_items or not all(isinstance(x, str) and len(x) <= 100 for x in v):
        raise Rejected(f"op {op.get('op')}: '{key}' must be a list of at most {max_items} short texts")


def check_op(op) -> None:
    if not isinstance(op, dict):
        raise Rejected("an op is not an object")
    kind = op.get("op")
    if kind in ("upsert_product", "delete_product", "set_price", "set_stock"):
        if not isinstance(op.get("sku"), str) or not SKU_RE.match(op["sku"]):
            raise Rejected(f"op {kind}: 'sku' missing or not a valid sku")
    if kind == "upsert_product":
        _str(op, "name")
        for key in ("category", "currency", "aisle", "gender", "season", "description"):
            _str(op, key, required=False)
        _num(op, "price", required=False)
        _num(op, "stock", integer=True, required=False)
        _list_of_str(op, "colors")
        _list_of_str(op, "tags")
        img = op.get("image_sha256")
        if img is not None and (not isinstance(img, str) or not SHA_RE.match(img)):
            raise Rejected("op upsert_product: 'image_sha256' must be 64 lowercase hex digits")
        vec = op.get("vector")
        if vec is not None:
            if not isinstance(vec, dict) or not isinstance(vec.get("model_version"), str) \
                    or not isinstance(vec.get("f32"), str):
                raise Rejected("op upsert_product: 'vector' must be {model_version, f32 (base64)}")
            try:
                raw = base64.b64decode(vec["f32"], validate=True)
            except ValueError:
                raise Rejected("op upsert_product: 'vector.f32' is not base64") from None
            if len(raw) % 4 or not 0 < len(raw) <= 4 * 4096:
                raise Rejected("op upsert_product: 'vector.f32' is not a float32 vector")
    elif kind == "delete_product":
        pass
    elif kind == "set_price":
        _num(op, "price")
        _str(op, "currency", required=False, max_len=3)
    elif kind == "set_stock":
        _num(op, "stock", integer=True)
    elif kind == "upsert_look":
        if not isinstance(op.get("look_id"), str) or not ID_RE.match(op["look_id"]):
            raise Rejected("op upsert_look: 'look_id' missing or invalid")
        _str(op, "name")
        _list_of_str(op, "skus")
    elif kind == "delete_look":
        if not isinstance(op.get("look_id"), str) or not ID_RE.match(op["look_id"]):
            raise Rejected("op delete_look: 'look_id' missing or invalid")
    elif kind == "set_merch":
        if op.get("kind") not in ("sku", "look") or op.get("action") not in ("pin", "ban", "boost", "clear"):
            raise Rejected("op set_merch: 'kind' must be sku|look and 'action' pin|ban|boost|clear")
        _str(op, "target", max_len=64)
        _num(op, "weight", lo=-10.0, required=False)
    else:
        raise Rejected(f"unknown op {kind!r}")


@dataclass(frozen=True)
class Delta:
    catalog: str
    store: str
    seq: int
    created_at: str
    ops: list


def parse(payload: bytes, public_key: Ed25519PublicKey, catalog: str, store: str) -> Delta:
    """Check a delta message in the order that costs least first; raise Rejected with why."""
    if len(payload) > MAX_DELTA_BYTES:
        raise Rejected(f"oversized: {len(payload):,} bytes (limit {MAX_DELTA_BYTES:,})")
    try:
        env = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:
        raise Rejected(f"malformed JSON: {str(e)[:120]}") from None
    if not isinstance(env, dict):
        raise Rejected("malformed: the message is not a JSON object")
    if env.get("schema") != SCHEMA:
        raise Rejected(f"wrong schema: {env.get('schema')!r} (this store reads schema {SCHEMA})")
    for key, kind in (("catalog", str), ("store", str), ("seq", int), ("created_at", str), ("ops", list),
                      ("sig", str)):
        if not isinstance(env.get(key), kind) or isinstance(env.get(key), bool):
            raise Rejected(f"wrong schema: '{key}' missing or not {kind.__name__}")
    try:
        sig = base64.b64decode(env["sig"], validate=True)
        public_key.verify(sig, canonical({k: v for k, v in env.items() if k != "sig"}))
    except (InvalidSignature, ValueError):
        raise Rejected("wrong signature: not signed by head office") from None
    if env["catalog"] != catalog:
        raise Rejected(f"unknown catalogue {env['catalog']!r} (this store follows {catalog!r})")
    if env["store"] != store:
        raise Rejected(f"unknown store {env['store']!r}: this is store {store!r}")
    if env["seq"] < 1:
        raise Rejected(f"wrong schema: seq {env['seq']} must be 1 or more")
    if len(env["ops"]) > MAX_OPS:
        raise Rejected(f"oversized: {len(env['ops'])} ops (limit {MAX_OPS})")
    for op in env["ops"]:
        check_op(op)
    return Delta(env["catalog"], env["store"], env["seq"], env["created_at"], env["ops"])
