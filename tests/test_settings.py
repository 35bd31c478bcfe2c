"""The project root is found like git finds its repository: from any folder below it, or from WORKBENCH_ROOT."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import main, save_traceback
from workbench.errors import WorkbenchError
from workbench.settings import Settings, find_root, is_project

from .conftest import write_project


def test_the_root_is_found_from_a_folder_below_it(tmp_path, monkeypatch):
    write_project(tmp_path)
    (tmp_path / "notebooks" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks" / "deep")
    settings = Settings.load()
    assert settings.root == tmp_path.resolve()
    assert settings.home == tmp_path.resolve() / ".workbench"


def test_a_pyproject_with_a_workbench_table_marks_the_root(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n\n[tool.workbench]\n")
    (tmp_path / "src").mkdir()
    assert find_root(tmp_path / "src") == tmp_path.resolve()
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # another tool's project is not ours
    assert not is_project(tmp_path)


#: folder layouts -> whether each is a project: both folders, or a pyproject.toml with a [tool.workbench] table
LAYOUTS = {
    "both folders": ({"prompts/": "", "datasets/": ""}, True),
    "workbench table": ({"pyproject.toml": "[project]\nname = 'x'\n\n[tool.workbench]\n"}, True),
    "prompts only": ({"prompts/": ""}, False),
    "datasets only": ({"datasets/": ""}, False),
    "another tool's pyproject": ({"pyproject.toml": "[tool.ruff]\n", "prompts/": ""}, False),
    "broken pyproject": ({"pyproject.toml": "[tool.workbench\n", "datasets/": ""}, False),
    "empty": ({}, False),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_one_rule_decides_what_a_project_folder_is(layout, tmp_path, monkeypatch, capsys):
    """`is_project` decides for discovery (`find_root`), `--root`, `WORKBENCH_ROOT` and where a crash's
    traceback goes; checked in a folder outside the checkout."""
    files, expected = LAYOUTS[layout]
    folder = tmp_path / "project"
    for name, text in files.items():
        path = folder / name
        path.mkdir(parents=True) if name.endswith("/") else (folder.mkdir(exist_ok=True), path.write_text(text))
    (folder / "deep").mkdir(parents=True)
    assert is_project(folder) is expected and not Path.cwd().is_relative_to(tmp_path)
    monkeypatch.chdir(folder / "deep")
    outcomes = [main(["prompts", "list"]), main(["--root", str(folder), "prompts", "list"])]
    monkeypatch.setenv("WORKBENCH_ROOT", str(folder))
    outcomes.append(main(["prompts", "list"]))
    err = capsys.readouterr().err
    assert outcomes == ([0, 0, 0] if expected else [2, 2, 2]), err
    if expected:
        assert find_root(folder / "deep") == folder.resolve()
    else:
        assert "not inside a workbench project" in err and "--root: " in err and "WORKBENCH_ROOT: " in err
    try:
        raise RuntimeError("a crash")
    except RuntimeError:
        saved = save_traceback(argparse.Namespace(root=str(folder)))
    assert saved.is_relative_to(folder / ".workbench" / "logs") is expected


def test_workbench_root_wins_over_the_current_folder(tmp_path, monkeypatch):
    write_project(tmp_path / "a")
    write_project(tmp_path / "b")
    monkeypatch.chdir(tmp_path / "a")
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path / "b"))
    assert Settings.load().root == (tmp_path / "b").resolve()


def test_outside_any_project_the_error_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkbenchError, match="not inside a workbench project.*--root.*WORKBENCH_ROOT"):
        Settings.load()
    with pytest.raises(WorkbenchError, match="no such folder"):
        Settings.load(root=tmp_path / "missing")


def test_lint_ignores_jupyter_checkpoints(project):
    """JupyterLab writes `.ipynb_checkpoints/` beside files it opens, prompts/ included."""
    checkpoints = project.prompts_dir / "tiny" / ".ipynb_checkpoints"
    checkpoints.mkdir()
    (checkpoints / "1.0.0-checkpoint.yaml").write_text("name: tiny\n")
    out = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "prompts", "lint"],
        cwd=project.prompts_dir / "tiny",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 file(s), 0 problem(s)" in out.stderr
