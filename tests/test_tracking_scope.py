"""Two projects in one process: each MLflow store holds only its own runs, traces and prompts, and the
caller's own MLflow tracking URI is as it was after every workbench call."""

from __future__ import annotations

import os

import mlflow
import pytest

from workbench.experiment import evaluate
from workbench.mlflow_store import client, scope
from workbench.settings import Settings
from workbench.tracking import find_runs, load_run

from .conftest import write_project


@pytest.fixture
def two_projects(tmp_path) -> tuple[Settings, Settings]:
    settings = []
    for name in ("a", "b"):
        write_project(tmp_path / name)
        settings.append(Settings.load(root=tmp_path / name))
    return settings[0], settings[1]


def test_two_projects_log_alternately_and_the_callers_uri_stands(two_projects, tmp_path):
    mine = f"sqlite:///{tmp_path / 'mine.db'}"
    mlflow.set_tracking_uri(mine)  # a notebook's own store
    try:
        runs: dict[str, list[str]] = {"a": [], "b": []}
        for project, key in [(two_projects[0], "a"), (two_projects[1], "b"), (two_projects[0], "a")]:
            result = evaluate("tiny@1.0.0", "tiny", settings=project, progress=False, traces=1)
            runs[key].append(result.run_id)
            assert mlflow.get_tracking_uri() == mine and os.environ["MLFLOW_TRACKING_URI"] == mine
        for project, key, other in [(two_projects[0], "a", "b"), (two_projects[1], "b", "a")]:
            store = client(project)
            experiments = [e.experiment_id for e in store.search_experiments()]
            logged = {r.info.run_id for r in store.search_runs(experiments)}
            assert logged == set(runs[key]) and not logged & set(runs[other])
            traces = store.search_traces(locations=experiments, flush=True)
            assert {t.info.request_metadata["mlflow.sourceRun"] for t in traces} == set(runs[key])
            assert set(find_runs(project)["run_id"]) == set(runs[key])
            assert load_run(runs[key][0], project).run_id == runs[key][0]
            assert [v.version for v in store.search_prompt_versions("tiny")] == [1]  # one registration each
        assert mlflow.get_tracking_uri() == mine
        assert mlflow.search_experiments() == [] or all(e.name == "Default" for e in mlflow.search_experiments())
    finally:
        mlflow.set_tracking_uri(None)


def test_scope_restores_an_unset_uri_and_the_environment_variable(two_projects, monkeypatch, tmp_path):
    from mlflow.tracking._tracking_service import utils

    mlflow.set_tracking_uri(None)
    assert utils._tracking_uri is None and "MLFLOW_TRACKING_URI" not in os.environ
    with scope(two_projects[0]):
        assert mlflow.get_tracking_uri() == two_projects[0].tracking_uri
        with scope(two_projects[1]):  # nested: the inner project, then the outer one again
            assert mlflow.get_tracking_uri() == two_projects[1].tracking_uri
        assert mlflow.get_tracking_uri() == two_projects[0].tracking_uri
    assert utils._tracking_uri is None and "MLFLOW_TRACKING_URI" not in os.environ

    exported = f"sqlite:///{tmp_path / 'exported.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", exported)  # a shell's variable, never set through MLflow
    with pytest.raises(RuntimeError, match="inside"), scope(two_projects[0]):
        raise RuntimeError("inside")
    assert utils._tracking_uri is None and os.environ["MLFLOW_TRACKING_URI"] == exported
    assert mlflow.get_tracking_uri() == exported
