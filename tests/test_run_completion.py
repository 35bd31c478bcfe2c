"""Runs are complete or visibly not: the completion tag is written last, stale runs of dead processes are
marked killed, incomplete runs are refused, results are on disk before MLflow sees them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

from workbench.cli import main
from workbench.datasets import load_dataset
from workbench.errors import InfrastructureError, WorkbenchError
from workbench.mlflow_store import use
from workbench.prompts import resolve
from workbench.record import COLUMNS
from workbench.results import RunResult
from workbench.settings import Settings
from workbench.tracking import (
    COMPLETE_TAG,
    HOST_TAG,
    PID_TAG,
    find_runs,
    load_run,
    log_run,
    mark_stale_runs,
    run_status,
)

from .test_exit_codes import REPO, cli


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def small_result(settings: Settings) -> RunResult:
    """A real result frame of the tiny configuration on the tiny dataset (no model needed)."""
    prompt, dataset = resolve("tiny@1.0.0", settings.prompts_dir), load_dataset("tiny", settings.datasets_dir)
    rows = [
        {
            **{c: None for c in COLUMNS},
            "case_id": case.id,
            "repeat": 0,
            "scorer": "exact_match",
            "value": 1.0,
            "passed": True,
            "output": case.expected,
            "latency_s": 0.2,
            "input_tokens": 10,
            "output_tokens": 2,
            "cost": 0.0,
            "cached": False,
            "blocked": False,
            "model": "smollm2-135m",
            "tags": "",
        }
        for case in dataset.cases
    ]
    frame = pd.DataFrame(rows, columns=COLUMNS).astype(
        {"input_tokens": "Int64", "output_tokens": "Int64", "passed": "boolean", "value": "float64"}
    )
    return RunResult(
        prompt_ref=prompt.ref,
        prompt_hash=prompt.hash,
        dataset_ref=dataset.ref,
        dataset_hash=dataset.hash,
        record=frame,
        scorers=[{"name": "exact_match", "args": {}}],
    )


def test_run_status_from_mlflow_status_and_tags():
    assert run_status("FINISHED", {COMPLETE_TAG: "true", PID_TAG: "1"}) == "complete"
    assert run_status("FINISHED", {PID_TAG: "1"}) == "incomplete"  # ended, but the last tag never came
    assert run_status("FINISHED", {}) == "complete"  # logged before the completion tag existed
    assert run_status("RUNNING", {PID_TAG: "1"}) == "running"
    assert run_status("KILLED", {}) == "killed" and run_status("FAILED", {}) == "failed"


def test_stale_and_incomplete_runs_are_shown_and_refused(project, capsys):
    from mlflow import MlflowClient

    use(project)
    client = MlflowClient()
    experiment = client.create_experiment("tiny")
    here = socket.gethostname()

    def make_run(status: str | None, tags: dict[str, str]) -> str:
        run = client.create_run(
            experiment,
            tags={
                "workbench.prompt": "tiny@1.0.0",
                "workbench.dataset": "tiny@1",
                "workbench.prompt_hash": "a" * 64,
                "workbench.dataset_hash": "b" * 64,
                **tags,
            },
        )
        if status:
            client.set_terminated(run.info.run_id, status=status)
        return run.info.run_id

    dead = make_run(None, {PID_TAG: str(dead_pid()), HOST_TAG: here})  # its process died (kill -9)
    alive = make_run(None, {PID_TAG: str(os.getpid()), HOST_TAG: here})  # still logging
    elsewhere = make_run(None, {PID_TAG: str(dead_pid()), HOST_TAG: "another-host"})  # cannot tell: left alone
    unmarked = make_run("FINISHED", {PID_TAG: str(os.getpid()), HOST_TAG: here})
    assert mark_stale_runs(project) == [dead]
    assert client.get_run(dead).info.status == "KILLED" and client.get_run(alive).info.status == "RUNNING"
    statuses = dict(zip(*find_runs(project)[["run_id", "status"]].T.values))
    assert statuses == {dead: "killed", alive: "running", elsewhere: "running", unmarked: "incomplete"}
    for run_id, status in ((dead, "killed"), (alive, "running"), (unmarked, "incomplete")):
        with pytest.raises(WorkbenchError, match=f"run '{run_id}' is {status}: it did not finish logging"):
            load_run(run_id, project)
    code = main(["--root", str(project.root), "compare", f"run:{dead}", "tiny@1.0.0", "--dataset", "tiny", "--no-log"])
    assert code == 2 and f"run '{dead}' is killed" in capsys.readouterr().err
    code = main(["--root", str(project.root), "runs", "list"])
    out = capsys.readouterr().out
    assert code == 0 and "killed" in out and "running" in out and "incomplete" in out


def test_results_are_saved_before_logging_and_can_be_logged_later(project, capsys, tmp_path, monkeypatch):
    """The store is unusable (its file is not a database): the run is on disk and the message says how to log it."""
    result = small_result(project)
    prompt, dataset = resolve("tiny@1.0.0", project.prompts_dir), load_dataset("tiny", project.datasets_dir)
    broken = Settings(root=project.root, home=project.home, tracking_uri=f"sqlite:///{tmp_path / 'store.db'}")
    (tmp_path / "store.db").write_bytes(b"not a database\x00" * 64)
    with pytest.raises(
        InfrastructureError, match="logging to MLflow .* failed: .*the MLflow store cannot be opened"
    ) as caught:
        log_run(result, prompt, dataset, broken)
    assert "log them later with: workbench runs log " in str(caught.value) and caught.value.code == 3
    saved = str(caught.value).rsplit("workbench runs log ", 1)[1]
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # mlflow.set_tracking_uri exported the broken store
    assert saved.startswith(str(project.home / "runs")) and RunResult.load(saved).frame.equals(result.frame)

    code = main(["--root", str(project.root), "runs", "log", saved])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith(f"logged {saved} as MLflow run ")
    run_id = out.split()[-1]
    assert load_run(run_id, project).frame["case_id"].tolist() == result.frame["case_id"].tolist()
    assert find_runs(project).set_index("run_id").loc[run_id, "status"] == "complete"
    # the same file after the configuration changed: refused, nothing logged
    path = project.prompts_dir / "tiny" / "1.0.0.yaml"
    path.write_text(path.read_text().replace("max_tokens: 12", "max_tokens: 13"))
    assert main(["--root", str(project.root), "runs", "log", saved]) == 2
    assert "the configuration tiny@1.0.0 changed since this run" in capsys.readouterr().err


KILLER = """
import sys, time, mlflow
real = mlflow.MlflowClient.log_table
def pausing(self, *args, **kwargs):
    real(self, *args, **kwargs)  # the run exists, part of it is logged
    open(sys.argv[1], "w").write("logging")
    time.sleep(600)
mlflow.MlflowClient.log_table = pausing
from workbench.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_a_run_killed_while_logging(project, tmp_path):
    """kill -9 during MLflow logging: not listed as complete, compare refuses it, the answers are cached,
    so running it again makes no model call."""
    marker = tmp_path / "logging"
    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_ROOT", "WORKBENCH_HOME", "MLFLOW_TRACKING_URI")}
    env.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    process = subprocess.Popen(
        [sys.executable, "-c", KILLER, str(marker), "run", "tiny@1.0.0", "--dataset", "tiny", "--quiet"],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 900
    while not marker.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    listed = cli("runs", "list", cwd=project.root)
    assert listed.returncode == 0 and " killed " in listed.stdout and " complete " not in listed.stdout, listed.stdout
    run_id = listed.stdout.splitlines()[1].split()[0]
    refused = cli(
        "compare", f"run:{run_id}", "tiny@1.0.0", "--dataset", "tiny", "--no-log", "--quiet", cwd=project.root
    )
    assert (
        refused.returncode == 2 and f"run '{run_id}' is killed" in refused.stderr and "Traceback" not in refused.stderr
    )
    assert list((project.home / "runs").glob("*.parquet"))  # the results were saved before logging began

    again = cli("run", "tiny@1.0.0", "--dataset", "tiny", "--quiet", cwd=project.root)
    assert again.returncode == 0 and "cached 3  model calls 0" in again.stdout, again.stdout + again.stderr
    listed = cli("runs", "list", cwd=project.root)
    assert listed.stdout.count(" complete ") == 1 and listed.stdout.count(" killed ") == 1
