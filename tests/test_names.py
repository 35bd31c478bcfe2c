"""Names are names: traversal, absolute paths, backslashes and NUL in every kind of reference and every
command that writes are refused before a path is built, and nothing appears outside the project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.datasets import Dataset, add_cases, load_dataset
from workbench.errors import WorkbenchError
from workbench.names import check_name, split_ref
from workbench.prompts import resolve
from workbench.rag.corpus import corpus_dir
from workbench.tracking import load_run

BAD = [
    "../outside/evil",
    "..",
    ".",
    "../outside",
    "/etc/passwd",
    "/abs",
    "a/b",
    "a\\b",
    "..\\evil",
    "evil\x00.yaml",
    "",
    " spaced",
    ".hidden",
    "-flag",
    "x" * 129,
    "C:\\evil",
]
GOOD = ["support", "rag-support-mini", "judge_labels", "v1.2", "A9", "0123456789abcdef0123456789abcdef"]


@pytest.mark.parametrize("name", BAD)
def test_bad_names_are_refused(name):
    with pytest.raises(WorkbenchError, match="is not a valid dataset name") as caught:
        check_name(name, "dataset")
    assert caught.value.code == 2 and "letters, digits" in str(caught.value)


@pytest.mark.parametrize("name", GOOD)
def test_good_names_pass(name):
    assert check_name(name, "configuration") == name


def test_a_name_must_be_text():
    with pytest.raises(WorkbenchError, match="'NoneType' is not a valid corpus name|NoneType"):
        check_name(None, "corpus")  # type: ignore[arg-type]
    with pytest.raises(WorkbenchError, match="is not a version"):
        split_ref("support@../../x", "configuration")


@pytest.mark.parametrize("name", BAD[:10])
def test_every_kind_of_reference(project, tmp_path, name):
    outside = tmp_path.parent / "outside"
    with pytest.raises(WorkbenchError, match="not a valid configuration name"):
        resolve(f"{name}@1.0.0", project.prompts_dir)
    with pytest.raises(WorkbenchError, match="not a valid dataset name"):
        load_dataset(name, project.datasets_dir)
    with pytest.raises(WorkbenchError, match="retrieval.corpus: .* is not a valid corpus name"):
        corpus_dir(project.datasets_dir, name)
    with pytest.raises(WorkbenchError, match="not a valid run name"):
        load_run(name, project)
    assert not outside.exists()


def test_a_dataset_object_with_a_bad_name_cannot_write(project, tmp_path):
    """Even a hand-built Dataset (the library API) cannot write a version outside the project."""
    real = load_dataset("tiny", project.datasets_dir)
    forged = Dataset(name="../../outside", version=1, path=real.path, cases=real.cases)
    with pytest.raises(WorkbenchError, match="not a valid dataset name"):
        add_cases(forged, [{"id": "new", "inputs": {"question": "q"}}])
    assert sorted(p.name for p in real.path.parent.glob("*.jsonl")) == ["1.jsonl"]


@pytest.mark.parametrize("bad", ["../outside/evil", "/tmp/evil", "ev\\il", "evil\x00"])
def test_every_command_that_writes_refuses_a_bad_name(project, tmp_path, capsys, bad):
    root = str(project.root)
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"id": "moon", "inputs": {"question": "Is the moon a planet?"}}) + "\n")
    saved = tmp_path / "run.parquet"
    commands = [
        ["run", f"{bad}@1.0.0", "--dataset", "tiny", "--no-log", "--quiet"],
        ["run", "tiny@1.0.0", "--dataset", bad, "--no-log", "--quiet"],
        ["compare", f"{bad}@1.0.0", "tiny@1.0.0", "--dataset", "tiny", "--no-log", "--quiet"],
        ["compare", "tiny@1.0.0", "tiny@1.0.0", "--dataset", bad, "--no-log", "--quiet"],
        ["compare", f"run:{bad}", "tiny@1.0.0", "--dataset", "tiny", "--no-log", "--quiet"],
        ["datasets", "add", bad, str(cases)],
        ["datasets", "add", "tiny", str(cases), "--prompt", f"{bad}@1.0.0"],
        ["prompts", "promote", f"{bad}@1.0.0"],
        ["feedback", "harvest", f"run:{bad}", "--dataset", "tiny"],
        ["feedback", "harvest", str(saved), "--dataset", bad],
        ["cost", "estimate", f"{bad}@1.0.0", "--dataset", "tiny", "--requests-per-day", "10"],
        ["replay", f"{bad}@1.0.0", str(cases)],
    ]
    for command in commands:
        code = main(["--root", root, *command])
        err = capsys.readouterr().err
        assert code == 2 and "is not a valid" in err, (command, err)
    assert sorted(p.name for p in (project.datasets_dir / "tiny").glob("*.jsonl")) == ["1.jsonl"]
    assert not (project.prompts_dir / "production.yaml").exists() and not (tmp_path.parent / "outside").exists()
    assert not Path("/tmp/evil").exists()
