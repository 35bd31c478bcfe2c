"""Anytime-valid sequential testing: the normal-mixture sequential probability ratio test (mSPRT).

After every batch the estimate (a mean of paired differences, or a difference of two means) and its variance
give a confidence sequence: an interval that holds at every look at once with probability 1 - alpha
(Robbins' normal mixture; Johari, Pekelis and Walsh, "Always valid inference", 2017). Looking after each
batch and stopping at the first certain verdict therefore keeps the false alarm rate at alpha. The variance
is the observed one (with a floor, see `variance_floor`, and a minimum number of cases before any verdict).

Verdicts: `regressed` (the interval is below 0 and reaches -min_effect: a certain drop that may be as large as
the policy cares about), `improved` (above 0, the estimate above min_effect), `no regression` (the interval's
lower end is above -min_effect: no drop the policy cares about is left plausible), `continue` (none yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_CASES = 20  # no verdict before this many pairs (the variance estimate needs them)
CONTINUE, REGRESSED, IMPROVED, NO_REGRESSION = "continue", "regressed", "improved", "no regression"


def mixing_scale(min_effect: float) -> float:
    """The mixture's standard deviation: the effect size the test is tuned to find soonest."""
    return max(float(min_effect), 0.05)


def confidence_sequence(estimate, variance, alpha: float, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """The anytime-valid (1 - alpha) interval around `estimate`, whose own variance is `variance`."""
    v = np.maximum(np.asarray(variance, dtype=float), 1e-12)
    t2 = tau * tau
    radius = np.sqrt(v * (v + t2) / t2 * (np.log((v + t2) / v) + 2 * np.log(1 / alpha)))
    return np.asarray(estimate) - radius, np.asarray(estimate) + radius


def always_valid_p(estimate, variance, tau: float) -> np.ndarray:
    """1 / the mixture likelihood ratio against 0 at this look (take the running minimum over looks)."""
    v = np.maximum(np.asarray(variance, dtype=float), 1e-12)
    t2 = tau * tau
    log_ratio = 0.5 * np.log(v / (v + t2)) + t2 * np.asarray(estimate) ** 2 / (2 * v * (v + t2))
    return np.minimum(1.0, np.exp(-log_ratio))


def decide(low, high, estimate, min_effect: float, enough) -> np.ndarray:
    """The verdict at one look (vectorised): regressed, improved, no regression or continue."""
    low, high, estimate = np.asarray(low), np.asarray(high), np.asarray(estimate)
    verdict = np.select(
        [high < 0, low > 0],
        [
            np.where(low <= -min_effect, REGRESSED, NO_REGRESSION),  # a certain drop that may reach min_effect
            np.where(estimate > min_effect, IMPROVED, NO_REGRESSION),
        ],
        CONTINUE,
    )
    verdict = np.where((verdict == CONTINUE) & (low > -min_effect) & (min_effect > 0), NO_REGRESSION, verdict)
    return np.where(np.asarray(enough), verdict, CONTINUE)


def paired_looks(
    diffs: np.ndarray, looks: np.ndarray, alpha: float, min_effect: float, tau: float | None = None
) -> dict[str, np.ndarray]:
    """Every look at once for paired differences (vectorised over leading axes: simulations, scorers).

    `diffs` has the cases on its last axis, in the order they are evaluated; `looks` are the case counts after
    each batch. Returns estimate, low, high, p (always valid) and verdict, one column per look.
    """
    tau = mixing_scale(min_effect) if tau is None else tau
    d = np.asarray(diffs, dtype=float)
    n = np.asarray(looks)
    s1 = np.cumsum(d, axis=-1)[..., n - 1]
    s2 = np.cumsum(d * d, axis=-1)[..., n - 1]
    mean = s1 / n
    var = np.maximum(s2 / n - mean**2, variance_floor(n, min_effect)) * n / np.maximum(n - 1, 1)
    low, high = confidence_sequence(mean, var / n, alpha, tau)
    p = np.minimum.accumulate(always_valid_p(mean, var / n, tau), axis=-1)
    return {
        "n": np.broadcast_to(n, mean.shape),
        "estimate": mean,
        "low": low,
        "high": high,
        "p": p,
        "verdict": decide(low, high, mean, min_effect, n >= MIN_CASES),
    }


def variance_floor(n, min_effect: float):
    """The smallest per-case variance the test assumes: one disagreement's worth (1/n), and for a drop of
    `min_effect` in a pass rate at least min_effect * (1 - min_effect) (so identical answers on the first cases
    do not rule out the drop the policy cares about)."""
    return np.maximum(1.0 / np.asarray(n), min_effect * (1 - min_effect))


def first_stop(verdicts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the first look with a verdict (the last look when none) and that verdict, per row."""
    decided = verdicts != CONTINUE
    index = np.where(decided.any(axis=-1), decided.argmax(axis=-1), verdicts.shape[-1] - 1)
    return index, np.take_along_axis(verdicts, index[..., None], axis=-1)[..., 0]


@dataclass
class SequentialState:
    """Running sums of one scorer's paired differences, for a comparison that evaluates cases in batches."""

    alpha: float
    min_effect: float
    diffs: list[float] = field(default_factory=list)
    p: float = 1.0  # the always-valid p-value: the smallest over every look so far

    def add(self, diffs) -> dict[str, float | str]:
        """Add a batch's paired differences (NaN: a case without a score on both sides) and look."""
        self.diffs.extend(float(x) for x in np.asarray(diffs, dtype=float) if np.isfinite(x))
        return self.look()

    def look(self) -> dict[str, float | str]:
        n = len(self.diffs)
        if n == 0:
            return {"n": 0, "estimate": np.nan, "low": -np.inf, "high": np.inf, "p": 1.0, "verdict": CONTINUE}
        row = {
            k: v[-1]
            for k, v in paired_looks(np.asarray(self.diffs), np.array([n]), self.alpha, self.min_effect).items()
        }
        self.p = min(self.p, float(row["p"]))
        return {
            "n": n,
            "estimate": float(row["estimate"]),
            "low": float(row["low"]),
            "high": float(row["high"]),
            "p": self.p,
            "verdict": str(row["verdict"]),
        }
