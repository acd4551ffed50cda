"""What `precision: int8` costs in answers: the same photos through the float models and their INT8
copies (models/quantize.py), side by side. Times are in bench/live.py (both ISAs).

    python -m bench.int8 [--write]

People, garment regions and shoes on the CCP street photos' report half (the INT8 models were
calibrated on the tune half); category precision@5 on the held-out senders of the CC0 photos
(calibration used catalogue-side senders only), both with the whole catalogue imported by the
same precision and with the catalogue imported in float and only the shopper's photos in INT8
(a store that switches to int8 keeps the vectors it has: the model version is the same).
Target (issue 17): at most 1 point lost on each figure.
"""
from __future__ import annotations

import argparse
import copy
import json

from bench import quality, street
from edge.config import load_config
from edge.vision.stages import Vision

FIGURES = (("people found", ("street", "people_found")), ("upper region, IoU >= 0.5", ("street", "upper_recall")),
           ("lower region, IoU >= 0.5", ("street", "lower_recall")),
           ("footwear, IoU >= 0.5", ("street", "footwear_recall")),
           ("category precision@5", ("category", "precision_at_5")),
           ("category top-1", ("category", "category_top1_vote")))


def measure() -> dict:
    base = load_config()
    photos = street.split(street.load(), "report")
    res = {}
    for precision in ("default", "int8"):
        cfg = copy.deepcopy(base)
        cfg.precision = precision
        vision = Vision(cfg)
        res[precision] = {"ran_in": {n: vision.models.ran_in(n) for n in ("detector", "pose", "embedder")},
                          "street": street.measure(vision, photos),
                          "category": quality.measure(None, None, cfg=cfg)}
    q = copy.deepcopy(base)
    q.precision = "int8"
    res["int8 queries, float catalogue"] = {"category": quality.measure(None, None, cfg=base, query_cfg=q)}
    return res


def markdown(res: dict | None) -> list[str]:
    from bench.report import verdict
    L = ["## INT8 against float: the same photos (`python -m bench.int8 --write`)", ""]
    if not res:
        return L + ["not run", ""]
    cols = [c for c in ("default", "int8", "int8 queries, float catalogue") if c in res]
    L += ["Models ran in: " + "; ".join(f"{c}: " + ", ".join(f"{n} {r}" for n, r in res[c]["ran_in"].items())
                                      for c in cols if "ran_in" in res[c]) + ".", "",
          "| | " + " | ".join(cols) + " | int8 - float |", "|---|" + "---|" * (len(cols) + 1)]
    worst = 0.0
    for name, (part, key) in FIGURES:
        vals = [res[c].get(part, {}).get(key) for c in cols]
        d = round(vals[1] - vals[0], 4) if vals[0] is not None and vals[1] is not None else None
        if d is not None:
            worst = min(worst, d)
        L.append(f"| {name} | " + " | ".join("" if v is None else str(v) for v in vals) + f" | {d if d is not None else ''} |")
    L += ["", f"Target: at most 1 point lost on each: {verdict(worst >= -0.01)} (worst {worst:+.4f}).", ""]
    return L


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true", help="put the figures into docs/benchmarks.md")
    a = ap.parse_args()
    result = measure()
    if a.write:
        from bench.report import update_results
        update_results("int8", result)
    print(json.dumps(result, indent=1))
    print("\n".join(markdown(result)))
