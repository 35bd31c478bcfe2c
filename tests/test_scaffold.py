"""`workbench init`: a working project in an empty folder or an existing repository, never losing a file."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from workbench import templates
from workbench.ci import CIConfig, declared_parameters, report_config_dir
from workbench.cli import main
from workbench.gate import GatePolicy
from workbench.prompts import resolve
from workbench.settings import Settings, find_root

REPO = Path(__file__).resolve().parent.parent


def init(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["init", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("example", templates.examples())
def test_every_example_is_a_project_whose_references_resolve(example, tmp_path, capsys):
    code, out, err = init(capsys, str(tmp_path), "--example", example)
    assert code == 0, err
    assert f"(example: {example})" in out and "next:" in out
    assert find_root(tmp_path / "notebooks") == tmp_path.resolve()  # a kernel in notebooks/ finds the project
    assert "workbench" in tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]
    assert main(["--root", str(tmp_path), "prompts", "lint"]) == 0
    assert main(["--root", str(tmp_path), "datasets", "validate"]) == 0
    settings = Settings.load(root=tmp_path)
    spec = templates.scaffold.load_example(example)
    for ref in (spec["baseline"], spec["candidate"]):
        resolve(ref, settings.prompts_dir)
    policy = GatePolicy.load(tmp_path / "gate.yaml")
    assert list(policy.critical) == spec["critical"]
    config = CIConfig.load(tmp_path / "ci.yaml")
    assert [n.path for n in config.notebooks] == ["notebooks/gate.ipynb"]
    for notebook, values in spec["notebooks"].items():
        declared = declared_parameters(tmp_path / "notebooks" / notebook)
        for name, value in values.items():
            assert ast.literal_eval(declared[name]["default"]) == value, (notebook, name)
        for ref in [v for v in values.values() if isinstance(v, str) and "@" in v]:
            resolve(ref, settings.prompts_dir)
    workflow = (tmp_path / ".github/workflows/workbench-gate.yml").read_text()
    assert 'pip install "llmops-workbench==' in workflow and "workbench ci" in workflow
    assert ".workbench/" in (tmp_path / ".gitignore").read_text().splitlines()


def test_an_existing_repository_keeps_its_files(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mine"\n')
    (tmp_path / ".gitignore").write_text("node_modules/\nreports/")
    (tmp_path / "README.md").write_text("mine\n")
    code, out, _ = init(capsys, str(tmp_path), "--example", "minimal")
    assert code == 0 and "updated pyproject.toml" in out and "updated .gitignore" in out
    pyproject = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    assert pyproject["project"] == {"name": "mine"} and "workbench" in pyproject["tool"]
    ignored = (tmp_path / ".gitignore").read_text().splitlines()
    assert ignored[:2] == ["node_modules/", "reports/"] and ignored.count("reports/") == 1 and ".workbench/" in ignored
    assert (tmp_path / "README.md").read_text() == "mine\n"
    code, out, _ = init(capsys, str(tmp_path), "--example", "minimal")  # again: nothing to do
    assert code == 0 and "0 files written" in out and "updated" not in out


def test_a_users_file_is_never_overwritten_without_force(tmp_path, capsys):
    (tmp_path / "gate.yaml").write_text("alpha: 0.01\n")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "gate.ipynb").write_text("{}")
    code, out, err = init(capsys, str(tmp_path))
    assert code == 2 and out == ""
    assert "init would overwrite 2 file(s): notebooks/gate.ipynb, gate.yaml" in err and "--force" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["gate.ipynb", "gate.yaml", "notebooks"]  # nothing written
    code, out, _ = init(capsys, str(tmp_path), "--force")
    assert code == 0 and (tmp_path / "gate.yaml").read_text() != "alpha: 0.01\n"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: (root / "pyproject.toml").write_text("[tool\n"), "pyproject.toml: not valid TOML"),
        (lambda root: (root / "pyproject.toml").write_bytes(b"name = '\xff'\n"), "pyproject.toml:1:"),
        (lambda root: (root / "prompts").write_text("a file"), "a file and a folder would share this path"),
        (lambda root: (root / "ci.yaml").mkdir(), "a file and a folder would share this path"),
    ],
)
def test_a_folder_init_cannot_use_is_one_message_and_nothing_written(setup, message, tmp_path, capsys):
    setup(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    code, out, err = init(capsys, str(tmp_path))
    assert code == 2 and message in err and err.count("\n") == 1 and out == ""
    assert sorted(tmp_path.rglob("*")) == before


def test_an_unknown_example_names_the_choices(tmp_path, capsys):
    code, _, err = init(capsys, str(tmp_path), "--example", "../support")
    assert code == 2 and "no example named '../support'; choose one of minimal, rag, support" in err
    assert list(tmp_path.iterdir()) == []


def test_reports_use_the_packaged_configuration_unless_the_project_has_one(tmp_path):
    assert report_config_dir(tmp_path, None) == templates.NBCONVERT_CONFIG
    (tmp_path / "nbconvert-config").mkdir()
    assert report_config_dir(tmp_path, None) == tmp_path / "nbconvert-config"
    assert report_config_dir(tmp_path, "reports-config") == tmp_path / "reports-config"


def test_this_repository_uses_the_packaged_notebooks_and_report_configuration():
    """One copy: the demo project's notebooks/ and nbconvert-config/ are the templates the wheel ships."""
    assert (REPO / "notebooks").resolve() == templates.NOTEBOOKS
    assert (REPO / "nbconvert-config").resolve() == templates.NBCONVERT_CONFIG


def test_the_demo_project_links_every_file_an_example_ships():
    """One copy: a demo file with the same path as an example's (prompts, datasets, the corpus) is that file, so
    the two cannot drift; the demo's own versions beside them are real files."""
    for example in templates.EXAMPLES.iterdir():
        for shipped in (p for p in example.rglob("*") if p.is_file() and p.name != "example.yaml"):
            demo = REPO / shipped.relative_to(example)
            assert not demo.exists() or demo.resolve() == shipped.resolve(), (
                f"{demo} is a copy of {shipped}: link it instead"
            )


@pytest.mark.slow
def test_the_wheel_carries_what_a_project_needs(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("llmops_workbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in templates.ROOT.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert f"workbench/templates/{path.relative_to(templates.ROOT)}" in names
    assert {"workbench/py.typed", "workbench/__init__.pyi", "workbench/pricing.yaml"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not [n for n in names if ".ipynb_checkpoints" in n or n.endswith(".pyc")]
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Name: llmops-workbench" in text and "Requires-Python: <3.14,>=3.11" in text
    requires = [line for line in text.splitlines() if line.startswith("Requires-Dist:")]
    assert not [r for r in requires if "torch" in r or "sentence-transformers" in r]
    json.loads(zipfile.ZipFile(wheel).read("workbench/templates/notebooks/gate.ipynb"))
