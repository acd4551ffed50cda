"""ISNet cuts a product from a busy backdrop; catalogue colours are named from that cut."""
import cv2
import numpy as np
import pytest

from conftest import CC0, OPENCV_DATA

SHIRT = np.array([[140, 120], [200, 100], [280, 100], [340, 120], [420, 200], [370, 250], [330, 210],
                  [330, 480], [150, 480], [150, 210], [110, 250], [60, 200]], np.int32)


def shirt_on(backdrop: str, bgr=(40, 40, 170)):
    img = cv2.resize(cv2.imread(str(OPENCV_DATA / backdrop)), (480, 600))
    mask = np.zeros(img.shape[:2], np.uint8)
    cv2.fillPoly(mask, [SHIRT], 1)
    mask = mask.astype(bool)
    noise = np.random.default_rng(0).normal(0, 8, (int(mask.sum()), 3))
    img[mask] = np.clip(np.array(bgr) + noise, 0, 255).astype(np.uint8)
    return img, mask


@pytest.mark.parametrize("backdrop", ["starry_night.jpg", "board.jpg", "baboon.jpg"])
def test_the_cut_is_the_garment_not_the_busy_backdrop(vision, backdrop):
    """Measured IoU 0.99 (painting), 1.00 (chess board), 0.84 (baboon: its face is salient too)."""
    img, truth = shirt_on(backdrop)
    cut = vision.cutout(img)
    assert cut.shape == truth.shape and cut.dtype == bool
    iou = (cut & truth).sum() / (cut | truth).sum()
    assert iou >= 0.75, (backdrop, iou)


def test_a_product_photo_on_a_busy_backdrop_is_named_from_the_product(vision):
    img, _ = shirt_on("starry_night.jpg", bgr=(180, 90, 30))    # a blue shirt on blue-and-yellow paint
    item = vision.main_item(img)
    assert vision.photo_colors(img, item)[0] == "blue"


def test_the_cut_can_be_turned_off(cfg):
    import copy
    from edge.config import CutoutParams
    from edge.vision.stages import Vision
    c = copy.deepcopy(cfg)
    c.cutout = CutoutParams(catalogue=False)
    v = Vision(c)
    img, _ = shirt_on("board.jpg")
    item = v.main_item(img)
    assert v.cutout is None and v.photo_colors(img, item) == v.embed(img, item).colors


def test_colour_names_on_hand_labels_beat_the_nearest_swatch(vision):
    """Report half of tests/data/cc0 (114 photos of senders never tuned on). Measured first colour
    on 2026-12-07, natively (Xeon, bf16) / with oneDNN capped to AVX2: nearest swatch (before)
    0.632 / 0.640, live cut 0.825 / 0.833, catalogue ISNet cut 0.842 / 0.842 (any colour 0.912 /
    0.939 on both). Floors: the lower figure less two standard errors (0.035 at n=114), each path
    above the baseline; the old 0.72 / 0.75 passed a live cut no better than ~0.1 above the swatch."""
    from bench.tagging import PATHS, colour_accuracy, labelled
    rows = [r for r in labelled(CC0) if r["half"] == "report"]
    res = {p: h["report"] for p, h in colour_accuracy(vision, rows)["paths"].items()}
    before, live, cut, shop, held = (res[p] for p in PATHS)
    assert live["photos"] >= 100
    assert live["first_colour_accuracy"] >= 0.75 and live["any_colour_accuracy"] >= 0.86, res
    assert cut["first_colour_accuracy"] >= 0.77 and cut["any_colour_accuracy"] >= 0.89, res
    assert min(live["first_colour_accuracy"], cut["first_colour_accuracy"]) > before["first_colour_accuracy"], res
    # the same garments cut out and put on white, as a shop photographs them (the case `signage
    # tag` called black, navy and brown items "white"): measured 0.861 of 108 (both ISAs); floor 0.861 - 2 SE
    assert shop["photos"] >= 95 and shop["first_colour_accuracy"] >= 0.78, res
    # the photos held up in front of a wall as the demo video shows them (the kiosk said "your white
    # shorts" for black shorts on a light floor): 0.842 of 114 natively and with AVX2 (the picture
    # named whole, before: 0.51 on bench/tagging.py's report half); floor 0.842 - 2 SE (0.034)
    assert held["photos"] >= 100 and held["first_colour_accuracy"] >= 0.77, res


def test_the_cut_runs_at_the_configured_size(cfg):
    """cutout.size reshapes the model (exported at 512) before it is compiled; the mask comes back
    at the photo's size. Measured IoU on the chess board at 256: 0.99."""
    import copy
    from edge.config import CutoutParams
    from edge.vision.stages import Vision
    c = copy.deepcopy(cfg)
    c.cutout = CutoutParams(size=256)
    v = Vision(c)
    img, truth = shirt_on("board.jpg")
    cut = v.cutout(img)
    assert v.cutout.size == 256 and v.cutout.preprocess(img).shape == (1, 3, 256, 256)
    assert cut.shape == truth.shape and (cut & truth).sum() / (cut | truth).sum() >= 0.75


def test_the_int8_cut_is_the_float_cut(cfg):
    """`cutout.int8` (default) runs ISNet's INT8 copy, in INT8 kernels; false runs the float one.
    Same cut: measured IoU against the float mask 0.98 mean over the 218 colour-labelled photos
    (bench/cutout.py), 0.99+ on these. Floor: 0.9 each, a cut nobody could tell apart."""
    import copy
    from edge.config import CutoutParams
    from edge.vision.imageio import read_image
    from edge.vision.stages import Vision
    cuts = {}
    for int8 in (True, False):
        c = copy.deepcopy(cfg)
        c.cutout = CutoutParams(int8=int8)
        cuts[int8] = Vision(c)
    assert cuts[True].models.ran_in("cutout", int8=True).split()[0] in ("i8", "u8")
    assert cuts[False].models.ran_in("cutout", int8=False).split()[0] not in ("i8", "u8")
    photos = [shirt_on(b)[0] for b in ("starry_night.jpg", "board.jpg", "baboon.jpg")]
    photos += [read_image(p) for p in sorted((CC0 / "images").glob("*.jpg"))[:6]]
    for i, img in enumerate(photos):
        a, b = cuts[True].cutout(img), cuts[False].cutout(img)
        assert (a | b).sum() > 0.02 * a.size, i
        assert (a & b).sum() / (a | b).sum() >= 0.9, i


def _counting(vision):
    calls = {"first": 0, "full": 0}
    for name, cutter in (("first", vision.first_cut), ("full", vision.cutout)):
        if cutter is not None:
            soft = cutter.soft
            cutter.soft = lambda bgr, soft=soft, name=name: calls.__setitem__(name, calls[name] + 1) or soft(bgr)
    return calls


def test_a_first_small_look_names_the_colours_and_the_full_cut_runs_where_it_misses(cfg):
    """`cutout.first_size` (256): where the small cut covers the item (the shirt on the chess board:
    99 % of its mask) its names stand and the 512 px cut is not made; the blue shirt on the blue
    painting is lost at 256 (covers 0 %) and found at 512. On the 288 labelled photos the first cut
    was kept for ~80 % of busy-backdrop photos (bench/cutout.py)."""
    import copy
    from edge.config import CutoutParams
    from edge.vision.stages import Vision
    c = copy.deepcopy(cfg)
    c.cutout = CutoutParams()
    v = Vision(c)
    assert v.first_cut.size == 256 and v.cutout.size == 512
    calls = _counting(v)
    img, _ = shirt_on("board.jpg")
    assert v.product_photo(img).colors[0] == "red" and calls == {"first": 1, "full": 0}
    img, _ = shirt_on("starry_night.jpg", bgr=(180, 90, 30))
    assert v.product_photo(img).colors[0] == "blue" and calls == {"first": 2, "full": 1}
    assert v.product_photo(img, colors=False) and calls == {"first": 2, "full": 1}   # colours known: no cut


def test_without_a_first_cut_every_busy_photo_is_cut_at_full_size(cfg):
    import copy
    from edge.config import CutoutParams
    from edge.vision.stages import Vision
    c = copy.deepcopy(cfg)
    c.cutout = CutoutParams(first_size=0)
    v = Vision(c)
    assert v.first_cut is None
    calls = _counting(v)
    img, _ = shirt_on("board.jpg")
    assert v.product_photo(img).colors[0] == "red" and calls == {"first": 0, "full": 1}
