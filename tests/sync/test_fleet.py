"""A chain: 20 store brokers bridged to head office's broker, 2 screens each, all on loopback."""
import shutil
import time

import pytest

from bench.harness.fleet import Fleet

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None, reason="deploy/install.sh installs mosquitto")


def rows(cat):
    return {p.sku: (p.name, p.price, p.stock) for p in cat.products()}


@pytest.mark.parametrize("shared", [False, True], ids=["own streams", "shared stream"])
def test_wave_reaches_every_screen_and_cut_stores_catch_up(tmp_path, shared):
    """"shared stream": the wave goes once, on the shared stream, through the same bridges (the
    store bridge's topics are deploy/mosquitto/store-bridge.conf's)."""
    fleet = Fleet(tmp_path, n_stores=20, screens_per_store=2, shared=shared)
    try:
        fleet.start_screens()
        fleet.wave(10)                               # what every store has before the wave
        fleet.publish()
        assert fleet.wait_all(60)
        before = {id(sc): fleet.seq_of(sc) for sc in fleet.screens}
        cut = fleet.stores[:2]                       # 10% of the stores lose their uplink
        for s in cut:
            fleet.cut_uplink(s)
        fleet.wave(1000, start=10)
        t0 = time.monotonic()
        report = fleet.publish()
        if shared:       # the catalogue once; the stores' own streams nothing
            assert report.stores.pop("shared")["ops"] == 1000
            assert all(r["ops"] == 0 for r in report.stores.values()) and len(report.stores) == 20
        else:
            assert all(r["ops"] == 1000 for r in report.stores.values())
        online = [sc for sc in fleet.screens if sc.store not in cut]
        end = time.monotonic() + 120
        while time.monotonic() < end and not all(fleet.seq_of(sc) == fleet.target(sc) for sc in online):
            time.sleep(0.2)
        assert all(fleet.seq_of(sc) == fleet.target(sc) for sc in online)
        # the cut stores' screens keep working on what they had, and agree with each other
        cut_screens = [sc for sc in fleet.screens if sc.store in cut]
        assert all(fleet.seq_of(sc) == before[id(sc)] for sc in cut_screens)
        for s in cut:
            fleet.restore_uplink(s)
        assert fleet.wait_all(120), [(sc.store, sc.name, fleet.seq_of(sc)) for sc in fleet.screens]
        # the bridge's re-subscription hands the retained history on as fresh messages: what was
        # applied already is a duplicate, never a rejection (it was "replay ignored" before)
        assert sum(sc.sync.state.rejected for sc in fleet.screens) == 0
        assert sum(sc.sync.state.duplicates for sc in cut_screens) > 0
        took = time.monotonic() - t0
        # head office sees every screen's status through the bridges (what `signage fleet status` shows)
        from bench.harness.fleet import CAT
        from sync.hq import fleet_status
        end = time.monotonic() + 20
        while True:
            st = fleet_status("127.0.0.1", fleet.hq_broker.port, "hq", "hq-pw", CAT, wait=1.0)
            done = all(st.get(f"{sc.store}/{sc.name}", {}).get("seq") == fleet.hq.last_seq(sc.store)
                       for sc in fleet.screens)
            if done or time.monotonic() > end:
                break
        assert done, sorted((k, v.get("seq")) for k, v in st.items())[:10]
    finally:
        fleet.close()
    # every screen equals head office, and applied each delta exactly once
    from edge.catalog.store import Catalog
    want = rows(fleet.hq.catalog)
    for sc in fleet.screens:
        cat = Catalog(sc.sync.catalog.dir)
        assert rows(cat) == want, (sc.store, sc.name)
        assert cat.sync_seq == fleet.hq.last_seq(sc.store) and cat.seq_of("shared") == fleet.hq.last_seq("shared")
        assert cat.version == cat.sync_seq + cat.seq_of("shared")
        cat.close()
    print(f"wave and catch-up took {took:.0f} s")   # a figure for the log, never a floor (noisy machines)


def test_the_simulator_drives_stores_past_select_s_1024_descriptors(tmp_path):
    """paho's own loop uses select(), which cannot watch a descriptor numbered above 1,024: with
    those numbers taken (as a few hundred simulated screens take them) its clients never connect.
    The fleet's epoll loop drives them: every store connects and applies a wave on both streams."""
    import os
    from bench.harness.fleet import DirectFleet
    fleet = DirectFleet(tmp_path, n_stores=12, bridged=2, shared=True)     # brokers, head office
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        try:
            fleet.connect()
            end = time.monotonic() + 60
            while time.monotonic() < end and not all(sc.sync.state.connected for sc in fleet.screens):
                time.sleep(0.1)
            assert min(sc.sync.client.socket().fileno() for sc in fleet.screens) > 1024
            fleet.wave(50)
            report = fleet.publish()
            assert report.stores["shared"]["ops"] == 50
            assert fleet.wait_all(120), [(sc.store, fleet.seq_of(sc)) for sc in fleet.screens]
        finally:
            fleet.close()
    finally:
        for fd in held:
            os.close(fd)
    from edge.catalog.store import Catalog
    for sc in fleet.screens:
        cat = Catalog(sc.sync.catalog.dir)
        assert cat.count() == 50 and cat.follows_shared, sc.store
        cat.close()
