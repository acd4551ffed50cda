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
from sync.topics import SHARED

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

@dataclass
class Screen:
    store: str
    name: str
    sync: StoreSync
    thread: threading.Thread | None = None
    reached: dict = field(default_factory=dict)    # seq -> monotonic time it was applied
    reached_shared: dict = field(default_factory=dict)   # the same, of the shared stream


class Fleet:
    def __init__(self, folder: Path, n_stores: int, screens_per_store: int = 2, shared: bool = False):
        """shared: head office publishes on the shared stream (docs/sync.md), stores follow it."""
        self.dir = Path(folder)
        self.shared = shared
        self.stores = [f"s{i:03d}" for i in range(n_stores)]
        self.uplink_pw = {s: f"up-{s}" for s in self.stores}
        self.local_pw = {s: f"local-{s}" for s in self.stores}
        generate_keys(self.dir / "hq.key", self.dir / "hq.pub")
        self.hq_broker = Broker(self.dir / "hq-broker", {"hq": "hq-pw", **self.uplink_pw}).start()
        self.store_brokers = {
            s: Broker(self.dir / f"broker-{s}", {s: self.local_pw[s]},
                      extra=bridge_config(s, self.hq_broker.port, self.uplink_pw[s])).start()
            for s in self.stores}
        self.publisher = Publisher("127.0.0.1", self.hq_broker.port, "hq", "hq-pw")
        self.hq = HeadOffice(self.dir / "hq", CAT, load_private(self.dir / "hq.key"), self.publisher)
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
                last = last_shared = -1
                while not self._stop.is_set():
                    sc.sync.step(0.1)
                    seq, shared = sc.sync.catalog.sync_seq, sc.sync.catalog.seq_of(SHARED)
                    if seq != last:
                        sc.reached.setdefault(seq, time.monotonic())
                        last = seq
                    if shared != last_shared:
                        sc.reached_shared.setdefault(shared, time.monotonic())
                        last_shared = shared
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
        return self.hq.last_seq(SHARED if self.shared else sc.store)

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
                   and max(sc.reached_shared, default=0) >= self.hq.last_seq(SHARED) for sc in self.screens):
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
        self.publisher.close()
        for b in self.store_brokers.values():
            b.stop()
        self.hq_broker.stop()
