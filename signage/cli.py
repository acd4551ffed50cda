"""The `signage` command: parses, calls the core, prints. Bad input: one line on stderr, exit code 2."""
from __future__ import annotations

import errno
import json
import sqlite3
import sys
from pathlib import Path

from edge.errors import SignageError

from .parser import parse_args

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


def _emit(args, data: dict, text: str) -> int:
    """Print the result (--json: one line of JSON) and give the exit code: 0."""
    if args.json:
        json.dump(data, sys.stdout, indent=None, separators=(",", ":"))
        sys.stdout.write("\n")
    else:
        print(text)
    return 0


def _k(args, rt) -> int:
    if args.k is not None and args.k < 1:
        raise SignageError(f"--k must be at least 1, got {args.k}")
    return args.k or rt.cfg.similar.k


def _image(path: str):
    from edge.vision.imageio import read_image
    return read_image(path)


def _say(message: str) -> None:
    print(f"signage: {message}", file=sys.stderr)


def cmd_detect(args) -> int:
    found = _runtime(args).vision.find_items(_image(args.image))
    data = {"people": [p.to_json() for p in found.people], "items": [i.to_json() for i in found.items]}
    lines = [f"{len(found.people)} people, {len(found.items)} items"]
    lines += [f"  {i.kind:9s} box={list(i.box)} score={i.score:.2f}"
              + (f" person={i.person}" if i.person is not None else "") for i in found.items]
    return _emit(args, data, "\n".join(lines))


def cmd_similar(args) -> int:
    rt = _runtime(args)
    k, bgr = _k(args, rt), _image(args.image)
    rt.open_catalog()
    results = rt.similar(bgr, k=k, all_items=args.all)
    lines = []
    for m in results:
        lines.append(f"{m.item.kind} {list(m.item.box)}: looks like {m.category or '?'}, {', '.join(m.colors)}")
        lines += [f"  {r.score:.3f}  {r.sku:14s} {r.name} ({r.category})" for r in m.results]
    return _emit(args, {"items": [m.to_json() for m in results]}, "\n".join(lines) or "no item found")


def cmd_catalog_import(args) -> int:
    report = _runtime(args).import_catalog(Path(args.path), progress=not args.json and not args.quiet,
                                           images_root=args.images_root)
    text = (f"{report.imported} imported, {report.unchanged} unchanged, {len(report.errors)} rejected "
            f"of {report.rows} rows; catalogue version {report.catalog_version}"
            + (f"; {report.cleaned} images a stopped import had left, deleted" if report.cleaned else ""))
    return _emit(args, report.to_json(), text + "".join(f"\n  rejected {e}" for e in report.errors))


def cmd_catalog_stats(args) -> int:
    stats = _runtime(args).catalog.stats()
    text = (f"catalogue {stats['catalog_dir']}: version {stats['catalog_version']}, {stats['products']} products "
            f"({stats['in_stock']} in stock)\n  categories: "
            + ", ".join(f"{k} {v}" for k, v in stats["categories"].items()))
    return _emit(args, stats, text)


def cmd_catalog_reembed(args) -> int:
    from edge.catalog.importer import reembed
    rt = _runtime(args)
    report = reembed(rt.catalog, rt.vision, log=None if args.json else lambda m: print(m, file=sys.stderr))
    text = f"re-embedded {report.reembedded} products for {report.model_version}"
    return _emit(args, report.to_json(), text + "".join(f"\n  skipped sku {e.sku}: {e.reason}" for e in report.errors))


def cmd_watch(args) -> int:
    """Headless: find similar on a live source, a line whenever the top match changes; with
    --pipeline, the kiosk's own path, a line whenever what the screen shows changes."""
    from edge.live.watch import watch_every_frame, watch_realtime, watch_top_match
    if args.realtime and not args.pipeline:
        raise SignageError("--realtime paces the kiosk's pipeline: give --pipeline too")
    rt = _runtime(args)
    rt.open_catalog(reader=args.pipeline)

    def shown(change) -> None:
        what = "; ".join(f"{c.kind} {c.category}: {c.name} ({c.sku})" for c in change.cards) or "nothing"
        print(json.dumps(change.to_json()) if args.json else f"{change.shown_at:7.2f} s  frame {change.frame}: {what}",
              flush=True)

    def top(change) -> None:
        m = change.match
        print(json.dumps(change.to_json()) if args.json else f"frame {change.frame}: " + (
            f"{m.name} ({m.sku}) {m.price} {m.currency}, aisle {m.aisle}" if m else "nothing"), flush=True)
    watch = (watch_realtime if args.realtime else watch_every_frame) if args.pipeline else watch_top_match
    watch(rt, args.source, shown if args.pipeline else top, loop=args.loop, frames=args.frames)
    return 0


def cmd_look(args) -> int:
    if (args.image is None) == (args.sku is None):
        raise SignageError("give either an IMAGE or --sku SKU")
    rt = _runtime(args)
    anchor = rt.anchor(_image(args.image) if args.image else None, args.sku, args.image)
    suggestions = rt.looks(anchor)
    text = [f"anchor: {anchor.category or anchor.slot} ({', '.join(anchor.colors)})"]
    text += [f"  {x.slot:9s} {x.product.sku:14s} {x.product.name}  {x.score:+.2f}  {x.why}" for x in suggestions]
    return _emit(args, {"anchor": anchor.to_json(), "suggestions": [x.to_json() for x in suggestions]}, "\n".join(text))


def cmd_shop(args) -> int:
    from edge.styling.shop import shop_the_look
    rt = _runtime(args)
    bgr, k = _image(args.image), _k(args, rt)
    rt.open_catalog()
    people = [p.to_json() for p in shop_the_look(rt.similar, bgr, k)]
    lines = [f"{len(people)} people"]
    for p in people:
        lines.append(f"person {p['id']} {p['box']}")
        for it in p["items"]:
            top = it["results"][0] if it["results"] else None
            lines.append(f"  {it['kind']:8s} {it['category'] or '?':10s} " + (
                f"-> {top['name']} ({top['sku']}) {top['price']} {top['currency']}" if top else "-> nothing similar"))
    return _emit(args, {"people": people}, "\n".join(lines))


def cmd_tag(args) -> int:
    if args.out:
        from edge.styling.backoffice import run_batch
        rt, opt = _runtime(args), lambda v: Path(v) if v else None      # noqa: E731
        return _emit(args, *run_batch(rt.catalogue_tagger, Path(args.images[0]), Path(args.out), opt(args.json_out),
                                      opt(args.review), progress=not args.json))
    from edge.styling.tagging import tag_files
    out, bad = tag_files(_runtime(args).tagger(catalogue_named=bool(args.catalog)), args.images, _say)
    _emit(args, {"images": out, "skipped": bad},
          "\n".join(f"{o['image']}: {o['description']} [{o['category']}; {', '.join(o['colors'])}]" for o in out))
    return EXIT_BAD_INPUT if bad else 0


def cmd_compat_score(args) -> int:
    from edge.styling.outfits import score_outfits
    rt = _runtime(args)
    scores = score_outfits(Path(args.file), rt.compat, lambda image: rt.vision.colors_of(_image(image)))
    return _emit(args, {"scores": scores}, "\n".join(f"{s['id']}: {s['score']:+.4f}" for s in scores))


def cmd_compat_train(args) -> int:
    from edge.styling.outfits import train_compat
    from edge.styling.text import text_embedder
    from edge.vision.models import ModelStore
    cfg = _config(args)
    store = ModelStore.of(cfg)
    out = train_compat(Path(args.outfits), store, text_embedder(store), seed=args.seed)
    return _emit(args, out, f"learned from {out['outfits']} outfits ({out['held_out']} held out): {out['attributes']} "
                            f"attributes -> {out['path']}; pair model over sentence vectors -> {out['pairs_path']}")


def cmd_looks_import(args) -> int:
    from edge.catalog.looks_csv import read_looks_csv
    catalog = _runtime(args).catalog
    looks, rejected = read_looks_csv(Path(args.path), lambda sku: catalog.get(sku) is not None)
    catalog.upsert_looks(looks)
    return _emit(args, {"imported": len(looks), "rejected": [r.to_json() for r in rejected]},
                 f"{len(looks)} looks imported" + "".join(f"\n  rejected line {r.line}: {r.reason}" for r in rejected))


def cmd_merch(args) -> int:
    from edge.catalog.merch import parse_target, set_rule
    version = set_rule(_runtime(args).catalog, args.action, args.target, args.weight, args.rule)
    kind, target = parse_target(args.target)
    return _emit(args, {"catalog_version": version}, f"{args.action} {kind} {target}: catalogue version {version}")


def cmd_kiosk(args) -> int:
    from ui.run import run_kiosk
    return run_kiosk(_config(args), args.source, windowed=args.windowed, quit_after=args.quit_after)


def cmd_config_show(args) -> int:
    rows = _config(args).settings(defaults=args.defaults)
    return _emit(args, {"settings": rows}, "\n".join(f"{r['key']} = {r['value']!r}  ({r['from']})  # {r['doc']}"
                                                     for r in rows))


def cmd_keys_generate(args) -> int:
    from sync.envelope import new_signing_keys
    keys = new_signing_keys(Path(args.out), args.force)
    return _emit(args, keys, f"head office signing key: {keys['private_key']} (keep secret)\n"
                             f"public key for every store: {keys['public_key']}")


def _ask_pin() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().strip()       # e.g. from a provisioning tool, never on the command line
    import getpass
    pin = getpass.getpass("new staff PIN (4-8 digits): ")
    if getpass.getpass("again: ") != pin:
        raise SignageError("the two PINs differ: nothing changed")
    return pin


def cmd_staff_pin(args) -> int:
    """Set the PIN staff enter to leave the kiosk; only its salted hash is written."""
    from edge.staff import set_pin
    out = set_pin(_config(args).kiosk.staff_pin_file, None if args.generate else _ask_pin, args.if_missing)
    text = f"staff PIN set ({out['pin_file']})" if out["set"] else f"a staff PIN is already set ({out['pin_file']}): kept"
    if "pin" in out:     # shown this once: only the hash is kept
        text = f"staff PIN: {out['pin']}   (write it down: it is shown only now; change it with `signage staff-pin set`)"
    return _emit(args, out, text)


def cmd_certs(args) -> int:
    """TLS for the brokers: a CA once, a certificate per broker and per client (store or head office)."""
    from sync.certs import make
    made = make(args.certs_command, Path(args.dir), out=getattr(args, "out", None), hosts=getattr(args, "host", None),
                client=getattr(args, "client", None), force=getattr(args, "force", False))
    return _emit(args, made, "\n".join(f"{k}: {v}" for k, v in made.items()))


def _daemon(service) -> int:
    """Run a service (run, request_stop, close) until SIGTERM (systemd) or Ctrl-C, then close it cleanly."""
    import logging
    import signal
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *a: service.request_stop())
    try:
        service.run()
    except KeyboardInterrupt:
        pass
    finally:
        service.close()
    return 0


def cmd_sync_run(args) -> int:
    """The store's sync daemon: applies head office's deltas to this store's catalogue."""
    from sync.service import store_sync
    return _daemon(store_sync(_config(args)).start())


def cmd_fleet_daemon(args) -> int:
    """Head office's daemons: `fleet collect` (the screens' counts), `fleet keep` (each broker holds the log)."""
    from sync import service
    return _daemon((service.collector if args.fleet_command == "collect" else service.broker_keeper)(_config(args)))


def cmd_publish(args) -> int:
    from sync.service import publish
    report = publish(_config(args), args.store, args.all, catalogue=args.path, looks=args.looks,
                     store_values=args.store_values, with_vectors=not args.no_vectors, shared=args.shared_stream,
                     progress=not args.json, rejected=_say, images_root=args.images_root)
    text = "\n".join(f"{s}: {r['ops']} changes in {r['deltas']} deltas, now at seq {r['seq']}"
                     for s, r in report.stores.items())
    return _emit(args, report.to_json(), text + f"\n{report.images} images, {report.bytes:,} bytes, "
                                                f"{report.resent} re-sent, {report.seconds:.1f} s")


def cmd_compact(args) -> int:
    from sync.service import compact
    report = compact(_config(args), args.store, args.all)
    text = "\n".join(f"{s}: snapshot of {r['ops']} items in {r['deltas']} deltas (seq {r['seq']}), "
                     f"{r['cleared']} older deltas cleared from the broker" for s, r in report.stores.items())
    return _emit(args, report.to_json(), text + f"\n{report.bytes:,} bytes, {report.seconds:.1f} s")


def cmd_fleet_report(args) -> int:
    from sync.service import analytics_db
    from sync.stats import engagement_report, plot_sessions_per_hour, report_lines, write_csv
    rep = engagement_report(analytics_db(_config(args)), args.since, args.store)
    if args.csv:
        write_csv(rep, Path(args.csv))
    if args.plot:
        plot_sessions_per_hour(rep, Path(args.plot))
    return _emit(args, rep, "\n".join(report_lines(rep)))


def cmd_fleet_status(args) -> int:
    from sync.service import fleet_report, status_lines
    rows = fleet_report(_config(args), args.wait, brokers := {})
    return _emit(args, {"brokers": brokers, "stores": rows}, "\n".join(status_lines(rows, brokers)))


def cmd_bench(args) -> int:
    from edge.config import REPO_ROOT
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SignageError("the benchmarks need matplotlib: pip install -e '.[bench]'") from None
    if not (REPO_ROOT / "bench").is_dir():
        raise SignageError("the benchmarks run from a checkout of the repository (bench/ is not installed)")
    sys.path.insert(0, str(REPO_ROOT))    # bench/ lives in the checkout, not in the installed package
    from bench.report import run
    res = run(quick=args.quick, full=args.full, out_dir=Path(args.out))
    print(f"wrote {Path(args.out) / 'benchmarks.md'} ({res['machine']})")
    return 0


def cmd_models_build(args) -> int:
    from models.build import DEFAULT_CACHE, build
    manifest = build(Path(args.cache) if args.cache else DEFAULT_CACHE, log=_say, only=args.only or None)
    return _emit(args, manifest, "models built: " + ", ".join(manifest["models"]))


def cmd_models_train(args) -> int:
    from models.build import DEFAULT_CACHE
    from models.train import train
    record = train(Path(args.data), cache=Path(args.cache) if args.cache else DEFAULT_CACHE, epochs=args.epochs,
                   log=_say)
    return _emit(args, record, f"trained {record['file']} (sha256 {record['sha256']}): put it in models/sources.yaml "
                               "under embedder.finetune, then run `signage models build --only embedder`")


def cmd_models_quantize(args) -> int:
    from models.quantize import quantize
    done = quantize(Path(args.data), photos=args.photos, log=_say, only=tuple(args.only))
    return _emit(args, done, "INT8 copies: " + ", ".join(f"{n} -> {d['ir']['xml']}" for n, d in done.items())
                 + " (`precision: int8` in the config selects the detector's and embedder's; `cutout.int8` ISNet's)")


def cmd_models_verify(args) -> int:
    from edge.runtime import Runtime
    infos, compiled = Runtime(cfg := _config(args)).verify_models(compile=args.compile)
    out = {"models": {i.name: i.version for i in infos}, "int8": [i.name for i in infos if i.files]}
    text = "\n".join(f"ok  {i.version}{' (INT8 copy)' if i.files else ''}  "
                     f"{i.entry['source']['package']}=={i.entry['source']['version']}" for i in infos)
    if compiled:
        out["compiled"] = compiled
        text += (f"\ncompiled {', '.join(compiled['models'])} in {compiled['seconds']} s"
                 + (f" -> {cfg.model_cache}" if cfg.model_cache else " (model_cache is off: nothing kept)"))
    return _emit(args, out, text)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.modules[__name__], argv)
    try:
        return args.func(args)
    except SignageError as e:
        _say(str(e))
        return EXIT_BAD_INPUT
    except OSError as e:
        # full disk, read-only or unwritable data folder: what was committed before stays intact
        if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT):
            _say(f"cannot write {e.filename or 'the catalogue'}: {e.strerror}; nothing after the last completed "
                 f"batch was changed")
            return EXIT_BAD_INPUT
        raise
    except sqlite3.OperationalError as e:
        _say(f"catalogue write failed ({e}): full disk or read-only folder; nothing after the "
             f"last completed batch was changed")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
