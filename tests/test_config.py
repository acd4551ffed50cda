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
