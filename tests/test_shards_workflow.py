""".github/workflows/sharded-eval.yml does what it says: its matrix is shards 1..SHARDS, the merge job downloads what
the shard jobs upload, and its workbench commands, run as the jobs run them on a small project, merge both versions
into one logged run each and gate the candidate (exit 1 on the regression the project holds)."""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import shlex
from pathlib import Path

import yaml

from workbench.cli import main
from workbench.results import RunResult
from workbench.tracking import find_runs

from .test_shards import CASES, simulated_project

WORKFLOW = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "sharded-eval.yml"
WORKBENCH = ".venv/bin/workbench"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def commands(job: dict) -> list[str]:
    """The job's workbench commands, in order (installing is the Makefile's business)."""
    runs = [step["run"] for step in job["steps"] if "run" in step and step["run"] != "make install"]
    assert all(run.startswith(WORKBENCH + " ") and "\n" not in run.strip() for run in runs), runs
    return runs


def test_the_matrix_is_every_shard_once_and_the_merge_job_gets_every_upload():
    flow = workflow()
    shards = int(flow["env"]["SHARDS"])
    shard_job, merge_job = flow["jobs"]["shard"], flow["jobs"]["merge"]
    assert shard_job["strategy"]["matrix"]["shard"] == list(range(1, shards + 1)) and shards >= 2
    assert merge_job["needs"] == "shard"
    upload = next(s for s in shard_job["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    download = next(s for s in merge_job["steps"] if s.get("uses", "").startswith("actions/download-artifact"))
    names = [upload["with"]["name"].replace("${{ matrix.shard }}", str(i)) for i in range(1, shards + 1)]
    assert all(fnmatch.fnmatch(name, download["with"]["pattern"]) for name in names)
    assert download["with"]["merge-multiple"] is True and download["with"]["path"] == upload["with"]["path"]
    for run in commands(shard_job):
        assert "--shard ${{ matrix.shard }}/$SHARDS" in run and "--save shards/" in run


def shell(run: str, env: dict[str, str], shard: int | None = None) -> list[str]:
    """A `run:` line as the job's shell reads it: expressions, variables, quotes, globs."""
    if shard is not None:
        run = run.replace("${{ matrix.shard }}", str(shard))
    assert "${{" not in run, run
    run = re.sub(r"\$(\w+)", lambda m: env[m.group(1)], run)
    words = []
    for word in shlex.split(run):
        words += sorted(glob.glob(word)) if "*" in word else [word]
    assert words[0] == WORKBENCH
    return words[1:]


def test_the_workflow_commands_shard_merge_and_gate_a_small_project(tmp_path, monkeypatch, capsys):
    settings = simulated_project(tmp_path)
    flow = workflow()
    env = {**flow["env"], "BASELINE": "sim@1.0.0", "CANDIDATE": "sim@1.1.0", "DATASET": "sim"}
    monkeypatch.chdir(tmp_path)  # the jobs run in the checkout
    for shard in flow["jobs"]["shard"]["strategy"]["matrix"]["shard"]:
        for run in commands(flow["jobs"]["shard"]):
            assert main(shell(run, env, shard)) == 0, run
    assert len(list((tmp_path / "shards").glob("*.parquet"))) == 2 * int(env["SHARDS"])

    *merges, gate = commands(flow["jobs"]["merge"])
    for run in merges:
        assert main(shell(run, env)) == 0, run
    assert main(shell(gate, env)) == 1  # sim@1.1.0 answers 30% right where sim@1.0.0 answers 90%
    out = capsys.readouterr().out
    assert "regressed" in out.lower()

    merged = {p.stem: RunResult.load(p) for p in (tmp_path / "merged").glob("*.parquet")}
    assert sorted(merged) == ["baseline", "candidate"]
    assert all(len(run.record) == CASES and run.params["shards"] == int(env["SHARDS"]) for run in merged.values())
    runs = find_runs(settings)
    assert sorted(runs["run_id"]) == sorted(run.run_id for run in merged.values())  # one MLflow run per version
    candidate = runs[runs["run_id"] == merged["candidate"].run_id].iloc[0]
    assert candidate["gate"] == "failed"  # the gate's verdict is on the candidate's merged run
    assert os.path.isfile(tmp_path / "merged" / "candidate.parquet")
