"""Two commands at once, as real processes, each race repeated: the MLflow store is created once under a
lock, and concurrent dataset writes never lose a case silently."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.datasets import load_dataset, parse
from workbench.files import atomic_write, locked

from .test_exit_codes import REPO, cli

REPEATS = 10


def start(*args: str, cwd: Path) -> subprocess.Popen:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_ROOT", "WORKBENCH_HOME", "MLFLOW_TRACKING_URI")}
    env.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    return subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", *args],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(processes: list[subprocess.Popen]) -> list[tuple[int, str, str]]:
    outputs = [p.communicate(timeout=900) for p in processes]
    return [(p.returncode, out, err) for p, (out, err) in zip(processes, outputs)]


@pytest.mark.slow
def test_two_commands_on_an_empty_state_folder(project):
    """`rm -rf .workbench; workbench runs list & workbench runs list & wait`, ten times."""
    for attempt in range(REPEATS):
        shutil.rmtree(project.home, ignore_errors=True)
        results = finish([start("runs", "list", cwd=project.root) for _ in range(2)])
        for code, out, err in results:
            assert code == 0 and out.strip() == "no runs" and "Traceback" not in err, (attempt, code, err)


@pytest.mark.slow
def test_two_runs_at_once_on_a_fresh_store(project):
    """Two `workbench run` logging at once into a store neither has created: both are logged, complete."""
    for attempt in range(REPEATS):  # answers are cached after the first: the race is in the store
        (project.home / "mlflow.db").unlink(missing_ok=True)
        shutil.rmtree(project.artifacts_dir, ignore_errors=True)
        results = finish(
            [
                start("run", "tiny@1.0.0", "--dataset", "tiny", "--quiet", "--traces", "0", cwd=project.root)
                for _ in range(2)
            ]
        )
        for code, _out, err in results:
            assert code == 0 and "Traceback" not in err, (attempt, code, err)
        listed = cli("runs", "list", cwd=project.root)
        assert listed.returncode == 0 and listed.stdout.count(" complete ") == 2, listed.stdout


@pytest.mark.slow
def test_concurrent_dataset_adds_never_lose_cases(project, tmp_path):
    """Two `datasets add` of 40,000 rows each at once: whoever is second is refused (exit 2) unless the first
    had finished before it read; the newest version always holds every case of every command that exited 0."""
    rows = 40_000
    folder = project.datasets_dir / "tiny"
    for attempt in range(REPEATS):
        for version in folder.glob("*.jsonl"):  # each attempt starts from tiny@1 again
            if version.name != "1.jsonl":
                version.unlink()
        files = []
        for who in "ab":
            path = tmp_path / f"{who}{attempt}.jsonl"
            path.write_text(
                "".join(
                    json.dumps({"id": f"{who}{attempt}-{i}", "inputs": {"question": f"q {i}"}}) + "\n"
                    for i in range(rows)
                )
            )
            files.append(path)
        before = load_dataset("tiny", project.datasets_dir)
        results = finish([start("datasets", "add", "tiny", str(path), cwd=project.root) for path in files])
        for code, _, err in results:
            assert code in (0, 2) and "Traceback" not in err, err
            if code == 2:
                assert "is not the newest version" in err and "nothing was written" in err, err
        won = [path for path, (code, _, _) in zip(files, results) if code == 0]
        assert won, results
        newest = load_dataset("tiny", project.datasets_dir)
        assert newest.version == before.version + len(won)
        ids = {c.id for c in newest.cases}
        for path in won:
            assert {f"{path.stem}-{i}" for i in range(rows)} <= ids
        assert {c.id for c in before.cases} <= ids
        for version in folder.glob("*.jsonl"):  # every file whole, nothing half-written
            assert not parse(version)[2]
        assert not list(folder.glob(".*.tmp"))


def test_lock_and_atomic_write_in_process(tmp_path):
    """The building blocks: a lock held by one holder makes the next wait; a write replaces whole files."""
    from workbench.errors import InfrastructureError

    target = tmp_path / "file.txt"
    atomic_write(target, "one\n")
    with locked(target):
        with (
            pytest.raises(InfrastructureError, match="another workbench command has held"),
            locked(target, timeout=0.2),
        ):
            pass
        atomic_write(target, "two\n")
    assert target.read_text() == "two\n" and sorted(p.name for p in tmp_path.iterdir()) == [
        ".file.txt.lock",
        "file.txt",
    ]
