"""Building the sync pieces from the config (the CLI and the systemd units use these)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from edge.config import Config
from edge.errors import ConfigError, SignageError
from edge.ids import HQ_USER, MAIN_SCREEN, SHARED_STREAM, parse_address


def hq_user(cfg: Config) -> str:
    """Head office's broker user: sync.username, else "hq"."""
    return cfg.sync.username or HQ_USER


def store_user(cfg: Config) -> str:
    """A store's broker user: sync.username, else the store id."""
    return cfg.sync.username or cfg.sync.store_id


def screen_name(cfg: Config) -> str:
    """The screen a window of counts comes from: sync.screen, else the store's one screen."""
    return cfg.sync.screen or MAIN_SCREEN


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
                     cfg.sync.broker_host, cfg.sync.broker_port, store_user(cfg),
                     broker_password(cfg), rt.model_version, vision_factory=lambda: rt.vision,
                     heartbeat=cfg.sync.heartbeat_s, tls=broker_tls(cfg), screen=cfg.sync.screen or None)


def head_office(cfg: Config, connect: bool = True):
    from .envelope import load_private
    from .hq import HeadOffice, HqBrokers, Publisher
    if cfg.sync.private_key is None or not cfg.sync.private_key.is_file():
        raise ConfigError("config key 'sync.private_key': head office's private key file is needed "
                          "(`signage keys generate`)")
    if cfg.sync.hq_dir is None:
        raise ConfigError("config key 'sync.hq_dir': head office's data folder is needed")
    pub = HqBrokers([Publisher(host, port, hq_user(cfg), broker_password(cfg), broker_tls(cfg))
                     for host, port in hq_brokers(cfg)]) if connect else None
    return HeadOffice(cfg.sync.hq_dir, cfg.sync.catalog_id, load_private(cfg.sync.private_key), pub)


def hq_brokers(cfg: Config) -> list[tuple[str, int]]:
    """Head office's brokers: the primary (sync.broker_host:broker_port), then the standbys."""
    return [(cfg.sync.broker_host, cfg.sync.broker_port)] + [parse_address(a) for a in cfg.sync.standby_brokers]


def fleet(cfg: Config, wait: float = 1.5, brokers: dict | None = None) -> dict:
    """Every store's status as head office's brokers hold it (sync.hq.fleet_statuses); `brokers`,
    when given, gets each head-office broker's state: up or why it is not."""
    from .hq import fleet_statuses
    merged, states = fleet_statuses(hq_brokers(cfg), hq_user(cfg), broker_password(cfg), cfg.sync.catalog_id,
                                    wait, broker_tls(cfg))
    if brokers is not None:
        brokers.update(states)
    return merged


def stores_to_publish(cfg: Config, hq, status: dict, named: list[str] | None, every: bool) -> list[str]:
    """The stores a publish goes to: those named, or with --all every store configured, known to
    head office's log or seen on the broker (a screen's 'store/screen' counts as its store)."""
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
        out[SHARED_STREAM] = min(shared)
    return out


def fleet_report(cfg: Config, wait: float = 1.5, brokers: dict | None = None) -> list[dict]:
    """One row per store (and per screen, as 'store/screen'): online, seq, what head office has
    published to it and the lag between the two, catalogue version, last seen, rejections."""
    status = fleet(cfg, wait, brokers)
    hq_seq, shared = {}, None
    if cfg.sync.hq_dir is not None and cfg.sync.private_key is not None:
        hq = head_office(cfg, connect=False)
        hq_seq = {s: hq.last_seq(s) for s in hq.known_stores()}
        shared = hq.last_seq(SHARED_STREAM) or None
    rows = []
    for key in sorted(set(status) | set(hq_seq)):
        st = status.get(key, {})
        store = key.split("/")[0]           # 'store' or 'store/screen'
        rows.append({"store": key, "online": st.get("online"), "seq": st.get("seq"),
                     "published_seq": hq_seq.get(store), "lag": (hq_seq.get(store, 0) - (st.get("seq") or 0))
                     if store in hq_seq else None, "shared_seq": st.get("shared_seq"),
                     "shared_lag": shared - st["shared_seq"] if shared and isinstance(st.get("shared_seq"), int) else None,
                     "catalog_version": st.get("catalog_version"), "hq_broker": st.get("hq_broker"),
                     "last_seen": st.get("last_seen"), "rejected": st.get("rejected"),
                     "last_rejection": (st.get("last_rejection") or {}).get("reason")})
    return rows


def analytics_db(cfg: Config) -> Path:
    """Where head office keeps the screens' windows of counts: sync.hq_dir/analytics.sqlite."""
    if cfg.sync.hq_dir is None:
        raise ConfigError("config key 'sync.hq_dir': head office's data folder is needed (the screens' counts go there)")
    cfg.sync.hq_dir.mkdir(parents=True, exist_ok=True)
    return cfg.sync.hq_dir / "analytics.sqlite"


def collector(cfg: Config):
    """Head office's daemon that stores every screen's window of counts as it arrives."""
    from .stats import Collector
    return Collector(analytics_db(cfg), cfg.sync.catalog_id, cfg.sync.broker_host, cfg.sync.broker_port,
                     hq_user(cfg), broker_password(cfg), broker_tls(cfg), standbys=hq_brokers(cfg)[1:])


def broker_keeper(cfg: Config):
    """Head office's daemon that keeps every head-office broker holding the publish log."""
    from .hq import BrokerKeeper
    return BrokerKeeper(head_office(cfg))


def stats_publisher(cfg: Config, engagement):
    """The screen's hourly counts to head office, when the screen has a broker to send them to
    (sync set up: its store id and password); without one they are counted and let go."""
    if cfg.sync.password_file is None:
        return None
    from .stats import StatsPublisher
    return StatsPublisher(engagement, cfg.sync.catalog_id, cfg.sync.store_id, screen_name(cfg),
                          cfg.sync.broker_host, cfg.sync.broker_port, store_user(cfg),
                          broker_password(cfg), cfg.analytics.interval_s, cfg.analytics.min_count, broker_tls(cfg))


def publish(cfg: Config, stores: list[str] | None, every: bool, *, catalogue: Path | None = None,
            looks: Path | None = None, store_values: Path | None = None, with_vectors: bool = True,
            shared: bool = False, progress: bool = True, rejected: Callable[[str], None] = print,
            images_root: Path | None = None):
    """Head office's publish: import what changed (products, and with them curated looks; each store's
    own values; every rejected row said through `rejected`), then send each store its deltas."""
    hq = head_office(cfg)
    try:
        if catalogue:
            from edge.runtime import Runtime
            rep = Runtime(cfg).import_catalog(catalogue, hq.catalog, progress=progress, images_root=images_root)
            for e in rep.errors:
                rejected(f"rejected {e}")
            if looks:
                from edge.catalog.looks_csv import read_looks_csv
                found, bad = read_looks_csv(looks, lambda sku: hq.catalog.get(sku) is not None)
                for r in bad:
                    rejected(f"rejected look on line {r.line}: {r.reason}")
                hq.catalog.replace_looks(found)
        if store_values:
            from edge.catalog.importer import read_store_values
            values, bad = read_store_values(store_values, lambda sku: hq.catalog.get(sku) is not None)
            for e in bad:
                rejected(f"rejected store value on {e}")
            hq.set_store_values(values)
        status = fleet(cfg)
        return hq.publish(stores_to_publish(cfg, hq, status, stores, every), with_vectors=with_vectors,
                          progress=progress, acked_seq=acknowledged_seqs(status), shared=shared)
    finally:
        hq.close()


def compact(cfg: Config, stores: list[str] | None, every: bool):
    """Head office: a snapshot per store, then the broker's retained history is cut to it."""
    hq = head_office(cfg)
    try:
        return hq.compact(stores_to_publish(cfg, hq, fleet(cfg), stores, every))
    finally:
        hq.close()


def status_lines(rows: list[dict], brokers: dict[str, str] | None = None) -> list[str]:
    """`signage fleet status`: each head-office broker's state, then a row per store (or screen)."""
    def dash(v):
        return "-" if v is None else str(v)
    lines = [f"head-office broker {a}: {state}" for a, state in (brokers or {}).items()]
    lines += [f"{'store':16s} {'online':6s} {'seq':>6s} {'lag':>4s} {'shared':>6s} {'lag':>4s} {'version':>7s} "
             f"{'last seen':20s} {'head-office broker':22s} rejected"]
    for r in rows:
        lines.append(f"{r['store']:16s} {str(r['online']):6s} {str(r['seq']):>6s} {str(r['lag']):>4s} "
                     f"{str(r['shared_seq'] or '-'):>6s} {dash(r['shared_lag']):>4s} "
                     f"{str(r['catalog_version']):>7s} {str(r['last_seen']):20s} {dash(r.get('hq_broker')):22s} "
                     f"{r['rejected'] or 0}"
                     + (f"  ({r['last_rejection']})" if r["last_rejection"] else ""))
    return lines
