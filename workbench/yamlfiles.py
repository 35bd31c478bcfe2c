"""Small YAML files validated by a pydantic model (gate policy, guardrail policy, CI configuration):
every problem becomes one `file: field: message` line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import WorkbenchError
from .files import read_text

M = TypeVar("M", bound=BaseModel)


def load_model(model: type[M], path: str | Path, what: str) -> M:
    """Read `path` as YAML and validate it as `model`; `what` names the file in messages ("the gate policy")."""
    path = Path(path)
    try:
        data = yaml.safe_load(read_text(path, what)) or {}
    except yaml.YAMLError as exc:
        raise WorkbenchError(f"{path}: {what} is not valid YAML: {exc}") from None
    return validate(model, data, str(path))


def validate(model: type[M], data: Any, source: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise WorkbenchError(
            "\n".join(
                f"{source}: {'.'.join(map(str, e['loc'])) or 'file'}: "
                f"{'unknown key' if e['type'] == 'extra_forbidden' else e['msg']}"
                for e in exc.errors()
            )
        ) from None
