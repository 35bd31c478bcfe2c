"""`mlflow_store.scope` leaves the process environment as it found it: a URI left in MLflow's global state (a
notebook's earlier `mlflow.set_tracking_uri`) must not be exported into `MLFLOW_TRACKING_URI`, where the next
`Settings.load` would take it for the project's store."""

import os

import mlflow

from workbench.mlflow_store import scope
from workbench.settings import Settings

from .conftest import write_project


def test_scope_exports_no_variable_the_caller_did_not_have(tmp_path):
    write_project(tmp_path / "a")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    mlflow.set_tracking_uri(other)
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # the global URI stays set; the variable is gone
    try:
        project = Settings.load(root=tmp_path / "a")
        with scope(project):
            assert mlflow.get_tracking_uri() == project.tracking_uri
        assert "MLFLOW_TRACKING_URI" not in os.environ
        assert Settings.load(root=tmp_path / "a").tracking_uri == project.tracking_uri
    finally:
        mlflow.set_tracking_uri(None)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
