"""Power and MDE: hand-checked values, and McNemar's exact power against 2,000 simulated pairs of known quality."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.stats.power import (
    discordance_under_drop,
    mcnemar_critical,
    mcnemar_mde,
    mcnemar_power,
    mcnemar_pvalue,
    paired_mde,
    paired_power,
    paired_rate_bound,
    two_sample_mde,
    worst_diff,
)


def test_mcnemar_p_value_and_critical_counts():
    assert mcnemar_pvalue(10, 0) == pytest.approx(2 * 0.5**10)
    assert mcnemar_pvalue(0, 0) == 1.0 and mcnemar_pvalue(3, 3) == 1.0
    for d in (1, 5, 6, 12, 40):
        w = int(mcnemar_critical(d, 0.05))
        assert w > d or mcnemar_pvalue(w, d - w) < 0.05
        assert mcnemar_pvalue(w - 1, d - w + 1) >= 0.05  # one fewer is not significant
    assert mcnemar_critical(5, 0.05) > 5  # five discordant pairs can never reach p < 0.05 (2/32 = 0.0625)


def test_mde_shrinks_with_cases_and_grows_with_noise_and_multiplicity():
    assert mcnemar_mde(400, 0.1, 0.8, 0.05) < mcnemar_mde(100, 0.1, 0.8, 0.05) < mcnemar_mde(40, 0.1, 0.8, 0.05)
    assert mcnemar_mde(100, 0.4, 0.8, 0.05) > mcnemar_mde(100, 0.1, 0.8, 0.05)
    assert mcnemar_mde(100, 0.1, 0.8, 0.05 / 5) > mcnemar_mde(100, 0.1, 0.8, 0.05)
    mde = mcnemar_mde(100, 0.1, 0.8, 0.05)  # the drop's failures add to the discordance
    assert mcnemar_power(100, discordance_under_drop(0.1, mde, 0.8), mde, 0.05) == pytest.approx(0.8, abs=0.01)
    assert mcnemar_mde(4, 0.5, 0.8, 0.05) == math.inf  # four cases can never be significant
    # identical answers on 100 cases still bound the drop a test could have seen: 6 flips are needed
    assert 0.05 < mcnemar_mde(100, 0.0, 0.8, 0.05) < 0.1
    assert mcnemar_mde(100, 0.1, 0.04, 0.05) == math.inf  # a pass rate of 0.04 cannot drop by 0.1


@pytest.mark.parametrize("p_base, drop", [(0.9, 0.1), (0.7, 0.2), (0.4, 0.1)])
def test_the_discordance_under_a_drop_is_exact_for_independent_and_for_identical_answers(p_base, drop):
    independent = 2 * p_base * (1 - p_base)
    exact = p_base * (1 - (p_base - drop)) + (1 - p_base) * (p_base - drop)
    assert discordance_under_drop(independent, drop, p_base) == pytest.approx(exact)
    assert discordance_under_drop(0.0, drop, p_base) == pytest.approx(drop)


def test_paired_mde_against_the_normal_formula():
    sd, n = 0.2, 200
    approx = (1.96 + 0.8416) * sd / math.sqrt(n)
    assert paired_mde(n, sd, 0.05) == pytest.approx(approx, rel=0.02)
    assert paired_power(n, sd, approx, 0.05) == pytest.approx(0.8, abs=0.01)
    assert paired_mde(4, 0.2, 0.05) == math.inf and paired_mde(50, 0.0, 0.05) == 0.0
    assert two_sample_mde(0.5, 1000, 1000, 0.05) == pytest.approx(2.8016 * 0.5 * math.sqrt(2 / 1000), rel=1e-3)


@pytest.mark.parametrize("n, p_base, p_cand", [(40, 0.8, 0.7), (100, 0.7, 0.5), (100, 0.8, 0.65), (200, 0.6, 0.55)])
def test_simulated_power_matches_the_exact_power_within_five_points(n, p_base, p_cand):
    """2,000 simulated pairs whose answers are right with a known probability, independently per version."""
    rng = np.random.default_rng(n)
    sims = 2000
    base, cand = rng.random((sims, n)) < p_base, rng.random((sims, n)) < p_cand
    worse, better = (base & ~cand).sum(1), (~base & cand).sum(1)
    caught = ((mcnemar_pvalue(worse, better) < 0.05) & (worse > better)).mean()
    discordance = p_base * (1 - p_cand) + p_cand * (1 - p_base)
    assert caught == pytest.approx(mcnemar_power(n, discordance, p_base - p_cand, 0.05), abs=0.05)


@pytest.mark.parametrize("n", [40, 100])
@pytest.mark.parametrize(("p_base", "shared"), [(0.7, 0.0), (0.7, 0.8), (0.9, 0.8)])
def test_the_pass_fail_bound_lets_at_most_alpha_of_exact_drops_pass(n, p_base, shared):
    """The gate's "ruled out" on pass/fail scores: when the candidate really is down by exactly min_effect, the
    one-sided 95% bound clears -min_effect in about 5% of pairs; a t bound on the -1/0/1 differences let 6-9%
    through with correlated answers (few discordant cases)."""
    sims, drop, rng = 20_000, 0.10, np.random.default_rng(n + int(10 * shared))
    u_base = rng.random((sims, n))
    u_cand = np.where(rng.random((sims, n)) < shared, u_base, rng.random((sims, n)))
    d = (u_cand < p_base - drop).astype(float) - (u_base < p_base).astype(float)
    bound = worst_diff(d.mean(-1), d.std(-1, ddof=1), n, 0.05, pass_fail=True)
    assert np.mean(bound > -drop) <= 0.057  # nominal 0.05: the score bound gave 0.041-0.055 here, a t bound 0.047-0.094


def test_the_pass_fail_bound_of_identical_answers_is_the_rule_of_three_and_agrees_with_its_counts():
    z2 = 1.6448536269514722**2
    for n in (10, 100, 400):
        assert worst_diff(0.0, 0.0, n, 0.05, pass_fail=True) == pytest.approx(-z2 / (n + z2))
    # 10 worse and 5 better of 100: the counts that a mean of -0.05 and its sd imply
    sd = math.sqrt((15 - 100 * 0.05**2) / 99)
    assert worst_diff(-0.05, sd, 100, 0.05, pass_fail=True) == pytest.approx(paired_rate_bound(10, 5, 100, 0.05))
    assert -0.13 < paired_rate_bound(10, 5, 100, 0.05) < -0.05 < paired_rate_bound(0, 5, 100, 0.05) < 0.05
