"""Bad input at the front door (issue 36): every bad file, row or setting is one line on stderr
and exit 2, one bad row never stops an import, and the pixel limit holds in every command that
reads an image, whatever the order its modules were imported in."""
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from conftest import ROOT, cc0_path, cc0_rows


def signage(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "signage.cli", *args], capture_output=True, text=True, cwd=cwd)


def png_bomb(path: Path, side: int = 20_000) -> Path:
    """A grey PNG of side x side black pixels: 390 kB on disk, 1.2 GB as the BGR image OpenCV
    would decode it into."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    z = zlib.compressobj(9)
    row = bytes(side + 1)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    png_bomb(d / "bomb.png")
    good = cc0_path(cc0_rows("T-Shirt", 1)[0])
    (d / "good.jpg").write_bytes(good.read_bytes())
    return d


def one_line(res) -> str:
    said = [line for line in res.stderr.strip().splitlines() if line.strip()]
    assert res.returncode == 2 and len(said) == 1 and said[0].startswith("signage: "), (res.returncode, res.stderr[-1500:])
    return said[0]


@pytest.mark.parametrize("command", [["similar"], ["tag"], ["detect"], ["look"]], ids=lambda c: c[0])
def test_the_pixel_limit_holds_before_decoding_in_every_command(bad, demo_catalog, command):
    """Read from the header: refused before any decoding (the message says so), in every command,
    whichever imported OpenCV first (`look` and `catalog import` did, and decoded 5 GB first)."""
    res = signage(*command, str(bad / "bomb.png"), *(["--catalog", str(demo_catalog)] if command != ["detect"] else []))
    assert res.returncode == 2, res.stderr[-1500:]
    assert "20000x20000 is larger than 40,000,000 pixels (not decoded)" in res.stderr, res.stderr[-1500:]


def test_an_import_with_a_bomb_a_long_name_and_extra_cells_imports_the_good_rows(bad, tmp_path):
    csv = tmp_path / "catalog.csv"
    (tmp_path / "good.jpg").write_bytes((bad / "good.jpg").read_bytes())
    (tmp_path / "bomb.png").write_bytes((bad / "bomb.png").read_bytes())
    long = "x" * 300 + ".jpg"
    csv.write_text("sku,name,category,price,image\n"
                   "G1,good shirt,T-Shirt,10,good.jpg\n"
                   "B1,bomb,T-Shirt,10,bomb.png\n"
                   f"L1,long name,T-Shirt,10,{long}\n"
                   "X1,extra cells,T-Shirt,10,good.jpg," + ",".join(["spill"] * 200) + "\n")
    res = signage("catalog", "import", str(csv), "--catalog", str(tmp_path / "store"), "--json")
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["imported"] == 1 and out["rows"] == 4, out
    why = {e["sku"]: e["reason"] for e in out["rejected"]}
    assert "(not decoded)" in why["B1"] and "File name too long" in why["L1"], why
    assert "more fields than the header" in why["X1"], why


def test_an_unreadable_image_is_its_rows_error_and_says_it_cannot_be_read(tmp_path, fast_vision, monkeypatch):
    """A photo the import may not read (mode 000 for another user): that row is rejected with
    "cannot be read", the rest imported (before: the whole import stopped, saying "cannot write")."""
    from edge.catalog.importer import import_catalog
    from edge.catalog.store import Catalog
    good = cc0_path(cc0_rows("Pants", 1)[0])
    for name in ("a.jpg", "locked.jpg"):
        (tmp_path / name).write_bytes(good.read_bytes())
    (tmp_path / "catalog.csv").write_text("sku,name,category,price,image\nA,pants,Pants,10,a.jpg\n"
                                          "B,locked pants,Pants,10,locked.jpg\n")
    read = Path.read_bytes

    def refuse(self):
        if self.name == "locked.jpg":
            raise PermissionError(13, "Permission denied", str(self))
        return read(self)
    monkeypatch.setattr(Path, "read_bytes", refuse)
    cat = Catalog(tmp_path / "store", create=True)
    rep = import_catalog(tmp_path / "catalog.csv", cat, fast_vision, progress=False)
    assert rep.imported == 1 and [e.sku for e in rep.errors] == ["B"]
    assert "cannot be read: Permission denied" in rep.errors[0].reason
    cat.close()


@pytest.mark.parametrize("case", ["corrupt catalogue", "catalogue is a file", "empty config", "tag, catalogue missing"])
def test_a_bad_file_or_setting_is_one_line_and_exit_2(bad, tmp_path, case):
    image = str(bad / "good.jpg")
    if case == "corrupt catalogue":
        (tmp_path / "c").mkdir()
        (tmp_path / "c" / "catalog.sqlite").write_bytes(b"this is no database at all" * 200)
        (tmp_path / "x.csv").write_text("sku,name,image\nA,a,good.jpg\n")
        for cmd in (["catalog", "stats"], ["similar", image], ["catalog", "import", str(tmp_path / "x.csv")]):
            line = one_line(signage(*cmd, "--catalog", str(tmp_path / "c")))
            assert "the catalogue file is damaged" in line and "signage catalog import" in line, line
    elif case == "catalogue is a file":
        (tmp_path / "f").write_text("x")
        (tmp_path / "x.csv").write_text("sku,name,image\nA,a,good.jpg\n")
        for cmd in (["catalog", "stats"], ["catalog", "import", str(tmp_path / "x.csv")]):
            assert "is a file, not a catalogue folder" in one_line(signage(*cmd, "--catalog", str(tmp_path / "f")))
    elif case == "empty config":
        (tmp_path / "empty.yaml").write_text("# nothing here\n")
        line = one_line(signage("--config", str(tmp_path / "empty.yaml"), "catalog", "stats"))
        assert "is empty" in line and "deploy/signage.yaml" in line
    else:
        line = one_line(signage("tag", image, "--catalog", str(tmp_path / "missing")))
        assert "no catalogue in" in line


def test_image_paths_outside_the_csv_folder_are_refused_unless_allowed(bad, tmp_path):
    """An image is a path under the CSV's folder: an absolute path or ../ to a real photo elsewhere
    on the machine is refused, each row with its reason; --images-root allows one folder."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "photo.jpg").write_bytes((bad / "good.jpg").read_bytes())
    shop = tmp_path / "shop"
    shop.mkdir()
    (shop / "mine.jpg").write_bytes((bad / "good.jpg").read_bytes())
    (shop / "catalog.csv").write_text("sku,name,category,price,image\n"
                                      "A,mine,T-Shirt,10,mine.jpg\n"
                                      f"B,absolute,T-Shirt,10,{outside / 'photo.jpg'}\n"
                                      "C,up and out,T-Shirt,10,../elsewhere/photo.jpg\n")
    res = signage("catalog", "import", str(shop), "--catalog", str(tmp_path / "s1"), "--json")
    out = json.loads(res.stdout)
    assert res.returncode == 0 and out["imported"] == 1, res.stderr[-1500:]
    assert {e["sku"] for e in out["rejected"]} == {"B", "C"}
    assert all("outside the CSV's folder" in e["reason"] for e in out["rejected"])
    res = signage("catalog", "import", str(shop), "--catalog", str(tmp_path / "s2"), "--images-root", str(outside), "--json")
    assert json.loads(res.stdout)["imported"] == 3, res.stderr[-1500:]


def test_a_photo_name_the_file_system_refuses_is_one_line_in_similar(demo_catalog, tmp_path):
    line = one_line(signage("similar", str(tmp_path / ("x" * 300 + ".jpg")), "--catalog", str(demo_catalog)))
    assert "cannot be read: File name too long" in line, line


def test_a_first_import_that_fails_on_its_csv_leaves_no_empty_catalogue(bad, tmp_path):
    (tmp_path / "wrong.csv").write_text("code,title\nA,a shirt\n")
    line = one_line(signage("catalog", "import", str(tmp_path / "wrong.csv"), "--catalog", str(tmp_path / "new")))
    assert "header lacks column(s)" in line and not (tmp_path / "new").exists()
    # a catalogue that was there stays, whatever the CSV
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "good.jpg").write_bytes((bad / "good.jpg").read_bytes())
    (tmp_path / "shop" / "catalog.csv").write_text("sku,name,category,image\nA,shirt,T-Shirt,good.jpg\n")
    assert signage("catalog", "import", str(tmp_path / "shop"), "--catalog", str(tmp_path / "old")).returncode == 0
    one_line(signage("catalog", "import", str(tmp_path / "wrong.csv"), "--catalog", str(tmp_path / "old")))
    assert "1 products" in signage("catalog", "stats", "--catalog", str(tmp_path / "old")).stdout


def test_colours_are_the_palettes_names_unless_the_catalogue_keeps_its_own(bad, tmp_path):
    """The kiosk shows, translates and matches palette names: any other colour word is that row's
    error (the palette named); `colour_words: own` keeps a back office's own words as written."""
    (tmp_path / "good.jpg").write_bytes((bad / "good.jpg").read_bytes())
    (tmp_path / "catalog.csv").write_text("sku,name,category,colors,price,image\n"
                                          "A,shirt,T-Shirt,Navy;Light  Grey,10,good.jpg\n"
                                          "B,shirt,T-Shirt,Mustard,10,good.jpg\n")
    res = signage("catalog", "import", str(tmp_path), "--catalog", str(tmp_path / "s1"), "--json")
    out = json.loads(res.stdout)
    assert res.returncode == 0 and out["imported"] == 1, res.stderr[-1500:]
    (why,) = [e["reason"] for e in out["rejected"] if e["sku"] == "B"]
    assert "colour 'Mustard' is not one of the palette's names" in why and "light blue" in why, why
    from edge.catalog.store import Catalog
    assert Catalog(tmp_path / "s1").get("A").colors == ("navy", "light grey")
    (tmp_path / "own.yaml").write_text("colour_words: own\n")
    res = signage("--config", str(tmp_path / "own.yaml"), "catalog", "import", str(tmp_path),
                  "--catalog", str(tmp_path / "s2"), "--json")
    assert json.loads(res.stdout)["imported"] == 2, res.stderr[-1500:]
    assert Catalog(tmp_path / "s2").get("B").colors == ("Mustard",)
    (tmp_path / "bad.yaml").write_text("colour_words: mine\n")
    assert "colour_words" in one_line(signage("--config", str(tmp_path / "bad.yaml"), "catalog", "stats"))


def test_a_killed_imports_copied_images_are_deleted_by_the_next_import(tmp_path):
    """kill -9 mid-import: the photos it had copied in have no product row. The next import deletes
    them (and says how many); an image sync keeps for a delta not applied yet is not its to delete."""
    import os
    import signal
    import time
    from edge.catalog.store import Catalog
    rows = cc0_rows("T-Shirt", 30)
    shop = tmp_path / "shop"
    shop.mkdir()
    with open(shop / "catalog.csv", "w") as f:
        f.write("sku,name,category,price,image\n")
        for i, r in enumerate(rows):
            (shop / f"{i}.jpg").write_bytes(cc0_path(r).read_bytes())
            f.write(f"S{i},shirt {i},T-Shirt,10,{i}.jpg\n")
    store = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-m", "signage.cli", "catalog", "import", str(shop), "--catalog",
                             str(store), "--quiet"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    images = store / "images"

    def copied() -> set[str]:          # whole copies (a killed write leaves a .NAME.tmp-PID beside them)
        return {p.stem for p in images.glob("??/*") if len(p.stem) == 64}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(copied()) < 3 and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)      # before its first batch of 32 rows is committed
    proc.wait()
    cat = Catalog(store)
    copied = copied()
    assert len(copied) >= 3 and cat.stats()["products"] == 0, (len(copied), cat.stats())
    kept_by_sync = cat.store_image(b"a delta's photo, its row not applied yet", "ab" * 32, ".jpg")
    cat.close()
    (tmp_path / "next").mkdir()
    (tmp_path / "next" / "p.jpg").write_bytes(cc0_path(cc0_rows("Pants", 1)[0]).read_bytes())
    (tmp_path / "next" / "catalog.csv").write_text("sku,name,category,price,image\nP,pants,Pants,10,p.jpg\n")
    res = signage("catalog", "import", str(tmp_path / "next"), "--catalog", str(store), "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["cleaned_images"] == len(copied), res.stdout + res.stderr[-1500:]
    cat = Catalog(store)
    left = {p.stem for p in images.glob("??/*")}
    assert left == {cat.get("P").image_sha256, "ab" * 32}, left
    assert (store / kept_by_sync).is_file() and not (store / "import-journal").exists()
