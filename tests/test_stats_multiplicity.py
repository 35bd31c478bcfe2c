"""Holm's adjustment, and the family-wise false alarm rate of five critical scorers on simulated equal-quality pairs."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.compare import compare
from workbench.stats.multiplicity import holm
from workbench.stats.power import mcnemar_pvalue

from .test_compare import run

ALPHA = 0.05


def margin(rate: float, sims: int) -> float:
    """One-sided 99% binomial margin of a simulated rate."""
    return 2.33 * np.sqrt(rate * (1 - rate) / sims)


def test_holm_by_hand_and_with_missing_values():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adjusted = holm([0.2, np.nan, 0.01])
    assert adjusted[0] == pytest.approx(0.2) and np.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)
    assert holm(np.array([[0.01, 0.02], [0.5, 0.01]])) == pytest.approx(np.array([[0.02, 0.02], [0.5, 0.02]]))
    assert holm([0.9, 0.8]).max() <= 1 and holm([]).size == 0


def simulate_family(
    rng: np.random.Generator, sims: int, scorers: int, cases: int, p: float
) -> tuple[np.ndarray, np.ndarray]:
    """McNemar p-values and differences of `scorers` independent pass/fail scorers on equal-quality versions whose
    answers are independent per case (the hardest case for a paired test): shape (sims, scorers)."""
    base = rng.random((sims, scorers, cases)) < p
    cand = rng.random((sims, scorers, cases)) < p
    worse, better = (base & ~cand).sum(-1), (~base & cand).sum(-1)
    return mcnemar_pvalue(worse, better), (better - worse) / cases


def test_five_critical_scorers_keep_the_family_wise_false_alarm_rate_at_alpha():
    rng = np.random.default_rng(2026)
    sims = 4000
    p, diff = simulate_family(rng, sims, scorers=5, cases=60, p=0.7)
    raw = ((p < ALPHA) & (diff < 0)).any(axis=1).mean()  # any regression verdict without a correction
    held = ((holm(p) < ALPHA) & (diff < 0)).any(axis=1).mean()
    any_change = (holm(p) < ALPHA).any(axis=1).mean()  # a false alarm in either direction
    assert any_change <= ALPHA + margin(ALPHA, sims)
    assert held <= ALPHA / 2 + margin(ALPHA / 2, sims)
    assert raw > held  # without the correction, five scorers alarm more often


def test_compare_uses_the_same_holm_adjusted_mcnemar_p_values():
    rng = np.random.default_rng(7)
    base = {f"s{i}": list(rng.random(40) < 0.7) for i in range(5)}
    cand = {f"s{i}": list(rng.random(40) < 0.7) for i in range(5)}
    table = compare(run(base), run(cand)).table
    b, c = (np.array([v for v in x.values()]) for x in (base, cand))
    p = mcnemar_pvalue((b & ~c).sum(1), (~b & c).sum(1))
    assert table["p_value"].to_numpy() == pytest.approx(p)
    assert table["p_adjusted"].to_numpy() == pytest.approx(holm(p))
