"""The back office's batch tagging on a retailer's shop photos: tags in its own taxonomy, learned
from its already-tagged products, against what it tagged.

    python -m bench.backoffice [--data ../shared/data/myntra-shop-dev] [--json] [--write]
    python -m bench.backoffice --audit [--write]     # a person's first colour, by the same rule
    python -m bench.backoffice --curve [--write]     # the photo's tags as the catalogue grows
    python -m bench.backoffice --speed [--write]     # a photo's time, now and before the tagger model

Data: myntra-shop-dev (3,000 shop photos with articleType, baseColour, gender, season, usage;
research data: measured here, never in the repo). Thumbnails are upscaled 4x bicubic first, as a
store's own large photos would come. Split by id (sha256 of the id) into a tune half and a report
half before anything was looked at: the tune half is the retailer's tagged catalogue (imported
as `signage catalog import` would: articleType as category, baseColour as colour, usage as a
tag), the report half the new arrivals, tagged with `signage tag NEW --out` (edge/styling/
backoffice.py), once from the photo alone and once with the product's name. Choices (the whole
photo's vector over the item crop, the ridge strength) were made by cross-validation on the tune
half. "Before" is today's `signage tag` (find similar's top category, the palette's colour).

The first-colour measure is the issue's: a palette name counts when it is one of those its label
accepts (ACCEPT); the batch's palette name is its `palette_color` column (the retailer's colour word
it learned, mapped to the palette as edge/styling/backoffice.py learns that map from the catalogue's
own pixels, never from ACCEPT). The learned colour in the retailer's own words is judged beside it
by the exact label.

`--audit` judges, by the same rule, a person who named the colour of 128 tune-half photos (a random
draw, seeds 7 and 8) from the photo alone, blind to the label and to the batch's answer, the
product type shown (AUDIT: ids and the names given, no photo): how far a photo alone can go on
these labels.

`--curve` tags the report half from the photo alone with a quarter, a half and all of the tune half
as the catalogue (nested quarters, by a second byte of the id's sha256): how the tags grow with the
number of tagged products a retailer has. Beside it, once per photo, the most the photo's own colours
could give by the palette rule: the share of report photos where any palette name covering at least
OWN_COLOUR_SHARE of the item's pixels is one its label accepts (a perfect choice among them).
"""
from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from edge.config import load_config
from edge.runtime import Runtime
from edge.styling.backoffice import LIST_CELLS, REVIEW_BELOW, read_new, read_rows, tag_batch
from edge.styling.namewords import words_of

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "myntra-shop-dev"
FOOTWEAR = {"Casual Shoes", "Sports Shoes", "Formal Shoes", "Heels", "Sandals", "Flats", "Flip Flops"}
ACCEPT = {"Black": "black charcoal", "White": "white,light grey", "Off White": "white,beige,light grey",
          "Cream": "white,beige", "Blue": "blue,light blue,navy,teal", "Navy Blue": "navy,blue",
          "Grey": "grey,light grey,charcoal", "Charcoal": "charcoal,grey,black", "Red": "red,burgundy",
          "Maroon": "burgundy,red,brown", "Green": "green,olive,teal", "Olive": "olive,khaki,green", "Pink": "pink",
          "Purple": "purple", "Brown": "brown,camel", "Beige": "beige,camel,khaki", "Yellow": "yellow",
          "Orange": "orange", "Khaki": "khaki,beige,olive,camel"}
ACCEPT = {k: set(v.replace("black charcoal", "black,charcoal").split(",")) for k, v in ACCEPT.items()}
AUDIT = Path(__file__).resolve().parent / "data" / "myntra-colour-audit.csv"


OWN_COLOUR_SHARE = 0.10
CURVE = (0.25, 0.5, 1.0)           # the tune half's share taken as the catalogue by --curve


def half(photo_id: str) -> str:
    return "tune" if hashlib.sha256(photo_id.encode()).digest()[0] % 2 == 0 else "report"


def quarter(photo_id: str) -> int:
    """0-3, independent of the half: --curve's catalogue at share f holds the quarters < 4 f."""
    return hashlib.sha256(photo_id.encode()).digest()[1] % 4


SPEED_PHOTOS, SPEED_BLOCK = 300, 25   # --speed: report photos timed, and the block each takes in turn


def prepare(data: Path, tmp: Path) -> tuple[list[dict], Path, Path, Path]:
    """Upscaled photos on disk; the tune half as a catalogue CSV; the report half as new arrivals,
    without and with names. (`catalogue_csv` writes a part of the tune half as one too.)"""
    rows = list(csv.DictReader(open(data / "metadata.csv", encoding="utf-8")))
    (tmp / "photos").mkdir()
    for r in rows:
        img = cv2.imread(str(data / r["image"]))
        img = cv2.resize(img, (img.shape[1] * 4, img.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
        r["photo"] = str(tmp / "photos" / f"{r['id']}.jpg")
        cv2.imwrite(r["photo"], img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        r["half"] = half(r["id"])
    catalogue, bare, named = tmp / "catalogue.csv", tmp / "new.csv", tmp / "new-named.csv"
    catalogue_csv(rows, catalogue)
    for path, with_name in ((bare, False), (named, True)):
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["sku", "image", "name"])
            for r in rows:
                if r["half"] == "report":
                    w.writerow([r["id"], r["photo"], r["productDisplayName"] if with_name else ""])
    return rows, catalogue, bare, named


def catalogue_csv(rows: list[dict], path: Path, share: float = 1.0) -> int:
    """The tune half (its quarters under 4 * share) as a catalogue CSV; the products written."""
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["sku", "name", "category", "colors", "gender", "season", "tags", "price", "currency", "stock", "image"])
        for r in rows:
            if r["half"] == "tune" and quarter(r["id"]) < round(4 * share):
                w.writerow([r["id"], r["productDisplayName"], r["articleType"], r["baseColour"], r["gender"],
                            r["season"], r["usage"], "10", "INR", "1", r["photo"]])
                n += 1
    return n


def scores(rows: list[dict], got: dict[str, dict], colour_key: str, palette_key: str) -> dict:
    """got: sku -> {category, gender, color, palette_color, review, confidence...}; colour_key: the
    colour in the retailer's words, palette_key: the palette name judged by the issue's rule."""
    report = [r for r in rows if r["half"] == "report" and r["id"] in got]
    share = lambda xs: round(float(np.mean(xs)), 3) if xs else None      # noqa: E731
    cat = [got[r["id"]].get("category") == r["articleType"] for r in report]
    foot = [got[r["id"]].get("category") == r["articleType"] for r in report if r["articleType"] in FOOTWEAR]
    gender = [got[r["id"]].get("gender") == r["gender"] for r in report]
    first = [got[r["id"]].get(palette_key, "") for r in report]
    palette = [f in ACCEPT[r["baseColour"]] for f, r in zip(first, report) if r["baseColour"] in ACCEPT]
    exact = [got[r["id"]].get(colour_key, "") == r["baseColour"] for r in report]
    # a description word is right when the product's own (held-out) name has it
    said = [w in words_of(r["productDisplayName"]) for r in report for w in (got[r["id"]].get("words") or "").split(LIST_CELLS["words"]) if w]
    return {"photos": len(report), "category": share(cat), "footwear": share(foot), "footwear_photos": len(foot),
            "gender": share(gender) if any(got[r["id"]].get("gender") for r in report) else None,
            "first_colour_palette_rule": share(palette), "colour_exact": share(exact),
            "words_right": share(said), "words_said": len(said),
            "with_words": share([bool(got[r["id"]].get("words")) for r in report])}


def calibration(rows: list[dict], got: dict[str, dict]) -> dict:
    """Per column on the report half: how right the unflagged and the flagged tags are."""
    truth = {"category": "articleType", "gender": "gender", "season": "season", "colors": "baseColour"}
    out = {}
    for col, label in truth.items():
        sure, unsure = [], []
        for r in rows:
            g = got.get(r["id"])
            if r["half"] != "report" or g is None or not g.get(col):
                continue
            (unsure if col in g["review"].split() else sure).append(g[col] == r[label])
        out[col] = {"flagged_share": round(len(unsure) / max(1, len(sure) + len(unsure)), 3),
                    "right_when_not_flagged": round(float(np.mean(sure)), 3) if sure else None,
                    "right_when_flagged": round(float(np.mean(unsure)), 3) if unsure else None}
    return out


def before(rt: Runtime, rows: list[dict]) -> dict[str, dict]:
    tagger = rt.tagger()
    out = {}
    for r in rows:
        if r["half"] == "report":
            t = tagger(cv2.imread(r["photo"]))
            out[r["id"]] = {"category": t.category, "colors": t.colors[0] if t.colors else ""}
    return out


def measure(data: Path = DATA) -> dict:
    cfg = copy.deepcopy(load_config())
    res: dict = {"review_below": REVIEW_BELOW, "isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "native")}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows, catalogue, bare, named = prepare(data, tmp)
        cfg.catalog_dir = tmp / "catalog"
        cfg.colour_words = "own"       # the retailer's colour words ("Navy Blue") are what it learns
        rt = Runtime(cfg)
        t = time.perf_counter()
        rt.import_catalog(catalogue, progress=False)      # as `signage catalog import` does, words kept
        res["catalogue"] = {"products": sum(r["half"] == "tune" for r in rows),
                            "import_s": round(time.perf_counter() - t, 1)}
        t = time.perf_counter()
        tagger = rt.catalogue_tagger()
        res["catalogue"]["learn_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        tagger = rt.catalogue_tagger()      # a second batch: the photos' features kept from the first
        res["catalogue"]["learn_again_s"] = round(time.perf_counter() - t, 1)
        for name, new in (("photo", bare), ("photo_and_name", named)):
            out = tmp / f"{name}.csv"
            counts = tag_batch(tagger, read_new(new), out)
            got = {r["sku"]: r for r in read_rows(out)}
            res[name] = {**scores(rows, got, "colors", "palette_color"), "calibration": calibration(rows, got),
                         "photos_per_s": round(counts["tagged"] / counts["seconds"], 1)}
        res["before"] = scores(rows, before(rt, rows), "colors", "colors")
    for name in ("photo", "photo_and_name"):
        res[name]["minutes_for_10000"] = round(10000 / res[name]["photos_per_s"] / 60, 1)
    return res


def curve(data: Path = DATA) -> dict:
    """The report half tagged from the photo alone, the catalogue a growing part of the tune half;
    and the most the photos' own colours could give (OWN_COLOUR_SHARE)."""
    from edge.vision.colors import PALETTE
    res: dict = {"isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "native"), "own_colour_share": OWN_COLOUR_SHARE, "steps": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows, _, bare, _ = prepare(data, tmp)
        for share in CURVE:
            cfg = copy.deepcopy(load_config())
            cfg.catalog_dir, cfg.colour_words = tmp / f"catalog-{share}", "own"
            products = catalogue_csv(rows, tmp / f"catalogue-{share}.csv", share)
            rt = Runtime(cfg)
            rt.import_catalog(tmp / f"catalogue-{share}.csv", progress=False)
            out = tmp / f"photo-{share}.csv"
            tag_batch(rt.catalogue_tagger(), read_new(bare), out)
            got = {r["sku"]: r for r in read_rows(out)}
            res["steps"].append({"share": share, "products": products, **scores(rows, got, "colors", "palette_color")})
        own = []
        for r in rows:
            if r["half"] == "report" and r["baseColour"] in ACCEPT:
                sh = rt.vision.colour_shares(cv2.imread(r["photo"]))
                sh = sh / max(float(sh.sum()), 1e-9)
                own.append(any(s >= OWN_COLOUR_SHARE and n in ACCEPT[r["baseColour"]] for n, s in zip(PALETTE, sh)))
        res["own_colours_best"] = round(float(np.mean(own)), 3)
        res["own_colours_photos"] = len(own)
    return res


def speed(data: Path = DATA) -> dict:
    """What a batch spends on each new photo (reading it, its vector, its colour shares; the ridge's
    dot products after that are microseconds), now and before the tagger model (the kiosk's
    embedder on the photo and its mirror image only), side by side: blocks of SPEED_BLOCK report
    photos in turns, the order swapped each block, so a shared machine's load falls on both."""
    from edge.styling.backoffice import WholePhoto
    from edge.vision.imageio import read_image
    res: dict = {"isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "native")}
    with tempfile.TemporaryDirectory() as tmp:
        rows, _, _, _ = prepare(data, Path(tmp))
        paths = [r["photo"] for r in rows if r["half"] == "report"][:SPEED_PHOTOS]
        vision = Runtime(copy.deepcopy(load_config())).vision
        photo = WholePhoto(vision)

        def now(path: str) -> None:
            bgr = read_image(path)
            photo(bgr)
            vision.colour_shares(bgr)

        def before(path: str) -> None:      # the photo's vector as it was before the tagger model
            bgr = read_image(path)
            photo.embedder_look(bgr)
            vision.colour_shares(bgr)

        spent = {"now": 0.0, "before": 0.0}
        now(paths[0])                       # compiled and warm
        before(paths[0])
        for k in range(0, len(paths), SPEED_BLOCK):
            for name in (("now", "before") if k // SPEED_BLOCK % 2 == 0 else ("before", "now")):
                run = now if name == "now" else before
                t = time.perf_counter()
                for path in paths[k:k + SPEED_BLOCK]:
                    run(path)
                spent[name] += time.perf_counter() - t
    res["photos"] = len(paths)
    for name, s in spent.items():
        res[f"ms_{name}"] = round(1000 * s / len(paths), 1)
        res[f"minutes_for_10000_{name}"] = round(10000 * s / len(paths) / 60, 1)
    res["ratio_now_vs_before"] = round(spent["now"] / spent["before"], 2)
    return res


def audit(data: Path = DATA, named: Path = AUDIT) -> dict:
    """The share of a person's colour names (`named`: id, palette name) its label accepts."""
    labels = {r["id"]: r["baseColour"] for r in csv.DictReader(open(data / "metadata.csv", encoding="utf-8"))}
    rows = list(csv.DictReader(open(named, encoding="utf-8")))
    if any(half(r["id"]) != "tune" for r in rows):
        raise SystemExit(f"{named}: the audit must hold tune-half photos only")
    right = [r["named"] in ACCEPT[labels[r["id"]]] for r in rows]
    return {"photos": len(rows), "first_colour_palette_rule": round(float(np.mean(right)), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--audit", action="store_true", help="judge the person's colour names in " + str(AUDIT.relative_to(ROOT)))
    ap.add_argument("--curve", action="store_true", help="the photo's tags with a quarter, a half and all of the tune half as the catalogue")
    ap.add_argument("--speed", action="store_true", help="the time a batch spends on each photo, now and before the "
                                                         "tagger model, side by side")
    ap.add_argument("--write", action="store_true", help="keep the run in docs/benchmarks/results.json "
                                                         "(backoffice, backoffice_audit, backoffice_curve or backoffice_speed)")
    args = ap.parse_args()
    run, key = ((audit, "backoffice_audit") if args.audit else (curve, "backoffice_curve") if args.curve
                else (speed, "backoffice_speed") if args.speed else (measure, "backoffice"))
    res = run(Path(args.data))
    if args.write:
        from bench.docs import update_results
        from bench.measure import machine
        stamp = {"date": time.strftime("%Y-%m-%d")} if args.audit else {"machine": machine(), "date": time.strftime("%Y-%m-%d")}
        update_results(key, {**res, **stamp})
    print(json.dumps(res, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
