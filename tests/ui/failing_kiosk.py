"""`signage kiosk` on the demo video with an error injected into the embedder's model call after
a few frames (tests/ui/test_kiosk.py): the kiosk must show why and exit non-zero for systemd to restart it."""
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))   # the checkout

from edge.config import load_config  # noqa: E402
from edge.vision.embed import Embedder  # noqa: E402
from ui.run import run_kiosk  # noqa: E402

calls = {"n": 0}
real = Embedder.features


def failing(self, crop, mask):
    calls["n"] += 1
    if calls["n"] > 5:
        raise RuntimeError("injected: the embedder's model call failed")
    return real(self, crop, mask)


def main():
    catalog_dir, restart_after = sys.argv[1], float(sys.argv[2])
    Embedder.features = failing
    cfg = load_config()
    cfg.catalog_dir = Path(catalog_dir)
    cfg.kiosk.restart_after_s = restart_after
    root = Path(__file__).resolve().parent.parent.parent
    sys.exit(run_kiosk(cfg, str(root / "demo" / "demo.avi"), windowed=True))


if __name__ == "__main__":
    main()
