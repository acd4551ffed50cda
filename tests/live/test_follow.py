"""The live loop follows the people it found at one model run a frame (edge/live/follow.py): the
pose model on one of them, the detector on one's shoes, or the detector on the whole frame every
few frames, so a shopper who walks in is still found at once."""
import copy

import cv2
import numpy as np
import pytest

from conftest import MESSI, ROOT
from edge.live.capture import Frame
from edge.live.follow import NOBODY_FOR, SCAN_EVERY, STILL_FOR, Follower
from edge.live.recognizer import Recognizer
from edge.types import Detection, iou


@pytest.fixture(scope="module")
def recognizer(cfg, demo_catalog):
    from edge.runtime import Runtime
    c = copy.deepcopy(cfg)
    c.catalog_dir = demo_catalog
    c.precision = "f32"     # the following's plans and tracks as a store PC (AVX2, f32) runs them: see f32_vision
    return Runtime(c).recognizer()


def frame_of(people: int, i: int) -> np.ndarray:
    img = cv2.imread(str(MESSI))
    h, w = img.shape[:2]
    frame = np.full((h + 40, 2 * w + 40, 3), 40, np.uint8)
    dx = int(12 * np.sin(i / 5))                     # the shopper sways a little
    frame[20:20 + h, 20 + dx:20 + dx + w] = img
    if people == 2:
        frame[20:20 + h, w + 20:2 * w + 20] = cv2.flip(img, 1)
    return frame


def runs(vision) -> int:
    return vision.detector.runs + vision.pose.runs + vision.embedder.runs


def test_a_followed_shopper_costs_one_model_run_a_frame_and_keeps_their_items(recognizer):
    vision, follower = recognizer.vision, recognizer.follower
    plans, cost, results = [], [], []
    for i in range(20):
        before = runs(vision)
        results.append(recognizer(Frame(i + 1, frame_of(1, i), i / 30)))
        plans.append(follower.plan)
        cost.append(runs(vision) - before)
    # one whole-frame pass (the first frame), then one model run a frame: a scan of the whole
    # frame every SCAN_EVERY frames, one for the shoes between two scans, a pose, or a match of an
    # item of the shopper just posed (nothing found on that frame: "hold")
    assert plans[0] == "whole" and "whole" not in plans[1:], plans
    assert cost[0] > 2 and set(cost[1:]) == {1}, cost
    assert [k for k, p in enumerate(plans) if p == "scan"] == list(range(SCAN_EVERY, 20, SCAN_EVERY))
    assert plans.count("shoes") >= plans.count("scan") and plans.count("pose") >= plans.count("hold") > 0, plans
    assert all(plans[k - 1] == "pose" for k, p in enumerate(plans) if p == "hold"), plans
    assert all(r.people == 1 for r in results)
    # following re-finds the same items: no more new tracks than whole-frame passes every frame
    # make on the same frames (mid-kick, those find the hem and the boots a little differently
    # as the shopper sways, so neither is one track per item)
    followed_tracks = {i.track_id for r in results for i in r.items}
    always = Recognizer(recognizer.similar, recognizer.looks, k=4, stable_frames=recognizer.tracker.stable_frames,
                        scan_every=1)
    whole_tracks = set()
    for k in range(20):
        whole_tracks |= {i.track_id for i in always(Frame(50 + k, frame_of(1, k), k / 30)).items}
        assert always.follower.plan == "whole"
    assert len(followed_tracks) <= len(whole_tracks), (followed_tracks, whole_tracks)
    # a second shopper steps in beside the first: the next scan finds their box, the frame after
    # poses them (one model run each)
    late, plans = [], []
    for i in range(SCAN_EVERY + 1):
        before = runs(vision)
        late.append(recognizer(Frame(100 + i, frame_of(2, 20 + i), (20 + i) / 30)))
        plans.append(follower.plan)
        assert runs(vision) - before == 1, (plans, runs(vision) - before, recognizer.swaps)
        if late[-1].people == 2:
            break
    assert late[-1].people == 2 and plans[-2:] == ["scan", "newcomer"], plans


def test_the_lead_shopper_is_posed_more_often_and_one_who_leaves_is_dropped(recognizer):
    vision = recognizer.vision
    follower = Follower(vision.finder)
    follower(frame_of(2, 0))
    assert follower.plan == "whole" and len(follower.shoppers) == 2
    posed = []
    follow = vision.finder.follow
    vision.finder.follow = lambda bgr, person, *a: posed.append(person.box[0]) or follow(bgr, person, *a)
    try:
        for i in range(1, 21):
            follower(frame_of(2, i))
        lead_x = follower.shoppers[0].person.box[0]
        lead = sum(abs(x - lead_x) < 40 for x in posed)
        assert len(follower.shoppers) == 2 and lead > len(posed) - lead >= 2, (lead, posed)
        # the second shopper walks away: dropped at their next pose; the first is still followed
        for i in range(21, 21 + 3 * SCAN_EVERY):
            follower(frame_of(1, i))
            assert follower.plan != "whole"
        assert len(follower.shoppers) == 1
        # the last shopper leaves: a whole-frame pass as soon as their pose misses them
        plans = []
        for i in range(2 * SCAN_EVERY):
            follower(np.full_like(frame_of(1, 0), 40))
            plans.append(follower.plan)
        assert "whole" in plans and not follower.following
    finally:
        vision.finder.follow = follow


@pytest.mark.parametrize("flag, again_at_next_scan", [(0.0, False), (0.9, True)])
def test_a_box_the_pose_found_nobody_in_is_not_posed_again_for_a_while(recognizer, flag, again_at_next_scan):
    """A newcomer's box the pose turns down (a poster, half of someone) would cost a pose every
    look: it is tried again only after NOBODY_FOR frames; one it nearly accepts (a person turned
    away) at the next scan."""
    vision = recognizer.vision
    follower = Follower(vision.finder)
    follower(frame_of(1, 0))
    assert len(follower.shoppers) == 1
    pose = vision.finder.pose
    asked = []

    def newcomer_pose(bgr, box):           # the pose's flag on anyone but the shopper followed
        out = pose(bgr, box)
        if iou(box, follower.shoppers[0].person.box) < 0.3:
            asked.append(follower.frames)
            out.score = flag
        return out
    vision.finder.pose = newcomer_pose
    try:
        for i in range(NOBODY_FOR + 2 * SCAN_EVERY):
            follower(frame_of(2, 0))
    finally:
        vision.finder.pose = pose
    assert asked and len(follower.shoppers) == 1
    gaps = [b - a for a, b in zip(asked, asked[1:])]
    if again_at_next_scan:
        assert gaps and all(g == SCAN_EVERY for g in gaps), asked
    else:
        assert gaps and all(g >= NOBODY_FOR for g in gaps), asked
    for i in range(NOBODY_FOR + SCAN_EVERY):     # the pose's own answer: the newcomer joins
        follower(frame_of(2, 0))
    assert len(follower.shoppers) == 2


def test_a_shoe_on_its_own_ends_following(recognizer, monkeypatch):
    """A shoe held up beside the shopper (no one's shoe) is seen only by a scan of the whole frame:
    the frame goes to a whole-frame pass, and following stops (whole-frame passes every frame, as
    a held-up item needs). The detector's answer is given a lone shoe: the SSD scores a shoe on
    its own at the alone threshold only on some photos."""
    vision = recognizer.vision
    follower = Follower(vision.finder)
    follower(frame_of(1, 0))
    assert follower.following
    detect_once = vision.detector.detect_once
    held = Detection("footwear", (1000, 40, 1080, 100), 0.9)
    monkeypatch.setattr(vision.detector, "detect_once",
                        lambda bgr, offset=(0, 0): detect_once(bgr, offset) + ([held] if offset == (0, 0) else []))
    plans = []
    for i in range(SCAN_EVERY):
        follower(frame_of(1, 0))
        plans.append(follower.plan)
    assert plans[-1] == "whole" and "scan" not in plans and not follower.following, plans


def test_a_swaying_shoppers_items_keep_one_track_each(cfg, demo_catalog):
    """Two shoppers swaying in front of the screen for two seconds: each worn item keeps one track
    and no card is reset by a swap. Their shoes are cut from the detector's pair in one frame and
    from the ankle landmarks in the next, their hems a little differently: the same items, matched
    by whose they are when their own boxes do not overlap, and no swap decided on a box that moved
    (before: 34 tracks and 11 swaps for these 6 items)."""
    from edge.runtime import Runtime
    c = copy.deepcopy(cfg)
    c.catalog_dir = demo_catalog
    rec = Runtime(c).recognizer()
    tracks = set()
    for i in range(60):
        r = rec(Frame(i + 1, frame_of(2, i), i / 30))
        tracks |= {x.track_id for x in r.items}
    assert r.people == 2 and len(r.items) == 6, [x.kind for x in r.items]
    assert len(tracks) == 6 and rec.swaps == 0, (len(tracks), rec.swaps)


def test_a_shoppers_steady_items_are_matched_again_one_a_frame(cfg, demo_catalog):
    """Every steady item is embedded again within a few frames, but never two on one frame: a
    shopper's items become steady together, and embedding all three on the same frame was the
    slowest frame of the loop (p95 32 ms of matching against 8 at p50)."""
    from edge.runtime import Runtime
    c = copy.deepcopy(cfg)
    c.catalog_dir = demo_catalog
    rec = Runtime(c).recognizer()
    embedded: list[list[int]] = []
    observe = rec._observe

    def spy(frame, t):
        embedded[-1].append(t.id)
        observe(frame, t)
    rec._observe = spy
    steady_since = None
    for i in range(40):
        embedded.append([])
        r = rec(Frame(i + 1, frame_of(1, 0), i / 30))      # a shopper standing still: nothing is urgent
        if steady_since is None and len(r.items) >= 2 and all(it.stable for it in r.items):
            steady_since = i + 1
    assert steady_since is not None and steady_since < 10
    after = embedded[steady_since:]
    assert max(len(e) for e in after) == 1, after
    ids = {t for e in after for t in e}
    assert len(ids) >= 2
    for t in ids:                 # each steady item matched again every few frames
        frames = [k for k, e in enumerate(after) if t in e]
        # (one model run a frame while following: a match of an item every other frame at most, a
        # pose between, and a scan and a shoes frame may come between: each item's turn
        # comes within 2 x items + 2 frames)
        assert max(b - a for a, b in zip(frames, frames[1:])) <= 2 * len(ids) + 2, (t, frames)


def demo_frames(n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(ROOT / "demo" / "demo.avi"))
    out = [cap.read()[1] for _ in range(n)]
    cap.release()
    return out


def test_a_garment_held_still_costs_no_model_run_until_it_changes(recognizer):
    """A garment held up with nobody in view keeps the last whole-frame pass's items while the frame
    barely changes (the demo video's first garment: frames 0-29); a swap (frame 30), a shopper
    walking in, or STILL_FOR frames of the same garment bring a whole-frame pass back."""
    vision = recognizer.vision
    follower = Follower(vision.finder)
    frames = demo_frames(31)
    first = follower(frames[0])
    assert follower.plan == "whole" and first.items and not first.people
    plans, cost = [], []
    for f in frames[1:30]:
        before = runs(vision)
        found = follower(f)
        plans.append(follower.plan)
        cost.append(runs(vision) - before)
        assert [i.box for i in found.items] == [i.box for i in first.items]
    assert set(plans) == {"still"} and set(cost) == {0}, (plans, cost)
    follower(frames[30])                                 # the shopper holds up another garment
    assert follower.plan == "whole"
    plans = []
    for _ in range(STILL_FOR):
        follower(frames[30])
        plans.append(follower.plan)
    assert plans[:-1] == ["still"] * (STILL_FOR - 1) and plans[-1] == "whole", plans
    follower(frame_of(1, 0))                             # a shopper walks in
    assert follower.plan == "whole" and follower.following and follower.still is None
