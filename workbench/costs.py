"""Cost estimates: tokens per request measured on a dataset, priced per request, per day and per month."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .models.pricing import cost
from .results import RunResult

DAYS_PER_MONTH = 30


def estimate(
    results: list[RunResult],
    requests_per_day: float,
    pricing: dict[str, dict[str, float]],
    price_as: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per run (and per model in `price_as`, pricing the same tokens as if that model served them).

    Local models cost 0; a model missing from the pricing table gets an empty cost.
    """
    rows = []
    for result in results:
        calls = result.cases()
        calls = calls[calls["error"].isna()]
        tokens_in, tokens_out = calls["input_tokens"].astype(float).mean(), calls["output_tokens"].astype(float).mean()
        served = calls["model"].mode().iat[0] if len(calls) else None
        measured = calls["cost"].astype(float).mean() if calls["cost"].notna().any() else None
        for model, per_request in [(served, measured)] + [
            (name, cost("openai", name, tokens_in, tokens_out, pricing)) for name in price_as
        ]:
            rows.append(
                {
                    "configuration": result.prompt_ref,
                    "priced_as": model,
                    "requests": len(calls),
                    "input_tokens": tokens_in,
                    "output_tokens": tokens_out,
                    "cost_per_request": per_request,
                    "cost_per_day": None if per_request is None else per_request * requests_per_day,
                    "cost_per_month": None if per_request is None else per_request * requests_per_day * DAYS_PER_MONTH,
                }
            )
    return pd.DataFrame(rows).astype({"cost_per_request": float, "cost_per_day": float, "cost_per_month": float})
