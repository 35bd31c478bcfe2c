"""workbench: evaluate pinned LLM configurations on golden datasets, compare them with statistics, gate regressions.

Public names are imported lazily, so `import workbench` (and the CLI) stays fast; `__init__.pyi` declares the
same names for type checkers and editors. Modules listed here
(`compare`, `plots`, `rag`, `widgets`, `ci`) are returned as modules: `workbench.compare.compare(a, b)`.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module that defines it (a module's own name: the module itself)
_EXPORTS = {
    "Settings": "settings",
    "WorkbenchError": "errors",
    "InfrastructureError": "errors",
    "Failure": "errors",
    "evaluate": "experiment",
    "compare_refs": "experiment",
    "compare_sequential": "experiment",
    "RunContext": "run_context",
    "replay": "replay",
    "calibrate": "calibration",
    "Budget": "budget",
    "Comparison": "compare",
    "GatePolicy": "gate",
    "GateResult": "gate",
    "check_gate": "gate",
    "RunResult": "results",
    "Prompt": "prompts",
    "resolve": "prompts",
    "GuardrailPolicy": "prompts",
    "Case": "datasets",
    "Dataset": "datasets",
    "load_dataset": "datasets",
    "add_cases": "datasets",
    "Sample": "scorers",
    "Score": "scorers",
    "scorer": "scorers",
    "get_scorer": "scorers",
    "ModelClient": "models",
    "chat_model": "models",
    "Provider": "plugins",
    "ci": "ci",
    "compare": "compare",
    "plots": "plots",
    "rag": "rag",
    "widgets": "widgets",
    "RunMetrics": "metrics",
    "route": "review",
    "export_finetune": "export",
}

__all__ = sorted(_EXPORTS)  # `__init__.pyi` lists the same names (a test holds them together)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
    return module if _EXPORTS[name] == name else getattr(module, name)


def __dir__() -> list[str]:
    return __all__
