"""The team setups, with real server processes on loopback: an OpenAI-compatible model server
(llama.cpp's own, `tests/llama_server.py`, serving the local GGUF) and an MLflow tracking server."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from workbench.experiment import evaluate
from workbench.models import model_path
from workbench.settings import Settings
from workbench.team import mlflow_command, stop
from workbench.team import serve as start

from .conftest import TINY_PROMPT, free_port, write_project

pytestmark = pytest.mark.slow
SECRET = "sk-test-0123456789abcdef-never-logged"


@pytest.fixture
def llama_server(tmp_path):
    port = free_port()
    process = start(
        [
            sys.executable,
            "-m",
            "tests.llama_server",
            "--model",
            str(model_path("smollm2-135m")),
            "--alias",
            "smollm2-served",
            "--port",
            str(port),
            "--n-ctx",
            "2048",
        ],
        f"http://127.0.0.1:{port}/v1/models",
        tmp_path / "llama.log",
    )
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop(process)


@pytest.fixture
def mlflow_server(tmp_path):
    port = free_port()
    backend = f"sqlite:///{tmp_path / 'server.db'}"
    process = start(
        mlflow_command(backend, tmp_path / "server-artifacts", "127.0.0.1", port, workers=1),
        f"http://127.0.0.1:{port}/health",
        tmp_path / "mlflow.log",
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def test_openai_compatible_server_over_real_http(tmp_path, llama_server, monkeypatch):
    monkeypatch.setenv("WB_SERVER_KEY", SECRET)
    prompt = TINY_PROMPT.replace(
        "provider: local\n  name: smollm2-135m",
        f"provider: openai\n  name: smollm2-served\n  base_url: {llama_server}\n  api_key_env: WB_SERVER_KEY",
    )
    write_project(tmp_path, prompt=prompt)
    (tmp_path / "pricing.yaml").write_text("models:\n  smollm2-served: {input: 1.0, output: 2.0}\n")
    settings = Settings.load(root=tmp_path)
    result = evaluate("tiny@1.0.0", "tiny", settings=settings, progress=False)
    cases = result.cases()
    assert cases["error"].isna().all() and cases["output"].str.len().gt(0).all()
    assert (cases["input_tokens"] > 0).all() and (cases["output_tokens"] > 0).all()
    expected = (cases["input_tokens"] * 1.0 + cases["output_tokens"] * 2.0) / 1e6
    assert cases["cost"].tolist() == pytest.approx(expected.tolist())
    assert result.run_id
    # The key was sent to the server, and never reached the MLflow store, the artifacts or the cache.
    for path in settings.home.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_max_tokens_bounds_a_compatible_servers_answer(llama_server):
    """A compatible server that reads only `max_tokens` (llama-cpp-python's wrote up to 1,397 tokens for
    max_tokens: 96 when only max_completion_tokens was sent) still bounds the answer."""
    import asyncio

    from workbench.models import ModelClient
    from workbench.prompts import PromptSpec

    spec = PromptSpec.model_validate(
        {
            "name": "t",
            "description": "d",
            "variables": [],
            "model": {
                "provider": "openai",
                "name": "smollm2-served",
                "base_url": llama_server,
                "timeout": 120,
                "params": {"max_tokens": 16, "temperature": 0},
            },
            "messages": [{"role": "user", "content": "Write a long story about a lighthouse keeper, in ten chapters."}],
        }
    )
    client = ModelClient(spec)
    response = asyncio.run(client.acall([{"role": "user", "content": m.content} for m in spec.messages]))
    assert response.error is None and response.text
    assert 0 < response.output_tokens <= 16


def test_stop_kills_a_process_that_ignores_terminate(tmp_path):
    """The teardown of every server fixture: a process that traps SIGTERM is killed after the grace time."""
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert process.stdout.readline().strip() == b"ready"
    started = time.monotonic()
    stop(process, grace_s=0.5)
    assert process.returncode == -9 and time.monotonic() - started < 3


def test_runs_are_shared_through_an_mlflow_server(project, mlflow_server):
    from mlflow import MlflowClient

    settings = Settings.load(root=project.root, tracking_uri=mlflow_server)
    result = evaluate("tiny@1.0.0", "tiny", settings=settings, progress=False)
    client = MlflowClient(tracking_uri=mlflow_server)
    run = client.get_run(result.run_id)
    assert run.data.params["prompt.hash"] == result.prompt_hash
    assert {a.path for a in client.list_artifacts(result.run_id)} >= {"cases.json", "results.parquet"}
    assert client.get_prompt_version("tiny", 1).tags["workbench.hash"] == result.prompt_hash
