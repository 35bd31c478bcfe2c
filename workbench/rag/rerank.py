"""Fusion and re-ranking, all offline: reciprocal rank fusion, MMR, and sentence-level embedding re-scoring."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

import numpy as np

from .embeddings import Embedder

RRF_K = 60
MMR_LAMBDA = 0.5
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_CACHE_TEXTS = 20000
_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def rrf(rankings: list[list[str]], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal rank fusion: each id scores sum(1 / (k + rank)) over the rankings it appears in."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    return scores


def mmr(query: np.ndarray, vectors: np.ndarray, k: int, lambda_: float = MMR_LAMBDA) -> list[tuple[int, float]]:
    """Maximal marginal relevance over unit vectors: (position, mmr score) in selection order."""
    if len(vectors) == 0:
        return []
    relevance = vectors @ query
    similarity = vectors @ vectors.T
    chosen: list[tuple[int, float]] = []
    left = list(range(len(vectors)))
    while left and len(chosen) < k:
        picked = [i for i, _ in chosen]
        redundancy = similarity[np.ix_(left, picked)].max(axis=1) if picked else np.zeros(len(left))
        values = lambda_ * relevance[left] - (1 - lambda_) * redundancy
        best = int(np.argmax(values))
        chosen.append((left.pop(best), float(values[best])))
    return chosen


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 2]


def sentence_scores(query: np.ndarray, texts: list[str], embedder: Embedder) -> list[float]:
    """Per text: the best cosine similarity between the query and the text's sentences (or the whole text)."""
    return [float((vectors @ query).max()) for vectors in sentence_vectors(texts, embedder)]


def sentence_vectors(texts: list[str], embedder: Embedder) -> list[np.ndarray]:
    """Each text's sentence vectors, embedded once per process (an LRU of recent chunk texts)."""
    with _cache_lock:
        missing = [t for t in dict.fromkeys(texts) if t not in _cache]
    if missing:
        pieces = [sentences(t) or [t] for t in missing]
        flat = embedder.encode([s for group in pieces for s in group])
        at = 0
        with _cache_lock:
            for text, group in zip(missing, pieces):
                _cache[text] = flat[at : at + len(group)]
                at += len(group)
            while len(_cache) > _CACHE_TEXTS:
                _cache.popitem(last=False)
    with _cache_lock:
        out = []
        for text in texts:
            _cache.move_to_end(text)
            out.append(_cache[text])
        return out
