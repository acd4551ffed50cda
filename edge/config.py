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
from .errors import ConfigError
from .ids import ID_RE, address_problem, store_id_problem
from .params import check_section, param, walk
from .text import LANGUAGES
from .vision.cutout import CutoutParams
from .vision.detector import DetectorParams
from .vision.embed import EmbedParams
from .vision.pose import PoseParams

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "deploy" / "signage.yaml"
DEVICES = ("CPU", "GPU", "NPU", "AUTO")
PRECISIONS = ("default", "f32", "int8")
PRIVACY_NOTICE = ("The camera is used only to find products. No image is recorded or stored, and no image leaves "
                  "this screen. The screen counts, for the store, how often it is used and which products it "
                  "shows (totals per hour, never per person).")


def _colour(value: str) -> str | None:
    return None if re.fullmatch(r"#[0-9a-fA-F]{6}", value) else f"expected a colour like #1f2a44, got {value!r}"


def _id(value: str) -> str | None:
    return None if ID_RE.match(value) else f"letters, digits, . _ - only, got {value!r}"


def _stores(value: list[str]) -> str | None:
    return next((why for why in map(store_id_problem, value) if why), None)


def _addresses(value: list[str]) -> str | None:
    return next((why for why in map(address_problem, value) if why), None)


def _url(value: str) -> str | None:
    return None if "{sku}" in value else f"must contain {{sku}}, got {value!r}"


def _file(value: Path) -> str | None:
    return None if value.is_file() else f"{value} not found"


@dataclass
class SimilarConfig:
    k: int = param(5, "products found for an item (signage similar --k)", lo=1)


@dataclass
class BrandConfig:
    store_name: str = param("Our store", "the store's name on the screen", site=True)
    logo: Path | None = param(None, "the store's logo (PNG)", site=True, rule=_file)
    primary_color: str = param("#1f2a44", "backgrounds, bars", site=True, rule=_colour)
    accent_color: str = param("#e4572e", "buttons, prices", site=True, rule=_colour)
    text_color: str = param("#ffffff", "text on the primary colour", site=True, rule=_colour)


@dataclass
class KioskConfig:
    source: str = param("0", "camera index, /dev/videoN, rtsp://..., a video file or an image folder", site=True)
    loop: bool = param(True, "loop a video file or folder (demo)", site=True)
    fullscreen: bool = param(True, "fill the screen (false: a window, for development)", site=True)
    staff_pin_file: Path | None = param(REPO_ROOT / "var" / "staff-pin", "the staff PIN's salted hash "
                                        "(`signage staff-pin set`)", site=True)
    staff_max_tries: int = param(5, "wrong PINs in a row before the keypad locks ...", lo=1)
    staff_lock_s: float = param(60.0, "... for this many seconds", lo=0)
    orientation: str = param("auto", "auto | landscape | portrait", site=True,
                             choices=("auto", "landscape", "portrait"))
    rotate: int = param(0, "turn the screen's output this many degrees clockwise (a portrait screen mounted "
                        "on its side: 90 or 270); the kiosk session's compositor turns it, the layout follows",
                        site=True, choices=(0, 90, 180, 270))
    language: str = param("", "the screen's language: " + " | ".join(LANGUAGES) + " (empty: the system's locale "
                          "when the screen speaks it, else en)", site=True, choices=("", *LANGUAGES))
    privacy_notice: str = param(PRIVACY_NOTICE, "the notice under the camera view", site=True)
    product_url: str = param("https://shop.example.com/p/{sku}", "the product page a card's QR code opens",
                             site=True, rule=_url)
    stable_frames: int = param(3, "frames an item must be seen before its suggestions show", lo=1)
    attract_after_s: float = param(8.0, "nobody and nothing in view this long: the attract loop", above=0)
    suggestions: int = param(4, "product cards per item", lo=1)
    restart_after_s: float = param(10.0, "a failed inference or capture thread: its reason on screen this long, "
                                   "then exit 75 (systemd restarts)", above=0)


@dataclass
class SyncConfig:
    catalog_id: str = param("demo", "the chain's catalogue (a topic level)", site=True, rule=_id)
    store_id: str = param("store-001", "this store (its own stream, its broker user)", site=True, rule=store_id_problem)
    broker_host: str = param("127.0.0.1", "the store's own broker, bridged to head office", site=True)
    broker_port: int = param(1883, "its port (TLS: 8883)", site=True, lo=1, hi=65535)
    username: str = param("", "broker user (empty: the store id; at head office \"hq\")", site=True)
    password_file: Path | None = param(None, "one line: the broker password (kept out of this file)", site=True)
    tls_ca: Path | None = param(None, "CA certificate: turns TLS on", site=True)
    tls_cert: Path | None = param(None, "this client's certificate (`signage certs client ID`)", site=True)
    tls_key: Path | None = param(None, "... and its private key", site=True)
    public_key: Path | None = param(None, "head office's Ed25519 public key (stores)", site=True)
    private_key: Path | None = param(None, "head office's Ed25519 private key (head office only)", site=True)
    hq_dir: Path | None = param(None, "head office's catalogue, publish log and counts", site=True)
    stores: list[str] = param(doc="head office: the stores `--all` means", factory=list, site=True, rule=_stores)
    standby_brokers: list[str] = param(doc="head office: its standby brokers, HOST:PORT each, beside broker_host "
                                       "(the primary): every delta goes to each, statuses and counts come from "
                                       "each (docs/fleet.md)", factory=list, site=True, rule=_addresses)
    heartbeat_s: float = param(30.0, "a store's status is re-sent this often", above=0)
    screen: str = param("", "a store with several screens: this one's name; its status goes to "
                        ".../{store}/screen/{screen}/status (empty: the store's one screen)", site=True)


@dataclass
class AnalyticsConfig:
    enabled: bool = param(True, "aggregate counts only (docs/sync.md \"What the screens count\")", site=True)
    interval_s: float = param(3600.0, "one message per window of this many seconds", lo=1)
    min_count: int = param(5, "a count under this goes into \"other\": no shopper singled out (1 would send "
                           "single shoppers' choices)", lo=2)
    session_min_s: float = param(2.0, "someone in front this long is a session", lo=0)


@dataclass
class Config:
    device: str = param("CPU", "OpenVINO device: CPU | GPU | NPU | AUTO", site=True, choices=DEVICES)
    precision: str = param("default", "default (bf16 where the CPU has it) | f32 | int8 (detector and embedder's "
                           "INT8 copies)", site=True, choices=PRECISIONS)
    models_dir: Path = param(REPO_ROOT / "models", "holds manifest.json and ir/ (`signage models build`)", site=True)
    catalog_dir: Path = param(REPO_ROOT / "var" / "catalog", "this store's catalogue: catalog.sqlite + index.faiss",
                              site=True)
    colour_words: str = param("palette", "the colours an imported product may have: palette (the names the kiosk "
                              "shows and translates; any other word is that row's error) | own (a back office's "
                              "own colour words, kept as written, shown untranslated)", site=True,
                              choices=("palette", "own"))
    model_cache: Path | None = param(REPO_ROOT / "var" / "model-cache", "compiled models kept between starts "
                                     "(null: compile at every start)", site=True)
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
    config_file: Path | None = field(default=None, init=False)   # where this config was read from (not a key)
    given: frozenset = field(default=frozenset(), init=False)    # the dotted keys the file set

    def check(self) -> "Config":
        self.device = self.device.upper()
        check_section(self)
        return self

    def settings(self, defaults: bool = False) -> list[dict]:
        """Every setting in force (or its default): key, value, default, doc, where it came from."""
        out = []
        for key, value, default, spec in walk(self):
            shown = default if defaults else value
            out.append({"key": key, "value": _plain(shown), "default": _plain(default),
                        "from": "default" if defaults or key not in self.given else str(self.config_file),
                        "site": bool(spec and spec.site), "doc": spec.doc if spec else ""})
        return out


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


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
    known = {f.name for f in fields(cls) if f.init}
    if cls is KioskConfig and "staff_pin" in data:
        raise ConfigError("config key 'kiosk.staff_pin': the PIN is no longer kept in the config, where anyone "
                          "reading it could leave the kiosk; remove the key and run `signage staff-pin set`")
    for key in data:
        if key not in known:
            raise ConfigError(f"config key '{prefix}{key}': unknown key (known: {', '.join(sorted(known))})")
    kwargs = {name: _coerce(prefix + name, hints[name], value, base) for name, value in data.items()}
    return cls(**kwargs)


def _keys(data: Any, prefix: str = ""):
    """The dotted keys a YAML mapping sets (a section's keys, not the section's own name)."""
    for key, value in (data.items() if isinstance(data, dict) else ()):
        if isinstance(value, dict):
            yield from _keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate the config: `path`, else $SIGNAGE_CONFIG, else deploy/signage.yaml."""
    path = Path(path or os.environ.get("SIGNAGE_CONFIG") or DEFAULT_CONFIG)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {e.start})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}".replace("\n", " ")) from e
    if data is None:      # an empty file (or only comments): most likely a copy that went wrong
        raise ConfigError(f"config file {path} is empty: it would run on the built-in defaults, with the "
                          f"catalogue and model cache inside the code folder; start from deploy/signage.yaml "
                          f"(an empty mapping, {{}}, says the defaults are meant)")
    cfg = _build(Config, data, path.resolve().parent)
    cfg.config_file = path
    cfg.given = frozenset(_keys(data))
    src = cfg.kiosk.source
    if not (src.isdigit() or "://" in src or src.startswith("/dev/")):   # a file or folder: from here
        cfg.kiosk.source = str((path.resolve().parent / os.path.expanduser(src)).resolve())
    return cfg.check()
