"""Where a project keeps its files and state; every default is local and works offline."""

from __future__ import annotations

import os
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """`root` holds prompts/ and datasets/; `home` holds the MLflow store, the cache and run files."""

    root: Path
    home: Path
    tracking_uri: str
    cache: bool = True

    @classmethod
    def load(cls, root: str | Path | None = None, tracking_uri: str | None = None, cache: bool = True) -> Settings:
        root = Path(root or os.environ.get("WORKBENCH_ROOT") or Path.cwd()).resolve()
        home = Path(os.environ.get("WORKBENCH_HOME") or root / ".workbench").resolve()
        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home / 'mlflow.db'}"
        return cls(root=root, home=home, tracking_uri=uri, cache=cache)

    @classmethod
    def current(cls) -> Settings:
        """The settings of the evaluation in progress (scorers that load configurations use it), else `load()`."""
        return CURRENT.get() or cls.load()

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


#: Set by `experiment.evaluate` while it builds scorers and runs, so a judge resolves its configuration
#: in the project being evaluated, not in the current folder.
CURRENT: ContextVar[Settings | None] = ContextVar("workbench_settings", default=None)
