"""Inspection frames: chunks with scores and which of them ground an answer."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from workbench.errors import WorkbenchError
from workbench.rag import inspect
from workbench.rag.inspection import grounding
from workbench.record import COLUMNS
from workbench.results import RunResult

from .rag_fixtures import rag_project, retrieval


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return rag_project(tmp_path_factory.mktemp("inspect"))


def test_free_query_with_answer_marks_grounding_chunks(settings):
    frame = inspect(
        "How long is the password reset link valid?",
        retrieval=retrieval(mode="hybrid", k=3),
        settings=settings,
        answer="The reset link expires after one hour.",
    )
    assert list(frame["rank"]) == [1, 2, 3]
    assert {"source", "score_semantic", "score_bm25", "score_rrf", "text", "grounding", "grounds"} <= set(frame.columns)
    by_source = frame.groupby("source")["grounds"].any()
    assert by_source["account/password-reset.md"]
    assert not frame.loc[frame["source"] != "account/password-reset.md", "grounds"].any()
    assert frame.attrs["answer"] == "The reset link expires after one hour."


def test_free_query_without_answer_grounds_nothing(settings):
    frame = inspect("offline", retrieval=retrieval(k=2), settings=settings)
    assert len(frame) == 2 and not frame["grounds"].any() and frame["grounding"].isna().all()


def test_grounding_is_max_sentence_similarity():
    texts = ["Payments are retried after 3 days. We accept PayPal.", "The sky is blue."]
    sims = grounding(texts, "We take PayPal. Nothing else matters.")
    assert sims[0] > 0.7 > sims[1]


def test_case_of_a_run(settings):
    chunks = [
        {
            "id": "a#0",
            "text": "You get 10 backup codes.",
            "source": "account/two-factor.html",
            "rank": 1,
            "scores": {"semantic": 0.8},
            "metadata": {"section": "account"},
        },
        {
            "id": "b#0",
            "text": "We accept Visa and PayPal.",
            "source": "billing/payment-methods.txt",
            "rank": 2,
            "scores": {"semantic": 0.2},
            "metadata": {"section": "billing"},
        },
    ]
    row = dict.fromkeys(COLUMNS)
    row.update(
        case_id="codes",
        scorer="contains",
        output="You receive 10 backup codes.",
        chunks=json.dumps(chunks),
        cached=False,
    )
    result = RunResult(
        prompt_ref="x@1.0.0",
        prompt_hash="h",
        dataset_ref="d@1",
        dataset_hash="h",
        record=pd.DataFrame([row], columns=COLUMNS),
    )
    frame = inspect(result, "codes")
    assert list(frame["source"]) == ["account/two-factor.html", "billing/payment-methods.txt"]
    assert list(frame["score_semantic"]) == [0.8, 0.2] and list(frame["grounds"]) == [True, False]
    with pytest.raises(WorkbenchError, match="case 'nope' is not in this run"):
        inspect(result, "nope")
    with pytest.raises(WorkbenchError, match="pass retrieval="):
        inspect("a query")
