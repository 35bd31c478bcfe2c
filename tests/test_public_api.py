"""The public face of `import workbench`: lazy at run time, declared to type checkers by `__init__.pyi`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import workbench

STUB = Path(workbench.__file__).with_suffix(".pyi")


def _stub_imports() -> dict[str, str]:
    """Name -> module of the imports in workbench/__init__.pyi (what type checkers see)."""
    names = {}
    for node in ast.parse(STUB.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            assert node.level == 1
            for alias in node.names:
                names[alias.name] = node.module or alias.name  # `from . import ci`: the module itself
    return names


def test_the_stub_the_lazy_table_and_all_name_the_same_things():
    exports = workbench._EXPORTS
    assert _stub_imports() == exports
    assert workbench.__all__ == sorted(exports)
    stub_all = next(n for n in ast.parse(STUB.read_text()).body if isinstance(n, ast.Assign))
    assert ast.literal_eval(stub_all.value) == workbench.__all__


def test_every_public_name_resolves_to_what_the_type_checker_is_told():
    for name, module in workbench._EXPORTS.items():
        value = getattr(workbench, name)
        expected = sys.modules[f"workbench.{module}"]
        assert value is (expected if name == module else getattr(expected, name)), name


def test_import_workbench_stays_lazy():
    code = "import sys, workbench; print(sorted(m for m in sys.modules if m.startswith('workbench')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['workbench']"
