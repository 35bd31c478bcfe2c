"""Per-call cost and latency of two runs compared noise-aware: paired by case, measured the same way, a rank test.

Latency is the model call's service time (the client starts its clock after the concurrency bound). Pairs are
compared only when both calls were measured the same way: both fresh, or both answered from the cache (which
keeps the original call's latency). Too few such pairs is "not comparable", never a failure. The test is
Wilcoxon's signed-rank test on the paired log ratios (latency) or differences (cost); the effect is the median
ratio (latency, robust to a load spike) or the ratio of the totals (cost, which adds up), with a paired
bootstrap interval. A rule fails only on a significant increase larger than its limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

MIN_PAIRS = 10
RESAMPLES = 1999


@dataclass(frozen=True)
class CallComparison:
    measure: str  # latency_s | cost
    pairs: int  # calls compared
    excluded: int  # paired calls left out (measured differently, errors, no value)
    baseline: float  # median latency or mean cost per call, over the compared pairs
    candidate: float
    increase: float  # relative: 0.25 is +25%
    ci_low: float
    ci_high: float
    p_value: float
    comparable: bool
    reason: str = ""  # why not comparable


def compare_calls(baseline: pd.DataFrame, candidate: pd.DataFrame, measure: str) -> CallComparison:
    """`baseline`, `candidate`: one row per call (case_id, repeat, error, cached, and the measure), as
    `RunResult.cases()` gives them."""
    keys = ["case_id", "repeat"]
    pairs = baseline[keys + ["error", "cached", measure]].merge(
        candidate[keys + ["error", "cached", measure]], on=keys, suffixes=("_b", "_c")
    )
    total = len(pairs)
    usable = pairs[
        pairs["error_b"].isna()
        & pairs["error_c"].isna()
        & pairs[f"{measure}_b"].notna()
        & pairs[f"{measure}_c"].notna()
    ]
    reason = ""
    if measure == "latency_s":
        same = usable[usable["cached_b"] == usable["cached_c"]]
        same = same[(same["latency_s_b"] > 0) & (same["latency_s_c"] > 0)]  # blocked requests made no call
        if len(same) < MIN_PAIRS:
            fresh_b, fresh_c = int((~usable["cached_b"]).sum()), int((~usable["cached_c"]).sum())
            reason = (
                f"only {len(same)} of {total} paired calls were measured the same way (fresh: baseline "
                f"{fresh_b}, candidate {fresh_c}; cached answers keep their original latency); "
                f"run both fresh (--no-cache) or both from the cache"
            )
        usable = same
    elif len(usable) < MIN_PAIRS:
        reason = f"only {len(usable)} of {total} paired calls have a {measure} on both sides (is the model priced?)"
    b = usable[f"{measure}_b"].to_numpy(dtype=float)
    c = usable[f"{measure}_c"].to_numpy(dtype=float)
    if reason:
        return CallComparison(
            measure,
            len(usable),
            total - len(usable),
            *_centre(b, c, measure),
            np.nan,
            np.nan,
            np.nan,
            np.nan,
            comparable=False,
            reason=reason,
        )
    if measure == "latency_s":
        shifts = np.log(c) - np.log(b)
        increase = float(np.expm1(np.median(shifts)))
        low, high = _bootstrap((shifts,), lambda x, axis: np.expm1(np.median(x, axis=axis)))
    else:
        shifts = c - b
        increase = _ratio(b.sum(), c.sum())
        low, high = _bootstrap(
            (b, c), lambda x, y, axis: y.sum(axis=axis) / np.where(x.sum(axis=axis) > 0, x.sum(axis=axis), np.nan) - 1
        )
    p = 1.0 if np.allclose(shifts, 0) else float(stats.wilcoxon(shifts, zero_method="zsplit").pvalue)
    return CallComparison(
        measure, len(usable), total - len(usable), *_centre(b, c, measure), increase, low, high, p, comparable=True
    )


def _centre(b: np.ndarray, c: np.ndarray, measure: str) -> tuple[float, float]:
    if not len(b):
        return np.nan, np.nan
    centre = np.median if measure == "latency_s" else np.mean
    return float(centre(b)), float(centre(c))


def _ratio(before: float, after: float) -> float:
    if before == 0:
        return 0.0 if after == 0 else float("inf")
    return float(after / before - 1)


def _bootstrap(data: tuple[np.ndarray, ...], statistic) -> tuple[float, float]:
    if len(data[0]) < 2 or all(np.allclose(x, x[0]) for x in data):
        value = float(statistic(*[x[None, :] for x in data], axis=-1)[0])
        return value, value
    result = stats.bootstrap(
        data,
        statistic,
        paired=len(data) > 1,
        vectorized=True,
        n_resamples=RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(0),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)
