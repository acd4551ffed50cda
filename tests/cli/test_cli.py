import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import MESSI, ROOT, cc0_path, cc0_rows


def signage(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "signage.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    rows = cc0_rows("Shoes", 6)[1:] + cc0_rows("Pants", 5) + cc0_rows("Hat", 5)
    lines = ["sku,name,category,price,currency,stock,aisle,image"]
    lines += [f"S{i},{r['label']} {i},{r['label']},9.5,EUR,2,D1,{cc0_path(r)}" for i, r in enumerate(rows)]
    (folder / "catalog.csv").write_text("\n".join(lines) + "\n")
    res = signage("catalog", "import", "--images-root", str(ROOT), str(folder), "--catalog", str(folder / "store"), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["imported"] == 15
    return folder


def test_detect_json(tmp_path):
    res = signage("detect", str(MESSI), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    kinds = [i["kind"] for i in out["items"]]
    assert "footwear" in kinds and len(out["people"]) == 1
    for item in out["items"]:
        assert set(item) == {"kind", "box", "score", "person"} and len(item["box"]) == 4


def test_similar_json_finds_a_shoe_for_a_shoe(store):
    query = cc0_path(cc0_rows("Shoes", 1)[0])   # not in the catalogue
    res = signage("similar", str(query), "--k", "3", "--catalog", str(store / "store"), "--json")
    assert res.returncode == 0, res.stderr
    item = json.loads(res.stdout)["items"][0]
    assert set(item) == {"kind", "box", "category", "colors", "results"}
    assert len(item["results"]) == 3 and item["category"] == "Shoes"
    assert set(item["results"][0]) == {"sku", "score", "name", "category"}
    assert item["results"][0]["category"] == "Shoes"


def test_similar_human_text_and_stats(store):
    res = signage("catalog", "stats", "--catalog", str(store / "store"))
    assert res.returncode == 0 and "15 products" in res.stdout
    res = signage("similar", str(cc0_path(cc0_rows("Hat", 6)[5])), "--catalog", str(store / "store"))
    assert res.returncode == 0 and "looks like" in res.stdout


@pytest.mark.parametrize("make, reason", [
    (lambda p: p / "missing.jpg", "no such file"),
    (lambda p: (p / "notes.jpg").write_text("hello") and p / "notes.jpg", "not an image"),
    (lambda p: (p / "zero.jpg").write_bytes(b"") or p / "zero.jpg", "empty file"),
])
def test_bad_image_exit_2_one_line(tmp_path, make, reason):
    path = make(tmp_path)
    for cmd in (["detect", str(path)], ["similar", str(path), "--catalog", str(tmp_path)]):
        res = signage(*cmd)
        assert res.returncode == 2
        assert reason in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_no_catalogue_exit_2(tmp_path):
    res = signage("similar", str(MESSI), "--catalog", str(tmp_path / "none"))
    assert res.returncode == 2 and "no catalogue" in res.stderr and "signage catalog import" in res.stderr
    res = signage("catalog", "stats", "--catalog", str(tmp_path / "none"))
    assert res.returncode == 2


def test_bad_config_exit_2(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("device: FPGA\n")
    res = signage("--config", str(cfg), "detect", str(MESSI))
    assert res.returncode == 2 and "'device'" in res.stderr


def test_bad_k_and_missing_csv_exit_2(store, tmp_path):
    assert signage("similar", str(MESSI), "--k", "0", "--catalog", str(store / "store")).returncode == 2
    res = signage("catalog", "import", "--images-root", str(ROOT), str(tmp_path / "nope.csv"), "--catalog", str(tmp_path / "s"))
    assert res.returncode == 2 and "no such file" in res.stderr


def test_models_verify():
    res = signage("models", "verify")
    # detector, pose, embedder, tagger, cutout, text, and the INT8 copies of the detector, embedder, cutout
    assert res.returncode == 0 and res.stdout.count("ok ") == 9 and "tagger" in res.stdout
    assert res.stdout.count("(INT8 copy)") == 3


def test_watch_pipeline_prints_what_the_screen_shows(demo_catalog):
    """The kiosk's own path with no window: one JSON line each time the cards change."""
    res = signage("watch", str(ROOT / "demo" / "demo.avi"), "--pipeline", "--json", "--frames", "160",
                  "--catalog", str(demo_catalog))
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(lines) >= 2, lines
    assert all(set(x) == {"shown_at", "frame", "cards"} for x in lines)
    assert [x["shown_at"] for x in lines] == sorted(x["shown_at"] for x in lines)
    shown = [x for x in lines if x["cards"]]
    assert shown and all(set(c) == {"kind", "category", "sku", "name", "colors"} for x in shown for c in x["cards"])
    assert len({x["cards"][0]["sku"] for x in shown}) >= 2      # the demo video holds up one garment after another


def test_watch_pipeline_realtime_is_paced_like_a_camera(demo_catalog):
    import time
    t = time.monotonic()
    res = signage("watch", str(ROOT / "demo" / "demo.avi"), "--pipeline", "--realtime", "--json", "--frames", "48",
                  "--catalog", str(demo_catalog))
    took = time.monotonic() - t
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    # the demo video is 12 fps: 48 frames take 4 s as a camera delivers them, not as fast as they
    # decode (~0.1 s); every change is stamped within that time
    assert lines and took >= 4.0 and all(0 <= x["shown_at"] <= took for x in lines), (lines, took)
    assert signage("watch", "x.avi", "--realtime").returncode == 2


def leaf_commands(parser, prefix=()):
    """Every runnable command of the CLI, with the arguments it cannot do without."""
    import argparse
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        need = []
        for a in parser._actions:
            if a.required and not a.option_strings:
                need += [str(a.choices[0]) if a.choices else "x"] * (a.nargs if isinstance(a.nargs, int) else 1)
            elif a.required:
                need += [a.option_strings[0], str(a.choices[0]) if a.choices else "x"]
        yield list(prefix), need
        return
    for name, sp in subs[0].choices.items():
        yield from leaf_commands(sp, prefix + (name,))


def test_config_is_read_before_or_after_every_subcommand():
    """`signage sync run --config F` said "unrecognized arguments" while the README shows
    `signage kiosk ... --config FILE`: every command takes it in either place."""
    from signage import cli
    from signage.parser import build_parser, parse_args as parse
    commands = list(leaf_commands(build_parser(cli)))

    def parse_args(argv):
        return parse(cli, argv)
    assert len(commands) >= 20 and ["sync", "run"] in [c for c, _ in commands]
    for command, need in commands:
        for argv in (["--config", "F.yaml", *command, *need], [*command, *need, "--config", "F.yaml"],
                     [*command, "--config=F.yaml", *need]):
            assert parse_args(argv).config == "F.yaml", argv
    assert parse_args(["detect", "x.jpg"]).config is None


def test_a_bad_config_after_the_subcommand_is_read_and_named(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("device: FPGA\n")
    for argv in (["detect", str(MESSI), "--config", str(cfg)], ["sync", "run", "--config", str(cfg)],
                 ["catalog", "reembed", "--config", str(cfg)]):
        res = signage(*argv)
        assert res.returncode == 2 and "'device'" in res.stderr, (argv, res.stderr)


def test_certs_make_a_ca_a_broker_and_store_certificates(tmp_path):
    from cryptography import x509
    ca = tmp_path / "ca"
    assert signage("certs", "client", "s1", "--dir", str(ca)).returncode == 2          # no CA yet
    assert signage("certs", "ca", "--dir", str(ca)).returncode == 0
    res = signage("certs", "ca", "--dir", str(ca))
    assert res.returncode == 2 and "--force" in res.stderr      # replacing it would orphan every certificate
    assert signage("certs", "broker", "--dir", str(ca), "--host", "127.0.0.1").returncode == 0
    res = signage("certs", "client", "store-042", "--dir", str(ca), "--out", str(tmp_path / "s"), "--json")
    assert res.returncode == 0, res.stderr
    made = json.loads(res.stdout)
    cert = x509.load_pem_x509_certificate(Path(made["cert"]).read_bytes())
    root = x509.load_pem_x509_certificate((ca / "ca.crt").read_bytes())
    cert.verify_directly_issued_by(root)
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "store-042"
    assert oct(Path(made["key"]).stat().st_mode & 0o777) == "0o600"
    assert signage("certs", "client", "../etc", "--dir", str(ca)).returncode == 2


def test_staff_pin_set_keeps_only_a_hash_and_is_asked_for_a_staff_pin_key(tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text(f"kiosk:\n  staff_pin_file: {tmp_path / 'pin'}\n")
    res = signage("staff-pin", "set", "--generate", "--json", "--config", str(conf))
    assert res.returncode == 0, res.stderr
    pin = json.loads(res.stdout)["pin"]
    stored = (tmp_path / "pin").read_text()
    assert pin not in stored and oct((tmp_path / "pin").stat().st_mode & 0o777) == "0o600"
    again = signage("staff-pin", "set", "--generate", "--if-missing", "--json", "--config", str(conf))
    assert json.loads(again.stdout)["set"] is False and (tmp_path / "pin").read_text() == stored
    bad = subprocess.run([sys.executable, "-m", "signage.cli", "staff-pin", "set", "--config", str(conf)],
                         input="12\n", capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and (tmp_path / "pin").read_text() == stored
    from edge.staff import pin_matches
    assert pin_matches(json.loads(stored), pin) and not pin_matches(json.loads(stored), "2468")
    old = tmp_path / "old.yaml"
    old.write_text('kiosk:\n  staff_pin: "2468"\n')
    res = signage("--config", str(old), "detect", str(MESSI))
    assert res.returncode == 2 and "kiosk.staff_pin" in res.stderr and "signage staff-pin set" in res.stderr
