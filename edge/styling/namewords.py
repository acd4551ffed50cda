"""Words for a new arrival's description from what the catalogue's own names say about similar
products: "printed", "slim", "polo", "leather", in the catalogue's own language.

A word is said of a new photo only when every one of its K most similar catalogue photos has it
in its name, and only a word that this vote got right on the catalogue itself (each product left
out in turn, its neighbours voting) at least WORD_PRECISION of the time: a description never
claims what the catalogue's names do not support, and on a catalogue whose words a photo cannot
tell apart it says none. Chosen on the tune half of bench/backoffice.py (shop photos).
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

K = 10                  # similar catalogue products that vote (5, 10 and 20 tried on the tune half)
WORD_PRECISION = 0.9    # a word's vote right this often on the catalogue itself, or it is never said
MIN_PRODUCTS = 5        # a word in fewer names is not learned (nor judged)
MAX_SHARE = 0.3         # a word in more of the names says nothing of one product ("men", "women")
_WORD = re.compile(r"[^\W\d_]+")


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _unit(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)


class NameWords:
    """Learned from the catalogue's names and photo vectors; `__call__(vector)` -> words to say."""

    def __init__(self, names: list[str], vectors: np.ndarray, tag_values: set[str]):
        """tag_values: the words the catalogue's tag columns already use (category, colour, gender,
        season, tags): the description says those from the tags, not again from names."""
        self.vectors = _unit(vectors)
        self.names = [set(words_of(n)) for n in names]
        df, first = Counter(), Counter()
        for name in names:
            ws = words_of(name)
            df.update(set(ws))
            first.update(ws[:1])
        said = {w for v in tag_values for w in words_of(v)}
        # a word that most often starts the names it is in is the brand (a claim no photo supports)
        self.vocab = {w for w, n in df.items() if n >= MIN_PRODUCTS and n <= MAX_SHARE * len(names)
                      and first[w] < 0.5 * n and w not in said}
        self.words: set[str] = set()
        if len(names) <= K or not self.vocab:
            return
        fired, right = Counter(), Counter()
        for i0 in range(0, len(names), 1024):          # leave-one-out votes, a block of rows at a time
            sims = self.vectors[i0:i0 + 1024] @ self.vectors.T
            for r in range(len(sims)):
                sims[r, i0 + r] = -np.inf
            for r, nn in enumerate(np.argpartition(-sims, K, axis=1)[:, :K]):
                for w in self._vote(nn, self.vocab):
                    fired[w] += 1
                    right[w] += w in self.names[i0 + r]
        self.words = {w for w, n in fired.items() if n >= MIN_PRODUCTS and right[w] >= WORD_PRECISION * n}

    def _vote(self, neighbours: np.ndarray, vocab: set[str]) -> list[str]:
        counts = Counter(w for j in neighbours for w in self.names[j] if w in vocab)
        return sorted(w for w, n in counts.items() if n == len(neighbours))

    def __call__(self, vector: np.ndarray, name: str = "") -> list[str]:
        """The words to say of a new photo (its own name's words the catalogue uses come first:
        the retailer wrote them)."""
        own = [w for w in dict.fromkeys(words_of(name)) if w in self.vocab]
        if not self.words:
            return own
        sims = self.vectors @ _unit(np.asarray(vector)[None])[0]
        return own + [w for w in self._vote(np.argpartition(-sims, K)[:K], self.words) if w not in own]
