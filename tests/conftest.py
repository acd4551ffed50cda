import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # pytest-qt aborts with no display otherwise

ROOT = Path(__file__).resolve().parent.parent
# A small, licensed copy of the full data (bench/subset.py says what and why): the tests
# run from a clone alone; full-data measurements live in bench/ and take a path.
CC0 = ROOT / "tests" / "data" / "cc0"                         # CC0 1.0 photos, 334 of 2,915
OUTFITS = ROOT / "tests" / "data" / "polyvore" / "outfits.json"   # MIT, the whole file
# Debian's opencv-doc (installed by deploy/install.sh and .ci/run): real photos with people and shoes.
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
MESSI = OPENCV_DATA / "messi5.jpg"


# What deploy/install.sh puts on the machine. A developer's plain `pytest` skips the tests that need
# a missing one; deploy/test.sh (and so CI) sets SIGNAGE_TEST_ALL=1, where a missing tool means the
# install is broken, and a skip would pass a run that tested nothing of sync, fleet or privacy.
INSTALLED_TOOLS = ("mosquitto", "strace", "xvfb-run")


def pytest_sessionstart(session):
    import shutil
    missing = [t for t in INSTALLED_TOOLS if shutil.which(t) is None]
    if missing and os.environ.get("SIGNAGE_TEST_ALL") == "1":
        pytest.exit(f"SIGNAGE_TEST_ALL=1 but {', '.join(missing)} not installed (deploy/install.sh installs "
                    f"them): the tests that need them would be skipped", returncode=3)


@pytest.fixture(scope="session")
def cfg():
    from edge.config import load_config
    return load_config()


@pytest.fixture(scope="session")
def vision(cfg):
    from edge.vision.stages import Vision
    return Vision(cfg)


@pytest.fixture(scope="session")
def fast_vision(cfg):
    """Vision without the catalogue's ISNet cut (~0.3 s a photo): for tests that import catalogues
    for anything but their colour tags (tests/vision/test_cutout.py covers the cut)."""
    import copy
    from edge.vision.cutout import CutoutParams
    from edge.vision.stages import Vision
    c = copy.deepcopy(cfg)
    c.cutout = CutoutParams(catalogue=False)
    return Vision(c)


@pytest.fixture(scope="session")
def demo_catalog(tmp_path_factory, cfg, fast_vision):
    """The bundled demo catalogue (330 products), imported once for the session."""
    from edge.catalog.store import Catalog
    from edge.catalog.importer import import_catalog
    folder = tmp_path_factory.mktemp("kiosk") / "catalog"
    cat = Catalog(folder, cfg.index, create=True)
    rep = import_catalog(ROOT / "demo" / "catalog", cat, fast_vision, progress=False)
    assert rep.imported == 330 and not rep.errors
    cat.close()
    return folder


@pytest.fixture(scope="session")
def messi():
    import cv2
    assert MESSI.is_file(), "install Debian's opencv-doc (deploy/install.sh does)"
    return cv2.imread(str(MESSI))


def cc0_rows(label=None, n=None):
    import csv
    rows = [r for r in csv.DictReader(open(CC0 / "images.csv")) if label is None or r["label"] == label]
    rows.sort(key=lambda r: r["image"])
    return rows[:n] if n else rows


def cc0_cycle(n):
    """n rows for tests that need many products: the subset's photos again and again (a catalogue
    may hold one photo under several skus)."""
    rows = cc0_rows()
    return [rows[i % len(rows)] for i in range(n)]


def cc0_path(row) -> Path:
    return CC0 / "images" / f"{row['image']}.jpg"
