"""Head office with two brokers (docs/fleet.md, "Two head-office brokers"): head office publishes
every delta and image to each; store brokers bridge with Mosquitto's failover (the primary first,
round_robin false), so they move to the standby when the primary goes and back when it returns.
Real brokers on loopback; the primary is killed with SIGKILL mid-stream."""
import json
import shutil
import threading
import time

import numpy as np
import pytest

from bench.harness.fleet import CAT, Fleet
from sync.hq import BrokerKeeper, fleet_status, merge_status

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None, reason="deploy/install.sh installs mosquitto")


def rows(cat):
    return {p.sku: (p.name, p.price, p.stock) for p in cat.products()}


def wait_until(pred, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.2)
    return pred()


def new_screen_gets_everything(fleet, folder, port: int) -> None:
    """A screen new to the chain (a replaced PC) reading only this head-office broker gets the
    whole catalogue from it: the broker holds the history, not just what came after a restart."""
    from edge.catalog.store import Catalog
    from sync.envelope import load_public
    from sync.store import StoreSync
    from bench.harness.fleet import DIM, MODEL
    s = fleet.stores[0]
    late = StoreSync(Catalog(folder, create=True), CAT, s, load_public(fleet.dir / "hq.pub"), "127.0.0.1", port,
                     s, fleet.uplink_pw[s], MODEL, vector_dim=DIM, client_id=f"new-{folder.name}")
    late.start()
    try:
        assert wait_until(lambda: late.step(0.1) or late.catalog.sync_seq == fleet.hq.last_seq(s), 30), \
            (late.catalog.sync_seq, fleet.hq.last_seq(s))
        assert late.catalog.count() == fleet.hq.catalog.count() and late.state.rejected == 0
    finally:
        late.stop()


class Counting:
    """Each store's screen sends a window of counts every `every` s (sync/stats.StatsPublisher, its
    unconfirmed windows again every 2 s; it keeps at most 48, two days of hourly windows); head
    office's collector listens on both its brokers."""

    def __init__(self, fleet: Fleet, folder, every: float = 0.25):
        from edge.live.engagement import Engagement
        from sync.stats import Collector, StatsPublisher
        self.fleet, self.pubs, self.sessions = fleet, [], 0
        for s in fleet.stores:
            tick = [1_796_000_000.0]
            eng = Engagement(wall=lambda tick=tick: tick[0])
            close = eng.close_window

            def closed(close=close, tick=tick):
                tick[0] += 60.0                 # each window its own start
                w = close()
                w.sessions = int(tick[0]) % 7 + 1
                self.sessions += w.sessions
                return w
            eng.close_window = closed
            self.pubs.append(StatsPublisher(eng, CAT, s, "0", "127.0.0.1", fleet.store_brokers[s].port, s,
                                            fleet.local_pw[s], interval_s=every, min_count=2, resend_s=2.0))
        self.collector = Collector(folder / "analytics.sqlite", CAT, "127.0.0.1", fleet.hq_brokers[0].port, "hq",
                                   "hq-pw", standbys=[("127.0.0.1", b.port) for b in fleet.hq_brokers[1:]])
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.collector.run, args=(self.stop.is_set,), daemon=True)

    @property
    def sent(self) -> int:
        return sum(len(p.sent) for p in self.pubs)

    def __enter__(self):
        self.thread.start()
        for p in self.pubs:
            p.start()
        return self

    def stored_once(self) -> bool:
        """Stop closing windows; True once every window sent is stored at head office (and so
        confirmed to its screen)."""
        for p in self.pubs:
            p.interval_s = 1e9
        time.sleep(0.5)
        return wait_until(lambda: self.collector.stored >= self.sent and not any(p.pending for p in self.pubs), 60)

    def __exit__(self, *exc):
        for p in self.pubs:
            p.stop(flush=False)
        self.stop.set()
        self.thread.join(10)
        self.collector.close()


class Publishing:
    """Head office publishing a change every 0.2 s, each wave in several deltas, on its own thread."""

    def __init__(self, fleet: Fleet):
        self.fleet, self.n, self.failed = fleet, 20, []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            self.fleet.wave(4, start=self.n, seed=self.n)
            self.n += 4
            try:
                self.fleet.publish(max_ops=2)
            except ConnectionError as e:           # none of head office's brokers took it: again next round
                self.failed.append(str(e))
            time.sleep(0.2)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(60)


@pytest.mark.parametrize("persistence", [True, False], ids=["primary back with its persistence", "primary back empty"])
def test_stores_move_to_the_standby_and_back_and_apply_every_delta_once(tmp_path, persistence):
    fleet = Fleet(tmp_path, n_stores=4, screens_per_store=1, standbys=1)
    primary, standby = fleet.hq_brokers
    try:
        fleet.start_screens()
        fleet.wave(20)
        fleet.publish()
        assert fleet.wait_all(60)
        primary_at, standby_at = fleet.publisher.addresses
        assert wait_until(lambda: set(fleet.on_which().values()) == {primary_at}, 20), fleet.on_which()
        with Publishing(fleet) as pub, Counting(fleet, tmp_path) as counts:
            time.sleep(1.5)
            at_kill = {sc.store: max(sc.reached) for sc in fleet.screens}
            killed = time.monotonic()
            primary.stop(kill=True)                  # mid-stream: deltas in flight to it
            # every store moves to the standby on its own and applies what head office publishes on
            assert wait_until(lambda: all(max(sc.reached) > at_kill[sc.store] + 2 for sc in fleet.screens), 60)
            moved = sorted(min(t for q, t in sc.reached.items() if q > at_kill[sc.store]) - killed
                           for sc in fleet.screens)
            assert wait_until(lambda: set(fleet.on_which().values()) == {standby_at}, 20), fleet.on_which()
            time.sleep(1.0)
            if not persistence:
                (primary.dir / "mosquitto.db").unlink()
            primary.start()
            # the stores go back to the primary (round_robin false), which head office caught up
            assert wait_until(lambda: set(fleet.on_which().values()) == {primary_at}, 60), fleet.on_which()
            time.sleep(1.0)
            # the screens' counts: every window once at head office, whichever broker it came through
            assert counts.stored_once(), (counts.collector.stored, counts.sent, [len(p.pending) for p in counts.pubs])
            import sqlite3
            db = sqlite3.connect(tmp_path / "analytics.sqlite")
            got = sum(json.loads(p)["sessions"] for (p,) in db.execute("SELECT payload FROM windows"))
            assert counts.collector.stored == counts.sent and got == counts.sessions
            db.close()
        assert fleet.wait_all(60), [(sc.store, max(sc.reached), fleet.hq.last_seq(sc.store)) for sc in fleet.screens]
        assert not pub.failed, pub.failed[:3]          # one broker was up all along: no publish failed
        # head office's own client is back on the primary too (paho's back-off: up to 10 s); a publish then
        assert wait_until(lambda: len(fleet.publisher.up()) == 2, 30)
        fleet.publish()
        assert fleet.hq.broker_states() == {b: "current" for b in fleet.publisher.addresses}
        # the primary holds the whole history again: what head office last told it is the log
        held = fleet.publisher.pubs[0].held(CAT)
        assert held is not None and held["streams"] == fleet.hq.log_span()
        new_screen_gets_everything(fleet, tmp_path / "new-on-primary", primary.port)
    finally:
        fleet.close()
    from edge.catalog.store import Catalog
    want = rows(fleet.hq.catalog)
    for sc in fleet.screens:
        cat = Catalog(sc.sync.catalog.dir)
        assert rows(cat) == want, sc.store
        # each delta applied once: as many applied as head office sent, the second copies counted apart
        assert sc.sync.state.applied == fleet.hq.last_seq(sc.store) == cat.sync_seq, sc.store
        assert sc.sync.state.rejected == 0
        cat.close()
    print(f"primary lost -> first delta through the standby, s: p50 {np.percentile(moved, 50):.2f} "
          f"p95 {np.percentile(moved, 95):.2f} ({len(moved)} stores)")   # a figure for the log, never a floor


def test_a_standby_that_never_had_the_history_is_filled_before_a_store_needs_it(tmp_path):
    """A new standby (an empty broker) added beside a primary that has run for a while: `signage
    fleet keep` (BrokerKeeper) sends it the whole publish log and the images it names, so a store
    that fails over to it gets the catalogue from it alone."""
    fleet = Fleet(tmp_path, n_stores=2, screens_per_store=1, standbys=1)
    primary, standby = fleet.hq_brokers
    try:
        standby.stop()
        fleet.start_screens()
        fleet.wave(30)
        fleet.publish(max_ops=10)
        assert fleet.wait_all(60)
        assert fleet.hq.broker_states()[fleet.publisher.addresses[1]] == "down"
        shutil.rmtree(standby.dir / "mosquitto.db", ignore_errors=True)
        (standby.dir / "mosquitto.db").unlink(missing_ok=True)
        standby.start()
        keeper = BrokerKeeper(fleet.hq, interval=0.2)
        assert wait_until(lambda: len(fleet.publisher.up()) == 2, 20)
        sent = keeper.step()
        assert sent[fleet.publisher.addresses[1]] == fleet.hq.last_seq("s000") + fleet.hq.last_seq("s001")
        assert sent[fleet.publisher.addresses[0]] == 0           # the primary had it all
        assert keeper.step() == {a: 0 for a in fleet.publisher.addresses}     # nothing twice
        # a screen new to the chain that finds only the standby: the whole catalogue from it
        primary.stop(kill=True)
        new_screen_gets_everything(fleet, tmp_path / "new-on-standby", standby.port)
    finally:
        fleet.close()


def test_both_head_office_brokers_down_a_publish_is_refused_and_nothing_is_lost(tmp_path):
    """Both head-office brokers gone: publish says so, naming both, and logs nothing; the stores
    keep what they have and their screens keep counting. Both back: the next publish reaches every
    store, each delta once, and every window counted meanwhile is stored once. They stay down
    longer than the bridges' longest back-off (restart_timeout's cap: 5 s here, 60 s deployed), so
    this is what an hour down comes to: nothing on either side expires (bridge sessions have no
    expiry on the brokers; a screen keeps 48 hourly windows)."""
    fleet = Fleet(tmp_path, n_stores=2, screens_per_store=1, standbys=1)
    try:
        fleet.start_screens()
        fleet.wave(10)
        fleet.publish()
        assert fleet.wait_all(60)
        seqs = {s: fleet.hq.last_seq(s) for s in fleet.stores}
        with Counting(fleet, tmp_path, every=1.0) as counts:       # fewer than 48 windows while both are down
            time.sleep(1.0)
            for b in fleet.hq_brokers:
                b.stop(kill=True)
            down = time.monotonic()
            fleet.wave(10, start=10)
            with pytest.raises(ConnectionError) as e:
                fleet.hq.publish(fleet.stores)
            assert all(a in str(e.value) for a in fleet.publisher.addresses) and "run it again" in str(e.value)
            assert {s: fleet.hq.last_seq(s) for s in fleet.stores} == seqs          # nothing logged, nothing lost
            time.sleep(max(0.0, 12.0 - (time.monotonic() - down)))
            for b in fleet.hq_brokers:
                b.start()
            fleet.publish()
            assert fleet.wait_all(90)
            assert counts.stored_once(), (counts.collector.stored, counts.sent)
            assert counts.collector.stored == counts.sent > 20
    finally:
        fleet.close()
    from edge.catalog.store import Catalog
    for sc in fleet.screens:
        cat = Catalog(sc.sync.catalog.dir)
        assert cat.count() == 20 and sc.sync.state.applied == fleet.hq.last_seq(sc.store) and sc.sync.state.rejected == 0
        cat.close()


def test_fleet_status_says_which_head_office_broker_each_store_is_on():
    """The newest status wins; the broker is the one its bridge last said 1 on."""
    a, b = "hq1:8883", "hq2:8883"
    merged = merge_status({
        a: {"s1": {"bridge": "0", "seq": 4, "last_seen": "2026-12-07T10:00:00Z"},
            "s2": {"bridge": "1", "seq": 9, "last_seen": "2026-12-07T10:05:00Z"},
            "s2/1": {"seq": 9, "last_seen": "2026-12-07T10:05:00Z"}},
        b: {"s1": {"bridge": "1", "seq": 7, "last_seen": "2026-12-07T10:06:00Z"}},
        "hq3:8883": None})
    assert merged["s1"]["hq_broker"] == b and merged["s1"]["seq"] == 7
    assert merged["s2"]["hq_broker"] == a and merged["s2/1"]["hq_broker"] == a


def test_a_standby_whose_certificate_another_ca_signed_is_named_and_never_trusted(tmp_path):
    """A standby set up with a certificate from another CA (a second head office's, a test one):
    head office never sends it anything, publishes through the primary, and `signage fleet
    status` names that broker and why, instead of a store silently failing over to nowhere."""
    from sync import certs
    from sync.envelope import generate_keys, load_private
    from sync.hq import HeadOffice, HqBrokers, Publisher
    from bench.harness.broker import Broker
    ca, other = tmp_path / "ca", tmp_path / "other"
    certs.make_ca(ca)
    certs.make_server(ca, ca, ["127.0.0.1"])
    certs.make_client(ca, ca, "hq")
    certs.make_ca(other, "another head office")
    certs.make_server(other, other, ["127.0.0.1"])
    users = {"hq": "hq-pw", "s1": "pw"}
    good = Broker(tmp_path / "primary", users, tls={"ca": ca / "ca.crt", "cert": ca / "broker.crt",
                                                    "key": ca / "broker.key"}).start()
    rogue = Broker(tmp_path / "standby", users, tls={"ca": other / "ca.crt", "cert": other / "broker.crt",
                                                     "key": other / "broker.key"}).start()
    tls = {"ca_certs": str(ca / "ca.crt"), "certfile": str(ca / "hq.crt"), "keyfile": str(ca / "hq.key")}
    generate_keys(tmp_path / "hq.key", tmp_path / "hq.pub")
    brokers = HqBrokers([Publisher("127.0.0.1", b.tls_port, "hq", "hq-pw", tls) for b in (good, rogue)])
    hq = HeadOffice(tmp_path / "hq", CAT, load_private(tmp_path / "hq.key"), brokers)
    try:
        from edge.catalog.products import Product
        from bench.harness.fleet import DIM, MODEL
        hq.catalog.upsert([(Product("SKU1", "a shirt", "Shirt", ("white",), 20.0, "EUR", 3, "A1"),
                            np.ones(DIM, np.float32) / DIM ** 0.5, MODEL)])
        report = hq.publish(["s1"])
        assert report.brokers == {f"127.0.0.1:{good.tls_port}": "current", f"127.0.0.1:{rogue.tls_port}": "down"}
        assert fleet_status("127.0.0.1", good.tls_port, "hq", "hq-pw", CAT, wait=0.5, tls=tls) is not None
        with pytest.raises(ConnectionError) as e:
            fleet_status("127.0.0.1", rogue.tls_port, "hq", "hq-pw", CAT, wait=0.5, tls=tls)
        assert f"127.0.0.1:{rogue.tls_port}" in str(e.value) and "certificate verify failed" in str(e.value)
    finally:
        hq.close()
        good.stop()
        rogue.stop()
