"""The views: static HTML of the current state, the live ipywidgets tree driving the same logic, real retrieval."""

from __future__ import annotations

import pytest

from workbench.compare import compare
from workbench.errors import WorkbenchError
from workbench.widgets import ComparisonView, RetrievalInspector, ScoreBoard
from workbench.widgets.score_board import scores_frame, totals_frame
from workbench.widgets.verdict import VERDICT_MIME, failing_cases, failing_scorers, verdict_record

from .rag_fixtures import rag_project, retrieval
from .test_widgets_cases import make_run


@pytest.fixture
def comparison():
    cases = [f"case-{i:02d}" for i in range(12)]
    base = make_run(
        "tiny@1.0.0",
        {c: {"checks": 1, "sim": 0.8} for c in cases},
        tags={c: "billing" if i % 2 else "sync" for i, c in enumerate(cases)},
        latency=0.4,
        run_id="base01",
    )
    cand = make_run(
        "tiny@1.1.0",
        {c: {"checks": 0 if i < 8 else 1, "sim": 0.8 - i / 400} for i, c in enumerate(cases)},
        tags={c: "billing" if i % 2 else "sync" for i, c in enumerate(cases)},
        latency=0.6,
        run_id="cand01",
    )
    return compare(base, cand, min_effect=0.05)


def test_comparison_view_widget_controls_drive_filters_sort_and_pages(comparison):
    view = ComparisonView(comparison, page_size=5)
    controls = view.widget.children[0].children
    prev, label, nxt = view.widget.children[1].children
    body = view.widget.children[2]
    assert label.value == "page 1 of 3" and prev.disabled and not nxt.disabled
    assert "cases 1–5 of 12" in body.value
    nxt.click()
    assert view.page.page == 1 and "cases 6–10 of 12" in body.value and label.value == "page 2 of 3"
    controls[0].value = True  # regressed only: case-00..07 dropped checks
    assert view.page.matching == 8 and view.page.page == 0 and "regressed only" in body.value
    controls[1].value = "billing"
    assert set(view.page.rows["case_id"]) == {"case-01", "case-03", "case-05", "case-07"}
    controls[2].value = "sim"  # sim dropped by less than min_effect 0.05 on every case: nothing regressed
    assert view.page.matching == 0 and "no case matches" in body.value
    controls[0].value = False
    controls[3].value = "best"
    assert view.page.rows["case_id"].iloc[0] == "case-01"  # the smallest drop on sim among billing cases
    assert view.html() == body.value  # the static view is what the widget shows
    view.update(tag="sync", sort="case", page=1, regressed_only=True, scorer=None)
    assert [c.value for c in controls] == [True, "sync", "(all)", "case"] and view.page.page == 0  # 4 cases: 1 page
    view.update(regressed_only=False, page=0)
    view.update(page=1)
    assert view.page.page == 1 and label.value == "page 2 of 2"


def test_comparison_view_update_validates_and_the_bundle_keeps_the_current_view(comparison):
    view = ComparisonView(comparison, page_size=4)
    view.update(tag="sync", sort="case")
    assert list(view.page.rows["case_id"]) == ["case-00", "case-02", "case-04", "case-06"]
    assert view._repr_mimebundle_()["text/html"] == view.html()
    with pytest.raises(WorkbenchError, match="sort"):
        view.update(sort="random")
    with pytest.raises(WorkbenchError, match="scorer: 'bleu'"):
        ComparisonView(comparison, scorer="bleu")


def test_score_board_for_a_comparison_shows_intervals_verdicts_cost_and_latency(comparison):
    rendered = ScoreBoard(comparison).html()
    assert "tiny@1.0.0" in rendered and "regressed" in rendered and "mcnemar" in rendered
    assert "latency p95 (s)" in rendered and "cost per call (USD)" in rendered and "+50%" in rendered  # 0.4 -> 0.6 s
    scores = scores_frame(comparison)
    assert set(scores["run"]) == {"tiny@1.0.0 (base01)", "tiny@1.1.0 (cand01)"} and len(scores) == 4
    totals = totals_frame(comparison)
    assert totals.loc["latency p50 (s)", "change"] == pytest.approx(0.5)
    bundle = ScoreBoard(comparison)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and bundle["text/html"] == rendered


def test_score_board_for_runs_lists_each_run_per_scorer(comparison):
    board = ScoreBoard([comparison.baseline, comparison.candidate, make_run("tiny@2.0.0", {"case-00": {"checks": 1}})])
    frame = scores_frame(board.target)
    assert len(frame[frame["scorer"] == "checks"]) == 3
    assert "tiny@2.0.0" in board.html() and "change" not in totals_frame(board.target).columns
    single = ScoreBoard(comparison.candidate).html()
    assert "tiny@1.1.0" in single and "pass rate" in single


def test_verdict_record_names_failing_scorers_and_their_cases(comparison):
    from workbench.gate import GatePolicy, check_gate

    policy = GatePolicy(critical=["checks"], min_effect=0.05)
    gate = check_gate(comparison, policy)
    assert not gate.passed
    assert failing_scorers(gate) == ["checks"]
    assert list(failing_cases(comparison, ["checks"])["case_id"]) == [f"case-{i:02d}" for i in range(8)]
    record = verdict_record(comparison, gate, policy).model_dump(mode="json")  # the JSON a notebook stores
    assert record["passed"] is False and record["candidate_run_id"] == "cand01" and record["regressed"] == ["checks"]
    assert record["failing_cases"] == [f"case-{i:02d}" for i in range(8)]
    import json

    json.dumps(record)  # plain JSON, as stored under VERDICT_MIME
    assert VERDICT_MIME.startswith("application/")


@pytest.mark.slow  # MiniLM and a Chroma index: several seconds on two cores
def test_retrieval_inspector_retrieves_with_chosen_k_and_mode_and_highlights_grounding(tmp_path):
    settings = rag_project(tmp_path)
    inspector = RetrievalInspector(retrieval(), settings, query="Can I get my money back?", k=2, mode="semantic")
    assert list(inspector.chunks["rank"]) == [1, 2] and inspector.chunks["source"].iloc[0] == "billing/refunds.md"
    assert "score_semantic" in inspector.chunks.columns
    hybrid = inspector.search(k=3, mode="hybrid", answer="You get a full refund within 14 days of a payment.")
    assert len(hybrid) == 3 and {"score_semantic", "score_bm25", "score_rrf"} <= set(hybrid.columns)
    assert bool(hybrid["grounds"].iloc[0])
    rendered = inspector.html()
    assert '<mark class="wb-ground">You get a full refund within 14 days of a payment.</mark>' in rendered
    assert "<th>bm25</th>" in rendered and "billing/refunds.md" in rendered
    widget = inspector.widget
    query, controls, answer, buttons, body = widget.children
    (k, mode), (button, status) = controls.children, buttons.children
    query.value, k.value, mode.value, answer.value = "How do I reset my password?", 1, "bm25", ""
    button.click()
    assert inspector.chunks["source"].tolist() == ["account/password-reset.md"] and "password-reset" in body.value
    query.value = " "
    button.click()
    assert "the query is empty" in status.value
    with pytest.raises(WorkbenchError, match="mode: 'fuzzy'"):
        inspector.search("x", mode="fuzzy")


def test_retrieval_inspector_takes_a_configuration_reference_and_refuses_one_without_retrieval(project):
    with pytest.raises(WorkbenchError, match="tiny@1.0.0 has no retrieval block"):
        RetrievalInspector("tiny@1.0.0", project)
    assert "type a query" in RetrievalInspector(retrieval(), project).html()
