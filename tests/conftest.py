import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # pytest-qt aborts with no display otherwise

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
CC0 = SHARED / "clothing-cc0"
# Debian's opencv-doc (installed by deploy/install.sh and .ci/run): real photos with people and shoes.
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
MESSI = OPENCV_DATA / "messi5.jpg"


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


def cc0_path(row) -> Path:
    return CC0 / "images" / f"{row['image']}.jpg"
