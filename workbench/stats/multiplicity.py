"""Multiplicity: Holm's step-down adjustment, so a family of tests keeps its family-wise error rate at alpha."""

from __future__ import annotations

import numpy as np


def holm(p_values: np.ndarray | list[float]) -> np.ndarray:
    """Holm-adjusted p-values along the last axis (NaN stays NaN and does not count in the family).

    A test is rejected at family-wise level alpha when its adjusted p-value is below alpha, whatever the
    number of tests and their dependence. Vectorised: a (simulations, tests) array adjusts each row.
    """
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return p.copy()
    order = np.argsort(p, axis=-1, kind="stable")  # NaN sorts last
    ranked = np.take_along_axis(p, order, axis=-1)
    m = np.isfinite(p).sum(axis=-1, keepdims=True)
    scaled = np.minimum(1.0, (m - np.arange(p.shape[-1])) * ranked)
    scaled = np.fmax.accumulate(scaled, axis=-1)  # fmax skips NaN
    scaled = np.where(np.isnan(ranked), np.nan, scaled)
    adjusted = np.empty_like(scaled)
    np.put_along_axis(adjusted, order, scaled, axis=-1)
    return adjusted
