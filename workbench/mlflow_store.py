"""The project's MLflow store, reached without ambient state: a client bound to its URI, a scope for MLflow's
fluent API that restores the caller's URI, the local store created once under a lock and relocated when the
project folder moved."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InfrastructureError
from .files import locked
from .settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

_READY: set[str] = set()  # stores this process has opened (created or migrated under the lock)


def open_store(settings: Settings) -> None:
    """A local SQLite store is created (or migrated) once per process, under a lock; a server is taken as it is."""
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")  # read by mlflow when it logs: runs log in order
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # "View run at" lines in reports
    if settings.tracking_uri.startswith("sqlite:///") and settings.tracking_uri not in _READY:
        path = Path(settings.tracking_uri.removeprefix("sqlite:///"))
        with store_lock(settings):
            _open_store(settings.tracking_uri, path)
            relocate_artifacts(settings)
        _READY.add(settings.tracking_uri)


def client(settings: Settings) -> MlflowClient:
    """An MLflow client of the project's store (tracking and prompt registry); MLflow's global URI is untouched."""
    from mlflow import MlflowClient

    open_store(settings)
    return MlflowClient(settings.tracking_uri, registry_uri=settings.tracking_uri)


_SCOPE = threading.RLock()  # one project's fluent MLflow calls at a time in a process


@contextmanager
def scope(settings: Settings) -> Iterator[MlflowClient]:
    """MLflow's fluent API (assessments, run search, the registry's run lookup) pointed at the project's store
    for the block.

    The caller's tracking URI (set with `mlflow.set_tracking_uri`, or `MLFLOW_TRACKING_URI`) is restored on
    exit, so two projects in one kernel never write into each other's store and a notebook's own MLflow
    calls go where they went before. The workbench's traces never need it (`traces.log_traces` writes them to
    the store directly). Yields the project's client."""
    import mlflow
    from mlflow.tracking._tracking_service import utils

    project = client(settings)
    with _SCOPE:
        before, environ = utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")
        mlflow.set_tracking_uri(settings.tracking_uri)
        try:
            yield project
        finally:
            mlflow.set_tracking_uri(before)  # type: ignore[arg-type]  # None: back to "not set" (MLflow handles it)
            if environ is None:  # set_tracking_uri exports the URI it sets: the caller had no variable
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = environ  # set_tracking_uri(None) removed the caller's variable


def use(settings: Settings) -> None:
    """Point MLflow's global tracking URI at the project, for a notebook that calls MLflow itself.

    The workbench never calls it: its own calls go through `client` and `scope`, which leave the URI alone."""
    import mlflow

    open_store(settings)
    mlflow.set_tracking_uri(settings.tracking_uri)


def store_lock(settings: Settings):
    """The lock that serializes creating and migrating the local MLflow store (`<home>/.mlflow.db.lock`)."""
    return locked(Path(settings.tracking_uri.removeprefix("sqlite:///")), timeout=600)


def _open_store(uri: str, path: Path) -> None:
    from mlflow import MlflowClient

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with quiet("mlflow.store.db.utils", "alembic"):  # "Creating initial MLflow database tables..." on stderr
            client = MlflowClient(uri)
            client.search_experiments(max_results=1)  # creates or migrates the tracking tables
            client.search_registered_models(max_results=1)  # and the registry's (the prompt registry)
    except Exception as exc:
        first = (str(exc).splitlines() or [""])[0][:300]
        raise InfrastructureError(
            f"the MLflow store cannot be opened: {type(exc).__name__}: {first}",
            file=path,
            fix="move the file aside to start a new store (or restore it from a "
            "backup), or point --tracking-uri at another store",
        ) from None


# Where the local store keeps artifact locations, as (table, location column, experiment id of the row).
_LOCATIONS = (
    ("experiments", "artifact_location", "experiment_id"),
    ("runs", "artifact_uri", "experiment_id"),
    ("logged_models", "artifact_location", "experiment_id"),
    ("trace_tags", "value", "(SELECT experiment_id FROM trace_info i WHERE i.request_id = trace_tags.request_id)"),
)


def relocate_artifacts(settings: Settings) -> list[str]:
    """A moved or copied project keeps its runs readable: MLflow stores absolute `file://` artifact locations,
    so the project's own SQLite store has every location of an experiment that points at another home's
    `artifacts/<name>` rewritten to this home's, when this home holds that folder. Returns the experiments moved."""
    if settings.tracking_uri != f"sqlite:///{settings.home / 'mlflow.db'}":
        return []  # a shared or external store: its locations are not this project's to change
    moved = []
    with closing(sqlite3.connect(settings.home / "mlflow.db", timeout=60)) as db, db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        experiments = db.execute("SELECT experiment_id, name, artifact_location FROM experiments").fetchall()
        for experiment, name, old in experiments:
            here = settings.artifacts_dir / name
            new = here.as_uri()
            if old == new or not str(old).startswith("file://") or not here.is_dir():
                continue
            for table, column, owner in _LOCATIONS:
                if table in tables:
                    db.execute(
                        f"UPDATE {table} SET {column} = ? || substr({column}, ?) "  # names from _LOCATIONS
                        f"WHERE {owner} = ? AND ({column} = ? OR substr({column}, 1, ?) = ?)",
                        (new, len(old) + 1, experiment, old, len(old) + 1, old + "/"),
                    )
            moved.append(name)
    return moved


@contextmanager
def quiet(*names: str) -> Iterator[None]:
    """MLflow's INFO lines of these loggers are left out for the block (they would reach every CI report)."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
