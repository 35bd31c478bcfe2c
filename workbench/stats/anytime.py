"""Anytime-valid intervals for data read at times nobody fixed in advance (an A/B test's traffic, read daily):
the normal-mixture sequential probability ratio test (mSPRT; Robbins' normal mixture; Johari, Pekelis and
Walsh, "Always valid inference", 2017). The interval holds at every look at once with probability 1 - alpha.

`compare --sequential`, whose looks are planned, uses the group-sequential design of `stats.sequential`
instead: it keeps the fixed design's power at its largest number of cases, the mixture does not.
"""

from __future__ import annotations

import numpy as np

CONTINUE, REGRESSED, IMPROVED, NO_REGRESSION = "continue", "regressed", "improved", "no regression"


def confidence_sequence(estimate, variance, alpha: float, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """The anytime-valid (1 - alpha) interval around `estimate`, whose own variance is `variance`; `tau` is the
    mixture's standard deviation (the effect the test finds soonest)."""
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
