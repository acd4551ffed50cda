import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # pytest-qt aborts with no display otherwise

# A small, licensed copy of the full data (bench/subset.py says what and why): the tests
# run from a clone alone; full-data measurements live in bench/ and take a path.
from bench.harness.testdata import (CC0, MESSI, OPENCV_DATA, OUTFITS, ROOT, cc0_cycle,  # noqa: E402,F401
                                    cc0_path, cc0_rows)


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
def f32_vision(cfg):
    """Vision with the models in f32 whatever the CPU: for tests that assert the live loop's geometry
    to a few pixels. f32 is what a store PC (AVX2) runs; on a CPU with AVX-512 BF16 or AMX the
    default is bf16, which moves the pose's foot landmarks by several pixels (measured on such a
    Xeon: the followed boots' IoU with the moved pair 0.58 instead of > 0.8)."""
    import copy
    from edge.vision.stages import Vision
    c = copy.deepcopy(cfg)
    c.precision = "f32"
    return Vision(c)


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
