"""A BERT sentence encoder in numpy float32: the forward pass, mean pooling and L2 normalization that
sentence-transformers runs on torch, read from a sentence-transformers model folder."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file
from threadpoolctl import ThreadpoolController
from tokenizers import Tokenizer

_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
# erf(z) = 1 - t (a1 + a2 t + ... + a5 t^5) exp(-z^2), t = 1 / (1 + p z) for z >= 0 (Abramowitz & Stegun 7.1.26,
# |error| < 1.5e-7, float32's own rounding): numpy has no erf, and this is twice as fast as scipy's.
_P = np.float32(0.3275911 / np.sqrt(2))  # for z = |x| / sqrt(2)
_A = [np.float32(a / 2) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)]


class SentenceEncoder:
    """Thread-safe once built: `encode` reads the weights and the tokenizer and changes neither."""

    def __init__(self, folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        if config.get("hidden_act") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{folder}: only BERT with exact GELU and absolute positions is supported")
        if not pooling.get("pooling_mode_mean_tokens"):
            raise ValueError(f"{folder}: only mean pooling is supported")
        self.dimension = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = np.float32(config["layer_norm_eps"])
        self.max_length = int(json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()  # tokenizer.json pads to a fixed 128; batches are padded to their longest text
        self.tokenizer.enable_truncation(self.max_length)

        # float16 on disk for the shipped model, float32 in any other sentence-transformers folder: float32 here
        w = {k: v.astype(np.float32, copy=False) for k, v in load_file(str(folder / "model.safetensors")).items()}
        self.words = w["embeddings.word_embeddings.weight"]
        self.positions = w["embeddings.position_embeddings.weight"]
        self.types = w["embeddings.token_type_embeddings.weight"]
        self.norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])

        def dense(name: str) -> tuple[np.ndarray, np.ndarray]:  # (in, out) for x @ weight
            return np.ascontiguousarray(w[f"{name}.weight"].T), w[f"{name}.bias"]

        self.layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            q, k, v = (dense(f"{p}attention.self.{n}") for n in ("query", "key", "value"))
            self.layers.append(
                {
                    "qkv": (np.concatenate([q[0], k[0], v[0]], axis=1), np.concatenate([q[1], k[1], v[1]])),
                    "out": dense(f"{p}attention.output.dense"),
                    "norm1": (w[f"{p}attention.output.LayerNorm.weight"], w[f"{p}attention.output.LayerNorm.bias"]),
                    "up": dense(f"{p}intermediate.dense"),
                    "down": dense(f"{p}output.dense"),
                    "norm2": (w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"]),
                }
            )
        self._blas = ThreadpoolController()  # after numpy has loaded its BLAS
        self._blas_lock = threading.Lock()
        self._blas_users = 0
        self._blas_limit: Any = None

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Unit-length vectors in the order of `texts`; texts of similar length are batched together, and the
        batches run on a thread per core."""
        encodings = self.tokenizer.encode_batch(texts)
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")
        size = min(batch_size, max(16, -(-len(texts) // _CORES)))  # a batch for every core, unless few texts
        out = np.empty((len(texts), self.dimension), dtype=np.float32)

        def run(batch: np.ndarray) -> None:
            ids = np.zeros((len(batch), lengths[batch[0]]), dtype=np.int64)
            for row, i in enumerate(batch):
                ids[row, : lengths[i]] = encodings[i].ids
            out[batch] = self.embed(ids, np.arange(ids.shape[1]) < lengths[batch][:, None])

        batches = [order[i : i + size] for i in range(0, len(texts), size)]
        with self._one_blas_thread():
            if len(batches) <= 1:
                list(map(run, batches))
            else:
                with ThreadPoolExecutor(min(_CORES, len(batches))) as pool:
                    list(pool.map(run, batches))
        return out

    def embed(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(batch, tokens) ids and a boolean mask -> (batch, dimension) unit vectors."""
        batch, tokens = ids.shape
        x = self.words[ids] + self.positions[:tokens] + self.types[0]  # one sequence: token type 0 throughout
        x = self._layer_norm(x.reshape(batch * tokens, -1), self.norm)
        # Padding is masked out of every key: a large negative score before the softmax.
        bias = np.where(mask, 0, np.finfo(np.float32).min).astype(np.float32)[:, None, None, :]
        for layer in self.layers:
            x = self._layer_norm(x + self._attention(x, layer, bias, batch, tokens), layer["norm1"])
            h = _linear(x, layer["up"])
            x = self._layer_norm(x + _linear(_gelu(h), layer["down"]), layer["norm2"])
        x = x.reshape(batch, tokens, -1)
        weights = mask[..., None].astype(np.float32)
        pooled = (x * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    @contextmanager
    def _one_blas_thread(self) -> Iterator[None]:
        """OpenBLAS on one thread while any encode runs; the process's own setting is back when the last ends.
        Its threads wait on each other after every small attention product, which on shared cores made encoding
        4x slower (load 5 on 2 cores); one batch per core on our own threads has no such wait."""
        with self._blas_lock:
            if self._blas_users == 0:
                self._blas_limit = self._blas.limit(limits=1, user_api="blas")
            self._blas_users += 1
        try:
            yield
        finally:
            with self._blas_lock:
                self._blas_users -= 1
                if self._blas_users == 0:
                    self._blas_limit.restore_original_limits()

    def _attention(self, x: np.ndarray, layer: dict, bias: np.ndarray, batch: int, tokens: int) -> np.ndarray:
        size = self.dimension // self.heads
        qkv = _linear(x, layer["qkv"]).reshape(batch, tokens, 3, self.heads, size).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (batch, heads, tokens, size)
        scores = q @ k.transpose(0, 1, 3, 2)
        scores *= np.float32(1 / np.sqrt(size))
        scores += bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * tokens, self.dimension)
        return _linear(context, layer["out"])

    def _layer_norm(self, x: np.ndarray, params: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        x = x - x.mean(axis=-1, keepdims=True)
        x /= np.sqrt((x * x).mean(axis=-1, keepdims=True) + self.eps)
        return x * params[0] + params[1]


def _linear(x: np.ndarray, params: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    out = x @ params[0]
    out += params[1]
    return out


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU, the exact erf form of BERT's `hidden_act: gelu`: x (1 + erf(x / sqrt 2)) / 2 = max(x, 0) - |x| q / 2,
    where q = 1 - erf(|x| / sqrt 2) is computed directly."""
    ax = np.abs(x)
    t = ax * _P
    t += 1
    np.reciprocal(t, out=t)
    q = t * _A[4]
    for a in _A[3::-1]:
        q += a
        q *= t
    e = np.square(ax)
    e *= -0.5
    np.exp(e, out=e)
    q *= e
    q *= ax
    return np.subtract(np.maximum(x, 0), q, out=q)
