"""Power and minimum detectable effects (MDE) of the tests the gate and the A/B analysis use.

Effects are drops in a score (positive numbers: 0.05 is five points). The MDE is the smallest drop a test at
`alpha` detects with probability `power` (80% by default) on this many cases, given the observed noise:
the discordance of pass/fail pairs (exact, McNemar) or the spread of paired differences (Student's t).

A drop in a pass rate adds discordant pairs: the candidate fails cases the baseline passes. So the power to
detect a drop uses the discordance under that drop (`discordance_under_drop`), not the one measured between
equal versions; planning from the latter promised 80% power and delivered 46-77%.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import optimize, stats

POWER = 0.8
MAX_CASES = 100_000


def mcnemar_pvalue(worse: np.ndarray | int, better: np.ndarray | int) -> np.ndarray:
    """The exact two-sided McNemar p-value from the discordant pairs (vectorised; 1 without discordance)."""
    worse, better = np.asarray(worse), np.asarray(better)
    discordant = worse + better
    p = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(worse, better), discordant, 0.5))
    return np.where(discordant > 0, p, 1.0)


def mcnemar_critical(discordant: np.ndarray | int, alpha: float) -> np.ndarray:
    """The fewest 'worse' pairs among `discordant` that McNemar's exact test calls significant (p < alpha);
    more than `discordant` when no split can be."""
    d = np.asarray(discordant)
    w = np.asarray(stats.binom.isf(alpha / 2, d, 0.5), dtype=float) + 1
    w = np.where(2 * stats.binom.sf(w - 1, d, 0.5) < alpha, w, w + 1)  # isf's boundary is inclusive
    w = np.where(2 * stats.binom.sf(w - 2, d, 0.5) < alpha, w - 1, w)
    return np.where(d > 0, w, 1)


def mcnemar_power(n: int, discordance: float, drop: float, alpha: float) -> float:
    """Exact probability that McNemar's test at `alpha` calls a regression when the pass rate drops by `drop`.

    The cases disagree with probability `discordance` (at least `drop`: a drop needs that many flips), and a
    disagreement goes the worse way with probability (discordance + drop) / (2 discordance). The number of
    discordant pairs is binomial, so the sum over it is exact.
    """
    psi = max(float(discordance), float(drop))
    if n <= 0 or psi <= 0 or drop <= 0:
        return 0.0
    psi = min(psi, 1.0)
    q = min(1.0, (psi + drop) / (2 * psi))
    d = np.arange(n + 1)
    return float(np.sum(stats.binom.pmf(d, n, psi) * stats.binom.sf(mcnemar_critical(d, alpha) - 1, d, q)))


def discordance_under_drop(discordance: float, drop: float, pass_rate: float) -> float:
    """The discordance when the candidate's pass rate falls by `drop` below the baseline's `pass_rate`, from
    `discordance` between versions without the drop: the drop fails a share drop / pass_rate of the candidate's
    passes, on any case. Exact for independent answers (2p(1-p) + drop (2p - 1)) and for identical ones (drop)."""
    if pass_rate <= 0:
        return 1.0
    return min(1.0, max(float(drop), float(discordance) + float(drop) * (1 - float(discordance) / float(pass_rate))))


def mcnemar_drop_power(n: int, discordance: float, pass_rate: float, drop: float, alpha: float) -> float:
    """McNemar's power to see `drop` below the baseline's `pass_rate`, from the discordance of versions without it."""
    return mcnemar_power(n, discordance_under_drop(discordance, drop, pass_rate), drop, alpha)


def mcnemar_mde(n: int, discordance: float, pass_rate: float, alpha: float, power: float = POWER) -> float:
    """The smallest drop in pass rate McNemar's exact test detects with `power` (inf: none can be), from the
    discordance of versions without that drop and the baseline's `pass_rate`."""
    return _smallest(
        lambda drop: mcnemar_drop_power(n, discordance, pass_rate, drop, alpha), power, upper=min(1.0, pass_rate)
    )


def worst_diff(mean, sd, n, level, pass_fail: bool):
    """The one-sided (1 - level) lower bound of a mean paired difference (vectorised): the lowest difference still
    plausible; -inf below two cases. Scores: Student's t. Pass/fail: the score bound of a difference of paired
    proportions (`paired_rate_bound`, from the discordant counts that `mean` and `sd` imply), whose error stays
    at `level` where a t bound lets 6-9% of exact drops of the bound pass (few discordant cases, correlated
    answers); identical answers bound a drop at z^2 / (n + z^2), about 2.7 / n, as the rule of three does."""
    mean, sd, n = np.asarray(mean, dtype=float), np.asarray(sd, dtype=float), np.asarray(n, dtype=float)
    safe = np.maximum(n, 2)
    if pass_fail:
        discordant = np.round(sd**2 * (safe - 1) + safe * mean**2)  # each discordant case is a difference of +-1
        better = np.round((discordant + safe * mean) / 2)
        bound = paired_rate_bound(discordant - better, better, safe, level)
    else:
        bound = mean - stats.t.ppf(1 - level, safe - 1) * np.sqrt(sd**2 / safe)
    return np.where(n >= 2, bound, -np.inf)


def paired_rate_bound(worse, better, n, level, steps: int = 50):
    """The one-sided (1 - level) lower bound of p_candidate - p_baseline from `worse` (baseline passed, candidate
    failed) and `better` discordant cases of `n` (vectorised): the lowest difference d0 that the score test of
    d = d0 (Nam 1997, Tango 1998: the variance at the restricted maximum likelihood) does not reject. Bisection:
    the statistic falls as d0 rises."""
    worse, better, n = (np.asarray(x, dtype=float) for x in (worse, better, n))
    critical, estimate = stats.norm.isf(level), (better - worse) / n

    def rejected(d0):
        # the restricted MLE of P(worse) under d = d0: the positive root of 2n q^2 - B q - C = 0
        b = worse + better + d0 * (better - worse - 2 * n)
        q = (b + np.sqrt(np.maximum(b * b + 8 * n * worse * d0 * (1 - d0), 0.0))) / (4 * n)
        variance = np.maximum(2 * q + d0 - d0 * d0, 1e-15) / n
        return estimate - d0 > critical * np.sqrt(variance)

    low, high = np.full(np.broadcast(estimate).shape, -1.0), np.minimum(estimate, 1.0) + 0.0
    for _ in range(steps):
        middle = (low + high) / 2
        below = rejected(middle)
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    return high


def cases_needed(power_at: Callable[[int], float], power: float = POWER) -> float:
    """The smallest number of cases whose `power_at(n)` reaches `power` (doubling, then bisection; power grows
    with n); inf beyond MAX_CASES."""
    high = 2
    while power_at(high) < power:
        high *= 2
        if high > MAX_CASES:
            return math.inf
    low = high // 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if power_at(middle) >= power else (middle, high)
    return float(high)


def paired_power(n: int, sd: float, drop: float, alpha: float) -> float:
    """Probability that a paired test at `alpha` calls a drop of `drop` in the mean, when the per-case
    differences have standard deviation `sd` (Student's t with its noncentral distribution)."""
    if n < 2 or drop <= 0 or not _reachable(n, alpha):
        return 0.0
    if sd <= 0:
        return 1.0
    df = n - 1
    return float(stats.nct.sf(stats.t.ppf(1 - alpha / 2, df), df, drop * math.sqrt(n) / sd))


def paired_mde(n: int, sd: float, alpha: float, power: float = POWER) -> float:
    """The smallest drop in a mean a paired test detects with `power` from `n` cases (inf: none can be)."""
    if n < 2 or not _reachable(n, alpha):
        return math.inf
    if sd <= 0:
        return 0.0
    return _smallest(lambda drop: paired_power(n, sd, drop, alpha), power, upper=20 * sd)


def two_sample_mde(se_unit: float, n_a: int, n_b: int, alpha: float, power: float = POWER) -> float:
    """MDE of a two-sample difference of means or proportions (normal approximation); `se_unit` is the
    standard deviation of one observation (sqrt(p(1-p)) for a proportion)."""
    if n_a < 2 or n_b < 2:
        return math.inf
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * se_unit * math.sqrt(1 / n_a + 1 / n_b))


def _reachable(n: int, alpha: float) -> bool:
    """A sign-flip permutation test on n cases can reach p < alpha only when 2 / 2**n < alpha."""
    return n >= 1 and 2.0 ** (1 - n) < alpha


def _smallest(power_at, target: float, upper: float) -> float:
    if power_at(upper) < target:
        return math.inf
    if power_at(1e-9) >= target:
        return 0.0
    return float(optimize.brentq(lambda x: power_at(x) - target, 1e-9, upper, xtol=1e-4))
