import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.vision.detector import decode_boxes, nms, ssd_anchors
from edge.errors import ModelMissing
from edge.vision.models import ModelStore
from conftest import ROOT


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
    from edge.vision.models import NO_BF16_CAPS
    flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    if os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() in NO_BF16_CAPS:    # an AVX2 store PC, emulated
        flags = [f for f in flags if f != "avx512_bf16"]
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


def test_a_restart_loads_the_compiled_model_from_the_cache_with_the_same_answers(cfg, tmp_path):
    cache = tmp_path / "model-cache"
    crop = np.random.default_rng(0).integers(0, 255, (1, 3, 224, 224)).astype(np.float32)

    def embed(store):
        model = store.compiled("embedder")
        return model, model.create_infer_request().infer({0: crop})[model.outputs[0]].copy()
    first, want = embed(ModelStore(cfg.models_dir, cfg.device, "f32", cache))
    assert not first.get_property("LOADED_FROM_CACHE") and any(cache.iterdir())
    again, got = embed(ModelStore(cfg.models_dir, cfg.device, "f32", cache))     # a new process's store
    assert again.get_property("LOADED_FROM_CACHE")
    np.testing.assert_array_equal(got, want)
    assert ModelStore(cfg.models_dir, cfg.device, "f32", cache).ran_in("embedder").startswith("f32")
    _, uncached = embed(ModelStore(cfg.models_dir, cfg.device, "f32"))
    np.testing.assert_allclose(got, uncached, atol=1e-5)


def test_a_cache_that_cannot_be_written_costs_a_compile_not_the_model(cfg, tmp_path, caplog):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    store = ModelStore(cfg.models_dir, cfg.device, "f32", blocked / "model-cache")
    model = store.compiled("embedder")
    assert not model.get_property("LOADED_FROM_CACHE") and store.cache_dir is None
    assert "model_cache" in caplog.text and "compiled at each start" in caplog.text


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root to drop to another user (read-only for root is not read-only)")
def test_a_read_only_cache_still_gives_the_models_it_keeps(cfg):
    base = Path("/tmp") / f"signage-ro-cache-{os.getpid()}"       # pytest's tmp_path is root's alone
    shutil.rmtree(base, ignore_errors=True)
    cache = base / "model-cache"
    probe = ("from pathlib import Path; from edge.vision.models import ModelStore; "
             f"s = ModelStore(Path({str(cfg.models_dir)!r}), {cfg.device!r}, 'f32', Path({str(cache)!r})); "
             "print(*(s.compiled(n).get_property('LOADED_FROM_CACHE') for n in ('embedder', 'pose', 'detector')))")
    try:
        # kept by their owner: the embedder as it is, the detector spoilt (a model kept for another CPU,
        # a disk error), which OpenVINO then wants to replace and this user may not
        store = ModelStore(cfg.models_dir, cfg.device, "f32", cache)
        store.compiled("embedder")
        before = set(cache.iterdir())
        store.compiled("detector")
        spoilt, = set(cache.iterdir()) - before
        spoilt.write_bytes(spoilt.read_bytes()[:4096])
        for p in [base, cache, *cache.iterdir()]:
            os.chmod(p, 0o755 if p.is_dir() else 0o444)
        res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                              probe], cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, HOME=str(base)))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert res.returncode == 0, res.stderr[-2000:]
    # the kept one loaded, the one never kept compiled (nothing said), the spoilt one compiled and said
    assert res.stdout.split() == ["True", "False", "False"]
    notes = [line for line in res.stderr.splitlines() if "model_cache" in line]
    assert len(notes) == 1 and "detector not taken from it" in notes[0], res.stderr


def test_the_compatibility_models_are_hash_checked_at_load(models_copy, cfg):
    """compat.json and compat-text.npz are trained at build time like the IR is converted: a file
    changed after `signage compat train` recorded it is refused with the command that makes it."""
    from edge.styling.pairs import load_text_compat
    for name in ("compat.json", "compat-text.npz"):
        shutil.copy(cfg.models_dir / name, models_copy / name)
    assert load_text_compat(models_copy, ModelStore(models_copy)) is not None
    p = models_copy / "compat.json"
    p.write_text(p.read_text().replace("0", "1", 1))      # still valid JSON, other counts
    with pytest.raises(ModelMissing, match="corrupt.*signage compat train"):
        load_text_compat(models_copy, ModelStore(models_copy))
    p.unlink()
    with pytest.raises(ModelMissing, match="not found.*signage compat train"):
        load_text_compat(models_copy, ModelStore(models_copy))
