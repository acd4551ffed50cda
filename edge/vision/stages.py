"""The vision stages built from the config: frame -> items -> vectors (and colour names)."""
from __future__ import annotations

import numpy as np

from ..types import FrameItems, Item, ItemVector
from .detector import Detector
from .embed import Embedder, embedder_version
from .items import ItemFinder, main_item
from .models import ModelStore
from .pose import PoseEstimator


class Vision:
    def __init__(self, cfg):
        self.cfg = cfg
        self.models = ModelStore(cfg.models_dir, cfg.device, cfg.precision)
        self.detector = Detector(self.models.compiled("detector"), self.models.info("detector").entry["labels"],
                                 cfg.detector)
        self.pose = PoseEstimator(self.models.compiled("pose"), cfg.pose)
        self.finder = ItemFinder(self.detector, self.pose, cfg.pose)
        self.embedder = Embedder(self.models.compiled("embedder"), self.models.info("embedder").version,
                                 cfg.embedding)

    @property
    def model_version(self) -> str:
        return self.embedder.version

    def find_items(self, bgr: np.ndarray) -> FrameItems:
        return self.finder(bgr)

    def embed(self, bgr: np.ndarray, item: Item) -> ItemVector:
        return self.embedder(bgr, item)

    def main_item(self, bgr: np.ndarray) -> Item:
        """The frame's main item (a garment cut from the backdrop when nobody is there: never None)."""
        return main_item(self.find_items(bgr).items)

    def colors_of(self, bgr: np.ndarray) -> tuple[str, ...]:
        """Colour names of the frame's main item, from its own pixels."""
        return self.embed(bgr, self.main_item(bgr)).colors


def model_version(cfg) -> str:
    """The vector version this config's models produce, without loading them."""
    return embedder_version(ModelStore(cfg.models_dir).info("embedder").version, cfg.embedding.color_weight)
