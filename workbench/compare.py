"""Paired statistics between two runs: per-scorer effect, confidence interval, p-value, per-case changes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .results import RunResult

RESAMPLES = 4999
VERDICTS = ("improved", "no significant change", "regressed")


@dataclass
class Comparison:
    """Baseline against candidate, paired by case id."""

    baseline: RunResult
    candidate: RunResult
    table: pd.DataFrame  # one row per scorer
    cases: pd.DataFrame  # one row per case x scorer: values, difference, change
    alpha: float = 0.05
    min_effect: dict[str, float] = field(default_factory=dict)

    def regressed(self) -> list[str]:
        return list(self.table.index[self.table["verdict"] == "regressed"])

    def report(self) -> str:
        shown = self.table[["n", "baseline", "candidate", "diff", "ci_low", "ci_high", "p_value", "test",
                            "improved", "degraded", "failed", "verdict"]]
        head = f"{self.baseline.prompt_ref} -> {self.candidate.prompt_ref} on {self.candidate.dataset_ref} (alpha {self.alpha})"
        return head + "\n" + shown.to_string(float_format=lambda x: f"{x:.3f}")


def compare(baseline: RunResult, candidate: RunResult, alpha: float = 0.05, min_effect: float = 0.0,
            min_effect_by_scorer: dict[str, float] | None = None) -> Comparison:
    """Pair the runs' cases and test, per scorer, whether the candidate differs from the baseline.

    Pass/fail scorers without repeats use McNemar's exact test; other scores a paired permutation test
    (sign flips of the per-case differences). The 95% interval of the mean difference is a paired
    bootstrap over cases. A verdict needs both significance and an effect of at least `min_effect`.
    """
    if baseline.dataset_hash != candidate.dataset_hash:
        raise ValueError(f"runs are on different datasets ({baseline.dataset_ref} {baseline.dataset_hash[:12]} vs "
                         f"{candidate.dataset_ref} {candidate.dataset_hash[:12]}); compare on one dataset version")
    effects = min_effect_by_scorer or {}
    b_scores, c_scores = baseline.case_scores(), candidate.case_scores()
    failed = _failed_cases(candidate) | _failed_cases(baseline)
    rows, case_rows = [], []
    for name in [s for s in candidate.scorer_names if s in b_scores.columns and s in c_scores.columns]:
        pair = pd.concat([b_scores[name].rename("baseline"), c_scores[name].rename("candidate")], axis=1, join="outer")
        scored = pair.dropna()
        effect = effects.get(name, min_effect)
        row = _test(scored["baseline"].to_numpy(), scored["candidate"].to_numpy(),
                    binary=_binary(scored) and baseline.repeats == candidate.repeats == 1)
        diff = pair["candidate"] - pair["baseline"]
        change = np.select([diff > effect, diff < -effect, diff.notna()], ["improved", "degraded", "unchanged"], "failed")
        change = np.where(pair.index.isin(failed), "failed", change)
        counts = pd.Series(change).value_counts()
        significant = row["p_value"] < alpha
        verdict = ("regressed" if significant and row["diff"] < -effect else
                   "improved" if significant and row["diff"] > effect else "no significant change")
        rows.append(pd.Series({**row, "improved": int(counts.get("improved", 0)), "degraded": int(counts.get("degraded", 0)),
                               "unchanged": int(counts.get("unchanged", 0)), "failed": int(counts.get("failed", 0)),
                               "min_effect": effect, "verdict": verdict}, name=name))
        case_rows.append(pd.DataFrame({"case_id": pair.index, "scorer": name, "baseline": pair["baseline"].to_numpy(),
                                       "candidate": pair["candidate"].to_numpy(), "diff": diff.to_numpy(), "change": change}))
    table = pd.DataFrame(rows)
    table.index.name = "scorer"
    cases = pd.concat(case_rows, ignore_index=True) if case_rows else pd.DataFrame(
        columns=["case_id", "scorer", "baseline", "candidate", "diff", "change"])
    return Comparison(baseline, candidate, table, cases, alpha, {n: table.loc[n, "min_effect"] for n in table.index})


def _test(b: np.ndarray, c: np.ndarray, binary: bool) -> dict[str, float | str]:
    n = len(b)
    if n == 0:
        return {"n": 0, "baseline": np.nan, "candidate": np.nan, "diff": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                "p_value": np.nan, "test": "none"}
    d = c - b
    low, high = _bootstrap_ci(d)
    if binary:
        worse, better = int(((b == 1) & (c == 0)).sum()), int(((b == 0) & (c == 1)).sum())
        p = stats.binomtest(better, better + worse, 0.5).pvalue if better + worse else 1.0
        test = "mcnemar"
    elif np.allclose(d, 0):
        p, test = 1.0, "permutation"
    else:
        result = stats.permutation_test((b, c), lambda x, y, axis: np.mean(y - x, axis=axis), permutation_type="samples",
                                        vectorized=True, n_resamples=RESAMPLES, rng=np.random.default_rng(0))
        p, test = float(result.pvalue), "permutation"
    return {"n": n, "baseline": float(b.mean()), "candidate": float(c.mean()), "diff": float(d.mean()),
            "ci_low": low, "ci_high": high, "p_value": float(p), "test": test}


def _bootstrap_ci(d: np.ndarray) -> tuple[float, float]:
    if len(d) < 2 or np.allclose(d, d[0]):
        return float(d.mean()), float(d.mean())
    result = stats.bootstrap((d,), np.mean, confidence_level=0.95, n_resamples=RESAMPLES, method="percentile",
                             rng=np.random.default_rng(0))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _binary(pair: pd.DataFrame) -> bool:
    values = pd.unique(pair.to_numpy().ravel())
    return len(values) > 0 and set(values) <= {0.0, 1.0}


def _failed_cases(run: RunResult) -> set[str]:
    return set(run.frame.loc[run.frame["error"].notna(), "case_id"])
