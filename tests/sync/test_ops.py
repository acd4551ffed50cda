"""Catalogue operations defined once: the wire form round-trips, bad ops are refused with a
reason, and one function applies a delta to the catalogue in one transaction."""
import numpy as np
import pytest

from edge.catalog.products import Product
from edge.catalog.store import Catalog
from edge.ids import OWN_STREAM, SHARED_STREAM
from sync.ops import (DeleteLook, DeleteProduct, FollowShared, Rejected, SetMerch, SetPrice, SetStock, StoreValues,
                      UpsertLook, UpsertProduct, VectorRef, apply_delta, apply_snapshot, check_stream, parse_op)

VEC = np.arange(8, dtype=np.float32) / 10


def every_op():
    p = Product("P-1", "Linen shirt", "Shirt", ("white",), 39.5, "EUR", 3, "B2", image_sha256="a" * 64,
                tags=("summer",))
    return [UpsertProduct.of(p, VectorRef.of(VEC.tobytes(), "m:1")), UpsertProduct.of(Product("P-2", "Jeans")),
            DeleteProduct("P-9"), SetPrice("P-1", 35.0, "EUR"), SetPrice("P-1", 30), SetStock("P-1", 0),
            UpsertLook("summer", "Summer", ("P-1", "P-2")), DeleteLook("old"),
            SetMerch("sku", "P-1", "boost", 0.5), SetMerch("look", "summer", "clear")]


def store_ops():
    return [StoreValues("P-1", 12.5, "EUR", 4, "C3"), StoreValues("P-1", stock=0), StoreValues("P-2"), FollowShared(17)]


def test_every_op_round_trips_through_its_wire_form():
    for op in every_op() + store_ops():
        assert parse_op(op.to_json()) == op


def test_a_product_without_price_or_image_leaves_them_off_the_wire():
    wire = UpsertProduct.of(Product("P-2", "Jeans")).to_json()
    assert "price" not in wire and "image_sha256" not in wire and "vector" not in wire
    assert wire["op"] == "upsert_product" and wire["colors"] == [] and wire["stock"] == 0


@pytest.mark.parametrize("wire, reason", [
    ([], "not an object"), ({"op": "drop_table"}, "unknown op"),
    ({"op": "set_stock", "sku": "P-1", "stock": -3}, "stock"), ({"op": "set_stock", "sku": "P-1", "stock": 1.5}, "stock"),
    ({"op": "set_price", "sku": "P-1", "price": float("nan")}, "price"), ({"op": "delete_product", "sku": "../x"}, "sku"),
    ({"op": "upsert_product", "sku": "P-1", "name": ""}, "name"),
    ({"op": "upsert_product", "sku": "P-1", "name": "x", "image_sha256": "ABC"}, "image_sha256"),
    ({"op": "upsert_product", "sku": "P-1", "name": "x", "vector": {"model_version": "m", "f32": "!!"}}, "base64"),
    ({"op": "upsert_look", "look_id": "a/b", "name": "x"}, "look_id"),
    ({"op": "set_merch", "kind": "sku", "target": "P-1", "action": "delete"}, "action"),
])
def test_a_bad_op_is_refused_with_its_reason(wire, reason):
    with pytest.raises(Rejected, match=reason):
        parse_op(wire)


def test_a_delta_applies_in_one_transaction_with_its_sequence_number(tmp_path):
    cat = Catalog(tmp_path / "c", create=True)
    cat.upsert([(Product("P-9", "Gone soon"), None, "")])
    ops = [parse_op(op.to_json()) for op in every_op()]
    v0 = cat.version
    apply_delta(cat, 1, ops, {"P-1": (VEC, "m:1")}, {"a" * 64: "images/aa/x.jpg"})
    assert cat.version == v0 + 1 and cat.sync_seq == 1
    p1 = cat.get("P-1")
    assert (p1.price, p1.stock, p1.image) == (30, 0, "images/aa/x.jpg")
    assert cat.get("P-9") is None and cat.get("P-2") is not None
    assert cat.looks() == {"summer": ("Summer", ["P-1", "P-2"])}
    assert cat.merch() == [("sku", "P-1", "boost", 0.5)]
    ids, vecs = cat.vectors("m:1")
    assert np.allclose(vecs[0], VEC)
    # a delta that does not follow changes nothing, and neither does a failing one
    with pytest.raises(ValueError, match="does not follow"):
        apply_delta(cat, 3, [SetStock("P-1", 5)], {}, {})
    with pytest.raises(Exception):
        apply_delta(cat, 2, [SetStock("P-1", 5), UpsertProduct(Product("P-3", "x")), object()], {}, {})
    assert cat.sync_seq == 1 and cat.get("P-1").stock == 0 and cat.get("P-3") is None


def test_deep_nesting_is_refused_before_it_reaches_the_ops():
    """200 kB of '[' made json.loads raise RecursionError, which nothing caught."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sync.envelope import MAX_DEPTH, depth, parse
    key = Ed25519PrivateKey.generate().public_key()
    for payload in (b"[" * 200_000, b"[" * 200_000 + b"]" * 200_000,
                    ('{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1)).encode()):
        with pytest.raises(Rejected, match="nested deeper"):
            parse(payload, key, "c", "s1")
    assert depth({"ops": [{"product": {"tags": ["a"]}}]}) == 5
    assert depth([]) == 1 and depth(3) == 0


def test_an_offline_store_is_not_sent_its_whole_history_again():
    """`publish --all` re-sends what a store reports not having; an offline store's last will
    reports seq null, which was read as 0: its whole history and every image went out again."""
    from sync.service import acknowledged_seqs
    status = {"s1": {"online": False, "seq": None}, "s2": {"online": True, "seq": 7},
              "s3": {"online": True, "seq": 0}, "s4": {"online": True}, "s5": {"seq": True}}
    assert acknowledged_seqs(status) == {"s2": 7, "s3": 0}


def test_a_rule_that_goes_is_cleared_alone(tmp_path):
    """Head office removed a boost and kept the pin: the delta said 'clear' (every rule), the store
    dropped the pin too, and head office forgot it had sent the pin."""
    from sync.envelope import generate_keys, load_private
    from sync.hq import HeadOffice
    generate_keys(tmp_path / "k", tmp_path / "k.pub")
    hq = HeadOffice(tmp_path / "hq", "c", load_private(tmp_path / "k"))
    hq.catalog.set_merch("sku", "A_1", "pin")
    hq.catalog.set_merch("sku", "A_1", "boost", 0.5)
    first, sent = hq.diff("s1", hq.desired(False))
    hq.record("s1", [first], sent)
    hq.catalog.clear_merch("sku", "A_1", "boost")
    ops, _ = hq.diff("s1", hq.desired(False))
    assert ops == [SetMerch("sku", "A_1", "clear", rule="boost")], ops
    assert parse_op(ops[0].to_json()) == ops[0]
    store = Catalog(tmp_path / "store", create=True)
    apply_delta(store, 1, [SetMerch("sku", "A_1", "pin"), SetMerch("sku", "A_1", "boost", 0.5)], {}, {})
    apply_delta(store, 2, ops, {}, {})
    assert store.merch() == [("sku", "A_1", "pin", 0.0)]
    with pytest.raises(Rejected, match="'rule' is for clear only"):
        parse_op({"op": "set_merch", "kind": "sku", "target": "A_1", "action": "pin", "rule": "boost"})
    hq.record("s1", [ops], {ops[0].key: None})
    assert hq.diff("s1", hq.desired(False))[0] == []        # nothing left to send: the pin is still known as sent


def unit_vectors(n, dim=1408, seed=0):
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_half_vectors_halve_the_wire_and_keep_the_neighbours():
    v = unit_vectors(1)[0]
    full, half = VectorRef.of(v.tobytes(), "m:1"), VectorRef.of(v.tobytes(), "m:1", half=True)
    op32 = UpsertProduct.of(Product("P-1", "Linen shirt"), full).to_json()
    op16 = UpsertProduct.of(Product("P-1", "Linen shirt"), half).to_json()
    assert len(op16["vector"]["f16"]) < 0.51 * len(op32["vector"]["f32"])
    back = parse_op(op16).vector.array()
    assert back.dtype == np.float32 and np.abs(back - v).max() < 1e-3
    # what a store finds with them: the same 10 nearest, on random unit vectors (the hard case:
    # their neighbours are nearly equidistant)
    db, q = unit_vectors(3000, seed=1), unit_vectors(100, seed=2)
    db16 = db.astype(np.float16).astype(np.float32)
    top = lambda m: np.argsort(-(q @ m.T), axis=1)[:, :10]   # noqa: E731
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top(db), top(db16))])
    assert recall >= 0.99, recall


@pytest.mark.parametrize("vector, reason", [
    ({"model_version": "m", "f32": "AAAAAA==", "f16": "AAA="}, "f32 or f16"),
    ({"model_version": "m", "f16": "AAAA"}, "float16 vector"),                         # 3 bytes
    ({"model_version": "m", "f16": __import__("base64").b64encode(np.array([np.nan, 1], np.float16).tobytes()).decode()},
     "NaN"),
])
def test_bad_half_vectors_are_refused(vector, reason):
    with pytest.raises(Rejected, match=reason):
        parse_op({"op": "upsert_product", "sku": "P-1", "name": "x", "vector": vector})


def test_how_vectors_travel_never_makes_head_office_send_a_product_again(tmp_path):
    from sync.envelope import generate_keys, load_private
    from sync.hq import HeadOffice
    generate_keys(tmp_path / "k", tmp_path / "k.pub")
    hq = HeadOffice(tmp_path / "hq", "demo", load_private(tmp_path / "k"))
    hq.catalog.upsert([(Product(f"P-{i}", "shirt"), v, "m:1") for i, v in enumerate(unit_vectors(3))])
    half, full = hq.desired(half=True), hq.desired(half=False)
    assert {k: h for k, (h, _) in half.items()} == {k: h for k, (h, _) in full.items()}
    assert all("f16" in op.to_json()["vector"] for _, op in half.values())


def test_a_half_vector_arrives_unit_length_so_it_is_its_own_best_match():
    v = unit_vectors(1, seed=5)[0]
    back = parse_op(UpsertProduct.of(Product("P-1", "x"), VectorRef.of(v.tobytes(), "m", half=True)).to_json())
    w = back.vector.array()
    assert abs(float(w @ w) - 1.0) < 1e-6 and float(w @ v) > 0.9999


def sold(cat, sku):
    p = cat.get(sku)
    return None if p is None else (p.name, p.price, p.stock, p.aisle)


def test_a_stores_own_values_hold_over_the_shared_stream_until_it_has_none(tmp_path):
    """Two streams, two sequence numbers: the shared one sets every store's catalogue and the base
    price, stock and aisle; the store's own stream its own values, which a later shared upsert of
    the product does not undo, and which hold for a product the shared stream has not sent yet."""
    cat = Catalog(tmp_path / "c", create=True)
    apply_delta(cat, 1, [FollowShared(0), StoreValues("P-2", price=5.0)], {}, {})     # own stream
    assert cat.follows_shared and cat.seq_of(SHARED_STREAM) == 0 and cat.sync_seq == 1
    base = [UpsertProduct(Product("P-1", "Shirt", price=10.0, currency="EUR", stock=3, aisle="A1")),
            UpsertProduct(Product("P-2", "Jeans", price=40.0, currency="EUR", stock=8, aisle="B1"))]
    apply_delta(cat, 1, base, {}, {}, SHARED_STREAM)
    assert sold(cat, "P-1") == ("Shirt", 10.0, 3, "A1") and sold(cat, "P-2") == ("Jeans", 5.0, 8, "B1")
    apply_delta(cat, 2, [StoreValues("P-1", price=8.0, aisle="Z9")], {}, {})
    apply_delta(cat, 2, [UpsertProduct(Product("P-1", "Linen shirt", price=11.0, currency="EUR", stock=2, aisle="A2")),
                         SetStock("P-2", 1)], {}, {}, SHARED_STREAM)
    assert sold(cat, "P-1") == ("Linen shirt", 8.0, 2, "Z9")      # the store's price and aisle, the new name and stock
    assert sold(cat, "P-2") == ("Jeans", 5.0, 1, "B1")
    apply_delta(cat, 3, [StoreValues("P-1")], {}, {})              # nothing of its own any more
    assert sold(cat, "P-1") == ("Linen shirt", 11.0, 2, "A2")
    assert (cat.sync_seq, cat.seq_of(SHARED_STREAM)) == (3, 2)
    with pytest.raises(ValueError, match="does not follow"):        # each stream keeps its own order
        apply_delta(cat, 2, [SetStock("P-1", 0)], {}, {}, SHARED_STREAM)


def test_a_store_moves_onto_the_shared_stream_without_a_full_resend(tmp_path):
    """A store on its own stream only: head office sends what it lacks, the word to follow the
    shared stream after its seq S, and the store's own values; its rows become the base, so the
    shared stream's next delta applies on top, and nothing was sent twice."""
    cat = Catalog(tmp_path / "c", create=True)
    apply_delta(cat, 1, [UpsertProduct(Product("P-1", "Shirt", price=10.0, stock=3)),
                         UpsertProduct(Product("P-2", "Jeans", price=40.0, stock=8))], {}, {})
    apply_delta(cat, 2, [UpsertProduct(Product("P-3", "Hat", price=9.0)), FollowShared(7),
                         StoreValues("P-1", price=12.0)], {}, {})
    assert cat.follows_shared and cat.seq_of(SHARED_STREAM) == 7
    assert sold(cat, "P-1")[1] == 12.0 and sold(cat, "P-3")[1] == 9.0
    apply_delta(cat, 8, [UpsertProduct(Product("P-1", "Oxford shirt", price=10.0, stock=5)), DeleteProduct("P-2")],
                {}, {}, SHARED_STREAM)
    assert sold(cat, "P-1") == ("Oxford shirt", 12.0, 5, "") and sold(cat, "P-2") is None
    # an own-stream snapshot replaces the store's own values only; the shared one the catalogue
    apply_snapshot(cat, 3, 3, [FollowShared(0), StoreValues("P-3", price=7.0)], {}, {}, OWN_STREAM)
    assert sold(cat, "P-1")[1] == 10.0 and sold(cat, "P-3")[1] == 7.0 and cat.seq_of(SHARED_STREAM) == 8
    apply_snapshot(cat, 20, 20, [UpsertProduct(Product("P-3", "Hat", price=9.5))], {}, {}, SHARED_STREAM)
    assert sold(cat, "P-1") is None and sold(cat, "P-3")[1] == 7.0 and cat.seq_of(SHARED_STREAM) == 20


@pytest.mark.parametrize("stream, follows, ops, reason", [
    (SHARED_STREAM, True, [StoreValues("P-1", price=1.0)], "store_values does not belong on the shared"),
    (SHARED_STREAM, True, [FollowShared(3)], "follow_shared does not belong on the shared"),
    (OWN_STREAM, True, [UpsertProduct(Product("P-1", "x"))], "upsert_product does not belong on the store stream of a store"),
    (OWN_STREAM, False, [StoreValues("P-1", price=1.0)], "store_values does not belong on the store stream"),
])
def test_an_op_on_the_wrong_stream_is_refused(stream, follows, ops, reason):
    with pytest.raises(Rejected, match=reason):
        check_stream(ops, stream, follows)
    check_stream([FollowShared(3), StoreValues("P-1", price=1.0)], OWN_STREAM, False)   # in this order: fine
