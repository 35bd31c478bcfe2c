import pandas as pd
import pytest

from workbench.costs import estimate
from workbench.experiment import evaluate
from workbench.models import load_pricing


def test_estimate_from_measured_tokens(project):
    result = evaluate("tiny@1.0.0", "tiny", settings=project, log=False, progress=False)
    table = estimate([result], requests_per_day=1000, pricing=load_pricing(), price_as=["gpt-4o-mini", "unknown-model"])
    local, mini, unknown = (table.iloc[i] for i in range(3))
    cases = result.cases()
    assert local["priced_as"] == "smollm2-135m" and local["cost_per_month"] == 0.0
    assert mini["input_tokens"] == pytest.approx(cases["input_tokens"].mean())
    expected = (cases["input_tokens"].mean() * 0.15 + cases["output_tokens"].mean() * 0.60) / 1e6
    assert mini["cost_per_request"] == pytest.approx(expected)
    assert mini["cost_per_month"] == pytest.approx(expected * 1000 * 30)
    assert pd.isna(unknown["cost_per_month"])
