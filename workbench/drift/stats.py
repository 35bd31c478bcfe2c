"""Two-sample tests: is `current` drawn from the same distribution as `reference`?

Embeddings: MMD (RBF kernel, median bandwidth) and centroid cosine distance, one shared permutation
test; and a classifier two-sample test (cross-validated logistic regression, its AUC tested with
Mann-Whitney on the out-of-fold scores). Numbers: Kolmogorov-Smirnov. Categories: chi-square.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def embedding_tests(
    reference: np.ndarray, current: np.ndarray, permutations: int = 1000, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """`{"mmd": (mmd², p), "centroid_distance": (1 - cos, p)}` from one permutation test of the pooled rows."""
    pooled = np.vstack([reference, current]).astype(np.float64)
    n, m = len(reference), len(current)
    distances = np.maximum(2 - 2 * pooled @ pooled.T, 0) if _unit(pooled) else _squared_distances(pooled)
    off_diagonal = distances[~np.eye(len(pooled), dtype=bool)]
    bandwidth = np.median(off_diagonal[off_diagonal > 0]) if (off_diagonal > 0).any() else 1.0
    kernel = np.exp(-distances / bandwidth)
    rng = np.random.default_rng(seed)
    labels = np.vstack(
        [np.r_[np.zeros(n), np.ones(m)]]
        + [rng.permutation(np.r_[np.zeros(n), np.ones(m)]) for _ in range(permutations)]
    )
    weights = np.where(labels == 0, 1 / n, -1 / m)  # row 0 is the observed split
    mmd = ((weights @ kernel) * weights).sum(1)
    ref_means = ((labels == 0) / n) @ pooled
    cur_means = ((labels == 1) / m) @ pooled
    cosine = (ref_means * cur_means).sum(1) / (np.linalg.norm(ref_means, axis=1) * np.linalg.norm(cur_means, axis=1))
    centroid = 1 - cosine
    return {"mmd": (float(mmd[0]), _p(mmd)), "centroid_distance": (float(centroid[0]), _p(centroid))}


def classifier_test(reference: np.ndarray, current: np.ndarray, seed: int = 0, folds: int = 5) -> tuple[float, float]:
    """Out-of-fold AUC of telling current from reference, and its one-sided Mann-Whitney p-value."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.vstack([reference, current])
    y = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    folds = max(2, min(folds, len(reference), len(current)))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_predict(LogisticRegression(max_iter=2000), x, y, cv=split, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(y, scores))
    p = float(stats.mannwhitneyu(scores[y == 1], scores[y == 0], alternative="greater").pvalue)
    return auc, p


def numeric_test(reference: pd.Series, current: pd.Series) -> tuple[float, float]:
    """Kolmogorov-Smirnov statistic and p-value (NaN when either side has no values)."""
    a, b = reference.dropna().to_numpy(float), current.dropna().to_numpy(float)
    if not len(a) or not len(b):
        return np.nan, np.nan
    result = stats.ks_2samp(a, b)
    return float(result.statistic), float(result.pvalue)


def categorical_test(reference: pd.Series, current: pd.Series) -> tuple[float, float, pd.DataFrame]:
    """Total variation distance of the category shares, the chi-square p-value, and the shares."""
    counts = pd.DataFrame({"reference": reference.value_counts(), "current": current.value_counts()}).fillna(0)
    shares = counts / counts.sum()
    tvd = float((shares["reference"] - shares["current"]).abs().sum() / 2)
    if len(counts) < 2:
        return tvd, 1.0, shares
    p = float(stats.chi2_contingency(counts.to_numpy()).pvalue)
    return tvd, p, shares


def holm(p_values: pd.Series) -> pd.Series:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN)."""
    valid = p_values.dropna().sort_values()
    k = len(valid)
    adjusted = np.maximum.accumulate([(k - i) * p for i, p in enumerate(valid)]) if k else np.array([])
    return pd.Series(np.minimum(adjusted, 1.0), index=valid.index).reindex(p_values.index)


def _p(statistics: np.ndarray) -> float:
    """Permutation p-value of statistics[0] among all of them, the observed one counted."""
    return float((statistics >= statistics[0] - 1e-12).sum() / len(statistics))


def _unit(x: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-3))


def _squared_distances(x: np.ndarray) -> np.ndarray:
    norms = (x**2).sum(1)
    return np.maximum(norms[:, None] + norms[None, :] - 2 * x @ x.T, 0)
