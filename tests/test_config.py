import pytest

from edge.config import load_config
from edge.errors import ConfigError


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_default_config_is_valid():
    cfg = load_config()
    assert cfg.device == "CPU"
    assert (cfg.models_dir / "manifest.json").is_file()


@pytest.mark.parametrize("text, key", [
    ("device: TPU\n", "device"),
    ("precision: half\n", "precision"),
    ("detector:\n  person_threshold: 1.5\n", "detector.person_threshold"),
    ("detector:\n  max_people: 0\n", "detector.max_people"),
    ("detector:\n  nms_iou: high\n", "detector.nms_iou"),
    ("detector:\n  rerun_on_person: 1\n", "detector.rerun_on_person"),
    ("embeding:\n  color_weight: 0.3\n", "embeding"),
    ("similar: 5\n", "similar"),
    ("index:\n  exact_up_to: 1.5\n", "index.exact_up_to"),
    ("catalog_dir: 12\n", "catalog_dir"),
    ("cutout:\n  size: 300\n", "cutout.size"),
    ("cutout:\n  size: 416\n", "cutout.size"),     # a multiple of 32 ISNet cannot compile at
    ("cutout:\n  int8: fast\n", "cutout.int8"),
    ("cutout:\n  first_size: 200\n", "cutout.first_size"),
    ("cutout:\n  first_size: 640\n", "cutout.first_size"),   # above cutout.size (512)
    ("cutout:\n  first_cover: 1.5\n", "cutout.first_cover"),
    # each bound declared once beside its stage (edge/params.py): NaN is no time, "shared" and "hq" no store
    ("kiosk:\n  staff_lock_s: .nan\n", "kiosk.staff_lock_s"),
    ("kiosk:\n  attract_after_s: .nan\n", "kiosk.attract_after_s"),
    ("analytics:\n  interval_s: .nan\n", "analytics.interval_s"),
    ("detector:\n  person_threshold: .inf\n", "detector.person_threshold"),
    ("sync:\n  store_id: shared\n", "sync.store_id"),
    ("sync:\n  store_id: hq\n", "sync.store_id"),
    ("sync:\n  stores: [s1, shared]\n", "sync.stores"),
    ("analytics:\n  min_count: 1\n", "analytics.min_count"),
    ("kiosk:\n  product_url: https://x/p\n", "kiosk.product_url"),
])
def test_bad_values_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text))
    assert f"'{key}'" in str(e.value)


def test_relative_paths_are_from_the_config_folder(tmp_path):
    cfg = load_config(write(tmp_path, "catalog_dir: store\ndevice: auto\n"))
    assert cfg.catalog_dir == (tmp_path / "store").resolve()
    assert cfg.device == "AUTO"


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "device: [CPU\n"))


def test_a_screen_of_a_store_reports_on_its_own_status_branch(tmp_path, cfg):
    """docs/fleet.md runs one sync per screen: each must say which screen it is (sync.screen), or
    every screen of a store overwrites the store's one status."""
    import copy
    from sync.envelope import generate_keys
    from sync.service import store_sync
    generate_keys(tmp_path / "hq.key", tmp_path / "hq.pub")
    c = copy.deepcopy(cfg)
    c.sync.public_key, c.catalog_dir = tmp_path / "hq.pub", tmp_path / "catalog"
    for screen, tail in (("2", f"{c.sync.store_id}/screen/2/status"), ("", f"{c.sync.store_id}/status")):
        c.sync.screen = screen
        s = store_sync(c)
        try:
            assert s.status_topic.endswith(tail), s.status_topic
        finally:
            s.catalog.close()


def test_every_setting_is_declared_once_with_its_doc():
    """Each key's default, bounds and doc sit beside the stage that uses it (edge/params.py); the
    config only walks them."""
    from edge.config import Config
    rows = Config().check().settings()
    assert len(rows) > 60 and all(r["doc"] for r in rows), [r["key"] for r in rows if not r["doc"]]
    keys = {r["key"] for r in rows}
    assert {"detector.person_threshold", "pose.min_person", "cutout.first_size", "sync.store_id"} <= keys


def test_the_shipped_config_holds_only_the_sites_choices():
    """A tuned value written again in the YAML would shadow the code's when it is re-tuned."""
    cfg = load_config()
    site = {r["key"] for r in cfg.settings() if r["site"]}
    assert cfg.given and cfg.given <= site, sorted(cfg.given - site)


def test_the_code_defaults_are_the_tuned_values(tmp_path, cfg):
    """A config holding no tunable key gives the same detections, bit for bit, as the shipped one
    (which once held person_threshold 0.2 and min_person 0.99 while the code said 0.4 and 0.5)."""
    import cv2

    from edge.vision.stages import Vision
    from conftest import OPENCV_DATA, ROOT
    bare = load_config(write(tmp_path, f"models_dir: {ROOT / 'models'}\nmodel_cache: null\n"))
    assert bare.detector == cfg.detector and bare.pose == cfg.pose
    shipped, plain = Vision(cfg), Vision(bare)
    for name in ("messi5.jpg", "basketball1.png", "basketball2.png"):
        img = cv2.imread(str(OPENCV_DATA / name))
        a, b = shipped.find_items(img), plain.find_items(img)
        assert [p.to_json() for p in a.people] == [p.to_json() for p in b.people] and a.people, name
        assert [i.to_json() for i in a.items] == [i.to_json() for i in b.items], name


def test_a_config_that_is_not_utf8_is_named(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_bytes(b"device: CPU\nbrand:\n  store_name: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(p)


def test_config_show_says_each_value_and_where_it_came_from(tmp_path):
    import json
    import subprocess
    import sys
    conf = write(tmp_path, "detector:\n  person_threshold: 0.3\n")
    res = subprocess.run([sys.executable, "-m", "signage.cli", "--config", str(conf), "config", "show", "--json"],
                         capture_output=True, text=True)
    rows = {r["key"]: r for r in json.loads(res.stdout)["settings"]}
    assert rows["detector.person_threshold"]["value"] == 0.3 and rows["detector.person_threshold"]["from"] == str(conf)
    assert rows["pose.min_person"] == {**rows["pose.min_person"], "value": 0.99, "from": "default"}
    res = subprocess.run([sys.executable, "-m", "signage.cli", "--config", str(conf), "config", "show", "--defaults",
                          "--json"], capture_output=True, text=True)
    rows = {r["key"]: r for r in json.loads(res.stdout)["settings"]}
    assert rows["detector.person_threshold"]["value"] == 0.2
