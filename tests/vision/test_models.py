import shutil

import numpy as np
import pytest

from edge.vision.detector import decode_boxes, nms, ssd_anchors
from edge.errors import ModelMissing
from edge.vision.models import ModelStore


def test_manifest_records_provenance_and_verifies(cfg):
    store = ModelStore(cfg.models_dir)
    for name in ("detector", "pose", "embedder"):
        info = store.verify(name)
        src = info.entry["source"]
        assert len(src["sha256"]) == 64 and src["package"] and src["version"]
        assert info.entry["licence"] == "Apache-2.0"
    assert store.info("detector").entry["labels"][19] == "Footwear"
    assert (cfg.models_dir / "licences" / "mediapipe.LICENSE").is_file()


@pytest.fixture
def models_copy(cfg, tmp_path):
    dst = tmp_path / "models"
    shutil.copytree(cfg.models_dir / "ir", dst / "ir")
    shutil.copy(cfg.models_dir / "manifest.json", dst / "manifest.json")
    return dst


def test_corrupt_model_names_the_fix(models_copy):
    b = models_copy / "ir" / "embedder.bin"
    data = bytearray(b.read_bytes())
    data[1000] ^= 0xFF
    b.write_bytes(bytes(data))
    with pytest.raises(ModelMissing, match="corrupt.*signage models build"):
        ModelStore(models_copy).compiled("embedder")


def test_missing_model_and_manifest_name_the_fix(models_copy):
    (models_copy / "ir" / "pose.xml").unlink()
    with pytest.raises(ModelMissing, match="not found.*signage models build"):
        ModelStore(models_copy).compiled("pose")
    (models_copy / "manifest.json").unlink()
    with pytest.raises(ModelMissing, match="manifest.*signage models build"):
        ModelStore(models_copy).compiled("detector")


def test_ssd_anchor_layout():
    a = ssd_anchors()
    assert a.shape == (1917, 4)
    # first layer: 19x19 cells with 3 boxes, the first a 0.1 square at the first cell centre
    assert np.allclose(a[0], [0.5 / 19, 0.5 / 19, 0.1, 0.1])
    # last anchor: the single 1x1 cell, interpolated scale sqrt(0.95 * 1.0)
    assert np.allclose(a[-1], [0.5, 0.5, np.sqrt(0.95), np.sqrt(0.95)], atol=1e-6)


def test_zero_encoding_decodes_to_the_anchor():
    a = ssd_anchors()
    boxes = decode_boxes(np.zeros((1917, 4), np.float32), a)
    cy, cx, h, w = a[5]
    assert np.allclose(boxes[5], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def test_nms_keeps_best_of_overlaps():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], np.float32)
    assert nms(boxes, np.array([0.5, 0.9, 0.4]), 0.45) == [1, 2]


def test_openvino_telemetry_is_kept_out(vision):
    import sys

    import openvino.tools.ovc.convert_impl as convert_impl
    assert sys.modules["openvino_telemetry"] is None
    assert convert_impl.tm.__name__.endswith("telemetry_stub")   # OpenVINO's own no-op fallback


def test_the_fine_tuned_embedder_is_recorded_and_its_weights_are_the_pinned_ones(cfg):
    """The IR was built from the registry weights plus models/trained/embedder-finetune.npz: the
    manifest pins that file's sha256 (as sources.yaml does) and says how it was trained."""
    import hashlib
    import yaml
    entry = ModelStore(cfg.models_dir).info("embedder").entry
    src = yaml.safe_load((cfg.models_dir / "sources.yaml").read_text())["embedder"]["finetune"]
    data = (cfg.models_dir / src["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == src["sha256"] == entry["finetune"]["sha256"]
    training = entry["finetune"]["training"]
    assert "query senders" in training["held_out"] and training["photos"] > 1000
    assert (cfg.models_dir / "licences" / "embedder-finetune.NOTICE").is_file()


def test_a_corrupt_text_vocabulary_names_the_fix(models_copy):
    vocab = models_copy / "ir" / "text-vocab.txt"
    vocab.write_text(vocab.read_text().replace("[UNK]", "[UNKNOWN]"))
    with pytest.raises(ModelMissing, match="text-vocab.txt is corrupt.*signage models build"):
        ModelStore(models_copy).verify("text")


def test_a_code_wheel_that_is_not_the_pinned_one_is_refused(tmp_path):
    # the build imports and runs the EfficientNet code from this wheel: a wheel with other
    # contents under the same name (a re-upload, a poisoned cache) must stop the build
    import zipfile

    import yaml

    from models.build import SOURCES, BuildError, fetch_package
    src = yaml.safe_load(SOURCES.read_text())["embedder"]
    name = f"{src['code_package'].replace('-', '_')}-{src['code_version']}-py3-none-any.whl"
    with zipfile.ZipFile(tmp_path / name, "w") as zf:
        zf.writestr("efficientnet_lite_pytorch/__init__.py", "import os  # anything at all\n")
    with pytest.raises(BuildError, match="sha256 mismatch"):
        fetch_package(src, tmp_path, code=True)


def test_what_a_model_ran_in_is_read_back_from_openvino(cfg):
    """The bench names each model's real precision: f32 when the config asks for it; by default
    bf16 exactly when the CPU has AVX-512 BF16 (an AVX2 store PC runs f32), with kernels of an
    instruction set this CPU has."""
    flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    default, f32 = ModelStore(cfg.models_dir, cfg.device), ModelStore(cfg.models_dir, cfg.device, "f32")
    for name in ("detector", "embedder"):
        prec, isa = default.ran_in(name).split()
        assert prec == ("bf16" if "avx512_bf16" in flags else "f32"), (name, prec)
        assert {"avx512": "avx512f", "avx2": "avx2", "sse41": "sse4_1"}[isa] in flags
        assert f32.ran_in(name).split()[0] == "f32"


def test_int8_runs_the_quantized_copies_and_keeps_the_vector_version(cfg):
    """`precision: int8`: detector and embedder from their INT8 IRs (checked against their own
    sha256), the pose model in float; the embedder's version is the float model's, so a
    catalogue's vectors stay searchable."""
    from edge.vision.models import INT8_MODELS
    float_store, int8 = ModelStore(cfg.models_dir, cfg.device), ModelStore(cfg.models_dir, cfg.device, "int8")
    assert set(INT8_MODELS) == {"detector", "embedder"}
    for name in INT8_MODELS:
        info = int8.verify(name)
        assert info.xml.name == f"{name}-int8.xml" and info.files["bin_sha256"] != info.entry["ir"]["bin_sha256"]
        assert info.version == float_store.info(name).version
        assert int8.ran_in(name).split()[0] in ("i8", "u8")
    assert int8.info("pose").xml.name == "pose.xml" and int8.ran_in("pose").split()[0] != "i8"


def test_int8_without_its_copy_names_the_command(models_copy):
    import json
    manifest = json.loads((models_copy / "manifest.json").read_text())
    del manifest["models"]["embedder"]["int8"]
    (models_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelMissing, match="no INT8 copy.*signage models quantize"):
        ModelStore(models_copy, precision="int8").compiled("embedder")
    # ISNet's copy is on by default, whatever the precision: its message names the key that turns it off
    del manifest["models"]["cutout"]["int8"]
    (models_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelMissing, match="no INT8 copy.*signage models quantize.*cutout.int8: false"):
        ModelStore(models_copy).compiled("cutout", int8=True)
    assert ModelStore(models_copy).info("cutout").xml.name == "cutout.xml"
    (models_copy / "ir" / "detector-int8.bin").write_bytes(b"not a model")
    with pytest.raises(ModelMissing, match="corrupt.*signage models quantize"):
        ModelStore(models_copy, precision="int8").compiled("detector")
