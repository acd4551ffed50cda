"""What `precision: int8` costs in answers: the same photos through the float models and their INT8
copies (models/quantize.py), side by side. Times are in bench/live.py (both ISAs).

    python -m bench.int8 [--write]

People, garment regions and shoes on the CCP street photos' report half (the INT8 models were
calibrated on the tune half), as the photos are and in 8 framings each (bench/street.py
FRAMINGS), the latter paired photo by photo and judged (one photo is 0.5-1.9 pt of a plain
figure, more than the target); category precision@5 on the held-out senders of the CC0 photos
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

STREET = (("people found", "people", "people_found"), ("upper region, IoU >= 0.5", "upper", "upper_recall"),
          ("lower region, IoU >= 0.5", "lower", "lower_recall"), ("dress, IoU >= 0.5", "dress", "dress_recall"),
          ("footwear, IoU >= 0.5", "footwear", "footwear_recall"))
CATEGORY = (("category precision@5", "precision_at_5"), ("category top-1", "category_top1_vote"))


def measure() -> dict:
    from bench.report import machine
    base = load_config()
    photos = street.split(street.load(), "report")
    res, per_photo = {"machine": machine()}, {}
    for precision in ("default", "int8"):
        cfg = copy.deepcopy(base)
        cfg.precision = precision
        vision = Vision(cfg)
        framed = street.framings(vision, photos)
        per_photo[precision] = framed.pop("per_photo")
        res[precision] = {"ran_in": {n: vision.models.ran_in(n) for n in ("detector", "pose", "embedder")},
                          "street": street.measure(vision, photos), "street_framed": framed,
                          "category": quality.measure(None, None, cfg=cfg)}
    res["paired"] = street.paired(per_photo["default"], per_photo["int8"])
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
    pairs = res.get("paired", {})
    L += ([f"Machine: {res['machine']}. "] if "machine" in res else [""])
    L[-1] += ("Models ran in: " + "; ".join(f"{c}: " + ", ".join(f"{n} {r}" for n, r in res[c]["ran_in"].items())
                                      for c in cols if "ran_in" in res[c]) + ".")
    L += ["", "| | " + " | ".join(cols) + " | int8 - float | int8 - float, 8 framings (95%) |",
          "|---|" + "---|" * (len(cols) + 2)]
    judged, plain = {}, {}

    def row(name, vals, framed=""):
        d = round(vals[1] - vals[0], 4) if None not in vals[:2] else None
        L.append(f"| {name} | " + " | ".join("" if v is None else str(v) for v in vals)
                 + f" | {'' if d is None else d} | {framed} |")
        return d
    for name, kind, key in STREET:
        d = row(name, [res[c].get("street", {}).get(key) for c in cols],
                f"{pairs[kind]['difference']:+.4f} ± {pairs[kind]['half_width_95']:.4f}" if kind in pairs else "")
        if d is not None:
            plain[name] = d
            judged[name] = pairs[kind]["difference"] if kind in pairs else d
    for name, key in CATEGORY:
        d = row(name, [res[c].get("category", {}).get(key) for c in cols])
        if d is not None:
            judged[name] = d
    worst = min(judged, key=judged.get)
    L.append("")
    if pairs:
        ns = [p["photos"] for p in pairs.values()]
        L += [f"Street figures are judged over 8 framings of each photo (mirrored, on margins: bench/street.py "
              f"FRAMINGS), paired photo by photo: on the photos as they are one photo is "
              f"{100 / max(ns):.1f} to {100 / max(min(ns), 1):.1f} pt of a figure and a hit at IoU 0.5 flips on a "
              f"pixel (the differences there span {min(plain.values()):+.4f} to {max(plain.values()):+.4f}). Photos whose "
              "share of framings differs between the two: " + ", ".join(
                  f"{k} {p['photos_differing']} of {p['photos']}" for k, p in pairs.items()) + ".", ""]
    L += [f"Target: at most 1 point lost on each: {verdict(judged[worst] >= -0.01)} "
          f"(worst: {worst} {judged[worst]:+.4f}).", ""]
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
