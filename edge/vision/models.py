"""Loads the shipped models from models/manifest.json and compiles them with OpenVINO.

Every file is checked against the sha256 the manifest records, so a missing, truncated or
swapped model is a clear error naming the command that rebuilds it, not a crash deep inside.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelMissing

log = logging.getLogger(__name__)

BUILD_HINT = "run `signage models build` (or restore models/ from the release)"
QUANTIZE = "run `signage models quantize --data ../shared/data` (build time, NNCF)"
QUANTIZE_HINT = f"{QUANTIZE}, or set precision: default"
# The models with an INT8 copy (models/quantize.py) that `precision: int8` runs. The pose model is
# not one: in INT8 it measured slower than in float (more reorders than its depthwise convs save).
INT8_MODELS = ("detector", "embedder")
# ISNet's INT8 copy runs whenever `cutout.int8` is on (the default), whatever `precision` says: the
# same cut at about half the time (bench/cutout.py).
CUTOUT_INT8_HINT = f"{QUANTIZE}, or set cutout.int8: false"
QUANTIZED = INT8_MODELS + ("cutout",)
# oneDNN capped below AVX-512 (how bench/live.py emulates an AVX2 store PC): OpenVINO still reads
# bf16 from CPUID and would pick it, which does not compile under the cap; f32 is what it runs on
# a real AVX2 CPU.
NO_BF16_CAPS = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2"}


@dataclass(frozen=True)
class ModelInfo:
    name: str
    xml: Path
    bin: Path
    entry: dict
    files: dict | None = None    # the IR record its files are checked against (an INT8 copy's), else entry["ir"]

    @property
    def version(self) -> str:
        """Short, stable id of the exact weights: changes whenever the IR changes. An INT8 copy
        keeps its float model's version: it runs the same weights at a lower precision (like
        bf16), so a catalogue's vectors stay searchable (bench/quality.py measures the mix)."""
        return f"{self.name}:{self.entry['ir']['bin_sha256'][:12]}"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ModelStore:
    """The models folder: manifest, verified IR files, compiled models (one per name, cached)."""

    def __init__(self, models_dir: Path, device: str = "CPU", precision: str = "default",
                 cache_dir: Path | None = None):
        self.dir = Path(models_dir)
        self.device = device
        self.precision = precision
        # OpenVINO keeps each compiled model there (CACHE_DIR), keyed by the model's graph and
        # weights, the device, its config and OpenVINO's version: a restart loads it instead of
        # compiling again (INT8 models compile slowest: their low-precision passes). None: none kept.
        self.cache_dir = cache_dir
        self._manifest: dict | None = None
        self._compiled: dict = {}
        self._verified: set[tuple[str, bool]] = set()   # (name, INT8 copy)
        self._lock = threading.Lock()

    @classmethod
    def of(cls, cfg) -> "ModelStore":
        """The store the config describes (models_dir, device, precision, model_cache)."""
        return cls(cfg.models_dir, cfg.device, cfg.precision, cfg.model_cache)

    @property
    def manifest(self) -> dict:
        if self._manifest is None:
            path = self.dir / "manifest.json"
            if not path.is_file():
                raise ModelMissing(f"model manifest {path} not found: {BUILD_HINT}")
            try:
                self._manifest = json.loads(path.read_text())
            except ValueError as e:
                raise ModelMissing(f"model manifest {path} is corrupt ({e}): {BUILD_HINT}") from e
        return self._manifest

    def info(self, name: str, int8: bool | None = None) -> ModelInfo:
        """The model's files: its INT8 copy when `int8` says so (None: when `precision: int8`
        covers it)."""
        entry = self.manifest.get("models", {}).get(name)
        if entry is None:
            raise ModelMissing(f"model '{name}' is not in {self.dir / 'manifest.json'}: {BUILD_HINT}")
        ir = self.dir / "ir"
        if self._int8(name, int8):
            q = entry.get("int8")
            if q is None:
                raise ModelMissing(f"model '{name}' has no INT8 copy in {self.dir / 'manifest.json'}: "
                                   f"{self._quantize_hint(name)}")
            return ModelInfo(name, ir / q["ir"]["xml"], ir / q["ir"]["bin"], entry, q["ir"])
        return ModelInfo(name, ir / entry["ir"]["xml"], ir / entry["ir"]["bin"], entry)

    def verify_trained(self, path: Path, hint: str) -> Path:
        """A file trained from data at build time (the outfit compatibility models): its sha256 as
        the manifest's `trained` records it, the way the IR is checked; the path."""
        if not Path(path).is_file():
            raise ModelMissing(f"{path} not found: {hint}")
        want = self.manifest.get("trained", {}).get(Path(path).name)
        if want is None:
            raise ModelMissing(f"{path} is not in {self.dir / 'manifest.json'} (no sha256 to check it by): {hint}")
        if sha256_file(path) != want:
            raise ModelMissing(f"{path} is corrupt (sha256 differs from the manifest): {hint}")
        return Path(path)

    def record_trained(self, *paths: Path) -> None:
        """After training: each file's sha256 into the manifest's `trained`."""
        from ..files import atomic_write
        manifest = dict(self.manifest)
        manifest["trained"] = {**manifest.get("trained", {}), **{Path(p).name: sha256_file(p) for p in paths}}
        atomic_write(self.dir / "manifest.json", [(json.dumps(manifest, indent=2) + "\n").encode()])
        self._manifest = manifest

    def _int8(self, name: str, int8: bool | None) -> bool:
        return self.precision == "int8" and name in INT8_MODELS if int8 is None else int8

    @staticmethod
    def _quantize_hint(name: str) -> str:
        return CUTOUT_INT8_HINT if name == "cutout" else QUANTIZE_HINT

    def verify(self, name: str, int8: bool | None = None) -> ModelInfo:
        info = self.info(name, int8)
        if (name, bool(info.files)) in self._verified:
            return info
        record = info.files or info.entry["ir"]
        files = [(info.xml, record["xml_sha256"]), (info.bin, record["bin_sha256"])]
        if "vocab" in info.entry:     # the text model's tokenizer vocabulary
            files.append((info.xml.parent / info.entry["vocab"]["file"], info.entry["vocab"]["sha256"]))
        hint = self._quantize_hint(name) if info.files else BUILD_HINT
        for path, want in files:
            if not path.is_file():
                raise ModelMissing(f"model '{name}': {path} not found: {hint}")
            if sha256_file(path) != want:
                raise ModelMissing(f"model '{name}': {path} is corrupt (sha256 differs from the manifest): {hint}")
        self._verified.add((name, bool(info.files)))
        return info

    def compiled(self, name: str, square: int | None = None, int8: bool | None = None):
        """The model compiled for this device; square: its image input reshaped to square x square
        first (a fully convolutional model, e.g. ISNet, run smaller than it was exported); int8:
        its INT8 copy or not (None: as `precision` says)."""
        key = (name, square, self._int8(name, int8))
        with self._lock:
            if key not in self._compiled:
                import openvino as ov
                info = self.verify(name, int8)
                core = ov.Core()
                config = {"PERFORMANCE_HINT": "LATENCY"}
                if self.precision == "f32" or os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() in NO_BF16_CAPS:
                    config["INFERENCE_PRECISION_HINT"] = "f32"
                if self._cache_ready():
                    config["CACHE_DIR"] = str(self.cache_dir)
                model = core.read_model(str(info.xml), str(info.bin))
                if square is not None:
                    shape = model.inputs[0].get_partial_shape()
                    model.reshape({model.inputs[0]: [shape[0].get_length(), shape[1].get_length(), square, square]})
                try:
                    self._compiled[key] = core.compile_model(model, self.device, config)
                except RuntimeError as e:
                    if "CACHE_DIR" not in config:
                        raise
                    # e.g. a kept model made for another CPU that this user may not replace
                    log.warning("model_cache %s: %s not taken from it nor kept (%s): compiled without it",
                                self.cache_dir, name, str(e).strip().splitlines()[-1])
                    del config["CACHE_DIR"]
                    self._compiled[key] = core.compile_model(model, self.device, config)
            return self._compiled[key]

    def _cache_ready(self) -> bool:
        """The cache folder exists or was made. One that cannot be made (no permission, a file in
        the way) costs a compile at each start, said once, never a model that does not load; in
        one that is read-only OpenVINO loads what is kept and skips keeping the rest."""
        if self.cache_dir is None:
            return False
        try:
            Path(self.cache_dir).mkdir(parents=True, exist_ok=True)
            return True
        except OSError as e:
            log.warning("model_cache %s cannot be made (%s): models are compiled at each start", self.cache_dir, e)
            self.cache_dir = None
            return False

    def ran_in(self, name: str, int8: bool | None = None) -> str:
        """What a compiled model really runs in, read back from OpenVINO: the precision of most of
        its convolutions and their kernels' instruction set ("bf16 avx512", "f32 avx2"); for a
        model without convolutions (the text model) its inference precision. The same config
        gives bf16 on a CPU with AVX-512 BF16 and f32 on an AVX2-only store PC. int8: of its INT8
        copy or not, as compiled() takes it."""
        counts: dict[tuple[str, str], int] = {}
        q8 = self._int8(name, int8)
        compiled = next((c for (n, _, q), c in self._compiled.items() if n == name and q == q8), None) \
            or self.compiled(name, int8=int8)
        for op in compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            if "layerType" not in info or info["layerType"].astype(str) != "Convolution":
                continue
            kernel = info["primitiveType"].astype(str)       # e.g. brgconv_avx512_1x1_bf16
            isa = next((x for x in ("avx512", "avx2", "sse41") if x in kernel), "other")
            # oneDNN names the kernel by the precision it computes in; runtimePrecision is the
            # weights' storage (f16 weights still compute in f32 on a CPU without f16 maths)
            prec = next((x for x in ("bf16", "f16", "i8", "u8", "f32") if kernel.lower().endswith(x)),
                        info["runtimePrecision"].astype(str))
            counts[(prec, isa)] = counts.get((prec, isa), 0) + 1
        if not counts:
            return compiled.get_property("INFERENCE_PRECISION_HINT").to_string()
        return " ".join(max(counts, key=counts.get))
