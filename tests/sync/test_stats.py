"""What the screens count and send head office: aggregates only, folded under min_count, through the
store broker and its bridge, stored and summed at head office."""
import json
import shutil
import subprocess
import sys
import time
from collections import Counter

import cv2
import paho.mqtt.client as mqtt
import pytest
import yaml

from conftest import ROOT
from edge.live.engagement import FEATURES, OTHER, Engagement, Window, fold
from edge.live.recognizer import FrameResult, TrackedItem
from edge.live.screen import Card, Panel

CAT = "demo"


def result(frame_id, people=0, tracks=()):
    items = [TrackedItem(t, "upper", (0, 0, 10, 10), None, True, "T-Shirt") for t in tracks]
    return FrameResult(frame_id, 0.0, 0.0, (100, 100), people, items, {})


def panel(*skus, look=""):
    return Panel("x", tuple(Card(s, s, 1.0, "EUR", 1, "A1", look_id=look) for s in skus))


def test_fold_puts_every_small_count_in_other_and_keeps_totals():
    w = Window("2026-11-30T10:00:00Z", "2026-11-30T11:00:00Z", sessions=3)
    w.shown["similar"].update({"A": 7, "B": 2, "C": 1})
    w.details.update({"A": 1})
    out = fold(w, 5)
    assert out["shown"]["similar"] == {"A": 7, OTHER: 3}
    assert out["details"] == {OTHER: 1} and out["sessions"] == 3
    assert sum(out["shown"]["similar"].values()) == sum(w.shown["similar"].values())


def test_sessions_need_two_seconds_and_end_after_the_idle_time():
    t = [0.0]
    e = Engagement(session_min_s=2.0, idle_s=5.0, clock=lambda: t[0])
    for t[0] in (0.0, 0.5, 1.0):                 # 1 s in front: a passer-by, not a session
        e.observe(result(1, people=1))
    for t[0] in (7.0, 20.0):                      # nobody for 6 s: over
        e.observe(result(2))
    for step in range(0, 31):                     # 3 s in front, a tap, then gone
        t[0] = 30.0 + step / 10
        e.observe(result(3, people=1, tracks=(5,)), "look", panel("S1", "S2", look="L1"))
    e.tapped("look", "S1", "L1")
    for t[0] in (40.0, 50.0):
        e.observe(result(4))
    t[0] = 100.0
    w = e.close_window()
    assert w.sessions == 1 and w.engaged_sessions == 1 and w.engaged_s == pytest.approx(3.0)
    assert w.attract_s == pytest.approx(97.0)
    assert w.items == Counter({"upper/T-Shirt": 1})          # one track, however many frames
    assert w.shown["look"] == Counter({"S1": 1, "S2": 1}) and w.looks_shown == Counter({"L1": 2})
    assert w.tapped["look"] == Counter({"S1": 1}) and w.looks_opened == Counter({"L1": 1})
    assert e.close_window().sessions == 0                    # the next window starts empty


@pytest.mark.skipif(shutil.which("mosquitto") is None, reason="deploy/install.sh installs mosquitto")
def test_two_stores_screens_counts_reach_head_office_summed_and_folded(tmp_path, cfg, demo_catalog):
    """Two screens in two stores run the kiosk's pipeline on the demo video for a few windows; their
    counts go through each store's broker and bridge; head office's report equals the sum of what
    the screens counted, and no count under min_count is ever on the wire."""
    from bench.harness.broker import Broker
    from bench.harness.fleet import bridge_config
    from edge.live.screen import panel_for
    from edge.live.watch import watch_every_frame
    from edge.runtime import Runtime
    from sync import topics
    from sync.stats import Collector, StatsPublisher, engagement_report
    min_count, stores = 3, ("s1", "s2")
    uplink = {s: f"{s}-up" for s in stores}
    hq = Broker(tmp_path / "hq", {"hq": "hq-pw", **uplink}).start()
    local = {s: Broker(tmp_path / s, {s: f"{s}-local"}, extra=bridge_config(s, hq.port, uplink[s], CAT)).start()
             for s in stores}
    wire = []
    spy = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    spy.username_pw_set("hq", "hq-pw")
    spy.on_connect = lambda c, u, f, rc, p: c.subscribe(topics.all_screen_stats(CAT), qos=1)
    spy.on_message = lambda c, u, m: wire.append((m.topic, json.loads(m.payload)))
    spy.connect("127.0.0.1", hq.port)
    spy.loop_start()
    hq_dir = tmp_path / "hqdata"
    hq_dir.mkdir()
    collector = Collector(hq_dir / "analytics.sqlite", CAT, "127.0.0.1", hq.port, "hq", "hq-pw")
    import copy
    cfg = copy.deepcopy(cfg)
    cfg.catalog_dir = demo_catalog       # the bundled demo catalogue (a clean clone has no var/)
    rt = Runtime(cfg)
    counted: dict[str, list[Window]] = {}
    pubs = []
    try:
        time.sleep(1.0)                  # the bridges connect
        for n, s in enumerate(stores):
            t = [0.0]
            # the screen's clocks follow the video's own time: a window every 40 frames is 3 s of
            # it, however fast the frames are processed (a window's start is its key at head office)
            eng = Engagement(session_min_s=2.0, idle_s=1.5, clock=lambda t=t: t[0],
                             wall=lambda t=t: 1_796_000_000.0 + t[0])
            real_close = eng.close_window
            counted[s] = []
            eng.close_window = lambda real=real_close, s=s: counted[s].append(real()) or counted[s][-1]
            pub = StatsPublisher(eng, CAT, s, "1", "127.0.0.1", local[s].port, s, f"{s}-local",
                                 interval_s=3600, min_count=min_count).start()
            pubs.append(pub)
            frames = [0]

            gap = [0.0]

            def observe(result, at, eng=eng, t=t, pub=pub, frames=frames, n=n, gap=gap):
                t[0] = at + gap[0]       # the screen's clock: the video's own time (plus the gaps)
                if frames[0] % 50 == 49:     # the shopper leaves; 2 s later the next one comes
                    gap[0] += 2.0
                    t[0] = at + gap[0]
                    eng.observe(FrameResult(-1, 0.0, 0.0, result.size, 0, [], {}))
                p = panel_for(result, "similar", 4)
                eng.observe(result, "similar", p)
                if p.cards and frames[0] % 9 == 0:          # a shopper taps now and then
                    eng.tapped("similar", p.cards[(frames[0] // 9 + n) % len(p.cards)].sku)
                frames[0] += 1
                if frames[0] % 40 == 0:                     # a window every 40 frames
                    pub.send_window()
            watch_every_frame(rt, str(ROOT / "demo" / "demo.avi"), lambda change: None, frames=160, observe=observe)
            pub.send_window().wait_for_publish(5)
        sent = sum(len(p.sent) for p in pubs)
        end = time.monotonic() + 30
        while collector.stored < sent and time.monotonic() < end:
            collector.step(0.1)
        assert collector.stored == sent == len(wire), (collector.stored, sent, len(wire))
    finally:
        for p in pubs:
            p.stop(flush=False)
        collector.close()
        spy.loop_stop()
        for b in (*local.values(), hq):
            b.stop()
    # on the wire: nothing below min_count, except "other" (the screens did count small things)
    folded_some = False
    for topic, msg in wire:
        assert topic == topics.screen_stats(CAT, msg["store"], "1")
        for group in ("items", "details", "qr", "looks_shown", "looks_opened"):
            folded_some |= OTHER in msg[group]
            assert all(v >= min_count for k, v in msg[group].items() if k != OTHER), (group, msg[group])
        for group in ("shown", "tapped"):
            for f in FEATURES:
                folded_some |= OTHER in msg[group][f]
                assert all(v >= min_count for k, v in msg[group][f].items() if k != OTHER), msg[group][f]
    assert folded_some
    # head office's report: the sums of what each screen counted
    rep = engagement_report(hq_dir / "analytics.sqlite")
    by = {r["store"]: r for r in rep["screens"]}
    assert set(by) == set(stores)
    for s in stores:
        ws = counted[s]
        assert by[s]["sessions"] == sum(w.sessions for w in ws) and by[s]["windows"] == len(ws)
        assert by[s]["engaged_sessions"] == sum(w.engaged_sessions for w in ws)
        assert by[s]["taps"]["similar"] == sum(sum(w.tapped["similar"].values()) for w in ws) > 0
        assert by[s]["engaged_s"] == pytest.approx(sum(w.engaged_s for w in ws), abs=0.1 * len(ws))
        assert sum(by[s]["items"].values()) == sum(sum(w.items.values()) for w in ws) > 0
    assert rep["totals"]["sessions"] == sum(w.sessions for ws in counted.values() for w in ws) > 0
    # the command head office runs: the same figures, a CSV and the plot
    conf = tmp_path / "hq.yaml"
    conf.write_text(yaml.safe_dump({"sync": {"hq_dir": str(hq_dir), "catalog_id": CAT}}))
    res = subprocess.run([sys.executable, "-m", "signage.cli", "fleet", "report", "--config", str(conf), "--json",
                          "--csv", str(tmp_path / "r.csv"), "--plot", str(tmp_path / "r.png")],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["totals"] == rep["totals"]
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 1 + len(stores)
    assert cv2.imread(str(tmp_path / "r.png")) is not None


def test_head_office_stores_a_window_once_and_drops_what_is_not_one(tmp_path):
    """A window delivered twice (QoS 1 after a reconnect) is stored once; a message that is not a
    screen window, or names another store than its topic, is dropped and counted."""
    from sync import topics
    from sync.stats import Collector, engagement_report
    c = Collector(tmp_path / "a.sqlite", CAT, "127.0.0.1", 9, "hq", "x")     # no broker: fed by hand
    try:
        w = Window("2026-11-30T10:00:00Z", "2026-11-30T11:00:00Z", sessions=7, engaged_sessions=2)
        w.tapped["look"].update({"S1": 6})
        msg = dict(fold(w, 5), catalog=CAT, store="s9", screen="2")
        good = json.dumps(msg).encode()
        topic = topics.screen_stats(CAT, "s9", "2")
        for payload, t in ((good, topic), (good, topic), (b"{not json", topic),
                           (json.dumps(dict(msg, sessions=-1)).encode(), topic),
                           (good, topics.screen_stats(CAT, "s8", "2"))):
            c.inbox.put((t, payload, 1, 1, 0))
            c.step(0.1)
        assert c.stored == 1 and c.duplicates == 1 and c.dropped == 3
        rep = engagement_report(tmp_path / "a.sqlite")
        assert [(r["store"], r["screen"], r["windows"], r["sessions"]) for r in rep["screens"]] == [("s9", "2", 1, 7)]
        assert rep["screens"][0]["taps"]["look"] == 6 and rep["screens"][0]["engagement_rate"] == round(2 / 7, 3)
    finally:
        c.close()
