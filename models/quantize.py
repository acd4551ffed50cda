"""INT8 copies of the vision models the live loop runs most (detector, embedder) and of the one
catalogue import spends its time in (ISNet's cut): post-training quantization with NNCF
(OpenVINO's own compression tool), calibrated on real photos (build time).

    signage models quantize --data ../shared/data [--photos 300]

Calibration photos: the CC0 garment photos of the catalogue-side senders (models/cc0.py: the
query senders bench/quality.py measures with are left out) and the tune half of the CCP street
photos (models/ccp.py: its report half is left out), each turned into exactly the tensor the
kiosk feeds the model (the float models find the people and items first). ISNet is calibrated on
catalogue-side garment photos alone (what it cuts), the photos the colour names are scored on
(tests/data/colour_labels.csv: 218 when the committed copy was made) left out. The INT8 IRs go beside
the float ones (ir/<name>-int8.xml) with their sha256 and how they were calibrated in the
manifest; `precision: int8` in the config selects the detector's and embedder's (`default` / `f32`
keep the float ones), `cutout.int8` (on by default) ISNet's.
Needs `pip install nncf` at build time only; the kiosk needs openvino alone. Rebuilding a model
(`signage models build`) drops its INT8 copy from the manifest: quantize again.

Measured on AVX2 (oneDNN capped, bench/live.py): detector 28 -> 18 ms, embedder 18 -> 11 ms;
the pose model 23 -> 26 ms (its INT8 copy adds more reorders than its depthwise convs save), so
it is not quantized. ISNet at 512 px: 200 -> 112 ms (bf16 -> INT8), 390 -> 190 ms on AVX2, the cut
itself unchanged (bench/cutout.py).
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np

from edge.vision.models import QUANTIZED

from .build import IR_DIR, MANIFEST, BuildError, ir_entry

SEED = 0
COLOUR_LABELS = Path(__file__).resolve().parent.parent / "tests" / "data" / "colour_labels.csv"
CUTOUT_PHOTOS = 96          # ISNet is large: NNCF's statistics on 64 photos took 43 s
PEOPLE_AND_GARMENTS = "CC0 garment photos of the catalogue-side senders + CCP street photos' tune half"
CALIBRATION = {"detector": PEOPLE_AND_GARMENTS, "embedder": PEOPLE_AND_GARMENTS,
               "cutout": "CC0 garment photos of the catalogue-side senders, the colour-labelled photos left out"}


def calibration_photos(data: Path, photos: int) -> list[Path]:
    """Up to `photos` street photos (people: detector on the frame and on each person box, as the
    shoe re-detection runs it) and as many garment photos (items: detector, embedder), none from
    a set a benchmark reports on."""
    from .cc0 import split as cc0_split
    from .ccp import photo_files, split as ccp_split
    rng = random.Random(SEED)
    street = ccp_split(photo_files(data / "ccp-street-dev"), "tune")
    garments = [data / "clothing-cc0" / "images" / f"{r['image']}.jpg" for r in cc0_split(data / "clothing-cc0")[0]]
    rng.shuffle(street)
    rng.shuffle(garments)
    return street[:photos] + garments[:photos]


def cutout_photos(data: Path, photos: int) -> list[Path]:
    """Up to `photos` garment photos of the catalogue-side senders, none the colour names are
    scored on."""
    import csv

    from .cc0 import split as cc0_split
    scored = {r["image"] for r in csv.DictReader(open(COLOUR_LABELS))}
    rows = [r for r in cc0_split(data / "clothing-cc0")[0] if r["image"] not in scored]
    random.Random(SEED).shuffle(rows)
    return [data / "clothing-cc0" / "images" / f"{r['image']}.jpg" for r in rows[:photos]]


def calibration_inputs(paths: list[Path], vision, log=print) -> dict[str, list[np.ndarray]]:
    """Each model's input tensors for these photos, made the way the kiosk makes them."""
    from edge.vision.detector import MIN_SIDE, Detector
    from edge.vision.embed import Embedder, item_crop
    from edge.vision.imageio import read_image
    out: dict[str, list[np.ndarray]] = {n: [] for n in ("detector", "embedder")}
    for i, path in enumerate(paths):
        try:
            bgr = read_image(path)
        except Exception as e:          # a photo that does not decode calibrates nothing
            log(f"  skipped {path.name}: {e}")
            continue
        out["detector"].append(Detector.preprocess(bgr))
        found = vision.find_items(bgr)
        for x1, y1, x2, y2 in Detector.person_views(bgr, [p.box for p in found.people]):
            if min(x2 - x1, y2 - y1) >= MIN_SIDE:      # what detect_once would run on
                out["detector"].append(Detector.preprocess(bgr[y1:y2, x1:x2]))
        for item in found.items:
            crop, mask = item_crop(bgr, item)
            out["embedder"].append(Embedder.preprocess(crop, mask))
        if (i + 1) % 100 == 0:
            log(f"  {i + 1}/{len(paths)} photos ({', '.join(f'{n} {len(v)}' for n, v in out.items())})")
    return out


def quantize(data: Path, photos: int = 300, out_dir: Path = IR_DIR, manifest_path: Path = MANIFEST,
             log=print, only: tuple[str, ...] = ()) -> dict:
    """INT8 copies of the QUANTIZED models (or only the named ones; the manifest keeps the others')."""
    if not (data / "clothing-cc0" / "images.csv").is_file() or not (data / "ccp-street-dev").is_dir():
        raise BuildError(f"--data {data}: needs clothing-cc0/images.csv and ccp-street-dev/ (the shared data folder)")
    names = [n for n in QUANTIZED if not only or n in only]
    try:
        import nncf
    except ImportError as e:
        raise BuildError("INT8 models are made with NNCF at build time: pip install nncf") from e
    import openvino as ov

    from edge.config import load_config
    from edge.vision.stages import Vision
    cfg = load_config()
    cfg.precision = "f32"               # the float models find what the calibration tensors hold
    vision = Vision(cfg)
    t0 = time.perf_counter()
    inputs: dict[str, list[np.ndarray]] = {}
    if {"detector", "embedder"} & set(names):
        paths = calibration_photos(Path(data), photos)
        log(f"[quantize] {len(paths)} calibration photos")
        inputs = calibration_inputs(paths, vision, log)
    if "cutout" in names:
        from edge.vision.cutout import Cutout
        from edge.vision.imageio import read_image
        cut = Cutout(vision.models.compiled("cutout", int8=False))     # at the size it was exported
        inputs["cutout"] = [cut.preprocess(read_image(p)) for p in cutout_photos(Path(data), min(photos, CUTOUT_PHOTOS))]
    manifest = json.loads(Path(manifest_path).read_text())
    core = ov.Core()
    for name in names:
        info = vision.models.verify(name, int8=False)
        tensors = inputs[name]
        rng = np.random.default_rng(SEED)
        sample = [tensors[i] for i in rng.permutation(len(tensors))[:photos]]
        model = core.read_model(str(info.xml), str(info.bin))
        t = time.perf_counter()
        q = nncf.quantize(model, nncf.Dataset(sample), subset_size=len(sample))
        xml = Path(out_dir) / f"{name}-int8.xml"
        ov.save_model(q, str(xml), compress_to_fp16=False)
        manifest["models"][name]["int8"] = {
            "ir": ir_entry(xml), "nncf": nncf.__version__, "calibration_tensors": len(sample),
            "calibration": CALIBRATION[name],
            "seconds": round(time.perf_counter() - t, 1)}
        log(f"[quantize] {name}: {len(sample)} tensors -> {xml.name} ({time.perf_counter() - t:.0f} s)")
    Path(manifest_path).write_text(json.dumps(manifest, indent=2) + "\n")
    log(f"[quantize] done in {time.perf_counter() - t0:.0f} s")
    return {n: manifest["models"][n]["int8"] for n in names}
