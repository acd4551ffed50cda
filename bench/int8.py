"""What `precision: int8` costs in answers: the same photos through the float models and their INT8
copies (models/quantize.py), side by side. Times are in bench/live.py (both ISAs).

    python -m bench.int8 [--isa native|avx2] [--write]

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
from bench.docs import INT8_SECTIONS, int8_markdown as markdown
from bench.measure import ISA_ENV
from edge.config import load_config
from edge.vision.stages import Vision


def measure() -> dict:
    from bench.measure import machine
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


def on_isa(isa: str) -> dict:
    """measure() in a child process with oneDNN capped as `isa` says (the cap is read when OpenVINO
    loads: it cannot change in this process). "avx2": float runs f32, INT8 without VNNI, as on
    most store PCs."""
    import os
    import subprocess
    import sys
    env = {**os.environ, **ISA_ENV[isa]}
    p = subprocess.run([sys.executable, "-m", "bench.int8", "--child"], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"bench.int8 on {isa} failed:\n{p.stderr[-2000:]}")
    return json.loads(p.stdout)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--isa", choices=["native", "avx2"], default="native",
                    help="avx2: oneDNN capped to AVX2, as a store PC runs it (its own section of the report)")
    ap.add_argument("--write", action="store_true", help="put the figures into docs/benchmarks.md")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(measure()))
        raise SystemExit(0)
    result = on_isa(a.isa)
    if a.write:
        from bench.docs import update_results
        update_results(INT8_SECTIONS[a.isa], result)
    print(json.dumps(result, indent=1))
    print("\n".join(markdown(result, a.isa)))
