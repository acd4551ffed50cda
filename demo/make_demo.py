"""Rebuild the bundled demo catalogue and demo video from the shared CC0 photos.

    python demo/make_demo.py [--data ../shared/data/clothing-cc0]

Writes demo/catalog/catalog.csv + demo/catalog/images/*.jpg (photos resized to <= 320 px) and
demo/demo.avi (MJPG: OpenCV's pip wheel writes it; it cannot write H.264). Deterministic: the
same data gives the same files. Source: github.com/alexeygrigorev/clothing-dataset, CC0 1.0.

The video's last 20 s are people walking, for shop the look (top, bottom and shoes per person):
a 480x360 crop of `vtest.avi` from Debian's opencv-doc (OpenCV's sample data; Debian's copyright
file puts it under Apache-2.0 AND BSD-3-Clause, OpenCV's licences). The people in it are small
(40-110 px tall), so their matches are rough: it shows the flow, not the accuracy.
"""
from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
LABELS = {  # CC0 label -> (sku prefix, price range, aisle)
    "T-Shirt": ("TS", (9, 29), "A1"), "Longsleeve": ("LS", (14, 39), "A1"), "Shirt": ("SH", (24, 59), "A2"),
    "Polo": ("PO", (19, 45), "A2"), "Pants": ("PA", (29, 79), "B1"), "Shorts": ("SR", (15, 35), "B1"),
    "Skirt": ("SK", (19, 49), "B2"), "Dress": ("DR", (29, 99), "B2"), "Outwear": ("OW", (59, 199), "C1"),
    "Blazer": ("BL", (59, 149), "C1"), "Hoodie": ("HO", (29, 69), "C2"), "Shoes": ("FW", (39, 129), "D1"),
    "Hat": ("HA", (9, 29), "D2"), "Top": ("TO", (12, 35), "A3"),
}
ADJECTIVES = ["Classic", "Relaxed", "Everyday", "Essential", "Soft", "Tailored", "Weekend", "Urban",
              "Light", "Modern", "Heritage", "Studio"]
PER_LABEL = 24
VIDEO_ITEMS = 8
PEOPLE_VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
PEOPLE_FRAMES = (560, 800)          # where people walk closest to the camera
PEOPLE_CROP = (216, 576, 144, 624)  # y0, y1, x0, x1: 480x360, the demo video's size


def resize(img: np.ndarray, side: int) -> np.ndarray:
    s = side / max(img.shape[:2])
    return cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA) if s < 1 else img


W, H, FPS, SECONDS = 480, 360, 12, 2.5
WALL = (200, 205, 210)


def held_up(photo: np.ndarray, t: float = 0.0) -> np.ndarray:
    """One frame of the demo video: the photo (300 px on its long side, as it is: its own floor or
    bed around the garment) held up in front of a plain wall, `t` (0-1) of the way through its
    gentle sway. bench/tagging.py names colours on such frames too."""
    img = resize(photo, 300)
    s = 0.9 + 0.1 * t
    g = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)))
    frame = np.full((H, W, 3), WALL, np.uint8)
    x = (W - g.shape[1]) // 2 + int(12 * np.sin(2 * np.pi * t))
    y = (H - g.shape[0]) // 2
    x, y = max(0, x), max(0, y)
    gh, gw = min(g.shape[0], H - y), min(g.shape[1], W - x)
    frame[y:y + gh, x:x + gw] = g[:gh, :gw]
    return frame


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data" / "clothing-cc0"))
    args = ap.parse_args()
    data = Path(args.data)
    rows = [r for r in csv.DictReader(open(data / "images.csv")) if r["label"] in LABELS and r["kids"] == "False"]
    rng = random.Random(20261126)
    rows.sort(key=lambda r: r["image"])
    rng.shuffle(rows)
    by_label: dict[str, list[dict]] = {}
    for r in rows:
        by_label.setdefault(r["label"], []).append(r)

    out = HERE / "catalog"
    (out / "images").mkdir(parents=True, exist_ok=True)
    catalog, video_rows = [], []
    for label in LABELS:
        chosen = by_label.get(label, [])[:PER_LABEL]
        video_rows += chosen[:1]
        for r in chosen:
            prefix, (lo, hi), aisle = LABELS[label]
            sku = f"{prefix}-{r['image'][:8]}"
            img = resize(cv2.imread(str(data / "images" / f"{r['image']}.jpg")), 320)
            cv2.imwrite(str(out / "images" / f"{sku}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 85])
            catalog.append({
                "sku": sku, "name": f"{rng.choice(ADJECTIVES)} {label.lower() if label != 'T-Shirt' else 'T-shirt'}",
                "category": label, "colors": "", "price": f"{rng.randint(lo, hi) - 0.01:.2f}", "currency": "EUR",
                "stock": str(rng.choice([0, 1, 2, 3, 5, 8, 12])), "aisle": aisle,
                "image": f"images/{sku}.jpg", "gender": rng.choice(["women", "men", "unisex"]),
                "season": rng.choice(["all", "summer", "winter"]), "tags": "demo"})
    with open(out / "catalog.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(catalog[0]))
        w.writeheader()
        w.writerows(catalog)

    # Demo video: garments held up in front of a plain wall, one after another, gently moving.
    writer = cv2.VideoWriter(str(HERE / "demo.avi"), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    for r in video_rows[:VIDEO_ITEMS]:
        img = cv2.imread(str(data / "images" / f"{r['image']}.jpg"))
        n = int(FPS * SECONDS)
        for i in range(n):
            writer.write(held_up(img, i / n))
    cap = cv2.VideoCapture(str(PEOPLE_VIDEO))
    if not cap.isOpened():
        raise SystemExit(f"{PEOPLE_VIDEO} not found: apt install opencv-doc")
    y0, y1, x0, x1 = PEOPLE_CROP
    for i in range(PEOPLE_FRAMES[1]):
        ok, frame = cap.read()
        if not ok:
            break
        if i >= PEOPLE_FRAMES[0]:
            writer.write(frame[y0:y1, x0:x1])
    cap.release()
    writer.release()
    print(f"{len(catalog)} products in {out}, video {HERE / 'demo.avi'}")


if __name__ == "__main__":
    main()
