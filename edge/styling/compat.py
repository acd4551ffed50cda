"""Which items go together, learned from real outfits (Polyvore) rather than written by hand.

Every item becomes a small set of attributes read from its name and colours (colour names on the
store's palette, materials, garment types, style words). From the training outfits the model
counts how often two attributes are worn together in one outfit, on two different items, against
how often chance would put them together: a smoothed pointwise mutual information (PMI). An
outfit's score is the mean PMI over its item pairs; the attribute pair that adds most is the
explanation a shopper reads ("navy goes with white").
"""
from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from ..errors import ModelMissing
from ..files import atomic_write
from ..taxonomy import SLOTS, Slot

# Words -> the palette names shoppers read on the cards (edge/vision/colors.py uses the same names).
COLOUR_WORDS = {
    "black": "black", "jet": "black", "noir": "black", "charcoal": "charcoal", "grey": "grey",
    "gray": "grey", "heather": "grey", "silver": "silver", "white": "white", "ivory": "white",
    "cream": "white", "offwhite": "white", "beige": "beige", "nude": "beige", "stone": "beige",
    "sand": "beige", "taupe": "beige", "brown": "brown", "chocolate": "brown", "cognac": "camel",
    "tan": "camel", "camel": "camel", "caramel": "camel", "khaki": "khaki", "olive": "olive",
    "green": "green", "emerald": "green", "mint": "green", "teal": "teal", "turquoise": "teal",
    "navy": "navy", "blue": "blue", "cobalt": "blue", "denim": "blue", "indigo": "navy",
    "light-blue": "light blue", "sky": "light blue", "purple": "purple", "lilac": "purple",
    "lavender": "purple", "plum": "purple", "pink": "pink", "blush": "pink", "rose": "pink",
    "fuchsia": "pink", "red": "red", "scarlet": "red", "burgundy": "burgundy", "wine": "burgundy",
    "maroon": "burgundy", "oxblood": "burgundy", "orange": "orange", "coral": "orange",
    "rust": "orange", "yellow": "yellow", "mustard": "yellow", "gold": "gold", "metallic": "gold",
}
# Words that name no attribute of the garment (shop names, sizes, marketing).
STOP = {
    "women", "womens", "woman", "s", "size", "plus", "new", "pre", "owned", "the", "and", "with",
    "in", "of", "a", "for", "by", "on", "t", "k", "x", "yoins", "de", "la", "le", "design", "color",
    "colour", "collection", "ladies", "girls", "mens", "man", "sale", "free", "shipping", "tone",
}
TOKEN = re.compile(r"[a-z]+")
ATTRIBUTE_CACHE = 200_000      # items whose attributes are kept parsed


def colour_of_word(word: str) -> str | None:
    return COLOUR_WORDS.get(word)


def attributes(slot: str, name: str = "", colors: tuple[str, ...] | list[str] = (),
               vocabulary: set[str] | None = None) -> set[str]:
    """An item's attributes: 'c:<colour>' from its colours and name, 'w:<word>' from its name."""
    out = {f"c:{c}" for c in colors if c}
    for word in TOKEN.findall((name or "").lower()):
        if word in STOP or len(word) < 3:
            continue
        col = colour_of_word(word)
        if col:
            out.add(f"c:{col}")
            if word != "denim":   # denim is a colour and a material
                continue
        if vocabulary is None or f"w:{word}" in vocabulary:
            out.add(f"w:{word}")
    out.add(f"slot:{slot}")
    return out


@dataclass
class CompatItem:
    slot: Slot
    name: str = ""
    colors: tuple[str, ...] = ()


@dataclass
class CompatModel:
    pair_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    pairs_total: int = 0
    prior: float = 2.0          # pseudo-count strength: rare pairs are pulled towards PMI 0
    min_count: int = 3          # attributes seen fewer times are not learned
    outfits: int = 0
    _attributes: dict = field(default_factory=dict, repr=False, compare=False)   # item -> its attributes

    # ---- learning -----------------------------------------------------------------------
    @classmethod
    def fit(cls, outfits: list[list[CompatItem]], prior: float = 2.0, min_count: int = 3) -> "CompatModel":
        words = Counter(a for o in outfits for it in o for a in attributes(it.slot, it.name, it.colors))
        vocab = {a for a, n in words.items() if n >= min_count}
        counts: Counter = Counter()
        pairs: Counter = Counter()
        total = 0
        for outfit in outfits:
            attrs = [attributes(it.slot, it.name, it.colors, vocab) & vocab for it in outfit]
            for a, b in combinations(range(len(attrs)), 2):
                total += 1
                for x in attrs[a]:
                    counts[x] += 1
                for x in attrs[b]:
                    counts[x] += 1
                for x in attrs[a]:
                    for y in attrs[b]:
                        if x != y:
                            pairs[tuple(sorted((x, y)))] += 1
        return cls(dict(pairs), dict(counts), total, prior, min_count, len(outfits))

    def pmi(self, a: str, b: str) -> float:
        if a == b or a not in self.counts or b not in self.counts:
            return 0.0
        # expected co-occurrences of a and b on two items of one outfit, if they were independent
        expected = self.counts[a] * self.counts[b] / (2.0 * max(self.pairs_total, 1))
        observed = self.pair_counts.get((a, b) if a < b else (b, a), 0)
        return math.log((observed + self.prior * expected) / ((1.0 + self.prior) * expected))

    # ---- scoring ------------------------------------------------------------------------
    def item_attributes(self, item: CompatItem) -> frozenset[str]:
        key = (item.slot, item.name, tuple(item.colors))
        found = self._attributes.get(key)
        if found is None:      # a catalogue's names recur in every look: parse each once
            if len(self._attributes) >= ATTRIBUTE_CACHE:
                self._attributes.clear()
            vocabulary = self.counts.keys()
            found = self._attributes[key] = frozenset(a for a in attributes(item.slot, item.name, item.colors)
                                                      if a in vocabulary)
        return found

    def pair_score(self, a: CompatItem | set[str], b: CompatItem | set[str]) -> float:
        aa = a if isinstance(a, (set, frozenset)) else self.item_attributes(a)
        bb = b if isinstance(b, (set, frozenset)) else self.item_attributes(b)
        if not aa or not bb:
            return 0.0
        return sum(self.pmi(x, y) for x in aa for y in bb) / math.sqrt(len(aa) * len(bb))

    def score(self, outfit: list[CompatItem]) -> float:
        attrs = [self.item_attributes(it) for it in outfit]
        pairs = list(combinations(range(len(attrs)), 2))
        if not pairs:
            return 0.0
        return sum(self.pair_score(attrs[i], attrs[j]) for i, j in pairs) / len(pairs)

    def pair_scores(self, anchor: CompatItem, items: list[CompatItem]) -> list[float]:
        """How well each item goes with the anchor."""
        aa = self.item_attributes(anchor)
        return [self.pair_score(aa, self.item_attributes(i)) for i in items]

    def reasons(self, a: CompatItem, b: CompatItem, most: int = 1) -> list[tuple[str, str, float]]:
        """The attribute pairs (of a, of b) that make a and b go together best, strongest first."""
        found = []
        for x in self.item_attributes(a):
            for y in self.item_attributes(b):
                if x.startswith("slot:") or y.startswith("slot:"):
                    continue
                p = self.pmi(x, y)
                if p > 0:
                    # colours and materials read better to a shopper than a shape word
                    found.append((x, y, p + (0.15 if x.startswith("c:") and y.startswith("c:") else 0.0)))
        found.sort(key=lambda t: -t[2])
        return found[:most]

    # ---- persistence --------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"format": 1, "prior": self.prior, "min_count": self.min_count, "outfits": self.outfits,
                "pairs_total": self.pairs_total, "counts": dict(sorted(self.counts.items())),
                "pair_counts": [[a, b, n] for (a, b), n in sorted(self.pair_counts.items())]}

    @classmethod
    def from_json(cls, data: dict) -> "CompatModel":
        return cls({(a, b): n for a, b, n in data["pair_counts"]}, dict(data["counts"]), data["pairs_total"],
                   data["prior"], data["min_count"], data["outfits"])

    def save(self, path: Path) -> None:
        atomic_write(Path(path), [json.dumps(self.to_json(), separators=(",", ":")).encode()])

    @classmethod
    def load(cls, path: Path) -> "CompatModel":
        return cls.from_json(json.loads(Path(path).read_text()))


TRAIN_HINT = "run `signage compat train --outfits ../shared/data/polyvore-outfits/outfits.json`"


def load_compat(path: Path) -> CompatModel:
    """The shipped compatibility model, or an error naming the command that makes it."""
    path = Path(path)
    if not path.is_file():
        raise ModelMissing(f"outfit compatibility model {path} not found: {TRAIN_HINT}")
    try:
        return CompatModel.load(path)
    except (ValueError, KeyError, TypeError) as e:
        raise ModelMissing(f"outfit compatibility model {path} is corrupt ({e}): {TRAIN_HINT}") from e


# ---- the Polyvore outfits and the held-out checks ---------------------------------------------
def load_polyvore(path: Path) -> list[tuple[str, list[CompatItem]]]:
    data = json.loads(Path(path).read_text())
    out = []
    for set_id in sorted(data):
        items = [CompatItem(slot, v["name"]) for slot, v in sorted(data[set_id].items(), key=lambda kv: kv[1]["index"])
                 if slot in SLOTS]
        out.append((set_id, items))
    return out


def split_outfits(outfits, seed: int = 0, held_out: float = 0.2):
    rng = random.Random(seed)
    order = list(range(len(outfits)))
    rng.shuffle(order)
    n = int(len(outfits) * held_out)
    test = {i for i in order[:n]}
    return [o for i, o in enumerate(outfits) if i not in test], [o for i, o in enumerate(outfits) if i in test]


def fitb_accuracy(model: CompatModel, outfits, seed: int = 0, candidates: int = 4) -> float:
    """Hide one item per outfit, offer it among `candidates`-1 items of its slot from other
    outfits, and count how often the real one gives the best-scoring outfit (chance 1/candidates)."""
    rng = random.Random(seed)
    by_slot: dict[str, list[tuple[int, CompatItem]]] = {}
    for i, (_, items) in enumerate(outfits):
        for it in items:
            by_slot.setdefault(it.slot, []).append((i, it))
    right = 0
    asked = 0
    for i, (_, items) in enumerate(outfits):
        if len(items) < 2:
            continue
        hide = rng.randrange(len(items))
        truth = items[hide]
        rest = items[:hide] + items[hide + 1:]
        pool = [it for j, it in by_slot[truth.slot] if j != i and it.name != truth.name]
        wrong = rng.sample(pool, candidates - 1)
        scores = [model.score(rest + [c]) for c in [truth] + wrong]
        asked += 1
        right += scores[0] > max(scores[1:])   # ties count against the model
    return right / max(asked, 1)


def compatibility_auc(model: CompatModel, outfits, seed: int = 0) -> float:
    """Real outfits against outfits of the same slots filled at random from other outfits."""
    rng = random.Random(seed)
    by_slot: dict[str, list[CompatItem]] = {}
    for _, items in outfits:
        for it in items:
            by_slot.setdefault(it.slot, []).append(it)
    pos = [model.score(items) for _, items in outfits]
    neg = [model.score([rng.choice(by_slot[it.slot]) for it in items]) for _, items in outfits]
    # AUC = P(real > random), ties half: the Mann-Whitney U statistic
    allv = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    rank_sum, i = 0.0, 0
    while i < len(allv):
        j = i
        while j < len(allv) and allv[j][0] == allv[i][0]:
            j += 1
        avg = (i + j + 1) / 2
        rank_sum += avg * sum(1 for k in range(i, j) if allv[k][1] == 1)
        i = j
    n1, n0 = len(pos), len(neg)
    return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)
