"""End to end: the demo RAG configuration over the RAG golden dataset, on the local model, in a copy of the project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench.experiment import evaluate
from workbench.rag import inspect
from workbench.scorers import hit_rate, mrr, ndcg_at_k, precision_at_k, recall_at_k
from workbench.settings import Settings

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def test_evaluate_rag_support_records_chunks_and_retrieval_metrics(tmp_path):
    for part in ("prompts/rag-support", "datasets/rag-support", "datasets/lumen-docs"):
        shutil.copytree(REPO / part, tmp_path / part)
    settings = Settings.load(root=tmp_path)
    result = evaluate(
        "rag-support@1.0.0",
        "rag-support",
        settings=settings,
        progress=False,
        scorers=[precision_at_k(), recall_at_k(), mrr(), ndcg_at_k(), hit_rate()],
    )

    cases = result.cases()
    assert len(cases) == 57 and cases["error"].isna().all()
    for chunks in cases["chunks"]:  # native lists in the run record
        assert [c["rank"] for c in chunks] == [1, 2]  # k=2 from the configuration
        assert all(c["source"] and c["text"] and "semantic" in c["scores"] for c in chunks)
    assert len({c["metadata"]["index_version"] for chunks in cases["chunks"] for c in chunks}) == 1

    summary = result.summary()
    assert summary.loc["recall_at_k", "n"] == 55  # the two unanswerable cases are not applicable
    assert summary.loc["recall_at_k", "mean"] > 0.75 and summary.loc["mrr", "mean"] > 0.7
    assert summary.loc["hit_rate", "pass_rate"] > 0.75
    unanswerable = result.frame[(result.frame["case_id"] == "edge-unanswerable-ceo")]
    assert unanswerable["value"].isna().all() and unanswerable["error"].isna().all()

    frame = inspect(result, "refund-window")
    assert list(frame["rank"]) == [1, 2] and "billing/refunds.md" in set(frame["source"])
    assert frame["grounds"].dtype == bool
    assert result.run_id and (tmp_path / ".workbench" / "chroma").is_dir()
