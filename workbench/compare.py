"""Paired statistics between two runs: per-scorer effect, confidence interval, p-value, power, per-case changes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .results import RunResult
from .stats.multiplicity import holm
from .stats.power import (
    POWER,
    cases_needed,
    mcnemar_drop_power,
    mcnemar_mde,
    mcnemar_pvalue,
    paired_mde,
    paired_power,
    worst_diff,
)

RESAMPLES = 4999
VERDICTS = ("improved", "no significant change", "negligible", "inconclusive", "regressed")


@dataclass
class Comparison:
    """Baseline against candidate, paired by case id."""

    baseline: RunResult
    candidate: RunResult
    table: pd.DataFrame  # one row per scorer
    cases: pd.DataFrame  # one row per case x scorer: values, difference, change
    alpha: float = 0.05
    min_effect: dict[str, float] = field(default_factory=dict)
    family: list[str] = field(default_factory=list)  # the scorers tested as one family (Holm)

    def regressed(self) -> list[str]:
        return list(self.table.index[self.table["verdict"] == "regressed"])

    def inconclusive(self) -> list[str]:
        return list(self.table.index[self.table["verdict"] == "inconclusive"])

    def report(self) -> str:
        shown = self.table[
            [
                "n",
                "baseline",
                "candidate",
                "diff",
                "ci_low",
                "ci_high",
                "p_value",
                "p_adjusted",
                "test",
                "mde",
                "worst_diff",
                "cases_needed",
                "improved",
                "degraded",
                "failed",
                "verdict",
            ]
        ]
        head = (
            f"{self.baseline.prompt_ref} -> {self.candidate.prompt_ref} on {self.candidate.dataset_ref} "
            f"(alpha {self.alpha}, Holm over {len(self.family)} scorer(s); mde: the smallest drop detected with "
            f"{POWER:.0%} power; worst_diff: the lowest difference still plausible, one-sided at alpha; "
            f"cases_needed: the cases that would decide an inconclusive)"
        )
        return head + "\n" + shown.to_string(float_format=lambda x: f"{x:.3f}")


def compare(
    baseline: RunResult,
    candidate: RunResult,
    alpha: float = 0.05,
    min_effect: float = 0.0,
    min_effect_by_scorer: dict[str, float] | None = None,
    family: list[str] | None = None,
    power: float = POWER,
) -> Comparison:
    """Pair the runs' cases and test, per scorer, whether the candidate differs from the baseline.

    Pass/fail scorers without repeats use McNemar's exact test; other scores a paired permutation test
    (sign flips of the per-case differences). The 95% interval of the mean difference is a paired
    bootstrap over cases. The `family` (default: every scorer) is Holm-adjusted as one family, so the chance
    of any false alarm among them stays at alpha. Each scorer's `min_effect` is the drop the policy cares about:

    - `regressed`: a significant drop (adjusted p < alpha) that may be as large as min_effect (`worst_diff`, the
      one-sided (1 - alpha) lower bound of the difference, is at or below -min_effect);
    - `negligible`: a significant drop that is certainly smaller than min_effect;
    - `improved`: a significant rise larger than min_effect;
    - `inconclusive`: neither a significant change nor a drop of min_effect ruled out, on too few cases to see
      it (the minimum detectable effect at `power` exceeds min_effect; unless no such drop is possible: a pass
      rate already below min_effect). `cases_needed` says how many cases would see it;
    - `no significant change` otherwise: a drop of min_effect is ruled out by the bound or would have been seen.

    The bound is at the full alpha for every scorer, family or not: the gate passes only when every critical
    scorer rules its drop out, so the chance of passing with any scorer really down by min_effect is at most
    alpha (an intersection-union test needs no split of alpha; false alarms, a union, are what Holm splits).
    """
    if baseline.dataset_hash != candidate.dataset_hash:
        raise ValueError(
            f"runs are on different datasets ({baseline.dataset_ref} {baseline.dataset_hash[:12]} vs "
            f"{candidate.dataset_ref} {candidate.dataset_hash[:12]}); compare on one dataset version"
        )
    effects = min_effect_by_scorer or {}
    b_scores, c_scores = baseline.case_scores(), candidate.case_scores()
    failed = _failed_cases(candidate) | _failed_cases(baseline)
    rows, case_rows = [], []
    for name in [s for s in candidate.scorer_names if s in b_scores.columns and s in c_scores.columns]:
        pair = pd.concat([b_scores[name].rename("baseline"), c_scores[name].rename("candidate")], axis=1, join="outer")
        scored = pair.dropna()
        effect = effects.get(name, min_effect)
        row = _test(
            scored["baseline"].to_numpy(),
            scored["candidate"].to_numpy(),
            binary=_binary(scored) and baseline.repeats == candidate.repeats == 1,
        )
        diff = pair["candidate"] - pair["baseline"]
        change = np.select(
            [diff > effect, diff < -effect, diff.notna()], ["improved", "degraded", "unchanged"], "failed"
        )
        change = np.where(pair.index.isin(failed), "failed", change)
        counts = pd.Series(change).value_counts()
        rows.append(
            pd.Series(
                {
                    **row,
                    "improved": int(counts.get("improved", 0)),
                    "degraded": int(counts.get("degraded", 0)),
                    "unchanged": int(counts.get("unchanged", 0)),
                    "failed": int(counts.get("failed", 0)),
                    "min_effect": effect,
                },
                name=name,
            )
        )
        case_rows.append(
            pd.DataFrame(
                {
                    "case_id": pair.index,
                    "scorer": name,
                    "baseline": pair["baseline"].to_numpy(),
                    "candidate": pair["candidate"].to_numpy(),
                    "diff": diff.to_numpy(),
                    "change": change,
                }
            )
        )
    table = pd.DataFrame(rows)
    table.index.name = "scorer"
    members = [n for n in table.index if family is None or n in family]
    if len(table):
        table = _verdicts(table, members, alpha, power)
    cases = (
        pd.concat(case_rows, ignore_index=True)
        if case_rows
        else pd.DataFrame(columns=["case_id", "scorer", "baseline", "candidate", "diff", "change"])
    )
    return Comparison(
        baseline, candidate, table, cases, alpha, {n: table.loc[n, "min_effect"] for n in table.index}, members
    )


def _verdicts(table: pd.DataFrame, members: list[str], alpha: float, power: float) -> pd.DataFrame:
    """Holm over the family (others keep their own p), the MDE at each scorer's first-step alpha, the verdicts."""
    table = table.copy()
    table["p_adjusted"] = table["p_value"]
    if members:
        table.loc[members, "p_adjusted"] = holm(table.loc[members, "p_value"].to_numpy(dtype=float))
    level = {n: alpha / len(members) if n in members else alpha for n in table.index}
    table["mde"] = [
        (
            mcnemar_mde(int(r["n"]), r["discordant"] / r["n"], r["baseline"], level[n], power)
            if r["test"] == "mcnemar"
            else paired_mde(int(r["n"]), r["sd_diff"], level[n], power)
        )
        if r["n"]
        else np.inf
        for n, r in table.iterrows()
    ]
    table["worst_diff"] = [  # at alpha for every scorer: passing is an intersection-union test (see `compare`)
        float(worst_diff(r["diff"], r["sd_diff"], r["n"], alpha, pass_fail=r["test"] == "mcnemar"))
        for n, r in table.iterrows()
    ]
    significant = table["p_adjusted"] < alpha
    effect = table["min_effect"]
    ruled_out = (effect > 0) & (table["worst_diff"] > -effect)  # no drop of min_effect is left plausible
    possible = (table["test"] != "mcnemar") | (table["baseline"] >= effect)  # a pass rate cannot drop below 0
    table["verdict"] = np.select(
        [
            significant & (table["diff"] < 0) & ~ruled_out,
            significant & (table["diff"] < 0),
            significant & (table["diff"] > effect),
            (effect > 0) & ~(table["mde"] <= effect) & possible & ~ruled_out,
        ],
        ["regressed", "negligible", "improved", "inconclusive"],
        "no significant change",
    )
    table["cases_needed"] = [
        _cases_needed(r, level[n], power) if r["verdict"] == "inconclusive" else np.nan for n, r in table.iterrows()
    ]
    return table.drop(columns=["discordant", "sd_diff"])


def _cases_needed(row: pd.Series, level: float, power: float) -> float:
    """The cases at which this scorer's MDE would be its min_effect, with the noise observed here."""
    effect = float(row["min_effect"])
    if row["test"] == "mcnemar":
        discordance, rate = row["discordant"] / row["n"], float(row["baseline"])
        return cases_needed(lambda n: mcnemar_drop_power(n, discordance, rate, effect, level), power)
    if not np.isfinite(row["sd_diff"]):
        return np.inf
    return cases_needed(lambda n: paired_power(n, float(row["sd_diff"]), effect, level), power)


def _test(b: np.ndarray, c: np.ndarray, binary: bool) -> dict[str, float | str]:
    n = len(b)
    if n == 0:
        return {
            "n": 0,
            "baseline": np.nan,
            "candidate": np.nan,
            "diff": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "p_value": np.nan,
            "test": "none",
            "discordant": 0,
            "sd_diff": np.nan,
        }
    d = c - b
    low, high = _bootstrap_ci(d)
    worse, better = int(((b == 1) & (c == 0)).sum()), int(((b == 0) & (c == 1)).sum())
    if binary:
        p, test = float(mcnemar_pvalue(worse, better)), "mcnemar"
    elif np.allclose(d, 0):
        p, test = 1.0, "permutation"
    else:
        result = stats.permutation_test(
            (b, c),
            lambda x, y, axis: np.mean(y - x, axis=axis),
            permutation_type="samples",
            vectorized=True,
            n_resamples=RESAMPLES,
            rng=np.random.default_rng(0),
        )
        p, test = float(result.pvalue), "permutation"
    return {
        "n": n,
        "baseline": float(b.mean()),
        "candidate": float(c.mean()),
        "diff": float(d.mean()),
        "ci_low": low,
        "ci_high": high,
        "p_value": float(p),
        "test": test,
        "discordant": worse + better,
        "sd_diff": float(d.std(ddof=1)) if n > 1 else np.nan,
    }


def _bootstrap_ci(d: np.ndarray) -> tuple[float, float]:
    if len(d) < 2 or np.allclose(d, d[0]):
        return float(d.mean()), float(d.mean())
    result = stats.bootstrap(
        (d,), np.mean, confidence_level=0.95, n_resamples=RESAMPLES, method="percentile", rng=np.random.default_rng(0)
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _binary(pair: pd.DataFrame) -> bool:
    values = pd.unique(pair.to_numpy().ravel())
    return len(values) > 0 and set(values) <= {0.0, 1.0}


def _failed_cases(run: RunResult) -> set[str]:
    return set(run.frame.loc[run.frame["error"].notna(), "case_id"])
