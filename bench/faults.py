"""Fault figures on a real Mosquitto, for docs/benchmarks.md:

- fuzz: N messages signed with head office's key, each a mutation of a valid delta for the store's
  next seq (bench/harness/fuzz.py, the same cases the test runs);
- kill -9 during delta apply (the long mode of the chaos test): head office publishes a stream of
  catalogue changes while the store's `signage sync run` process is SIGKILLed K times, each kill
  after it has applied at least one delta since it started (so it lands mid-stream); then the store
  must equal head office, every delta applied exactly once, the index whole, and the status it
  reported never going back.

    python -m bench.faults [--fuzz 10000] [--kills 100] [--write]

--write puts the figures in docs/benchmarks/results.json and re-renders docs/benchmarks.md.
Uses tests/data/cc0 (in the repo), not ../shared.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml

from bench.harness.broker import Broker  # noqa: E402
from bench.harness.testdata import CC0, ROOT, cc0_cycle, cc0_path  # noqa: E402
from edge.catalog.importer import import_catalog  # noqa: E402
from edge.catalog.index import VectorIndex  # noqa: E402
from edge.catalog.store import Catalog, peek  # noqa: E402
from edge.config import load_config  # noqa: E402
from edge.vision.stages import Vision, model_version  # noqa: E402
from sync import topics  # noqa: E402
from sync.envelope import generate_keys, load_private, load_public  # noqa: E402
from sync.hq import HeadOffice, Publisher, fleet_status  # noqa: E402
from sync.store import StoreSync  # noqa: E402

CAT = "demo"
USERS = {"hq": "hq-pw", "s1": "s1-pw"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def head_office(tmp: Path, vision, broker: Broker, n: int, name: str) -> HeadOffice:
    rows = cc0_cycle(n)
    lines = ["sku,name,category,price,currency,stock,aisle,image"]
    lines += [f"P{i:04d},{r['label']} {i},{r['label']},{10 + i % 50}.99,EUR,{i % 7},A{i % 9},{cc0_path(r)}"
              for i, r in enumerate(rows)]
    (tmp / "catalog.csv").write_text("\n".join(lines) + "\n")
    pub = Publisher("127.0.0.1", broker.port, "hq", USERS["hq"])
    hq = HeadOffice(tmp / name, CAT, load_private(tmp / "hq.key"), pub)   # its own log per broker
    import_catalog(tmp / "catalog.csv", hq.catalog, vision, progress=False, images_root=CC0)
    return hq


def seq_of(folder: Path) -> int:
    return int(peek(folder, "SELECT value FROM meta WHERE key='sync_seq'"))


def bench_fuzz(tmp: Path, cfg, vision, n: int) -> dict:
    from bench.harness.fuzz import run_fuzz
    broker = Broker(tmp / "broker-fuzz", USERS).start()
    hq = head_office(tmp, vision, broker, 20, "hq-fuzz")
    hq.publish(["s1"])
    s = StoreSync(Catalog(tmp / "store-fuzz", create=True), CAT, "s1", load_public(tmp / "hq.pub"), "127.0.0.1",
                  broker.port, "s1", USERS["s1"], model_version(cfg), heartbeat=1.0).start()
    s.image_wait = 0.05
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.username_pw_set("hq", USERS["hq"])
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    try:
        end = time.monotonic() + 60
        while s.catalog.sync_seq < hq.last_seq("s1") and time.monotonic() < end:
            s.step(0.1)
        rep = run_fuzz(s, lambda topic, payload: c.publish(topic, payload, qos=1), load_private(tmp / "hq.key"), n,
                       log=log)
        out = rep.to_json()
        out["reasons_top"] = dict(rep.reasons.most_common(12))
        return out
    finally:
        c.loop_stop()
        c.disconnect()
        s.stop()
        hq.close()
        broker.stop()


def bench_kills(tmp: Path, cfg, vision, kills: int, seed: int = 7) -> dict:
    broker = Broker(tmp / "broker-kill", USERS).start()
    hq = head_office(tmp, vision, broker, 200, "hq-kill")
    store_dir = tmp / "store-kill"
    (tmp / "pw").write_text(USERS["s1"])
    conf = tmp / "store.yaml"
    conf.write_text(yaml.safe_dump({"models_dir": str(cfg.models_dir), "catalog_dir": str(store_dir),
                                    "sync": {"catalog_id": CAT, "store_id": "s1", "broker_port": broker.port,
                                             "password_file": str(tmp / "pw"), "public_key": str(tmp / "hq.pub"),
                                             "heartbeat_s": 1.0}}))
    cmd = [sys.executable, "-m", "signage.cli", "--config", str(conf), "sync", "run"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    logf = open(tmp / "store.log", "ab")
    statuses: list[dict] = []
    mon = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    mon.username_pw_set("hq", USERS["hq"])
    mon.on_connect = lambda cl, u, f, rc, p: cl.subscribe(topics.status(CAT, "s1"), qos=1)
    mon.on_message = lambda cl, u, m: statuses.append(json.loads(m.payload))
    mon.connect("127.0.0.1", broker.port)
    mon.loop_start()
    stop = threading.Event()
    rng = random.Random(seed)
    waves = [0]

    def changes():
        # a stream of real catalogue changes: stock and prices of 40 products, now and then a new one
        wrng = random.Random(seed + 1)
        while not stop.is_set():
            batch = []
            for p in wrng.sample(hq.catalog.products(), 40):
                p.stock = wrng.randrange(20)
                p.price = round(wrng.uniform(5, 90), 2)
                batch.append((p, None, ""))
            hq.catalog.upsert(batch)
            try:
                hq.publish(["s1"], max_ops=10)
                waves[0] += 1
            except ConnectionError:
                pass
            time.sleep(0.3)
    hq.publish(["s1"], max_ops=50)
    writer = threading.Thread(target=changes, daemon=True)
    writer.start()
    proc = subprocess.Popen(cmd, stdout=logf, stderr=logf, env=env)
    t0 = time.monotonic()
    recover, done_kills, mid_stream = [], 0, 0
    try:
        while done_kills < kills:
            started, seq0 = time.monotonic(), seq_of(store_dir)
            # wait until this process has applied a delta: it is now mid-stream
            while seq_of(store_dir) == seq0 and time.monotonic() - started < 60:
                time.sleep(0.01)
            recover.append(time.monotonic() - started)
            time.sleep(rng.uniform(0.0, 0.4))
            behind = seq_of(store_dir) < hq.last_seq("s1")
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            done_kills += 1
            mid_stream += behind
            if done_kills % 10 == 0:
                log(f"{done_kills} kills, store at seq {seq_of(store_dir)}, head office at {hq.last_seq('s1')}")
            proc = subprocess.Popen(cmd, stdout=logf, stderr=logf, env=env)
        stop.set()
        writer.join(60)
        last = hq.last_seq("s1")
        end = time.monotonic() + 300
        while seq_of(store_dir) < last and time.monotonic() < end:
            time.sleep(2)
            if seq_of(store_dir) < last:
                st = fleet_status("127.0.0.1", broker.port, "hq", USERS["hq"], CAT)
                hq.publish(["s1"], acked_seq={"s1": (st.get("s1") or {}).get("seq") or 0})
        seconds = time.monotonic() - t0
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        mon.loop_stop()
    cat = Catalog(store_dir)
    rows = lambda c: {p.sku: (p.name, p.price, p.stock, p.aisle, p.image_sha256) for p in c.products()}  # noqa: E731
    idx, header = VectorIndex.load(store_dir / "index.faiss")
    acked = [x["seq"] for x in statuses if x.get("online") and x.get("seq") is not None]
    out = {"kills": done_kills, "kills_with_deltas_still_to_apply": mid_stream, "deltas": last, "waves": waves[0],
           "products": cat.count(), "seconds": round(seconds, 1),
           "store_equals_head_office": rows(cat) == rows(hq.catalog),
           "applied_exactly_once": cat.version == cat.sync_seq == last,
           "index_whole": header.count == idx.count == cat.count() == len(cat.vectors(model_version(cfg))[0]),
           "status_never_went_back": acked == sorted(acked),
           "restart_to_first_apply_s": {"p50": round(statistics.median(recover), 2),
                                        "p95": round(sorted(recover)[int(0.95 * (len(recover) - 1))], 2),
                                        "max": round(max(recover), 2)}}
    hq.close()
    broker.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fuzz", type=int, default=10_000)
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    from bench.measure import machine
    cfg = load_config()
    vision = Vision(cfg)
    res = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        generate_keys(tmp / "hq.key", tmp / "hq.pub")
        if args.fuzz:
            log(f"fuzz: {args.fuzz} signed cases")
            res["fuzz"] = bench_fuzz(tmp, cfg, vision, args.fuzz)
        if args.kills:
            log(f"kill -9 during delta apply: {args.kills} kills")
            res["kill9"] = bench_kills(tmp, cfg, vision, args.kills)
    print(json.dumps(res, indent=1))
    if args.write:
        from bench.docs import update_results
        update_results("faults", res)


if __name__ == "__main__":
    main()
