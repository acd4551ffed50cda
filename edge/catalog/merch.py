"""Merchandising rules a store or head office sets on a sku or a curated look: pin, ban, boost.

One place for what a rule may be: the CLI, the catalogue and the sync ops read these.
"""
from __future__ import annotations

from ..errors import SignageError

MERCH_KINDS = ("sku", "look")
MERCH_ACTIONS = ("pin", "ban", "boost")
MERCH_OPS = MERCH_ACTIONS + ("clear",)     # clear: every rule of the target goes (or the one named)
MERCH_MAX_WEIGHT = 10.0     # a boost adds to scores a few units wide; stores refuse more (sync/ops.py)
LOOK_PREFIX = "look:"


def parse_target(text: str) -> tuple[str, str]:
    """'look:ID' -> ('look', ID); anything else is a sku."""
    return ("look", text[len(LOOK_PREFIX):]) if text.startswith(LOOK_PREFIX) else ("sku", text)


def set_rule(catalog, action: str, target_text: str, weight: float = 0.5, rule: str | None = None) -> int:
    """Apply `signage merch ACTION TARGET` to a catalogue; the catalogue version after it. A target
    the catalogue does not hold, or a weight every store would refuse, changes nothing."""
    kind, target = parse_target(target_text)
    if action not in MERCH_OPS:
        raise SignageError(f"a merch action is one of {', '.join(MERCH_OPS)}, got {action!r}")
    if kind == "sku" and catalog.get(target) is None:
        raise SignageError(f"sku {target!r} is not in the catalogue")
    if kind == "look" and target not in catalog.looks():
        raise SignageError(f"look {target!r} is not in the catalogue")
    if rule and action != "clear":
        raise SignageError("--rule goes with clear: `signage merch clear TARGET --rule boost`")
    if not -MERCH_MAX_WEIGHT <= weight <= MERCH_MAX_WEIGHT:
        # every store refuses a delta with such a rule: refuse it here, before it is published
        raise SignageError(f"--weight goes from {-MERCH_MAX_WEIGHT:g} to {MERCH_MAX_WEIGHT:g}")
    if action == "clear":
        return catalog.clear_merch(kind, target, rule)
    return catalog.set_merch(kind, target, action, weight)
