"""Head office losing a broker (issue 35, docs/fleet.md "Two head-office brokers"), on loopback.

    python -m bench.failover [--stores 20] [--direct 1000] [--wave 1000] [--write]

1. Drill: N stores, each through its own broker bridged with Mosquitto's failover to head office's
   primary and standby (deploy/mosquitto/store-bridge.conf), one screen each; head office publishes
   a change every 0.2 s. The primary is killed (SIGKILL): seconds from then to each store's first
   delta applied through the standby (p50/p95/max); later the primary is started again, with its
   persistence file and (a second round) without it: seconds until every store is back on it
   (`signage fleet status`, polled every 0.5 s), and whether every store ended equal to head
   office with each delta applied once.
2. Designs: A, head office publishes every message to both brokers (what the product does); B,
   head office publishes to the primary and the standby bridges everything from it. A wave of
   `--wave` products to N stores' streams: seconds to publish it (every broker acknowledged), the
   seconds until the standby holds the wave's last delta, and the deltas the standby lacks when
   the primary is killed the moment head office's publish returns.
3. Fleet: `--direct` stores straight on the primary (the fleet simulator's epoll loop, one screen
   each), each moving to the standby when the primary goes: seconds until every one has applied
   a delta through the standby, and the standby's memory and connections while it holds them all.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from bench.fleet import broker_cpu_s, pct, pid_rss_mb
from bench.harness.broker import Broker
from bench.harness.fleet import CAT, DirectFleet, Fleet
from sync.envelope import generate_keys, load_private
from sync.hq import HeadOffice, HqBrokers, Publisher


def until(pred, timeout: float, every: float = 0.1) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic() - t0
        time.sleep(every)
    return None


class Changes(threading.Thread):
    """Head office publishing a product change every 0.2 s."""

    def __init__(self, f):
        super().__init__(daemon=True)
        self.f, self.n, self.failed, self.halt = f, 10_000, 0, threading.Event()

    def run(self):
        while not self.halt.is_set():
            self.f.wave(1, start=self.n, seed=self.n)
            self.n += 1
            try:
                self.f.publish()
            except ConnectionError:
                self.failed += 1
            time.sleep(0.2)


def drill(n: int) -> dict:
    out = {"stores": n}
    with tempfile.TemporaryDirectory() as tmp:
        f = Fleet(Path(tmp), n, 1, standbys=1)
        primary = f.hq_brokers[0]
        p_at = f.publisher.addresses[0]
        try:
            f.start_screens()
            f.wave(50)
            f.publish()
            f.wait_all(120)
            until(lambda: set(f.on_which().values()) == {p_at}, 60, 0.5)
            changes = Changes(f)
            changes.start()
            for persistence in (True, False):
                time.sleep(2.0)
                at_kill = {sc.store: max(sc.reached) for sc in f.screens}
                killed = time.monotonic()
                primary.stop(kill=True)
                until(lambda: all(max(sc.reached) > at_kill[sc.store] for sc in f.screens), 120)
                moved = [min((t for q, t in sc.reached.items() if q > at_kill[sc.store]), default=float("nan")) - killed
                         for sc in f.screens]
                # every store's bridge on the standby: its connections (the stores' and head office's)
                waited = time.monotonic() - killed
                all_on_standby = until(lambda: connections(f.hq_brokers[1].port) >= n + 1, 60, 0.1)
                time.sleep(2.0)
                if not persistence:
                    (primary.dir / "mosquitto.db").unlink(missing_ok=True)
                primary.start()
                back = until(lambda: connections(primary.port) >= n + 1 and connections(f.hq_brokers[1].port) <= 1,
                             120, 0.1)
                said = until(lambda: set(f.on_which().values()) == {p_at}, 60, 0.5)
                key = "back_with_persistence" if persistence else "back_empty"
                out[key] = {"first_delta_through_standby_s": {"p50": pct(moved, 0.5), "p95": pct(moved, 0.95),
                                                              "max": round(max(moved), 2)},
                            "all_on_standby_s": round(waited + all_on_standby, 1) if all_on_standby is not None else None,
                            "all_back_on_primary_s": round(back, 1) if back is not None else None,
                            "fleet_status_says_primary": said is not None}
            changes.halt.set()
            changes.join(30)
            out["publishes_refused"] = changes.failed
            out["all_current"] = f.wait_all(120)
            out["applied_once"] = all(sc.sync.state.applied == f.hq.last_seq(sc.store) for sc in f.screens)
            out["rejected"] = sum(sc.sync.state.rejected for sc in f.screens)
            out["duplicates_ignored"] = sum(sc.sync.state.duplicates for sc in f.screens)
            out["deltas_published"] = sum(f.hq.last_seq(s) for s in f.stores)
        finally:
            f.close()
    return out


class Spy:
    """Who holds what on a broker: the newest seq of each store's stream, and when it came."""

    def __init__(self, port: int):
        self.last: dict[str, int] = {}
        self.at: dict[tuple[str, int], float] = {}
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.c.username_pw_set("hq", "hq-pw")
        self.c.on_connect = lambda c, u, fl, rc, p: c.subscribe(f"signage/{CAT}/+/delta/#", qos=1)
        self.c.on_message = self._got
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def _got(self, c, u, m):
        parts = m.topic.split("/")
        if m.payload:
            seq = int(parts[-1])
            self.last[parts[2]] = max(self.last.get(parts[2], 0), seq)
            self.at.setdefault((parts[2], seq), time.monotonic())

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def held(port: int, wait: float = 2.0) -> int:
    """Deltas a broker holds (retained) right now."""
    s = Spy(port)
    time.sleep(wait)
    s.close()
    return len(s.at)


def design(kind: str, n: int, wave: int) -> dict:
    """A: head office publishes to both; B: to the primary, the standby bridges from it."""
    import numpy as np

    from edge.catalog.products import Product
    from bench.harness.fleet import DIM, MODEL
    stores = [f"s{i:03d}" for i in range(n)]
    users = {"hq": "hq-pw", **{s: f"pw-{s}" for s in stores}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        generate_keys(tmp / "hq.key", tmp / "hq.pub")
        primary = Broker(tmp / "primary", users).start()
        bridge = "" if kind == "A" else (f"\nconnection standby-from-primary\naddress 127.0.0.1:{primary.port}\n"
                                         "remote_username hq\nremote_password hq-pw\nremote_clientid standby-bridge\n"
                                         "cleansession false\nbridge_protocol_version mqttv50\nrestart_timeout 1 5\n"
                                         f"topic signage/{CAT}/# in 1\n")
        standby = Broker(tmp / "standby", users, extra=bridge).start()
        pubs = [Publisher("127.0.0.1", primary.port, "hq", "hq-pw")]
        if kind == "A":
            pubs.append(Publisher("127.0.0.1", standby.port, "hq", "hq-pw"))
        hq = HeadOffice(tmp / "hq", CAT, load_private(tmp / "hq.key"), HqBrokers(pubs))
        spy = Spy(standby.port)
        try:
            time.sleep(1.0)
            rng = np.random.default_rng(0)
            vecs = rng.standard_normal((wave, DIM)).astype(np.float32)
            hq.catalog.upsert([(Product(f"SKU{i:06d}", f"product {i}", "T-Shirt", ("navy",), 10.0 + i % 50, "EUR",
                                        i % 20, "A1"), vecs[i], MODEL) for i in range(wave)])
            t0 = time.monotonic()
            hq.publish(stores)
            published = time.monotonic() - t0
            want = {s: hq.last_seq(s) for s in stores}
            primary.stop(kill=True)           # the moment head office's publish returned
            lag = until(lambda: all(spy.last.get(s, 0) >= q for s, q in want.items()), 30, 0.01)
            lacked = sum(want.values()) - held(standby.port)
            standby_all = max(spy.at[(s, q)] for s, q in want.items() if (s, q) in spy.at) - t0 \
                if all((s, q) in spy.at for s, q in want.items()) else None
            cpu = broker_cpu_s(standby.proc.pid)
            # head office publishes on while the primary is down
            hq.catalog.upsert([(Product(f"NEW{i:03d}", f"new {i}", "T-Shirt", ("navy",), 20.0, "EUR", 3, "A1"),
                                vecs[i], MODEL) for i in range(10)])
            try:
                hq.publish(stores)
                while_down = "reaches the standby"
            except ConnectionError:
                while_down = "refused: no broker to publish to"
        finally:
            spy.close()
            hq.close()
            primary.stop()
            standby.stop()
    return {"design": kind, "stores": n, "wave_products": wave, "deltas": sum(want.values()),
            "publish_s": round(published, 2),
            "standby_holds_wave_s_after_publish_start": round(standby_all, 2) if standby_all is not None else None,
            "standby_caught_up_after_publish_returned_s": round(lag, 2) if lag is not None else None,
            "deltas_standby_lacks_when_primary_killed_at_return": lacked, "standby_cpu_s": round(cpu, 2),
            "publish_while_primary_down": while_down}


def connections(port: int) -> int:
    """Established TCP connections to this loopback port (the broker's side)."""
    n = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if int(local.split(":")[1], 16) == port and state == "01":
            n += 1
    return n


def fleet_move(n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        f = DirectFleet(Path(tmp), n, 0, standbys=1)
        primary, standby = f.hq_brokers
        idle = pid_rss_mb(standby.proc.pid)
        f.connect()
        try:
            until(lambda: all(sc.sync.state.connected for sc in f.screens), 300, 0.2)
            f.wave(10)
            f.publish()
            f.wait_all(600)
            on_standby_before = connections(standby.port)
            rss_before = pid_rss_mb(standby.proc.pid)
            at_kill = {sc.store: max(sc.reached) for sc in f.screens}
            killed = time.monotonic()
            primary.stop(kill=True)
            f.wave(1, start=10)
            report = f.publish()              # goes to the standby only
            rss = rss_before
            end = time.monotonic() + 900
            while time.monotonic() < end and not all(max(sc.reached) > at_kill[sc.store] for sc in f.screens):
                rss = max(rss, pid_rss_mb(standby.proc.pid))
                time.sleep(0.5)
            moved = [min((t for q, t in sc.reached.items() if q > at_kill[sc.store]), default=float("nan")) - killed
                     for sc in f.screens]
            done = [m for m in moved if m == m]
            held_conn = connections(standby.port)
            rss = max(rss, pid_rss_mb(standby.proc.pid))
        finally:
            f.close()
    return {"stores": n, "moved": len(done), "publish_after_kill_s": round(report.seconds, 2),
            "first_delta_through_standby_s": {"p50": pct(done, 0.5), "p95": pct(done, 0.95),
                                              "max": round(max(done), 2)} if done else None,
            "standby_connections": {"before": on_standby_before, "holding_all": held_conn},
            "standby_rss_mb": {"idle": round(idle, 1), "before": round(rss_before, 1), "holding_all": round(rss, 1)}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stores", type=int, default=20)
    ap.add_argument("--direct", type=int, default=1000)
    ap.add_argument("--wave", type=int, default=1000)
    ap.add_argument("--write", action="store_true", help="into results.json's `failover` section and docs/fleet.md")
    a = ap.parse_args()
    from bench.measure import machine
    images = list((Path(__file__).resolve().parent.parent / "demo" / "catalog" / "images").iterdir())
    res = {"machine": machine(), "date": time.strftime("%Y-%m-%d"),
           "image_bytes_mean": round(sum(p.stat().st_size for p in images) / max(1, len(images)))}
    res["drill"] = drill(a.stores)
    print(json.dumps(res["drill"]), flush=True)
    res["designs"] = [design(k, a.stores, a.wave) for k in ("A", "B")]
    print(json.dumps(res["designs"]), flush=True)
    if a.direct:
        res["fleet"] = fleet_move(a.direct)
        print(json.dumps(res["fleet"]), flush=True)
    if a.write:
        from bench.docs import update_results
        update_results("failover", res)


if __name__ == "__main__":
    main()
