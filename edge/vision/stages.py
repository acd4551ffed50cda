"""The vision stages built from the config: frame -> items -> vectors (and colour names)."""
from __future__ import annotations

import numpy as np

from ..types import FrameItems, Item, ItemVector
from .colors import color_names
from .cutout import Cutout
from .detector import Detector
from .embed import Embedder, embedder_version
from .items import ItemFinder, main_item
from .models import ModelStore
from .pose import PoseEstimator
from .saliency import backdrop


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
        self._cutout: Cutout | None = None

    @property
    def cutout(self) -> Cutout | None:
        """ISNet, compiled on first use (the live loop never uses it); None when the config turns it off."""
        if not self.cfg.cutout.catalogue:
            return None
        if self._cutout is None:
            self._cutout = Cutout(self.models.compiled("cutout", self.cfg.cutout.size, int8=self.cfg.cutout.int8), self.cfg.cutout)
        return self._cutout

    @property
    def model_version(self) -> str:
        return self.embedder.version

    def find_items(self, bgr: np.ndarray, follow: list | None = None) -> FrameItems:
        """The frame's items; `follow` (live loop): the people boxes of the frame before."""
        return self.finder(bgr, follow)

    def embed(self, bgr: np.ndarray, item: Item) -> ItemVector:
        return self.embedder(bgr, item)

    def main_item(self, bgr: np.ndarray) -> Item:
        """The frame's main item (a garment cut from the backdrop when nobody is there: never None)."""
        return main_item(self.find_items(bgr).items)

    def photo_colors(self, bgr: np.ndarray, item: Item, iv: ItemVector | None = None) -> tuple[str, ...]:
        """Colour names of a product photo's item, for tags: from the ISNet cut of the photo where
        its backdrop is not plain (a plain one is already cut by its colour), else as embedded."""
        iv = iv or self.embed(bgr, item)
        if self.cutout is None or backdrop(bgr) is not None:
            return iv.colors
        x1, y1, x2, y2 = item.box
        cut = self.cutout(bgr)[y1:y2, x1:x2]
        if cut.mean() < 0.05:   # nothing stands out in the item's box: keep the live loop's cut
            return iv.colors
        return color_names(bgr[y1:y2, x1:x2], cut)

    def colors_of(self, bgr: np.ndarray) -> tuple[str, ...]:
        """Colour names of the frame's main item, from its own pixels."""
        return self.embed(bgr, self.main_item(bgr)).colors


def model_version(cfg) -> str:
    """The vector version this config's models produce, without loading them."""
    return embedder_version(ModelStore(cfg.models_dir).info("embedder").version, cfg.embedding.color_weight)
