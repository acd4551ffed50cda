"""all-MiniLM-L6-v2 (a BERT encoder, sentence-transformers) rebuilt in torch from its safetensors
file, for conversion to OpenVINO IR at build time only. The output is the sentence vector the
sentence-transformers model gives: the mean of the last layer over the real (unpadded) tokens,
L2-normalised.

Written out rather than taken from `transformers`: forty lines of a well-known architecture
against a 500 MB build dependency whose module names change between versions; the check that it
is right is the model's own behaviour (synonyms close, unrelated far); no test holds that check
yet (an older note named tests/styling/test_text.py, which was never written).
"""
from __future__ import annotations

import json
import math
import struct

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(data: bytes) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file: an 8-byte header length, a JSON header, raw data."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = memoryview(data)[8 + n:]
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        out[name] = np.frombuffer(body[a:b], _DTYPES[meta["dtype"]]).reshape(meta["shape"]).copy()
    return out


def sentence_encoder(tensors: dict[str, np.ndarray], config: dict):
    import torch
    from torch import nn

    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    eps = config["layer_norm_eps"]

    def t(name):
        key = name if name in tensors else f"bert.{name}"   # some exports prefix "bert."
        return torch.from_numpy(tensors[key].astype(np.float32))

    def linear(prefix):
        layer = nn.Linear(*t(f"{prefix}.weight").shape[::-1])
        layer.weight.data, layer.bias.data = t(f"{prefix}.weight"), t(f"{prefix}.bias")
        return layer

    def norm(prefix):
        layer = nn.LayerNorm(hidden, eps=eps)
        layer.weight.data, layer.bias.data = t(f"{prefix}.weight"), t(f"{prefix}.bias")
        return layer

    class Layer(nn.Module):
        def __init__(self, i):
            super().__init__()
            p = f"encoder.layer.{i}"
            self.q, self.k, self.v = (linear(f"{p}.attention.self.{n}") for n in ("query", "key", "value"))
            self.o, self.ln1 = linear(f"{p}.attention.output.dense"), norm(f"{p}.attention.output.LayerNorm")
            self.up, self.down = linear(f"{p}.intermediate.dense"), linear(f"{p}.output.dense")
            self.ln2 = norm(f"{p}.output.LayerNorm")

        def forward(self, x, bias):
            b, s, _ = x.shape
            split = lambda y: y.view(b, s, heads, hidden // heads).transpose(1, 2)   # noqa: E731
            q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hidden // heads) + bias, dim=-1)
            ctx = (att @ v).transpose(1, 2).reshape(b, s, hidden)
            x = self.ln1(x + self.o(ctx))
            return self.ln2(x + self.down(nn.functional.gelu(self.up(x))))

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.words = nn.Embedding.from_pretrained(t("embeddings.word_embeddings.weight"))
            self.positions = nn.Embedding.from_pretrained(t("embeddings.position_embeddings.weight"))
            self.types = nn.Embedding.from_pretrained(t("embeddings.token_type_embeddings.weight"))
            self.ln = norm("embeddings.LayerNorm")
            self.layers = nn.ModuleList(Layer(i) for i in range(config["num_hidden_layers"]))

        def forward(self, input_ids, attention_mask):
            pos = torch.arange(input_ids.shape[1]).unsqueeze(0)
            x = self.ln(self.words(input_ids) + self.positions(pos) + self.types(torch.zeros_like(input_ids)))
            m = attention_mask.to(torch.float32)
            bias = (1.0 - m)[:, None, None, :] * -1e4          # padding gets no attention
            for layer in self.layers:
                x = layer(x, bias)
            pooled = (x * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1e-9)
            return pooled / pooled.norm(dim=-1, keepdim=True).clamp(min=1e-9)

    return Encoder().eval()
