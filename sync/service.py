"""Building the sync pieces from the config (the CLI and the systemd units use these)."""
from __future__ import annotations

from edge.config import Config
from edge.errors import ConfigError


def _password(cfg: Config) -> str:
    f = cfg.sync.password_file
    if f is None:
        return ""
    if not f.is_file():
        raise ConfigError(f"config key 'sync.password_file': {f} not found")
    return f.read_text().strip()


def _tls(cfg: Config) -> dict | None:
    if cfg.sync.tls_ca is None:
        return None
    if not cfg.sync.tls_ca.is_file():
        raise ConfigError(f"config key 'sync.tls_ca': {cfg.sync.tls_ca} not found")
    return {"ca_certs": str(cfg.sync.tls_ca)}


def store_sync(cfg: Config, catalog):
    from edge.vision import Vision, model_version

    from .envelope import load_public
    from .store import StoreSync
    if cfg.sync.public_key is None or not cfg.sync.public_key.is_file():
        raise ConfigError("config key 'sync.public_key': head office's public key file is needed "
                          "(`signage keys generate` at head office makes it)")
    return StoreSync(catalog, cfg.sync.catalog_id, cfg.sync.store_id, load_public(cfg.sync.public_key),
                     cfg.sync.broker_host, cfg.sync.broker_port, cfg.sync.username or cfg.sync.store_id,
                     _password(cfg), model_version(cfg), vision_factory=lambda: Vision(cfg),
                     heartbeat=cfg.sync.heartbeat_s, tls=_tls(cfg))


def head_office(cfg: Config, connect: bool = True):
    from .envelope import load_private
    from .hq import HeadOffice, Publisher
    if cfg.sync.private_key is None or not cfg.sync.private_key.is_file():
        raise ConfigError("config key 'sync.private_key': head office's private key file is needed "
                          "(`signage keys generate`)")
    if cfg.sync.hq_dir is None:
        raise ConfigError("config key 'sync.hq_dir': head office's data folder is needed")
    pub = Publisher(cfg.sync.broker_host, cfg.sync.broker_port, cfg.sync.username or "hq", _password(cfg),
                    _tls(cfg)) if connect else None
    return HeadOffice(cfg.sync.hq_dir, cfg.sync.catalog_id, load_private(cfg.sync.private_key), pub)


def fleet(cfg: Config, wait: float = 1.5) -> dict:
    from .hq import fleet_status
    return fleet_status(cfg.sync.broker_host, cfg.sync.broker_port, cfg.sync.username or "hq", _password(cfg),
                        cfg.sync.catalog_id, wait, _tls(cfg))
