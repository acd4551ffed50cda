"""bench/street.py's framings move the ground truth with the photo, its paired difference comes from
the photos, and bench/int8.py's report reads off the figures (no street photos needed: drawn boxes)."""
import numpy as np
import pytest

from bench.docs import int8_markdown as markdown
from bench.street import FRAMINGS, Score, framed, paired
from edge.types import FrameItems, Item, Person

BOXES = {"person": (40, 20, 120, 300), "upper": (45, 40, 115, 150), "lower": (50, 150, 110, 260), "dress": None,
         "shoes": [(50, 270, 75, 295), (85, 272, 112, 298)]}
SHADE = {"upper": 200, "lower": 120, "shoes": 250}


def photo() -> tuple[dict, np.ndarray]:
    """A 160 x 320 photo: each region painted its own shade (off-centre, so a mirror moves it)."""
    img = np.zeros((320, 160, 3), np.uint8)
    for kind, shade in SHADE.items():
        for x1, y1, x2, y2 in (BOXES[kind] if kind == "shoes" else [BOXES[kind]]):
            img[y1:y2, x1:x2] = shade
    return {"id": 7, **BOXES}, img


@pytest.mark.parametrize("mirror,margins", FRAMINGS)
def test_a_framing_moves_each_region_with_the_photo(mirror, margins):
    ph, img = photo()
    out, moved = framed(ph, img, mirror, margins)
    assert out.shape[0] > img.shape[0] or out.shape[1] > img.shape[1] or margins == (0, 0, 0, 0)
    for kind, shade in SHADE.items():
        for x1, y1, x2, y2 in (moved[kind] if kind == "shoes" else [moved[kind]]):
            assert (out[y1:y2, x1:x2] == shade).all(), (kind, mirror, margins)
    assert moved["dress"] is None


def test_an_answer_at_the_moved_boxes_scores_every_figure_and_a_shifted_one_none():
    ph, img = photo()
    _, moved = framed(ph, img, True, (0.12, 0, 0, 0))

    def answer(dx):
        sh = lambda b: (b[0] + dx, b[1], b[2] + dx, b[3])  # noqa: E731
        return FrameItems(people=[Person(0, sh(moved["person"]), 1.0)],
                          items=[Item("upper", sh(moved["upper"]), 1.0, 0), Item("lower", sh(moved["lower"]), 1.0, 0),
                                 Item("footwear", sh(moved["shoes"][1]), 1.0, 0)])
    score = Score()
    assert score.add(moved, answer(0)) == {"people": True, "upper": True, "lower": True, "footwear": True}
    # 60 px to the side: the person box no longer holds 70 % of what is worn, every region misses
    assert score.add(moved, answer(60)) == {"people": False, "upper": False, "lower": False, "footwear": False}
    fig = score.figures()
    assert fig["photos"] == 2 and fig["people_found"] == 0.5 and fig["footwear_recall"] == 0.5
    assert fig["false_people_per_photo"] == 0.5


def test_paired_difference_and_its_width_come_from_the_photos():
    base = {i: {"footwear": 1.0, "upper": 0.5} for i in range(40)}
    worse = {i: {"footwear": 0.875 if i < 8 else 1.0, "upper": 0.5} for i in range(40)}
    p = paired(base, worse)
    assert p["footwear"]["difference"] == pytest.approx(-8 * 0.125 / 40, abs=1e-4)
    assert p["footwear"]["photos_differing"] == 8 and p["footwear"]["half_width_95"] > 0
    assert p["upper"] == {"difference": 0.0, "half_width_95": 0.0, "photos": 40, "photos_differing": 0}
    assert "lower" not in p


def test_the_int8_verdict_reads_the_framed_differences_when_there_are_some():
    def side(footwear, p5):
        return {"ran_in": {"detector": "f32 avx2"}, "category": {"precision_at_5": p5, "category_top1_vote": p5},
                "street": {"people_found": 0.97, "upper_recall": 0.87, "lower_recall": 0.7, "dress_recall": 0.4,
                           "footwear_recall": footwear}}
    res = {"default": side(0.9, 0.8), "int8": side(0.88, 0.798)}
    text = "\n".join(markdown(res))
    assert "**missed** (worst: footwear, IoU >= 0.5 -0.0200)" in text      # photos as they are
    res["paired"] = {k: {"difference": -0.004, "half_width_95": 0.01, "photos": 190, "photos_differing": 12}
                     for k in ("people", "upper", "lower", "dress", "footwear")}
    text = "\n".join(markdown(res))
    assert "| footwear, IoU >= 0.5 | 0.9 | 0.88 | -0.02 | -0.0040 ± 0.0100 |" in text
    assert "met (worst: people found -0.0040)" in text
    assert "footwear 12 of 190" in text
    res["paired"]["lower"]["difference"] = -0.0125
    assert "**missed** (worst: lower region, IoU >= 0.5 -0.0125)" in "\n".join(markdown(res))


def test_a_photos_share_counts_each_of_its_answers():
    ph, img = photo()
    _, moved = framed(ph, img, False, (0, 0, 0, 0))
    right = FrameItems(people=[Person(0, moved["person"], 1.0)], items=[Item("upper", moved["upper"], 1.0, 0)])
    score = Score()
    for answer in (right, right, right, FrameItems()):
        score.add(moved, answer)
    assert score.shares() == {7: {"people": 0.75, "upper": 0.75, "lower": 0.0, "footwear": 0.0}}
