"""One YAML config, validated at start; every error names the key it is about.

Relative paths are resolved against the folder of the config file, so a config can travel with
the data it points to.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from .catalog.index import IndexParams
from .catalog.store import SHARED_STREAM, is_store_id
from .errors import ConfigError
from .ids import ID_RE
from .vision.cutout import CutoutParams
from .vision.detector import DetectorParams
from .vision.embed import EmbedParams
from .vision.pose import PoseParams

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "deploy" / "signage.yaml"
DEVICES = ("CPU", "GPU", "NPU", "AUTO")
PRECISIONS = ("default", "f32", "int8")


@dataclass
class SimilarConfig:
    k: int = 5


@dataclass
class BrandConfig:
    store_name: str = "Our store"
    logo: Path | None = None
    primary_color: str = "#1f2a44"     # backgrounds, bars
    accent_color: str = "#e4572e"      # buttons, prices
    text_color: str = "#ffffff"


@dataclass
class KioskConfig:
    source: str = "0"                  # camera index, /dev/videoN, rtsp://.., a video file or image folder
    loop: bool = True                  # loop a video file or folder (demo)
    fullscreen: bool = True
    staff_pin_file: Path | None = REPO_ROOT / "var" / "staff-pin"   # its hash: `signage staff-pin set`
    staff_max_tries: int = 5           # wrong PINs in a row before the keypad locks ...
    staff_lock_s: float = 60.0         # ... for this long
    orientation: str = "auto"          # auto | landscape | portrait
    privacy_notice: str = ("The camera is used only to find products. No image is recorded or stored, and "
                           "no image leaves this screen. The screen counts, for the store, how often it is "
                           "used and which products it shows (totals per hour, never per person).")
    product_url: str = "https://shop.example.com/p/{sku}"
    stable_frames: int = 3             # frames an item must be seen before its suggestions show
    attract_after_s: float = 8.0       # nobody and nothing in view this long: the attract loop
    suggestions: int = 4               # product cards per item
    restart_after_s: float = 10.0      # a failed inference/capture thread: show why this long, then exit non-zero


@dataclass
class SyncConfig:
    catalog_id: str = "demo"
    store_id: str = "store-001"
    broker_host: str = "127.0.0.1"
    broker_port: int = 1883
    username: str = ""                 # default: the store id (head office: "hq")
    password_file: Path | None = None  # one line: the password (kept out of this file)
    tls_ca: Path | None = None         # CA certificate: turns TLS on
    tls_cert: Path | None = None       # this client's certificate (brokers require one: `signage certs store ID`)
    tls_key: Path | None = None        # ... and its private key
    public_key: Path | None = None     # head office's Ed25519 public key (stores)
    private_key: Path | None = None    # head office's Ed25519 private key (head office only)
    hq_dir: Path | None = None         # head office's catalogue and publish log
    stores: list[str] = field(default_factory=list)   # head office: the stores `--all` means
    heartbeat_s: float = 30.0
    screen: str = ""                   # a store with several screens: this one's name; its status
                                       # goes to .../{store}/screen/{screen}/status ("" = the store's)


@dataclass
class AnalyticsConfig:
    enabled: bool = True               # aggregate counts only (docs/sync.md "What the screens count")
    interval_s: float = 3600.0         # one message per window
    min_count: int = 5                 # a count under this goes into "other": no shopper singled out
    session_min_s: float = 2.0         # someone in front this long is a session


@dataclass
class Config:
    device: str = "CPU"
    precision: str = "default"
    models_dir: Path = REPO_ROOT / "models"
    catalog_dir: Path = REPO_ROOT / "var" / "catalog"
    # compiled models kept between starts (OpenVINO's model cache; null: compile at every start)
    model_cache: Path | None = REPO_ROOT / "var" / "model-cache"
    # Each model's section is that stage's own parameters: the defaults live there, once.
    detector: DetectorParams = field(default_factory=DetectorParams)
    pose: PoseParams = field(default_factory=PoseParams)
    embedding: EmbedParams = field(default_factory=EmbedParams)
    cutout: CutoutParams = field(default_factory=CutoutParams)
    index: IndexParams = field(default_factory=IndexParams)
    similar: SimilarConfig = field(default_factory=SimilarConfig)
    kiosk: KioskConfig = field(default_factory=KioskConfig)
    brand: BrandConfig = field(default_factory=BrandConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    analytics: AnalyticsConfig = field(default_factory=AnalyticsConfig)
    config_file: Path | None = None  # where this config was read from (not a YAML key)

    def check(self) -> "Config":
        if self.device.upper() not in DEVICES:
            raise ConfigError(f"config key 'device': {self.device!r} is not one of {', '.join(DEVICES)}")
        self.device = self.device.upper()
        if self.precision not in PRECISIONS:
            raise ConfigError(f"config key 'precision': {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        _unit("detector.person_threshold", self.detector.person_threshold)
        _unit("detector.footwear_threshold", self.detector.footwear_threshold)
        _unit("detector.footwear_alone_threshold", self.detector.footwear_alone_threshold)
        _unit("detector.nms_iou", self.detector.nms_iou)
        _unit("detector.passer_by_height", self.detector.passer_by_height)
        _unit("pose.min_person", self.pose.min_person)
        _unit("pose.min_visibility", self.pose.min_visibility)
        _unit("pose.mask_threshold", self.pose.mask_threshold)
        _unit("embedding.color_weight", self.embedding.color_weight)
        _unit("cutout.threshold", self.cutout.threshold)
        # ISNet halves the image six times and concatenates each level with the one upsampled from
        # below: 416 (13 x 32) gives 7 and 6 rows there and does not compile; multiples of 64 do.
        if not (128 <= self.cutout.size <= 1024 and self.cutout.size % 64 == 0):
            raise ConfigError(f"config key 'cutout.size': a multiple of 64 from 128 to 1024, got {self.cutout.size}")
        if self.cutout.first_size and not (128 <= self.cutout.first_size <= self.cutout.size
                                           and self.cutout.first_size % 64 == 0):
            raise ConfigError(f"config key 'cutout.first_size': 0 (no first look) or a multiple of 64 from 128 "
                              f"to cutout.size ({self.cutout.size}), got {self.cutout.first_size}")
        _unit("cutout.first_cover", self.cutout.first_cover)
        for key, value in (("detector.max_people", self.detector.max_people),
                           ("index.exact_up_to", self.index.exact_up_to),
                           ("index.ivf_lists", self.index.ivf_lists),
                           ("index.ivf_probe", self.index.ivf_probe), ("index.compact_from", self.index.compact_from),
                           ("index.compact_dim", self.index.compact_dim), ("index.compact_probe", self.index.compact_probe),
                           ("index.rerank", self.index.rerank), ("similar.k", self.similar.k)):
            if value < 1:
                raise ConfigError(f"config key '{key}': must be at least 1, got {value}")
        k = self.kiosk
        if k.orientation not in ("auto", "landscape", "portrait"):
            raise ConfigError(f"config key 'kiosk.orientation': {k.orientation!r} is not auto, landscape or portrait")
        if k.staff_max_tries < 1:
            raise ConfigError(f"config key 'kiosk.staff_max_tries': must be at least 1, got {k.staff_max_tries}")
        if k.staff_lock_s < 0:
            raise ConfigError(f"config key 'kiosk.staff_lock_s': must be 0 or more, got {k.staff_lock_s}")
        if "{sku}" not in k.product_url:
            raise ConfigError(f"config key 'kiosk.product_url': must contain {{sku}}, got {k.product_url!r}")
        for key, value in (("kiosk.stable_frames", k.stable_frames), ("kiosk.suggestions", k.suggestions)):
            if value < 1:
                raise ConfigError(f"config key '{key}': must be at least 1, got {value}")
        for key in ("attract_after_s", "restart_after_s"):
            if getattr(k, key) <= 0:
                raise ConfigError(f"config key 'kiosk.{key}': must be above 0, got {getattr(k, key)}")
        for key in ("primary_color", "accent_color", "text_color"):
            if not re.fullmatch(r"#[0-9a-fA-F]{6}", getattr(self.brand, key)):
                raise ConfigError(f"config key 'brand.{key}': expected a colour like #1f2a44, got {getattr(self.brand, key)!r}")
        for key in ("catalog_id", "store_id"):
            if not ID_RE.match(getattr(self.sync, key)):
                raise ConfigError(f"config key 'sync.{key}': letters, digits, . _ - only, got {getattr(self.sync, key)!r}")
        for st in self.sync.stores:
            if not is_store_id(st):
                raise ConfigError(f"config key 'sync.stores': {st!r} is not a valid store id")
        if self.sync.store_id == SHARED_STREAM:
            raise ConfigError(f"config key 'sync.store_id': {SHARED_STREAM!r} names head office's shared stream")
        if not 0 < self.sync.broker_port < 65536:
            raise ConfigError(f"config key 'sync.broker_port': {self.sync.broker_port} is not a port")
        a = self.analytics
        if a.interval_s < 1 or a.session_min_s < 0:
            raise ConfigError("config key 'analytics.interval_s': at least 1 s (and analytics.session_min_s >= 0)")
        if a.min_count < 2:
            raise ConfigError(f"config key 'analytics.min_count': at least 2 (1 would send single shoppers' "
                              f"choices), got {a.min_count}")
        if self.brand.logo is not None and not self.brand.logo.is_file():
            raise ConfigError(f"config key 'brand.logo': {self.brand.logo} not found")
        return self


def _unit(key: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"config key '{key}': must be between 0 and 1, got {value}")


def _coerce(key: str, kind: Any, value: Any, base: Path) -> Any:
    if is_dataclass(kind):
        return _build(kind, value, base, key + ".")
    text = str(kind)
    if kind is Path or text.startswith("pathlib.Path") or "Path" in text:
        if value is None and "None" in text:
            return None
        if not isinstance(value, str) or not value:
            raise ConfigError(f"config key '{key}': expected a path, got {value!r}")
        p = Path(os.path.expandvars(os.path.expanduser(value)))
        return p if p.is_absolute() else (base / p).resolve()
    if text.startswith("list["):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"config key '{key}': expected a list of names, got {value!r}")
        return list(value)
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config key '{key}': expected true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key '{key}': expected a whole number, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key '{key}': expected a number, got {value!r}")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"config key '{key}': expected text, got {value!r}")
        return value
    raise ConfigError(f"config key '{key}': unsupported type {kind}")  # pragma: no cover


def _build(cls, data: Any, base: Path, prefix: str = ""):
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config key '{prefix.rstrip('.') or '<top>'}': expected a mapping, got {data!r}")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls) if f.name != "config_file"}
    if cls is KioskConfig and "staff_pin" in data:
        raise ConfigError("config key 'kiosk.staff_pin': the PIN is no longer kept in the config, where anyone "
                          "reading it could leave the kiosk; remove the key and run `signage staff-pin set`")
    for key in data:
        if key not in known:
            raise ConfigError(f"config key '{prefix}{key}': unknown key (known: {', '.join(sorted(known))})")
    kwargs = {name: _coerce(prefix + name, hints[name], value, base) for name, value in data.items()}
    return cls(**kwargs)


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate the config: `path`, else $SIGNAGE_CONFIG, else deploy/signage.yaml."""
    path = Path(path or os.environ.get("SIGNAGE_CONFIG") or DEFAULT_CONFIG)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}".replace("\n", " ")) from e
    cfg = _build(Config, data, path.resolve().parent)
    cfg.config_file = path
    src = cfg.kiosk.source
    if not (src.isdigit() or "://" in src or src.startswith("/dev/")):   # a file or folder: from here
        cfg.kiosk.source = str((path.resolve().parent / os.path.expanduser(src)).resolve())
    return cfg.check()
