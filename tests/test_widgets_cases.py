"""ComparisonView's logic without a browser: the case table, filters, sorting by score difference, pages."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from workbench.compare import compare
from workbench.datasets import load_dataset
from workbench.errors import WorkbenchError
from workbench.record import COLUMNS
from workbench.results import RunResult
from workbench.widgets.cases import CaseQuery, case_table, parse_chunks, select, tags_of, turn

HASH = "d" * 64


def make_run(
    ref: str,
    scores: dict[str, dict[str, float]],
    outputs: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    chunks: dict[str, list[dict]] | None = None,
    dataset_ref: str = "tiny@1",
    dataset_hash: str = HASH,
    latency: float = 0.5,
    run_id: str | None = None,
    cost: float = 0.0,
) -> RunResult:
    """A RunResult as the runner records one: a row per case x scorer (an errored case has one row, no scorer)."""
    rows = []
    for case_id, per in scores.items():
        error = (errors or {}).get(case_id)
        common = {
            "case_id": case_id,
            "repeat": 0,
            "output": None if error else (outputs or {}).get(case_id, f"answer {case_id}"),
            "error": error,
            "latency_s": latency,
            "input_tokens": 10,
            "output_tokens": 5,
            "cost": cost,
            "cached": False,
            "model": "smollm2-135m",
            "tags": (tags or {}).get(case_id, ""),
            "chunks": json.dumps(chunks[case_id]) if chunks and case_id in chunks else None,
        }
        if error:
            rows.append({**common, "scorer": None, "value": np.nan, "passed": None, "label": None, "reason": None})
            continue
        for scorer, value in per.items():
            rows.append(
                {**common, "scorer": scorer, "value": value, "passed": value >= 1.0, "label": None, "reason": None}
            )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    names = list(dict.fromkeys(s for per in scores.values() for s in per))
    return RunResult(
        prompt_ref=ref,
        prompt_hash="p" * 64,
        dataset_ref=dataset_ref,
        dataset_hash=dataset_hash,
        record=frame,
        scorers=[{"name": n, "args": {}} for n in names],
        model_calls=len(scores),
        duration_s=1.0,
        run_id=run_id,
    )


@pytest.fixture
def comparison():
    base = make_run(
        "tiny@1.0.0",
        {
            "a": {"checks": 1, "sim": 0.9},
            "b": {"checks": 1, "sim": 0.8},
            "c": {"checks": 0, "sim": 0.2},
            "d": {"checks": 1, "sim": 0.5},
        },
        tags={"a": "billing", "b": "billing,edge", "c": "sync", "d": "sync"},
        chunks={"a": [{"rank": 1, "source": "x.md", "text": "chunk", "scores": {"semantic": 0.7}}]},
    )
    cand = make_run(
        "tiny@1.1.0",
        {"a": {"checks": 0, "sim": 0.4}, "b": {"checks": 1, "sim": 0.7}, "c": {"checks": 1, "sim": 0.9}, "d": {}},
        errors={"d": "timeout after 30s"},
        tags={"a": "billing", "b": "billing,edge", "c": "sync", "d": "sync"},
    )
    return compare(base, cand)


def test_case_table_has_one_row_per_case_with_both_outputs_and_the_worst_difference(comparison):
    table = case_table(comparison).set_index("case_id")
    assert list(table.index) == ["a", "b", "c", "d"]
    assert table.loc["a", "baseline_output"] == "answer a" and table.loc["a", "candidate_output"] == "answer a"
    assert table.loc["a", "diff"] == pytest.approx(-1.0)  # checks 1 -> 0 is worse than sim 0.9 -> 0.4
    assert table.loc["c", "diff"] == pytest.approx(0.7)  # both improved; the smaller gain is the worst difference
    assert bool(table.loc["a", "regressed"]) and not bool(table.loc["c", "regressed"])
    assert bool(table.loc["d", "regressed"]) and table.loc["d", "candidate_error"] == "timeout after 30s"
    assert table.loc["b", "tags"] == ("billing", "edge")
    assert table.loc["a", "baseline_chunks"][0]["source"] == "x.md" and table.loc["a", "candidate_chunks"] == []
    assert table.loc["a", "inputs"] is None  # no dataset given
    assert table.loc["a", "scores"]["checks"]["change"] == "degraded"


def test_case_table_takes_inputs_and_expected_answers_from_the_dataset(project):
    dataset = load_dataset("tiny", project.datasets_dir)
    base = make_run("tiny@1.0.0", {"capital": {"checks": 1}, "sum": {"checks": 0}}, dataset_hash=dataset.hash)
    cand = make_run("tiny@1.1.0", {"capital": {"checks": 0}, "sum": {"checks": 1}}, dataset_hash=dataset.hash)
    table = case_table(compare(base, cand), dataset).set_index("case_id")
    assert table.loc["capital", "inputs"] == {"question": "What is the capital of France?"}
    assert table.loc["capital", "expected"] == "Paris"
    assert table.loc["capital", "tags"] == ("geo",)


def test_regressed_only_keeps_degraded_and_candidate_errors(comparison):
    page = select(case_table(comparison), CaseQuery(regressed_only=True))
    assert set(page.rows["case_id"]) == {"a", "b", "d"}  # b: sim 0.8 -> 0.7; d: the candidate errored
    assert page.matching == 3 and page.total == 4
    checks_only = select(case_table(comparison), CaseQuery(regressed_only=True, scorer="checks"))
    assert set(checks_only.rows["case_id"]) == {"a", "d"}


def test_filter_by_tag_and_by_scorer(comparison):
    table = case_table(comparison)
    assert tags_of(table) == ["billing", "edge", "sync"]
    assert list(select(table, CaseQuery(tag="edge")).rows["case_id"]) == ["b"]
    by_sim = select(table, CaseQuery(scorer="sim", sort="worst"))
    assert list(by_sim.rows["case_id"]) == ["a", "b", "c", "d"]  # d failed (no candidate score): last
    regressed_sim = select(table, CaseQuery(scorer="sim", regressed_only=True))
    assert list(regressed_sim.rows["case_id"]) == ["a", "b", "d"]


def test_sorting_by_score_difference(comparison):
    table = case_table(comparison)
    worst = list(select(table, CaseQuery(sort="worst")).rows["case_id"])
    best = list(select(table, CaseQuery(sort="best")).rows["case_id"])
    assert worst[0] == "a" and best[0] == "c"
    assert worst[-1] == "d" and best[-1] == "d"  # no difference (an error) sorts last either way
    assert list(select(table, CaseQuery(sort="case")).rows["case_id"]) == ["a", "b", "c", "d"]


def test_pages_are_cut_and_clamped(comparison):
    table = case_table(comparison)
    first = select(table, CaseQuery(sort="case", page_size=3))
    assert list(first.rows["case_id"]) == ["a", "b", "c"] and first.pages == 2 and first.first == 0
    second = select(table, turn(CaseQuery(sort="case", page_size=3), +1))
    assert list(second.rows["case_id"]) == ["d"] and second.page == 1 and second.first == 3
    beyond = select(table, CaseQuery(sort="case", page_size=3, page=9))
    assert beyond.page == 1
    assert turn(CaseQuery(page=0), -1).page == 0
    empty = select(table, CaseQuery(tag="nonexistent"))
    assert empty.matching == 0 and empty.pages == 1 and empty.rows.empty


def test_bad_queries_name_the_field_and_the_choices(comparison):
    with pytest.raises(WorkbenchError, match="sort: 'loudest'.*worst, best, case"):
        CaseQuery(sort="loudest")
    with pytest.raises(WorkbenchError, match="page_size"):
        CaseQuery(page_size=0)
    with pytest.raises(WorkbenchError, match="scorer: 'bleu' is not in this comparison; scorers: checks, sim"):
        select(case_table(comparison), CaseQuery(scorer="bleu"))


def test_parse_chunks_takes_the_records_lists_only():
    assert parse_chunks(None) == [] and parse_chunks(float("nan")) == []
    assert parse_chunks([{"text": "x"}]) == [{"text": "x"}]
    assert parse_chunks('[{"text": "x"}]') == [] and parse_chunks({"a": 1}) == []


def test_without_the_dataset_the_inputs_come_from_the_run(comparison):
    comparison.candidate.record["inputs"] = [{"question": "What is 2 + 2?"}] * len(comparison.candidate.record)
    table = case_table(comparison).set_index("case_id")
    assert table.loc["a", "inputs"] == {"question": "What is 2 + 2?"} and table.loc["a", "expected"] is None
