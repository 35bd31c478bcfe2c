"""Where a project keeps its files and state; every default is local and works offline.

The project root is found the way git or pytest find theirs: `WORKBENCH_ROOT` when set, otherwise the
nearest folder, from the current one upwards, with a `pyproject.toml` holding a `[tool.workbench]` table
or with both `prompts/` and `datasets/`. So a notebook kernel started in `notebooks/` (as JupyterLab
does) finds the project above it.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import WorkbenchError

MARKER_HELP = (
    "a workbench project has a pyproject.toml with a [tool.workbench] table, or prompts/ and datasets/ folders"
)


def is_project(folder: Path) -> bool:
    """Whether `folder` is a workbench project root."""
    if (folder / "prompts").is_dir() and (folder / "datasets").is_dir():
        return True
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        return False
    try:
        return "workbench" in tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def find_root(start: Path | None = None) -> Path:
    """The nearest project root at or above `start` (default: the current folder)."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if is_project(folder):
            return folder
    raise WorkbenchError(
        f"{start}: not inside a workbench project ({MARKER_HELP}); "
        "cd into a project, pass --root, or set WORKBENCH_ROOT"
    )


@dataclass(frozen=True)
class Settings:
    """`root` holds prompts/ and datasets/; `home` holds the MLflow store, the cache and run files."""

    root: Path
    home: Path
    tracking_uri: str
    cache: bool = True

    @classmethod
    def load(cls, root: str | Path | None = None, tracking_uri: str | None = None, cache: bool = True) -> Settings:
        """Settings of the project at `root` (or `WORKBENCH_ROOT`, or the one found above the current folder).

        An explicit root is taken as given when it is a folder (the command line also checks it is a project)."""
        explicit = root or os.environ.get("WORKBENCH_ROOT")
        if explicit:
            folder = Path(explicit).expanduser().resolve()
            if not folder.is_dir():
                source = "root" if root else "WORKBENCH_ROOT"
                raise WorkbenchError(f"{folder}: {source}: no such folder; point it at the project folder")
        else:
            folder = find_root()
        home = Path(os.environ.get("WORKBENCH_HOME") or folder / ".workbench").resolve()
        uri = (
            tracking_uri
            or os.environ.get("WORKBENCH_TRACKING_URI")
            or os.environ.get("MLFLOW_TRACKING_URI")
            or f"sqlite:///{home / 'mlflow.db'}"
        )
        return cls(root=folder, home=home, tracking_uri=uri, cache=cache)

    @property
    def prompts_dir(self) -> Path:
        return self.root / "prompts"

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def cache_path(self) -> Path:
        return self.home / "cache.sqlite"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def pricing_path(self) -> Path | None:
        """A project's own `pricing.yaml` overrides the packaged table."""
        path = Path(os.environ.get("WORKBENCH_PRICING") or self.root / "pricing.yaml")
        return path if path.exists() else None
