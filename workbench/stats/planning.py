"""Planning: how many cases (and repeats) a comparison needs to detect a given drop with a given power.

From a pilot: two runs (baseline and candidate on the same cases) give the real noise of the paired
differences: the discordance of pass/fail scorers, the spread of the others. One run gives its pass rates or
spreads and assumes the versions' answers are independent per case (the hardest case for a paired test, so
the plan is conservative). Runs with repeats also split the noise into the part between cases and the part a
repeat averages away, so the plan covers more repeats too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .power import MAX_CASES, POWER, cases_needed, discordance_under_drop, mcnemar_power, paired_power

PILOT_CONFIDENCE = 0.75  # a paired pilot's discordance is planned at this upper bound


@dataclass
class Plan:
    """Per scorer: the pilot's noise, what the pilot's size can detect, and the cases needed per number of repeats."""

    table: pd.DataFrame
    effect: float
    power: float
    alpha: float
    family: int

    def report(self) -> str:
        head = (
            f"cases needed to detect a drop of {self.effect:.3f} with {self.power:.0%} power at alpha {self.alpha} "
            f"(Holm over {self.family} scorer(s): each tested at {self.alpha / max(self.family, 1):.4g})"
        )
        shown = self.table.copy()
        for column in [c for c in shown.columns if c.startswith("cases_")]:
            shown[column] = shown[column].map(lambda n: f"> {MAX_CASES:,}" if not math.isfinite(n) else f"{int(n):,}")
        return head + "\n" + shown.to_string(float_format=lambda x: f"{x:.3f}")

    def curve(self, cases: list[int] | None = None) -> pd.DataFrame:
        """Power against the number of cases, per scorer (and repeats): one row per point."""
        needed = [n for c in self.table.columns if c.startswith("cases_") for n in self.table[c] if math.isfinite(n)]
        top = max(needed + [int(self.table["pilot_cases"].max())]) * 2
        grid = cases or sorted({round(x) for x in np.geomspace(5, max(top, 50), 40)})
        rows = []
        for name, row in self.table.iterrows():
            for repeats in _repeats(self.table):
                for n in grid:
                    rows.append(
                        {
                            "scorer": name,
                            "repeats": repeats,
                            "cases": n,
                            "power": _power(row, n, repeats, self.effect, self.alpha / max(self.family, 1)),
                        }
                    )
        return pd.DataFrame(rows)


def plan(
    baseline: Any,
    candidate: Any = None,
    effect: float = 0.05,
    power: float = POWER,
    alpha: float = 0.05,
    family: list[str] | None = None,
    repeats: tuple[int, ...] = (1, 3, 5),
) -> Plan:
    """The plan from pilot `RunResult`s (`candidate` optional). `family`: the scorers tested together (Holm; all
    scorers when None); each is planned at Holm's first-step alpha, alpha / the family's size."""
    if effect <= 0:
        raise ValueError("effect: give the drop to detect as a positive number, e.g. 0.05 for five points")
    base = baseline.case_scores()
    cand = candidate.case_scores() if candidate is not None else None
    names = [n for n in base.columns if cand is None or n in cand.columns]
    members = [n for n in names if family is None or n in family]
    level = alpha / max(len(members), 1)
    rows = []
    with_repeats = min(r.repeats for r in (baseline, candidate) if r is not None) > 1
    for name in names:
        row = {"scorer": name, **_noise(baseline, candidate, name)}
        for r in repeats if with_repeats else (1,):
            row[f"cases_r{r}"] = _cases_needed(row, r, effect, level if name in members else alpha, power)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("scorer")
    return Plan(table, effect, power, alpha, len(members))


def _noise(baseline: Any, candidate: Any, name: str) -> dict[str, Any]:
    """The pilot's noise of the paired difference of one scorer: discordance (pass/fail) or the variance
    between cases and within a case (over repeats)."""
    runs = [baseline] + ([candidate] if candidate is not None else [])
    per_repeat = [r.frame[(r.frame["scorer"] == name) & r.frame["error"].isna()] for r in runs]
    within = [
        float(f.groupby("case_id")["value"].var(ddof=1).mean()) if r.repeats > 1 else 0.0
        for f, r in zip(per_repeat, runs)
    ]
    within = [0.0 if math.isnan(w) else w for w in within]
    pilot_repeats = min(r.repeats for r in runs)
    means = [r.case_scores()[name] for r in runs]
    rate = float(means[0].dropna().mean()) if len(means[0].dropna()) else np.nan
    if candidate is not None:
        pair = pd.concat(means, axis=1, join="inner").dropna()
        b, c = pair.iloc[:, 0].to_numpy(), pair.iloc[:, 1].to_numpy()
        binary = pilot_repeats == 1 and set(np.unique(np.concatenate([b, c]))) <= {0.0, 1.0}
        n = len(pair)
        discordance = float(np.mean(b != c)) if binary else np.nan
        var_means = float(np.var(c - b, ddof=1)) if n > 1 else np.nan
        within_d = sum(within)
        source = "paired pilot"
    else:
        values = means[0].dropna().to_numpy()
        n = len(values)
        binary = pilot_repeats == 1 and set(np.unique(values)) <= {0.0, 1.0}
        discordance = 2 * rate * (1 - rate) if binary else np.nan  # independent answers: the hardest case
        var_means = 2 * float(np.var(values, ddof=1)) if n > 1 else np.nan
        within_d = 2 * within[0]
        source = "one run (independent answers assumed)"
    between = max(0.0, var_means - within_d / pilot_repeats) if not math.isnan(var_means) else np.nan
    return {
        "test": "mcnemar" if binary else "paired t",
        "source": source,
        "pilot_cases": n,
        "pilot_repeats": pilot_repeats,
        "pass_rate": rate if binary else np.nan,
        "discordance": discordance,
        "between_var": between,
        "within_var": within_d,
    }


def planned_discordance(row: dict | pd.Series, effect: float) -> float:
    """The discordance a plan assumes under a drop of `effect`: a paired pilot's at the upper end of its one-sided
    75% interval (Jeffreys; from the point estimate one pilot in two plans too few cases: 70% power seen where 80%
    was promised), a single run's as measured (independent answers, already the hardest case)."""
    discordance, n = float(row["discordance"]), int(row["pilot_cases"])
    if row["source"] == "paired pilot":
        discordance = float(stats.beta.ppf(PILOT_CONFIDENCE, discordance * n + 0.5, n - discordance * n + 0.5))
    return discordance_under_drop(discordance, effect, float(row["pass_rate"]))


def _sd(row: dict | pd.Series, repeats: int) -> float:
    return math.sqrt(row["between_var"] + row["within_var"] / repeats)


def _power(row: dict | pd.Series, n: int, repeats: int, effect: float, alpha: float) -> float:
    if row["test"] == "mcnemar" and repeats == 1:
        return mcnemar_power(n, planned_discordance(row, effect), effect, alpha)
    return paired_power(n, _sd(row, repeats), effect, alpha)


def _cases_needed(row: dict, repeats: int, effect: float, alpha: float, power: float) -> float:
    """The smallest number of cases whose power reaches `power`."""
    if row["pilot_cases"] < 2 or (row["test"] != "mcnemar" and math.isnan(row["between_var"])):
        return math.inf
    return cases_needed(lambda n: _power(row, n, repeats, effect, alpha), power)


def _repeats(table: pd.DataFrame) -> list[int]:
    return [int(c.removeprefix("cases_r")) for c in table.columns if c.startswith("cases_r")]
