"""FeedbackCollector: validation, the durable JSONL log, latest-wins, export as a new dataset version, and one pipeline
with the CLI's `feedback harvest`."""

from __future__ import annotations

import json

import pytest

from workbench.datasets import load_dataset
from workbench.errors import WorkbenchError
from workbench.feedback import feedback_path, select_cases
from workbench.widgets import Feedback, FeedbackCollector, FeedbackStore

from .test_widgets_cases import make_run


@pytest.fixture
def run(project):
    dataset = load_dataset("tiny", project.datasets_dir)
    return make_run(
        "tiny@1.0.0",
        {"capital": {"checks": 1}, "sum": {"checks": 0}, "color": {"checks": 0}},
        outputs={"capital": "Paris.", "sum": "Five.", "color": "Green."},
        dataset_hash=dataset.hash,
        run_id="0123456789abcdef",
    )


def test_feedback_records_are_validated_with_the_field_named():
    with pytest.raises(WorkbenchError, match="thumb: 'sideways'"):
        Feedback.validated(case_id="a", reviewer="ana", thumb="sideways")
    with pytest.raises(WorkbenchError, match="rating: 6 must be a whole number from 1 to 5"):
        Feedback.validated(case_id="a", reviewer="ana", rating=6)
    with pytest.raises(WorkbenchError, match="rating: True"):
        Feedback.validated(case_id="a", reviewer="ana", rating=True)
    with pytest.raises(WorkbenchError, match="empty; give a thumb"):
        Feedback.validated(case_id="a", reviewer="ana", comment="  ")
    with pytest.raises(WorkbenchError, match="reviewer: empty"):
        Feedback.validated(case_id="a", reviewer=" ", thumb="up")


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
    with pytest.raises(WorkbenchError, match=r"f\.jsonl:2: thumb: 'maybe' is not one of up, down"):
        FeedbackStore(path).records()
    first = path.read_bytes().splitlines(keepends=True)[0]
    path.write_bytes(
        first + b'{"case_id": "b", "reviewer": "ana", "comment": "caf\xe9"}\n'
    )  # latin-1: named, no traceback
    with pytest.raises(WorkbenchError, match=r"f\.jsonl:2: encoding: byte 0xe9"):
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
    ana.record("color", thumb="down", comment="the sky is blue")  # no correction: the golden case as it is
    ana.record("capital", thumb="up", rating=5)
    harvest = ana.export("down")
    new = harvest.dataset
    assert new.ref == "tiny@2" and len(new) == len(original) + 1 and harvest.added == ["sum-01234567"]
    assert harvest.skipped == {"color": "as 'color' in tiny@1"}  # copying it back would only double the golden case
    assert "skipped 1 case(s) already in the dataset: color (as 'color' in tiny@1)" in harvest.report()
    assert original.path.read_text() == before  # the old version is untouched
    reread = {c.id: c for c in load_dataset("tiny@2", project.datasets_dir).cases}
    case = reread["sum-01234567"]
    assert case.inputs == {"question": "What is 2 + 2?"} and case.expected == "2 + 2 = 4"  # the correction
    assert case.checks.must_contain == ["4"] and "feedback" in case.tags
    assert case.metadata["source_case"] == "sum" and case.metadata["kept_because"] == ["feedback"]
    provenance = case.metadata["provenance"]
    assert (
        provenance["run_id"] == "0123456789abcdef" and provenance["reviewers"] == ["ana", "bo"] and provenance["time"]
    )
    assert provenance["reviewer"] == "ana" and provenance["annotations"] == [str(ana.store.path)]
    reviews = case.metadata["feedback"]
    assert {r["reviewer"] for r in reviews} == {"ana", "bo"} and all(r["time"] for r in reviews)
    assert [r["rating"] for r in reviews if r["reviewer"] == "bo"] == [1]
    with pytest.raises(
        WorkbenchError,
        match=r"nothing to add to tiny@2: every selected case is already there "
        r"\(sum 'sum-01234567' is already in tiny@2; color as 'color' in tiny@2\)",
    ):
        ana.export("down", into=new)
    assert not (original.path.parent / "3.jsonl").exists()


def test_export_selections(run, project):
    collector = FeedbackCollector(run, reviewer="ana", settings=project)
    with pytest.raises(WorkbenchError, match="no failed, guardrail-triggering or selected reviewed cases"):
        collector.export()
    collector.record("capital", thumb="up", rating=4)
    collector.record("sum", rating=2, comment="meh")
    reviews = collector.store.latest()
    ids = lambda which: sorted(select_cases(run, reviews, failed=False, guardrails=False, which=which))  # noqa: E731
    assert ids("up") == ["capital"]
    assert ids("rated<=2") == ["sum"] and ids("low") == ["sum"]
    assert ids("all") == ["capital", "sum"]
    assert ids("down") == []
    assert sorted(select_cases(run, reviews)) == ["color", "sum"]  # the CLI's default: failed checks and low reviews
    assert select_cases(run, reviews)["sum"] == ["failed", "feedback"]
    with pytest.raises(WorkbenchError, match="which: 'worst' is not a selection"):
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

    from workbench.mlflow_store import use
    from workbench.tracking import experiment_id

    use(project)
    with mlflow.start_run(experiment_id=experiment_id("tiny", project)) as active:  # artifacts under the project's home
        run_id = active.info.run_id
    run = make_run(
        "tiny@1.0.0",
        {"capital": {"checks": 1}},
        run_id=run_id,
        dataset_hash=load_dataset("tiny", project.datasets_dir).hash,
    )
    collector = FeedbackCollector(run, reviewer="ana", settings=project)
    collector.record("capital", thumb="up")
    collector.store.log_to_mlflow(run_id, project)
    assert [a.path for a in MlflowClient().list_artifacts(run_id, "feedback")] == [f"feedback/{run_id}.jsonl"]


def test_the_live_widget_saves_reloads_and_exports(run, project):
    collector = FeedbackCollector(run, reviewer="ana", settings=project)
    (prev, case, nxt), answer, thumb, rating, comment, correction, (save, which, export), status, table = (
        c.children if hasattr(c, "children") else c for c in collector.widget.children
    )
    assert case.value == "capital" and "Paris." in answer.value
    nxt.click()
    assert case.value == "sum" and "Five." in answer.value
    thumb.value, rating.value, comment.value, correction.value = "down", 1, "wrong sum", "It is 4."
    save.click()
    assert status.value == "saved sum" and "1 of 3 cases reviewed" in table.value
    prev.click()
    assert thumb.value is None and comment.value == ""  # capital has no review yet
    nxt.click()
    assert (thumb.value, rating.value, comment.value, correction.value) == (
        "down",
        1,
        "wrong sum",
        "It is 4.",
    )  # reloaded
    comment.value, thumb.value, rating.value, correction.value = "", None, None, ""
    save.click()
    assert "empty; give a thumb" in status.value
    which.value = "down"
    export.click()
    assert status.value.startswith("wrote ") and "tiny@2" in status.value
    assert load_dataset("tiny@2", project.datasets_dir).cases[-1].id == "sum-01234567"
    export.click()  # again: tiny@2 holds the case already, so nothing is written and the status says why
    assert (
        status.value.startswith("nothing to add to tiny@2") and not (project.datasets_dir / "tiny" / "3.jsonl").exists()
    )


def test_the_widgets_annotations_through_the_cli_give_the_library_rows(run, project, tmp_path, capsys):
    """One pipeline: the collector's file, harvested by `workbench feedback harvest`, writes the rows the library
    call writes (only the provenance time differs); cases the dataset already holds are skipped, and said so."""
    from workbench.cli import main

    from .conftest import write_project

    saved = run.save(tmp_path / "run.parquet")
    write_project(tmp_path / "twin")  # the same project, for the CLI to write into
    ana = FeedbackCollector(run, reviewer="ana", settings=project)
    ana.record("capital", thumb="down", correction="Paris is the capital of France.")
    ana.record("sum", rating=2, correction="It is 4.")  # sum also failed its check
    ana.record("sum", rating=1, correction="2 + 2 = 4")  # the latest review wins
    library = ana.export("low", failed=True, guardrails=True)  # what the CLI selects by default
    code = main(
        [
            "--root",
            str(tmp_path / "twin"),
            "feedback",
            "harvest",
            str(saved),
            "--dataset",
            "tiny@1",
            "--annotations",
            str(ana.store.path),
            "--reviewer",
            "ana",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and out.startswith(
        f"wrote {tmp_path / 'twin' / 'datasets' / 'tiny' / '2.jsonl'}: tiny@2, 5 cases (+2)"
    )
    assert "skipped 1 case(s) already in the dataset: color (as 'color' in tiny@1)" in out  # failed, nothing new

    def rows(root):
        cases = [c.model_dump(mode="json") for c in load_dataset("tiny@2", root / "datasets").cases]
        for case in cases:
            case["metadata"].get("provenance", {}).pop("time", None)
        return cases

    assert rows(tmp_path / "twin") == rows(project.root) and library.added == ["sum-01234567", "capital-01234567"]
    sum_case = next(case for case in rows(project.root) if case["id"] == "sum-01234567")
    assert sum_case["expected"] == "2 + 2 = 4" and sum_case["metadata"]["kept_because"] == ["failed", "feedback"]


def test_the_readme_harvest_does_not_double_the_golden_dataset(run, project, tmp_path, capsys):
    """`workbench feedback harvest run --dataset tiny@1` on failed cases alone: they are tiny@1's own cases, so
    nothing is copied back; the command says so and exits 2 without writing a version."""
    from workbench.cli import main

    saved = run.save(tmp_path / "run.parquet")
    code = main(["--root", str(project.root), "feedback", "harvest", str(saved), "--dataset", "tiny@1"])
    err = capsys.readouterr().err
    assert code == 2 and "nothing to add to tiny@1: every selected case is already there" in err
    assert "sum as 'sum' in tiny@1" in err and "color as 'color' in tiny@1" in err
    assert not (project.datasets_dir / "tiny" / "2.jsonl").exists()
