"""What the workbench logs to MLflow: the run of a configuration over a dataset (its configuration registered
through `prompt_registry`), comparisons and review labels. The store itself is reached through `mlflow_store`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .datasets import Dataset, load_dataset
from .errors import Failure, InfrastructureError, WorkbenchError
from .mlflow_store import client, scope
from .names import check_name
from .prompt_registry import register_prompt, sync_production_alias
from .prompts import Prompt, resolve
from .results import RunResult
from .settings import Settings
from .traces import CASE_TAG, DEFAULT_TRACES, log_traces, sample_calls

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities import DatasetInput

    from .compare import Comparison
    from .gate import GateResult


def experiment_id(name: str, settings: Settings) -> str:
    """One experiment per configuration family; local artifacts live beside the local store.
    When another process creates it at the same moment, the one it created is used."""
    from mlflow.exceptions import MlflowException

    project = client(settings)
    found = project.get_experiment_by_name(name)
    if found:
        return found.experiment_id
    location = None if settings.tracking_uri.startswith("http") else (settings.artifacts_dir / name).as_uri()
    try:
        return project.create_experiment(name, artifact_location=location)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS" or (found := project.get_experiment_by_name(name)) is None:
            raise
        return found.experiment_id


COMPLETE_TAG, PID_TAG, HOST_TAG = "workbench.complete", "workbench.pid", "workbench.host"
#: Rows of a run's record logged as the MLflow table `cases.json` (the whole record is the Parquet artifact).
TABLE_ROWS = 10_000


def save_local(result: RunResult, settings: Settings) -> Path:
    """The run's results as Parquet under `<home>/runs/`, written before MLflow sees them."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    slug = f"{result.prompt_ref}-{result.dataset_ref}".replace("@", "_")
    return result.save(settings.home / "runs" / f"{stamp}-{slug}-{os.getpid()}.parquet")


def log_run(
    result: RunResult, prompt: Prompt, dataset: Dataset, settings: Settings, traces: int | None = DEFAULT_TRACES
) -> str:
    """Log one run; the completion tag is written last, so a run that died while logging shows as incomplete.

    The results are first saved under `<home>/runs/`; when logging fails they stay there, and the error
    says how to log them later (`workbench runs log <file>`). `traces` cases get an MLflow trace
    (failures first); None traces every case.
    """
    saved = save_local(result, settings)
    try:
        with tempfile.TemporaryDirectory(dir=saved.parent) as tmp:  # the saved file, under the artifact's name
            return _log_run(result, prompt, dataset, settings, traces, _linked(saved, Path(tmp) / "results.parquet"))
    except WorkbenchError:  # bad input: the user fixes it, nothing failed to log
        raise
    except Exception as exc:
        reason = str(exc) if isinstance(exc, Failure) else f"{type(exc).__name__}: {str(exc)[:300]}"
        raise InfrastructureError(
            f"logging to MLflow ({settings.tracking_uri}) failed: {reason}; the results are kept in {saved}",
            fix=f"log them later with: workbench runs log {saved}",
        ) from None


def _log_run(
    result: RunResult, prompt: Prompt, dataset: Dataset, settings: Settings, traces: int | None, parquet: Path
) -> str:
    """Log `result`; `parquet` is its `RunResult.save` file, named `results.parquet` (the artifact's name)."""
    from mlflow.entities import Metric, Param, RunTag

    project = client(settings)
    registered = register_prompt(prompt, settings)
    sync_production_alias(prompt.name, settings)
    experiment = experiment_id(prompt.name, settings)
    started, ended = run_times(result)
    run_id = project.create_run(
        experiment,
        start_time=started,
        run_name=f"{prompt.ref} {dataset.ref}",
        tags={PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()},
    ).info.run_id
    try:
        tags = {
            "workbench.prompt": prompt.ref,
            "workbench.prompt_hash": prompt.hash,
            "workbench.dataset": dataset.ref,
            "workbench.dataset_hash": dataset.hash,
            "workbench.prompt_uri": f"prompts:/{prompt.name}/{registered.version}",
            **({"mlflow.source.git.commit": commit} if (commit := git_commit(settings.root)) else {}),
            **({"workbench.stopped": result.stopped} if result.stopped else {}),
        }
        project.log_batch(
            run_id,
            metrics=[Metric(k, float(v), ended, 0) for k, v in result.metrics().items()],
            params=[Param(k, str(v)) for k, v in params(result, prompt, dataset).items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        log_dataset(project, run_id, dataset_input(dataset, settings))
        table = result.head(TABLE_ROWS)  # the whole record is results.parquet; the table shows its first rows
        project.log_table(run_id, table.astype(object).where(table.notna(), None), artifact_file="cases.json")
        if len(table) < (calls := result.row_count()):
            project.set_tag(run_id, "workbench.table_rows", f"the first {len(table):,} of {calls:,} calls")
        project.log_artifact(run_id, str(prompt.path), artifact_path="configuration")
        project.log_artifact(run_id, str(parquet))
        with scope(settings):  # MLflow's registry finds the run in the global tracking store
            project.link_prompt_version_to_run(run_id, registered)
        if traces != 0:
            cases = dataset.select(case_id for case_id, _ in sample_calls(result, traces))
            traced = log_traces(result, cases, experiment, run_id, settings.tracking_uri, traces)
            project.set_tag(run_id, "workbench.traces", traced)
        project.set_tag(run_id, COMPLETE_TAG, "true")  # last: everything above is in the run
    except BaseException:
        project.set_terminated(run_id, status="FAILED")
        project.delete_run(run_id)
        raise
    project.set_terminated(run_id, end_time=ended)
    result.run_id = run_id
    return run_id


def _linked(source: Path, target: Path) -> Path:
    """`target` as a hard link to `source` (a copy on a file system without hard links)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    return target


def run_times(result: RunResult) -> tuple[int, int]:
    """The evaluation's start and end (epoch milliseconds): the MLflow run spans the evaluation, not its logging.
    A result that did not record them (a replay, an older saved run) ends now and lasts its measured duration."""
    ended = result.ended_at if result.ended_at is not None else time.time()
    started = result.started_at if result.started_at is not None else ended - result.duration_s
    return int(started * 1000), int(ended * 1000)


def log_dataset(project: MlflowClient, run_id: str, dataset: DatasetInput) -> None:
    """Log a dataset input to a run. Two runs at once in a new experiment both find no dataset there and both
    insert it: the later insert fails (the store rolls it back) and, asked again, finds the one just made."""
    from mlflow.exceptions import MlflowException

    try:
        project.log_inputs(run_id, datasets=[dataset])
    except MlflowException:
        project.log_inputs(run_id, datasets=[dataset])


def dataset_input(dataset: Dataset, settings: Settings) -> DatasetInput:
    """The dataset as an MLflow dataset input (the run's Dataset column): name@version, content hash, source file."""
    from mlflow.entities import Dataset as MlflowDataset
    from mlflow.entities import DatasetInput, InputTag

    path = Path(dataset.path).resolve()
    source = str(path.relative_to(settings.root)) if path.is_relative_to(settings.root) else str(path)
    variables = sorted(  # a large dataset knows its keys from validation: no second pass over its file
        dataset.variables if dataset.variables is not None else {name for case in dataset.cases for name in case.inputs}
    )
    columns = ["id", *(f"inputs.{name}" for name in variables), "expected"]
    return DatasetInput(
        MlflowDataset(
            name=dataset.ref,
            digest=dataset.hash[:12],
            source_type="local",
            source=json.dumps({"uri": source}),
            schema=json.dumps({"mlflow_colspec": [{"type": "string", "name": c} for c in columns]}),
            profile=json.dumps({"num_rows": len(dataset), "version": dataset.version, "hash": dataset.hash}),
        ),
        tags=[
            InputTag("mlflow.data.context", "evaluation"),
            InputTag("workbench.dataset_hash", dataset.hash),
        ],
    )


def log_saved(path: str | Path, settings: Settings, traces: int | None = DEFAULT_TRACES) -> str:
    """Log a run saved under `<home>/runs/` (or with `--save`) whose logging failed; its configuration and
    dataset must still have the hashes it ran with."""
    result = RunResult.load(path)
    prompt = resolve(result.prompt_ref, settings.prompts_dir)
    dataset = load_dataset(result.dataset_ref, settings.datasets_dir)
    for what, now, then in (("configuration", prompt, result.prompt_hash), ("dataset", dataset, result.dataset_hash)):
        if now.hash != then:
            raise WorkbenchError(
                f"the {what} {now.ref} changed since this run (hash {then[:12]}, now {now.hash[:12]})",
                file=path,
                fix=f"restore {now.ref} as it was, or run it again",
            )
    with tempfile.TemporaryDirectory() as tmp:  # saved again: an older file is logged in today's layout
        return _log_run(result, prompt, dataset, settings, traces, result.save(Path(tmp) / "results.parquet"))


def run_status(status: str, tags: dict[str, Any]) -> str:
    """complete | running | killed | failed | incomplete, from an MLflow run's status and workbench tags."""
    if status == "FINISHED":
        # runs logged before the completion tag existed have no pid tag: FINISHED was written last for them
        return "complete" if tags.get(COMPLETE_TAG) == "true" or PID_TAG not in tags else "incomplete"
    return {"RUNNING": "running", "KILLED": "killed", "FAILED": "failed"}.get(status, "incomplete")


def mark_stale_runs(settings: Settings) -> list[str]:
    """RUNNING runs whose process (recorded as pid and host tags) is gone on this host are marked KILLED."""
    project, host, killed = client(settings), socket.gethostname(), list[str]()
    experiments = [e.experiment_id for e in project.search_experiments()]
    if not experiments:
        return killed
    for run in project.search_runs(experiments, filter_string="attributes.status = 'RUNNING'", max_results=1000):
        pid = run.data.tags.get(PID_TAG, "")
        if run.data.tags.get(HOST_TAG) == host and pid.isdigit() and not _alive(int(pid)):
            project.set_terminated(run.info.run_id, status="KILLED")
            killed.append(run.info.run_id)
    return killed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def params(result: RunResult, prompt: Prompt, dataset: Dataset) -> dict[str, Any]:
    model = prompt.spec.model
    out = {
        "prompt.name": prompt.name,
        "prompt.version": prompt.version,
        "prompt.hash": prompt.hash,
        "model.provider": model.provider,
        "model.name": model.name,
        "dataset.name": dataset.name,
        "dataset.version": dataset.version,
        "dataset.hash": dataset.hash,
        "dataset.cases": len(dataset),
        "scorers": json.dumps(result.scorers),
        "run.repeats": result.repeats,
        "run.seed_offset": result.seed_offset,
        **result.params,
    }
    out.update({f"model.params.{k}": v for k, v in model.params.model_dump(exclude_none=True).items()})
    if model.base_url:
        out["model.base_url"] = model.base_url
    if prompt.spec.fallbacks:
        out["fallbacks"] = json.dumps([f"{m.provider}:{m.name}" for m in prompt.spec.fallbacks])
    return out


def git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def load_run(run_id: str, settings: Settings) -> RunResult:
    """A logged run's results, from its Parquet artifact."""
    import mlflow
    from mlflow.exceptions import MlflowException

    check_name(run_id, "run")
    mark_stale_runs(settings)
    try:
        run = client(settings).get_run(run_id)
    except MlflowException as exc:
        raise WorkbenchError(
            f"run '{run_id}' not found in {settings.tracking_uri} ({exc.message[:200]})",
            fix="list runs with: workbench runs list",
        ) from None
    status = run_status(run.info.status, run.data.tags)
    if status != "complete":
        raise WorkbenchError(
            f"run '{run_id}' is {status}: it did not finish logging, so its results may be partial",
            fix="run the configuration again (cached answers make it cheap), or compare another run",
        )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path="results.parquet", dst_path=tmp, tracking_uri=settings.tracking_uri
            )
            result = RunResult.load(path)
    except MlflowException as exc:
        raise WorkbenchError(
            f"run '{run_id}': no results found in {settings.tracking_uri} ({exc.message[:200]})"
        ) from None
    result.run_id = run_id
    return result


def find_runs(
    settings: Settings, prompt: str | None = None, dataset_hash: str | None = None, max_results: int = 50
) -> pd.DataFrame:
    """Runs by configuration (`name` or `name@version`) and dataset hash (a prefix is enough), newest first."""
    import mlflow

    mark_stale_runs(settings)
    filters = []
    if prompt:
        filters.append(
            f"tags.`workbench.prompt` = '{prompt}'" if "@" in prompt else f"params.`prompt.name` = '{prompt}'"
        )
    with scope(settings):
        runs = mlflow.search_runs(
            search_all_experiments=True,
            filter_string=" and ".join(filters) or None,  # type: ignore[arg-type]
            max_results=max_results if not dataset_hash else 10_000,
            order_by=["attributes.start_time DESC"],
        )
    if runs.empty:
        return runs
    runs = runs[runs["tags.workbench.prompt"].notna()] if "tags.workbench.prompt" in runs else runs.iloc[0:0]
    if dataset_hash:
        runs = runs[runs["tags.workbench.dataset_hash"].str.startswith(dataset_hash)]
    tags = runs[[c for c in runs.columns if c.startswith("tags.")]].rename(columns=lambda c: c.removeprefix("tags."))
    runs = runs.assign(
        state=[
            run_status(status, {k: v for k, v in row.items() if isinstance(v, str)})
            for status, row in zip(runs["status"], tags.to_dict("records"))
        ]
    )
    columns = {
        "run_id": "run_id",
        "state": "status",
        "start_time": "start",
        "tags.workbench.prompt": "prompt",
        "tags.workbench.prompt_hash": "prompt_hash",
        "tags.workbench.dataset": "dataset",
        "tags.workbench.dataset_hash": "dataset_hash",
        "params.run.repeats": "repeats",
        "tags.workbench.gate": "gate",
    }
    present = {k: v for k, v in columns.items() if k in runs}
    return runs[list(present)].rename(columns=present).head(max_results).reset_index(drop=True)


def log_comparison(comparison: Comparison, gate: GateResult, settings: Settings) -> None:
    """Attach the comparison and the gate's verdict to the candidate's run."""
    run_id = comparison.candidate.run_id
    if run_id is None:
        return
    project = client(settings)
    project.log_table(run_id, comparison.table.reset_index(), artifact_file="comparison/scorers.json")
    project.log_table(run_id, comparison.cases, artifact_file="comparison/cases.json")
    project.set_tag(run_id, "workbench.gate", "passed" if gate.passed else "failed")
    project.set_tag(run_id, "workbench.verdict", gate.verdict)  # passed | regressed | inconclusive
    project.log_dict(run_id, gate.to_dict(), "comparison/gate.json")
    undecided = [o.message() for o in gate.of("inconclusive")]
    project.set_tag(run_id, "workbench.inconclusive", "; ".join(undecided)[:4900] or "none")
    project.set_tag(run_id, "workbench.baseline", comparison.baseline.prompt_ref)
    if comparison.baseline.run_id:
        project.set_tag(run_id, "workbench.baseline_run", comparison.baseline.run_id)
    regressed = comparison.regressed()
    project.set_tag(run_id, "workbench.regressed", ",".join(regressed) or "none")


REVIEW_NAMES = ("reviewer_verdict", "reviewer_rating", "expected_response")  # a review's assessments on a trace


def log_review(review: Any, settings: Settings) -> int:
    """A reviewer's label (a `feedback.Feedback` of a logged run) as human assessments on the case's traces in
    that run: pass/fail as `reviewer_verdict` (bool), the rating as `reviewer_rating` (1-5), both with the
    comment as rationale, and a correction as the expectation `expected_response`. They replace this reviewer's
    earlier ones. Returns how many traces were labelled (0: no logged run, or the case was not traced)."""
    import mlflow
    from mlflow.entities import AssessmentSource, AssessmentSourceType
    from mlflow.exceptions import MlflowException

    if not review.run_id:
        return 0
    project = client(settings)
    try:
        experiment = project.get_run(review.run_id).info.experiment_id
    except MlflowException:  # a run key of an unlogged run, or a run of another store
        return 0
    traces, token = [], None
    while True:  # a server answers at most a few hundred traces a page
        page = project.search_traces(
            locations=[experiment], run_id=review.run_id, include_spans=False, max_results=100, page_token=token
        )
        traces += [trace.info for trace in page if trace.info.tags.get(CASE_TAG) == review.case_id]
        token = page.token
        if not token:
            break
    source = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id=review.reviewer)
    rationale = review.comment or None
    with scope(settings):
        for info in traces:
            for old in info.assessments:
                if (
                    old.name in REVIEW_NAMES
                    and old.source.source_type == "HUMAN"
                    and old.source.source_id == review.reviewer
                ):
                    mlflow.delete_assessment(info.trace_id, old.assessment_id)
            if review.thumb is not None:
                mlflow.log_feedback(
                    trace_id=info.trace_id,
                    name="reviewer_verdict",
                    value=review.thumb == "up",
                    source=source,
                    rationale=rationale,
                )
            if review.rating is not None:
                mlflow.log_feedback(
                    trace_id=info.trace_id,
                    name="reviewer_rating",
                    value=int(review.rating),
                    source=source,
                    rationale=rationale,
                )
            if review.correction:
                mlflow.log_expectation(
                    trace_id=info.trace_id, name="expected_response", value=review.correction, source=source
                )
    return len(traces)
