"""Everything MLflow: the run of a configuration over a dataset, and the prompt registry."""

from __future__ import annotations

import json
import logging
import os
import socket
import string
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .datasets import Dataset, load_dataset
from .errors import Exit, InfrastructureError, WorkbenchError
from .files import locked
from .names import check_name
from .prompts import Prompt, resolve
from .results import RunResult
from .settings import Settings
from .traces import DEFAULT_TRACES, log_traces, sample_calls

if TYPE_CHECKING:
    import pandas as pd

    from .compare import Comparison
    from .gate import GateResult

HASH_TAG = "workbench.hash"
logging.getLogger("alembic").setLevel(logging.WARNING)
_READY: set[str] = set()  # stores this process has opened (created or migrated under the lock)


def use(settings: Settings) -> None:
    """Point MLflow at the settings' store; a local SQLite store is created (or migrated) once, under a lock."""
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")  # read by mlflow when it logs: runs log in order
    import mlflow

    mlflow.set_tracking_uri(settings.tracking_uri)
    if settings.tracking_uri.startswith("sqlite:///") and settings.tracking_uri not in _READY:
        path = Path(settings.tracking_uri.removeprefix("sqlite:///"))
        with store_lock(settings):
            _open_store(settings.tracking_uri, path)
        _READY.add(settings.tracking_uri)


def store_lock(settings: Settings):
    """The lock that serializes creating and migrating the local MLflow store (`<home>/.mlflow.db.lock`)."""
    return locked(Path(settings.tracking_uri.removeprefix("sqlite:///")), timeout=600)


def _open_store(uri: str, path: Path) -> None:
    from mlflow import MlflowClient

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
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


def experiment_id(name: str, settings: Settings) -> str:
    """One experiment per configuration family; local artifacts live beside the local store."""
    from mlflow import MlflowClient

    client = MlflowClient()
    found = client.get_experiment_by_name(name)
    if found:
        return found.experiment_id
    location = None if settings.tracking_uri.startswith("http") else (settings.artifacts_dir / name).as_uri()
    return client.create_experiment(name, artifact_location=location)


def registry_template(prompt: Prompt) -> list[dict[str, str]]:
    """The messages in the registry's `{{var}}` syntax; literal braces stay single."""

    def convert(text: str) -> str:
        out = []
        for literal, field, _, _ in string.Formatter().parse(text):
            out.append(literal)
            if field is not None:
                out.append("{{" + field + "}}")
        return "".join(out)

    return [{"role": m.role, "content": convert(m.content)} for m in prompt.spec.messages]


def register_prompt(prompt: Prompt) -> Any:
    """Register a configuration version in the prompt registry; the same hash returns the same version."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    if client.get_prompt(prompt.name) is not None:
        token = None
        while True:
            page = client.search_prompt_versions(prompt.name, max_results=100, page_token=token)
            for version in page:
                if version.tags.get(HASH_TAG) == prompt.hash:
                    return version
            token = page.token
            if not token:
                break
    model = prompt.spec.model
    params = model.params
    config = {
        "provider": model.provider,
        "model_name": model.name,
        "temperature": params.temperature,
        "max_tokens": params.max_tokens,
        "top_p": params.top_p,
        "top_k": params.top_k,
        "frequency_penalty": params.frequency_penalty,
        "presence_penalty": params.presence_penalty,
        "stop_sequences": params.stop,
        "extra_params": {"seed": params.seed} if params.seed is not None else {},
    }
    return mlflow.genai.register_prompt(
        name=prompt.name,
        template=registry_template(prompt),
        commit_message=f"{prompt.ref}: {prompt.spec.description}",
        tags={HASH_TAG: prompt.hash, "workbench.version": prompt.version},
        model_config={k: v for k, v in config.items() if v is not None},
    )


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
        return _log_run(result, prompt, dataset, settings, traces)
    except Exception as exc:
        if isinstance(exc, WorkbenchError) and exc.code == Exit.BAD_INPUT:
            raise
        reason = str(exc) if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {str(exc)[:300]}"
        raise InfrastructureError(
            f"logging to MLflow ({settings.tracking_uri}) failed: {reason}; the results are kept in {saved}",
            fix=f"log them later with: workbench runs log {saved}",
        ) from None


def _log_run(result: RunResult, prompt: Prompt, dataset: Dataset, settings: Settings, traces: int | None) -> str:
    import mlflow

    use(settings)
    registered = register_prompt(prompt)
    experiment = experiment_id(prompt.name, settings)
    run = mlflow.start_run(
        experiment_id=experiment,
        run_name=f"{prompt.ref} {dataset.ref}",
        tags={PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()},
    )
    try:
        mlflow.log_params(params(result, prompt, dataset))
        mlflow.log_metrics(result.metrics())
        mlflow.set_tags(
            {
                "workbench.prompt": prompt.ref,
                "workbench.prompt_hash": prompt.hash,
                "workbench.dataset": dataset.ref,
                "workbench.dataset_hash": dataset.hash,
                "workbench.prompt_uri": f"prompts:/{prompt.name}/{registered.version}",
                **({"mlflow.source.git.commit": commit} if (commit := git_commit(settings.root)) else {}),
            }
        )
        if result.stopped:
            mlflow.set_tag("workbench.stopped", result.stopped)
        table = result.head(TABLE_ROWS)  # the whole record is results.parquet; the table shows its first rows
        mlflow.log_table(table.astype(object).where(table.notna(), None), artifact_file="cases.json")
        if len(table) < (calls := result.row_count()):
            mlflow.set_tag("workbench.table_rows", f"the first {len(table):,} of {calls:,} calls")
        mlflow.log_artifact(str(prompt.path), artifact_path="configuration")
        with tempfile.TemporaryDirectory() as tmp:
            path = result.save(Path(tmp) / "results.parquet")
            mlflow.log_artifact(str(path))
        mlflow.MlflowClient().link_prompt_version_to_run(run.info.run_id, registered)
        if traces != 0:
            cases = dataset.select(case_id for case_id, _ in sample_calls(result, traces))
            traced = log_traces(result, cases, experiment, traces)
            mlflow.set_tag("workbench.traces", traced)  # exported by MLflow's background queue, flushed at exit
        mlflow.set_tag(COMPLETE_TAG, "true")  # last: everything above is in the run
    except BaseException:
        mlflow.end_run(status="FAILED")
        mlflow.delete_run(run.info.run_id)
        raise
    mlflow.end_run()
    result.run_id = run.info.run_id
    return run.info.run_id


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
    return _log_run(result, prompt, dataset, settings, traces)


def run_status(status: str, tags: dict[str, Any]) -> str:
    """complete | running | killed | failed | incomplete, from an MLflow run's status and workbench tags."""
    if status == "FINISHED":
        # runs logged before the completion tag existed have no pid tag: FINISHED was written last for them
        return "complete" if tags.get(COMPLETE_TAG) == "true" or PID_TAG not in tags else "incomplete"
    return {"RUNNING": "running", "KILLED": "killed", "FAILED": "failed"}.get(status, "incomplete")


def mark_stale_runs(settings: Settings) -> list[str]:
    """RUNNING runs whose process (recorded as pid and host tags) is gone on this host are marked KILLED."""
    from mlflow import MlflowClient

    use(settings)
    client, host, killed = MlflowClient(), socket.gethostname(), []  # type: ignore[var-annotated]
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return killed
    for run in client.search_runs(experiments, filter_string="attributes.status = 'RUNNING'", max_results=1000):
        pid = run.data.tags.get(PID_TAG, "")
        if run.data.tags.get(HOST_TAG) == host and pid.isdigit() and not _alive(int(pid)):
            client.set_terminated(run.info.run_id, status="KILLED")
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
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    check_name(run_id, "run")
    use(settings)
    mark_stale_runs(settings)
    try:
        run = MlflowClient().get_run(run_id)
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
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="results.parquet", dst_path=tmp)
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

    use(settings)
    mark_stale_runs(settings)
    filters = []
    if prompt:
        filters.append(
            f"tags.`workbench.prompt` = '{prompt}'" if "@" in prompt else f"params.`prompt.name` = '{prompt}'"
        )
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
    from mlflow import MlflowClient

    run_id = comparison.candidate.run_id
    if run_id is None:
        return
    use(settings)
    client = MlflowClient()
    client.log_table(run_id, comparison.table.reset_index(), artifact_file="comparison/scorers.json")
    client.log_table(run_id, comparison.cases, artifact_file="comparison/cases.json")
    client.set_tag(run_id, "workbench.gate", "passed" if gate.passed else "failed")
    client.set_tag(run_id, "workbench.verdict", gate.verdict)  # passed | regressed | inconclusive
    client.log_dict(run_id, gate.to_dict(), "comparison/gate.json")
    undecided = [o.message() for o in gate.of("inconclusive")]
    client.set_tag(run_id, "workbench.inconclusive", "; ".join(undecided)[:4900] or "none")
    client.set_tag(run_id, "workbench.baseline", comparison.baseline.prompt_ref)
    if comparison.baseline.run_id:
        client.set_tag(run_id, "workbench.baseline_run", comparison.baseline.run_id)
    regressed = comparison.regressed()
    client.set_tag(run_id, "workbench.regressed", ",".join(regressed) or "none")


def set_production_alias(prompt: Prompt, settings: Settings) -> None:
    """Point the registry's `production` alias at this configuration version."""
    import mlflow

    use(settings)
    registered = register_prompt(prompt)
    mlflow.genai.set_prompt_alias(prompt.name, alias="production", version=int(registered.version))
