"""What a new project starts from, shipped in the wheel: `workbench init` writes it, `workbench ci` falls back to it.

- `notebooks/`: the comparison, retrieval, scoring, gate and A/B notebooks (their `parameters` cells hold the
  support demo's values; `init` rewrites them for the chosen example);
- `nbconvert-config/`: the report configuration and templates (used when a project has none of its own);
- `project/`: the gate policy, the CI configuration, the GitHub workflow and `.gitignore` entries;
- `examples/<name>/`: an example's configurations (`prompts/`), datasets (`datasets/`) and `example.yaml`.

This repository's own `notebooks/` and `nbconvert-config/` are links to these folders: one copy of each.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
NOTEBOOKS = ROOT / "notebooks"
NBCONVERT_CONFIG = ROOT / "nbconvert-config"
PROJECT = ROOT / "project"
EXAMPLES = ROOT / "examples"


def examples() -> list[str]:
    """The examples `workbench init --example` offers."""
    return sorted(p.name for p in EXAMPLES.iterdir() if (p / "example.yaml").is_file())
