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
from sync.hq import HeadOffice, HqBrokers, Publisher
from sync.store import StoreSync
from edge.ids import SHARED_STREAM

from .broker import Broker

CAT = "chain"
MODEL = "fleet-sim:16d"     # tiny precomputed vectors: the screens need no models
DIM = 16           # small synthetic vectors: the fleet moves messages, it does not search


def bridge_config(store: str, hq_port: int | list[int], password: str, catalog: str = CAT) -> str:
    """The store broker's bridge to head office: deploy/mosquitto/store-bridge.conf's topics and
    failover lines, minus TLS. Several ports: head office's primary broker, then its standbys."""
    template = (Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "store-bridge.conf").read_text()
    kept = ("topic ", "round_robin ", "start_type ", "notifications", "notification_topic ")
    lines = [line.replace("CATALOG", catalog).replace("STORE_ID", store) for line in template.splitlines()
             if line.startswith(kept)]
    ports = hq_port if isinstance(hq_port, list) else [hq_port]
    return f"""
connection hq-{store}
address {" ".join(f"127.0.0.1:{p}" for p in ports)}
remote_username {store}
remote_password {password}
remote_clientid bridge-{store}
cleansession false
bridge_protocol_version mqttv50
restart_timeout 1 5
""" + "\n".join(lines) + "\n"

def head_office(folder: Path, uplink_pw: dict[str, str], bridged_pw: dict[str, str], standbys: int = 0):
    """Head office's brokers (the primary and `standbys` more; every store a user), a bridged
    broker for each store of bridged_pw (its local password, its bridge failing over from the
    primary to the standbys), the publisher and head office: (hq_brokers, store_brokers, publisher, hq)."""
    generate_keys(folder / "hq.key", folder / "hq.pub")
    hq_brokers = [Broker(folder / ("hq-broker" if k == 0 else f"hq-broker-{k + 1}"), {"hq": "hq-pw", **uplink_pw}).start()
                  for k in range(1 + standbys)]
    ports = [b.port for b in hq_brokers]
    store_brokers = {s: Broker(folder / f"broker-{s}", {s: pw}, extra=bridge_config(s, ports, uplink_pw[s])).start()
                     for s, pw in bridged_pw.items()}
    publisher = HqBrokers([Publisher("127.0.0.1", p, "hq", "hq-pw") for p in ports])
    return hq_brokers, store_brokers, publisher, HeadOffice(folder / "hq", CAT, load_private(folder / "hq.key"), publisher)


def stop_chain(fleet) -> None:
    """What head_office() started, stopped."""
    fleet.publisher.close()
    for b in fleet.store_brokers.values():
        b.stop()
    for b in fleet.hq_brokers:
        b.stop()


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
    def __init__(self, folder: Path, n_stores: int, screens_per_store: int = 2, shared: bool = False,
                 standbys: int = 0):
        """shared: head office publishes on the shared stream (docs/sync.md), stores follow it;
        standbys: head-office brokers beside the primary (docs/fleet.md, "Two head-office brokers")."""
        self.dir = Path(folder)
        self.shared = shared
        self.stores = [f"s{i:03d}" for i in range(n_stores)]
        self.uplink_pw = {s: f"up-{s}" for s in self.stores}
        self.local_pw = {s: f"local-{s}" for s in self.stores}
        self.hq_brokers, self.store_brokers, self.publisher, self.hq = head_office(
            self.dir, self.uplink_pw, {s: self.local_pw[s] for s in self.stores}, standbys)
        self.hq_broker = self.hq_brokers[0]
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
        self.store_brokers[store].reconfigure(bridge_config(store, [b.port for b in self.hq_brokers],
                                                            self.uplink_pw[store]))

    def on_which(self) -> dict[str, str | None]:
        """store -> the head-office broker it is on, as `signage fleet status` says it."""
        from sync.hq import fleet_statuses
        merged, _ = fleet_statuses([("127.0.0.1", b.port) for b in self.hq_brokers], "hq", "hq-pw", CAT, wait=0.3)
        return {s: v["hq_broker"] for s, v in merged.items() if "/" not in s}

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

    def __init__(self, folder: Path, n_stores: int, bridged: int = 0, shared: bool = False, appliers: int = 4,
                 standbys: int = 0):
        """Brokers and head office; connect() then brings the stores' screens up. standbys: head-office
        brokers beside the primary; a direct store's client moves to the next when the one it is on
        goes, as a store bridge with several addresses does."""
        from .clientloop import ClientLoop
        self.dir = Path(folder)
        self.shared = shared
        self.stores = [f"s{i:04d}" for i in range(n_stores)]
        self.pw = {s: f"pw-{s}" for s in self.stores}
        self.hq_brokers, self.store_brokers, self.publisher, self.hq = head_office(
            self.dir, self.pw, {s: self.pw[s] for s in self.stores[:bridged]}, standbys)
        self.hq_broker = self.hq_brokers[0]
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
            standbys = [] if s in self.store_brokers else [("127.0.0.1", b.port) for b in self.hq_brokers[1:]]
            self.loop.add(sync.client, "127.0.0.1", port, standbys, keepalive=120, clean_start=False, properties=props)
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
