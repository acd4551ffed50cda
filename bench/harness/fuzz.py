"""Fuzz a store with messages head office's key signed: what a valid signature lets through.

A random byte string dies at the JSON or signature check; these cases carry a good signature (the
test's head-office key), so the envelope fields, every op's fields and the delta as a whole are
what is put to the test: wrong types, huge numbers, NaN, unicode, path-like skus, unknown ops, 500
and 501 ops, duplicate skus, vectors of the wrong length or full of NaN, images never published.

`run_fuzz` drives one StoreSync on a real broker, one message at a time (each with the next seq, so
it reaches the op checks), and checks after every message:
- the store neither died nor took the catch-all path ("could not read"): every rejection has a reason
  the validation wrote;
- a rejected message changed nothing (products, looks, rules, images, version, seq);
- an applied one moved the seq by one and left an index that builds and holds every vector.
Used by tests/sync/test_sync.py and bench/faults.py.
"""
from __future__ import annotations

import base64
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from sync import topics
from sync.envelope import sign

NASTY = [None, True, False, 0, -1, 1.5, -0.0, 10**18, 2**63, 2**64, 10**300, 1e308, -1e308, 5e-324,
         "", " ", "x" * 10_000, "../../etc/passwd", "/etc/passwd", "C:\\Windows\\win.ini", "a/../../b",
         "%2e%2e%2f", "\x00", "\U0001F600" * 10, "\u202eevil", "\u200b", "\ud800", "Ω≈ç√∫",
         "'; DROP TABLE products; --", [], {}, [1, 2], {"a": 1}, ["x"] * 60, "NaN", "1e999"]


@dataclass
class FuzzReport:
    cases: int = 0
    applied: int = 0
    rejected: int = 0
    internal_errors: list = field(default_factory=list)   # (case, reason): the catch-all path
    changed_by_rejected: list = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"cases": self.cases, "applied": self.applied, "rejected": self.rejected,
                "internal_errors": len(self.internal_errors), "changed_by_rejected": len(self.changed_by_rejected),
                "distinct_reasons": len(self.reasons), "kinds": dict(self.kinds), "seconds": round(self.seconds, 1),
                "cases_per_s": round(self.cases / self.seconds, 1) if self.seconds else None}


def fingerprint(cat) -> tuple:
    rows = tuple(sorted((p.sku, p.name, p.category, p.price, p.currency, p.stock, p.aisle, p.image_sha256,
                         tuple(p.colors), tuple(p.tags), p.description) for p in cat.products()))
    return (cat.version, cat.sync_seq, rows, tuple(sorted(cat.looks().items())), tuple(sorted(cat.merch())),
            tuple(sorted(cat.images.shas())), tuple(sorted(cat.model_versions().items())))


class Cases:
    """Signed messages for the next seq, each a small mutation of a valid one."""

    def __init__(self, rng: random.Random, key, catalog_id: str, store: str, model_version: str, dim: int,
                 skus: list[str], image_sha: str):
        self.rng, self.key, self.cat, self.store = rng, key, catalog_id, store
        self.mv, self.dim, self.skus, self.image_sha = model_version, dim, skus, image_sha

    def vector(self, n: int | None = None, fill=None, mv: str | None = None, half: bool | None = None) -> dict:
        v = np.random.default_rng(self.rng.getrandbits(32)).standard_normal(n or self.dim).astype(np.float32)
        v /= np.linalg.norm(v)
        if fill is not None:
            v[self.rng.randrange(len(v))] = fill
        half = self.rng.random() < 0.5 if half is None else half      # head office sends f16; f32 is read too
        data = v.astype(np.float16 if half else np.float32).tobytes()
        return {"model_version": mv or self.mv, "f16" if half else "f32": base64.b64encode(data).decode()}

    def sku(self) -> str:
        # mostly known skus; a small pool of new ones, so the catalogue stays small as cases apply
        return self.rng.choice(self.skus) if self.rng.random() < 0.7 else f"F{self.rng.randrange(40):03d}"

    def valid_op(self) -> dict:
        r, sku = self.rng.random(), self.sku()
        if r < 0.3:
            op = {"op": "upsert_product", "sku": sku, "name": f"fuzzed {sku}", "category": "T-Shirt",
                  "colors": ["navy"], "price": 9.99, "currency": "EUR", "stock": 3, "aisle": "A1", "gender": "",
                  "season": "", "tags": ["cotton"], "description": "", "vector": self.vector()}
            if self.rng.random() < 0.5:
                op["image_sha256"] = self.image_sha
            return op
        if r < 0.4:
            return {"op": "delete_product", "sku": sku}
        if r < 0.55:
            return {"op": "set_price", "sku": sku, "price": round(self.rng.uniform(1, 99), 2), "currency": "EUR"}
        if r < 0.7:
            return {"op": "set_stock", "sku": sku, "stock": self.rng.randrange(20)}
        if r < 0.8:
            return {"op": "upsert_look", "look_id": f"L{self.rng.randrange(5)}", "name": "a look",
                    "skus": [self.sku() for _ in range(3)]}
        if r < 0.85:
            return {"op": "delete_look", "look_id": f"L{self.rng.randrange(5)}"}
        action = self.rng.choice(["pin", "ban", "boost", "clear"])
        op = {"op": "set_merch", "kind": "sku", "target": sku, "action": action, "weight": 0.5}
        if action == "clear" and self.rng.random() < 0.5:
            op["rule"] = self.rng.choice(["pin", "ban", "boost"])
        return op

    def envelope(self, seq: int, ops: list) -> dict:
        return {"schema": 1, "catalog": self.cat, "store": self.store, "seq": seq,
                "created_at": "2026-11-30T00:00:00Z", "ops": ops}

    def signed(self, env: dict) -> bytes:
        try:
            return sign(env, self.key)
        except (ValueError, UnicodeEncodeError):
            # NaN or a lone surrogate has no canonical form, so head office can never sign it:
            # send it with a signature over the ASCII form; the store must still refuse it cleanly
            body = {k: v for k, v in env.items() if k != "sig"}
            text = json.dumps(body, sort_keys=True, separators=(",", ":"))
            sig = base64.b64encode(self.key.sign(text.encode())).decode()
            return json.dumps(dict(body, sig=sig)).encode()

    def next(self, seq: int) -> tuple[str, int, bytes]:
        """(kind, topic seq, payload)."""
        rng = self.rng
        r = rng.random()
        ops = [self.valid_op() for _ in range(rng.randint(1, 4))]
        if r < 0.45:                                   # one field of one op
            op = rng.choice(ops)
            key = rng.choice(list(op))
            if rng.random() < 0.15:
                del op[key]
                kind = "op: field missing"
            else:
                op[key] = rng.choice(NASTY)
                kind = "op: nasty value"
        elif r < 0.55:                                 # vectors
            op = {"op": "upsert_product", "sku": self.sku(), "name": "v"}
            op["vector"] = rng.choice([self.vector(self.dim - 1), self.vector(7), self.vector(4097),
                                       self.vector(fill=float("nan")), self.vector(fill=float("inf")),
                                       {"model_version": self.mv, "f32": "not base64!"},
                                       {"model_version": self.mv, "f32": ""}, {"model_version": 3, "f32": "AAAA"},
                                       self.vector(mv="another-model")])
            ops = [op]
            kind = "vector"
        elif r < 0.63:                                 # the op list as a whole
            choice = rng.randrange(6)
            if choice == 0:
                ops = [{"op": "set_stock", "sku": rng.choice(self.skus), "stock": i % 9} for i in range(500)]
            elif choice == 1:
                ops = [{"op": "set_stock", "sku": rng.choice(self.skus), "stock": 1}] * 501
            elif choice == 2:
                sku = self.sku()
                ops = [dict(self.valid_op(), sku=sku, op="set_stock", stock=i) for i in range(3)]
            elif choice == 3:
                ops = []
            elif choice == 4:
                ops = [rng.choice(NASTY) for _ in range(3)]
            else:
                ops = [{"op": rng.choice(["drop_table", "UPSERT_PRODUCT", "", "exec", None, 7])}]
            kind = "ops"
        elif r < 0.64:                                 # an image nobody published
            ops = [dict(self.valid_op(), op="upsert_product", sku=self.sku(), name="no image",
                        image_sha256=f"{rng.getrandbits(256):064x}", vector=self.vector())]
            kind = "missing image"
        elif r < 0.85:                                 # one envelope field
            env = self.envelope(seq, ops)
            key = rng.choice(list(env))
            if rng.random() < 0.2:
                del env[key]
            else:
                env[key] = rng.choice(NASTY + [seq - 1, seq + 1, 2**63, "s002", "other"])
            env[rng.choice(["extra", "sig2", "Seq"])] = rng.choice(NASTY) if rng.random() < 0.3 else env.get("extra")
            return "envelope", seq, self.signed(env)
        elif r < 0.9:                                  # right signature, other topic seq
            return "topic seq", seq + rng.choice([1, 2, 100]), self.signed(self.envelope(seq, ops))
        elif r < 0.95:                                 # bytes: truncated, flipped, random, NaN text
            payload = bytearray(self.signed(self.envelope(seq, ops)))
            how = rng.randrange(4)
            if how == 0:
                payload = payload[:rng.randrange(len(payload))]
            elif how == 1:
                payload[rng.randrange(len(payload))] ^= 1 << rng.randrange(8)
            elif how == 2:
                payload = bytearray(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
            else:
                payload = bytearray(payload.replace(b'"seq":', b'"x":NaN,"seq":', 1))
            return "bytes", seq, bytes(payload)
        else:
            kind = "valid"
        return kind, seq, self.signed(self.envelope(seq, ops))


def run_fuzz(sync, publish, key, n: int, seed: int = 1234, check_every: int = 1, log=None) -> FuzzReport:
    """Drive `sync` (a started StoreSync) with n cases; publish(topic, payload) sends one as head office."""
    cat = sync.catalog
    skus = sorted(p.sku for p in cat.products())
    image_sha = next(iter(sorted(cat.image_shas())))
    cases = Cases(random.Random(seed), key, sync.catalog_id, sync.store, sync.model_version, sync.vector_dim,
                  skus, image_sha)
    rep = FuzzReport()
    t0 = time.monotonic()
    before = fingerprint(cat)
    for i in range(n):
        have = cat.sync_seq
        kind, topic_seq, payload = cases.next(have + 1)
        rep.kinds[kind] += 1
        n_rej, n_app, n_dup = sync.state.rejected, sync.state.applied, sync.state.duplicates
        publish(topics.delta(sync.catalog_id, sync.store, topic_seq), payload)
        end = time.monotonic() + 30
        while (sync.state.rejected, sync.state.applied, sync.state.duplicates) == (n_rej, n_app, n_dup):
            if time.monotonic() > end:
                raise TimeoutError(f"case {i} ({kind}): no outcome in 30 s")
            sync.step(0.01)
        rep.cases += 1
        if sync.state.rejected > n_rej:
            rep.rejected += 1
            reason = sync.state.last_rejection["reason"]
            rep.reasons[reason.split(":")[0][:60]] += 1
            if reason.startswith("could not") and "no models are set up" not in reason:
                rep.internal_errors.append((i, kind, reason))
            if i % check_every == 0:
                now = fingerprint(cat)
                if now != before:
                    rep.changed_by_rejected.append((i, kind, reason))
                    before = now
        else:
            rep.applied += 1
            assert cat.sync_seq == have + 1, (i, kind, cat.sync_seq, have)
            ids, _ = cat.vectors(sync.model_version)
            idx = cat.index(sync.model_version)
            assert idx.count == len(ids), (i, kind, idx.count, len(ids))
            before = fingerprint(cat)
        if log and (i + 1) % 1000 == 0:
            log(f"{i + 1} cases: {rep.applied} applied, {rep.rejected} rejected, "
                f"{len(rep.internal_errors)} internal errors, {time.monotonic() - t0:.0f} s")
    rep.seconds = time.monotonic() - t0
    return rep
