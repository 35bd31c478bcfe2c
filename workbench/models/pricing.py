"""Cost per call from an editable pricing table (USD per million tokens); local models cost 0."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from ..errors import WorkbenchError
from ..plugins import provider as plugin


def load_pricing(path: Path | None = None) -> dict[str, dict[str, float]]:
    """`{model name: {input: usd_per_mtok, output: usd_per_mtok}}`; the project's file wins over the packaged one."""
    text = path.read_text() if path else resources.files("workbench").joinpath("pricing.yaml").read_text()
    data = yaml.safe_load(text) or {}
    table = data.get("models", {})
    for name, row in table.items():
        if not isinstance(row, dict) or set(row) != {"input", "output"}:
            raise WorkbenchError(f"{path or 'pricing.yaml'}: models.{name}: give input: and output: in USD per million tokens")
    return table


def cost(provider: str, model: str, input_tokens: int | None, output_tokens: int | None,
         table: dict[str, dict[str, float]]) -> float | None:
    """USD for one call; None when the model is not in the table or usage is unknown."""
    if not plugin(provider).priced:
        return 0.0
    row = table.get(model)
    if row is None or input_tokens is None or output_tokens is None:
        return None
    return (input_tokens * row["input"] + output_tokens * row["output"]) / 1_000_000
