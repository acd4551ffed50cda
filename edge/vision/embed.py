"""Item -> vector: EfficientNet-Lite0 features joined with the colour of the item's own pixels.

Measured on the CC0 photos (bench/quality.py): the CNN separates categories, colour finds the same garment;
both together beat either. Each part is L2-normalised and weighted so the joined vector is unit
length and a dot product is a cosine similarity.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..params import param
from ..types import Item, ItemVector
from .colors import HIST_DIM, color_histogram, names_of_shares, palette_shares
from .saliency import backdrop, off_backdrop

INPUT = 224
CNN_DIM = 1280
DIM = CNN_DIM + HIST_DIM
COLOR_VERSION = "hsv8x4x4"


def shape_query(vector: np.ndarray) -> np.ndarray:
    """The CNN part of a joined vector (colour zeroed): a dot product with a stored vector then
    ranks by the CNN alone, which is what tells categories apart (colour does not)."""
    q = np.array(vector, np.float32, copy=True)
    q[CNN_DIM:] = 0.0
    return q / max(float(np.linalg.norm(q)), 1e-9)


def colour_part(vector: np.ndarray) -> np.ndarray | None:
    """The colour histogram a joined vector carries (unit length, as color_histogram gives it),
    or None when the vector was made with no colour weight."""
    h = np.asarray(vector, np.float32)[CNN_DIM:]
    n = float(np.linalg.norm(h))
    return h / n if n > 1e-6 else None


def item_crop(bgr: np.ndarray, item: Item) -> tuple[np.ndarray, np.ndarray | None]:
    x1, y1, x2, y2 = item.box
    crop = bgr[y1:y2, x1:x2]
    mask = item.mask if item.mask is not None and item.mask.shape == crop.shape[:2] else None
    return crop, mask


def square_canvas(crop: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The crop (background greyed out where a mask is given) centred on a square of neutral grey."""
    if mask is not None:
        crop = np.where(mask[..., None], crop, np.uint8(127))
    h, w = crop.shape[:2]
    side = max(h, w)
    canvas = np.full((side, side, 3), 127, np.uint8)
    canvas[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = crop
    return canvas


def to_tensor(bgr: np.ndarray, side: int = INPUT) -> np.ndarray:
    """A BGR image -> an EfficientNet-Lite's input: side px square, RGB, (x - 127) / 128, CHW."""
    rgb = cv2.cvtColor(cv2.resize(bgr, (side, side), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    return ((rgb.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)


@dataclass(frozen=True)
class EmbedParams:
    """The `embedding` section of the config."""
    color_weight: float = param(0.35, "share of the vector's energy given to the colour histogram (the rest is "
                                "the CNN's); a change re-embeds the catalogue", lo=0, hi=1)


def naming_mask(bgr: np.ndarray, crop: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
    """The pixels a colour is named from: the item's own mask, or, for an item without one (a shoe
    box) on a plain backdrop, the crop's pixels that are not the backdrop's colour. (Names only:
    the vector keeps its colour histogram as it was, so stored catalogue vectors stay valid.)"""
    if mask is not None:
        return mask
    plain = backdrop(bgr)
    if plain is None:
        return None
    cut = off_backdrop(crop, plain)
    return cut if 0.05 <= cut.mean() <= 0.98 else None


def item_shares(bgr: np.ndarray, item: Item) -> np.ndarray:
    """Each palette name's share of the pixels an item's colour is named from (`naming_mask`; a
    picture held up: the garment cut inside it, `colour_mask`; worn by someone: without skin
    tones). Its first names are the item's colour names."""
    crop, mask = item_crop(bgr, item)
    if item.colour_mask is not None and item.colour_mask.shape == crop.shape[:2]:
        mask = item.colour_mask
    return palette_shares(crop, naming_mask(bgr, crop, mask), worn=item.worn)


def embedder_version(model_version: str, color_weight: float) -> str:
    """What a vector was made with: the CNN's weights, the colour descriptor and its weight."""
    return f"{model_version}+{COLOR_VERSION}@{color_weight:g}"


class Embedder:
    def __init__(self, compiled_model, model_version: str, params: EmbedParams = EmbedParams()):
        self.request = compiled_model.create_infer_request()
        self.runs = 0        # model runs so far (the live loop budgets its frames by them)
        self.color_weight = params.color_weight
        self.version = embedder_version(model_version, params.color_weight)

    @staticmethod
    def preprocess(crop: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Pad to a square with neutral grey (keeps the garment's shape), background greyed out."""
        return to_tensor(square_canvas(crop, mask))[None]

    def features(self, crop: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        self.runs += 1
        self.request.infer({0: self.preprocess(crop, mask)})
        f = self.request.get_output_tensor(0).data[0].astype(np.float32).copy()
        return f / max(float(np.linalg.norm(f)), 1e-9)

    def join(self, cnn: np.ndarray, hist: np.ndarray) -> np.ndarray:
        w = self.color_weight
        v = np.concatenate([cnn * np.sqrt(1.0 - w), hist * np.sqrt(w)]).astype(np.float32)
        return v / max(float(np.linalg.norm(v)), 1e-9)

    def __call__(self, bgr: np.ndarray, item: Item) -> ItemVector:
        crop, mask = item_crop(bgr, item)
        vec = self.join(self.features(crop, mask), color_histogram(crop, mask))
        return ItemVector(item, vec, names_of_shares(item_shares(bgr, item)), self.version)
