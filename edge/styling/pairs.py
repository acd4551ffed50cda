"""Which items go together, learned from real outfits over what their names mean.

Each item is the sentence vector of its text (name, then colours; edge/styling/text.py). One
shared projection W (384 -> 64) places every item in a style space; each pair of slots (upper +
bottom, bottom + shoe, ...) weighs that space's dimensions its own way (a mask m_st), because
what makes a top go with a bottom is not what makes shoes go with a bag (type-aware embeddings,
Vasileva et al. 2018, with the mask as the type projection):

    pair(i, j) = a_st (e_i . e_j) + sum_k m_st[k] (W e_i)_k (W e_j)_k + b_st
    outfit = mean over its pairs

The first term is what the sentence model alone says (items of one outfit tend to share style,
colour and material words); training starts from it (a_st = 1, W small) and learns the rest.

Trained with numpy (no torch at the store) on the Polyvore outfits: for every pair of items of a
training outfit, a random item of the second item's slot from another outfit must score lower
(a BPR loss), with Adam. Names it never saw still work: the sentence model puts "trainers" near
"sneakers", so what was learned for one carries to the other.
"""
from __future__ import annotations

import io
import itertools
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import atomic_write
from ..taxonomy import SLOTS

DIM = 64
PAIR_TYPES = [tuple(p) for p in itertools.combinations_with_replacement(SLOTS, 2)]
PAIR_INDEX = {p: i for i, p in enumerate(PAIR_TYPES)}


def pair_type(a: str, b: str) -> int:
    return PAIR_INDEX[(a, b) if SLOTS.index(a) <= SLOTS.index(b) else (b, a)]


def item_text(name: str, colors=()) -> str:
    """What the sentence model reads for an item: its name, and its colours when the name lacks them."""
    name = (name or "").strip()
    extra = [c for c in colors if c and c.lower() not in name.lower()]
    return f"{name}, {' '.join(extra)}" if extra else name


@dataclass
class PairModel:
    w: np.ndarray            # [DIM, 384]
    masks: np.ndarray        # [len(PAIR_TYPES), DIM]
    bias: np.ndarray         # [len(PAIR_TYPES)]
    alpha: np.ndarray        # [len(PAIR_TYPES)] weight of the plain cosine
    text_version: str = ""   # the sentence model the vectors must come from

    def pair_scores(self, ei: np.ndarray, ej: np.ndarray, types: np.ndarray) -> np.ndarray:
        """Rows of sentence vectors of items i and j, and their pair types -> one score per row."""
        zi, zj = ei @ self.w.T, ej @ self.w.T
        return self.alpha[types] * (ei * ej).sum(-1) + (self.masks[types] * zi * zj).sum(-1) + self.bias[types]

    def outfit_score(self, slots: list[str], vectors: np.ndarray) -> float:
        pairs = list(itertools.combinations(range(len(slots)), 2))
        if not pairs:
            return 0.0
        a, b = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        types = np.array([pair_type(slots[i], slots[j]) for i, j in pairs])
        return float(self.pair_scores(vectors[a], vectors[b], types).mean())

    # ---- learning ---------------------------------------------------------------------------
    @classmethod
    def fit(cls, outfits: list[list[tuple[str, np.ndarray]]], epochs: int = 40, rate: float = 1e-2,
            l2: float = 1e-3, batch: int = 256, seed: int = 0, text_version: str = "",
            init: float = 1.0) -> "PairModel":
        """outfits: each a list of (slot, sentence vector). The defaults were chosen by FITB on a
        validation fifth of the training outfits (splits 0 and 1), never on the held-out fifth:
        l2 1e-3 against 1e-4 was the one clear difference (0.44 vs 0.40)."""
        rng = np.random.default_rng(seed)
        dim_in = outfits[0][0][1].shape[0]
        w = rng.standard_normal((DIM, dim_in)).astype(np.float32) / np.sqrt(dim_in) * init
        masks = np.ones((len(PAIR_TYPES), DIM), np.float32)
        bias = np.zeros(len(PAIR_TYPES), np.float32)
        alpha = np.ones(len(PAIR_TYPES), np.float32)
        params = [w, masks, bias, alpha]
        m1 = [np.zeros_like(p) for p in params]
        m2 = [np.zeros_like(p) for p in params]
        step = 0
        vec = np.stack([v for o in outfits for _, v in o]).astype(np.float32)
        slot_of = [s for o in outfits for s, _ in o]
        by_slot = {s: np.array([i for i, t in enumerate(slot_of) if t == s]) for s in set(slot_of)}
        starts = np.cumsum([0] + [len(o) for o in outfits])
        pairs = np.array([(starts[k] + a, starts[k] + b) for k, o in enumerate(outfits)
                          for a, b in itertools.permutations(range(len(o)), 2)])
        types = np.array([pair_type(slot_of[i], slot_of[j]) for i, j in pairs])
        for _ in range(epochs):
            order = rng.permutation(len(pairs))
            for s in range(0, len(order), batch):
                idx = order[s:s + batch]
                i, j = pairs[idx, 0], pairs[idx, 1]
                # a negative: an item of j's slot from another outfit (a rare draw from j's own
                # outfit is a weak negative, left as it is)
                neg = np.array([pool[rng.integers(len(pool))] for pool in (by_slot[slot_of[x]] for x in j)])
                t = types[idx]
                ei, ej, en = vec[i], vec[j], vec[neg]
                u, v, vn = ei @ w.T, ej @ w.T, en @ w.T
                m = masks[t]
                cos_gap = (ei * (en - ej)).sum(-1)
                diff = (m * u * (vn - v)).sum(-1) + alpha[t] * cos_gap      # s' - s (biases cancel)
                g = 1.0 / (1.0 + np.exp(-diff))               # d softplus(s' - s) / d(s' - s)
                g = (g / len(idx))[:, None]
                d_m = g * u * (vn - v)
                d_u = g * m * (vn - v)
                d_v = -g * m * u
                d_vn = g * m * u
                d_w = d_u.T @ ei + d_v.T @ ej + d_vn.T @ en + l2 * w
                d_masks = np.zeros_like(masks)
                np.add.at(d_masks, t, d_m)
                d_masks += l2 * (masks - 1.0)
                d_alpha = np.zeros_like(alpha)
                np.add.at(d_alpha, t, g[:, 0] * cos_gap)
                grads = [d_w, d_masks, np.zeros_like(bias), d_alpha]
                step += 1
                for p, gr, a, b in zip(params, grads, m1, m2):
                    a *= 0.9
                    a += 0.1 * gr
                    b *= 0.999
                    b += 0.001 * gr * gr
                    p -= rate * (a / (1 - 0.9 ** step)) / (np.sqrt(b / (1 - 0.999 ** step)) + 1e-8)
        # the pair-type bias: the mean score of real pairs of that type, so outfits of different
        # shapes (with or without a bag) score on one scale
        model = cls(w, masks, bias, alpha, text_version)
        real = model.pair_scores(vec[pairs[:, 0]], vec[pairs[:, 1]], types)
        # one scale for the looks' bonuses and margins (edge/styling/looks.py): real pairs score
        # 0 on average for each pair type, with a spread of 1 overall
        spread = max(float(real.std()), 1e-6)
        for k in range(len(PAIR_TYPES)):
            if (types == k).any():
                bias[k] = -float(real[types == k].mean())
        masks /= spread
        alpha /= spread
        bias /= spread
        return model

    # ---- persistence ------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        buf = io.BytesIO()
        np.savez(buf, w=self.w, masks=self.masks, bias=self.bias, alpha=self.alpha,
                 text_version=np.array(self.text_version),
                 pair_types=np.array(["+".join(p) for p in PAIR_TYPES]))
        atomic_write(Path(path), [buf.getvalue()])

    @classmethod
    def load(cls, path: Path) -> "PairModel":
        with np.load(Path(path)) as z:
            if [str(x) for x in z["pair_types"]] != ["+".join(p) for p in PAIR_TYPES]:
                raise ValueError("made for other slots than taxonomy.SLOTS")
            return cls(z["w"].astype(np.float32), z["masks"].astype(np.float32), z["bias"].astype(np.float32),
                       z["alpha"].astype(np.float32), str(z["text_version"]))


class TextCompat:
    """Outfit compatibility for the looks and `signage compat score`: the pair model over sentence
    vectors ranks; the word-pair PMI model (edge/styling/compat.py, the baseline it beat) still
    finds the words a shopper reads in the explanation ("navy goes with white")."""

    def __init__(self, pairs: PairModel, text, words):
        self.pairs = pairs
        self.text = text            # TextEmbedder
        self.words = words          # CompatModel (PMI)

    def vectors(self, items) -> np.ndarray:
        return self.text([item_text(i.name, i.colors) for i in items])

    def score(self, outfit) -> float:
        return self.pairs.outfit_score([i.slot for i in outfit], self.vectors(outfit))

    def pair_scores(self, anchor, items) -> np.ndarray:
        """How well each item goes with the anchor (one batched pass: a catalogue at a time)."""
        if not items:
            return np.zeros(0, np.float32)
        v = self.vectors([anchor] + list(items))
        types = np.array([pair_type(anchor.slot, i.slot) for i in items])
        return self.pairs.pair_scores(np.repeat(v[:1], len(items), 0), v[1:], types)

    def reasons(self, a, b, most: int = 1):
        return self.words.reasons(a, b, most)


def load_text_compat(models_dir: Path, store) -> TextCompat:
    """The shipped pair model + the text model + the PMI words, or an error naming the command."""
    from ..errors import ModelMissing
    from .compat import TRAIN_HINT, load_compat
    from .text import text_embedder
    path = Path(models_dir) / "compat-text.npz"
    if not path.is_file():
        raise ModelMissing(f"outfit compatibility model {path} not found: {TRAIN_HINT}")
    try:
        pairs = PairModel.load(path)
    except (ValueError, KeyError, OSError) as e:
        raise ModelMissing(f"outfit compatibility model {path} is corrupt ({e}): {TRAIN_HINT}") from e
    text = text_embedder(store)
    if pairs.text_version and pairs.text_version != text.version:
        raise ModelMissing(f"{path} was trained on vectors of {pairs.text_version}, the text model is "
                           f"{text.version}: {TRAIN_HINT}")
    return TextCompat(pairs, text, load_compat(Path(models_dir) / "compat.json"))
