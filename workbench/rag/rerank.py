"""Fusion and re-ranking, all offline: reciprocal rank fusion, MMR, and sentence-level embedding re-scoring."""

from __future__ import annotations

import re

import numpy as np

from .embeddings import Embedder

RRF_K = 60
MMR_LAMBDA = 0.5
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


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
    pieces = [sentences(t) or [t] for t in texts]
    flat = [s for group in pieces for s in group]
    vectors = embedder.encode(flat) @ query
    out, at = [], 0
    for group in pieces:
        out.append(float(vectors[at:at + len(group)].max()))
        at += len(group)
    return out
