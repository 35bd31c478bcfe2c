"""Retrieval metrics on hand-computed examples."""

from __future__ import annotations

import asyncio
import math

import pytest

from workbench.datasets import Case
from workbench.scorers import REGISTRY, from_spec
from workbench.scorers.base import Sample
from workbench.scorers.retrieval import hit_rate, mrr, ndcg_at_k, precision_at_k, recall_at_k


def sample(sources, expected):
    chunks = [
        {"id": f"{s}#{i}", "text": "", "source": s, "rank": i + 1, "scores": {}, "metadata": {}}
        for i, s in enumerate(sources)
    ]
    return Sample("", Case(id="c", inputs={"question": "q"}, expected_contexts=expected), chunks)


def value(scorer, s):
    return asyncio.run(scorer.score(s)).value


# retrieved: a, x, b, a(second chunk), y ; expected: a, b, c
RANKED = sample(["a.md", "x.md", "b.md", "a.md", "y.md"], ["a.md", "b.md", "c.md"])


def test_precision_counts_every_relevant_chunk():
    assert value(precision_at_k(), RANKED) == pytest.approx(3 / 5)
    assert value(precision_at_k(k=2), RANKED) == pytest.approx(1 / 2)
    assert value(precision_at_k(k=10), RANKED) == pytest.approx(3 / 10)


def test_recall_credits_each_expected_document_once():
    assert value(recall_at_k(), RANKED) == pytest.approx(2 / 3)
    assert value(recall_at_k(k=1), RANKED) == pytest.approx(1 / 3)
    assert asyncio.run(recall_at_k().score(RANKED)).reason == "missing: c.md"


def test_mrr_and_hit_rate():
    assert value(mrr(), RANKED) == 1.0
    assert value(mrr(), sample(["x.md", "y.md", "b.md"], ["b.md"])) == pytest.approx(1 / 3)
    assert value(mrr(), sample(["x.md"], ["b.md"])) == 0.0
    assert value(hit_rate(k=2), sample(["x.md", "y.md", "b.md"], ["b.md"])) is False
    assert value(hit_rate(), sample(["x.md", "y.md", "b.md"], ["b.md"])) is True


def test_ndcg_by_hand():
    # expected documents a (rank 1) and b (rank 3); c never retrieved; ideal: 3 documents at ranks 1..3
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    ideal = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert value(ndcg_at_k(), RANKED) == pytest.approx(dcg / ideal)
    # at k=2 only a counts; the ideal fills 2 slots
    assert value(ndcg_at_k(k=2), RANKED) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert value(ndcg_at_k(), sample(["b.md", "a.md"], ["a.md", "b.md"])) == pytest.approx(1.0)


def test_rank_field_orders_chunks():
    s = sample(["x.md", "a.md"], ["a.md"])
    s.chunks[0]["rank"], s.chunks[1]["rank"] = 2, 1
    assert value(mrr(), s) == 1.0


def test_not_applicable_without_expected_contexts():
    unanswerable = sample(["a.md"], [])
    for factory in (precision_at_k, recall_at_k, mrr, ndcg_at_k, hit_rate):
        assert value(factory(), unanswerable) is None


def test_nothing_retrieved():
    empty = sample([], ["a.md"])
    assert value(precision_at_k(), empty) == 0.0 and value(recall_at_k(), empty) == 0.0
    assert value(ndcg_at_k(), empty) == 0.0


def test_registered_and_buildable_from_specs():
    for name in ("precision_at_k", "recall_at_k", "mrr", "ndcg_at_k", "hit_rate"):
        assert name in REGISTRY
    built = from_spec({"name": "recall_at_k", "args": {"k": 3}})
    assert built.spec == {"name": "recall_at_k", "args": {"k": 3}}
    with pytest.raises(ValueError, match="positive integer"):
        precision_at_k(k=0)
