"""A moved or copied project folder keeps every locally logged run readable: MLflow's local store records
absolute `file://` artifact locations, which `mlflow_store.relocate_artifacts` points at the project's own home."""

from __future__ import annotations

import os
import shutil

import pytest

from workbench.cli import main
from workbench.experiment import evaluate
from workbench.mlflow_store import relocate_artifacts
from workbench.settings import Settings
from workbench.tracking import load_run

from .conftest import write_project


def fresh(root) -> Settings:
    """The project's settings as a new process sees them (mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI)."""
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    return Settings.load(root=root)


@pytest.mark.slow  # two runs on the local model
def test_a_moved_and_a_copied_project_read_and_log_their_own_runs(tmp_path, capsys):
    import mlflow
    from mlflow import MlflowClient

    write_project(tmp_path / "first")
    run_id = evaluate("tiny@1.0.0", "tiny", settings=fresh(tmp_path / "first"), progress=False).run_id
    mlflow.flush_trace_async_logging()  # as the process exit does, before anyone moves the folder
    shutil.copytree(tmp_path / "first", tmp_path / "copy")
    (tmp_path / "first").rename(tmp_path / "moved")

    moved = fresh(tmp_path / "moved")
    assert len(load_run(run_id, moved).cases()) == 3
    client = MlflowClient(moved.tracking_uri)  # the workbench never sets MLflow's global URI
    assert {a.path for a in client.list_artifacts(run_id)} >= {"cases.json", "configuration", "results.parquet"}
    here = (moved.artifacts_dir / "tiny").as_uri()
    assert client.get_run(run_id).info.artifact_uri.startswith(here + "/")
    experiment = client.get_experiment_by_name("tiny")
    assert experiment.artifact_location == here
    traces = client.search_traces(locations=[experiment.experiment_id])
    assert traces and all(t.info.tags["mlflow.artifactLocation"].startswith(here + "/") for t in traces)
    code = main(["--root", str(moved.root), "compare", f"run:{run_id}", f"run:{run_id}", "--dataset", "tiny"])
    assert code == 0 and "GATE PASSED" in capsys.readouterr().out
    assert relocate_artifacts(moved) == []  # once is enough

    copy = fresh(tmp_path / "copy")
    second = evaluate("tiny@1.0.0", "tiny", settings=copy, progress=False, traces=0).run_id
    client = MlflowClient(copy.tracking_uri)
    for run in (run_id, second):  # both read from the copy's own folder
        assert client.get_run(run).info.artifact_uri.startswith((copy.artifacts_dir / "tiny").as_uri() + "/")
        assert len(load_run(run, copy).cases()) == 3
    assert not (moved.artifacts_dir / "tiny" / second).exists()  # the copy never writes into the original


def test_a_shared_store_is_left_alone(tmp_path):
    write_project(tmp_path)
    shared = Settings.load(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert relocate_artifacts(shared) == []
