"""Head office: diff the catalogue against what each store was last sent, publish only the changes.

HQ keeps its own catalogue (edge Catalog: products, vectors, looks, merch) and a publish log
(hq.sqlite): per store, the last sequence number, the hash of every product/look/rule as last
sent, and every delta sent (a write-ahead log: a delta is recorded with its seq before it is
published, so a crash never reuses a seq for other content; unconfirmed deltas are re-sent first).
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.catalog.merch import MERCH_ACTIONS
from edge.catalog.store import Catalog
from edge.ids import SHARED_STREAM

from . import topics
from .envelope import MAX_DELTA_BYTES, SCHEMA, canonical, sign
from .ops import (DeleteLook, DeleteProduct, FollowShared, Op, SetMerch, StoreValues, UpsertLook, UpsertProduct,
                  VectorRef, parse_op, removes)
from .store import now_iso

HQ_SCHEMA = """
CREATE TABLE IF NOT EXISTS stores (store TEXT PRIMARY KEY, seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sent (store TEXT, key TEXT, hash TEXT, PRIMARY KEY (store, key));
CREATE TABLE IF NOT EXISTS log (store TEXT, seq INTEGER, topic TEXT, payload BLOB, confirmed INTEGER DEFAULT 0,
                                PRIMARY KEY (store, seq));
CREATE TABLE IF NOT EXISTS images (sha TEXT PRIMARY KEY);
-- stores that follow the shared stream: their own stream carries only their own values
CREATE TABLE IF NOT EXISTS follows (store TEXT PRIMARY KEY, since_shared_seq INTEGER NOT NULL);
-- each store's own price, currency, stock, aisle of a sku (NULL: the shared catalogue's holds)
CREATE TABLE IF NOT EXISTS store_values (store TEXT, sku TEXT, price REAL, currency TEXT, stock INTEGER,
                                         aisle TEXT, PRIMARY KEY (store, sku));
"""


@dataclass
class PublishReport:
    stores: dict = field(default_factory=dict)      # store -> {"ops", "deltas", "seq"}
    images: int = 0
    resent: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"stores": self.stores, "images": self.images, "resent": self.resent, "bytes": self.bytes,
                "seconds": round(self.seconds, 2)}


def _in_order(key: str) -> tuple:
    """Products, then looks (which name products), then rules, then a store's own values: the
    order a store applies them."""
    return "plmv".index(key[0]), key


def _h(obj) -> str:
    return hashlib.sha256(canonical(obj)).hexdigest()[:32]


class Publisher:
    """A QoS 1 MQTT 5 publisher that knows which messages the broker has acknowledged."""

    def __init__(self, host: str, port: int, username: str, password: str, tls: dict | None = None,
                 client_id: str = "hq-publisher"):
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(**tls)
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(1, 10)
        self._acked: set[int] = set()
        self._cv = threading.Condition()
        self.connected = threading.Event()
        self.client.on_publish = self._on_publish
        self.client.on_connect = lambda c, u, f, rc, p: (not rc.is_failure) and self.connected.set()
        self.client.on_disconnect = lambda c, u, f, rc, p: self.connected.clear()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600   # un-acked messages survive a broker restart
        self.client.connect_async(host, port, keepalive=30, clean_start=False, properties=props)
        self.client.loop_start()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self._cv:
            self._acked.add(mid)
            self._cv.notify_all()

    def wait_connected(self, timeout: float = 15.0) -> None:
        if not self.connected.wait(timeout):
            raise ConnectionError("could not connect to the broker")

    def publish(self, topic: str, payload: bytes, retain: bool = True) -> int:
        return self.client.publish(topic, payload, qos=1, retain=retain).mid

    def wait(self, mids: list[int], timeout: float = 120.0) -> list[int]:
        """Wait until the broker acknowledged these; returns those still not acknowledged."""
        end = time.monotonic() + timeout
        with self._cv:
            while True:
                missing = [m for m in mids if m not in self._acked]
                if not missing or time.monotonic() >= end:
                    return missing
                self._cv.wait(min(0.5, max(0.0, end - time.monotonic())))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class HeadOffice:
    def __init__(self, folder: Path, catalog_id: str, private_key, publisher: Publisher | None = None):
        self.dir = Path(folder)
        self.catalog = Catalog(self.dir / "catalog", create=True)
        self.catalog_id = catalog_id
        self.key = private_key
        self.db = sqlite3.connect(self.dir / "hq.sqlite", isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(HQ_SCHEMA)
        self.pub = publisher

    # ---- what a store should have -------------------------------------------------------------
    def desired(self, with_vectors: bool = True, half: bool = True) -> dict[str, tuple[str, Op]]:
        """key -> (hash of what it says, op) for everything in the catalogue now. Vectors go as
        float16 (half: 3.9 kB a product instead of 7.8); the hash is of the float32 form, so how
        vectors travel never makes head office send a product again."""
        out: dict[str, tuple[str, Op]] = {}
        vectors = self.catalog.vectors_by_product() if with_vectors else {}
        for p in self.catalog.products():
            vec = vectors.get(p.id)
            said = UpsertProduct.of(p, VectorRef.of(vec[0], vec[1]) if vec else None)
            sent = UpsertProduct.of(p, VectorRef.of(vec[0], vec[1], half)) if vec and half else said
            out[sent.key] = (_h(said.to_json()), sent)
        ops: list[Op] = [UpsertLook(lid, name, tuple(skus)) for lid, (name, skus) in self.catalog.looks().items()]
        ops += [SetMerch(kind, target, action, weight) for kind, target, action, weight in self.catalog.merch()]
        for op in ops:
            out[op.key] = (_h(op.to_json()), op)
        return out

    def own_values(self, store: str) -> dict[str, tuple[str, Op]]:
        """What a store that follows the shared stream should get on its own: its own values of
        the products head office sells (key -> (hash, op))."""
        out = {}
        for sku, price, currency, stock, aisle in self.db.execute(
                "SELECT sku, price, currency, stock, aisle FROM store_values WHERE store=? ORDER BY sku", (store,)):
            if self.catalog.get(sku) is None:
                continue
            op = StoreValues(sku, price, currency or None, stock, aisle or None)
            out[op.key] = (_h(op.to_json()), op)
        return out

    def set_store_values(self, rows: list[dict]) -> None:
        """Replace every store's own values with these rows ({store, sku, price, currency, stock,
        aisle}; None: the shared catalogue's holds) - from head office's per-store CSV."""
        with self.db:
            self.db.execute("DELETE FROM store_values")
            self.db.executemany("INSERT INTO store_values VALUES (?,?,?,?,?,?)",
                                [(r["store"], r["sku"], r.get("price"), r.get("currency"), r.get("stock"),
                                  r.get("aisle")) for r in rows])

    def follows_shared(self, store: str) -> bool:
        return self.db.execute("SELECT 1 FROM follows WHERE store=?", (store,)).fetchone() is not None

    def diff(self, store: str, desired: dict[str, tuple[str, Op]]) -> tuple[list[Op], dict]:
        sent = dict(self.db.execute("SELECT key, hash FROM sent WHERE store=? AND key NOT LIKE 'f:%'",
                                    (store,)).fetchall())
        ops: list[Op] = []
        new_sent = {}
        # deletes first (a look may name a product that goes), then products, looks, rules
        for key in sorted(set(sent) - set(desired)):
            kind, _, rest = key.partition(":")
            if kind == "p":
                ops.append(DeleteProduct(rest))
            elif kind == "l":
                ops.append(DeleteLook(rest))
            elif kind == "v":
                ops.append(StoreValues(rest))         # nothing of its own: the shared values hold
            else:
                k, target, action = rest.split(":", 2)
                ops.append(SetMerch(k, target, "clear", rule=action))      # that rule only: a pin stays
            new_sent[key] = None
        for key in sorted(desired, key=_in_order):
            h, op = desired[key]
            if sent.get(key) != h:
                ops.append(op)
                new_sent[key] = h
        return ops, new_sent

    # ---- publishing ---------------------------------------------------------------------------
    def _chunks(self, ops: list[Op], max_ops: int) -> list[list[Op]]:
        out, cur, size = [], [], 0
        for op in ops:
            n = len(canonical(op.to_json()))
            if cur and (len(cur) >= max_ops or size + n > MAX_DELTA_BYTES - 4096):
                out.append(cur)
                cur, size = [], 0
            cur.append(op)
            size += n
        if cur:
            out.append(cur)
        return out

    def record(self, store: str, chunks: list[list[Op]], new_sent: dict,
               snapshot: bool = False) -> list[tuple[int, str, bytes]]:
        """Assign the next seqs and log the signed deltas of one store, in one transaction (one
        fsync), before any of them is published. snapshot: the chunks are everything the store
        should have; each delta says so ([first, last]) and what was sent before is forgotten.
        A FollowShared op: from then on what was sent to the store is its own values only (the
        shared stream has the rest)."""
        out = []
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.execute("INSERT OR IGNORE INTO stores VALUES (?, 0)", (store,))
            seq = cur.execute("SELECT seq FROM stores WHERE store=?", (store,)).fetchone()[0]
            if snapshot:
                cur.execute("DELETE FROM sent WHERE store=?", (store,))
            span = [seq + 1, seq + len(chunks)]
            for chunk in chunks:
                seq += 1
                env = {"schema": SCHEMA, "catalog": self.catalog_id, "store": store, "seq": seq,
                       "created_at": now_iso(), "ops": [op.to_json() for op in chunk]}
                if snapshot:
                    env["snapshot"] = span
                payload = sign(env, self.key)
                topic = topics.delta(self.catalog_id, store, seq)
                cur.execute("INSERT INTO log VALUES (?,?,?,?,0)", (store, seq, topic, payload))
                for op in chunk:
                    if isinstance(op, FollowShared):
                        cur.execute("DELETE FROM sent WHERE store=? AND key NOT LIKE 'v:%'", (store,))
                        cur.execute("INSERT OR REPLACE INTO follows VALUES (?,?)", (store, op.seq))
                        continue
                    if isinstance(op, SetMerch) and op.action == "clear" and not op.rule:   # every rule
                        cur.executemany("DELETE FROM sent WHERE store=? AND key=?",
                                        [(store, SetMerch(op.kind, op.target, a).key) for a in MERCH_ACTIONS])
                    elif removes(op):
                        cur.execute("DELETE FROM sent WHERE store=? AND key=?", (store, op.key))
                    else:
                        cur.execute("INSERT OR REPLACE INTO sent VALUES (?,?,?)", (store, op.key, new_sent[op.key]))
                out.append((seq, topic, payload))
            cur.execute("UPDATE stores SET seq=? WHERE store=?", (seq, store))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return out

    def _image_bytes(self, sha: str) -> bytes:
        path = self.catalog.images.find(sha)
        if path is None:
            raise FileNotFoundError(f"head office's catalogue has no image {sha}")
        return path.read_bytes()

    def _send(self, items: list[tuple[str, bytes]], report: PublishReport, progress=None) -> list[int]:
        mids = []
        for topic, payload in items:
            mids.append(self.pub.publish(topic, payload))
            report.bytes += len(payload)
            if progress is not None:
                progress.update(1)
        return mids

    def resend_unconfirmed(self, report: PublishReport, acked_seq: dict[str, int] | None = None) -> None:
        """Deltas logged but never confirmed by the broker, or newer than a store reports having."""
        rows = self.db.execute("SELECT store, seq, topic, payload, confirmed FROM log ORDER BY store, seq").fetchall()
        again = [(s, q, t, p) for s, q, t, p, c in rows
                 if not c or (acked_seq is not None and s in acked_seq and q > acked_seq[s])]
        if not again:
            return
        # the images those deltas name go again too: a broker that lost a delta may have lost them
        shas = sorted({op.product.image_sha256 for _, _, _, p in again for op in map(parse_op, json.loads(p)["ops"])
                       if isinstance(op, UpsertProduct) and op.product.image_sha256})
        mids = self._send([(topics.image(self.catalog_id, sha), self._image_bytes(sha)) for sha in shas], report)
        mids += self._send([(t, p) for _, _, t, p in again], report)
        if not self.pub.wait(mids):
            self.db.executemany("UPDATE log SET confirmed=1 WHERE store=? AND seq=?", [(s, q) for s, q, _, _ in again])
        report.resent += len(again)

    def plan(self, store: str, desired: dict[str, tuple[str, Op]], shared: bool) -> tuple[list[Op], dict]:
        """What one stream gets now: the shared stream and a store that does not follow it, the
        catalogue's changes; a store that follows it, its own values' changes; a store that starts
        to follow it (shared), what it lacks of the catalogue, the word to follow the shared stream
        after its present seq, and all its own values."""
        if store == SHARED_STREAM:
            return self.diff(store, desired)
        if self.follows_shared(store):
            return self.diff(store, self.own_values(store))
        if not shared:
            return self.diff(store, desired)
        values = self.own_values(store)
        if self.last_seq(store) == 0:
            # a new store: it reads the shared stream from its start (or its snapshot)
            ops, new_sent, since = [], {}, 0
        else:
            # it lacks only what changed since its last delta; then it has what the shared stream
            # says at its last seq (the same `desired`), and follows it from there
            (ops, new_sent), since = self.diff(store, desired), self.last_seq(SHARED_STREAM)
        ops += [FollowShared(since)] + [op for _, op in values.values()]
        return ops, new_sent | {k: h for k, (h, _) in values.items()}

    def publish(self, stores: list[str], with_vectors: bool = True, max_ops: int = 100, progress: bool = False,
                acked_seq: dict[str, int] | None = None, shared: bool = False) -> PublishReport:
        """Publish the changes to these stores. shared: through the shared stream (each change
        once for every store), moving stores that are not on it yet; stores already on it always are."""
        t0 = time.monotonic()
        report = PublishReport()
        self.pub.wait_connected()
        self.resend_unconfirmed(report, acked_seq)
        desired = self.desired(with_vectors)
        shared = shared or any(self.follows_shared(s) for s in stores)
        streams = ([SHARED_STREAM] if shared else []) + [s for s in stores if s != SHARED_STREAM]
        # the shared stream (first in streams) is logged before the stores are planned: a store
        # moving onto it follows it after the seq it has now
        plans, chunks, logged_shared = {}, {}, []
        for store in streams:
            plans[store] = self.plan(store, desired, shared)
            chunks[store] = self._chunks(plans[store][0], max_ops)
            if store == SHARED_STREAM and chunks[store]:
                logged_shared = self.record(SHARED_STREAM, chunks[SHARED_STREAM], plans[SHARED_STREAM][1])
        shas = sorted({op.product.image_sha256 for ops, _ in plans.values() for op in ops
                       if isinstance(op, UpsertProduct) and op.product.image_sha256})
        known = {r[0] for r in self.db.execute("SELECT sha FROM images")}
        shas = [s for s in shas if s not in known]
        total = len(shas) + sum(len(c) for c in chunks.values())
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=total, desc="publishing", unit="msg", file=sys.stderr)
        # images first: a delta that names an image waits for it at the store
        self._send_images(shas, report, bar)
        # every stream's deltas go out before waiting: the broker acknowledges them in parallel
        sent: list[tuple[str, int, int]] = []          # (stream, seq, mid)
        for store in streams:
            ops, new_sent = plans[store]
            if store == SHARED_STREAM:
                logged = logged_shared
            else:
                logged = self.record(store, chunks[store], new_sent) if chunks[store] else []
            mids = self._send([(t, p) for _, t, p in logged], report, bar)
            sent += [(store, seq, mid) for (seq, _, _), mid in zip(logged, mids)]
            report.stores[store] = {"ops": len(ops), "deltas": len(chunks[store]), "seq": self.last_seq(store)}
        missing = set(self.pub.wait([mid for _, _, mid in sent]))
        self.db.executemany("UPDATE log SET confirmed=1 WHERE store=? AND seq=?",
                            [(store, seq) for store, seq, mid in sent if mid not in missing])
        if missing:
            raise ConnectionError(f"{len(missing)} deltas not acknowledged by the broker; run publish again")
        if bar is not None:
            bar.close()
        report.seconds = time.monotonic() - t0
        return report

    def _send_images(self, shas: list[str], report: PublishReport, bar=None) -> None:
        """Images the broker has not confirmed yet, in batches, each batch recorded once acknowledged."""
        known = {r[0] for r in self.db.execute("SELECT sha FROM images")}
        shas = [s for s in shas if s not in known]
        for i in range(0, len(shas), 200):
            batch = shas[i:i + 200]
            items = [(topics.image(self.catalog_id, sha), self._image_bytes(sha)) for sha in batch]
            missing = self.pub.wait(self._send(items, report, bar))
            if missing:
                raise ConnectionError(f"{len(missing)} images not acknowledged by the broker; run publish again")
            self.db.executemany("INSERT OR IGNORE INTO images VALUES (?)", [(s,) for s in batch])
            report.images += len(batch)

    def compact(self, stores: list[str], max_ops: int = 100) -> PublishReport:
        """A snapshot per store, then the broker's retained history is cut to it.

        Each store gets everything it should have as deltas S..S+k marked snapshot [S, S+k]; a
        store applies them as one (whatever they do not name goes), so one that is new, wiped, or
        away longer than its session starts from S. Once the broker has them, the retained deltas
        before S are cleared, and so are the retained images no logged delta names any more: the
        history a new store reads is one snapshot long, not every change since the first."""
        t0 = time.monotonic()
        report = PublishReport()
        self.pub.wait_connected()
        desired = self.desired(with_vectors=True)
        catalogue = [desired[k][1] for k in sorted(desired, key=_in_order)]
        self._send_images(sorted({op.product.image_sha256 for op in catalogue
                                  if isinstance(op, UpsertProduct) and op.product.image_sha256}), report)
        # the shared stream too, once any store follows it (it is compacted like a store's)
        streams = [s for s in stores if s != SHARED_STREAM]
        if SHARED_STREAM in stores or any(self.follows_shared(s) for s in streams):
            streams = [SHARED_STREAM] + streams
        for store in streams:
            if store != SHARED_STREAM and self.follows_shared(store):
                # its own values, and the word to follow the shared stream (from its start, or its
                # snapshot: a store wiped since reads it all again; one following it keeps its place)
                values = self.own_values(store)
                ops = [FollowShared(0)] + [op for _, op in values.values()]
                now = {k: h for k, (h, _) in values.items()}
            else:
                ops, now = catalogue, {k: h for k, (h, _) in desired.items()}
            chunks = self._chunks(ops, max_ops) or [[]]
            logged = self.record(store, chunks, now, snapshot=True)
            first = logged[0][0]
            missing = self.pub.wait(self._send([(t, p) for _, t, p in logged], report))
            if missing:
                raise ConnectionError(f"{len(missing)} snapshot deltas not acknowledged; run compact again")
            self.db.executemany("UPDATE log SET confirmed=1 WHERE store=? AND seq=?", [(store, q) for q, _, _ in logged])
            old = self.db.execute("SELECT seq, topic FROM log WHERE store=? AND seq < ?", (store, first)).fetchall()
            missing = self.pub.wait(self._send([(t, b"") for _, t in old], report))   # empty + retained: cleared
            if missing:
                raise ConnectionError("the broker did not confirm clearing the old history; run compact again")
            self.db.execute("DELETE FROM log WHERE store=? AND seq < ?", (store, first))
            report.stores[store] = {"ops": len(ops), "deltas": len(logged), "seq": self.last_seq(store),
                                    "cleared": len(old)}
        named = set()
        for (payload,) in self.db.execute("SELECT payload FROM log"):
            named |= {op["image_sha256"] for op in json.loads(payload)["ops"] if op.get("image_sha256")}
        stale = [r[0] for r in self.db.execute("SELECT sha FROM images") if r[0] not in named]
        if stale and not self.pub.wait(self._send([(topics.image(self.catalog_id, sha), b"") for sha in stale], report)):
            self.db.executemany("DELETE FROM images WHERE sha=?", [(sha,) for sha in stale])
        report.seconds = time.monotonic() - t0
        return report

    def close(self) -> None:
        if self.pub is not None:
            self.pub.close()

    def last_seq(self, store: str) -> int:
        row = self.db.execute("SELECT seq FROM stores WHERE store=?", (store,)).fetchone()
        return row[0] if row else 0

    def known_stores(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT store FROM stores WHERE store != ? ORDER BY store", (SHARED_STREAM,))]


def fleet_status(host: str, port: int, username: str, password: str, catalog_id: str, wait: float = 1.5,
                 tls: dict | None = None) -> dict[str, dict]:
    """Every store's (and screen's, as 'store/screen') retained status: online, catalogue version,
    seq, last seen, rejections."""
    seen: dict[str, dict] = {}
    done = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.username_pw_set(username, password)
    if tls:
        c.tls_set(**tls)

    def on_connect(client, userdata, flags, rc, props):
        if rc.is_failure:
            done.set()
            return
        client.subscribe([(topics.statuses(catalog_id), 1), (topics.screen_statuses(catalog_id), 1)])

    def on_message(client, userdata, msg):
        parts = msg.topic.split("/")
        key = parts[2] if len(parts) == 4 else f"{parts[2]}/{parts[4]}"   # store, or store/screen
        try:
            seen[key] = json.loads(msg.payload)
        except ValueError:
            pass
    c.on_connect, c.on_message = on_connect, on_message
    c.connect(host, port, keepalive=10)
    c.loop_start()
    done.wait(wait)
    c.disconnect()
    c.loop_stop()
    return seen
