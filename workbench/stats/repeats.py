"""pass@k and pass^k: what repeated answers to one case say about k fresh tries.

For a case asked n times with c passes, the unbiased estimates over k of those tries (Chen et al., 2021, for
pass@k; Yao et al., tau-bench, 2024, for pass^k) are

- pass@k = 1 - C(n - c, k) / C(n, k): at least one of k tries passes (a user who retries until it works);
- pass^k = C(c, k) / C(n, k): all k tries pass (a user who needs it to work every time).

A run's figure is the mean over cases, each case counted once whatever its repeats (the case is the cluster).
"""

from __future__ import annotations

import numpy as np
from scipy.special import comb


def pass_at_k(n, c, k: int) -> np.ndarray:
    """Per case: the chance that at least one of k of its n tries (c of them passing) passes; NaN where n < k."""
    n, c = np.asarray(n, dtype=float), np.asarray(c, dtype=float)
    value = 1.0 - comb(n - c, k) / np.where(n >= k, comb(n, k), np.nan)
    return np.where(n >= k, value, np.nan)


def pass_all_k(n, c, k: int) -> np.ndarray:
    """Per case: the chance that all k of k tries pass (pass^k); NaN where n < k."""
    n, c = np.asarray(n, dtype=float), np.asarray(c, dtype=float)
    value = comb(c, k) / np.where(n >= k, comb(n, k), np.nan)
    return np.where(n >= k, value, np.nan)
