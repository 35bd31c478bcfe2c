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
    """The one-sided (1 - level) lower bound of a mean paired difference (Student's t; vectorised): the lowest
    difference still plausible. Pass/fail differences get a variance of at least 3 / n, so identical answers
    bound a drop as the rule of three does (about 3 / n). -inf below two cases."""
    mean, sd, n = np.asarray(mean, dtype=float), np.asarray(sd, dtype=float), np.asarray(n, dtype=float)
    safe = np.maximum(n, 2)
    variance = np.maximum(sd**2, 3 / safe) if pass_fail else sd**2
    bound = mean - stats.t.ppf(1 - level, safe - 1) * np.sqrt(variance / safe)
    return np.where(n >= 2, bound, -np.inf)


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
