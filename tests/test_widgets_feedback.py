"""FeedbackCollector: validation, the durable JSONL log, latest-wins, and export as a new dataset version."""

from __future__ import annotations

import json

import pytest

from workbench.datasets import load_dataset
from workbench.errors import WorkbenchError
from workbench.widgets import Feedback, FeedbackCollector, FeedbackStore
from workbench.widgets.feedback_store import export_cases, feedback_path

from .test_widgets_cases import make_run


@pytest.fixture
def run(project):
    dataset = load_dataset("tiny", project.datasets_dir)
    return make_run("tiny@1.0.0", {"capital": {"checks": 1}, "sum": {"checks": 0}, "color": {"checks": 0}},
                    outputs={"capital": "Paris.", "sum": "Five.", "color": "Green."}, dataset_hash=dataset.hash,
                    run_id="0123456789abcdef")


def test_feedback_records_are_validated_with_the_field_named():
    with pytest.raises(WorkbenchError, match="thumb: 'sideways'"):
        Feedback(case_id="a", reviewer="ana", thumb="sideways")
    with pytest.raises(WorkbenchError, match="rating: 6 must be a whole number from 1 to 5"):
        Feedback(case_id="a", reviewer="ana", rating=6)
    with pytest.raises(WorkbenchError, match="rating: True"):
        Feedback(case_id="a", reviewer="ana", rating=True)
    with pytest.raises(WorkbenchError, match="empty; give a thumb"):
        Feedback(case_id="a", reviewer="ana", comment="  ")
    with pytest.raises(WorkbenchError, match="reviewer: empty"):
        Feedback(case_id="a", reviewer=" ", thumb="up")


def test_the_store_appends_durably_and_the_latest_record_per_case_and_reviewer_wins(tmp_path):
    path = tmp_path / "feedback" / "run.jsonl"
    store = FeedbackStore(path)
    store.append(Feedback(case_id="a", reviewer="ana", thumb="down", comment="wrong price"))
    store.append(Feedback(case_id="a", reviewer="bo", rating=2))
    store.append(Feedback(case_id="a", reviewer="ana", thumb="up", rating=5))
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["comment"] == "wrong price"  # append-only: history kept
    latest = FeedbackStore(path).latest()  # a fresh store (another kernel) reads the same
    assert len(latest) == 2
    ana = latest[latest["reviewer"] == "ana"].iloc[0]
    assert ana["thumb"] == "up" and ana["rating"] == 5 and ana["time"]


def test_a_damaged_line_is_reported_with_file_and_line(tmp_path):
    path = tmp_path / "f.jsonl"
    FeedbackStore(path).append(Feedback(case_id="a", reviewer="ana", thumb="up"))
    with open(path, "a") as handle:
        handle.write('{"case_id": "b", "reviewer": "ana", "thumb": "maybe"}\n')
    with pytest.raises(WorkbenchError, match=r"f\.jsonl:2: not a feedback record"):
        FeedbackStore(path).records()


def test_collector_records_against_the_run_and_refuses_unknown_cases(run, project):
    collector = FeedbackCollector(run, reviewer="ana", settings=project)
    assert collector.store.path == project.home / "feedback" / "0123456789abcdef.jsonl"
    saved = collector.record("sum", thumb="down", rating=1, comment="2 + 2 is 4", correction="4")
    assert saved.output == "Five." and saved.run_id == "0123456789abcdef" and saved.dataset_hash == run.dataset_hash
    with pytest.raises(WorkbenchError, match="case 'nope' is not in run"):
        collector.record("nope", thumb="up")
    assert "1 of 3 cases reviewed" in collector.html()
    unlogged = make_run("tiny@1.0.0", {"capital": {"checks": 1}}, dataset_hash="ab" * 32)
    assert feedback_path(unlogged, project).name == f"tiny@1.0.0-{'ab' * 6}.jsonl"


def test_export_writes_a_new_dataset_version_with_provenance(run, project):
    original = load_dataset("tiny", project.datasets_dir)
    before = original.path.read_text()
    ana = FeedbackCollector(run, reviewer="ana", settings=project)
    bo = FeedbackCollector(run, reviewer="bo", settings=project)
    ana.record("sum", thumb="down", comment="wrong", correction="2 + 2 = 4")
    bo.record("sum", thumb="down", rating=1)
    ana.record("color", thumb="down", comment="the sky is blue")
    ana.record("capital", thumb="up", rating=5)
    new = ana.export("down")
    assert new.ref == "tiny@2" and len(new) == len(original) + 2
    assert original.path.read_text() == before  # the old version is untouched
    reread = {c.id: c for c in load_dataset("tiny@2", project.datasets_dir).cases}
    case = reread["sum-fb-01234567"]
    assert case.inputs == {"question": "What is 2 + 2?"} and case.expected == "2 + 2 = 4"  # the correction
    assert case.checks.must_contain == ["4"] and "feedback" in case.tags
    provenance = case.metadata["provenance"]
    assert provenance["run_id"] == "0123456789abcdef" and provenance["reviewers"] == ["ana", "bo"] and provenance["time"]
    reviews = case.metadata["feedback"]
    assert {r["reviewer"] for r in reviews} == {"ana", "bo"} and all(r["time"] for r in reviews)
    assert reread["color-fb-01234567"].expected == "Blue"  # no correction: the original expected answer
    with pytest.raises(WorkbenchError, match="already used"):
        ana.export("down", dataset=new)


def test_export_selections(run, project):
    collector = FeedbackCollector(run, reviewer="ana", settings=project)
    with pytest.raises(WorkbenchError, match="no feedback recorded yet"):
        collector.export()
    collector.record("capital", thumb="up", rating=4)
    collector.record("sum", rating=2, comment="meh")
    dataset = load_dataset("tiny", project.datasets_dir)
    ids = lambda which: [c["id"] for c in export_cases(collector.store, run, dataset, which)[0]]  # noqa: E731
    assert ids("up") == ["capital-fb-01234567"]
    assert ids("rated<=2") == ["sum-fb-01234567"]
    assert sorted(ids("all")) == ["capital-fb-01234567", "sum-fb-01234567"]
    with pytest.raises(WorkbenchError, match="no feedback matches which='down'"):
        ids("down")
    with pytest.raises(WorkbenchError, match="which: 'worst'"):
        ids("worst")


def test_export_refuses_a_dataset_that_changed_since_the_run(project):
    stale = make_run("tiny@1.0.0", {"capital": {"checks": 1}}, dataset_hash="0" * 64, run_id="r1")
    collector = FeedbackCollector(stale, reviewer="ana", settings=project)
    collector.record("capital", thumb="down")
    with pytest.raises(WorkbenchError, match="its cases changed since run r1"):
        collector.export()


def test_feedback_can_be_attached_to_the_mlflow_run(project):
    import mlflow
    from mlflow import MlflowClient

    from workbench.tracking import experiment_id, use

    use(project)
    with mlflow.start_run(experiment_id=experiment_id("tiny", project)) as active:  # artifacts under the project's home
        run_id = active.info.run_id
    run = make_run("tiny@1.0.0", {"capital": {"checks": 1}}, run_id=run_id,
                   dataset_hash=load_dataset("tiny", project.datasets_dir).hash)
    collector = FeedbackCollector(run, reviewer="ana", settings=project)
    collector.record("capital", thumb="up")
    collector.store.log_to_mlflow(run_id, project)
    assert [a.path for a in MlflowClient().list_artifacts(run_id, "feedback")] == [f"feedback/{run_id}.jsonl"]


def test_the_live_widget_saves_reloads_and_exports(run, project):
    collector = FeedbackCollector(run, reviewer="ana", settings=project)
    (prev, case, nxt), answer, thumb, rating, comment, correction, (save, which, export), status, table = (
        c.children if hasattr(c, "children") else c for c in collector.widget.children)
    assert case.value == "capital" and "Paris." in answer.value
    nxt.click()
    assert case.value == "sum" and "Five." in answer.value
    thumb.value, rating.value, comment.value, correction.value = "down", 1, "wrong sum", "4"
    save.click()
    assert status.value == "saved sum" and "1 of 3 cases reviewed" in table.value
    prev.click()
    assert thumb.value is None and comment.value == ""  # capital has no review yet
    nxt.click()
    assert (thumb.value, rating.value, comment.value, correction.value) == ("down", 1, "wrong sum", "4")  # reloaded
    comment.value, thumb.value, rating.value, correction.value = "", None, None, ""
    save.click()
    assert "empty; give a thumb" in status.value
    which.value = "down"
    export.click()
    assert status.value.startswith("wrote ") and "tiny@2" in status.value
    assert load_dataset("tiny@2", project.datasets_dir).cases[-1].id == "sum-fb-01234567"
