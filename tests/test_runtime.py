"""One place assembles the runtime; parts are made on first use, the same way for every caller."""
import copy

import pytest

from edge.errors import CatalogMissing, ModelMissing
from edge.runtime import Runtime


def test_a_catalogue_command_loads_no_model(cfg, tmp_path):
    c = copy.deepcopy(cfg)
    c.catalog_dir = tmp_path / "cat"
    rt = Runtime(c)
    rt.open_catalog(create=True)
    assert rt.catalog.stats()["products"] == 0
    assert rt.model_version.startswith("embedder:")
    assert "vision" not in rt.__dict__          # nothing compiled for that


def test_missing_parts_name_the_command_that_makes_them(cfg, tmp_path):
    c = copy.deepcopy(cfg)
    c.catalog_dir = tmp_path / "none"
    with pytest.raises(CatalogMissing, match="signage catalog import"):
        Runtime(c).catalog
    c.models_dir = tmp_path / "models"
    (tmp_path / "models").mkdir()
    with pytest.raises(ModelMissing, match="signage compat train"):
        Runtime(c).compat
    with pytest.raises(ModelMissing, match="signage models build"):
        Runtime(c).vision
