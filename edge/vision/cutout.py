"""A product photo -> the product's own pixels, cut from whatever it was photographed on (ISNet).

Used where time allows (catalogue import, `signage tag`), never in the live loop, which keeps the
person mask and GrabCut cut. Run from its INT8 copy (`cutout.int8`) at `cutout.size` (512, as
exported): ~100 ms a photo on two cores with AVX-512, ~240 ms on AVX2 (bench/cutout.py). Alone at
256 px (~28 / ~65 ms) the cut misses the garment far more often on busy backdrops (under 30 % of
its own mask covered: 17 % of busy photos vs 7 % at 512; a shirt on the baboon photo loses to
the face), so 256 is a first cut (`cutout.first_size`): its cut names the colours where it covers
at least `first_cover` of the item's own mask (the live loop's cut), and the 512 px cut is made
only where it does not (a fifth to a quarter of busy-backdrop photos: Vision.photo_colors).
A photo on a plain backdrop is already cut by the backdrop's colour, so it skips the model.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ConfigError
from ..params import param


@dataclass(frozen=True)
class CutoutParams:
    """The `cutout` section of the config: ISNet cuts catalogue photos from their backdrop before
    their colours are named."""
    catalogue: bool = param(True, "name catalogue photos' colours from the ISNet cut (false: the live loop's "
                            "cut, ~0.4 s less a photo)")
    threshold: float = param(0.5, "a pixel is the product's where ISNet's mask is at least this", lo=0, hi=1)
    # ISNet halves the image six times and concatenates each level with the one upsampled from
    # below: 416 (13 x 32) gives 7 and 6 rows there and does not compile; multiples of 64 do.
    size: int = param(512, "the square a photo is resized to for ISNet (256 is ~3.5x faster but cuts busy "
                      "backdrops worse)", lo=128, hi=1024, multiple_of=64)
    int8: bool = param(True, "ISNet's INT8 copy (`signage models quantize`): the same cut in about half the time")
    first_size: int = param(256, "a first cut this small (0: none); the full-size cut only where it misses "
                            "the item", lo=0, hi=1024)
    first_cover: float = param(0.3, "the small cut 'misses' where it covers under this share of the item's "
                               "own mask", lo=0, hi=1)

    def check_together(self, prefix: str) -> None:
        if self.first_size and not (128 <= self.first_size <= self.size and self.first_size % 64 == 0):
            raise ConfigError(f"config key '{prefix}first_size': 0 (no first cut) or a multiple of 64 from 128 "
                              f"to cutout.size ({self.size}), got {self.first_size}")


class Cutout:
    """ISNet, as `signage models build` converts it: RGB (x-128)/256 in, a [0,1] mask out."""

    def __init__(self, compiled_model, params: CutoutParams = CutoutParams()):
        self.request = compiled_model.create_infer_request()
        self.size = int(compiled_model.inputs[0].get_partial_shape()[2].get_length())
        self.threshold = params.threshold

    def preprocess(self, bgr: np.ndarray) -> np.ndarray:
        rgb = cv2.cvtColor(cv2.resize(bgr, (self.size, self.size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        return ((rgb.astype(np.float32) - 128.0) / 256.0).transpose(2, 0, 1)[None]

    def soft(self, bgr: np.ndarray) -> np.ndarray:
        """The model's mask in [0, 1] at the photo's size."""
        self.request.infer({0: self.preprocess(bgr)})
        mask = self.request.get_output_tensor(0).data[0, 0]
        return cv2.resize(mask, (bgr.shape[1], bgr.shape[0]), interpolation=cv2.INTER_LINEAR)

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        """The product's pixels (bool, the photo's size); all False when the model found nothing."""
        return self.soft(bgr) >= self.threshold
