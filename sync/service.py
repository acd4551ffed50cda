"""Building the sync pieces from the config (the CLI and the systemd units use these)."""
from __future__ import annotations

from edge.config import Config
from edge.errors import ConfigError


def broker_password(cfg: Config) -> str:
    f = cfg.sync.password_file
    if f is None:
        return ""
    if not f.is_file():
        raise ConfigError(f"config key 'sync.password_file': {f} not found")
    return f.read_text().strip()


def broker_tls(cfg: Config) -> dict | None:
    s = cfg.sync
    if s.tls_ca is None:
        for key in ("tls_cert", "tls_key"):
            if getattr(s, key) is not None:
                raise ConfigError(f"config key 'sync.{key}': goes with 'sync.tls_ca' (the CA that signed the broker)")
        return None
    out = {"ca_certs": s.tls_ca}
    if (s.tls_cert is None) != (s.tls_key is None):
        raise ConfigError("config keys 'sync.tls_cert' and 'sync.tls_key': give both or neither")
    if s.tls_cert is not None:
        out |= {"certfile": s.tls_cert, "keyfile": s.tls_key}
    for name, path in out.items():
        if not path.is_file():
            key = {"ca_certs": "tls_ca", "certfile": "tls_cert", "keyfile": "tls_key"}[name]
            raise ConfigError(f"config key 'sync.{key}': {path} not found")
    return {k: str(v) for k, v in out.items()}


def store_sync(cfg: Config, catalog=None):
    from edge.runtime import Runtime

    from .envelope import load_public
    from .store import StoreSync
    if cfg.sync.public_key is None or not cfg.sync.public_key.is_file():
        raise ConfigError("config key 'sync.public_key': head office's public key file is needed "
                          "(`signage keys generate` at head office makes it)")
    rt = Runtime(cfg)
    catalog = catalog if catalog is not None else rt.open_catalog(create=True)
    if catalog.count() and catalog.model_versions().get(rt.model_version, 0) < catalog.count():
        # the models were updated since these products were embedded: embed them again from the
        # images the catalogue keeps, before the first delta (the kiosk reads them as they land)
        from edge.catalog.importer import reembed
        reembed(catalog, rt.vision)
    return StoreSync(catalog, cfg.sync.catalog_id, cfg.sync.store_id, load_public(cfg.sync.public_key),
                     cfg.sync.broker_host, cfg.sync.broker_port, cfg.sync.username or cfg.sync.store_id,
                     broker_password(cfg), rt.model_version, vision_factory=lambda: rt.vision,
                     heartbeat=cfg.sync.heartbeat_s, tls=broker_tls(cfg), screen=cfg.sync.screen or None)


def head_office(cfg: Config, connect: bool = True):
    from .envelope import load_private
    from .hq import HeadOffice, Publisher
    if cfg.sync.private_key is None or not cfg.sync.private_key.is_file():
        raise ConfigError("config key 'sync.private_key': head office's private key file is needed "
                          "(`signage keys generate`)")
    if cfg.sync.hq_dir is None:
        raise ConfigError("config key 'sync.hq_dir': head office's data folder is needed")
    pub = Publisher(cfg.sync.broker_host, cfg.sync.broker_port, cfg.sync.username or "hq", broker_password(cfg),
                    broker_tls(cfg)) if connect else None
    return HeadOffice(cfg.sync.hq_dir, cfg.sync.catalog_id, load_private(cfg.sync.private_key), pub)


def fleet(cfg: Config, wait: float = 1.5) -> dict:
    from .hq import fleet_status
    return fleet_status(cfg.sync.broker_host, cfg.sync.broker_port, cfg.sync.username or "hq", broker_password(cfg),
                        cfg.sync.catalog_id, wait, broker_tls(cfg))


def stores_to_publish(cfg: Config, hq, status: dict, named: list[str] | None, every: bool) -> list[str]:
    """The stores a publish goes to: those named, or with --all every store configured, known to
    head office's log or seen on the broker (a screen's 'store/screen' counts as its store)."""
    from edge.errors import SignageError
    if named:
        return list(named)
    if not every:
        raise SignageError("say which stores: --store ID (repeatable) or --all")
    stores = sorted(set(cfg.sync.stores) | set(hq.known_stores()) | set(status))
    if not stores:
        raise SignageError("--all: no stores known (list them in sync.stores)")
    return stores


def acknowledged_seqs(status: dict) -> dict[str, int]:
    """store -> the sequence number its retained status reports having applied. An offline store's
    last will says seq null (it cannot know its seq when it dies): unknown, not 0, or every publish
    re-sent its whole history with all images, and the store counted them as replays."""
    def known(v):
        return isinstance(v, int) and not isinstance(v, bool)
    out = {s: st["seq"] for s, st in status.items() if known(st.get("seq"))}
    shared = [st["shared_seq"] for st in status.values() if known(st.get("shared_seq"))]
    if shared:           # the shared stream: as far as the store furthest behind on it says
        from .topics import SHARED
        out[SHARED] = min(shared)
    return out


def fleet_report(cfg: Config, wait: float = 1.5) -> list[dict]:
    """One row per store (and per screen, as 'store/screen'): online, seq, what head office has
    published to it and the lag between the two, catalogue version, last seen, rejections."""
    status = fleet(cfg, wait)
    from .topics import SHARED
    hq_seq, shared = {}, None
    if cfg.sync.hq_dir is not None and cfg.sync.private_key is not None:
        hq = head_office(cfg, connect=False)
        hq_seq = {s: hq.last_seq(s) for s in hq.known_stores()}
        shared = hq.last_seq(SHARED) or None
    rows = []
    for key in sorted(set(status) | set(hq_seq)):
        st = status.get(key, {})
        store = key.split("/")[0]           # 'store' or 'store/screen'
        rows.append({"store": key, "online": st.get("online"), "seq": st.get("seq"),
                     "published_seq": hq_seq.get(store), "lag": (hq_seq.get(store, 0) - (st.get("seq") or 0))
                     if store in hq_seq else None, "shared_seq": st.get("shared_seq"),
                     "shared_lag": shared - st["shared_seq"] if shared and isinstance(st.get("shared_seq"), int) else None,
                     "catalog_version": st.get("catalog_version"),
                     "last_seen": st.get("last_seen"), "rejected": st.get("rejected"),
                     "last_rejection": (st.get("last_rejection") or {}).get("reason")})
    return rows
