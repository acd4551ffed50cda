"""Which items go together, learned from real outfits over what their names mean.

Each item is the sentence vector of its text (name, then colours; edge/styling/text.py). One
shared projection W (384 -> 64) places every item in a style space; each pair of slots (upper +
bottom, bottom + shoe, ...) weighs that space's dimensions its own way (a mask m_st), because
what makes a top go with a bottom is not what makes shoes go with a bag (type-aware embeddings,
Vasileva et al. 2018, with the mask as the type projection):

    pair(i, j) = a_st (e_i . e_j) + sum_k m_st[k] (W e_i)_k (W e_j)_k + l_st shared(i, j) + b_st
    missing(i) = sum over the slots the outfit leaves empty t of  u_{s,t} . e_i
    outfit = mean over its pairs of pair(i, j) + missing(i) + missing(j)

The first term is what the sentence model alone says (items of one outfit tend to share style,
colour and material words); training starts from it (a_st = 1, W small) and learns the rest.
shared(i, j) is the words both names hold, each weighed by how rare it is among the training
names (idf): stylists put a brand, a colour or a material with itself, and a sentence vector
blurs an exact rare word ("stella mccartney", "python"). Alone it picks the real item of a
fill-in-the-blank question 0.38 of the time, as well as the sentence vectors alone (0.35).
missing(i) knows what an outfit without a top says about its bottom (a dress: 87 % of the
Polyvore bottoms with no upper beside them, 16 % of the others). The looks rank candidates for
an anchor by pair(anchor, item) alone: which slots a look leaves empty is not known then.

Trained with numpy (no torch at the store) on the Polyvore outfits: for every pair of items of a
training outfit, a random item of the second item's slot from another outfit must score lower
(a BPR loss), with Adam. Names it never saw still work: the sentence model puts "trainers" near
"sneakers", so what was learned for one carries to the other.

What the looks rank by is the mean of MEMBERS such models trained from different random starts
and draws of negatives (PairEnsemble), plus PMI_WEIGHT x the word-pair PMI score
(edge/styling/compat.py). Chosen by FITB on validation fifths of the training outfits of splits
0-4 (never their held-out fifths), mean of 5 x 3 draws: one model 0.460, three 0.464, one +
0.5 PMI 0.468, three + 0.25 PMI 0.473, three + 0.5 PMI 0.466, three + 1.0 PMI 0.469. A model
learned from 957 outfits varies with its random start; the PMI counts words the sentence
vectors blur.
"""
from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import atomic_write
from ..taxonomy import SLOTS
from .compat import TOKEN

DIM = 64
MEMBERS = 3           # pair models averaged (see the module's docstring)
PMI_WEIGHT = 0.25     # the word-pair PMI score's share of an outfit's score
REASON_CANDIDATES = 20   # word pairs worn together more than chance that the model ranks for "why"
PAIR_TYPES = [tuple(p) for p in itertools.combinations_with_replacement(SLOTS, 2)]
PAIR_INDEX = {p: i for i, p in enumerate(PAIR_TYPES)}


def pair_type(a: str, b: str) -> int:
    return PAIR_INDEX[(a, b) if SLOTS.index(a) <= SLOTS.index(b) else (b, a)]


def item_text(name: str, colors=()) -> str:
    """What the sentence model reads for an item: its name, and its colours when the name lacks them."""
    name = (name or "").strip()
    extra = [c for c in colors if c and c.lower() not in name.lower()]
    return f"{name}, {' '.join(extra)}" if extra else name


def words_of(text: str) -> frozenset[str]:
    return frozenset(TOKEN.findall((text or "").lower()))


@dataclass
class Lexicon:
    """How rare each word is among the training names: log((N + 1) / (df + 1)); a word never seen
    counts as the rarest (a brand the outfits never had is still a brand)."""
    idf: dict[str, float]
    unseen: float

    @classmethod
    def fit(cls, texts: list[str]) -> "Lexicon":
        df: dict[str, int] = {}
        for t in texts:
            for w in words_of(t):
                df[w] = df.get(w, 0) + 1
        n = len(texts)
        return cls({w: float(np.log((n + 1) / (k + 1))) for w, k in df.items()}, float(np.log(n + 1)))

    def shared(self, a: frozenset[str], b: frozenset[str]) -> float:
        return sum(self.idf.get(w, self.unseen) for w in a & b)

    def shared_rows(self, a: list[frozenset[str]], b: list[frozenset[str]]) -> np.ndarray:
        return np.array([self.shared(x, y) for x, y in zip(a, b)], np.float32)


@dataclass
class PairModel:
    w: np.ndarray            # [DIM, 384]
    masks: np.ndarray        # [len(PAIR_TYPES), DIM]
    bias: np.ndarray         # [len(PAIR_TYPES)]
    alpha: np.ndarray        # [len(PAIR_TYPES)] weight of the plain cosine
    lex: np.ndarray          # [len(PAIR_TYPES)] weight of the rare words both names share
    absent: np.ndarray       # [slot, missing slot, 384]: what an item is like when a slot is empty
    lexicon: Lexicon
    text_version: str = ""   # the sentence model the vectors must come from

    def pair_scores(self, ei: np.ndarray, ej: np.ndarray, types: np.ndarray, shared: np.ndarray) -> np.ndarray:
        """Rows of sentence vectors of items i and j, their pair types and the idf of the words
        they share (Lexicon.shared_rows) -> one score per row."""
        zi, zj = ei @ self.w.T, ej @ self.w.T
        return (self.alpha[types] * (ei * ej).sum(-1) + (self.masks[types] * zi * zj).sum(-1)
                + self.lex[types] * shared + self.bias[types])

    def missing_terms(self, slots: list[str], vectors: np.ndarray) -> np.ndarray:
        """Each item's term for the slots its outfit leaves empty (a bottom with no upper beside
        it is a dress far more often than not): one value per item."""
        missing = np.array([float(t not in slots) for t in SLOTS], np.float32)
        rows = self.absent[[SLOTS.index(s) for s in slots]]          # [items, slots, 384]
        return np.einsum("isd,id,s->i", rows, vectors, missing)

    # ---- learning ---------------------------------------------------------------------------
    @classmethod
    def fit(cls, outfits: list[list[tuple[str, np.ndarray, str]]], epochs: int = 40, rate: float = 1e-2,
            l2: float = 1e-3, batch: int = 256, seed: int = 0, text_version: str = "",
            init: float = 1.0, absent_l2: float = 1e-2) -> "PairModel":
        """outfits: each a list of (slot, sentence vector, text). The defaults were chosen by FITB
        on a validation fifth of the training outfits (splits 0 and 1), never on the held-out
        fifth: l2 1e-3 against 1e-4 was the one clear difference (0.44 vs 0.40); absent_l2 1e-2
        against 1e-1, 1e-3, 1e-4: 0.462, 0.452, 0.457, 0.434. DIM 32, 64, 128, 256: 0.43, 0.46,
        0.47, 0.45, and 64 against 128 on splits 0-3: 0.442, 0.439 (64 kept)."""
        rng = np.random.default_rng(seed)
        dim_in = outfits[0][0][1].shape[0]
        w = rng.standard_normal((DIM, dim_in)).astype(np.float32) / np.sqrt(dim_in) * init
        masks = np.ones((len(PAIR_TYPES), DIM), np.float32)
        bias = np.zeros(len(PAIR_TYPES), np.float32)
        alpha = np.ones(len(PAIR_TYPES), np.float32)
        lex = np.zeros(len(PAIR_TYPES), np.float32)
        absent = np.zeros((len(SLOTS), len(SLOTS), dim_in), np.float32)
        params = [w, masks, bias, alpha, lex, absent]
        m1 = [np.zeros_like(p) for p in params]
        m2 = [np.zeros_like(p) for p in params]
        step = 0
        vec = np.stack([v for o in outfits for _, v, _ in o]).astype(np.float32)
        slot_of = [s for o in outfits for s, _, _ in o]
        texts = [t for o in outfits for _, _, t in o]
        lexicon = Lexicon.fit(texts)
        words = [words_of(t) for t in texts]
        by_slot = {s: np.array([i for i, t in enumerate(slot_of) if t == s]) for s in set(slot_of)}
        starts = np.cumsum([0] + [len(o) for o in outfits])
        pairs = np.array([(starts[k] + a, starts[k] + b) for k, o in enumerate(outfits)
                          for a, b in itertools.permutations(range(len(o)), 2)])
        types = np.array([pair_type(slot_of[i], slot_of[j]) for i, j in pairs])
        slot_ix = np.array([SLOTS.index(x) for x in slot_of])
        missing = np.array([[float(t not in {x[0] for x in o}) for t in SLOTS] for o in outfits], np.float32)
        outfit_of = np.repeat(np.arange(len(outfits)), [len(o) for o in outfits])
        shared_of = lambda a, b: lexicon.shared_rows([words[x] for x in a], [words[y] for y in b])  # noqa: E731
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
                lex_gap = shared_of(i, neg) - shared_of(i, j)
                gap = en - ej
                miss = missing[outfit_of[j]]                  # [batch, slots] of j's outfit
                rows_of = [(k, np.flatnonzero(slot_ix[j] == k)) for k in range(len(SLOTS))]
                unary_gap = np.zeros(len(idx), np.float32)
                for k, rows in rows_of:
                    unary_gap[rows] = ((gap[rows] @ absent[k].T) * miss[rows]).sum(-1)
                diff = ((m * u * (vn - v)).sum(-1) + alpha[t] * cos_gap + lex[t] * lex_gap
                        + unary_gap)                          # s' - s (biases cancel)
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
                d_lex = np.zeros_like(lex)
                np.add.at(d_lex, t, g[:, 0] * lex_gap)
                d_absent = np.empty_like(absent)
                for k, rows in rows_of:
                    d_absent[k] = (g[rows] * miss[rows]).T @ gap[rows]
                d_absent += absent_l2 * absent
                grads = [d_w, d_masks, np.zeros_like(bias), d_alpha, d_lex, d_absent]
                step += 1
                for p, gr, a, b in zip(params, grads, m1, m2):
                    a *= 0.9
                    a += 0.1 * gr
                    b *= 0.999
                    b += 0.001 * gr * gr
                    p -= rate * (a / (1 - 0.9 ** step)) / (np.sqrt(b / (1 - 0.999 ** step)) + 1e-8)
        # the pair-type bias: the mean score of real pairs of that type, so outfits of different
        # shapes (with or without a bag) score on one scale
        model = cls(w, masks, bias, alpha, lex, absent, lexicon, text_version)
        real = model.pair_scores(vec[pairs[:, 0]], vec[pairs[:, 1]], types, shared_of(pairs[:, 0], pairs[:, 1]))
        # one scale for the looks' bonuses and margins (edge/styling/looks.py): real pairs score
        # 0 on average for each pair type, with a spread of 1 overall
        spread = max(float(real.std()), 1e-6)
        for k in range(len(PAIR_TYPES)):
            if (types == k).any():
                bias[k] = -float(real[types == k].mean())
        masks /= spread
        alpha /= spread
        lex /= spread
        absent /= spread
        bias /= spread
        return model

    ARRAYS = ("w", "masks", "bias", "alpha", "lex", "absent")


@dataclass
class PairEnsemble:
    """The mean of several PairModels of one training set (same lexicon, same sentence model)."""
    members: list[PairModel]

    @property
    def lexicon(self) -> Lexicon:
        return self.members[0].lexicon

    @property
    def text_version(self) -> str:
        return self.members[0].text_version

    def pair_scores(self, ei: np.ndarray, ej: np.ndarray, types: np.ndarray, shared: np.ndarray) -> np.ndarray:
        return np.mean([m.pair_scores(ei, ej, types, shared) for m in self.members], axis=0)

    def missing_terms(self, slots: list[str], vectors: np.ndarray) -> np.ndarray:
        return np.mean([m.missing_terms(slots, vectors) for m in self.members], axis=0)

    def outfit_score(self, slots: list[str], vectors: np.ndarray, words: list[frozenset[str]]) -> float:
        """The mean over the outfit's item pairs of pair(i, j) + missing(i) + missing(j)."""
        pairs = list(itertools.combinations(range(len(slots)), 2))
        if not pairs:
            return 0.0
        a, b = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        types = np.array([pair_type(slots[i], slots[j]) for i, j in pairs])
        shared = self.lexicon.shared_rows([words[i] for i in a], [words[j] for j in b])
        unary = self.missing_terms(slots, vectors)
        return float((self.pair_scores(vectors[a], vectors[b], types, shared) + unary[a] + unary[b]).mean())

    # ---- persistence ------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        buf = io.BytesIO()
        words = sorted(self.lexicon.idf)
        arrays = {f"m{k}_{name}": getattr(m, name) for k, m in enumerate(self.members) for name in PairModel.ARRAYS}
        np.savez(buf, members=np.int32(len(self.members)), **arrays,
                 words=np.array(words), idf=np.array([self.lexicon.idf[w] for w in words], np.float32),
                 unseen=np.float32(self.lexicon.unseen), text_version=np.array(self.text_version),
                 pair_types=np.array(["+".join(p) for p in PAIR_TYPES]))
        atomic_write(Path(path), [buf.getvalue()])

    @classmethod
    def load(cls, path: Path) -> "PairEnsemble":
        with np.load(Path(path)) as z:
            if [str(x) for x in z["pair_types"]] != ["+".join(p) for p in PAIR_TYPES]:
                raise ValueError("made for other slots than taxonomy.SLOTS")
            lexicon = Lexicon({str(w): float(x) for w, x in zip(z["words"], z["idf"])}, float(z["unseen"]))
            return cls([PairModel(*(z[f"m{k}_{name}"].astype(np.float32) for name in PairModel.ARRAYS),
                                  lexicon, str(z["text_version"])) for k in range(int(z["members"]))])


def fit_pairs(outfits, text, seed: int = 0, members: int = MEMBERS) -> PairEnsemble:
    """The pair models from outfits of CompatItems, every name through the text model once; member
    k starts from random seed 10 x seed + k."""
    texts = [[item_text(i.name, i.colors) for i in items] for items in outfits]
    vectors = text([t for ts in texts for t in ts])
    at = np.cumsum([0] + [len(ts) for ts in texts])
    rows = [[(i.slot, vectors[at[k] + n], t) for n, (i, t) in enumerate(zip(items, texts[k]))]
            for k, items in enumerate(outfits)]
    return PairEnsemble([PairModel.fit(rows, seed=10 * seed + k, text_version=text.version) for k in range(members)])


class TextCompat:
    """Outfit compatibility for the looks and `signage compat score`: the pair models over sentence
    vectors, plus PMI_WEIGHT x the word-pair PMI model (edge/styling/compat.py, the baseline they
    beat), which also finds the words a shopper reads in the explanation ("navy goes with white")."""

    def __init__(self, pairs: PairEnsemble, text, pmi, pmi_weight: float = PMI_WEIGHT):
        self.pairs = pairs
        self.text = text            # TextEmbedder
        self.pmi = pmi              # CompatModel
        self.pmi_weight = pmi_weight

    def vectors(self, items) -> np.ndarray:
        return self.text([item_text(i.name, i.colors) for i in items])

    @staticmethod
    def word_sets(items) -> list[frozenset[str]]:
        return [words_of(item_text(i.name, i.colors)) for i in items]

    def score(self, outfit) -> float:
        s = self.pairs.outfit_score([i.slot for i in outfit], self.vectors(outfit), self.word_sets(outfit))
        return s + self.pmi_weight * self.pmi.score(outfit)

    def pair_scores(self, anchor, items) -> np.ndarray:
        """How well each item goes with the anchor (one batched pass: a catalogue at a time)."""
        if not items:
            return np.zeros(0, np.float32)
        v = self.vectors([anchor] + list(items))
        types = np.array([pair_type(anchor.slot, i.slot) for i in items])
        words = self.word_sets([anchor] + list(items))
        shared = self.pairs.lexicon.shared_rows(words[:1] * len(items), words[1:])
        s = self.pairs.pair_scores(np.repeat(v[:1], len(items), 0), v[1:], types, shared)
        return s + self.pmi_weight * np.asarray(self.pmi.pair_scores(anchor, list(items)), np.float32)

    def reasons(self, a, b, most: int = 1) -> list[tuple[str, str, float]]:
        """The attribute pairs (of a, of b) that explain why a and b go together, strongest first
        by this model: the pair models' score of the two words as items of a's and b's slots,
        plus PMI_WEIGHT x their PMI and the PMI model's nudge for colour pairs. Only pairs worn
        together more often than chance (PMI > 0) are candidates: a reason must be true of the
        outfits, not only near in meaning."""
        found = self.pmi.reasons(a, b, most=REASON_CANDIDATES)
        if not found:
            return []
        words = [(x.split(":", 1)[1], y.split(":", 1)[1]) for x, y, _ in found]
        v = self.text([w for pair in words for w in pair])
        types = np.full(len(found), pair_type(a.slot, b.slot))
        shared = np.array([self.pairs.lexicon.shared(words_of(x), words_of(y)) for x, y in words], np.float32)
        model = self.pairs.pair_scores(v[0::2], v[1::2], types, shared)
        scored = [(x, y, float(m) + self.pmi_weight * p) for (x, y, p), m in zip(found, model)]
        return sorted(scored, key=lambda r: -r[2])[:most]


def load_text_compat(models_dir: Path, store) -> TextCompat:
    """The shipped pair model + the text model + the PMI words, or an error naming the command."""
    from ..errors import ModelMissing
    from .compat import TRAIN_HINT, load_compat
    from .text import text_embedder
    path = store.verify_trained(Path(models_dir) / "compat-text.npz", TRAIN_HINT)
    store.verify_trained(Path(models_dir) / "compat.json", TRAIN_HINT)
    try:
        pairs = PairEnsemble.load(path)
    except (ValueError, KeyError, OSError) as e:
        raise ModelMissing(f"outfit compatibility model {path} is corrupt ({e}): {TRAIN_HINT}") from e
    text = text_embedder(store)
    if pairs.text_version and pairs.text_version != text.version:
        raise ModelMissing(f"{path} was trained on vectors of {pairs.text_version}, the text model is "
                           f"{text.version}: {TRAIN_HINT}")
    return TextCompat(pairs, text, load_compat(Path(models_dir) / "compat.json"))
