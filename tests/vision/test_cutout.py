"""ISNet cuts a product from a busy backdrop; catalogue colours are named from that cut."""
import cv2
import numpy as np
import pytest

from conftest import OPENCV_DATA

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


def test_catalogue_colour_accuracy_on_hand_labels(vision):
    """Report half (senders never tuned on), ISNet cut: measured 0.827 first colour / 0.936 any
    colour on 110 photos (the live loop's cut: 0.800). Floor: 0.827 less two standard errors."""
    from bench.tagging import colour_accuracy, labelled
    rows = [r for r in labelled() if r["half"] == "report"]
    res = colour_accuracy(vision, rows, cutout=True)["report"]
    assert res["first_colour_accuracy"] >= 0.75 and res["any_colour_accuracy"] >= 0.87, res
