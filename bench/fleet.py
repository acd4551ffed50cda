"""Fleet simulator: N store brokers bridged to a head-office broker, M screens each, on loopback.

    python -m bench.fleet [--stores 20 50 100] [--screens 2] [--wave 1000] [--offline 0.1]

For each N: time from head office starting to publish a wave until every screen is on the new
version (p50/p95/max over screens), messages and bytes per store, and the catch-up of the 10% of
stores whose uplink was cut during the wave (time from uplink back to all their screens current).
"""
from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from bench.harness.fleet import Fleet


def pct(v, q):
    v = sorted(v)
    return round(v[min(len(v) - 1, int(q * len(v)))], 2)


def simulate(n: int, screens: int, wave: int, offline: float, shared: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t = time.monotonic()
        f = Fleet(Path(tmp), n, screens, shared=shared)
        setup = time.monotonic() - t
        try:
            f.start_screens()
            f.publish()          # nothing to send yet; on the shared stream each store's word to follow it
            f.wait_all(120)
            cut = f.stores[: max(1, int(n * offline))] if offline > 0 else []
            for s in cut:
                f.cut_uplink(s)
            f.wave(wave)
            t0 = time.monotonic()
            report = f.publish()
            published = time.monotonic() - t0
            online = [sc for sc in f.screens if sc.store not in cut]
            end = time.monotonic() + 600
            while time.monotonic() < end and not all(f.seq_of(sc) >= f.target(sc) for sc in online):
                time.sleep(0.1)
            lat = [f.reached_at(sc, f.target(sc)) - t0 for sc in online if f.reached_at(sc, f.target(sc)) is not None]
            t1 = time.monotonic()
            for s in cut:
                f.restore_uplink(s)
            ok = f.wait_all(600)
            catch = [f.reached_at(sc, f.target(sc)) - t1 for sc in f.screens
                     if sc.store in cut and f.reached_at(sc, f.target(sc)) is not None]
        finally:
            f.close()
        per_store = report.bytes / max(n, 1)
        deltas = sum(r["deltas"] for r in report.stores.values()) / max(n, 1)
        return {"stores": n, "screens": n * screens, "wave_products": wave, "shared_stream": shared,
                "wave_messages": sum(r["deltas"] for r in report.stores.values()), "wave_bytes": report.bytes,
                "setup_s": round(setup, 1),
                "publish_s": round(published, 2), "all_current": ok,
                "time_to_version_s": {"p50": pct(lat, 0.5), "p95": pct(lat, 0.95), "max": round(max(lat), 2)},
                "per_store": {"delta_messages": deltas, "bytes": int(per_store)},
                "uplink_cut_stores": len(cut),
                "catch_up_after_uplink_back_s": {"p50": pct(catch, 0.5), "max": round(max(catch), 2)} if catch else None,
                "max_rss_mb_bench_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stores", type=int, nargs="+", default=[20, 50, 100])
    ap.add_argument("--screens", type=int, default=2)
    ap.add_argument("--wave", type=int, default=1000)
    ap.add_argument("--offline", type=float, default=0.1)
    ap.add_argument("--shared", action="store_true", help="head office publishes on the shared stream")
    a = ap.parse_args()
    out = []
    for n in a.stores:
        r = simulate(n, a.screens, a.wave, a.offline, a.shared)
        out.append(r)
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
