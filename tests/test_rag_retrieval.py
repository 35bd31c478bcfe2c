"""Retrieval modes, filters, re-ranking and the runner's interface, on a real index and the real model."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import WorkbenchError
from workbench.rag import Embedder, retriever_for
from workbench.rag.rerank import mmr, rrf, sentence_scores

from .rag_fixtures import rag_project, retrieval


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return rag_project(tmp_path_factory.mktemp("rag"))


def test_semantic_finds_a_paraphrase_and_returns_the_runner_shape(settings):
    r = retriever_for(retrieval(mode="semantic", k=3), settings)
    assert all(callable(getattr(r, name, None)) for name in ("retrieve", "format"))  # the runner's Retriever protocol
    chunks = r.retrieve("Can I get my money back?")
    assert chunks[0]["source"] == "billing/refunds.md"
    assert [c["rank"] for c in chunks] == [1, 2, 3]
    for c in chunks:
        assert set(c) == {"id", "text", "source", "rank", "scores", "metadata"}
        assert set(c["scores"]) == {"semantic"} and -1.0 <= c["scores"]["semantic"] <= 1.0
        assert c["metadata"]["index_version"] == r.version and c["metadata"]["source"] == c["source"]
    scores = [c["scores"]["semantic"] for c in chunks]
    assert scores == sorted(scores, reverse=True)


def test_bm25_matches_keywords_with_stemming(settings):
    chunks = retriever_for(retrieval(mode="bm25", k=2), settings).retrieve("cheques accepted?")
    assert chunks[0]["source"] == "billing/payment-methods.txt" and set(chunks[0]["scores"]) == {"bm25"}
    assert chunks[0]["scores"]["bm25"] > 0
    assert retriever_for(retrieval(mode="bm25"), settings).retrieve("zebra quantum") == []


def test_hybrid_fuses_by_reciprocal_rank(settings):
    r = retriever_for(retrieval(mode="hybrid", k=4), settings)
    chunks = r.retrieve("backup codes for two-factor authentication")
    assert chunks[0]["source"] == "account/two-factor.html"
    top = chunks[0]["scores"]
    assert {"semantic", "bm25", "rrf"} <= set(top)
    fused = [c["scores"]["rrf"] for c in chunks]
    assert fused == sorted(fused, reverse=True)
    semantic = [c["id"] for c in r._semantic(r.embedder.encode_one("backup codes for two-factor authentication"), 20)]
    lexical = [c["id"] for c in r._bm25("backup codes for two-factor authentication", 20)]
    assert top["rrf"] == pytest.approx(rrf([semantic, lexical])[chunks[0]["id"]])


def test_k_comes_from_the_configuration(settings):
    for k in (1, 2, 5):
        assert len(retriever_for(retrieval(k=k), settings).retrieve("password")) == k


def test_filters_restrict_to_matching_metadata(settings):
    for mode in ("semantic", "bm25", "hybrid"):
        r = retriever_for(retrieval(mode=mode, k=5, filters={"section": "account"}), settings)
        chunks = r.retrieve("refund within 14 days password")
        assert chunks and {c["metadata"]["section"] for c in chunks} == {"account"}
    r = retriever_for(retrieval(k=10, filters={"section": ["billing", "sync"], "format": "text"}), settings)
    assert {c["source"] for c in r.retrieve("payments offline")} == {"billing/payment-methods.txt", "sync/offline.txt"}


@pytest.mark.parametrize(
    "filters, message",
    [
        ({"colour": "red"}, "retrieval.filters.colour: unknown chunk metadata key"),
        ({"section": {"$gt": 1}}, "retrieval.filters.section: use a string, a number or a list"),
        ({"section": []}, "retrieval.filters.section: a list must hold one or more"),
        ({"section": "nowhere"}, "match no chunk of corpus 'docs'"),
    ],
)
def test_bad_filters_are_explained(settings, filters, message):
    with pytest.raises(WorkbenchError, match="retrieval.filters") as info:
        retriever_for(retrieval(filters=filters), settings)
    assert message in str(info.value)


def test_mmr_rerank_trades_relevance_for_diversity(settings):
    plain = retriever_for(retrieval(k=3), settings).retrieve("refund")
    diverse = retriever_for(retrieval(k=3, rerank="mmr"), settings).retrieve("refund")
    assert len(diverse) == 3 and all("mmr" in c["scores"] for c in diverse)
    assert len({c["source"] for c in diverse}) >= len({c["source"] for c in plain})


def test_mmr_on_hand_made_vectors():
    query = np.array([1.0, 0.0, 0.0])
    near, twin, other = np.array([0.9, 0.1, 0.0]), np.array([0.9, 0.1, 0.0]), np.array([0.6, 0.0, 0.8])
    vectors = np.stack([v / np.linalg.norm(v) for v in (near, twin, other)])
    order = [i for i, _ in mmr(query, vectors, k=2, lambda_=0.5)]
    assert order == [0, 2]  # the exact duplicate loses to the different one
    assert [i for i, _ in mmr(query, vectors, k=2, lambda_=1.0)] == [0, 1]  # pure relevance


def test_embedding_rerank_scores_sentences(settings):
    r = retriever_for(retrieval(k=2, rerank="embedding"), settings)
    query = "How long is the reset link valid?"
    chunks = r.retrieve(query)
    assert chunks[0]["source"] == "account/password-reset.md"
    rerank = [c["scores"]["rerank"] for c in chunks]
    assert rerank == sorted(rerank, reverse=True)
    expected = sentence_scores(Embedder().encode_one(query), [chunks[0]["text"]], Embedder())[0]
    best_sentence = float(Embedder().encode(["The reset link expires after 1 hour."])[0] @ Embedder().encode_one(query))
    assert chunks[0]["scores"]["rerank"] == pytest.approx(expected) and expected >= best_sentence - 1e-6


def test_rrf_by_hand():
    scores = rrf([["a", "b", "c"], ["b", "d"]], k=60)
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["a"] == pytest.approx(1 / 61) and scores["d"] == pytest.approx(1 / 62)
    assert max(scores, key=scores.get) == "b"


def test_format_numbers_chunks_and_names_sources(settings):
    r = retriever_for(retrieval(k=2), settings)
    chunks = r.retrieve("offline desktop")
    text = r.format(chunks)
    assert (
        text.startswith(f"[1] (source: {chunks[0]['source']})\n")
        and f"\n\n[2] (source: {chunks[1]['source']})\n" in text
    )
    assert r.format([]) == "(no documents found)"


def test_describe_is_loggable(settings):
    facts = retriever_for(retrieval(mode="hybrid", filters={"section": "billing"}), settings).describe()
    assert facts["rag.mode"] == "hybrid" and facts["rag.index_version"] and facts["rag.chunks"] > 0
    assert all(isinstance(v, (str, int, float)) for v in facts.values())
