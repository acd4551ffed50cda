"""The catalogue delta envelope: schema, canonical form, Ed25519 signature, validation with reasons.

    {"schema": 1, "catalog": "maison", "store": "s001", "seq": 42, "created_at": "2026-11-26T10:00:00Z",
     "ops": [{"op": "upsert_product", ...}, ...], "sig": "<base64 Ed25519 over the rest>"}

Head office signs with its private key; stores hold only the public key. The signature covers
the canonical JSON (sorted keys, no spaces) of every field but "sig". See docs/sync.md.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .ops import Op, Rejected, parse_op

SCHEMA = 1
MAX_DELTA_BYTES = 1_048_576        # a delta message; larger batches are split into chunks
MAX_IMAGE_BYTES = 8_388_608        # one product image
MAX_OPS = 500
MAX_SNAPSHOT = 10_000              # deltas in one snapshot: 1M products at 100 per delta
MAX_DEPTH = 8                      # envelope > ops > op > product > tags: 5 deep today

__all__ = ["Delta", "Rejected", "canonical", "generate_keys", "load_private", "load_public", "new_signing_keys",
           "parse", "sign"]

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


def new_signing_keys(folder: Path, force: bool = False) -> dict[str, str]:
    """`signage keys generate`: hq-signing.key (head office keeps it) and hq-signing.pub (every store
    trusts it) in `folder`; an existing key is kept unless `force`."""
    from edge.errors import SignageError
    folder.mkdir(parents=True, exist_ok=True)
    priv, pub = folder / "hq-signing.key", folder / "hq-signing.pub"
    if priv.exists() and not force:
        raise SignageError(f"{priv} exists: keep it (stores trust its public key) or pass --force")
    generate_keys(priv, pub)
    return {"private_key": str(priv), "public_key": str(pub)}


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


@dataclass(frozen=True)
class Delta:
    catalog: str
    store: str
    seq: int
    created_at: str
    ops: list[Op]
    snapshot: tuple[int, int] | None = None   # (first, last): this delta is part of a snapshot


def depth(value) -> int:
    """How deeply lists and objects nest in a decoded JSON value (without recursion)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, dict):
            v = list(v.values())
        if isinstance(v, list):
            deepest = max(deepest, d)
            todo.extend((x, d + 1) for x in v if isinstance(x, (dict, list)))
    return deepest


def _no_constants(name: str):
    # Python's json reads NaN and Infinity; JSON has no such numbers and head office never signs them
    raise ValueError(f"{name} is not a JSON number")


def parse(payload: bytes, public_key: Ed25519PublicKey, catalog: str, store: str) -> Delta:
    """Check a delta message in the order that costs least first; raise Rejected with why."""
    if len(payload) > MAX_DELTA_BYTES:
        raise Rejected(f"oversized: {len(payload):,} bytes (limit {MAX_DELTA_BYTES:,})")
    try:
        env = json.loads(payload, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError) as e:
        raise Rejected(f"malformed JSON: {str(e)[:120]}") from None
    except RecursionError:
        # 200 kB of '[' is a valid start of JSON that exhausts the decoder's stack
        raise Rejected(f"malformed JSON: nested deeper than this store reads (limit {MAX_DEPTH})") from None
    if depth(env) > MAX_DEPTH:
        raise Rejected(f"malformed JSON: nested deeper than this store reads (limit {MAX_DEPTH})")
    if not isinstance(env, dict):
        raise Rejected("malformed: the message is not a JSON object")
    if env.get("schema") != SCHEMA:
        raise Rejected(f"wrong schema: {env.get('schema')!r} (this store reads schema {SCHEMA})")
    for key, kind in (("catalog", str), ("store", str), ("seq", int), ("created_at", str), ("ops", list),
                      ("sig", str)):
        if not isinstance(env.get(key), kind) or isinstance(env.get(key), bool):
            raise Rejected(f"wrong schema: '{key}' missing or not {kind.__name__}")
    try:
        body = canonical({k: v for k, v in env.items() if k != "sig"})
    except UnicodeEncodeError:    # a lone surrogate ("\ud800") has no UTF-8 form
        raise Rejected("malformed: text that is not valid Unicode") from None
    try:
        public_key.verify(base64.b64decode(env["sig"], validate=True), body)
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
    snapshot = env.get("snapshot")
    if snapshot is not None:
        if (not isinstance(snapshot, list) or len(snapshot) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in snapshot)
                or not 1 <= snapshot[0] <= env["seq"] <= snapshot[1] or snapshot[1] - snapshot[0] >= MAX_SNAPSHOT):
            raise Rejected(f"wrong schema: 'snapshot' must be [first, last] around seq {env['seq']} "
                           f"(at most {MAX_SNAPSHOT} deltas)")
        snapshot = (snapshot[0], snapshot[1])
    ops = [parse_op(op) for op in env["ops"]]
    return Delta(env["catalog"], env["store"], env["seq"], env["created_at"], ops, snapshot)
