"""The review queue on a scripted run: routing rules, the queue file, labels as feedback, calibration from
reviewed labels, harvest of reviewed cases, the ReviewQueue widget."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.experiment import evaluate
from workbench.feedback import FeedbackStore, feedback_path
from workbench.record import SCORE_RECORD, record_frame
from workbench.results import RunResult
from workbench.review import ReviewQueue, labeled_items, queue, queue_path, route
from workbench.widgets import ReviewQueue as ReviewQueueView

BOT = """\
name: bot
description: A scripted assistant; its third answer holds an e-mail address and markup.
model:
  provider: langchain
  name: langchain_core.language_models.fake_chat_models.FakeListChatModel
  kwargs:
    responses: ["Paris is the capital.", "It is 5.", "Mail blue@example.org, the sky is blue <script>alert(1)</script>"]
  max_concurrency: 1
guardrails: {pii: detect, injection: false}
variables: [question]
messages:
  - role: system
    content: Answer briefly.
  - role: user
    content: "{question}"
"""

JUDGE = """\
name: judge4
description: A scripted judge that always grades 4 of 5.
model:
  provider: langchain
  name: langchain_core.language_models.fake_chat_models.FakeListChatModel
  kwargs:
    responses: ["SCORE: 4 REASON: fine"]
variables: [input, output, expected, rubric]
messages:
  - role: user
    content: "{rubric} {input} {expected} {output}"
"""

SCORERS = ["case_checks", {"name": "llm_judge", "args": {"judge": "judge4@1.0.0"}}]


@pytest.fixture
def run(project, monkeypatch):
    """A scripted run of the tiny dataset, saved: capital passes, sum fails its check, color triggers PII."""
    for name, text in (("bot", BOT), ("judge4", JUDGE)):
        (project.prompts_dir / name).mkdir()
        (project.prompts_dir / name / "1.0.0.yaml").write_text(text)
    monkeypatch.setenv("WORKBENCH_ROOT", str(project.root))
    monkeypatch.setenv("WORKBENCH_REVIEWER", "ana")
    result = evaluate("bot@1.0.0", "tiny", scorers=SCORERS, settings=project, log=False, progress=False)
    result.save(project.root / "run.parquet")
    return result


def cli(project, *args: str) -> int:
    return main(["--root", str(project.root), *args])


def test_rules_route_cases_with_why(project, run):
    reasons = route(run)
    assert reasons["sum"] == [
        "judge_borderline: llm_judge 0.75, passes at 0.75",
        "disagreement: llm_judge passed, the checks failed",
    ]
    assert reasons["color"][-1] == "guardrails: pii:EMAIL"
    assert route(run, rules=["disagreement"]) == {"sum": ["disagreement: llm_judge passed, the checks failed"]}
    audit = route(run, rules=["disagreement"], audit=1, seed=3)
    assert len(audit) == 2 and audit == route(run, rules=["disagreement"], audit=1, seed=3)  # seeded
    assert route(run, rules=[], audit=10).keys() == {"capital", "sum", "color"}
    with pytest.raises(WorkbenchError, match="unknown rule"):
        route(run, rules=["vibes"])


def test_judge_errors_and_low_feedback_route(project):
    def row(case_id, judge, checks=True):
        empty = dict.fromkeys(SCORE_RECORD)
        return {
            "case_id": case_id,
            "inputs": {"question": "q"},
            "output": "a",
            "latency_s": 0.1,
            "cached": False,
            "scores": [
                {**empty, "scorer": "ragas_faithfulness", **judge},
                {**empty, "scorer": "case_checks", "value": float(checks), "passed": checks},
            ],
        }

    spec = [{"name": "ragas_faithfulness", "args": {"judge": "judge@1.0.0"}}, {"name": "case_checks", "args": {}}]
    record = record_frame(
        [
            row("a", {"value": None, "passed": None, "error": "scorer ragas_faithfulness: NaN"}),
            row("b", {"value": 0.9, "passed": None}),
            row("c", {"value": 0.1, "passed": None}, checks=False),  # fails, so do the checks: they agree
            row("d", {"value": 0.9, "passed": None}, checks=False),
        ]
    )
    run = RunResult("bot@1.0.0", "h" * 64, "tiny@1", "d" * 64, record, scorers=spec, run_id="r1")
    reviews = pd.DataFrame(
        [
            {
                "case_id": "b",
                "reviewer": "bo",
                "thumb": "down",
                "rating": None,
                "run_id": "r1",
                "prompt_ref": "bot@1.0.0",
                "correction": None,
            }
        ]
    )
    reasons = route(run, annotations=reviews)
    assert reasons == {
        "a": ["judge_error: ragas_faithfulness could not grade"],
        "b": ["low_feedback: thumbs down or rated low"],
        "d": ["disagreement: ragas_faithfulness passed, the checks failed"],
    }


def test_the_queue_persists_and_labels_are_feedback(project, run, capsys):
    assert cli(project, "review", "queue", str(project.root / "run.parquet"), "--rules", "disagreement,guardrails") == 0
    out = capsys.readouterr().out
    assert "sum: disagreement: llm_judge passed, the checks failed" in out and "color: guardrails: pii:EMAIL" in out
    assert cli(project, "review", "queue", str(project.root / "run.parquet"), "--rules", "disagreement") == 0
    assert "queued 0 case(s)" in capsys.readouterr().out  # nothing queued twice
    assert (
        cli(project, "review", "queue", str(project.root / "run.parquet"), "--rules", "guardrails", "--audit", "1") == 0
    )
    review = ReviewQueue(run, project)
    assert [item.case_id for item in review.items()] == ["sum", "color", "capital"]
    assert [json.loads(line)["case_id"] for line in queue_path(run, project).read_text().splitlines()] == [
        "sum",
        "color",
        "capital",
    ]
    assert queue_path(run, project).parent == project.home / "review"

    review.label("sum", "fail", correction="It is 4.", comment="wrong sum")
    review.label("color", "pass", rating=4)
    review.label("capital", rating=5)
    with pytest.raises(WorkbenchError, match="not a verdict"):
        review.label("sum", "maybe")
    with pytest.raises(WorkbenchError, match="give pass/fail"):
        review.label("sum")
    with pytest.raises(WorkbenchError, match="case 'nope' is not in run"):
        review.label("nope", "pass")
    stored = FeedbackStore(feedback_path(run, project)).records()
    assert [(f.case_id, f.thumb, f.rating, f.reviewer) for f in stored] == [
        ("sum", "down", None, "ana"),
        ("color", "up", 4, "ana"),
        ("capital", None, 5, "ana"),
    ]
    review.label("sum", rating=2)  # a second click keeps the first: still a fail, with its correction
    assert review.store.records()[-1].model_dump(include={"thumb", "rating", "correction", "comment"}) == {
        "thumb": "down",
        "rating": 2,
        "correction": "It is 4.",
        "comment": "wrong sum",
    }
    status = review.status().set_index("case_id")
    assert status.loc["sum", "label"] == "fail" and status.loc["sum", "correction"] == "It is 4."
    assert status["reviewed"].all()

    assert cli(project, "review", "list") == 0
    listing = capsys.readouterr().out
    assert "bot@1.0.0" in listing and " 3 " in listing
    assert cli(project, "review", "list", str(project.root / "run.parquet")) == 0
    assert "It is 4." in capsys.readouterr().out


def test_calibration_takes_reviewed_labels(project, run, capsys):
    review, _ = queue(run, project)
    review.label("sum", "fail")
    review.label("color", "pass")
    review.label("capital", "pass")
    items = {item.id: item for item in labeled_items(run, project)}
    assert items["sum/ana"].human_label == "fail" and items["sum/ana"].expected == "4"
    assert items["sum/ana"].output == "It is 5." and items["sum/ana"].input == {"question": "What is 2 + 2?"}
    code = cli(
        project,
        "calibrate",
        "llm_judge",
        "--reviewed",
        str(project.root / "run.parquet"),
        "--args",
        json.dumps({"judge": "judge4@1.0.0"}),
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "items 3  graded 3 (coverage 1.00)  accuracy 0.667" in out  # the judge passes the failed sum
    assert (project.home / "review" / "labels" / queue_path(run, project).name).exists()
    assert cli(project, "calibrate", "llm_judge") == 2
    assert "give a labeled JSONL file or --reviewed RUN" in capsys.readouterr().err


def test_calibration_without_labels_is_a_clear_error(project, run, capsys):
    assert cli(project, "calibrate", "llm_judge", "--reviewed", str(project.root / "run.parquet")) == 2
    assert "no reviewed labels" in capsys.readouterr().err


def test_harvest_takes_reviewed_cases_without_doubling_the_dataset(project, run, capsys):
    review, _ = queue(run, project)
    review.label("sum", "fail", correction="It is 4.")
    review.label("color", "pass")
    code = cli(
        project,
        "feedback",
        "harvest",
        str(project.root / "run.parquet"),
        "--dataset",
        "tiny@1",
        "--no-failed",
        "--no-guardrails",
        "--which",
        "reviewed",
    )
    out = capsys.readouterr().out
    assert code == 0
    added = [json.loads(line) for line in (project.datasets_dir / "tiny" / "2.jsonl").read_text().splitlines()]
    assert len(added) == 4 and added[-1]["expected"] == "It is 4." and added[-1]["metadata"]["source_case"] == "sum"
    assert "skipped 1 case(s) already in the dataset: color" in out  # a reviewed pass adds nothing new
    assert (
        cli(
            project,
            "feedback",
            "harvest",
            str(project.root / "run.parquet"),
            "--dataset",
            "tiny@1",
            "--no-failed",
            "--no-guardrails",
            "--which",
            "corrected",
        )
        == 2
    )  # already harvested: nothing to add


def test_the_widget_shows_the_queue_escaped_and_records_labels(project, run):
    queue(run, project)
    view = ReviewQueueView(run, settings=project)
    html = view.html()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "guardrails: pii:EMAIL" in html and "llm_judge 0.75" in html and "0 of 3 reviewed" in html
    widget = view.widget
    header, detail, verdicts, rating, correction, save_correction, status, _ = widget.children
    assert header.children[1].value == "capital" and "Paris is the capital." in detail.value
    verdicts.children[1].click()  # one click: fail
    rating.value = 2  # one click: a rating
    assert status.value == "saved capital: rating 2"
    header.children[2].click()  # next case
    assert header.children[1].value == "sum" and "It is 5." in detail.value and rating.value is None
    header.children[2].click()
    assert "&lt;script&gt;" in detail.value and "<script>" not in detail.value
    records = FeedbackStore(feedback_path(run, project)).records()
    assert [(f.case_id, f.thumb, f.rating) for f in records] == [("capital", "down", None), ("capital", "down", 2)]
    view.label("color", "fail", correction="The sky is blue.")
    assert "2 of 3 reviewed" in view._table.value and "The sky is blue." in view._table.value
    with pytest.raises(WorkbenchError, match="not queued"):
        view.label("nope", "pass")


def test_a_bad_queue_file_names_its_line(project, run):
    path = queue_path(run, project)
    path.parent.mkdir(parents=True)
    path.write_text('{"case_id": "sum"}\n')
    with pytest.raises(WorkbenchError, match=r"jsonl:1: reasons: Field required"):
        ReviewQueue(run, project).items()
