"""The exit code is an API: bad inputs through the real CLI in a subprocess (tests/bad_inputs/manifest.yaml),
each with its exit code and message, never a traceback; the boundary's own behaviour (Ctrl-C, crashes)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workbench.errors import Exit, Failure, InfrastructureError, WorkbenchError
from workbench.metrics import PushFailed
from workbench.record import COLUMNS
from workbench.results import RunResult

from .conftest import write_project

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "bad_inputs"
MANIFEST = yaml.safe_load((FIXTURES / "manifest.yaml").read_text(encoding="utf-8"))
BIG = 50_000_000


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300, **popen
) -> subprocess.CompletedProcess:
    """`python -m workbench.cli ...` with this checkout first on the path, as a user runs it."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("WORKBENCH_ROOT", "WORKBENCH_HOME", "WORKBENCH_PRICING", "MLFLOW_TRACKING_URI")
    }
    environment.update({"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "RAGAS_DO_NOT_TRACK": "true", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )


def saved_run(path: Path, dataset_ref: str) -> None:
    """A small real saved run (what `workbench run --save` writes) of the tiny configuration."""
    frame = pd.DataFrame(
        [
            {
                **{c: None for c in COLUMNS},
                "case_id": "capital",
                "repeat": 0,
                "scorer": "exact_match",
                "value": 1.0,
                "passed": True,
                "output": "Paris",
                "latency_s": 0.1,
                "cached": False,
                "blocked": False,
            }
        ],
        columns=COLUMNS,
    )
    RunResult(
        prompt_ref="tiny@1.0.0",
        prompt_hash="0" * 64,
        dataset_ref=dataset_ref,
        dataset_hash=dataset_ref * 8,
        record=frame,
        scorers=[{"name": "exact_match", "args": {}}],
    ).save(path)


def make(kind: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "garbage":
        path.write_bytes(b"this is not what it claims to be\x00\xff" * 100)
    elif kind in ("run-of-tiny", "run-of-other"):
        saved_run(path, "tiny@1" if kind == "run-of-tiny" else "other@1")
    elif kind == "big-case":  # a valid dataset version whose second case has 50 MB of input
        good = json.dumps({"id": "ok", "inputs": {"question": "Hi?"}})
        path.write_text(good + "\n" + json.dumps({"id": "big", "inputs": {"question": "x" * BIG}}) + "\n")
    elif kind == "big-new-case":
        path.write_text(json.dumps({"id": "big", "inputs": {"question": "x" * BIG}}) + "\n")
    else:
        raise ValueError(kind)


def test_the_manifest_is_large_and_well_formed():
    ids = [entry["id"] for entry in MANIFEST]
    assert len(ids) >= 60 and len(set(ids)) == len(ids)
    for entry in MANIFEST:
        assert set(entry) <= {"id", "args", "code", "message", "files", "make", "env", "slow"}, entry["id"]
        assert entry["code"] in (Exit.BAD_INPUT, Exit.INFRASTRUCTURE) and entry["message"], entry["id"]
        for source in (entry.get("files") or {}).values():
            assert (FIXTURES / source).is_file(), f"{entry['id']}: missing fixture {source}"


@pytest.mark.parametrize(
    "entry", [pytest.param(e, id=e["id"], marks=[pytest.mark.slow] if e.get("slow") else []) for e in MANIFEST]
)
def test_bad_input(entry, tmp_path):
    root, scratch = tmp_path / "project", tmp_path / "scratch"
    root.mkdir()
    scratch.mkdir()
    write_project(root)

    def fill(text: str) -> str:
        for key, value in (("{root}", root), ("{fixtures}", FIXTURES), ("{tmp}", scratch), ("{repo}", REPO)):
            text = text.replace(key, str(value))
        return text

    for target, source in (entry.get("files") or {}).items():
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / source, root / target)
    for target, kind in (entry.get("make") or {}).items():
        make(kind, Path(fill(target)) if target.startswith("{") else root / target)
    result = cli(*[fill(a) for a in entry["args"]], cwd=root, env=entry.get("env"))
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == entry["code"], f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert fill(entry["message"]) in result.stderr + result.stdout, result.stderr
    if entry["code"] == Exit.BAD_INPUT:  # bad input writes nothing outside the project's state folder
        assert not (tmp_path / "outside").exists()


def test_errors_carry_their_exit_code_and_structure():
    error = WorkbenchError("is not a number", file="gate.yaml", line=3, field="alpha", fix="write e.g. 0.05")
    assert str(error) == "gate.yaml:3: alpha: is not a number; write e.g. 0.05" and error.code == 2
    assert (error.file, error.line, error.field, error.fix) == ("gate.yaml", 3, "alpha", "write e.g. 0.05")
    assert InfrastructureError("store down").code == 3 and str(InfrastructureError("x", file="f")) == "f: x"
    assert not isinstance(InfrastructureError("x"), WorkbenchError)  # `except WorkbenchError` is bad input only
    assert all(isinstance(e, Failure) for e in (WorkbenchError("x"), InfrastructureError("x"), PushFailed("x")))
    assert PushFailed("gateway down").code == 3
    assert str(WorkbenchError("plain message")) == "plain message"


def test_a_cache_that_fails_is_one_warning_line_and_the_run_goes_on_uncached(project):
    """The response cache refuses every answer (a trigger raises what a full disk raises): one warning line, the
    run completes and is logged; the next run asks the model again. A cache file that is not a database is
    exit 3 naming the file and the fix."""
    project.home.mkdir(parents=True)
    with closing(sqlite3.connect(project.cache_path)) as db:
        db.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, response TEXT NOT NULL)")
        db.execute("CREATE TRIGGER full BEFORE INSERT ON responses BEGIN SELECT RAISE(ABORT, 'disk is full'); END")
        db.commit()
    for _ in range(2):
        done = cli("run", "tiny@1.0.0", "--dataset", "tiny", "--quiet", cwd=project.root)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.splitlines() == [
            f"warning: the response cache {project.cache_path} failed (disk is full): answers are not cached"
        ]
        assert "  run " in done.stdout and "cached 0  model calls 3" in done.stdout, done.stdout
    project.cache_path.write_bytes(b"not a database" * 100)
    broken = cli("run", "tiny@1.0.0", "--dataset", "tiny", "--quiet", cwd=project.root)
    assert broken.returncode == Exit.INFRASTRUCTURE, broken.stderr
    assert broken.stderr == (
        f"error: {project.cache_path}: the response cache cannot be opened (file is not a database); "
        "delete the file (it holds only cached answers), or run with --no-cache\n"
    )


def test_crash_inside_a_command_is_exit_3_with_a_saved_traceback(project, tmp_path):
    """A scorer module that breaks at import in an unexpected way (not ImportError) reaches the boundary."""
    module = tmp_path / "crashing_scorer.py"
    module.write_text("raise RuntimeError('boom at import')\n")
    result = cli(
        "run",
        "tiny@1.0.0",
        "--dataset",
        "tiny",
        "--no-log",
        "--scorer",
        "crashing_scorer:f",
        cwd=project.root,
        env={"PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path}"},
    )
    assert result.returncode == 3 and "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: RuntimeError: boom at import (an unexpected failure; the traceback is in ")
    saved = Path(line.rsplit("the traceback is in ", 1)[1].rstrip(")"))
    assert saved.parent == project.root / ".workbench" / "logs"
    assert "RuntimeError: boom at import" in saved.read_text() and "Traceback" in saved.read_text()


def test_ctrl_c_is_one_line_and_exit_130(project):
    """SIGINT while a command works (here: waiting on the dataset's lock that the test holds)."""
    from workbench.files import locked

    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_ROOT", "WORKBENCH_HOME", "MLFLOW_TRACKING_URI")}
    env.update(PYTHONPATH=str(REPO))
    with locked(project.datasets_dir / "tiny"):
        process = subprocess.Popen(
            [sys.executable, "-m", "workbench.cli", "datasets", "add", "tiny", str(FIXTURES / "good-cases.jsonl")],
            cwd=project.root,
            env=env,
            # a terminal's Ctrl-C, even when the tests themselves run in the background (`make test &`), where
            # SIGINT is ignored and the command would inherit that and wait out the lock
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_until_idle(process.pid)  # imported, parsed, now waiting for the lock
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and err == "interrupted\n", err
    assert [p.name for p in (project.datasets_dir / "tiny").glob("*.jsonl")] == ["1.jsonl"]


def wait_until_idle(pid: int, timeout: float = 60) -> None:
    """Until the process has used almost no CPU for a second (Linux /proc): a fixed sleep is too short on a busy
    machine, where the signal would land while the command is still importing."""

    def sample() -> tuple[str, int]:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0], int(fields[11]) + int(fields[12])  # state, utime + stime

    deadline, (_, before) = time.monotonic() + timeout, sample()
    while time.monotonic() < deadline:
        time.sleep(1)
        state, now = sample()
        if state == "S" and now - before <= 2:  # asleep, and the lock is polled every 50 ms: a tick or two a second
            return  # (a process starved of CPU uses none either, but it is runnable: "R")
        before = now
    raise AssertionError(f"process {pid} kept working for {timeout} s")


def frame_of(rows: list[dict]) -> RunResult:
    base = {c: None for c in COLUMNS} | {"repeat": 0, "latency_s": 0.5, "cached": False, "blocked": False}
    frame = pd.DataFrame([base | row for row in rows], columns=COLUMNS)
    return RunResult(
        prompt_ref="tiny@1.0.0",
        prompt_hash="a" * 64,
        dataset_ref="tiny@1",
        dataset_hash="b" * 64,
        record=frame,
        scorers=[{"name": "exact_match", "args": {}}, {"name": "mine", "args": {}}],
    )


def test_error_rate_limit_names_the_error_kinds():
    from workbench.health import check_run

    rows = []
    for i, error in enumerate(["APIConnectionError: refused", "TimeoutError: 30s", None, None]):
        for scorer in ("exact_match", "mine"):
            rows.append(
                {
                    "case_id": f"c{i}",
                    "scorer": scorer,
                    "error": error,
                    "value": None if error else 1.0,
                    "passed": None if error else True,
                }
            )
    result = frame_of(rows)
    check_run(result)  # 50% failed: under the default limit (only a run where every call failed)
    check_run(result, 0.5)
    with pytest.raises(
        InfrastructureError,
        match=r"2 of 4 calls failed \(50%, limit 25%\): "
        r"APIConnectionError x1, TimeoutError x1; first: APIConnectionError",
    ) as caught:
        check_run(result, 0.25)
    assert caught.value.code == 3
    everything = frame_of(
        [{"case_id": "c", "scorer": s, "error": "OpenAIConnectionError: x"} for s in ("exact_match", "mine")]
    )
    with pytest.raises(InfrastructureError, match=r"1 of 1 calls failed \(100%, limit 100%\)"):
        check_run(everything)
    assert "latency p50 n/a p95 n/a" in everything.report()  # never "nans"


def test_a_scorer_error_is_not_a_call_error():
    """A scorer that raises (or returns NaN) marks its own rows; the calls did not fail."""
    from workbench.health import check_run

    rows = [
        {
            "case_id": f"c{i}",
            "scorer": s,
            "output": "ok",
            "value": 1.0 if s == "exact_match" else None,
            "passed": True if s == "exact_match" else None,
            "error": None if s == "exact_match" else "scorer mine: returned nan; return a bool, ...",
        }
        for i in range(3)
        for s in ("mine", "exact_match")
    ]  # the broken scorer comes first
    result = frame_of(rows)
    totals = result.totals()
    assert totals["errors"] == 0 and totals["error_rate"] == 0.0 and totals["latency_p50_s"] == 0.5
    assert result.summary().loc["mine", "errors"] == 3 and result.summary().loc["exact_match", "errors"] == 0
    with pytest.raises(
        WorkbenchError, match="scorer 'mine' failed on all 3 rows it scored; first: scorer mine: returned nan"
    ) as caught:
        check_run(result)
    assert caught.value.code == 2
    rows[0]["error"] = None  # one case scored: the scorer works, its failures stay visible per row
    check_run(frame_of(rows))


@pytest.mark.parametrize(
    "value, error",
    [
        (float("nan"), "returned nan"),
        (float("inf"), "returned inf"),
        ({"a": 1}, "returned dict"),
        ([1], "returned list"),
        (True, None),
        (0.25, None),
        ("label", None),
        (None, None),
    ],
)
def test_score_values_that_are_not_scores_are_errors(value, error):
    import asyncio

    import numpy as np

    from workbench.datasets import Case
    from workbench.runner import score_sample
    from workbench.scorers import Sample, Scorer

    sample = Sample("out", Case(id="c", inputs={"q": "x"}), [], None)
    row = asyncio.run(score_sample(Scorer(name="mine", args={}, fn=lambda s: value), sample))
    if error:
        assert row["error"].startswith(f"scorer mine: {error}") and row["value"] is None
    else:
        assert row["error"] is None
    row = asyncio.run(score_sample(Scorer(name="mine", args={}, fn=lambda s: np.float32(0.5)), sample))
    assert row["value"] == 0.5 and row["error"] is None


def test_ctrl_c_while_the_command_line_loads_is_one_line_and_exit_130():
    """The console script's guard: a KeyboardInterrupt raised while `workbench.cli` is being imported."""
    code = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'workbench.cli':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "from workbench.entry import main\n"
        "sys.exit(main())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert process.returncode == 130 and process.stderr == "interrupted\n", process.stderr
