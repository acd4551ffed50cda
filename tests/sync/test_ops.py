"""Catalogue operations defined once: the wire form round-trips, bad ops are refused with a
reason, and one function applies a delta to the catalogue in one transaction."""
import numpy as np
import pytest

from edge.catalog.products import Product
from edge.catalog.store import Catalog
from sync.ops import (DeleteLook, DeleteProduct, Rejected, SetMerch, SetPrice, SetStock, UpsertLook, UpsertProduct,
                      VectorRef, apply_delta, parse_op)

VEC = np.arange(8, dtype=np.float32) / 10


def every_op():
    p = Product("P-1", "Linen shirt", "Shirt", ("white",), 39.5, "EUR", 3, "B2", image_sha256="a" * 64,
                tags=("summer",))
    return [UpsertProduct.of(p, VectorRef.of(VEC.tobytes(), "m:1")), UpsertProduct.of(Product("P-2", "Jeans")),
            DeleteProduct("P-9"), SetPrice("P-1", 35.0, "EUR"), SetPrice("P-1", 30), SetStock("P-1", 0),
            UpsertLook("summer", "Summer", ("P-1", "P-2")), DeleteLook("old"),
            SetMerch("sku", "P-1", "boost", 0.5), SetMerch("look", "summer", "clear")]


def test_every_op_round_trips_through_its_wire_form():
    for op in every_op():
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
