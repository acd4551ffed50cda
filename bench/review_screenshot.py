"""docs/screenshots/10-review-sheet.png: the back office's review sheet for 12 CC0 photos the demo
catalogue does not hold, tagged against it (`signage tag NEW --out ... --review ...`), as Debian's
chromium shows it. Run by deploy/screenshots.sh."""
from __future__ import annotations

import csv
import random
import subprocess
import tempfile
from pathlib import Path

from bench.swaps import demo_photos
from edge.config import load_config
from edge.runtime import Runtime
from edge.styling.backoffice import run_batch

ROOT = Path(__file__).resolve().parent.parent
CC0 = ROOT.parent / "shared" / "data" / "clothing-cc0"
OUT = ROOT / "docs" / "screenshots" / "10-review-sheet.png"


def main() -> None:
    sells = {r["category"] for r in csv.DictReader(open(ROOT / "demo" / "catalog" / "catalog.csv"))}
    rows = [r for r in csv.DictReader(open(CC0 / "images.csv"))
            if r["label"] in sells and r["image"][:8] not in demo_photos() and r["kids"] == "False"]
    random.Random(11).shuffle(rows)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        new = tmp / "new.csv"
        with open(new, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["sku", "image", "name"])
            for i, r in enumerate(rows[:12]):
                w.writerow([f"NEW-{i + 1:03d}", str(CC0 / "images" / f"{r['image']}.jpg"), ""])
        page = tmp / "review.html"
        _, text = run_batch(Runtime(load_config()).catalogue_tagger, new, tmp / "tags.csv", review=page, progress=False)
        print(text)
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp / 'chromium'}", "--hide-scrollbars", f"--screenshot={OUT}",
                        "--window-size=1400,1000", page.as_uri()], check=True, capture_output=True, timeout=120)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
