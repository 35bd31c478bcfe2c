"""Fixtures build small real projects: real files, the real local model, a real MLflow store."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from workbench.settings import Settings

TINY_PROMPT = """\
name: tiny
description: A small configuration for tests.
model:
  provider: local
  name: smollm2-135m
  params:
    temperature: 0.0
    max_tokens: 12
    seed: 1
variables: [question]
messages:
  - role: system
    content: Answer in a few words.
  - role: user
    content: "{question}"
tags: [test]
"""

TINY_CASES = [
    {
        "id": "capital",
        "inputs": {"question": "What is the capital of France?"},
        "expected": "Paris",
        "checks": {"must_contain": ["Paris"]},
        "tags": ["geo"],
    },
    {"id": "sum", "inputs": {"question": "What is 2 + 2?"}, "expected": "4", "checks": {"must_contain": ["4"]}},
    {
        "id": "color",
        "inputs": {"question": "What color is the sky on a clear day?"},
        "expected": "Blue",
        "checks": {"must_contain": ["blue"], "must_not_contain": ["As an AI"]},
        "tags": ["edge"],
    },
]


def write_project(root: Path, prompt: str = TINY_PROMPT, cases: list[dict] = TINY_CASES, name: str = "tiny") -> None:
    (root / "prompts" / name).mkdir(parents=True, exist_ok=True)
    (root / "prompts" / name / "1.0.0.yaml").write_text(prompt)
    (root / "datasets" / "tiny").mkdir(parents=True, exist_ok=True)
    (root / "datasets" / "tiny" / "1.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    for name in (
        "WORKBENCH_ROOT",
        "WORKBENCH_HOME",
        "WORKBENCH_PRICING",
        "WORKBENCH_TRACKING_URI",
        "MLFLOW_TRACKING_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAGAS_DO_NOT_TRACK", "true")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def project(tmp_path) -> Settings:
    """A project folder with prompts/tiny/1.0.0.yaml and datasets/tiny/1.jsonl (3 cases)."""
    write_project(tmp_path)
    return Settings.load(root=tmp_path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
