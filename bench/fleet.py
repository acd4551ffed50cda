"""Fleet simulator: N store brokers bridged to a head-office broker, M screens each, on loopback.

    python -m bench.fleet [--stores 20 50 100] [--screens 2] [--wave 1000] [--offline 0.1] [--shared]
    python -m bench.fleet --direct --stores 200 1000 [--bridged 10] [--wave 200] [--shared]
    ... --write: each run into docs/benchmarks/results.json's `fleet` section (docs/fleet.md's tables)

For each N: time from head office starting to publish a wave until every screen is on the new
version (p50/p95/max over screens), messages and bytes per store, and the catch-up of the 10% of
stores whose uplink was cut during the wave (time from uplink back to all their screens current).
--shared: head office publishes on the shared stream (docs/sync.md). --direct: stores straight on
head office's broker (a sample through their own bridged broker), one screen each, their clients
on one epoll loop (bench/harness/clientloop.py: past select()'s 1,024 descriptors); adds the
broker's CPU seconds and memory for the wave.
"""
from __future__ import annotations

import argparse
import json
import os
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
            lat = [s for s, _ in current(f, online, t0)]
            t1 = time.monotonic()
            for s in cut:
                f.restore_uplink(s)
            ok = f.wait_all(600)
            catch = [s for s, _ in current(f, [sc for sc in f.screens if sc.store in cut], t1)]
        finally:
            f.close()
        per_store = report.bytes / max(n, 1)
        messages = sum(r["deltas"] for r in report.stores.values())
        return {"stores": n, "screens": n * screens, "wave_products": wave, "shared_stream": shared,
                "wave_messages": messages, "wave_bytes": report.bytes,
                "setup_s": round(setup, 1),
                "publish_s": round(published, 2), "all_current": ok,
                "time_to_version_s": {"p50": pct(lat, 0.5), "p95": pct(lat, 0.95), "max": round(max(lat), 2)},
                "per_store": {"delta_messages": messages / max(n, 1), "bytes": int(per_store)},
                "uplink_cut_stores": len(cut),
                "catch_up_after_uplink_back_s": {"p50": pct(catch, 0.5), "max": round(max(catch), 2)} if catch else None,
                "max_rss_mb_bench_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def current(f, screens, since: float) -> list[tuple[float, object]]:
    """(seconds from `since`, screen) for each of these screens that reached the wave's seq."""
    out = []
    for sc in screens:
        at = f.reached_at(sc, f.target(sc))
        if at is not None:
            out.append((at - since, sc))
    return out


def broker_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")      # utime + stime


def pid_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def simulate_direct(n: int, bridged: int, wave: int, shared: bool) -> dict:
    """n stores against head office's broker (bridged: that many of them through their own store
    broker), one screen each; a wave of `wave` product changes; the broker's CPU and memory."""
    from bench.harness.fleet import DirectFleet
    with tempfile.TemporaryDirectory() as tmp:
        t = time.monotonic()
        f = DirectFleet(Path(tmp), n, bridged, shared)
        idle = pid_rss_mb(f.hq_broker.proc.pid)             # head office's broker before any store connects
        f.connect()
        try:
            end = time.monotonic() + 300
            while time.monotonic() < end and not all(sc.sync.state.connected for sc in f.screens):
                time.sleep(0.2)
            connected = sum(sc.sync.state.connected for sc in f.screens)
            setup = time.monotonic() - t
            f.publish()          # nothing to send yet; on the shared stream each store's word to follow it
            f.wait_all(600)
            f.wave(wave)
            pid = f.hq_broker.proc.pid
            rss0, cpu0 = pid_rss_mb(pid), broker_cpu_s(pid)
            t0 = time.monotonic()
            report = f.publish()
            published = time.monotonic() - t0
            rss, end = rss0, time.monotonic() + 1200
            while time.monotonic() < end and not all(f.seq_of(sc) >= f.target(sc) for sc in f.screens):
                rss = max(rss, pid_rss_mb(pid))
                time.sleep(0.5)
            cpu = broker_cpu_s(pid) - cpu0
            took = current(f, f.screens, t0)
            lat = [s for s, _ in took]
            slowest = sorted(((round(s, 2), sc.store, sc.store in f.store_brokers) for s, sc in took), reverse=True)[:3]
        finally:
            f.close()
        messages = sum(r["deltas"] for r in report.stores.values())
        shared_deltas = report.stores.get("shared", {}).get("deltas", 0)
        return {"stores": n, "bridged": bridged, "direct": n - bridged, "shared_stream": shared, "wave_products": wave,
                "connected": connected, "setup_s": round(setup, 1), "publish_s": round(published, 2),
                "current": len(lat), "time_to_version_s": {"p50": pct(lat, 0.5), "p95": pct(lat, 0.95),
                                                           "max": round(max(lat), 2)} if lat else None,
                "wave_messages_published": messages, "wave_bytes_published": report.bytes,
                # what the broker hands out: each shared delta to every store, a store's own to it
                "wave_deliveries": (messages - shared_deltas) + shared_deltas * n,
                "slowest_s_store_bridged": slowest, "broker_cpu_s": round(cpu, 2), "broker_rss_mb": {"idle": round(idle, 1), "before": round(rss0, 1), "max": round(rss, 1)},
                "bench_process_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stores", type=int, nargs="+", default=[20, 50, 100])
    ap.add_argument("--screens", type=int, default=2)
    ap.add_argument("--wave", type=int, default=1000)
    ap.add_argument("--offline", type=float, default=0.1)
    ap.add_argument("--shared", action="store_true", help="head office publishes on the shared stream")
    ap.add_argument("--direct", action="store_true",
                    help="stores straight on head office's broker, one screen each, on one epoll loop")
    ap.add_argument("--bridged", type=int, default=10, help="--direct: this many stores through a bridged broker")
    ap.add_argument("--write", action="store_true", help="put each run into results.json and re-render the docs")
    a = ap.parse_args()
    for n in a.stores:
        r = (simulate_direct(n, min(a.bridged, n), a.wave, a.shared) if a.direct
             else simulate(n, a.screens, a.wave, a.offline, a.shared))
        print(json.dumps(r), flush=True)
        if a.write:
            write_run("direct" if a.direct else "bridged", r)


def write_run(kind: str, run: dict) -> None:
    """One run into the `fleet` section, replacing an earlier run of the same shape (stores,
    screens or bridged, stream, wave), each run stamped with the machine and day it ran on."""
    from bench.docs import read_results, update_results
    from bench.measure import machine
    section = read_results().get("fleet", {"bridged": [], "direct": []})
    run = {**run, "machine": machine(), "date": time.strftime("%Y-%m-%d")}
    shape = ("stores", "screens", "bridged", "shared_stream", "wave_products")
    same = [r for r in section[kind] if all(r.get(k) == run.get(k) for k in shape)]
    section[kind] = sorted([r for r in section[kind] if r not in same] + [run],
                           key=lambda r: (r["stores"], r["shared_stream"]))
    update_results("fleet", section)


if __name__ == "__main__":
    main()
