"""People in a frame: every real person found once, the shopper at the screen first, passers-by
far behind left out; garment regions from landmarks, the person mask and bare skin."""
import cv2
import numpy as np

from edge.types import Detection
from edge.vision.items import lead_score, pair_of_shoes
from edge.vision.pose import hem_row


def test_the_shopper_at_the_screen_leads_and_a_passer_by_far_behind_is_left_out(vision, messi):
    H, W = messi.shape[:2]
    frame = np.full((H, W * 2, 3), 200, np.uint8)
    frame[:, W // 2: W // 2 + W] = messi                       # the shopper, in the middle
    small = cv2.resize(messi, (W // 3, H // 3))
    frame[40:40 + small.shape[0], 10:10 + small.shape[1]] = small   # someone small, far behind, at the edge
    found = vision.find_items(frame)
    assert len(found.people) == 1
    lead = found.people[0]
    assert lead.id == 0 and lead.box[0] >= W // 2 - 40
    assert {i.kind for i in found.items if i.person == 0} >= {"upper", "lower", "footwear"}


def test_shoppers_side_by_side_are_each_found_once(vision, messi):
    """At the low person threshold the SSD also boxes each player's top half: the same skeleton,
    one person."""
    W = messi.shape[1]
    found = vision.find_items(np.concatenate([messi, cv2.flip(messi, 1), messi], axis=1))
    assert len(found.people) == 3
    xs = sorted((p.box[0] + p.box[2]) / 2 for p in found.people)
    assert xs[0] < W < xs[1] < 2 * W < xs[2]


def test_lead_score_prefers_tall_central_and_whole():
    lm = np.zeros((33, 4), np.float32)
    lm[:, 2] = 1.0
    lm[[11, 12, 23, 24, 25, 26, 27, 28], 0] = 300
    lm[[11, 12, 23, 24, 25, 26, 27, 28], 1] = np.linspace(100, 700, 8)
    whole_centre = lead_score((200, 50, 400, 750), lm, 600, 800, 0.5)
    at_edge = lead_score((0, 50, 200, 750), lm, 600, 800, 0.5)
    small = lead_score((250, 300, 350, 500), lm, 600, 800, 0.5)
    cut = lm.copy()
    cut[[25, 26, 27, 28], 1] = 900                               # knees and ankles below the frame
    cut_off = lead_score((200, 50, 400, 750), cut, 600, 800, 0.5)
    assert whole_centre > at_edge and whole_centre > small and whole_centre > cut_off


def test_a_pair_of_shoes_is_one_item_but_a_stray_shoe_is_not_joined():
    left, right = Detection("footwear", (100, 700, 150, 760), 0.6), Detection("footwear", (170, 705, 220, 765), 0.5)
    far = Detection("footwear", (480, 100, 530, 160), 0.55)
    assert pair_of_shoes([left, right], 0).box == (100, 700, 220, 765)
    assert pair_of_shoes([left, far], 0).box == left.box


def _legs(garment_bgr, length=0.5):
    """A synthetic lower body: the garment from the top down to `length`, then bare legs."""
    img = np.zeros((400, 200, 3), np.uint8)
    img[:] = garment_bgr
    img[int(400 * length):] = (120, 150, 200)          # skin-like (BGR)
    return img


def test_the_hem_is_where_bare_legs_begin_and_trousers_have_none():
    skin = cv2.cvtColor(np.uint8([[[120, 150, 200]]]), cv2.COLOR_BGR2LAB)[0, 0, 1:].astype(np.float32)
    mask = np.ones((400, 200), bool)
    skirt = hem_row(_legs((140, 60, 30), 0.45), mask, 20, 180, (20, 400), (skin, 2.0), 20)
    assert skirt is not None and abs(skirt - 180) <= 8
    assert hem_row(_legs((140, 60, 30), 1.0), mask, 20, 180, (20, 400), (skin, 2.0), 20) is None      # trousers
    assert hem_row(_legs((125, 155, 205), 0.45), mask, 20, 180, (20, 400), (skin, 2.0), 20) is None   # beige


def _iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_following_a_shopper_costs_one_pose_run_and_finds_the_same_items(f32_vision, messi):
    """The live loop's pose on a person of the frame before (ItemFinder.follow: the pose model alone
    on their last box, no detector) against a full pass on a frame where the shopper moved 12 px;
    someone no longer where they stood is not found there."""
    vision = f32_vision
    H, W = messi.shape[:2]

    def at(x):
        frame = np.full((H + 40, W + 200, 3), 40, np.uint8)
        frame[20:20 + H, x:x + W] = messi
        return frame
    finder = vision.finder
    last = vision.find_items(at(100))
    person = last.people[0]
    full = vision.find_items(at(112))
    detector, pose = vision.detector.runs, vision.pose.runs
    det, p = finder.follow(at(112), person)
    assert (vision.detector.runs - detector, vision.pose.runs - pose) == (0, 1)
    assert len(full.people) == 1
    assert _iou(det.box, full.people[0].box) > 0.9
    boots = [d for d in last.detections if d.label == "footwear"]
    shoes = finder.with_feet(boots, person.landmarks, p.landmarks, W + 200, H + 40)
    assert len(shoes) == len(boots)
    _, items, _ = finder.person_items(at(112), 0, det, p, shoes)
    by_kind = {i.kind: i.box for i in full.items}
    assert {i.kind for i in items} == set(by_kind)
    # the top is where a full pass finds it; the boots are the last frame's pair moved with the
    # feet (mid-kick, which boot a full pass counts as "the pair" changes with a few pixels)
    assert _iou(next(i.box for i in items if i.kind == "upper"), by_kind["upper"]) > 0.8
    x1, y1, x2, y2 = next(i.box for i in last.items if i.kind == "footwear")
    assert _iou(next(i.box for i in items if i.kind == "footwear"), (x1 + 12, y1, x2 + 12, y2)) > 0.8
    # the same landmarks, but a box on the empty backdrop: the pose finds nobody there
    gone = type(person)(0, (0, 0, 60, 60), person.score, person.landmarks)
    assert finder.follow(at(112), gone) is None
