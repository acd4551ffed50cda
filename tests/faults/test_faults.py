"""Fault suite: break the system on purpose. Bounded for CI; SIGNAGE_FAULTS_LONG=1 runs longer.

Kill -9 during delta apply and broker kills are in tests/sync/test_sync.py (the chaos test); corrupt
and stale index files in tests/catalog/test_catalog.py; bad image files in tests/vision/test_imageio.py.
"""
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from conftest import MESSI, ROOT, cc0_cycle, cc0_path, cc0_rows  # noqa: E402

from edge.catalog.store import Catalog, peek  # noqa: E402
from edge.catalog.index import VectorIndex  # noqa: E402

pytestmark = pytest.mark.faults
LONG = os.environ.get("SIGNAGE_FAULTS_LONG") == "1"


def signage(*args, **kw):
    return subprocess.run([sys.executable, "-m", "signage.cli", *args], capture_output=True, text=True, cwd=ROOT, **kw)


def write_csv(folder: Path, n: int) -> Path:
    rows = cc0_cycle(n)
    lines = ["sku,name,category,price,currency,stock,image"]
    lines += [f"K{i:03d},{r['label']} {i},{r['label']},5,EUR,1,{cc0_path(r)}" for i, r in enumerate(rows)]
    path = folder / "catalog.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def consistent(folder: Path, model_version: str) -> int:
    """The catalogue opens, every product has its vector, and its index loads and matches."""
    cat = Catalog(folder)
    products = cat.products()
    ids, _ = cat.vectors(model_version)
    assert sorted(ids.tolist()) == sorted(p.id for p in products)
    idx = cat.index(model_version)
    assert sorted(idx.ids().tolist()) == sorted(p.id for p in products)
    cat.close()
    return len(products)


def committed(folder: Path) -> int:
    """Products committed so far, read as another process would (read-only, beside the writer)."""
    return peek(folder, "SELECT count(*) FROM products")


def test_kill_9_during_catalogue_import(tmp_path, cfg):
    """Every kill lands mid-import, after a commit another reader saw: that commit must survive
    and the catalogue stay consistent. (A kill before the first commit proves nothing.)"""
    from edge.vision.stages import model_version
    mv = model_version(cfg)
    n = 60 if not LONG else 200         # the importer commits every 32 products
    csv_path = write_csv(tmp_path, n)
    rng = random.Random(11)
    for attempt in range(2 if not LONG else 25):
        store = tmp_path / f"store{attempt}"
        proc = subprocess.Popen([sys.executable, "-m", "signage.cli", "catalog", "import", "--images-root", str(ROOT), str(csv_path),
                                 "--catalog", str(store), "--quiet"], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seen, end = 0, time.monotonic() + 120
        while seen == 0 and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.02)
            seen = committed(store)
        time.sleep(rng.uniform(0.0, 0.3))  # the next 28 products take seconds: still importing
        assert proc.poll() is None, f"attempt {attempt}: the import ended before the kill (saw {seen})"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert 0 < seen < n, f"attempt {attempt}: no commit seen before the kill ({seen} of {n})"
        assert consistent(store, mv) >= seen        # what a reader saw committed is never lost
    res = signage("catalog", "import", "--images-root", str(ROOT), str(csv_path), "--catalog", str(store), "--json")
    assert res.returncode == 0, res.stderr
    assert consistent(store, mv) == n                # and the import resumes to the end


def test_truncated_index_file_is_rebuilt(tmp_path, cfg, vision):
    from edge.catalog.importer import import_catalog
    store = tmp_path / "store"
    cat = Catalog(store, create=True)
    import_catalog(write_csv(tmp_path, 12), cat, vision, progress=False, images_root=ROOT)
    cat.index(vision.model_version)
    data = (store / "index.faiss").read_bytes()
    (store / "index.faiss").write_bytes(data[: len(data) // 2])
    cat.close()
    res = signage("similar", str(cc0_path(cc0_rows()[3])), "--catalog", str(store), "--json")
    assert res.returncode == 0, res.stderr
    VectorIndex.load(store / "index.faiss")       # rebuilt and written again, whole


def test_corrupt_model_gives_the_fix_and_keeps_the_catalogue(tmp_path, cfg):
    models = tmp_path / "models"
    shutil.copytree(cfg.models_dir / "ir", models / "ir")
    shutil.copy(cfg.models_dir / "manifest.json", models)
    shutil.copy(cfg.models_dir / "compat.json", models)
    b = models / "ir" / "detector.bin"
    b.write_bytes(b.read_bytes()[:1000])
    conf = tmp_path / "c.yaml"
    conf.write_text(f"models_dir: {models}\ncatalog_dir: {tmp_path / 'store'}\n")
    res = signage("--config", str(conf), "detect", str(MESSI))
    assert res.returncode == 2 and "signage models build" in res.stderr and "corrupt" in res.stderr
    from edge.config import load_config
    from ui.app import KioskState
    from edge.errors import SignageError
    from edge.runtime import Runtime
    with pytest.raises(SignageError, match="signage models build"):
        Runtime(load_config(conf)).pipeline("0", **KioskState().callbacks())


def test_full_disk_during_import_is_a_clear_error_and_loses_nothing(tmp_path, cfg):
    from edge.vision.stages import model_version
    store = tmp_path / "store"
    first = tmp_path / "first"
    first.mkdir()
    assert signage("catalog", "import", "--images-root", str(ROOT), str(write_csv(first, 10)), "--catalog", str(store),
                   "--quiet").returncode == 0
    csv_path = write_csv(tmp_path, 40)
    before = consistent(store, model_version(cfg))

    def small_disk():
        # files may not grow past 200 kB: the catalogue database outgrows it (EFBIG), like a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    res = subprocess.run([sys.executable, "-m", "signage.cli", "catalog", "import", "--images-root", str(ROOT), str(csv_path),
                          "--catalog", str(store), "--quiet"], cwd=ROOT, capture_output=True, text=True,
                         preexec_fn=small_disk)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "signage:" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    after = consistent(store, model_version(cfg))
    assert after >= before                        # what was there is still there, and loads


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root to drop to another user (read-only for root is not read-only)")
def test_read_only_data_folder_kiosk_keeps_serving(tmp_path, cfg, vision):
    from edge.catalog.importer import import_catalog
    base = Path("/tmp") / f"signage-ro-{os.getpid()}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(mode=0o755)
    try:
        store = base / "store"
        cat = Catalog(store, create=True)
        import_catalog(write_csv(tmp_path, 12), cat, vision, progress=False, images_root=ROOT)
        cat.close()
        for p in [store, *store.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)     # readable by everyone, writable by root only
        os.chmod(base, 0o755)
        photo = base / "q.jpg"
        shutil.copy(cc0_path(cc0_rows()[5]), photo)
        os.chmod(photo, 0o644)
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
                     "signage.cli"]
        env = dict(os.environ, HOME=str(base))
        res = subprocess.run(as_nobody + ["similar", str(photo), "--catalog", str(store), "--json"],
                             cwd=ROOT, capture_output=True, text=True, env=env)
        assert res.returncode == 0, res.stderr[-2000:]
        assert '"results"' in res.stdout
        res = subprocess.run(as_nobody + ["catalog", "import", "--images-root", str(ROOT), str(tmp_path / "catalog.csv"), "--catalog",
                                          str(store), "--quiet"], cwd=ROOT, capture_output=True, text=True, env=env)
        # one clear line; beside it at most a note that the models could not be kept either
        said = [line for line in res.stderr.strip().splitlines() if not line.startswith("model_cache ")]
        assert res.returncode == 2 and len(said) == 1 and said[0].startswith("signage: "), res.stderr[-2000:]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_long_run_memory_stays_flat(cfg, fast_vision):
    """The recognizer on the demo video, unpaced: resident memory after warm-up grows < 5%."""
    vision = fast_vision   # the kiosk never loads the catalogue's ISNet cut
    from edge.live.capture import open_source
    from edge.catalog.store import Catalog
    from edge.styling.compat import CompatModel
    from edge.catalog.importer import import_catalog
    from edge.styling.looks import CompleteTheLook
    from edge.live.recognizer import Recognizer
    from edge.styling.similar import FindSimilar
    import tempfile

    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    with tempfile.TemporaryDirectory() as tmp:
        cat = Catalog(Path(tmp) / "c", create=True)
        import_catalog(ROOT / "demo" / "catalog", cat, vision, progress=False, images_root=ROOT)
        rec = Recognizer(FindSimilar(vision, cat), CompleteTheLook(cat, CompatModel.load(cfg.models_dir / "compat.json")))
        src = open_source(str(ROOT / "demo" / "demo.avi"), loop=True)
        frames = 600 if not LONG else 6000
        warm = 150
        for i in range(frames):
            f = src.read()
            rec(f)
            if i == warm:
                base = rss()
        end = rss()
        src.close()
    growth = (end - base) / base
    assert growth < 0.05, f"RSS {base} kB -> {end} kB ({growth:.1%})"
