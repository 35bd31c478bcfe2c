"""workbench: evaluate pinned LLM configurations on golden datasets, compare them with statistics, gate regressions.

Public names are imported lazily, so `import workbench` (and the CLI) stays fast. (`compare` is a submodule:
`workbench.compare.compare(baseline, candidate)`, or `compare_refs` for references.)
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Settings": "settings",
    "WorkbenchError": "errors",
    "evaluate": "experiment",
    "compare_refs": "experiment",
    "Comparison": "compare",
    "GatePolicy": "gate",
    "GateResult": "gate",
    "check_gate": "gate",
    "RunResult": "results",
    "Prompt": "prompts",
    "resolve": "prompts",
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
    "RunMetrics": "metrics",
    "route": "review",
    "export_finetune": "export",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)


def __dir__() -> list[str]:
    return __all__
