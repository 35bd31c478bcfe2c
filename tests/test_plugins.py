"""The plug-in contract, end to end: a separately installed package adds a provider and a scorer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from workbench.errors import WorkbenchError
from workbench.plugins import provider, provider_names
from workbench.results import RunResult

from .conftest import write_project

PLUGIN = '''
"""A tiny plug-in: a provider whose model shouts the question back, and a scorer that checks for shouting."""
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from workbench.plugins import Provider


class Shouter(BaseChatModel):
    @property
    def _llm_type(self):
        return "shouter"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        text = messages[-1].content.upper()
        message = AIMessage(text, usage_metadata={"input_tokens": 3, "output_tokens": 2, "total_tokens": 5})
        return ChatResult(generations=[ChatGeneration(message=message)])


def check(spec):
    return [] if spec.name == "shouter" else [("name", f"the echo provider has one model, shouter; not '{spec.name}'")]


PROVIDER = Provider("echo", lambda spec, limiter: Shouter(), check, concurrency=2)
'''

SCORERS = '''
from workbench.scorers import scorer


@scorer
def shouting():
    """The answer is all capitals."""
    return lambda sample: sample.output.isupper()
'''

CONFIG = """\
name: shout
description: A configuration on a plug-in's provider.
model: {{provider: echo, name: {model}}}
variables: [question]
messages:
  - role: user
    content: "{{question}}"
"""


@pytest.fixture
def plugin_site(tmp_path) -> Path:
    """The plug-in installed as pip would: a package and its dist-info with entry points, on a path of its own."""
    site = tmp_path / "site"
    (site / "workbench_echo").mkdir(parents=True)
    (site / "workbench_echo" / "__init__.py").write_text(PLUGIN)
    (site / "workbench_echo" / "scorers.py").write_text(SCORERS)
    info = site / "workbench_echo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: workbench-echo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[workbench.providers]\necho = workbench_echo:PROVIDER\n\n[workbench.scorers]\necho = workbench_echo.scorers\n"
    )
    return site


def workbench(root: Path, site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(root), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


def test_a_plugin_provider_and_scorer_run_end_to_end(tmp_path, plugin_site):
    write_project(tmp_path)
    (tmp_path / "prompts" / "shout").mkdir()
    (tmp_path / "prompts" / "shout" / "1.0.0.yaml").write_text(CONFIG.format(model="shouter"))
    out = workbench(
        tmp_path,
        plugin_site,
        "run",
        "shout@1.0.0",
        "--dataset",
        "tiny",
        "--scorer",
        "shouting",
        "--save",
        str(tmp_path / "run.parquet"),
    )
    assert out.returncode == 0, out.stdout + out.stderr
    frame = RunResult.load(tmp_path / "run.parquet").frame
    assert set(frame["output"]) == {
        "WHAT IS THE CAPITAL OF FRANCE?",
        "WHAT IS 2 + 2?",
        "WHAT COLOR IS THE SKY ON A CLEAR DAY?",
    }
    assert frame.loc[frame["scorer"] == "shouting", "passed"].all()


def test_a_plugin_provider_brings_its_own_lint_rules(tmp_path, plugin_site):
    write_project(tmp_path)
    (tmp_path / "prompts" / "shout").mkdir()
    (tmp_path / "prompts" / "shout" / "1.0.0.yaml").write_text(CONFIG.format(model="whisperer"))
    out = workbench(tmp_path, plugin_site, "prompts", "lint")
    assert out.returncode == 2
    assert "shout/1.0.0.yaml:3: model.name: the echo provider has one model, shouter; not 'whisperer'" in out.stdout


def test_without_the_plugin_its_provider_is_unknown_with_the_known_ones_listed(tmp_path):
    write_project(tmp_path)
    (tmp_path / "prompts" / "shout").mkdir()
    (tmp_path / "prompts" / "shout" / "1.0.0.yaml").write_text(CONFIG.format(model="shouter"))
    out = workbench(tmp_path, tmp_path / "nothing", "prompts", "lint")
    assert out.returncode == 2
    assert "model.provider: 'echo' is not allowed; use one of langchain, local, openai" in out.stdout


def test_the_builtins_are_registered_like_plugins():
    assert {"local", "openai", "langchain"} <= set(provider_names())
    assert provider("local").priced is False and provider("local").concurrency == 1
    with pytest.raises(WorkbenchError, match="'nope' is not a registered provider; use one of"):
        provider("nope")
