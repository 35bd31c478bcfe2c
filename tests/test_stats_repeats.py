"""pass@k and pass^k per case from repeated answers, and in a run's summary and MLflow metrics."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from workbench.stats.repeats import pass_all_k, pass_at_k

from .test_compare import run


@pytest.mark.parametrize("n,c", [(1, 0), (1, 1), (3, 1), (5, 2), (6, 6), (7, 3)])
def test_the_estimates_are_the_averages_over_every_choice_of_k_tries(n, c):
    tries = [True] * c + [False] * (n - c)
    for k in range(1, n + 1):
        subsets = list(combinations(tries, k))
        assert pass_at_k(n, c, k) == pytest.approx(np.mean([any(s) for s in subsets]))
        assert pass_all_k(n, c, k) == pytest.approx(np.mean([all(s) for s in subsets]))
    assert pass_at_k(n, c, 1) == pytest.approx(c / n) and pass_all_k(n, c, 1) == pytest.approx(c / n)
    assert np.isnan(pass_at_k(n, c, n + 1)) and np.isnan(pass_all_k(n, c, n + 1))  # too few tries for k


def test_a_repeated_run_reports_pass_at_k_and_pass_all_k_per_case():
    # three cases, three tries each: 3/3, 1/3, 0/3 passes
    result = run({"ok": [True, True, True, True, False, False, False, False, False]}, repeats=3)
    row = result.summary().loc["ok"]
    assert row["pass@3"] == pytest.approx((1 + 1 + 0) / 3) and row["pass^3"] == pytest.approx(1 / 3)
    assert row["pass_rate"] == pytest.approx(4 / 9)
    metrics = result.metrics()
    assert metrics["ok.pass_at_3"] == pytest.approx(2 / 3) and metrics["ok.pass_all_3"] == pytest.approx(1 / 3)
    assert "pass@3" in result.report() and "pass^3" in result.report()
    single = run({"ok": [True, False, True]})
    assert "pass@1" not in single.summary().columns and "ok.pass_at_1" not in single.metrics()
