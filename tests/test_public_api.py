"""The public face of `import workbench`: lazy at run time, fully visible to type checkers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import workbench

INIT = Path(workbench.__file__)


def _type_checking_imports() -> dict[str, str]:
    """Name -> module of the imports under `if TYPE_CHECKING:` in workbench/__init__.py."""
    tree = ast.parse(INIT.read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", None) == "TYPE_CHECKING")
    names = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.level == 1
        for alias in node.names:
            names[alias.name] = node.module or alias.name  # `from . import ci`: the module itself
    return names


def test_the_type_checking_block_the_lazy_table_and_all_name_the_same_things():
    exports = workbench._EXPORTS
    assert _type_checking_imports() == exports
    assert workbench.__all__ == sorted(exports)


def test_every_public_name_resolves_to_what_the_type_checker_is_told():
    for name, module in workbench._EXPORTS.items():
        value = getattr(workbench, name)
        expected = sys.modules[f"workbench.{module}"]
        assert value is (expected if name == module else getattr(expected, name)), name


def test_import_workbench_stays_lazy():
    code = "import sys, workbench; print(sorted(m for m in sys.modules if m.startswith('workbench')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['workbench']"
