"""Cost per call from an editable pricing table (USD per million tokens); local models cost 0."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from ..errors import WorkbenchError
from ..files import read_text
from ..plugins import provider as plugin


def load_pricing(path: Path | None = None) -> dict[str, dict[str, float]]:
    """`{model name: {input: usd_per_mtok, output: usd_per_mtok}}`; the project's file wins over the packaged one."""
    text = (
        read_text(path, "the pricing table")
        if path
        else resources.files("workbench").joinpath("pricing.yaml").read_text()
    )
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise WorkbenchError(f"{path}: not valid YAML ({exc}); fix the syntax (see workbench/pricing.yaml)") from None
    table = data.get("models", {}) if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise WorkbenchError(f"{path}: models: expected a mapping of model name to input: and output: prices")
    for name, row in table.items():
        if (
            not isinstance(row, dict)
            or set(row) != {"input", "output"}
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in row.values())
        ):
            raise WorkbenchError(
                f"{path or 'pricing.yaml'}: models.{name}: give input: and output: in USD per million tokens"
            )
    return table


def cost(
    provider: str, model: str, input_tokens: int | None, output_tokens: int | None, table: dict[str, dict[str, float]]
) -> float | None:
    """USD for one call; None when the model is not in the table or usage is unknown."""
    if not plugin(provider).priced:
        return 0.0
    row = table.get(model)
    if row is None or input_tokens is None or output_tokens is None:
        return None
    return (input_tokens * row["input"] + output_tokens * row["output"]) / 1_000_000
