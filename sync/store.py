"""The store side of catalogue sync: receive, verify, apply atomically, then acknowledge.

MQTT 5, persistent session (Session Expiry set: without it Mosquitto drops the session), QoS 1,
manual acknowledgement: a delta's PUBACK is sent only after it is applied and committed (or
rejected), so a crash before that gets it delivered again, and the sequence number stored in the
same transaction makes the second delivery a no-op. Order: every delta carries seq; a gap holds
later deltas until it is filled (from the session, or the retained history re-read). Invalid
messages change nothing and are reported on the status topic with the reason.
"""
from __future__ import annotations

import hashlib
import json
import logging
import queue
import random
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge.catalog.store import Catalog
from edge.ids import OWN_STREAM, SHARED_STREAM
from edge.errors import BadImage
from edge.vision.embed import DIM as VECTOR_DIM
from edge.vision.imageio import decode_image

from . import topics
from .envelope import MAX_IMAGE_BYTES, Delta, Rejected, parse
from .ops import DeleteProduct, UpsertProduct, apply_delta, apply_snapshot, image_path_for

log = logging.getLogger("signage.sync")
SESSION_EXPIRY = 30 * 24 * 3600      # keep a store's queue for 30 days offline
GAP_WAIT = 3.0                       # seconds a gap may stay open before the history is re-read
# Deltas held un-acknowledged while a gap is open. The broker stops sending once a client holds
# max_inflight_messages (100) un-acknowledged: past this, the newest are let go (acknowledged
# unapplied); they are retained and come back when the history is re-read.
MAX_WAITING = 48
IMAGE_WAIT = 60.0                    # seconds a delta may wait for an image the broker does not have
# Images arrive (retained, per catalogue) before the deltas that name them, and for products other
# stores sell too: held in memory, up to this, until a delta names them; on disk only then.
MAX_LOOSE_IMAGE_BYTES = 128 * 1024 * 1024


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Incoming:
    topic: str
    payload: bytes
    mid: int
    qos: int


@dataclass
class SyncState:
    connected: bool = False
    rejected: int = 0
    applied: int = 0
    duplicates: int = 0
    last_rejection: dict | None = None
    last_applied_at: str | None = None
    waiting: dict = field(default_factory=dict)   # own stream: seq -> (Delta, [Incoming]) held for a gap or image


class SnapshotParts:
    """The deltas of a head-office snapshot, kept on disk as they arrive (and acknowledged then:
    a snapshot of a big catalogue is more deltas than the broker lets a client hold unacknowledged)
    until all are here and it applies in one transaction."""

    def __init__(self, db: sqlite3.Connection, table: str = "parts"):
        """db: sync-snapshot.sqlite (open_parts); table: one per stream, in the one file (a
        screen holds few files: the fleet simulator runs a hundred screens in one process)."""
        self.db, self.table = db, table
        self.db.execute(f"CREATE TABLE IF NOT EXISTS {table} (first INTEGER, last INTEGER, seq INTEGER, "
                        "payload BLOB, PRIMARY KEY (first, seq))")

    def add(self, first: int, last: int, seq: int, payload: bytes) -> None:
        self.db.execute(f"INSERT OR IGNORE INTO {self.table} VALUES (?,?,?,?)", (first, last, seq, payload))

    def complete_after(self, seq: int) -> tuple[int, int] | None:
        """The first snapshot beyond seq with every part here."""
        return self.db.execute(f"SELECT first, last FROM {self.table} WHERE first > ? GROUP BY first, last "
                               "HAVING COUNT(*) = last - first + 1 ORDER BY first LIMIT 1", (seq,)).fetchone()

    def payloads(self, first: int) -> list[bytes]:
        return [r[0] for r in self.db.execute(f"SELECT payload FROM {self.table} WHERE first=? ORDER BY seq", (first,))]

    def drop_through(self, seq: int) -> None:
        self.db.execute(f"DELETE FROM {self.table} WHERE first <= ?", (seq,))

    def waiting(self) -> list[int]:
        return [r[0] for r in self.db.execute(f"SELECT DISTINCT first FROM {self.table} ORDER BY first")]


def open_parts(folder) -> sqlite3.Connection:
    db = sqlite3.connect(Path(folder) / "sync-snapshot.sqlite", isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    return db


@dataclass
class Stream:
    """One of head office's streams as this store follows it: its own (everything, or once it
    follows the shared one only its own prices, stock and aisles) or the shared one."""
    name: str                      # OWN_STREAM | SHARED_STREAM (the catalogue keeps each one's seq)
    wire: str                      # in topics and envelopes: the store id, or "shared"
    waiting: dict                  # seq -> (Delta, [Incoming]) held for a gap or an image
    snapshots: SnapshotParts
    gap_since: float | None = None


class StoreSync:
    def __init__(self, catalog: Catalog, catalog_id: str, store_id: str, public_key, host: str, port: int,
                 username: str, password: str, model_version: str, vision_factory=None, heartbeat: float = 30.0,
                 tls: dict | None = None, client_id: str | None = None, screen: str | None = None,
                 vector_dim: int = VECTOR_DIM, image_wait: float = IMAGE_WAIT,
                 max_loose_image_bytes: int = MAX_LOOSE_IMAGE_BYTES):
        self.catalog = catalog
        self.catalog_id = catalog_id
        self.store = store_id
        self.screen = screen
        self.status_topic = topics.status(catalog_id, store_id, screen)
        self.key = public_key
        self.model_version = model_version      # vectors of another model are re-embedded here
        self.vector_dim = vector_dim            # ... and this model's must have its length
        self.image_wait = image_wait
        self.max_loose_image_bytes = max_loose_image_bytes
        self._loose: dict[str, bytes] = {}      # verified images no delta has named yet (oldest first)
        self._wanted: dict[str, float] = {}     # sha -> since when a waiting delta needs it
        self.vision_factory = vision_factory
        self._vision = None
        self.heartbeat = heartbeat
        self.state = SyncState()
        parts = open_parts(catalog.dir)
        self.streams = {OWN_STREAM: Stream(OWN_STREAM, store_id, self.state.waiting, SnapshotParts(parts)),
                        SHARED_STREAM: Stream(SHARED_STREAM, SHARED_STREAM, {}, SnapshotParts(parts, "shared_parts"))}
        self.inbox: queue.Queue[Incoming] = queue.Queue()
        self._stop = threading.Event()
        self._status_lock = threading.Lock()
        self._need_history = False    # deltas were let go: re-read the retained history when caught up
        default_id = f"screen-{store_id}-{screen}" if screen else f"store-{store_id}"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or default_id,
                                  protocol=mqtt.MQTTv5, manual_ack=True)
        self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(**tls)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)   # paho backs off exponentially
        self.client.will_set(self.status_topic, json.dumps(self._status(online=False)),
                             qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.host, self.port = host, port

    # ---- MQTT callbacks: they only hand over ------------------------------------------------------
    def _subscribe(self, replay_retained: bool) -> None:
        # retain_handling 0: send the retained history now (a new session, or a gap to fill);
        # 1: only if this subscription is new (a resumed session already has what it needs).
        rh = (SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE if replay_retained
              else SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        opts = SubscribeOptions(qos=1, retainHandling=rh)
        subs = [(topics.images(self.catalog_id), opts), (topics.deltas(self.catalog_id, self.store), opts)]
        if self.catalog.follows_shared:
            subs.append((topics.deltas(self.catalog_id, SHARED_STREAM), opts))
        self.client.subscribe(subs)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            return
        self.state.connected = True
        self._subscribe(replay_retained=not flags.session_present)
        self._ask_images(list(self._wanted))   # images a waiting delta asked for while away
        with self._status_lock:
            # this client publishes only statuses: those queued while the broker was away are
            # stale, and paho re-sends them after this callback returns, after the fresh one
            # below, so the broker's retained status went back (seen: 0, 40, 1, 2, ...)
            self.client.drop_out_messages()
        self.publish_status()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.state.connected = False

    def _on_message(self, client, userdata, msg):
        self.inbox.put(Incoming(msg.topic, bytes(msg.payload), msg.mid, msg.qos))

    # ---- status -------------------------------------------------------------------------------
    def _status(self, online: bool = True) -> dict:
        s = self.state
        return {"store": self.store, "screen": self.screen, "catalog": self.catalog_id, "online": online,
                "seq": self.catalog.sync_seq if online else None,
                "shared_seq": self.catalog.seq_of(SHARED_STREAM) if online and self.catalog.follows_shared else None,
                "catalog_version": self.catalog.version if online else None,
                "applied": s.applied, "rejected": s.rejected, "duplicates": s.duplicates,
                "last_rejection": s.last_rejection, "last_applied_at": s.last_applied_at,
                "waiting": sorted(s.waiting), "waiting_shared": sorted(self.streams[SHARED_STREAM].waiting),
                "last_seen": now_iso()}

    def publish_status(self) -> None:
        # paho's thread (on connect) and the applier both publish: without the lock a snapshot
        # taken before a delta applied could be sent after the one taken after it, and head
        # office's retained status went back a seq (seen as 2 then 1 within one second)
        with self._status_lock:
            self.client.publish(self.status_topic, json.dumps(self._status()), qos=1, retain=True)

    def _ack(self, m: Incoming) -> None:
        if m.qos > 0:
            self.client.ack(m.mid, m.qos)

    def _reject(self, m: Incoming, reason: str, seq: int | None = None) -> None:
        self.state.rejected += 1
        self.state.last_rejection = {"topic": m.topic, "seq": seq, "reason": reason, "at": now_iso()}
        log.warning("rejected %s: %s", m.topic, reason)
        self._ack(m)          # a rejected message changes nothing and must not come back
        self.publish_status()

    # ---- applying -----------------------------------------------------------------------------
    @property
    def vision(self):
        if self._vision is None:
            if self.vision_factory is None:
                raise RuntimeError("a product without a usable vector arrived and no models are set up")
            self._vision = self.vision_factory()
        return self._vision

    def _handle_image(self, m: Incoming) -> None:
        sha = m.topic.rsplit("/", 1)[-1]
        if not m.payload:                     # head office cleared a retained image it no longer sends
            return self._ack(m)
        if len(m.payload) > MAX_IMAGE_BYTES:
            return self._reject(m, f"oversized image: {len(m.payload):,} bytes")
        if hashlib.sha256(m.payload).hexdigest() != sha:
            return self._reject(m, "image does not match its sha256")
        if self.catalog.images.has(sha):
            return self._ack(m)
        try:
            decode_image(m.payload, sha)
        except BadImage as e:
            return self._reject(m, f"bad image: {e}")
        if sha in self._wanted:
            # the disk keeps only images a delta names; the specific subscription has done its job
            self.catalog.store_image(m.payload, sha, ".jpg")
            del self._wanted[sha]
            self.client.unsubscribe(topics.image(self.catalog_id, sha))
        else:
            self._loose.pop(sha, None)
            self._loose[sha] = m.payload
            held = sum(map(len, self._loose.values()))
            while held > self.max_loose_image_bytes and self._loose:
                held -= len(self._loose.pop(next(iter(self._loose))))   # the oldest goes; retained
        self._ack(m)

    @staticmethod
    def _images_of(d: Delta) -> set[str]:
        return {op.product.image_sha256 for op in d.ops if isinstance(op, UpsertProduct) and op.product.image_sha256}

    def _claim_images(self, d: Delta) -> None:
        """A delta waits: its images go to disk from memory, or are asked of the broker one by one
        (a retained image comes back on its own topic; no need to re-read every image there is)."""
        ask = []
        for sha in self._images_of(d):
            if self.catalog.images.has(sha):
                continue
            data = self._loose.pop(sha, None)
            if data is not None:
                self.catalog.store_image(data, sha, ".jpg")
            elif sha not in self._wanted:
                self._wanted[sha] = time.monotonic()
                ask.append(sha)
        if self.state.connected:
            self._ask_images(ask)

    def _ask_images(self, shas: list[str]) -> None:
        """Subscribe to these images' own topics: the broker sends each retained one at once."""
        opts = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE)
        for i in range(0, len(shas), 100):
            self.client.subscribe([(topics.image(self.catalog_id, sha), opts) for sha in shas[i:i + 100]])

    def _missing_images(self, d: Delta) -> list[str]:
        return sorted(sha for sha in self._images_of(d) if not self.catalog.images.has(sha))

    def _vectors(self, d: Delta) -> tuple[dict, dict]:
        vectors, images = {}, {}
        for op in d.ops:
            if not isinstance(op, UpsertProduct):
                continue
            sha = op.product.image_sha256
            if sha:
                images[sha] = image_path_for(sha)
            if op.vector is not None and op.vector.model_version == self.model_version:
                vectors[op.sku] = (op.vector.array(), op.vector.model_version)
                continue
            if sha:          # no vector, or one from another model: embed here, off the kiosk's thread
                vision = self.vision
                bgr = decode_image(self.catalog.images.path(images[sha]).read_bytes(), sha)
                iv = vision.product_photo(bgr, op.product.category, colors=False).vector
                vectors[op.sku] = (iv.vector, iv.model_version)
        return vectors, images

    def _apply(self, st: Stream, d: Delta, m: Incoming) -> None:
        vectors, images = self._vectors(d)
        following = self.catalog.follows_shared
        apply_delta(self.catalog, d.seq, d.ops, vectors, images, st.name)   # one transaction with the new seq
        self._after_apply(vectors, prune=any(isinstance(op, (UpsertProduct, DeleteProduct)) for op in d.ops),
                          was_following=following)
        self._ack(m)
        self.publish_status()

    def _after_apply(self, vectors: dict, prune: bool, was_following: bool) -> None:
        if not was_following and self.catalog.follows_shared:
            log.info("following the shared stream after its delta %s", self.catalog.seq_of(SHARED_STREAM))
            if self.state.connected:
                self._subscribe(replay_retained=True)
        for mv in {v[1] for v in vectors.values()}:
            self.catalog.index(mv)                # updated in place from the vector changes
        if prune:
            # images no product shows any more go (those of deltas still waiting stay)
            self.catalog.prune_images(set().union(*(self._images_of(w[0]) for st in self.streams.values()
                                                    for w in st.waiting.values())))
        self.state.applied += 1
        self.state.last_applied_at = now_iso()

    def _stream_of(self, topic: str) -> Stream:
        return self.streams[SHARED_STREAM if topic.split("/")[2] == SHARED_STREAM else OWN_STREAM]

    def _handle_delta(self, m: Incoming) -> None:
        if not m.payload:     # head office cleared a retained delta older than its snapshot
            return self._ack(m)
        st = self._stream_of(m.topic)
        if st.name == SHARED_STREAM and not self.catalog.follows_shared:
            return self._ack(m)     # not following it (yet): its own stream says from where, when
        try:
            d = parse(m.payload, self.key, self.catalog_id, st.wire)
        except Rejected as e:
            return self._reject(m, str(e), topics.seq_of(m.topic))
        if topics.seq_of(m.topic) != d.seq:
            return self._reject(m, f"seq {d.seq} does not match its topic", d.seq)
        for op in d.ops:
            if (isinstance(op, UpsertProduct) and op.vector is not None
                    and op.vector.model_version == self.model_version and len(op.vector.array()) != self.vector_dim):
                # one vector of another length and the index cannot be built: no search at all
                return self._reject(m, f"op upsert_product {op.sku}: vector of {len(op.vector.array())} numbers, "
                                       f"this store's model makes {self.vector_dim}", d.seq)
        have = self.catalog.seq_of(st.name)
        if d.seq <= have:
            # already applied: ignored, whether the broker gives it again (DUP, retained history),
            # a store broker's bridge hands on the retained history as fresh messages after the
            # uplink comes back, head office re-sends what a stale status said was missing, or
            # someone replays a captured delta (signed by head office: it changes nothing either)
            self.state.duplicates += 1
            self._ack(m)
            return
        if d.snapshot is not None:
            # kept on disk until the whole snapshot is here, then applied at once (_drain_waiting)
            st.snapshots.add(*d.snapshot, d.seq, m.payload)
            self._claim_images(d)
            return self._ack(m)
        if d.seq in st.waiting:       # the same delta twice (session and retained history)
            held = st.waiting[d.seq][1]
            if held[0].payload != m.payload:
                return self._reject(m, f"another delta {d.seq} is already waiting: this one ignored", d.seq)
            held.append(m)
        else:
            st.waiting[d.seq] = (d, [m])
            self._claim_images(d)
        while len(st.waiting) > MAX_WAITING:
            for held in st.waiting.pop(max(st.waiting))[1]:
                self._ack(held)
            self._need_history = True

    def _snapshot_due(self, st: Stream) -> Delta | None:
        """A complete snapshot beyond the stream's seq, when the next delta is not here (a store
        that is new, or behind a compacted history) or is the snapshot's first: as one delta."""
        have = self.catalog.seq_of(st.name)
        due = st.snapshots.complete_after(have)
        if due is None or (have + 1 in st.waiting and due[0] != have + 1):
            return None
        parts = [parse(p, self.key, self.catalog_id, st.wire) for p in st.snapshots.payloads(due[0])]
        return Delta(self.catalog_id, st.wire, due[1], parts[-1].created_at,
                     [op for d in parts for op in d.ops], due)

    def _apply_snapshot(self, st: Stream) -> bool:
        try:
            d = self._snapshot_due(st)
        except Rejected as e:          # a part no longer verifies (e.g. a new head-office key)
            log.warning("snapshot dropped: %s", e)
            st.snapshots.drop_through(st.snapshots.complete_after(self.catalog.seq_of(st.name))[0])
            return False
        if d is None:
            return False
        self._claim_images(d)
        if self._missing_images(d):
            return False               # asked for; the next steps apply it when they are here
        following = self.catalog.follows_shared
        try:
            vectors, images = self._vectors(d)
            apply_snapshot(self.catalog, d.snapshot[0], d.snapshot[1], d.ops, vectors, images, st.name)
        except Exception as e:         # nothing changed (one transaction); the parts come again
            log.exception("snapshot %s-%s could not apply", *d.snapshot)
            st.snapshots.drop_through(d.snapshot[1])
            self.state.rejected += 1
            self.state.last_rejection = {"topic": topics.delta(self.catalog_id, st.wire, d.snapshot[0]),
                                         "seq": d.snapshot[0], "reason": f"could not apply snapshot: {e}",
                                         "at": now_iso()}
            self.publish_status()
            return False
        st.snapshots.drop_through(d.snapshot[1])
        self._after_apply(vectors, prune=True, was_following=following)
        log.info("snapshot %s-%s of the %s stream applied: %s products", *d.snapshot, st.name, self.catalog.count())
        self.publish_status()
        return True

    def _drain_waiting(self) -> None:
        for st in self.streams.values():
            self._drain(st)

    def _drain(self, st: Stream) -> None:
        while True:
            nxt = self.catalog.seq_of(st.name) + 1
            for seq in [s for s in st.waiting if s < nxt]:
                self.state.duplicates += 1
                for m in st.waiting.pop(seq)[1]:
                    self._ack(m)
            if nxt not in st.waiting:
                if self._apply_snapshot(st):     # a snapshot fills the gap (or follows what just applied)
                    continue
                break
            d, ms = st.waiting[nxt]
            missing = self._missing_images(d)
            if missing:
                since = min((self._wanted.get(sha, time.monotonic()) for sha in missing))
                if time.monotonic() - since > self.image_wait:
                    # it comes back with the retained history, and applies if the image comes too
                    del st.waiting[nxt]
                    for sha in missing:
                        self._wanted.pop(sha, None)
                    self._reject(ms[0], f"images not on the broker after {self.image_wait:g} s: "
                                        f"{', '.join(s[:12] for s in missing[:3])}", d.seq)
                    for extra in ms[1:]:
                        self._ack(extra)
                break
            del st.waiting[nxt]
            try:
                self._apply(st, d, ms[0])
            except Exception as e:   # e.g. an image that does not decode: reject, change nothing
                self._reject(ms[0], f"could not apply: {e}", d.seq)
                break
            finally:
                for extra in ms[1:]:
                    self._ack(extra)
        if st.waiting and self.catalog.seq_of(st.name) + 1 not in st.waiting:   # a gap, not an image
            st.gap_since = st.gap_since or time.monotonic()
            # a snapshot still arriving part by part: give it time before asking for everything again
            wait = GAP_WAIT * 10 if st.snapshots.waiting() else GAP_WAIT
            if time.monotonic() - st.gap_since > wait and self.state.connected:
                st.gap_since = time.monotonic()
                log.info("gap before %s on the %s stream: re-reading the retained history", min(st.waiting), st.name)
                self._subscribe(replay_retained=True)
        else:
            st.gap_since = None
            if st.name == OWN_STREAM and self._need_history and self.state.connected:
                self._need_history = False
                self._subscribe(replay_retained=True)

    def step(self, timeout: float = 0.2) -> None:
        try:
            m = self.inbox.get(timeout=timeout)
        except queue.Empty:
            m = None
        while m is not None:
            try:
                if "/image/" in m.topic:
                    self._handle_image(m)
                elif "/delta/" in m.topic:
                    self._handle_delta(m)
                else:
                    self._ack(m)
            except Exception as e:
                # whatever a message does, the store says why, acknowledges it (a retained message
                # must not kill the daemon again after every restart) and takes the next one
                log.exception("could not handle %s", m.topic)
                self._reject(m, f"could not read: {type(e).__name__}: {str(e)[:200]}", topics.seq_of(m.topic)
                             if "/delta/" in m.topic else None)
            try:
                m = self.inbox.get_nowait()
            except queue.Empty:
                m = None
        self._drain_waiting()

    # ---- running ------------------------------------------------------------------------------
    def start(self) -> "StoreSync":
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY
        self.client.connect_async(self.host, self.port, keepalive=30, clean_start=False, properties=props)
        self.client.loop_start()
        return self

    def run(self, until=None) -> None:
        """Apply deltas until stop() or until(): the applier runs on this thread, not paho's."""
        next_beat = time.monotonic() + self.heartbeat * random.uniform(0.5, 1.0)
        while not self._stop.is_set() and not (until and until()):
            self.step()
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + self.heartbeat
                if self.state.connected:
                    self.publish_status()

    def request_stop(self) -> None:
        """Ask run() to return (safe from a signal handler); stop() then says goodbye."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        self.catalog.save_index()         # the next start loads it current, not from the log
        if self.state.connected:
            info = self.client.publish(self.status_topic, json.dumps(self._status(online=False)), qos=1, retain=True)
            info.wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()

    close = stop      # a daemon's three doors (run, request_stop, close), as the Collector's
