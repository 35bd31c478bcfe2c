"""Everything MLflow: the run of a configuration over a dataset, and the prompt registry."""

from __future__ import annotations

import json
import logging
import os
import string
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .datasets import Dataset
from .prompts import Prompt
from .results import RunResult
from .settings import Settings

HASH_TAG = "workbench.hash"
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
logging.getLogger("alembic").setLevel(logging.WARNING)


def use(settings: Settings) -> None:
    """Point MLflow at the settings' store; a local SQLite store is created on first use."""
    import mlflow

    if settings.tracking_uri.startswith("sqlite:///"):
        settings.home.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)


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
    config = {"provider": model.provider, "model_name": model.name, "temperature": params.temperature,
              "max_tokens": params.max_tokens, "top_p": params.top_p, "top_k": params.top_k,
              "frequency_penalty": params.frequency_penalty, "presence_penalty": params.presence_penalty,
              "stop_sequences": params.stop, "extra_params": {"seed": params.seed} if params.seed is not None else {}}
    return mlflow.genai.register_prompt(
        name=prompt.name, template=registry_template(prompt), commit_message=f"{prompt.ref}: {prompt.spec.description}",
        tags={HASH_TAG: prompt.hash, "workbench.version": prompt.version},
        model_config={k: v for k, v in config.items() if v is not None})


def log_run(result: RunResult, prompt: Prompt, dataset: Dataset, settings: Settings) -> str:
    """Log one run completely, or not at all: a run that fails while logging is deleted."""
    import mlflow

    use(settings)
    registered = register_prompt(prompt)
    experiment = experiment_id(prompt.name, settings)
    run = mlflow.start_run(experiment_id=experiment, run_name=f"{prompt.ref} {dataset.ref}")
    try:
        mlflow.log_params(params(result, prompt, dataset))
        mlflow.log_metrics(result.metrics())
        mlflow.set_tags({"workbench.prompt": prompt.ref, "workbench.prompt_hash": prompt.hash,
                         "workbench.dataset": dataset.ref, "workbench.dataset_hash": dataset.hash,
                         "workbench.prompt_uri": f"prompts:/{prompt.name}/{registered.version}",
                         **({"mlflow.source.git.commit": commit} if (commit := git_commit(settings.root)) else {})})
        mlflow.log_table(result.frame.astype(object).where(result.frame.notna(), None), artifact_file="cases.json")
        mlflow.log_artifact(str(prompt.path), artifact_path="configuration")
        with tempfile.TemporaryDirectory() as tmp:
            path = result.save(Path(tmp) / "results.parquet")
            mlflow.log_artifact(str(path))
        mlflow.MlflowClient().link_prompt_version_to_run(run.info.run_id, registered)
    except BaseException:
        mlflow.end_run(status="FAILED")
        mlflow.delete_run(run.info.run_id)
        raise
    mlflow.end_run()
    result.run_id = run.info.run_id
    return run.info.run_id


def params(result: RunResult, prompt: Prompt, dataset: Dataset) -> dict[str, Any]:
    model = prompt.spec.model
    out = {"prompt.name": prompt.name, "prompt.version": prompt.version, "prompt.hash": prompt.hash,
           "model.provider": model.provider, "model.name": model.name,
           "dataset.name": dataset.name, "dataset.version": dataset.version, "dataset.hash": dataset.hash,
           "dataset.cases": len(dataset), "scorers": json.dumps(result.scorers)}
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
