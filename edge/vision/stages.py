"""The vision stages built from the config: frame -> items -> vectors (and colour names)."""
from __future__ import annotations

import numpy as np

from ..types import FrameItems, Item, ItemVector, ProductPhoto
from .colors import PALETTE, color_names
from .cutout import Cutout
from .detector import Detector
from .embed import Embedder, embedder_version, item_shares
from .items import ItemFinder, main_item, product_item
from .models import ModelStore
from .pose import PoseEstimator
from .saliency import backdrop


# A cut that leaves under this share of the item's box: nothing stands out there (keep the live
# loop's cut, or, for a first cut that misses, cut again at full size).
MIN_CUT_SHARE = 0.05


class Vision:
    def __init__(self, cfg):
        self.cfg = cfg
        self.models = ModelStore.of(cfg)
        self.detector = Detector(self.models.compiled("detector"), self.models.info("detector").entry["labels"],
                                 cfg.detector)
        self.pose = PoseEstimator(self.models.compiled("pose"), cfg.pose)
        self.finder = ItemFinder(self.detector, self.pose, cfg.pose)
        self.embedder = Embedder(self.models.compiled("embedder"), self.models.info("embedder").version,
                                 cfg.embedding)
        self._cutout: Cutout | None = None
        self._first_cut: Cutout | None = None

    @property
    def cutout(self) -> Cutout | None:
        """ISNet, compiled on first use (the live loop never uses it); None when the config turns it off."""
        if not self.cfg.cutout.catalogue:
            return None
        if self._cutout is None:
            self._cutout = Cutout(self.models.compiled("cutout", self.cfg.cutout.size, int8=self.cfg.cutout.int8), self.cfg.cutout)
        return self._cutout

    @property
    def first_cut(self) -> Cutout | None:
        """ISNet at `cutout.first_size` (a first, cheaper look at a catalogue photo), compiled on
        first use; None when off."""
        c = self.cfg.cutout
        if not c.catalogue or not c.first_size or c.first_size >= c.size:
            return None
        if self._first_cut is None:
            self._first_cut = Cutout(self.models.compiled("cutout", c.first_size, int8=c.int8), c)
        return self._first_cut

    @property
    def model_version(self) -> str:
        return self.embedder.version

    def find_items(self, bgr: np.ndarray) -> FrameItems:
        """The frame's items, looked for in the whole frame (the live loop follows the people it
        found: edge/live/follow.py)."""
        return self.finder(bgr)

    def embed(self, bgr: np.ndarray, item: Item) -> ItemVector:
        return self.embedder(bgr, item)

    def main_item(self, bgr: np.ndarray) -> Item:
        """The frame's main item (a garment cut from the backdrop when nobody is there: never None)."""
        return main_item(self.find_items(bgr).items)

    def product_item(self, bgr: np.ndarray, category: str) -> Item | None:
        """The item of a product photo that shows the product (`items.product_item`). Its main
        object is worn (`Item.on_model`) when the pose model sees a person there at
        `pose.on_model`, under the live loop's bar: a shop's model, whose skin is no colour of it."""
        found = self.find_items(bgr)
        item = product_item(found, category)
        if item is not None and item.kind == "garment" and found.person_score >= self.cfg.pose.on_model:
            item.on_model = True
        return item

    def product_photo(self, bgr: np.ndarray, category: str = "", colors: bool = True) -> ProductPhoto | None:
        """A catalogue photo -> its product's item (`product_item`), vector and colour names (from
        the ISNet cut: `photo_colors`); None when no item is found. Every catalogue-side path
        reads a photo here (import, re-embed, a store embedding a delta, `signage tag`).
        `colors`: False when the colours are known (the cut is not made)."""
        item = self.product_item(bgr, category)
        if item is None:
            return None
        iv = self.embed(bgr, item)
        return ProductPhoto(item, iv, self.photo_colors(bgr, item, iv) if colors else iv.colors)

    def photo_colors(self, bgr: np.ndarray, item: Item, iv: ItemVector | None = None) -> tuple[str, ...]:
        """Colour names of a product photo's item, for tags: from the ISNet cut of the photo where
        its backdrop is not plain (a plain one is already cut by its colour), else as embedded.
        The cut is first made at `cutout.first_size`, and made again at `cutout.size` only where
        that first one misses the item (covers under `first_cover` of the item's own mask)."""
        iv = iv or self.embed(bgr, item)
        if self.cutout is None or backdrop(bgr) is not None:
            return iv.colors
        x1, y1, x2, y2 = item.box
        crop = bgr[y1:y2, x1:x2]
        if self.first_cut is not None:
            cut = self.first_cut(bgr)[y1:y2, x1:x2]
            share = float(cut.mean())
            own = item.mask if item.mask is not None and item.mask.shape == cut.shape else None
            cover = float((cut & own).sum() / max(1, own.sum())) if own is not None else share
            if share >= MIN_CUT_SHARE and cover >= self.cfg.cutout.first_cover:
                return color_names(crop, cut, worn=item.worn)
        cut = self.cutout(bgr)[y1:y2, x1:x2]
        if cut.mean() < MIN_CUT_SHARE:
            return iv.colors
        return color_names(crop, cut, worn=item.worn)

    def colour_shares(self, bgr: np.ndarray) -> np.ndarray:
        """Each palette name's share of a product photo's item (worn by a model: without the
        model's skin); all zeros when no item is found. What the back office learns a catalogue's
        colour words from (edge/styling/backoffice.py): cheap, no cut is made."""
        item = self.product_item(bgr, "")
        return np.zeros(len(PALETTE), np.float32) if item is None else item_shares(bgr, item)

    def colors_of(self, bgr: np.ndarray) -> tuple[str, ...]:
        """Colour names of the frame's main item, from its own pixels."""
        return self.embed(bgr, self.main_item(bgr)).colors


def model_version(cfg) -> str:
    """The vector version this config's models produce, without loading them."""
    return embedder_version(ModelStore(cfg.models_dir).info("embedder").version, cfg.embedding.color_weight)
