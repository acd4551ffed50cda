"""A product photo -> the product's own pixels, cut from whatever it was photographed on (ISNet).

Used where time allows (catalogue import, `signage tag`): about 0.4 s a photo at 512 px on two
cores (f32), far too slow for the live loop, which keeps the person mask and GrabCut cut.
A photo on a plain backdrop is already cut by the backdrop's colour, so it skips the model.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CutoutParams:
    """The `cutout` section of the config (validated there)."""
    # Name catalogue photos' colours from the ISNet cut (off: the live loop's cut, ~0.4 s less a photo).
    catalogue: bool = True
    # A pixel is the product's where the model's mask is at least this.
    threshold: float = 0.5


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
