"""Secrets by value: with a server that echoes the key it receives (in answers and in error bodies), no key
is found in anything a run writes: the cache, the MLflow store and its artifacts, traces, saved Parquet,
the printed report."""

from __future__ import annotations

import base64
from urllib.parse import quote

import mlflow
import pytest

from workbench.experiment import evaluate
from workbench.settings import Settings

from .conftest import TINY_PROMPT, write_project
from .faultserver import FaultServer

#: Variable names that do not look like secrets, so only the values the client learnt hide them.
KEYS = {
    "WB_PRIMARY": "sk-primary-0123456789abcdef",
    "WB_BACKUP": "sk-backup-0123456789abcdef",
    "WB_JUDGE": "sk-judge-0123456789abcdef",
}

JUDGE = """\
name: judge
description: A judge on the echoing server.
model:
  provider: openai
  name: judge-model
  base_url: {url}
  api_key_env: WB_JUDGE
  max_retries: 0
variables: [output, rubric]
messages:
  - role: user
    content: "Rubric: {{rubric}}. Answer: {{output}}"
"""


def leaks(root, secret: str) -> list[str]:
    forms = {secret.encode(), quote(secret).encode(), base64.b64encode(secret.encode()), secret.encode("utf-16-le")}
    return [str(p) for p in root.rglob("*") if p.is_file() and any(f in p.read_bytes() for f in forms)]


def echoing_project(root, url: str) -> Settings:
    prompt = TINY_PROMPT.replace(
        "provider: local\n  name: smollm2-135m",
        f"provider: openai\n  name: echo-model\n  base_url: {url}\n  api_key_env: WB_PRIMARY\n  max_retries: 0",
    )
    prompt += (
        f"fallbacks:\n  - provider: openai\n    name: backup\n    base_url: {url}\n    api_key_env: WB_BACKUP\n"
        "    max_retries: 0\n"
    )
    cases = [{"id": f"c{i}", "inputs": {"question": f"Question {i}?"}, "expected": "An answer"} for i in range(6)]
    write_project(root, prompt=prompt, cases=cases)
    (root / "prompts" / "judge").mkdir()
    (root / "prompts" / "judge" / "1.0.0.yaml").write_text(JUDGE.format(url=url))
    return Settings.load(root=root)


def test_an_echoed_key_is_found_nowhere_a_run_writes(tmp_path, monkeypatch):
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    answers = {"judge-model": "SCORE: 4 REASON: fine"}
    script = {"echo-model": ["500", "500", "500"], "backup": ["500"]}  # errors whose bodies quote the key
    with FaultServer(
        script=script, default="echo", answer=lambda model, question: answers.get(model, f"An answer to {question}")
    ) as server:
        settings = echoing_project(tmp_path / "project", server.url)
        scorers = ["contains", {"name": "llm_judge", "args": {"judge": "judge@1.0.0"}}]
        result = evaluate(
            "tiny@1.0.0", "tiny", scorers=scorers, settings=settings, traces=None, progress=False, concurrency=1
        )
        again = evaluate("tiny@1.0.0", "tiny", scorers=scorers, settings=settings, traces=None, progress=False)
        mlflow.flush_trace_async_logging()
    result.save(tmp_path / "saved.parquet")
    (tmp_path / "report.txt").write_text(result.report() + again.report())

    # The server did receive and echo every key, so the test can fail.
    received = {r.authorization for r in server.requests}
    assert {f"Bearer {key}" for key in KEYS.values()} <= received
    cases = result.cases()
    assert cases["output"].dropna().str.contains("you sent Bearer ***;", regex=False).all()
    errors = cases["error"].dropna()
    assert len(errors) == 1 and "upstream failed for key Bearer ***" in errors.item()
    assert result.frame["reason"].dropna().str.contains(r"\*\*\*").any()  # the judge's reason, echoed key hidden
    assert again.cases()["cached"].sum() == 5  # the cache answered; its texts are clean too
    for name, key in KEYS.items():
        assert leaks(tmp_path, key) == [], name


@pytest.mark.slow
def test_an_echoed_key_is_found_in_no_report(tmp_path, monkeypatch):
    """`workbench ci` (papermill + nbconvert) over configurations whose server echoes their keys: the
    executed notebook, the HTML report and the MLflow store hold none of them."""
    from workbench.cli import main

    from .test_ci import copy_ci_files

    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    project = tmp_path / "project"
    answers = {"candidate-model": "I cannot say"}  # a regression, so the report shows every case's answers
    with FaultServer(
        default="echo", answer=lambda model, question: answers.get(model, f"An answer to {question}")
    ) as server:
        echoing_project(project, server.url)
        candidate = (
            (project / "prompts" / "tiny" / "1.0.0.yaml")
            .read_text()
            .replace("name: echo-model", "name: candidate-model")
            .replace("api_key_env: WB_PRIMARY", "api_key_env: WB_BACKUP")
        )
        (project / "prompts" / "tiny" / "1.1.0.yaml").write_text(candidate)
        copy_ci_files(project)
        (project / "ci.yaml").write_text("notebooks:\n  - name: gate\n    path: notebooks/gate.ipynb\n")
        code = main(
            [
                "--root",
                str(project),
                "ci",
                "-p",
                "baseline",
                "tiny@1.0.0",
                "-p",
                "candidate",
                "tiny@1.1.0",
                "-p",
                "dataset",
                "tiny",
                "-p",
                "policy",
                "null",
                "-p",
                "scorers",
                "[contains]",
            ]
        )
    reports = list((project / "reports").glob("*.html"))
    assert code in (0, 1) and reports
    html = reports[0].read_text()
    assert "I cannot say" in html and "***" in html  # the echoed answers are in the report, keys hidden
    assert {f"Bearer {KEYS['WB_PRIMARY']}", f"Bearer {KEYS['WB_BACKUP']}"} <= {r.authorization for r in server.requests}
    for name, key in KEYS.items():
        assert leaks(tmp_path, key) == [], name
