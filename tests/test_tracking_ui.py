"""What the MLflow UI reads, checked on a real SQLite store: the run spans the evaluation, the dataset is a
dataset input, scores and human labels are assessments on traces, the `production` alias follows
`prompts/production.yaml`, and creating a store writes nothing to stderr."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from workbench.experiment import evaluate
from workbench.mlflow_store import client
from workbench.review import ReviewQueue
from workbench.settings import Settings

from .conftest import write_project
from .test_exit_codes import REPO
from .test_servers import mlflow_server  # noqa: F401  (the loopback server fixture)


def traces_of(project, run_id):
    store = client(project)
    experiment = store.get_run(run_id).info.experiment_id
    return store.search_traces(locations=[experiment], run_id=run_id, flush=True)


def test_the_run_spans_the_evaluation_and_holds_the_dataset(project):
    before = time.time()
    result = evaluate("tiny@1.0.0", "tiny", settings=project, progress=False, traces=0)
    run = client(project).get_run(result.run_id)
    assert result.started_at is not None and result.ended_at is not None
    assert run.info.start_time == int(result.started_at * 1000) and run.info.end_time == int(result.ended_at * 1000)
    assert int(before * 1000) <= run.info.start_time
    # the local model's three answers take far longer than the 240 ms logging took alone
    assert run.info.end_time - run.info.start_time >= result.duration_s * 1000
    (dataset,) = run.inputs.dataset_inputs
    assert dataset.dataset.name == "tiny@1" and dataset.dataset.digest == result.dataset_hash[:12]
    assert json.loads(dataset.dataset.source) == {"uri": "datasets/tiny/1.jsonl"}
    assert json.loads(dataset.dataset.profile)["num_rows"] == 3
    assert {t.key: t.value for t in dataset.tags} == {
        "mlflow.data.context": "evaluation",
        "workbench.dataset_hash": result.dataset_hash,
    }


def test_every_score_is_an_assessment_on_its_trace(project):
    result = evaluate("tiny@1.0.0", "tiny", settings=project, progress=False, traces=None)
    traces = traces_of(project, result.run_id)
    assert len(traces) == 3
    record = result.record.set_index("case_id")
    for trace in traces:
        case = trace.info.tags["workbench.case_id"]
        assert trace.info.token_usage["total_tokens"] > 0  # the traces list's Tokens column
        feedback = {a.name: a for a in trace.info.assessments}
        assert set(feedback) == {"exact_match", "contains", "forbidden_terms", "case_checks"}
        for score in record.loc[case, "scores"]:
            assessment = feedback[score["scorer"]]
            assert assessment.source.source_type == "CODE"
            assert assessment.value == bool(score["passed"])  # pass/fail scores read as pass/fail
            assert assessment.rationale == (score["reason"] or None)
            assert assessment.metadata == {"passed": str(score["passed"]).lower()}
    failed = [t for t in traces if not all(s["passed"] for s in record.loc[t.info.tags["workbench.case_id"], "scores"])]
    assert all(any(a.value is False for a in t.info.assessments) for t in failed)


def test_review_labels_are_human_assessments_on_the_case_trace(project):
    result = evaluate("tiny@1.0.0", "tiny", settings=project, progress=False, traces=None)
    queue = ReviewQueue(result, project, reviewer="ana")
    queue.label("capital", "fail", comment="the answer names no city")
    queue.label("capital", rating=2, correction="Paris")  # the verdict is kept, the rating and correction added
    ReviewQueue(result, project, reviewer="bo").label("capital", "pass")
    by_case = {t.info.tags["workbench.case_id"]: t for t in traces_of(project, result.run_id)}
    human = [a for a in by_case["capital"].info.assessments if a.source.source_type == "HUMAN"]
    labels = {(a.source.source_id, a.name): a for a in human}
    assert len(human) == len(labels) == 4  # ana's first label was replaced, not duplicated
    assert labels[("ana", "reviewer_verdict")].value is False
    assert labels[("ana", "reviewer_verdict")].rationale == "the answer names no city"
    assert labels[("ana", "reviewer_rating")].value == 2
    assert labels[("ana", "expected_response")].value == "Paris"
    assert labels[("bo", "reviewer_verdict")].value is True
    assert not [a for a in by_case["sum"].info.assessments if a.source.source_type == "HUMAN"]


def test_the_production_alias_follows_production_yaml_on_every_sync(project):
    store = client(project)
    source = (project.prompts_dir / "tiny" / "1.0.0.yaml").read_text()
    (project.prompts_dir / "tiny" / "1.1.0.yaml").write_text(source.replace("a few words", "one word"))
    (project.prompts_dir / "production.yaml").write_text("tiny: 1.0.0\n")  # written by hand, never promoted
    evaluate("tiny@1.1.0", "tiny", settings=project, progress=False, traces=0)
    production = store.get_prompt_version_by_alias("tiny", "production")
    assert production.tags["workbench.version"] == "1.0.0"  # registered for the alias, though 1.1.0 ran
    (project.prompts_dir / "production.yaml").write_text("tiny: 1.1.0\n")
    evaluate("tiny@1.1.0", "tiny", settings=project, progress=False, traces=0, log=True)
    assert store.get_prompt_version_by_alias("tiny", "production").tags["workbench.version"] == "1.1.0"
    assert store.load_prompt("prompts:/tiny@production").template[0]["content"] == "Answer in one word."


def test_a_new_store_writes_no_mlflow_log_lines(tmp_path):
    """The gate notebook's first cell showed these as a red box at the top of every CI report."""
    write_project(tmp_path)
    code = (
        "from workbench.settings import Settings; from workbench.mlflow_store import client; from workbench.tracking import find_runs; "
        f"s = Settings.load(root={str(tmp_path)!r}); client(s).search_experiments(); find_runs(s)"
    )
    env = {"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".workbench" / "mlflow.db").exists()
    assert "INFO" not in done.stderr and "mlflow" not in done.stderr, done.stderr


@pytest.mark.slow
def test_a_shared_server_gets_the_dataset_assessments_and_review_labels(project, mlflow_server):  # noqa: F811
    """The team's path: a loopback `mlflow server` (its API pages traces at a few hundred)."""
    shared = Settings.load(root=project.root, tracking_uri=mlflow_server)
    result = evaluate("tiny@1.0.0", "tiny", settings=shared, progress=False, traces=None)
    ReviewQueue(result, shared, reviewer="ana").label("sum", "fail", comment="wrong sum")
    store = client(shared)
    assert store.get_run(result.run_id).inputs.dataset_inputs[0].dataset.name == "tiny@1"
    by_case = {t.info.tags["workbench.case_id"]: t for t in traces_of(shared, result.run_id)}
    names = {(a.source.source_type, a.name) for a in by_case["sum"].info.assessments}
    assert ("HUMAN", "reviewer_verdict") in names and ("CODE", "exact_match") in names
