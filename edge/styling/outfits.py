"""Outfits from files: `signage compat score`'s JSON input, checked item by item, and training the
compatibility models from Polyvore outfits (build time: `signage compat train`)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from ..errors import SignageError
from ..taxonomy import SLOTS
from .compat import CompatItem, CompatModel, load_polyvore, split_outfits


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SignageError(f"{path}: no such file") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise SignageError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("outfits"), list):
        raise SignageError(f'{path}: expected {{"outfits": [...]}}')
    return data


def _item(where: str, it) -> tuple[str, str, list]:
    if not isinstance(it, dict) or it.get("category") not in SLOTS:
        raise SignageError(f"{where}: 'category' must be one of {', '.join(SLOTS)}")
    colors = it.get("colors") or []
    if not isinstance(colors, list) or not all(isinstance(c, str) for c in colors):
        raise SignageError(f"{where}: 'colors' must be a list of names")
    return it["category"], str(it.get("name") or ""), colors


def read_outfits(path: Path, colours_of: Callable[[str], list[str]]) -> list[tuple[object, list[CompatItem]]]:
    """{"outfits": [{"id", "items": [{"category": slot, "name", "colors"?, "image"?}]}]} as
    (id, CompatItems); an item without colours but with an image gets the image's. An error names
    the outfit and the item."""
    outfits = []
    for n, outfit in enumerate(_read(path)["outfits"]):
        where = f"{path}: outfits[{n}]"
        if not isinstance(outfit, dict) or not isinstance(outfit.get("items"), list) or "id" not in outfit:
            raise SignageError(f"{where}: expected an object with 'id' and 'items'")
        items = []
        for j, it in enumerate(outfit["items"]):
            slot, name, colors = _item(f"{where}.items[{j}]", it)
            if not colors and it.get("image"):
                colors = list(colours_of(it["image"]))
            items.append(CompatItem(slot, name, tuple(colors)))
        outfits.append((outfit["id"], items))
    return outfits


def score_outfits(path: Path, model, colours_of: Callable[[str], list[str]]) -> list[dict]:
    """`signage compat score`: each outfit of the file with its compatibility score."""
    outfits = read_outfits(path, colours_of)
    model.vectors([i for _, items in outfits for i in items])   # every name through the text model at once
    return [{"id": oid, "score": round(model.score(items), 5)} for oid, items in outfits]


def train_compat(outfits_path: Path, store, text, seed: int = 0) -> dict:
    """Learn the PMI model (compat.json) and the pair model over sentence vectors (compat-text.npz)
    from Polyvore outfits, holding a share out, into the ModelStore's folder (their sha256 into its
    manifest, checked at load); what was written."""
    from .pairs import fit_pairs
    models_dir = store.dir
    if not outfits_path.is_file():
        raise SignageError(f"{outfits_path}: no such file")
    train, held_out = split_outfits(load_polyvore(outfits_path), seed=seed)
    model = CompatModel.fit([items for _, items in train])
    out = models_dir / "compat.json"
    model.save(out)
    out_pairs = models_dir / "compat-text.npz"
    fit_pairs([items for _, items in train], text, seed=seed).save(out_pairs)
    store.record_trained(out, out_pairs)
    return {"outfits": len(train), "held_out": len(held_out), "attributes": len(model.counts), "path": str(out),
            "pairs_path": str(out_pairs)}
