"""A simulated chain of stores on this machine: a head-office broker, N store brokers bridged to
it (Mosquitto bridges, MQTT 5, persistent), M screens per store each talking only to its store's
broker. Used by tests/sync/test_fleet.py and bench/fleet.py; all traffic stays on loopback.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.catalog.products import Product
from edge.catalog.store import Catalog

from sync.envelope import generate_keys, load_private, load_public
from sync.hq import HeadOffice, Publisher
from sync.store import StoreSync
from edge.ids import SHARED_STREAM

from .broker import Broker

CAT = "chain"
MODEL = "fleet-sim:16d"     # tiny precomputed vectors: the screens need no models
DIM = 16           # small synthetic vectors: the fleet moves messages, it does not search


def bridge_config(store: str, hq_port: int, password: str, catalog: str = CAT) -> str:
    """The store broker's bridge to head office: deploy/mosquitto/store-bridge.conf's topics, minus TLS."""
    template = (Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "store-bridge.conf").read_text()
    topics = [line.replace("CATALOG", catalog).replace("STORE_ID", store) for line in template.splitlines()
              if line.startswith("topic ")]
    return f"""
connection hq-{store}
address 127.0.0.1:{hq_port}
remote_username {store}
remote_password {password}
remote_clientid bridge-{store}
cleansession false
bridge_protocol_version mqttv50
restart_timeout 1 5
""" + "\n".join(topics) + "\n"

def head_office(folder: Path, uplink_pw: dict[str, str], bridged_pw: dict[str, str]):
    """Head office's broker (every store a user), a bridged broker for each store of bridged_pw
    (its local password), the publisher and head office: (hq_broker, store_brokers, publisher, hq)."""
    generate_keys(folder / "hq.key", folder / "hq.pub")
    hq_broker = Broker(folder / "hq-broker", {"hq": "hq-pw", **uplink_pw}).start()
    store_brokers = {s: Broker(folder / f"broker-{s}", {s: pw}, extra=bridge_config(s, hq_broker.port, uplink_pw[s])).start()
                     for s, pw in bridged_pw.items()}
    publisher = Publisher("127.0.0.1", hq_broker.port, "hq", "hq-pw")
    return hq_broker, store_brokers, publisher, HeadOffice(folder / "hq", CAT, load_private(folder / "hq.key"), publisher)


def stop_chain(fleet) -> None:
    """What head_office() started, stopped."""
    fleet.publisher.close()
    for b in fleet.store_brokers.values():
        b.stop()
    fleet.hq_broker.stop()


@dataclass
class Screen:
    store: str
    name: str
    sync: StoreSync
    thread: threading.Thread | None = None
    reached: dict = field(default_factory=dict)    # seq -> monotonic time it was applied
    reached_shared: dict = field(default_factory=dict)   # the same, of the shared stream

    def note(self) -> None:
        """When the screen first had its catalogue at each seq of each stream (on its applier's
        thread: the catalogue connection is that thread's)."""
        t = time.monotonic()
        self.reached.setdefault(self.sync.catalog.sync_seq, t)
        self.reached_shared.setdefault(self.sync.catalog.seq_of(SHARED_STREAM), t)


class Fleet:
    def __init__(self, folder: Path, n_stores: int, screens_per_store: int = 2, shared: bool = False):
        """shared: head office publishes on the shared stream (docs/sync.md), stores follow it."""
        self.dir = Path(folder)
        self.shared = shared
        self.stores = [f"s{i:03d}" for i in range(n_stores)]
        self.uplink_pw = {s: f"up-{s}" for s in self.stores}
        self.local_pw = {s: f"local-{s}" for s in self.stores}
        self.hq_broker, self.store_brokers, self.publisher, self.hq = head_office(
            self.dir, self.uplink_pw, {s: self.local_pw[s] for s in self.stores})
        key = load_public(self.dir / "hq.pub")
        self.screens: list[Screen] = []
        for s in self.stores:
            for k in range(screens_per_store):
                cat = Catalog(self.dir / f"screen-{s}-{k}", create=True)
                sync = StoreSync(cat, CAT, s, key, "127.0.0.1", self.store_brokers[s].port, s, self.local_pw[s],
                                 MODEL, heartbeat=5.0, screen=str(k), vector_dim=DIM)
                self.screens.append(Screen(s, str(k), sync))
        self._stop = threading.Event()

    def start_screens(self) -> None:
        for sc in self.screens:
            sc.sync.start()

            def loop(sc=sc):
                while not self._stop.is_set():
                    sc.sync.step(0.1)
                    sc.note()
            sc.thread = threading.Thread(target=loop, daemon=True)
            sc.thread.start()

    def wave(self, n_products: int, dim: int = DIM, seed: int = 0, start: int = 0) -> None:
        """n product changes at head office (new products, or new prices for existing ones)."""
        rng = np.random.default_rng(seed)
        vecs = rng.standard_normal((n_products, dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        batch = [(Product(f"SKU{start + i:06d}", f"product {start + i}", "T-Shirt", ("navy",),
                          round(float(rng.uniform(5, 90)), 2), "EUR", int(rng.integers(0, 20)), "A1"),
                  vecs[i], MODEL) for i in range(n_products)]
        self.hq.catalog.upsert(batch)

    def publish(self, stores: list[str] | None = None, max_ops: int = 100):
        return self.hq.publish(stores or self.stores, max_ops=max_ops, shared=self.shared)

    def target(self, sc: Screen) -> int:
        """The seq a wave's changes reach a screen at: its store's own stream's, or the shared one's."""
        return self.hq.last_seq(SHARED_STREAM if self.shared else sc.store)

    def reached_at(self, sc: Screen, seq: int) -> float | None:
        return (sc.reached_shared if self.shared else sc.reached).get(seq)

    def cut_uplink(self, store: str) -> None:
        """The store's line to head office goes down; its broker and screens keep running."""
        self.store_brokers[store].reconfigure("")

    def restore_uplink(self, store: str) -> None:
        self.store_brokers[store].reconfigure(bridge_config(store, self.hq_broker.port, self.uplink_pw[store]))

    def seq_of(self, sc: Screen) -> int:
        """How far a screen is on the stream a wave comes on."""
        return max(sc.reached_shared if self.shared else sc.reached, default=0)

    def wait_all(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            # what each screen's own thread saw it apply (its catalogue connection is that thread's)
            if all(max(sc.reached, default=0) >= self.hq.last_seq(sc.store)
                   and max(sc.reached_shared, default=0) >= self.hq.last_seq(SHARED_STREAM) for sc in self.screens):
                return True
            time.sleep(0.2)
        return False

    def close(self) -> None:
        self._stop.set()
        for sc in self.screens:
            if sc.thread is not None:
                sc.thread.join(2)
            try:
                sc.sync.stop()
            except Exception:
                pass
        stop_chain(self)


class DirectFleet:
    """Stores connected straight to head office's broker (as many as the machine holds: their
    clients run on one epoll loop, not paho's select()), a sample of them through their own bridged
    broker instead; one screen (StoreSync) each, applied by a few threads in turn."""

    def __init__(self, folder: Path, n_stores: int, bridged: int = 0, shared: bool = False, appliers: int = 4):
        """Brokers and head office; connect() then brings the stores' screens up."""
        from .clientloop import ClientLoop
        self.dir = Path(folder)
        self.shared = shared
        self.stores = [f"s{i:04d}" for i in range(n_stores)]
        self.pw = {s: f"pw-{s}" for s in self.stores}
        self.hq_broker, self.store_brokers, self.publisher, self.hq = head_office(
            self.dir, self.pw, {s: self.pw[s] for s in self.stores[:bridged]})
        self.key = load_public(self.dir / "hq.pub")
        self.loop = ClientLoop()
        self.loop.start()
        self.screens: list[Screen] = []
        self._stop = threading.Event()
        self.appliers = appliers
        self.threads: list[threading.Thread] = []

    def connect(self) -> "DirectFleet":
        """Every store's screen, connected through the epoll loop and applied by the threads."""
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        key = self.key
        for s in self.stores:
            port = self.store_brokers[s].port if s in self.store_brokers else self.hq_broker.port
            sync = StoreSync(Catalog(self.dir / f"screen-{s}", create=True), CAT, s, key, "127.0.0.1", port, s,
                             self.pw[s], MODEL, heartbeat=3600.0, vector_dim=DIM)
            self.screens.append(Screen(s, "0", sync))
            self.loop.add(sync.client, "127.0.0.1", port, keepalive=120, clean_start=False, properties=props)
        self.threads = [threading.Thread(target=self._apply, args=(self.screens[k::self.appliers],), daemon=True)
                        for k in range(self.appliers)]
        for t in self.threads:
            t.start()
        return self

    def _apply(self, screens: list[Screen]) -> None:
        while not self._stop.is_set():
            busy = False
            for sc in screens:
                busy |= not sc.sync.inbox.empty()
                sc.sync.step(0)
                sc.note()
            if not busy:
                time.sleep(0.05)

    wave = Fleet.wave
    publish = Fleet.publish
    target = Fleet.target
    reached_at = Fleet.reached_at
    seq_of = Fleet.seq_of
    wait_all = Fleet.wait_all

    def close(self) -> None:
        self._stop.set()
        for t in self.threads:
            t.join(5)
        self.loop.stop()
        for sc in self.screens:
            try:
                sc.sync.client.disconnect()
                sc.sync.catalog.close()
            except Exception:
                pass
        stop_chain(self)
