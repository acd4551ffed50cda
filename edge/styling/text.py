"""Product names -> sentence vectors (all-MiniLM-L6-v2 in OpenVINO), so "trainers" and "sneakers",
"tote" and "shopper bag" land close together even when no outfit ever showed both words.

The tokenizer is BERT's uncased WordPiece, written here (lower case, accents stripped, split on
spaces and punctuation, then the longest vocabulary piece first, "##" inside a word) over the
vocabulary the model shipped with: the kiosk needs no tokenizer package for product names.
"""
from __future__ import annotations

import threading
import unicodedata
from pathlib import Path

import numpy as np

MAX_TOKENS = 32          # product names and tags are short; longer text is cut here
DIM = 384


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


class WordPiece:
    def __init__(self, vocab_path: Path):
        words = Path(vocab_path).read_text(encoding="utf-8").split("\n")
        self.vocab = {w: i for i, w in enumerate(words) if w}
        self.unk, self.cls, self.sep = self.vocab["[UNK]"], self.vocab["[CLS]"], self.vocab["[SEP]"]

    def words(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFD", text.lower())
        out, cur = [], []
        for ch in text:
            cat = unicodedata.category(ch)
            if cat == "Mn":                       # an accent, once split from its letter
                continue
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or (cat.startswith("C") and ch not in "\t\n\r"):
                continue
            if ch.isspace():
                if cur:
                    out.append("".join(cur))
                    cur = []
            elif _is_punct(ch) or _is_cjk(cp):
                if cur:
                    out.append("".join(cur))
                    cur = []
                out.append(ch)
            else:
                cur.append(ch)
        if cur:
            out.append("".join(cur))
        return out

    def pieces(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk]
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                    break
                end -= 1
            else:
                return [self.unk]                 # no piece fits: the whole word is unknown
            start = end
        return ids

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        ids = [i for w in self.words(text) for i in self.pieces(w)]
        return [self.cls] + ids[: max_tokens - 2] + [self.sep]


class TextEmbedder:
    """Text -> unit 384-d vector (cosine = meaning), batched, cached by text."""

    def __init__(self, compiled_model, vocab_path: Path, version: str):
        self.model = compiled_model
        self.tokenizer = WordPiece(vocab_path)
        self.version = version
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def __call__(self, texts: list[str], batch: int = 64) -> np.ndarray:
        todo = sorted({t for t in texts if t not in self._cache})
        encoded = sorted(((self.tokenizer.encode(t), t) for t in todo), key=lambda e: len(e[0]))
        for s in range(0, len(encoded), batch):
            # names of one token count share a batch: little padding to run through the model
            ids, chunk = [e[0] for e in encoded[s:s + batch]], [e[1] for e in encoded[s:s + batch]]
            n = max(len(i) for i in ids)
            input_ids = np.zeros((len(ids), n), np.int64)
            mask = np.zeros((len(ids), n), np.int64)
            for r, i in enumerate(ids):
                input_ids[r, :len(i)] = i
                mask[r, :len(i)] = 1
            with self._lock:   # one infer request per call; the kiosk and an import may share it
                out = self.model({"input_ids": input_ids, "attention_mask": mask})[0]
            for t, v in zip(chunk, np.asarray(out, np.float32)):
                self._cache[t] = v
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, DIM), np.float32)


def text_embedder(store) -> TextEmbedder:
    """The shipped text model (hash-checked with its vocabulary) from a ModelStore."""
    info = store.verify("text")
    return TextEmbedder(store.compiled("text"), info.xml.parent / info.entry["vocab"]["file"], info.version)
