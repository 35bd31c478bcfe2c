"""A/B analysis of logged traffic: each KPI with the test that fits it, intervals, power, Holm, a balanced
scorecard whose guardrail KPIs may not degrade, and a sequential read-out with the anytime-valid interval.

KPI kinds and their tests: `proportion` (thumbs up, task completed): two-proportion z-test, Wald interval;
`mean` (cost): Welch's t-test and interval; `ordinal` (a 1-5 rating): Mann-Whitney U, the difference of means
with Welch's interval; `skewed` (latency): Mann-Whitney U, the difference of medians with a bootstrap interval.
Every KPI is oriented so that `better` says which way is good. Primary and secondary KPIs form one Holm family;
guardrails are each tested at alpha (no correction: a correction would make a guardrail easier to break
unnoticed). A guardrail breaks when it is significantly worse by more than its tolerance (0: any significant
degradation). Samples are independent: each row is one request; assign variants per user and keep users apart
when their requests are not independent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import WorkbenchError
from .anytime import confidence_sequence, decide
from .multiplicity import holm
from .power import POWER, two_sample_mde

RESAMPLES = 1999


@dataclass(frozen=True)
class KPI:
    """One outcome of the traffic: its column, kind, role and which way is good. `min_effect` and `tolerance` are
    relative to the control's level (0.05: 5%)."""

    name: str
    column: str
    kind: str  # proportion | mean | ordinal | skewed
    role: str = "primary"  # primary | secondary | guardrail
    higher_is_better: bool = True
    min_effect: float = 0.05  # the smallest change worth detecting
    tolerance: float = 0.0  # guardrails: how much worse is still acceptable

    def values(self, frame: pd.DataFrame) -> np.ndarray:
        if self.column not in frame:
            raise WorkbenchError(f"A/B: KPI {self.name}: the traffic has no column '{self.column}'")
        return pd.to_numeric(frame[self.column], errors="coerce").dropna().to_numpy(dtype=float)


KPIS = (
    KPI("task_completed", "task_completed", "proportion", "primary"),
    KPI("thumbs_up", "feedback", "proportion", "secondary"),
    KPI("rating", "rating", "ordinal", "secondary"),
    KPI("cost_usd", "cost", "mean", "guardrail", higher_is_better=False, tolerance=0.25),
    KPI("latency_s", "latency_s", "skewed", "guardrail", higher_is_better=False, tolerance=0.10),
)


@dataclass
class ABResult:
    """Per KPI: both variants, the difference (treatment - control) and its interval, p (raw, Holm), MDE, verdict;
    and the scorecard's decision: ship, do not ship, or no decision yet."""

    control: str
    treatment: str
    table: pd.DataFrame
    decision: str
    reasons: list[str] = field(default_factory=list)
    alpha: float = 0.05

    def report(self) -> str:
        shown = self.table[
            [
                "role",
                "test",
                "n_control",
                "n_treatment",
                "control",
                "treatment",
                "diff",
                "ci_low",
                "ci_high",
                "p_value",
                "p_adjusted",
                "mde",
                "verdict",
            ]
        ]
        lines = [
            f"A/B: {self.treatment} against {self.control} (alpha {self.alpha})",
            shown.to_string(float_format=lambda x: f"{x:.4g}"),
            f"DECISION: {self.decision}",
        ]
        return "\n".join(lines + [f"  - {r}" for r in self.reasons])


def analyse(
    traffic: pd.DataFrame,
    control: str = "A",
    treatment: str = "B",
    kpis=KPIS,
    alpha: float = 0.05,
    power: float = POWER,
) -> ABResult:
    """The A/B test of `treatment` against `control` on variant-labelled traffic (`load_traffic` rows)."""
    a, b = _arms(traffic, control, treatment)
    rows = [{"kpi": k.name, "role": k.role, **_test(k, k.values(a), k.values(b))} for k in kpis]
    table = pd.DataFrame(rows).set_index("kpi")
    family = [k.name for k in kpis if k.role != "guardrail"]
    table["p_adjusted"] = table["p_value"]
    if family:
        table.loc[family, "p_adjusted"] = holm(table.loc[family, "p_value"].to_numpy(dtype=float))
    level = {k.name: alpha / len(family) if k.role != "guardrail" else alpha for k in kpis}
    table["mde"] = [
        two_sample_mde(
            table.loc[k.name, "sd"],
            int(table.loc[k.name, "n_control"]),
            int(table.loc[k.name, "n_treatment"]),
            level[k.name],
            power,
        )
        for k in kpis
    ]
    table["min_effect"] = [k.min_effect * abs(table.loc[k.name, "control"]) for k in kpis]
    table["verdict"] = [_verdict(k, table.loc[k.name], alpha) for k in kpis]
    decision, reasons = _decide(kpis, table)
    return ABResult(control, treatment, table.drop(columns=["sd"]), decision, reasons, alpha)


def sequential_readout(
    traffic: pd.DataFrame, control: str = "A", treatment: str = "B", kpis=KPIS, alpha: float = 0.05, freq: str = "D"
) -> pd.DataFrame:
    """After each period (a day by default) of the test, each KPI's difference with its anytime-valid interval
    (normal-mixture mSPRT, `stats.anytime`), and the verdict that is certain by then."""
    a_all, b_all = _arms(traffic, control, treatment)
    periods = sorted(pd.concat([a_all, b_all])["ts"].dt.floor(freq).unique())
    rows = []
    for period in periods:
        end = period + pd.tseries.frequencies.to_offset(freq)
        a, b = a_all[a_all["ts"] < end], b_all[b_all["ts"] < end]
        for k in kpis:
            x, y = k.values(a), k.values(b)
            if len(x) < 2 or len(y) < 2:
                continue
            sign = 1.0 if k.higher_is_better else -1.0
            diff = sign * (y.mean() - x.mean())  # oriented: positive is better
            variance = x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y)
            scale = abs(x.mean()) or 1.0
            margin = (k.tolerance if k.role == "guardrail" else 0.0) * scale
            low, high = confidence_sequence(diff, variance, alpha, max(k.min_effect * scale, 1e-12))
            verdict = str(decide(low, high, diff, margin, True))
            rows.append(
                {
                    "period": period,
                    "kpi": k.name,
                    "role": k.role,
                    "n_control": len(x),
                    "n_treatment": len(y),
                    "estimate": sign * diff,
                    "low": sign * (low if sign > 0 else high),
                    "high": sign * (high if sign > 0 else low),
                    "verdict": _oriented(verdict),
                }
            )
    return pd.DataFrame(rows)


def _oriented(verdict: str) -> str:
    return {"regressed": "degraded", "no regression": "within tolerance", "improved": "improved"}.get(verdict, verdict)


def _arms(traffic: pd.DataFrame, control: str, treatment: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    if "variant" not in traffic or traffic["variant"].isna().all():
        raise WorkbenchError("A/B: the traffic has no `variant` field; log each request's variant label")
    found = sorted(traffic["variant"].dropna().unique())
    for label in (control, treatment):
        if label not in found:
            raise WorkbenchError(f"A/B: variant '{label}' is not in the traffic; it has {', '.join(map(str, found))}")
    return traffic[traffic["variant"] == control], traffic[traffic["variant"] == treatment]


def _test(kpi: KPI, x: np.ndarray, y: np.ndarray) -> dict[str, float | str | int]:
    """control x, treatment y: the KPI's test, its estimate and 95% interval, and the per-observation spread."""
    n_x, n_y = len(x), len(y)
    if n_x < 2 or n_y < 2:
        return {
            "test": "none",
            "n_control": n_x,
            "n_treatment": n_y,
            "control": np.nan,
            "treatment": np.nan,
            "diff": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "p_value": np.nan,
            "sd": np.nan,
        }
    z = stats.norm.ppf(0.975)
    if kpi.kind == "proportion":
        p_x, p_y = x.mean(), y.mean()
        pooled = (x.sum() + y.sum()) / (n_x + n_y)
        se0 = np.sqrt(pooled * (1 - pooled) * (1 / n_x + 1 / n_y))
        p = 2 * stats.norm.sf(abs(p_y - p_x) / se0) if se0 > 0 else 1.0
        se = np.sqrt(p_x * (1 - p_x) / n_x + p_y * (1 - p_y) / n_y)
        diff, low, high, test, sd = (
            p_y - p_x,
            p_y - p_x - z * se,
            p_y - p_x + z * se,
            "two-proportion z",
            np.sqrt(pooled * (1 - pooled)),
        )
    elif kpi.kind in ("mean", "ordinal"):
        welch = stats.ttest_ind(y, x, equal_var=False)
        interval = welch.confidence_interval(0.95)
        diff, low, high = y.mean() - x.mean(), interval.low, interval.high
        p, test = (
            (welch.pvalue, "Welch t") if kpi.kind == "mean" else (stats.mannwhitneyu(y, x).pvalue, "Mann-Whitney U")
        )
        sd = np.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    elif kpi.kind == "skewed":
        p, test = stats.mannwhitneyu(y, x).pvalue, "Mann-Whitney U"
        diff = float(np.median(y) - np.median(x))
        result = stats.bootstrap(
            (y, x),
            lambda b, a, axis: np.median(b, axis=axis) - np.median(a, axis=axis),
            vectorized=True,
            n_resamples=RESAMPLES,
            method="percentile",
            rng=np.random.default_rng(0),
        )
        low, high = result.confidence_interval.low, result.confidence_interval.high
        sd = np.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    else:
        raise WorkbenchError(f"A/B: KPI {kpi.name}: kind '{kpi.kind}' is not proportion, mean, ordinal or skewed")
    centre = np.median if kpi.kind == "skewed" else np.mean
    return {
        "test": test,
        "n_control": n_x,
        "n_treatment": n_y,
        "control": float(centre(x)),
        "treatment": float(centre(y)),
        "diff": float(diff),
        "ci_low": float(low),
        "ci_high": float(high),
        "p_value": float(p),
        "sd": float(sd),
    }


def _verdict(kpi: KPI, row: pd.Series, alpha: float) -> str:
    better = row["diff"] > 0 if kpi.higher_is_better else row["diff"] < 0
    significant = row["p_adjusted"] < alpha
    if kpi.role == "guardrail":
        worse_by = -row["diff"] if kpi.higher_is_better else row["diff"]
        if significant and not better and worse_by > kpi.tolerance * abs(row["control"]):
            return "degraded"
        return "improved" if significant and better else "held"
    if significant:
        return "improved" if better else "degraded"
    return "inconclusive" if row["mde"] > row["min_effect"] else "no significant change"


def _decide(kpis, table: pd.DataFrame) -> tuple[str, list[str]]:
    reasons, broken = [], []
    for k in kpis:
        row = table.loc[k.name]
        if k.role == "guardrail" and row["verdict"] == "degraded":
            broken.append(
                f"guardrail {k.name} degraded: {row['control']:.4g} -> {row['treatment']:.4g} "
                f"({row['diff'] / (row['control'] or 1):+.1%}, more than the {k.tolerance:.0%} tolerated)"
            )
        elif k.role != "guardrail" and row["verdict"] == "degraded":
            broken.append(
                f"{k.name} degraded: {row['control']:.4g} -> {row['treatment']:.4g} (Holm p={row['p_adjusted']:.4f})"
            )
    primary = [k for k in kpis if k.role == "primary"]
    improved = [k.name for k in primary if table.loc[k.name, "verdict"] == "improved"]
    for name in improved:
        row = table.loc[name]
        reasons.append(
            f"{name} improved: {row['control']:.4g} -> {row['treatment']:.4g} (diff {row['diff']:+.4g}, "
            f"95% CI [{row['ci_low']:+.4g}, {row['ci_high']:+.4g}], Holm p={row['p_adjusted']:.4f})"
        )
    for k in primary:
        row = table.loc[k.name]
        if row["verdict"] == "inconclusive":
            reasons.append(
                f"{k.name} inconclusive: this traffic can detect changes of {row['mde']:.3g} or more; the "
                f"test cares about {row['min_effect']:.3g}"
            )
    if broken:
        return "do not ship", broken + reasons
    if improved:
        return "ship", reasons
    return "no decision yet", reasons or ["no primary KPI changed significantly"]
