"""The CC0 garment photos (github.com/alexeygrigorev/clothing-dataset, `../shared/data/clothing-cc0`)
split by sender, once for everyone: `signage models train` trains on one side, bench/quality.py
and bench/swaps.py ask with the other, so no query photo's sender (same room, same phone, often
the same garment) was ever trained on or is in the benchmark's catalogue."""
from __future__ import annotations

import csv
import random
from pathlib import Path

SKIP_LABELS = {"Not sure", "Skip", "Other"}     # not product categories


def split(data: Path, seed: int = 7, query_share: float = 0.3) -> tuple[list[dict], list[dict]]:
    """(catalogue side, query side) rows of images.csv, labels that are no category left out. A
    subset cut from the full data (tests/data/cc0) carries each row's side in a `side` column: its
    own senders would shuffle to another split."""
    rows = [r for r in csv.DictReader(open(Path(data) / "images.csv")) if r["label"] not in SKIP_LABELS]
    if rows and "side" in rows[0]:
        return [r for r in rows if r["side"] == "catalogue"], [r for r in rows if r["side"] == "query"]
    senders = sorted({r["sender_id"] for r in rows}, key=int)
    random.Random(seed).shuffle(senders)
    query_senders = set(senders[: int(len(senders) * query_share)])
    cat = [r for r in rows if r["sender_id"] not in query_senders]
    qry = [r for r in rows if r["sender_id"] in query_senders]
    return cat, qry
