"""The team stack for real: PostgreSQL, `mlflow server --serve-artifacts` and `chroma run` on loopback, started
by the same `workbench.team.up` that `make team` runs; the commands a team uses run against it as processes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from workbench.settings import Settings
from workbench.team import Stack, _mlflow_command, down, main, status, up
from workbench.tracking import load_run

from .conftest import TINY_PROMPT, write_project
from .test_ci import write_facts_project
from .test_exit_codes import cli
from .test_races import finish, start

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def stack():
    base = Path(tempfile.mkdtemp(prefix="workbench-team-"))  # not pytest's tmp: as root, postgres must reach it
    base.chmod(0o755)
    stack = Stack(base / "team", postgres_port=0, mlflow_port=0, chroma_port=0, workers=2)
    try:
        yield up(stack)
    finally:
        down(Stack.load(stack.folder))
        shutil.rmtree(base, ignore_errors=True)


def client(stack: Stack):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=stack.tracking_uri)


def runs_of(stack: Stack, ref: str) -> list:
    found = client(stack).search_runs(
        [e.experiment_id for e in client(stack).search_experiments()],
        filter_string=f"tags.`workbench.prompt` = '{ref}'",
        order_by=["attributes.start_time DESC"],
    )
    return list(found)


def project(root: Path, name: str) -> Path:
    """The tests' tiny project under its own configuration name (one registry entry per test)."""
    write_project(root, prompt=TINY_PROMPT.replace("name: tiny", f"name: {name}"), name=name)
    changed = TINY_PROMPT.replace("name: tiny", f"name: {name}").replace("max_tokens: 12", "max_tokens: 16")
    (root / "prompts" / name / "1.1.0.yaml").write_text(changed)
    return root


@pytest.mark.slow
def test_run_compare_and_promote_through_the_server(stack, tmp_path):
    root, env = project(tmp_path, "shared"), stack.env()
    done = cli("run", "shared@1.0.0", "--dataset", "tiny", "--quiet", cwd=root, env=env)
    assert done.returncode == 0, done.stderr
    assert not (root / ".workbench" / "mlflow.db").exists()  # nothing went to a local store
    (run,) = runs_of(stack, "shared@1.0.0")
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")  # proxied: the URI names no path
    mlflow = client(stack)
    assert {a.path for a in mlflow.list_artifacts(run.info.run_id)} >= {
        "cases.json",
        "configuration",
        "results.parquet",
    }
    assert list((stack.folder / "artifacts").rglob("results.parquet"))  # the server holds the files

    done = cli("prompts", "promote", "shared@1.0.0", cwd=root, env=env)
    assert done.returncode == 0, done.stderr
    assert mlflow.get_prompt_version_by_alias("shared", "production").tags["workbench.version"] == "1.0.0"

    done = cli("compare", f"run:{run.info.run_id}", f"run:{run.info.run_id}", "--dataset", "tiny", cwd=root, env=env)
    assert done.returncode == 0 and "GATE PASSED" in done.stdout, done.stdout + done.stderr
    done = cli("compare", "shared@1.1.0", "--dataset", "tiny", "--quiet", cwd=root, env=env)  # against production
    assert done.returncode in (0, 1, 4) and "shared@1.0.0 -> shared@1.1.0" in done.stdout, done.stdout + done.stderr
    (candidate,) = runs_of(stack, "shared@1.1.0")
    assert candidate.data.tags["workbench.verdict"] in ("passed", "regressed", "inconclusive")
    assert {a.path for a in mlflow.list_artifacts(candidate.info.run_id, "comparison")} >= {"comparison/gate.json"}


@pytest.mark.slow
def test_two_runs_at_once_from_two_processes(stack, tmp_path, monkeypatch):
    root = project(tmp_path, "twin")
    for name, value in stack.env().items():
        monkeypatch.setenv(name, value)
    results = finish([start("run", "twin@1.0.0", "--dataset", "tiny", "--quiet", cwd=root) for _ in range(2)])
    assert [code for code, _, _ in results] == [0, 0], results
    runs = runs_of(stack, "twin@1.0.0")
    assert len({r.info.run_id for r in runs}) == 2
    assert all(r.info.status == "FINISHED" and r.data.tags["workbench.complete"] == "true" for r in runs)
    settings = Settings.load(root=root, tracking_uri=stack.tracking_uri)
    assert [len(load_run(r.info.run_id, settings).cases()) for r in runs] == [3, 3]


REGISTER = """
import sys
from workbench.prompts import resolve
from workbench.settings import Settings
from workbench.prompt_registry import register_prompt

settings = Settings.load(root=sys.argv[1], tracking_uri=sys.argv[2])
prompt = resolve("racer@1.0.0", settings.prompts_dir)
print("ready", flush=True)
sys.stdin.readline()
print(register_prompt(prompt, settings).version)
"""


@pytest.mark.slow
def test_two_processes_register_a_new_configuration_at_the_same_moment(stack, tmp_path):
    root = project(tmp_path, "racer")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", REGISTER, str(root), stack.tracking_uri],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    assert [p.stdout.readline().strip() for p in processes] == ["ready", "ready"]
    for p in processes:  # both at once: neither has seen the prompt, both create it
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err[-800:] for _, err in outputs]
    versions = client(stack).search_prompt_versions("racer")  # a version each at worst, never a failed run
    assert {out.strip() for out, _ in outputs} <= {str(v.version) for v in versions}


@pytest.mark.slow
def test_a_rag_configuration_indexes_into_the_chroma_server(stack, tmp_path):
    import chromadb

    for part in ("prompts/rag-support", "datasets/rag-support-mini", "datasets/lumen-docs"):
        shutil.copytree(REPO / part, tmp_path / part)
    args = ("run", "rag-support@1.1.0", "--dataset", "rag-support-mini", "--scorer", "recall_at_k", "--quiet")
    done = cli(*args, cwd=tmp_path, env=stack.env(), timeout=900)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / ".workbench" / "chroma").exists()  # the index lives on the server
    server = chromadb.HttpClient(host=stack.client_host, port=stack.chroma_port)
    assert any(c.count() > 0 for c in server.list_collections())
    (run,) = runs_of(stack, "rag-support@1.1.0")
    result = load_run(run.info.run_id, Settings.load(root=tmp_path, tracking_uri=stack.tracking_uri))
    assert all(chunks for chunks in result.cases()["chunks"])  # every case recorded what it retrieved


@pytest.mark.slow
def test_ci_logs_its_report_to_the_server(stack, tmp_path):
    root = write_facts_project(tmp_path)
    done = cli("ci", cwd=root, env=stack.env(), timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((root / "reports" / "summary.json").read_text())["notebooks"][0]
    run_id = summary["logged_to"]
    assert {a.path for a in client(stack).list_artifacts(run_id, "reports")} == {
        "reports/facts-gate.html",
        "reports/facts-gate.ipynb",
    }
    assert client(stack).get_run(run_id).data.tags["workbench.ci"] == "passed"


@pytest.mark.slow
def test_a_moved_team_folder_keeps_every_run_readable(stack, tmp_path):
    root = project(tmp_path, "mover")
    assert cli("run", "mover@1.0.0", "--dataset", "tiny", "--quiet", cwd=root, env=stack.env()).returncode == 0
    (run,) = runs_of(stack, "mover@1.0.0")
    moved = stack.folder.with_name("team-moved")
    down(stack)
    stack.folder.rename(moved)
    try:
        again = up(Stack.load(moved))
        assert again.tracking_uri == stack.tracking_uri  # the same ports, from team.json
        result = load_run(run.info.run_id, Settings.load(root=root, tracking_uri=again.tracking_uri))
        assert len(result.cases()) == 3
    finally:
        down(Stack.load(moved))
        moved.rename(stack.folder)
        up(stack)
    assert all(status(stack).values())


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["up", "--folder", str(tmp_path), "--mlflow-port", str(port), "--postgres-port", "0"])
    assert code == 3
    assert f"mlflow: port {port} on 127.0.0.1 is in use" in capsys.readouterr().err
    assert not (tmp_path / "postgres").exists() and not (tmp_path / "team.json").exists()


def test_status_env_and_a_broken_state_file(tmp_path, capsys):
    assert main(["status", "--folder", str(tmp_path)]) == 0
    assert capsys.readouterr().out.split() == ["postgres", "stopped", "mlflow", "stopped", "chroma", "stopped"]
    assert main(["env", "--folder", str(tmp_path), "--mlflow-port", "5999", "--chroma-port", "8111"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "export WORKBENCH_TRACKING_URI=http://127.0.0.1:5999",
        "export WORKBENCH_CHROMA_HOST=127.0.0.1",
        "export WORKBENCH_CHROMA_PORT=8111",
    ]
    (tmp_path / "team.json").write_text('{"ports": [1')
    assert main(["down", "--folder", str(tmp_path)]) == 2
    assert f"{tmp_path / 'team.json'}: not a team stack state file" in capsys.readouterr().err


def test_mlflow_accepts_the_names_a_team_uses_when_the_stack_listens_beyond_loopback(tmp_path):
    assert "--allowed-hosts" not in _mlflow_command(Stack(tmp_path))  # loopback: MLflow's own defaults
    command = _mlflow_command(Stack(tmp_path, host="0.0.0.0", allowed_hosts="mlflow.example.org"))
    allowed = command[command.index("--allowed-hosts") + 1].split(",")
    name = socket.gethostname()
    assert {name, f"{name}:*", "mlflow.example.org:*", "localhost:*", "10.*", "192.168.*"} <= set(allowed)
    assert Stack(tmp_path, host="0.0.0.0").env()["WORKBENCH_TRACKING_URI"] == f"http://{name}:5000"


def test_compose_file_runs_the_same_stack_with_the_same_pins():
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "mlflow", "chroma"}
    pins = dict(line.split("==", 1) for line in (REPO / "constraints.txt").read_text().splitlines() if "==" in line)
    dockerfile = services["mlflow"]["build"]["dockerfile_inline"]
    for package in ("mlflow", "chromadb", "psycopg", "psycopg-binary"):
        assert f"{package}=={pins[package]}" in dockerfile
    assert services["chroma"]["build"] == services["mlflow"]["build"]  # one image for both
    command = services["mlflow"]["command"]
    assert "--serve-artifacts" in command and "--artifacts-destination" in command
    assert any(part.startswith("postgresql://") for part in command)
    assert services["mlflow"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "ports" not in services["postgres"]  # only the MLflow server talks to the database
    volumes = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}
    assert volumes == set(compose["volumes"])  # every named volume is declared
