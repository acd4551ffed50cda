"""INT8 copies of the vision models the live loop runs most (detector, embedder): post-training
quantization with NNCF (OpenVINO's own compression tool), calibrated on real photos (build time).

    signage models quantize --data ../shared/data [--photos 300]

Calibration photos: the CC0 garment photos of the catalogue-side senders (models/cc0.py: the
query senders bench/quality.py measures with are left out) and the tune half of the CCP street
photos (models/ccp.py: its report half is left out), each turned into exactly the tensor the
kiosk feeds the model (the float models find the people and items first). The INT8 IRs go beside
the float ones (ir/<name>-int8.xml) with their sha256 and how they were calibrated in the
manifest; `precision: int8` in the config selects them, `default` / `f32` keep the float ones.
Needs `pip install nncf` at build time only; the kiosk needs openvino alone. Rebuilding a model
(`signage models build`) drops its INT8 copy from the manifest: quantize again.

Measured on AVX2 (oneDNN capped, bench/live.py): detector 28 -> 18 ms, embedder 18 -> 11 ms;
the pose model 23 -> 26 ms (its INT8 copy adds more reorders than its depthwise convs save), so
it is not quantized.
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np

from edge.vision.models import INT8_MODELS

from .build import IR_DIR, MANIFEST, BuildError, ir_entry

QUANTIZED = INT8_MODELS     # the pose model measured slower in INT8: it stays float
SEED = 0


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


def calibration_inputs(paths: list[Path], vision, log=print) -> dict[str, list[np.ndarray]]:
    """Each model's input tensors for these photos, made the way the kiosk makes them."""
    from edge.vision.detector import MIN_SIDE, Detector
    from edge.vision.embed import Embedder, item_crop
    from edge.vision.imageio import read_image
    out: dict[str, list[np.ndarray]] = {n: [] for n in QUANTIZED}
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
             log=print) -> dict:
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
    paths = calibration_photos(Path(data), photos)
    log(f"[quantize] {len(paths)} calibration photos")
    inputs = calibration_inputs(paths, vision, log)
    manifest = json.loads(Path(manifest_path).read_text())
    core = ov.Core()
    for name in QUANTIZED:
        info = vision.models.verify(name)
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
            "calibration": "CC0 garment photos of the catalogue-side senders + CCP street photos' tune half",
            "seconds": round(time.perf_counter() - t, 1)}
        log(f"[quantize] {name}: {len(sample)} tensors -> {xml.name} ({time.perf_counter() - t:.0f} s)")
    Path(manifest_path).write_text(json.dumps(manifest, indent=2) + "\n")
    log(f"[quantize] done in {time.perf_counter() - t0:.0f} s")
    return {n: manifest["models"][n]["int8"] for n in QUANTIZED}
