"""The command line, in process: outputs people read and exit codes scripts read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main

from .conftest import TINY_PROMPT

REPO = Path(__file__).resolve().parent.parent


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_prompts_list_show_diff(project, capsys):
    root = str(project.root)
    (project.prompts_dir / "tiny" / "1.1.0.yaml").write_text(TINY_PROMPT.replace("max_tokens: 12", "max_tokens: 16"))
    code, out, _ = run(capsys, "--root", root, "prompts", "list")
    assert code == 0 and out.splitlines()[0].startswith("tiny@1.0.0") and "local:smollm2-135m" in out
    code, out, _ = run(capsys, "--root", root, "prompts", "show", "tiny@1.1.0")
    assert code == 0 and "max_tokens: 16" in out and "# tiny@1.1.0  hash " in out
    code, out, _ = run(capsys, "--root", root, "prompts", "diff", "tiny@1.0.0", "tiny@1.1.0")
    assert code == 0 and "+    max_tokens: 16" in out


def test_bare_reference_is_a_usage_error(project, capsys):
    code, _, err = run(capsys, "--root", str(project.root), "prompts", "show", "tiny")
    assert code == 2 and err == "error: 'tiny' does not pin a version; write one of: tiny@1.0.0\n"


def test_datasets_validate_show_add(project, capsys, tmp_path):
    root = str(project.root)
    code, out, _ = run(capsys, "--root", root, "datasets", "validate", "--prompt", "tiny@1.0.0")
    assert code == 0 and out.startswith("tiny@1: 3 cases, hash ")
    code, out, _ = run(capsys, "--root", root, "datasets", "show", "tiny", "--limit", "1")
    assert code == 0 and "capital" in out and "... 2 more" in out
    extra = tmp_path / "new.jsonl"
    extra.write_text(json.dumps({"id": "moon", "inputs": {"question": "Is the moon a planet?"}}) + "\n")
    code, out, _ = run(capsys, "--root", root, "datasets", "add", "tiny", str(extra), "--source", "run-42")
    assert code == 0 and "tiny@2, 4 cases (+1)" in out
    (project.datasets_dir / "tiny" / "3.jsonl").write_text('{"id": "x"}\n')
    code, out, _ = run(capsys, "--root", root, "datasets", "validate", "tiny@3")
    assert code == 2 and "3.jsonl:1: inputs: Field required" in out


def test_datasets_validate_with_a_prompt_checks_the_datasets_named_after_it(project, capsys):
    root = str(project.root)
    for name, inputs in [("tiny-mini", {"question": "Why?"}), ("notes", {"text": "A note."})]:
        (project.datasets_dir / name).mkdir()
        (project.datasets_dir / name / "1.jsonl").write_text(json.dumps({"id": "a", "inputs": inputs}) + "\n")
    code, out, _ = run(capsys, "--root", root, "datasets", "validate", "--prompt", "tiny@1.0.0")
    assert code == 0 and [line.split(":")[0] for line in out.splitlines()] == ["tiny@1", "tiny-mini@1"]
    code, out, _ = run(capsys, "--root", root, "datasets", "validate", "notes", "--prompt", "tiny@1.0.0")
    assert code == 2 and "case 'a' lacks variable(s) question" in out  # a dataset named explicitly is checked
    (project.prompts_dir / "other").mkdir()
    (project.prompts_dir / "other" / "1.0.0.yaml").write_text(TINY_PROMPT.replace("name: tiny", "name: other"))
    code, out, err = run(capsys, "--root", root, "datasets", "validate", "--prompt", "other@1.0.0")
    assert code == 2 and out == ""
    assert "--prompt other@1.0.0: no dataset is named after it (other or other-*); datasets: notes, tiny" in err
    assert "workbench datasets validate DATASET... --prompt other@1.0.0" in err


def test_the_demo_scores_what_its_gate_policy_names():
    from workbench.cli import DEMO_SCORERS
    from workbench.gate import GatePolicy

    names = {spec if isinstance(spec, str) else spec["name"] for spec in DEMO_SCORERS}
    policy = GatePolicy.load(REPO / "gate.yaml")  # `workbench demo` gates with it: an unknown scorer would be exit 2
    assert set(policy.critical or []) | set(policy.guardrails) <= names


def test_run_prints_the_summary(project, capsys):
    code, out, _ = run(
        capsys, "--root", str(project.root), "run", "tiny@1.0.0", "--dataset", "tiny", "--no-log", "--quiet"
    )
    assert code == 0
    assert "tiny@1.0.0 on tiny@1" in out and "case_checks" in out and "latency p50" in out and "model calls 3" in out


def test_saved_runs_compare_offline(project, capsys, tmp_path):
    root = str(project.root)
    saved = tmp_path / "base.parquet"
    assert (
        main(["--root", root, "run", "tiny@1.0.0", "--dataset", "tiny", "--no-log", "--quiet", "--save", str(saved)])
        == 0
    )
    capsys.readouterr()
    code, out, _ = run(
        capsys, "--root", root, "compare", str(saved), str(saved), "--dataset", "tiny", "--no-log", "--quiet"
    )
    assert code == 0 and "GATE PASSED" in out
    (tmp_path / "junk.parquet").write_text("not parquet")
    code, _, err = run(
        capsys,
        "--root",
        root,
        "compare",
        str(tmp_path / "junk.parquet"),
        str(saved),
        "--dataset",
        "tiny",
        "--no-log",
        "--quiet",
    )
    assert code == 2 and "junk.parquet: not a saved workbench run" in err


def test_usage_errors_exit_2_before_anything_runs(project, capsys):
    root = str(project.root)
    for args in (
        ["run", "tiny@1.0.0", "--dataset", "tiny", "--repeats", "0"],
        ["run", "tiny@1.0.0", "--dataset", "tiny", "--concurrency", "-3"],
        ["compare", "tiny@1.0.0", "--dataset", "tiny", "--max-error-rate", "1.5"],
    ):
        with pytest.raises(SystemExit) as caught:  # argparse's own exit; the console script returns it
            main(["--root", root, *args])
        assert caught.value.code == 2
    assert "below 1" in capsys.readouterr().err
    assert not project.home.exists()  # nothing was created


def test_bad_input_exits_2_and_a_broken_store_exits_3(project, capsys):
    """Siblings at the boundary: an `InfrastructureError` is not a bad input (it is not a `WorkbenchError`)."""
    root = str(project.root)
    code, _, err = run(capsys, "--root", root, "datasets", "show", "nope")
    assert code == 2 and err.startswith("error: ") and "nope" in err
    (project.home).mkdir(parents=True, exist_ok=True)
    (project.home / "mlflow.db").write_bytes(b"this is not an SQLite file\x00\xff" * 100)
    code, _, err = run(capsys, "--root", root, "runs", "list")
    (error,) = [line for line in err.splitlines() if line.startswith("error: ")]  # (MLflow may warn first)
    assert code == 3 and "the MLflow store cannot be opened" in error and "unexpected failure" not in error


def test_root_must_be_a_project(tmp_path, capsys):
    code, _, err = run(capsys, "--root", str(tmp_path), "prompts", "list")
    assert code == 2 and "is not a workbench project" in err and "give the folder that holds prompts/" in err


def test_datasets_add_keeps_the_variables(project, capsys, tmp_path):
    root = str(project.root)
    (project.prompts_dir / "two").mkdir()
    (project.prompts_dir / "two" / "1.0.0.yaml").write_text(
        TINY_PROMPT.replace("name: tiny", "name: two")
        .replace("variables: [question]", "variables: [question, topic]")
        .replace('content: "{question}"', 'content: "{topic}: {question}"')
    )
    extra = tmp_path / "new.jsonl"
    extra.write_text(
        json.dumps({"id": "moon", "inputs": {"question": "Is the moon a planet?", "topic": "space"}}) + "\n"
    )
    code, out, _ = run(capsys, "--root", root, "datasets", "add", "tiny", str(extra), "--prompt", "two@1.0.0")
    assert code == 0 and "tiny@2, 4 cases (+1)" in out
    extra.write_text(json.dumps({"id": "sun", "inputs": {"question": "Is the sun a star?"}}) + "\n")
    code, _, err = run(capsys, "--root", root, "datasets", "add", "tiny", str(extra), "--prompt", "two@1.0.0")
    assert code == 2 and "new case 'sun': inputs: lacks variable(s) topic that tiny@2 needs" in err
    code, out, _ = run(capsys, "--root", root, "datasets", "add", "tiny", str(extra))  # the shared variables suffice
    assert code == 0 and "tiny@3, 5 cases (+1)" in out


def test_notebook_parameters_are_typed(tmp_path):
    import shutil

    from workbench.ci import CIConfig, plan
    from workbench.errors import WorkbenchError

    (tmp_path / "notebooks").mkdir()
    shutil.copy(REPO / "notebooks" / "gate.ipynb", tmp_path / "notebooks" / "gate.ipynb")
    (tmp_path / "ci.yaml").write_text("notebooks:\n  - path: notebooks/gate.ipynb\n")
    config = CIConfig.load(tmp_path / "ci.yaml")
    ((_, params),) = plan(
        config,
        tmp_path,
        {"repeats": "3", "candidate": "1.10", "log": "false", "baseline": "null", "scorers": "[case_checks]"},
        None,
    )
    assert params == {"repeats": 3, "candidate": "1.10", "log": False, "baseline": None, "scorers": ["case_checks"]}
    ((_, params),) = plan(config, tmp_path, {"repeats": 2, "baseline": None}, None)  # typed values from Python
    assert params == {"repeats": 2, "baseline": None}
    for key, value, message in (
        ("repeats", "2.5", "-p repeats: 2.5 is not an int"),
        ("repeats", "true", "-p repeats: True is not an int"),
        ("log", "1", "-p log: 1 is not a bool"),
        ("candidate", "[a, b]", None),
    ):
        if message is None:  # a string parameter takes the text as written
            assert plan(config, tmp_path, {key: value}, None)[0][1] == {key: value}
            continue
        with pytest.raises(WorkbenchError, match=message):
            plan(config, tmp_path, {key: value}, None)
    # a type the notebook does not declare (its default is a literal): None stays allowed ("policy = None: default")
    assert plan(config, tmp_path, {"policy": "null"}, None)[0][1] == {"policy": None}
