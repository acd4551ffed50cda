"""Head office: diff the catalogue against what each store was last sent, publish only the changes.

HQ keeps its own catalogue (edge Catalog: products, vectors, looks, merch) and a publish log
(hq.sqlite): per store, the last sequence number, the hash of every product/look/rule as last
sent, and every delta sent (a write-ahead log: a delta is recorded with its seq before it is
published, so a crash never reuses a seq for other content; unconfirmed deltas are re-sent first).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import logging
import secrets
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
                  VectorRef, removes)
from .store import now_iso

log = logging.getLogger("signage.hq")

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
    caught_up: dict = field(default_factory=dict)   # head-office broker -> deltas it lacked, sent first
    brokers: dict = field(default_factory=dict)     # head-office broker -> current | behind | down

    def to_json(self) -> dict:
        return {"stores": self.stores, "images": self.images, "resent": self.resent, "bytes": self.bytes,
                "seconds": round(self.seconds, 2), "caught_up": self.caught_up, "brokers": self.brokers}


def images_named(payloads) -> set[str]:
    """The images the logged deltas (signed envelopes) name: an upserted product's image_sha256."""
    return {op["image_sha256"] for p in payloads for op in json.loads(p)["ops"] if op.get("image_sha256")}


def _in_order(key: str) -> tuple:
    """Products, then looks (which name products), then rules, then a store's own values: the
    order a store applies them."""
    return "plmv".index(key[0]), key


def _h(obj) -> str:
    return hashlib.sha256(canonical(obj)).hexdigest()[:32]


class Publisher:
    """A QoS 1 MQTT 5 publisher to one broker that knows which messages it has acknowledged."""

    def __init__(self, host: str, port: int, username: str, password: str, tls: dict | None = None,
                 client_id: str = "hq-publisher"):
        self.address = f"{host}:{port}"
        self.created = time.monotonic()
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
        self._inbox: dict[str, bytes] = {}       # topic -> the last payload (held())
        self.client.on_publish = self._on_publish
        self.client.on_connect = lambda c, u, f, rc, p: (not rc.is_failure) and self.connected.set()
        self.client.on_disconnect = lambda c, u, f, rc, p: self.connected.clear()
        self.client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600   # un-acked messages survive a broker restart
        self.client.connect_async(host, port, keepalive=30, clean_start=False, properties=props)
        self.client.loop_start()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self._cv:
            self._acked.add(mid)
            self._cv.notify_all()

    def _on_message(self, client, userdata, msg):
        with self._cv:
            self._inbox[msg.topic] = bytes(msg.payload)
            self._cv.notify_all()

    def wait_connected(self, timeout: float = 15.0) -> None:
        if not self.connected.wait(timeout):
            raise ConnectionError(f"could not connect to the broker at {self.address}")

    def publish(self, topic: str, payload: bytes, retain: bool = True) -> int:
        return self.client.publish(topic, payload, qos=1, retain=retain).mid

    def wait(self, mids: list[int], timeout: float = 120.0) -> list[int]:
        """Wait until the broker acknowledged these; returns those still not acknowledged (at
        once when the connection drops: a broker gone acknowledges nothing more)."""
        end = time.monotonic() + timeout
        with self._cv:
            while True:
                missing = [m for m in mids if m not in self._acked]
                if not missing or time.monotonic() >= end or not self.connected.is_set():
                    return missing
                self._cv.wait(min(0.5, max(0.0, end - time.monotonic())))

    def held(self, catalog: str, timeout: float = 10.0) -> dict | None:
        """Head office's retained word on this broker of what it holds (topics.held), None when it
        has none (a new broker, or one back without its persistence). Subscribed together with a
        ping head office then sends itself: the broker hands retained messages out on the
        subscription, before the ping, so when the ping is back the word came if there is one."""
        token = secrets.token_hex(8).encode()
        with self._cv:
            self._inbox.pop(topics.held(catalog), None)
        self.client.subscribe([(topics.held(catalog), 1), (topics.ping(catalog), 1)])
        self.client.publish(topics.ping(catalog), token, qos=1, retain=False)
        end = time.monotonic() + timeout
        with self._cv:
            while self._inbox.get(topics.ping(catalog)) != token:
                if time.monotonic() >= end or not self.connected.is_set():
                    raise ConnectionError(f"the broker at {self.address} did not answer")
                self._cv.wait(0.2)
            said = self._inbox.get(topics.held(catalog))
        self.client.unsubscribe([topics.held(catalog), topics.ping(catalog)])
        try:
            return json.loads(said) if said else None
        except ValueError:
            return None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class HqBrokers:
    """Head office's brokers: the primary and its standbys (docs/fleet.md, "Two head-office
    brokers"). Every message goes to each broker that is up; one that is down, or drops while
    acknowledging, is marked `missed` and is caught up from the publish log when it is back
    (HeadOffice.catch_up). The same interface as one Publisher: publish gives a token, wait
    returns the tokens no broker acknowledged."""

    def __init__(self, publishers: list[Publisher]):
        self.pubs = publishers
        self.missed: set[int] = set()          # brokers that did not take everything since their word
        self._tokens = itertools.count(1)
        self._sent: dict[int, dict[int, int]] = {}       # token -> {broker: mid}

    @property
    def addresses(self) -> list[str]:
        return [p.address for p in self.pubs]

    def up(self) -> list[int]:
        return [i for i, p in enumerate(self.pubs) if p.connected.is_set()]

    def wait_connected(self, timeout: float = 15.0, grace: float = 3.0) -> None:
        """At least one broker up (else ConnectionError naming them all); the others get until
        `grace` seconds after head office started connecting to them, then it goes on without
        them (a broker that dropped later is not waited for: it is caught up when it is back)."""
        end = time.monotonic() + timeout
        while not self.up():
            if time.monotonic() >= end:
                raise ConnectionError("no head-office broker reachable (" + ", ".join(self.addresses) + "): "
                                      "what was logged is kept and goes when one is back; run it again")
            time.sleep(0.05)
        end = min(end, max(p.created for p in self.pubs) + grace)
        while len(self.up()) < len(self.pubs) and time.monotonic() < end:
            time.sleep(0.05)

    def publish(self, topic: str, payload: bytes, retain: bool = True, only: int | None = None) -> int:
        token = next(self._tokens)
        to = {}
        for i, p in enumerate(self.pubs):
            if only is not None and i != only:
                continue
            if p.connected.is_set():
                to[i] = p.publish(topic, payload, retain)
            else:
                self.missed.add(i)
        self._sent[token] = to
        return token

    def wait(self, tokens: list[int], timeout: float = 120.0) -> list[int]:
        end = time.monotonic() + timeout
        acked: dict[int, int] = {t: 0 for t in tokens}
        for i, p in enumerate(self.pubs):
            mine = {self._sent[t][i]: t for t in tokens if i in self._sent.get(t, {})}
            if not mine:
                continue
            missing = p.wait(list(mine), max(0.0, end - time.monotonic()))
            if missing:
                self.missed.add(i)
            for mid, t in mine.items():
                acked[t] += mid not in missing
        for t in tokens:
            self._sent.pop(t, None)
        return [t for t, n in acked.items() if n == 0]

    def close(self) -> None:
        for p in self.pubs:
            p.close()


class HeadOffice:
    def __init__(self, folder: Path, catalog_id: str, private_key, publisher: Publisher | HqBrokers | None = None):
        self.dir = Path(folder)
        self.catalog = Catalog(self.dir / "catalog", create=True)
        self.catalog_id = catalog_id
        self.key = private_key
        self.db = sqlite3.connect(self.dir / "hq.sqlite", isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(HQ_SCHEMA)
        self.pub = HqBrokers([publisher]) if isinstance(publisher, Publisher) else publisher

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
        shas = sorted(images_named(p for _, _, _, p in again))
        mids = self._send([(topics.image(self.catalog_id, sha), self._image_bytes(sha)) for sha in shas], report)
        mids += self._send([(t, p) for _, _, t, p in again], report)
        if not self.pub.wait(mids):
            self.db.executemany("UPDATE log SET confirmed=1 WHERE store=? AND seq=?", [(s, q) for s, q, _, _ in again])
        report.resent += len(again)

    def log_span(self) -> dict[str, list[int]]:
        """stream -> [first, last] seq of the publish log (what every head-office broker should hold)."""
        return {s: [a, b] for s, a, b in self.db.execute("SELECT store, MIN(seq), MAX(seq) FROM log GROUP BY store")}

    def _say_held(self, i: int) -> None:
        """Tell broker i (retained) that it holds the whole publish log as it is now."""
        said = json.dumps({"streams": self.log_span(), "at": now_iso()}, sort_keys=True).encode()
        if self.pub.wait([self.pub.publish(topics.held(self.catalog_id), said, only=i)], 30.0):
            self.pub.missed.add(i)

    def catch_up(self) -> dict[str, int]:
        """Every head-office broker that is up gets what it lacks of the publish log: one back
        after a publish went on without it (its word says an older seq), one back without its
        persistence or a new standby (no word: everything), with the images those deltas name;
        history compacted away while it was down is cleared on it. Then it is told it holds the
        log. Returns broker address -> deltas sent to it."""
        out = {}
        span = self.log_span()
        for i in self.pub.up():
            p = self.pub.pubs[i]
            try:
                said = p.held(self.catalog_id)
            except ConnectionError:
                self.pub.missed.add(i)
                continue
            held = (said or {}).get("streams", {})
            if said is not None and held == span and i not in self.pub.missed:
                out[p.address] = 0
                continue
            rows = [(t, pl) for st, q, t, pl in self.db.execute("SELECT store, seq, topic, payload FROM log ORDER BY store, seq")
                    if q > held.get(st, [0, 0])[1]]
            # deltas that compaction cleared while this broker was away: cleared on it too
            stale = [topics.delta(self.catalog_id, st, q) for st, (first, last) in held.items()
                     for q in range(first, min(last, span.get(st, [last + 1])[0] - 1) + 1)]
            shas = sorted(images_named(pl for _, pl in rows))
            items = [(topics.image(self.catalog_id, sha), self._image_bytes(sha)) for sha in shas]
            items += rows + [(t, b"") for t in stale]
            tokens = [self.pub.publish(t, pl, only=i) for t, pl in items]
            if self.pub.wait(tokens):
                self.pub.missed.add(i)
                continue
            self.pub.missed.discard(i)
            self._say_held(i)
            out[p.address] = len(rows)
        return out

    def say_held(self) -> None:
        """After a publish: each broker that took all of it is told it holds the log."""
        for i in self.pub.up():
            if i not in self.pub.missed:
                self._say_held(i)

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
        report.caught_up = self.catch_up()
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
            raise ConnectionError(f"{len(missing)} deltas not acknowledged by any head-office broker; run publish again")
        if bar is not None:
            bar.close()
        self.say_held()
        report.brokers = self.broker_states()
        report.seconds = time.monotonic() - t0
        return report

    def broker_states(self) -> dict[str, str]:
        """Each head-office broker: "current" (holds the whole log), "behind" (up, missed some:
        caught up on the next publish or by `signage fleet keep`), "down"."""
        up = set(self.pub.up())
        return {p.address: ("down" if i not in up else "behind" if i in self.pub.missed else "current")
                for i, p in enumerate(self.pub.pubs)}

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
        report.caught_up = self.catch_up()
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
        named = images_named(payload for (payload,) in self.db.execute("SELECT payload FROM log"))
        stale = [r[0] for r in self.db.execute("SELECT sha FROM images") if r[0] not in named]
        if stale and not self.pub.wait(self._send([(topics.image(self.catalog_id, sha), b"") for sha in stale], report)):
            self.db.executemany("DELETE FROM images WHERE sha=?", [(sha,) for sha in stale])
        self.say_held()
        report.brokers = self.broker_states()
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


class BrokerKeeper:
    """Head office's daemon (`signage fleet keep`): every few seconds, each head-office broker
    that is up and lacks part of the publish log (back after a publish went on without it, back
    without its persistence, a new standby) gets it (HeadOffice.catch_up). Stores move back to the
    primary as soon as it answers: it must hold their history by then, not at the next publish."""

    def __init__(self, hq: HeadOffice, interval: float = 2.0):
        self.hq = hq
        self.interval = interval
        self._stop = threading.Event()
        self.refills: list[tuple[float, str, int]] = []      # (monotonic time, broker, deltas sent)

    def step(self) -> dict[str, int]:
        sent = self.hq.catch_up()
        for address, n in sent.items():
            if n:
                self.refills.append((time.monotonic(), address, n))
                log.info("head-office broker %s lacked %d deltas of the publish log: sent", address, n)
        return sent

    def run(self, until=None) -> None:
        while not self._stop.is_set() and not (until and until()):
            if self.hq.pub.up():
                try:
                    self.step()
                except ConnectionError as e:      # a broker that went while we sent: the next round
                    log.warning("%s", e)
            self._stop.wait(self.interval)

    def request_stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self.hq.close()


def fleet_status(host: str, port: int, username: str, password: str, catalog_id: str, wait: float = 1.5,
                 tls: dict | None = None) -> dict[str, dict]:
    """Every store's (and screen's, as 'store/screen') retained status on this broker: online,
    catalogue version, seq, last seen, rejections; and, as 'bridge', what the store's bridge last
    said here (1: it is on this broker, 0: it left). ConnectionError when the broker is down."""
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
        client.subscribe([(topics.statuses(catalog_id), 1), (topics.screen_statuses(catalog_id), 1),
                          (topics.bridges(catalog_id), 1)])

    def on_message(client, userdata, msg):
        parts = msg.topic.split("/")
        if parts[-1] == "bridge":
            seen.setdefault(parts[2], {})["bridge"] = msg.payload.decode(errors="replace").strip()
            return
        key = parts[2] if len(parts) == 4 else f"{parts[2]}/{parts[4]}"   # store, or store/screen
        try:
            said = json.loads(msg.payload)
        except ValueError:
            return
        if isinstance(said, dict):
            seen.setdefault(key, {}).update(said)
    c.on_connect, c.on_message = on_connect, on_message
    try:
        c.connect(host, port, keepalive=10)
    except OSError as e:
        raise ConnectionError(f"head-office broker {host}:{port}: {e}") from None
    c.loop_start()
    done.wait(wait)
    c.disconnect()
    c.loop_stop()
    return seen


def fleet_statuses(addresses: list[tuple[str, int]], username: str, password: str, catalog_id: str,
                   wait: float = 1.5, tls: dict | None = None) -> tuple[dict[str, dict], dict[str, str]]:
    """Every store's status as head office's brokers hold it, read from all at once and merged
    (merge_status), and each broker's state: "up", or "down (why)"."""
    from concurrent.futures import ThreadPoolExecutor

    def one(address):
        try:
            return fleet_status(*address, username, password, catalog_id, wait, tls)
        except ConnectionError as e:
            return e
    with ThreadPoolExecutor(len(addresses)) as pool:
        got = dict(zip((f"{h}:{p}" for h, p in addresses), pool.map(one, addresses)))
    states = {a: "up" if isinstance(v, dict) else f"down ({v})" for a, v in got.items()}
    return merge_status({a: v if isinstance(v, dict) else None for a, v in got.items()}), states


def merge_status(per_broker: dict[str, dict[str, dict] | None]) -> dict[str, dict]:
    """Each store's (and screen's) status from every head-office broker (address -> fleet_status,
    None: down) as one: the newest (a status goes out through the broker the store's bridge is
    on, so an older copy stays on the one it left), and `hq_broker`, the broker the store is on:
    one its bridge last said 1 on (the newest status's if several), else the newest status's."""
    on: dict[str, list[str]] = {}
    newest: dict[str, tuple[dict, str]] = {}
    for address, seen in per_broker.items():
        for key, st in (seen or {}).items():
            if st.get("bridge") == "1":
                on.setdefault(key, []).append(address)
            st = {k: v for k, v in st.items() if k != "bridge"}
            if st and str(st.get("last_seen", "")) >= str(newest.get(key, ({}, ""))[0].get("last_seen", "")):
                newest[key] = (st, address)
    out = {}
    for key in sorted(set(newest) | set(on)):
        st, came = newest.get(key, ({}, None))
        bridged = on.get(key.split("/")[0], [])
        out[key] = dict(st, hq_broker=(came if came in bridged else bridged[0]) if bridged else came)
    return out
