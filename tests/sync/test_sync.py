"""Catalogue sync against a real Mosquitto broker (started here, production ACL and passwords)."""
import base64
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest
import yaml

from conftest import ROOT, cc0_cycle, cc0_path, cc0_rows
from edge.catalog.store import Catalog
from edge.catalog.index import VectorIndex
from edge.ids import SHARED_STREAM
from sync import topics
from bench.harness.broker import Broker
from sync.envelope import canonical, generate_keys, load_private, load_public, sign
from sync.hq import HeadOffice, Publisher, fleet_status
from sync.store import StoreSync

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None, reason="deploy/install.sh installs mosquitto")
CAT = "demo"
USERS = {"hq": "hq-secret", "s1": "s1-secret", "s2": "s2-secret"}
N_PRODUCTS = 1000


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    generate_keys(d / "hq.key", d / "hq.pub")
    return d


@pytest.fixture(scope="session")
def hq_seed(tmp_path_factory, cfg, fast_vision):
    """Head office's catalogue of 1,000 products on the 384 real photos of tests/data/cc0 (a photo
    under several skus), embedded once for the whole session."""
    from edge.catalog.importer import import_catalog
    d = tmp_path_factory.mktemp("hqseed")
    rows = cc0_cycle(N_PRODUCTS)
    lines = ["sku,name,category,price,currency,stock,aisle,image"]
    lines += [f"P{i:04d},{r['label']} {i},{r['label']},{10 + i % 50}.99,EUR,{i % 7},A{i % 9},{cc0_path(r)}"
              for i, r in enumerate(rows)]
    (d / "catalog.csv").write_text("\n".join(lines) + "\n")
    cat = Catalog(d / "catalog", create=True)
    rep = import_catalog(d / "catalog.csv", cat, fast_vision, progress=False, images_root=ROOT)
    assert rep.imported == N_PRODUCTS, rep.errors[:3]
    cat.close()
    return d


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker", USERS).start()
    yield b
    b.stop()


@pytest.fixture
def hq(tmp_path, hq_seed, keys, broker):
    folder = tmp_path / "hq"
    shutil.copytree(hq_seed / "catalog", folder / "catalog")
    pub = Publisher("127.0.0.1", broker.port, "hq", USERS["hq"])
    h = HeadOffice(folder, CAT, load_private(keys / "hq.key"), pub)
    yield h
    pub.close()


def store(tmp_path, broker, keys, cfg, name="s1", vision=None):
    from edge.vision.stages import model_version
    cat = Catalog(tmp_path / f"store-{name}", create=True)
    return StoreSync(cat, CAT, name, load_public(keys / "hq.pub"), "127.0.0.1", broker.port, name, USERS[name],
                     model_version(cfg), vision_factory=(lambda: vision) if vision else None, heartbeat=1.0).start()


def with_own_values(rows: dict, hq, store: str) -> dict:
    """Head office's product rows as a store sells them: its own price, currency, stock, aisle."""
    rows = dict(rows)
    for sku, price, currency, stock, aisle in hq.db.execute(
            "SELECT sku, price, currency, stock, aisle FROM store_values WHERE store=?", (store,)):
        if sku in rows:
            name, cat, p, c, st, a, sha, colors = rows[sku]
            rows[sku] = (name, cat, p if price is None else price, currency or c, st if stock is None else stock,
                         aisle or a, sha, colors)
    return rows


def run_all(stores, cond, timeout=90):
    """Step several stores on this thread until cond() holds."""
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        for s in stores:
            s.step(0.05)
    return cond()


def run_until(s, cond, timeout=60):
    t0 = time.monotonic()
    s.run(until=lambda: cond() or time.monotonic() - t0 > timeout)
    return cond()


def product_rows(cat: Catalog):
    return {p.sku: (p.name, p.category, p.price, p.currency, p.stock, p.aisle, p.image_sha256, p.colors)
            for p in cat.products()}


def test_1000_products_published_received_searchable_and_idempotent(tmp_path, broker, hq, keys, cfg):
    rep = hq.publish(["s1"], max_ops=100)
    # each photo travels once, however many products show it
    assert rep.stores["s1"]["ops"] == N_PRODUCTS and rep.images == len({r["image"] for r in cc0_cycle(N_PRODUCTS)})
    s = store(tmp_path, broker, keys, cfg)
    try:
        assert run_until(s, lambda: s.catalog.sync_seq == hq.last_seq("s1"), 90)
        assert product_rows(s.catalog) == product_rows(hq.catalog)
        ids, vecs = s.catalog.vectors(s.model_version)
        assert len(ids) == N_PRODUCTS
        # every product can be found by its own vector, through the store's own index
        by_id = {p.id: p.sku for p in s.catalog.products()}
        for i in random.Random(0).sample(range(N_PRODUCTS), 50):
            top, score = s.catalog.search(vecs[i], 1, s.model_version)[0]
            assert top.sku == by_id[int(ids[i])] or score > 0.9999   # itself, or a photo sent twice
        assert s.catalog.version == s.catalog.sync_seq      # each delta applied exactly once
        version = s.catalog.version
        again = hq.publish(["s1"])
        assert again.stores["s1"]["ops"] == 0 and again.images == 0 and again.bytes == 0
        run_until(s, lambda: False, 1.5)
        assert s.catalog.version == version
    finally:
        s.stop()


def test_two_streams_a_change_goes_once_for_every_store_and_each_store_keeps_its_own_prices(
        tmp_path, broker, hq, keys, cfg):
    """Two stores on their own streams move onto the shared one without a full re-send; then a
    price change at head office is one delta on the shared stream for both (not one per store),
    a store's own price holds over it, and a compacted history gives a wiped store the same."""
    from edge.catalog.products import Product
    hq.publish(["s1", "s2"])
    a, b = store(tmp_path, broker, keys, cfg, "s1"), store(tmp_path, broker, keys, cfg, "s2")
    try:
        assert run_all([a, b], lambda: a.catalog.sync_seq == hq.last_seq("s1") and b.catalog.sync_seq == hq.last_seq("s2"))
        hq.set_store_values([{"store": "s1", "sku": "P0001", "price": 1.5, "stock": 99, "aisle": "Z1"},
                             {"store": "s2", "sku": "P0002", "stock": 0}])
        p = hq.catalog.get("P0003")
        hq.catalog.upsert([(Product(p.sku, p.name, p.category, p.colors, 5.0, p.currency, p.stock, p.aisle, p.image,
                                    p.image_sha256, p.gender, p.season, p.tags, p.description), None, "")])
        move = hq.publish(["s1", "s2"], shared=True)
        # the shared stream starts from the whole catalogue (once, for every store); each store gets
        # only the change it lacked, the word to follow the shared stream, and its own values
        assert move.stores["shared"]["ops"] == N_PRODUCTS and move.images == 0
        assert move.stores["s1"]["ops"] == 3 and move.stores["s2"]["ops"] == 3
        assert run_all([a, b], lambda: all(s.catalog.seq_of("shared") == hq.last_seq("shared") and
                                           s.catalog.sync_seq == hq.last_seq(s.store) for s in (a, b)))
        for s in (a, b):
            assert s.catalog.follows_shared
            assert product_rows(s.catalog) == with_own_values(product_rows(hq.catalog), hq, s.store)
        assert a.catalog.get("P0001").price == 1.5 and b.catalog.get("P0001").price != 1.5
        assert b.catalog.get("P0002").stock == 0 and a.catalog.get("P0002").stock == hq.catalog.get("P0002").stock
        # one change at head office: one delta, on the shared stream only
        p = hq.catalog.get("P0001")
        hq.catalog.upsert([(Product(p.sku, "Renamed " + p.name, p.category, p.colors, 77.0, p.currency, p.stock,
                                    p.aisle, p.image, p.image_sha256, p.gender, p.season, p.tags, p.description), None, "")])
        change = hq.publish(["s1", "s2"])
        assert change.stores["shared"] == {"ops": 1, "deltas": 1, "seq": hq.last_seq("shared")}
        assert change.stores["s1"]["ops"] == change.stores["s2"]["ops"] == 0
        assert run_all([a, b], lambda: all(s.catalog.seq_of("shared") == hq.last_seq("shared") for s in (a, b)))
        assert a.catalog.get("P0001").name.startswith("Renamed") and a.catalog.get("P0001").price == 1.5
        assert b.catalog.get("P0001").price == 77.0
        # a store's own value that goes: back to the shared price
        hq.set_store_values([{"store": "s2", "sku": "P0002", "stock": 0}])
        assert hq.publish(["s1", "s2"]).stores["s1"]["ops"] == 1
        assert run_all([a, b], lambda: a.catalog.sync_seq == hq.last_seq("s1"))
        assert a.catalog.get("P0001").price == 77.0 and a.catalog.get("P0001").stock == p.stock
    finally:
        b.stop()
    # compaction: the shared stream's snapshot and each store's own; a wiped store gets the same
    hq.set_store_values([{"store": "s2", "sku": "P0002", "stock": 0}, {"store": "s2", "sku": "P0005", "price": 3.0}])
    rep = hq.compact(["s1", "s2"])
    assert set(rep.stores) == {"shared", "s1", "s2"}
    shutil.rmtree(tmp_path / "store-s2")
    b = store(tmp_path, broker, keys, cfg, "s2")
    try:
        assert run_all([a, b], lambda: all(s.catalog.seq_of("shared") == hq.last_seq("shared") and
                                           s.catalog.sync_seq == hq.last_seq(s.store) for s in (a, b)))
        for s in (a, b):
            assert product_rows(s.catalog) == with_own_values(product_rows(hq.catalog), hq, s.store)
        assert b.catalog.get("P0005").price == 3.0 and b.catalog.get("P0002").stock == 0
    finally:
        a.stop()
        b.stop()


def test_changes_only_and_deletes(tmp_path, broker, hq, keys, cfg):
    hq.publish(["s1"])
    s = store(tmp_path, broker, keys, cfg)
    try:
        assert run_until(s, lambda: s.catalog.sync_seq == hq.last_seq("s1"), 90)
        p = hq.catalog.get("P0007")
        p.price, p.stock = 1.5, 0
        hq.catalog.upsert([(p, None, "")])
        hq.catalog.delete(["P0008"])
        hq.catalog.upsert_look("L1", "Weekend", ["P0001", "P0002"])
        rep = hq.publish(["s1"])
        assert rep.stores["s1"]["ops"] == 3 and rep.images == 0
        assert run_until(s, lambda: s.catalog.sync_seq == hq.last_seq("s1"), 30)
        assert s.catalog.get("P0007").price == 1.5 and s.catalog.get("P0008") is None
        assert s.catalog.looks()["L1"] == ("Weekend", ["P0001", "P0002"])
        assert product_rows(s.catalog) == product_rows(hq.catalog)
    finally:
        s.stop()


def statuses_of(broker, store="s1"):
    got = []
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.username_pw_set("hq", USERS["hq"])
    c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(topics.status(CAT, store), qos=1)
    # "_retained": the broker's copy, sent on (re)subscribing, not a store publishing just now
    c.on_message = lambda cl, u, m: got.append(dict(json.loads(m.payload), _retained=bool(m.retain)))
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    return c, got


def raw_publish(broker, user, topic, payload, retain=False):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.username_pw_set(user, USERS[user])
    result = {}
    c.on_publish = lambda cl, u, mid, rc, p: result.setdefault("rc", rc)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
    time.sleep(0.2)
    c.disconnect()
    c.loop_stop()
    return result.get("rc")


def envelope(keys, seq, store="s1", ops=None, **over):
    env = {"schema": 1, "catalog": CAT, "store": store, "seq": seq, "created_at": "2026-11-26T00:00:00Z",
           "ops": ops if ops is not None else [{"op": "set_stock", "sku": "P0001", "stock": 99}]}
    env.update(over)
    return sign(env, load_private(keys / "hq.key"))


def test_bad_messages_are_rejected_with_a_reason_and_change_nothing(tmp_path, broker, hq, keys, cfg):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    hq.publish(["s1"], max_ops=500)
    s = store(tmp_path, broker, keys, cfg)
    mon, seen = statuses_of(broker)
    try:
        assert run_until(s, lambda: s.catalog.sync_seq == hq.last_seq("s1"), 90)
        have = s.catalog.sync_seq
        before = (s.catalog.version, product_rows(s.catalog))
        good_old = envelope(keys, have)                              # a real, signed, already-applied seq
        forged = dict(json.loads(envelope(keys, have + 1)))
        other = Ed25519PrivateKey.generate()
        forged_payload = sign({k: v for k, v in forged.items() if k != "sig"}, other)
        cases = [
            (b"{not json", "malformed JSON"),
            (b"[" * 200_000, "nested deeper"),        # RecursionError in json.loads killed the daemon
            (json.dumps({"schema": 2, "catalog": CAT}).encode(), "wrong schema"),
            (canonical({"schema": 1, "catalog": CAT, "store": "s1", "seq": "x"}), "wrong schema"),
            (b" " * 1_100_000, "oversized"),
            (forged_payload, "wrong signature"),
            (envelope(keys, have + 1, store="s2"), "unknown store"),
            (envelope(keys, have + 1, ops=[{"op": "drop_table"}]), "unknown op"),
            (envelope(keys, have + 1, ops=[{"op": "set_stock", "sku": "P0001", "stock": -3}]), "stock"),
        ]
        for payload, reason in cases:
            n = s.state.rejected
            topic = topics.delta(CAT, "s1", have + 1)
            assert raw_publish(broker, "hq", topic, payload) is not None
            assert run_until(s, lambda: s.state.rejected > n, 10), reason
            assert reason in s.state.last_rejection["reason"], (reason, s.state.last_rejection)
            run_until(s, lambda: any(reason in ((x.get("last_rejection") or {}).get("reason") or "")
                                     for x in seen), 5)
            assert any(reason in ((x.get("last_rejection") or {}).get("reason") or "") for x in seen), reason
        # an already-applied delta arriving as a fresh message (a bridge handing on the retained
        # history after its uplink comes back, head office re-sending, a replay): a duplicate, not
        # an alarm; it changes nothing
        n, dup = s.state.rejected, s.state.duplicates
        assert raw_publish(broker, "hq", topics.delta(CAT, "s1", have), good_old) is not None
        assert run_until(s, lambda: s.state.duplicates > dup, 10)
        assert s.state.rejected == n
        assert (s.catalog.version, product_rows(s.catalog)) == before and s.catalog.sync_seq == have
    finally:
        mon.loop_stop()
        s.stop()


def takes_a_real_update(s, hq, stock):
    p = hq.catalog.get("P0003")
    p.stock = stock
    hq.catalog.upsert([(p, None, "")])
    hq.publish(["s1"])
    assert run_until(s, lambda: s.catalog.sync_seq == hq.last_seq("s1"), 20)
    assert s.catalog.get("P0003").stock == stock


def test_a_message_that_breaks_the_handler_is_rejected_and_the_store_goes_on(tmp_path, broker, hq, keys, cfg,
                                                                           monkeypatch):
    """Whatever goes wrong while one message is read (here: the parser itself fails), the store
    rejects it with the reason, acknowledges it and applies the next delta; before, the exception
    left the daemon without acknowledging, and the retained message killed it after each restart."""
    import sync.store as store_module
    hq.catalog.delete([p.sku for p in hq.catalog.products()][20:])
    hq.publish(["s1"])
    s = store(tmp_path, broker, keys, cfg)
    try:
        assert run_until(s, lambda: s.catalog.sync_seq == hq.last_seq("s1"), 30)
        have = s.catalog.sync_seq
        real_parse = store_module.parse

        def broken_once(payload, *a):
            monkeypatch.setattr(store_module, "parse", real_parse)
            raise KeyError("a bug in the parser")
        monkeypatch.setattr(store_module, "parse", broken_once)
        n = s.state.rejected
        assert raw_publish(broker, "hq", topics.delta(CAT, "s1", have + 1), envelope(keys, have + 1)) is not None
        assert run_until(s, lambda: s.state.rejected > n, 10)
        assert "could not read: KeyError" in s.state.last_rejection["reason"], s.state.last_rejection
        takes_a_real_update(s, hq, 41)
    finally:
        s.stop()


def test_a_store_keeps_on_disk_only_the_images_its_products_show(tmp_path, broker, hq, keys, cfg):
    """Images are per catalogue (every store receives every one): one that no delta names stays in
    memory and is let go; a delta that names it writes it; a product deleted takes its image along,
    unless another product shows it too."""
    import hashlib

    from edge.vision.embed import DIM
    from edge.vision.stages import model_version
    hq.catalog.delete([p.sku for p in hq.catalog.products()][20:])
    hq.publish(["s1"])
    s = store(tmp_path, broker, keys, cfg)
    try:
        assert run_until(s, lambda: s.catalog.sync_seq == hq.last_seq("s1"), 30)
        shown = s.catalog.image_shas()
        assert set(s.catalog.images.shas()) == shown
        data = cc0_path(cc0_rows()[300]).read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        assert sha not in shown
        assert raw_publish(broker, "hq", topics.image(CAT, sha), data, retain=True) is not None
        run_until(s, lambda: sha in s._loose, 10)
        assert sha in s._loose and sha not in s.catalog.images.shas()      # another store's product
        vec = np.random.default_rng(0).standard_normal(DIM).astype(np.float32)
        product = {"op": "upsert_product", "sku": "NEW-1", "name": "new shirt", "category": "Shirt",
                   "image_sha256": sha, "vector": {"model_version": model_version(cfg),
                                                   "f32": base64.b64encode((vec / np.linalg.norm(vec)).tobytes()).decode()}}
        have = s.catalog.sync_seq
        raw_publish(broker, "hq", topics.delta(CAT, "s1", have + 1), envelope(keys, have + 1, ops=[product]))
        assert run_until(s, lambda: s.catalog.sync_seq == have + 1, 10), s.state.last_rejection
        assert sha in s.catalog.images.shas()
        # the new product goes, and so does its image; a photo two products show stays for the other
        two = [p for p in s.catalog.products() if p.image_sha256][:1]
        twin = next(p for p in s.catalog.products() if p.image_sha256 != two[0].image_sha256)
        raw_publish(broker, "hq", topics.delta(CAT, "s1", have + 2), envelope(keys, have + 2, ops=[
            {"op": "delete_product", "sku": "NEW-1"},
            dict(product, sku="NEW-2", image_sha256=twin.image_sha256)]))
        assert run_until(s, lambda: s.catalog.sync_seq == have + 2, 10), s.state.last_rejection
        assert sha not in s.catalog.images.shas()
        assert set(s.catalog.images.shas()) == s.catalog.image_shas()
        raw_publish(broker, "hq", topics.delta(CAT, "s1", have + 3), envelope(keys, have + 3, ops=[
            {"op": "delete_product", "sku": "NEW-2"}]))
        assert run_until(s, lambda: s.catalog.sync_seq == have + 3, 10), s.state.last_rejection
        assert twin.image_sha256 in s.catalog.images.shas()              # the twin still shows it
    finally:
        s.stop()


def test_a_delta_asks_for_an_image_it_missed(tmp_path, broker, hq, keys, cfg):
    """A delta whose image the store let go (or never saw) asks the broker for that one image, not
    the whole retained history; one the broker never had is rejected with the reason."""
    import hashlib

    from edge.vision.embed import DIM
    from edge.vision.stages import model_version
    hq.catalog.delete([p.sku for p in hq.catalog.products()][20:])
    hq.publish(["s1"])
    data = cc0_path(cc0_rows()[301]).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    assert raw_publish(broker, "hq", topics.image(CAT, sha), data, retain=True) is not None
    s = store(tmp_path, broker, keys, cfg)
    s.max_loose_image_bytes = 0            # keeps nothing no delta named
    s.image_wait = 2.0
    try:
        assert run_until(s, lambda: s.catalog.sync_seq == hq.last_seq("s1"), 30)
        assert sha not in s._loose and sha not in s.catalog.images.shas()
        vec = np.random.default_rng(1).standard_normal(DIM).astype(np.float32)
        ref = {"model_version": model_version(cfg), "f32": base64.b64encode((vec / np.linalg.norm(vec)).tobytes()).decode()}
        have = s.catalog.sync_seq
        raw_publish(broker, "hq", topics.delta(CAT, "s1", have + 1), envelope(keys, have + 1, ops=[
            {"op": "upsert_product", "sku": "NEW-1", "name": "new shirt", "image_sha256": sha, "vector": ref}]))
        assert run_until(s, lambda: s.catalog.sync_seq == have + 1, 10), s.state.last_rejection
        assert s.catalog.get("NEW-1").image and sha in s.catalog.images.shas()
        nowhere = "0" * 64
        n = s.state.rejected
        raw_publish(broker, "hq", topics.delta(CAT, "s1", have + 2), envelope(keys, have + 2, ops=[
            {"op": "upsert_product", "sku": "NEW-2", "name": "ghost", "image_sha256": nowhere, "vector": ref}]))
        assert run_until(s, lambda: s.state.rejected > n, 10)
        assert "images not on the broker" in s.state.last_rejection["reason"]
        assert s.catalog.sync_seq == have + 1 and s.catalog.get("NEW-2") is None
    finally:
        s.stop()


def test_tls_a_store_needs_a_certificate_the_ca_signed(tmp_path, hq_seed, keys, cfg):
    """The broker's TLS listener requires a client certificate (require_certificate, as in
    deploy/mosquitto/mosquitto.conf): head office and a store with certificates from `signage
    certs` sync over it; the same store credentials with no certificate, or with one another CA
    signed, are refused in the handshake and receive nothing."""
    from edge.config import load_config
    from sync import certs
    from sync.service import broker_tls
    ca, rogue = tmp_path / "ca", tmp_path / "rogue"
    certs.make_ca(ca)
    certs.make_server(ca, ca, ["127.0.0.1", "localhost"])
    for client in ("hq", "s1"):
        certs.make_client(ca, ca, client)
    certs.make_ca(rogue, "not head office")
    certs.make_client(rogue, rogue, "s1")
    b = Broker(tmp_path / "broker", USERS, tls={"ca": ca / "ca.crt", "cert": ca / "broker.crt",
                                                "key": ca / "broker.key"}).start()
    pub = Publisher("127.0.0.1", b.tls_port, "hq", USERS["hq"],
                    tls={"ca_certs": str(ca / "ca.crt"), "certfile": str(ca / "hq.crt"), "keyfile": str(ca / "hq.key")})
    shutil.copytree(hq_seed / "catalog", tmp_path / "hq" / "catalog")
    h = HeadOffice(tmp_path / "hq", CAT, load_private(keys / "hq.key"), pub)
    stores = []
    try:
        h.catalog.delete([p.sku for p in h.catalog.products()][10:])
        h.publish(["s1"])
        # the store's TLS comes from its config, as `signage sync run` reads it
        (tmp_path / "s1.yaml").write_text(yaml.safe_dump({"sync": {
            "tls_ca": str(ca / "ca.crt"), "tls_cert": str(ca / "s1.crt"), "tls_key": str(ca / "s1.key")}}))
        tls = broker_tls(load_config(tmp_path / "s1.yaml"))
        from edge.vision.stages import model_version

        def a_store(name, tls):
            cat = Catalog(tmp_path / f"store-{name}", create=True)
            s = StoreSync(cat, CAT, "s1", load_public(keys / "hq.pub"), "127.0.0.1", b.tls_port, "s1", USERS["s1"],
                          model_version(cfg), heartbeat=1.0, tls=tls, client_id=f"s1-{name}").start()
            stores.append(s)
            return s
        refused = [a_store("no-cert", {"ca_certs": str(ca / "ca.crt")}),
                   a_store("rogue-cert", {"ca_certs": str(ca / "ca.crt"), "certfile": str(rogue / "s1.crt"),
                                          "keyfile": str(rogue / "s1.key")})]
        good = a_store("good", tls)
        assert run_until(good, lambda: good.catalog.sync_seq == h.last_seq("s1"), 30)
        assert good.catalog.count() == 10
        for s in refused:
            run_until(s, lambda: s.state.connected, 3)
            assert not s.state.connected and s.catalog.sync_seq == 0 and s.catalog.count() == 0
        log = (tmp_path / "broker" / "mosquitto.log").read_text()
        assert "certificate" in log.lower(), log[-2000:]      # refused in the TLS handshake
    finally:
        for s in stores:
            s.client.loop_stop()
        pub.close()
        b.stop()


def retained(broker, pattern: str, wait: float = 1.5) -> dict[str, bytes]:
    """What the broker keeps retained under a topic pattern (read as head office)."""
    got = {}
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.username_pw_set("hq", USERS["hq"])
    c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(pattern, qos=1)
    c.on_message = lambda cl, u, m: got.__setitem__(m.topic, bytes(m.payload)) if m.retain else None
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    time.sleep(wait)
    c.loop_stop()
    c.disconnect()
    return got


def test_compaction_a_new_store_starts_from_the_snapshot(tmp_path, broker, hq, keys, cfg):
    """Head office compacts: a snapshot per store, the retained deltas before it and the images no
    delta names are cleared. A store installed afterwards reads one snapshot, not the history, and
    ends equal to head office; a store that was live through it stays equal; later deltas apply."""
    hq.catalog.delete([p.sku for p in hq.catalog.products()][60:])
    hq.publish(["s1"], max_ops=20)
    live = store(tmp_path, broker, keys, cfg, name="s1")
    try:
        assert run_until(live, lambda: live.catalog.sync_seq == hq.last_seq("s1"), 60)
        # a history: prices change, 10 products go (their photos with them), a look and a rule come
        gone = [p.sku for p in hq.catalog.products()][50:]
        only_theirs = {hq.catalog.get(s).image_sha256 for s in gone} - {
            p.image_sha256 for p in hq.catalog.products() if p.sku not in gone}
        hq.catalog.delete(gone)
        batch = []
        for p in hq.catalog.products()[:10]:
            p.price = 1.99
            batch.append((p, None, ""))
        hq.catalog.upsert(batch)
        hq.catalog.upsert_look("L1", "Weekend", [p.sku for p in hq.catalog.products()[:3]])
        hq.catalog.set_merch("sku", hq.catalog.products()[4].sku, "boost", 0.7)
        hq.publish(["s1"], max_ops=20)
        before = hq.last_seq("s1")
        assert run_until(live, lambda: live.catalog.sync_seq == before, 60)
        rep = hq.compact(["s1"], max_ops=20)
        first = before + 1
        assert hq.last_seq("s1") == before + rep.stores["s1"]["deltas"] and rep.stores["s1"]["cleared"] == before
        kept = retained(broker, topics.deltas(CAT, "s1"))
        assert sorted(topics.seq_of(t) for t, p in kept.items() if p) == list(range(first, hq.last_seq("s1") + 1))
        images = retained(broker, topics.images(CAT))
        assert only_theirs and not only_theirs & {t.rsplit("/", 1)[-1] for t, p in images.items() if p}
        assert run_until(live, lambda: live.catalog.sync_seq == hq.last_seq("s1"), 60)
        # a store installed after the compaction: a new catalogue, a new session
        (tmp_path / "new").mkdir()
        from edge.vision.stages import model_version
        fresh = StoreSync(Catalog(tmp_path / "new" / "cat", create=True), CAT, "s1", load_public(keys / "hq.pub"),
                          "127.0.0.1", broker.port, "s1", USERS["s1"], model_version(cfg), heartbeat=1.0,
                          client_id="store-s1-reinstalled").start()
        try:
            assert run_until(fresh, lambda: fresh.catalog.sync_seq == hq.last_seq("s1"), 60)
            for s in (live, fresh):
                assert product_rows(s.catalog) == product_rows(hq.catalog)
                assert s.catalog.looks() == hq.catalog.looks() and sorted(s.catalog.merch()) == sorted(hq.catalog.merch())
                assert set(s.catalog.images.shas()) == s.catalog.image_shas()
                assert s.catalog.index(model_version(cfg)).count == hq.catalog.count()
            assert fresh.state.applied == 1           # one snapshot, not the history
            # and the stream goes on for both
            p = hq.catalog.products()[0]
            p.stock = 77
            hq.catalog.upsert([(p, None, "")])
            hq.publish(["s1"])
            for s in (live, fresh):
                assert run_until(s, lambda: s.catalog.sync_seq == hq.last_seq("s1"), 30)
                assert s.catalog.get(p.sku).stock == 77
        finally:
            fresh.stop()
    finally:
        live.stop()


FUZZ_CASES = int(os.environ.get("SIGNAGE_FUZZ_CASES", "10000"))


def test_fuzz_signed_messages_reach_the_op_checks_and_change_nothing(tmp_path, broker, hq, keys, cfg):
    """10,000 messages signed with head office's key, each a mutation of a valid delta for the next
    seq (bench/harness/fuzz.py): none takes the store down or the catch-all path, none rejected
    changes anything, every applied one leaves a working index, reasons reach the status topic."""
    from bench.harness.fuzz import run_fuzz
    hq.catalog.delete([p.sku for p in hq.catalog.products()][20:])   # a small catalogue: fast
    hq.publish(["s1"])
    s = store(tmp_path, broker, keys, cfg)
    s.image_wait = 0.05                    # a delta naming an image nobody published: rejected soon
    mon, seen = statuses_of(broker)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.username_pw_set("hq", USERS["hq"])
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    try:
        assert run_until(s, lambda: s.catalog.sync_seq == hq.last_seq("s1"), 30)
        rep = run_fuzz(s, lambda topic, payload: c.publish(topic, payload, qos=1), load_private(keys / "hq.key"),
                       FUZZ_CASES)
        print(json.dumps(rep.to_json()))
        assert rep.cases == FUZZ_CASES
        assert not rep.internal_errors, rep.internal_errors[:5]
        assert not rep.changed_by_rejected, rep.changed_by_rejected[:5]
        # both outcomes were exercised, and many distinct checks said no
        assert rep.applied > FUZZ_CASES // 50 and rep.rejected > FUZZ_CASES // 2
        assert len(rep.reasons) >= 15, rep.reasons
        # what the store counted is what head office reads on the status topic
        assert run_until(s, lambda: any(x.get("rejected") == s.state.rejected for x in seen), 10)
        wire = {(x.get("last_rejection") or {}).get("reason", "").split(":")[0][:60] for x in seen}
        assert set(rep.reasons) <= wire, set(rep.reasons) - wire
        # and the store still takes a real update afterwards (the cases that applied used seqs
        # head office's log never issued: it numbers on from the store's)
        hq.db.execute("UPDATE stores SET seq=? WHERE store='s1'", (s.catalog.sync_seq,))
        takes_a_real_update(s, hq, 42)
    finally:
        c.loop_stop()
        c.disconnect()
        mon.loop_stop()
        s.stop()


def test_acl_a_store_cannot_publish_catalogue_or_read_another_store(tmp_path, broker, hq, keys, cfg):
    hq.catalog.delete([p.sku for p in hq.catalog.products()][10:])
    hq.publish(["s1", "s2"])
    s = store(tmp_path, broker, keys, cfg)
    try:
        assert run_until(s, lambda: s.catalog.sync_seq == hq.last_seq("s1"), 30)
        have, version = s.catalog.sync_seq, s.catalog.version
        # s2's own credentials, a perfectly signed delta for s1: the broker refuses it
        rc = raw_publish(broker, "s2", topics.delta(CAT, "s1", have + 1), envelope(keys, have + 1))
        assert rc is not None and rc.is_failure and "authori" in str(rc).lower()
        rc = raw_publish(broker, "s1", topics.delta(CAT, "s1", have + 1), envelope(keys, have + 1))
        assert rc.is_failure
        rc = raw_publish(broker, "s1", topics.image(CAT, "0" * 64), b"x")
        assert rc.is_failure
        assert not raw_publish(broker, "s1", topics.status(CAT, "s1"), b"{}").is_failure   # its own status: fine
        assert raw_publish(broker, "s1", topics.status(CAT, "s2"), b"{}").is_failure      # not another's
        run_until(s, lambda: False, 1.0)
        assert (s.catalog.sync_seq, s.catalog.version) == (have, version)
        # reading: Mosquitto grants the subscription but delivers nothing the ACL does not allow;
        # s2's deltas are retained on the broker, s1 with its credentials gets none of them
        def received(user, topic):
            got = []
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
            c.username_pw_set(user, USERS[user])
            c.on_message = lambda cl, u, m: got.append(m.topic)
            c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(topic, qos=1)
            c.connect("127.0.0.1", broker.port)
            c.loop_start()
            time.sleep(1.5)
            c.loop_stop()
            c.disconnect()
            return got
        assert received("s1", topics.deltas(CAT, "s2")) == []
        assert received("s1", "signage/#") and all(t.split("/")[2] in ("s1", "image") for t in
                                                    received("s1", "signage/#"))
        assert received("s2", topics.deltas(CAT, "s2"))       # the control: s2 does get its own
    finally:
        s.stop()


def test_offline_store_catches_up_on_reconnect(tmp_path, broker, hq, keys, cfg):
    hq.catalog.delete([p.sku for p in hq.catalog.products()][50:])
    hq.publish(["s1"])
    s = store(tmp_path, broker, keys, cfg)
    assert run_until(s, lambda: s.catalog.sync_seq == hq.last_seq("s1"), 30)
    s.stop()
    for i in range(5):                               # three waves while the store is away
        p = hq.catalog.get(f"P000{i}")
        p.stock = 100 + i
        hq.catalog.upsert([(p, None, "")])
        hq.publish(["s1"])
    s = store(tmp_path, broker, keys, cfg)           # same catalogue folder, same session
    try:
        assert run_until(s, lambda: s.catalog.sync_seq == hq.last_seq("s1"), 30)
        assert [s.catalog.get(f"P000{i}").stock for i in range(5)] == [100, 101, 102, 103, 104]
        assert s.catalog.version == s.catalog.sync_seq
    finally:
        s.stop()
    st = fleet_status("127.0.0.1", broker.port, "hq", USERS["hq"], CAT)
    assert st["s1"]["online"] is False and st["s1"]["catalog"] == CAT


def store_config(tmp_path, broker, keys, cfg) -> Path:
    (tmp_path / "pw").write_text(USERS["s1"])
    data = {"models_dir": str(cfg.models_dir), "catalog_dir": str(tmp_path / "store-proc"),
            "sync": {"catalog_id": CAT, "store_id": "s1", "broker_port": broker.port,
                     "password_file": str(tmp_path / "pw"), "public_key": str(keys / "hq.pub"),
                     "heartbeat_s": 1.0}}
    p = tmp_path / "store.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.mark.parametrize("shared", [False, True], ids=["own stream", "shared stream"])
def test_chaos_broker_restarts_and_store_sigkills(tmp_path, broker, hq, keys, cfg, shared):
    """Publish 1,000 products in 50 deltas while the broker is killed and restarted and the store
    process is SIGKILLed at random points; at the end the store equals head office, every delta
    was applied exactly once, nothing it acknowledged was lost, and the index loads. "shared
    stream": the products come on the shared stream, the store's own prices on its own, both
    sequenced and exactly once."""
    if shared:
        hq.set_store_values([{"store": "s1", "sku": f"P{i:04d}", "price": 1.0 + i, "stock": 100 + i}
                             for i in range(0, N_PRODUCTS, 37)])
    conf = store_config(tmp_path, broker, keys, cfg)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "signage.cli", "--config", str(conf), "sync", "run"]
    logf = open(tmp_path / "store.log", "ab")
    proc = subprocess.Popen(cmd, stdout=logf, stderr=logf, env=env)
    mon, seen = statuses_of(broker)
    errors = []

    def publish():
        for attempt in range(30):
            try:
                hq.publish(["s1"], max_ops=20, shared=shared)
                return
            except ConnectionError as e:            # the broker went away under us: publish again
                errors.append(str(e))
                time.sleep(0.5)
    t = threading.Thread(target=publish)
    t.start()
    rng = random.Random(7)
    kills = broker_restarts = 0
    try:
        while t.is_alive() or kills < 6:
            time.sleep(rng.uniform(0.3, 1.5))
            if rng.random() < 0.25 and broker_restarts < 3:
                broker.restart(kill=True)
                broker_restarts += 1
            else:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                proc = subprocess.Popen(cmd, stdout=logf, stderr=logf, env=env)
            if kills > 12:
                break
        t.join(120)
        assert not t.is_alive()
        # a broker killed within its 1 s autosave window can lose what it had acknowledged:
        # head office re-sends everything newer than what the store reports (as publish does)
        last, last_shared = hq.last_seq("s1"), hq.last_seq(SHARED_STREAM)
        deadline = time.monotonic() + 240
        store_cat = Catalog(tmp_path / "store-proc")

        def behind():
            return store_cat.sync_seq < last or store_cat.seq_of("shared") < last_shared
        while behind() and time.monotonic() < deadline:
            time.sleep(2)
            if behind():
                st = fleet_status("127.0.0.1", broker.port, "hq", USERS["hq"], CAT).get("s1") or {}
                hq.publish(["s1"], acked_seq={"s1": st.get("seq") or 0, SHARED_STREAM: st.get("shared_seq") or 0})
        assert not behind(), (store_cat.sync_seq, last, store_cat.seq_of("shared"), last_shared,
                              (tmp_path / "store.log").read_text()[-3000:])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        mon.loop_stop()
    assert kills >= 6 and broker_restarts >= 1
    assert product_rows(store_cat) == with_own_values(product_rows(hq.catalog), hq, "s1")
    assert store_cat.version == store_cat.sync_seq + store_cat.seq_of("shared") == last + last_shared   # each once
    assert (last_shared > 0) == shared and store_cat.follows_shared == shared
    from edge.vision.stages import model_version
    idx, header = VectorIndex.load(tmp_path / "store-proc" / "index.faiss")
    assert header.count == N_PRODUCTS and idx.count == N_PRODUCTS
    # status messages from successive store processes never go backwards: nothing acknowledged lost.
    # (Only what a store published: after a kill -9 the broker may restore an older retained copy
    # from its last autosave, and the monitor gets that copy again when it resubscribes.)
    live = [x for x in seen if x.get("online") and x.get("seq") is not None and not x["_retained"]]
    acked = [x["seq"] for x in live]
    assert acked == sorted(acked) and acked[-1] == last, acked
    acked = [x.get("shared_seq") or 0 for x in live]
    assert acked == sorted(acked) and acked[-1] == last_shared, acked
    assert len(store_cat.vectors(model_version(cfg))[0]) == N_PRODUCTS


def test_apply_runs_while_the_kiosk_searches(tmp_path, broker, hq, keys, cfg):
    """The kiosk reads the catalogue (read-only, WAL) while 20 deltas apply: searches go on, no
    error, every new product is seen as its delta commits, and never through immutable mode."""
    hq.publish(["s1"], max_ops=50)
    assert hq.last_seq("s1") >= 20
    s = store(tmp_path, broker, keys, cfg)
    kiosk_cat = Catalog(s.catalog.dir, reader=True)
    assert kiosk_cat.reader and not kiosk_cat.read_only
    seed = hq.catalog.vectors(s.model_version)[1][0]
    done, counts, errors, seen = threading.Event(), [0, 0], [], []

    def kiosk():
        while not done.is_set():
            try:
                res = kiosk_cat.search(seed, 5, s.model_version)
                counts[0] += 1
                counts[1] = max(counts[1], len(res))
                seen.append(kiosk_cat.count())
            except Exception as e:   # any failure would be a kiosk without suggestions
                errors.append(repr(e))
            time.sleep(0.005)
    t = threading.Thread(target=kiosk)
    t.start()
    try:
        assert run_until(s, lambda: s.catalog.sync_seq == hq.last_seq("s1"), 90)
        time.sleep(0.2)
    finally:
        done.set()
        t.join()
        s.stop()
    assert not errors and counts[0] > 50 and counts[1] == 5, errors[:3]
    assert seen == sorted(seen) and len(set(seen)) > 5              # products arrived delta by delta
    assert kiosk_cat.count() == hq.catalog.count() == N_PRODUCTS    # ...and every one is seen
    assert {p.sku for p in kiosk_cat.products()} == {p.sku for p in hq.catalog.products()}


def test_a_long_gap_does_not_stall_the_store(tmp_path, broker, hq, keys, cfg):
    """More deltas than the store may hold while one is missing: it lets the newest go, fills
    the gap, then reads the rest back from the retained history."""
    import sync.store as store_mod
    hq.catalog.delete([p.sku for p in hq.catalog.products()][60:])
    hq.publish(["s1"], max_ops=1)                      # 60 one-product deltas
    last = hq.last_seq("s1")
    # hide delta 1 from the store's first delivery: take it off the broker, put it back later
    first = hq.db.execute("SELECT topic, payload FROM log WHERE store='s1' AND seq=1").fetchone()
    assert raw_publish(broker, "hq", first[0], b"", retain=True) is not None   # clears the retained copy
    old = store_mod.MAX_WAITING
    store_mod.MAX_WAITING = 10
    s = store(tmp_path, broker, keys, cfg)
    try:
        run_until(s, lambda: len(s.state.waiting) >= 10, 10)
        assert s.catalog.sync_seq == 0 and len(s.state.waiting) <= 10
        assert raw_publish(broker, "hq", first[0], first[1], retain=True) is not None
        assert run_until(s, lambda: s.catalog.sync_seq == last, 60), (s.catalog.sync_seq, last)
        assert s.catalog.version == last and len(s.catalog.products()) == 60
    finally:
        store_mod.MAX_WAITING = old
        s.stop()


def test_cli_keys_publish_fleet_status(tmp_path, broker, cfg):
    """The head-office commands end to end: keys, publish a CSV with looks, fleet status."""
    def signage(*args, conf=None):
        cmd = [sys.executable, "-m", "signage.cli"] + (["--config", str(conf)] if conf else []) + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    res = signage("keys", "generate", "--out", str(tmp_path / "keys"), "--json")
    assert res.returncode == 0, res.stderr
    assert signage("keys", "generate", "--out", str(tmp_path / "keys")).returncode == 2   # never overwrite
    rows = cc0_rows("Shoes", 3) + cc0_rows("Pants", 3)
    lines = ["sku,name,category,price,currency,stock,aisle,image"]
    (tmp_path / "photos").mkdir()            # images beside the CSV, as head office's export has them
    for r in rows:
        shutil.copy(cc0_path(r), tmp_path / "photos" / cc0_path(r).name)
    lines += [f"C{i},{r['label']} {i},{r['label']},5,EUR,1,B1,photos/{cc0_path(r).name}" for i, r in enumerate(rows)]
    (tmp_path / "cat.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "looks.csv").write_text("look_id,name,skus\nL1,Easy,C0;C3\n")
    (tmp_path / "pw").write_text(USERS["hq"])
    conf = tmp_path / "hq.yaml"
    conf.write_text(yaml.safe_dump({"models_dir": str(cfg.models_dir), "sync": {
        "catalog_id": CAT, "broker_port": broker.port, "username": "hq", "password_file": str(tmp_path / "pw"),
        "private_key": str(tmp_path / "keys" / "hq-signing.key"), "hq_dir": str(tmp_path / "hqdata"),
        "stores": ["s1", "s2"]}}))
    assert signage("publish", str(tmp_path / "cat.csv"), conf=conf).returncode == 2      # which stores?
    res = signage("publish", str(tmp_path / "cat.csv"), "--looks", str(tmp_path / "looks.csv"), "--all",
                  "--json", conf=conf)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["stores"]["s1"]["ops"] == 7 and out["stores"]["s2"]["ops"] == 7 and out["images"] == 6
    res = signage("publish", "--all", "--json", conf=conf)
    assert json.loads(res.stdout)["stores"]["s1"]["ops"] == 0
    res = signage("fleet", "status", "--json", "--wait", "1", conf=conf)
    assert res.returncode == 0, res.stderr
    st = {r["store"]: r for r in json.loads(res.stdout)["stores"]}
    assert st["s1"]["published_seq"] == 1 and st["s1"]["online"] is None      # never connected yet
    # each store's own prices on the shared stream: the catalogue goes once, a bad row is refused
    (tmp_path / "values.csv").write_text("store,sku,price,stock,aisle\ns1,C0,2.5,,Z1\ns2,C9,1,1,\n"
                                         "s2,C1,-4,,\nshared,C1,1,,\n")
    res = signage("publish", "--all", "--json", "--shared-stream", "--store-values", str(tmp_path / "values.csv"),
                  conf=conf)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["stores"]["shared"]["ops"] == 7 and out["stores"]["s1"]["ops"] == 2 and out["stores"]["s2"]["ops"] == 1
    assert "line 3 (sku C9): unknown sku" in res.stderr and "line 4 (sku C1): price" in res.stderr
    assert "line 5 (sku C1): store 'shared'" in res.stderr
    # a photo outside the CSV's folder is published only from a folder head office names
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(cc0_path(cc0_rows("Dress", 1)[0]), tmp_path / "elsewhere" / "d.jpg")
    (tmp_path / "more").mkdir()
    more = [line.replace("photos/", f"{tmp_path / 'photos'}/") for line in lines]
    more.append(f"D1,Dress,Dress,9,EUR,1,B2,{tmp_path / 'elsewhere' / 'd.jpg'}")
    (tmp_path / "more" / "cat.csv").write_text("\n".join(more) + "\n")
    res = signage("publish", str(tmp_path / "more" / "cat.csv"), "--all", "--json", conf=conf)
    assert res.returncode == 0 and res.stderr.count("outside the CSV's folder") == 7, res.stderr[-1500:]
    res = signage("publish", str(tmp_path / "more" / "cat.csv"), "--all", "--json", "--images-root", str(tmp_path),
                  conf=conf)
    assert res.returncode == 0 and "outside" not in res.stderr and json.loads(res.stdout)["images"] == 1, res.stderr
