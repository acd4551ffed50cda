"""What the screens did, from each screen to head office: aggregate counts only.

Screen: `StatsPublisher` closes the screen's `Engagement` window every `analytics.interval_s`, folds
every count under `analytics.min_count` into "other" and publishes the one message on the screen's
own status branch (`signage/{catalog}/{store}/screen/{screen}/stats`, QoS 1, not retained), through
the store broker and its bridge. A window goes again every `resend_s` until head office says it is
stored (`.../counted`): a broker that acknowledged it and then died before handing it on (a
head-office broker killed, one back without its persistence) loses no count. Nothing is kept on
disk: a crash of the screen loses at most its unconfirmed windows.

Head office: `Collector` (`signage fleet collect`, a persistent MQTT session) stores each window in
SQLite (`sync.hq_dir/analytics.sqlite`, one row per store, screen and window start: a redelivered
message is stored once); `engagement_report` sums them per store and screen (`signage fleet report`).
"""
from __future__ import annotations

import csv
import json
import logging
import queue
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.files import safe_cell
from edge.live.engagement import FEATURES, OTHER, Engagement, Window, fold

from . import topics

log = logging.getLogger("signage.stats")


def _client(client_id: str, username: str, password: str, tls: dict | None, manual_ack: bool = False):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                    manual_ack=manual_ack)
    c.username_pw_set(username, password)
    if tls:
        c.tls_set(**tls)
    c.reconnect_delay_set(1, 30)
    return c


# Windows a screen keeps until head office confirms them: two days of hourly windows.
MAX_PENDING = 48


class StatsPublisher:
    """One screen's window of counts, folded and sent every interval, and again until head office
    confirms it."""

    def __init__(self, engagement: Engagement, catalog_id: str, store: str, screen: str, host: str, port: int,
                 username: str, password: str, interval_s: float = 3600.0, min_count: int = 5,
                 tls: dict | None = None, resend_s: float = 600.0):
        self.engagement = engagement
        self.topic = topics.screen_stats(catalog_id, store, screen)
        self.counted_topic = topics.screen_counted(catalog_id, store, screen)
        self.resend_s = resend_s
        self.pending: dict[str, tuple[str, float]] = {}    # window start -> (message, last sent): unconfirmed
        self.resent = 0
        self._lock = threading.Lock()
        self.meta = {"catalog": catalog_id, "store": store, "screen": screen}
        self.interval_s, self.min_count = interval_s, min_count
        self.client = _client(f"stats-{store}-{screen}", username, password, tls)
        self.client.max_queued_messages_set(MAX_PENDING)   # two days of hourly windows while the broker is away
        self.client.on_connect = lambda c, u, f, rc, p: (not rc.is_failure) and c.subscribe(self.counted_topic, qos=1)
        self.client.on_message = self._counted
        self.host, self.port = host, port
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent: list[dict] = []                     # what left the screen (tests and `--json` read it)

    def payload(self, w: Window) -> dict:
        return dict(self.meta, **fold(w, self.min_count))

    def _counted(self, client, userdata, msg) -> None:
        try:
            start = json.loads(msg.payload)["start"]
        except (ValueError, KeyError, TypeError):
            return
        with self._lock:
            self.pending.pop(start, None)

    def send_window(self):
        """Close the window and publish it (paho queues it while the broker is away); it stays
        pending until head office confirms it."""
        msg = self.payload(self.engagement.close_window())
        text = json.dumps(msg, separators=(",", ":"))
        with self._lock:
            self.pending[msg["start"]] = (text, time.monotonic())
            while len(self.pending) > MAX_PENDING:
                log.warning("head office confirmed no window for %d windows: the oldest is let go", MAX_PENDING)
                self.pending.pop(next(iter(self.pending)))
        info = self.client.publish(self.topic, text, qos=1, retain=False)
        self.sent.append(msg)
        return info

    def resend(self) -> int:
        """Windows head office has not confirmed within resend_s go again (it stores each once)."""
        now = time.monotonic()
        with self._lock:
            again = [(start, text) for start, (text, at) in self.pending.items() if now - at >= self.resend_s]
            for start, text in again:
                self.pending[start] = (text, now)
        for _, text in again:
            self.client.publish(self.topic, text, qos=1, retain=False)
        self.resent += len(again)
        return len(again)

    def start(self) -> "StatsPublisher":
        self.client.connect_async(self.host, self.port, keepalive=60)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="stats", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        due = time.monotonic() + self.interval_s
        while not self._stop.wait(max(0.0, min(self.resend_s, due - time.monotonic()))):
            try:
                if time.monotonic() >= due:
                    due += self.interval_s
                    self.send_window()
                self.resend()
            except Exception:          # counting must never take the kiosk down
                log.exception("could not send the window's counts")

    def stop(self, flush: bool = True) -> None:
        self._stop.set()
        if flush:                      # the window so far goes too (a clean stop loses nothing)
            try:
                self.send_window().wait_for_publish(2)
            except Exception:
                log.exception("could not send the last window's counts")
        self.client.disconnect()
        self.client.loop_stop()


# ---- head office ----------------------------------------------------------------------------------
SCHEMA = """
CREATE TABLE IF NOT EXISTS windows (store TEXT, screen TEXT, start TEXT, end TEXT, payload TEXT,
                                    PRIMARY KEY (store, screen, start));
"""


def open_db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    return db


def valid_window(msg) -> bool:
    """A stats message head office stores: the shape fold() makes (anything else is dropped)."""
    if not isinstance(msg, dict):
        return False
    if not all(isinstance(msg.get(k), str) for k in ("store", "screen", "start", "end")):
        return False
    if not all(isinstance(msg.get(k), (int, float)) and not isinstance(msg.get(k), bool) and msg[k] >= 0
               for k in ("sessions", "engaged_sessions", "engaged_s", "attract_s")):
        return False
    counters = [msg.get("items"), msg.get("details"), msg.get("qr"), msg.get("looks_shown"), msg.get("looks_opened")]
    for group in ("shown", "tapped"):
        g = msg.get(group)
        if not isinstance(g, dict):
            return False
        counters += list(g.values())
    return all(isinstance(c, dict) and all(isinstance(v, int) and v >= 0 for v in c.values()) for c in counters)


class Collector:
    """Head office's collector of screen windows (a persistent session: windows sent while it was
    down are queued by the broker and stored when it is back). With standby head-office brokers
    it listens on each: a store's counts come through whichever its bridge is on, and a window
    that came through both (a store moving over with it in flight) is stored once."""

    def __init__(self, db_path: Path, catalog_id: str, host: str, port: int, username: str, password: str,
                 tls: dict | None = None, client_id: str = "hq-stats-collector",
                 standbys: list[tuple[str, int]] = ()):
        self.db = open_db(db_path)
        self.catalog_id = catalog_id
        self.inbox: queue.Queue = queue.Queue()
        self.stored = self.dropped = self.duplicates = 0
        self.clients = []
        for k, (h, p) in enumerate([(host, port), *standbys]):
            c = _client(client_id, username, password, tls, manual_ack=True)
            c.on_connect = lambda c, u, f, rc, p: (not rc.is_failure) and c.subscribe(
                topics.all_screen_stats(catalog_id), qos=1)
            c.on_message = lambda c, u, m, k=k: self.inbox.put((m.topic, bytes(m.payload), m.mid, m.qos, k))
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 7 * 24 * 3600
            c.connect_async(h, p, keepalive=30, clean_start=False, properties=props)
            c.loop_start()
            self.clients.append(c)
        self._stop = threading.Event()

    def step(self, timeout: float = 0.2) -> None:
        try:
            topic, payload, mid, qos, k = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return
        parts = topic.split("/")        # signage/{catalog}/{store}/screen/{screen}/stats
        try:
            msg = json.loads(payload)
        except ValueError:
            msg = None
        if valid_window(msg) and msg["store"] == parts[2] and msg["screen"] == parts[4]:
            new = self.db.execute("INSERT OR IGNORE INTO windows VALUES (?,?,?,?,?)",
                                  (msg["store"], msg["screen"], msg["start"], msg["end"], json.dumps(msg))).rowcount
            self.stored += new
            self.duplicates += 1 - new      # the same window again (QoS 1 redelivery, or both brokers): once is enough
            # stored: the screen may let it go (it sends it again until this comes)
            self.clients[k].publish(topics.screen_counted(self.catalog_id, msg["store"], msg["screen"]),
                                    json.dumps({"start": msg["start"]}), qos=1, retain=False)
        else:                           # a screen can only write its own branch (ACL): a bug, not an attack
            self.dropped += 1
            log.warning("dropped a stats message on %s that is not a screen window", topic)
        self.clients[k].ack(mid, qos)   # after the row is committed: a crash before gets it again

    def run(self, until=None) -> None:
        while not self._stop.is_set() and not (until and until()):
            self.step()

    def request_stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        for c in self.clients:
            c.disconnect()
            c.loop_stop()


def _add(total: Counter, counts: dict) -> None:
    for k, v in counts.items():
        total[k] += v


def engagement_report(db_path: Path, since: str | None = None, store: str | None = None) -> dict:
    """Per store and screen: sessions, engagement rate, engaged and attract time, taps per feature,
    top products and looks shown vs opened (click-through), and sessions per hour over all."""
    db = open_db(db_path)
    q, args = "SELECT store, screen, start, payload FROM windows WHERE 1=1", []
    if since:
        q, args = q + " AND start >= ?", args + [since]
    if store:
        q, args = q + " AND store = ?", args + [store]
    rows: dict[tuple[str, str], dict] = {}
    per_hour: Counter = Counter()
    for st, sc, start, payload in db.execute(q + " ORDER BY start", args):
        m = json.loads(payload)
        r = rows.setdefault((st, sc), {"store": st, "screen": sc, "windows": 0, "sessions": 0, "engaged_sessions": 0,
                                       "engaged_s": 0.0, "attract_s": 0.0, "taps": Counter(), "shown": Counter(),
                                       "opened": Counter(), "looks_shown": Counter(), "looks_opened": Counter(),
                                       "items": Counter()})
        r["windows"] += 1
        for k in ("sessions", "engaged_sessions", "engaged_s", "attract_s"):
            r[k] += m[k]
        for f in FEATURES:
            r["taps"][f] += sum(m["tapped"][f].values())
            _add(r["shown"], m["shown"][f])
        _add(r["opened"], m["details"])
        _add(r["looks_shown"], m["looks_shown"])
        _add(r["looks_opened"], m["looks_opened"])
        _add(r["items"], m["items"])
        per_hour[start[:13]] += m["sessions"]
    out = []
    for (st, sc), r in sorted(rows.items()):
        def top(shown: Counter, opened: Counter, n: int = 5) -> list[dict]:
            keys = [k for k, _ in shown.most_common() if k != OTHER][:n]
            return [{"id": k, "shown": shown[k], "opened": opened[k],
                     "ctr": round(opened[k] / shown[k], 3) if shown[k] else None} for k in keys]
        total_s = r["engaged_s"] + r["attract_s"]
        out.append({"store": st, "screen": sc, "windows": r["windows"], "sessions": r["sessions"],
                    "engaged_sessions": r["engaged_sessions"],
                    "engagement_rate": round(r["engaged_sessions"] / r["sessions"], 3) if r["sessions"] else None,
                    "engaged_s": round(r["engaged_s"], 1), "attract_s": round(r["attract_s"], 1),
                    "engaged_share": round(r["engaged_s"] / total_s, 3) if total_s else None,
                    "taps": dict(r["taps"]), "items": dict(r["items"].most_common()),
                    "top_products": top(r["shown"], r["opened"]), "top_looks": top(r["looks_shown"], r["looks_opened"])})
    totals = {"sessions": sum(r["sessions"] for r in out), "engaged_sessions": sum(r["engaged_sessions"] for r in out),
              "taps": {f: sum(r["taps"].get(f, 0) for r in out) for f in FEATURES}}
    return {"screens": out, "totals": totals, "sessions_per_hour": dict(sorted(per_hour.items()))}


def write_csv(report: dict, path: Path) -> None:
    """One row per screen; every cell spreadsheet-safe (edge.files.safe_cell)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["store", "screen", "windows", "sessions", "engaged_sessions", "engagement_rate", "engaged_s",
                    "attract_s", *(f"taps_{f}" for f in FEATURES), "top_product", "top_product_shown",
                    "top_product_opened", "top_product_ctr"])
        for r in report["screens"]:
            tp = r["top_products"][0] if r["top_products"] else {}
            w.writerow(map(safe_cell, [r["store"], r["screen"], r["windows"], r["sessions"], r["engaged_sessions"],
                        r["engagement_rate"], r["engaged_s"], r["attract_s"], *(r["taps"].get(f, 0) for f in FEATURES),
                        tp.get("id", ""), tp.get("shown", ""), tp.get("opened", ""), tp.get("ctr", "")]))


def plot_sessions_per_hour(report: dict, path: Path, width: int = 960, height: int = 360) -> None:
    """Bars of sessions per hour (OpenCV: head office needs no plotting library)."""
    import cv2
    import numpy as np
    from datetime import datetime, timedelta
    seen = report["sessions_per_hour"]
    hours: dict[str, int] = {}
    if seen:                      # every hour from the first to the last, the quiet ones too
        h, last = (datetime.strptime(k, "%Y-%m-%dT%H") for k in (min(seen), max(seen)))
        while h <= last and len(hours) < 24 * 31:
            key = h.strftime("%Y-%m-%dT%H")
            hours[key] = seen.get(key, 0)
            h += timedelta(hours=1)
    img = np.full((height, width, 3), 255, np.uint8)
    left, bottom, top = 60, height - 50, 40
    cv2.putText(img, "sessions per hour (all screens)", (left, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (40, 42, 31), 2)
    cv2.line(img, (left, bottom), (width - 20, bottom), (80, 80, 80), 1)
    cv2.line(img, (left, top), (left, bottom), (80, 80, 80), 1)
    if hours:
        peak = max(hours.values()) or 1
        step = min(72.0, (width - 20 - left) / len(hours))
        for i, (hour, n) in enumerate(hours.items()):
            x1 = int(left + 8 + i * step + step * 0.15)
            x2 = int(left + 8 + (i + 1) * step - step * 0.15)
            y = int(bottom - (bottom - top) * n / peak)
            cv2.rectangle(img, (x1, y), (max(x1 + 1, x2), bottom), (68, 42, 31), -1)
            cv2.putText(img, str(n), (x1, max(top, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (40, 40, 40), 1)
            if len(hours) <= 24 or i % max(1, len(hours) // 12) == 0:
                cv2.putText(img, hour[11:13] + "h", (x1, bottom + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (40, 40, 40), 1)
        cv2.putText(img, f"{next(iter(hours))[:10]} .. {list(hours)[-1][:10]} (UTC)", (left, height - 10),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (90, 90, 90), 1)
        cv2.putText(img, str(peak), (10, top + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (90, 90, 90), 1)
    cv2.imwrite(str(path), img)


def report_lines(rep: dict) -> list[str]:
    """`signage fleet report` as a table: a row per store and screen, then the totals."""
    feats = ("similar", "look", "shop")
    lines = [f"{'store':12s} {'screen':8s} {'sessions':>8s} {'engaged':>8s} {'rate':>5s} "
             + " ".join(f"{'taps ' + f:>11s}" for f in feats) + "  top product (shown/opened)"]
    for r in rep["screens"]:
        tp = r["top_products"][0] if r["top_products"] else None
        lines.append(f"{r['store']:12s} {r['screen']:8s} {r['sessions']:8d} {r['engaged_sessions']:8d} "
                     f"{(r['engagement_rate'] if r['engagement_rate'] is not None else '-'):>5} "
                     + " ".join(f"{r['taps'].get(f, 0):11d}" for f in feats)
                     + (f"  {tp['id']} ({tp['shown']}/{tp['opened']})" if tp else ""))
    t = rep["totals"]
    return lines + [f"all: {t['sessions']} sessions, {t['engaged_sessions']} with a tap"]
