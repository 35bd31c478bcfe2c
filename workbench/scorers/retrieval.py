"""Retrieval metrics against a case's `expected_contexts` (corpus paths), matching a chunk by its `source`.

Chunk-level conventions: precision counts every retrieved chunk of an expected document as relevant;
recall, MRR, hit rate and nDCG credit each expected document once, at the rank of its first chunk.
Every scorer returns None (not applicable) when the case lists no expected contexts, such as a
question the corpus cannot answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .base import Sample, Score, scorer


def _ranked(sample: Sample, k: int | None) -> list[str]:
    chunks = (
        sorted(sample.chunks, key=lambda c: c.get("rank") or 0)
        if all("rank" in c for c in sample.chunks)
        else list(sample.chunks)
    )
    sources = [str(c.get("source")) for c in chunks]
    return sources if k is None else sources[:k]


def _first_ranks(sources: list[str], expected: set[str]) -> dict[str, int]:
    """Expected document -> 1-based rank of its first chunk."""
    ranks: dict[str, int] = {}
    for rank, source in enumerate(sources, start=1):
        if source in expected and source not in ranks:
            ranks[source] = rank
    return ranks


def _check_k(k: int | None) -> None:
    if k is not None and (not isinstance(k, int) or k < 1):
        raise ValueError(f"k must be a positive integer or None (all retrieved chunks), not {k!r}")


def _metric(k: int | None, measure: Callable[[list[str], set[str]], Any]) -> Callable[[Sample], Any]:
    """A score function: `measure(top-k sources, expected documents)`, or None when nothing is expected."""
    _check_k(k)

    def score(sample: Sample) -> Any:
        expected = set(sample.case.expected_contexts)
        return measure(_ranked(sample, k), expected) if expected else None

    return score


@scorer
def precision_at_k(k: int | None = None):
    """Share of the top-k retrieved chunks that come from an expected document (k=None: all retrieved)."""

    def measure(sources: list[str], expected: set[str]) -> Score:
        denominator = k if k is not None else len(sources)
        if denominator == 0:
            return Score(0.0, "nothing retrieved")
        hits = sum(s in expected for s in sources)
        return Score(hits / denominator, f"{hits} of {denominator} chunks from expected documents")

    return _metric(k, measure)


@scorer
def recall_at_k(k: int | None = None):
    """Share of the expected documents that have a chunk in the top k."""

    def measure(sources: list[str], expected: set[str]) -> Score:
        found = _first_ranks(sources, expected)
        missing = sorted(expected - set(found))
        return Score(len(found) / len(expected), f"missing: {', '.join(missing)}" if missing else "all found")

    return _metric(k, measure)


@scorer
def hit_rate(k: int | None = None):
    """True when at least one expected document has a chunk in the top k."""
    return _metric(k, lambda sources, expected: bool(_first_ranks(sources, expected)))


@scorer
def mrr(k: int | None = None):
    """Reciprocal rank of the first chunk from an expected document (0 when none is retrieved)."""

    def measure(sources: list[str], expected: set[str]) -> Score:
        ranks = _first_ranks(sources, expected)
        if not ranks:
            return Score(0.0, "no expected document retrieved")
        first = min(ranks.values())
        return Score(1.0 / first, f"first relevant chunk at rank {first}")

    return _metric(k, measure)


@scorer
def ndcg_at_k(k: int | None = None):
    """Binary-relevance nDCG: each expected document gains 1/log2(rank+1) at its first chunk's rank."""

    def measure(sources: list[str], expected: set[str]) -> Score:
        ranks = _first_ranks(sources, expected)
        dcg = sum(1.0 / math.log2(rank + 1) for rank in ranks.values())
        slots = min(len(expected), k if k is not None else max(len(sources), 1))
        ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, slots + 1))
        return Score(dcg / ideal if ideal else 0.0, f"ranks {sorted(ranks.values())} of expected documents")

    return _metric(k, measure)
