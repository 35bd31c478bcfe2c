"""The regression gate: a policy file, and the balanced scorecard a comparison must pass.

The result is structured: one `RuleOutcome` per rule (a critical scorer, a guardrail, cost, latency, the error
rate, a judge's agreement) with its numbers and its verdict. Reports, the verdict banner and MLflow tags
format these outcomes; they never apply the rules again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .compare import Comparison, compare
from .errors import Exit, WorkbenchError
from .results import RunResult
from .stats.calls import CallComparison, compare_calls
from .yamlfiles import load_model

#: Exit codes of a gate verdict (2 bad input and 3 infrastructure failure come from the CLI).
EXIT_PASSED, EXIT_REGRESSION, EXIT_INCONCLUSIVE = Exit.OK, Exit.REGRESSION, Exit.INCONCLUSIVE
PASSED, REGRESSED, INCONCLUSIVE, NOT_COMPARABLE = "passed", "regressed", "inconclusive", "not comparable"


class JudgeRequirement(BaseModel):
    """A judge scorer is trusted only when it agrees with people: the lower bound of Cohen's kappa's 95% interval
    on a labeled set reaches `min_kappa`."""

    model_config = ConfigDict(extra="forbid")
    labels: str  # a labeled JSONL (see workbench/calibration.py), relative to the project root
    min_kappa: float = Field(0.4, ge=-1, le=1)
    pass_at: int = Field(4, ge=1, le=5)
    threshold: float = 0.5


class GatePolicy(BaseModel):
    """What may not get worse. Cost and latency limits are relative increases (0.10 = +10%).

    `inconclusive`: what an underpowered comparison does to CI (a critical scorer whose minimum detectable
    effect is larger than `min_effect`). `fail` (the default) exits 4: a gate that could not have seen the drop
    the policy cares about has not shown the candidate is safe; `pass` reports it and exits 0.
    """

    model_config = ConfigDict(extra="forbid")
    alpha: float = Field(0.05, gt=0, lt=0.5)
    power: float = Field(0.8, gt=0, lt=1)  # the power the minimum detectable effect is computed at
    min_effect: float = Field(0.0, ge=0)
    min_effect_by_scorer: dict[str, float] = {}
    critical: list[str] | None = None  # None: every scorer is critical; one Holm family
    guardrails: list[str] = []  # may never drop, significant or not
    guardrail_tolerance: float = Field(0.0, ge=0)
    inconclusive: Literal["fail", "pass"] = "fail"
    max_cost_increase: float | None = Field(0.10, ge=0)
    max_latency_increase: float | None = Field(0.50, ge=0)
    min_latency_increase_s: float = Field(0.01, ge=0)  # and the median call must be this much slower (ms-level noise)
    max_error_rate: float | None = Field(0.10, ge=0, le=1)
    judges: dict[str, JudgeRequirement] = {}  # scorer name -> the agreement it needs before its verdicts count

    def compare(self, baseline: RunResult, candidate: RunResult) -> Comparison:
        """`compare.compare` under this policy: its alpha, minimum effects, critical family and power."""
        return compare(
            baseline,
            candidate,
            alpha=self.alpha,
            min_effect=self.min_effect,
            min_effect_by_scorer=self.min_effect_by_scorer,
            family=self.critical,
            power=self.power,
        )

    @classmethod
    def load(cls, path: str | Path | None) -> GatePolicy:
        return cls() if path is None else load_model(cls, path, "the gate policy")


@dataclass(frozen=True)
class RuleOutcome:
    """One rule of the gate applied: its numbers and its verdict (passed, regressed, inconclusive, not comparable).

    For scorers `diff` is candidate minus baseline; for cost and latency it is the relative increase.
    """

    rule: str  # critical | guardrail | cost | latency | error_rate | judge
    verdict: str
    scorer: str | None = None
    baseline: float | None = None
    candidate: float | None = None
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    mde: float | None = None
    min_effect: float | None = None
    limit: float | None = None
    test: str | None = None
    n: int | None = None  # cases (scorers) or paired calls (cost, latency)
    degraded: int | None = None
    worst_diff: float | None = None  # critical: the lowest difference still plausible (one-sided bound)
    cases_needed: float | None = None  # critical: the cases at which a drop of min_effect would be seen
    note: str = ""

    def message(self) -> str:
        """The outcome in one line for people, with its numbers."""
        name = self.scorer or self.rule
        if self.rule == "critical":
            detail = (
                f"diff {self.diff:+.3f}, 95% CI [{self.ci_low:+.3f}, {self.ci_high:+.3f}], p={self.p_value:.4f}, "
                f"Holm p={self.p_adjusted:.4f}"
            )
            if self.test == "group-sequential":
                detail = (
                    f"diff {self.diff:+.3f}, p={self.p_value:.4f} (this look's level {self.limit:.2g}), {self.n} cases"
                )
                if self.verdict == INCONCLUSIVE and not self.n:
                    return f"{name} inconclusive: no case has a score from both versions"
                if self.verdict == INCONCLUSIVE:
                    return (
                        f"{name} inconclusive: the budget is spent after {self.n} cases with no significant drop and a "
                        f"drop of up to {-self.worst_diff:.3f} still plausible; the policy cares about "  # type: ignore[operator]
                        f"{self.min_effect:.2f} ({self.baseline:.3f} -> {self.candidate:.3f}, {detail}); "
                        f"{more_cases(self.cases_needed, self.n)}"
                    )
                return (
                    f"{name} {self.verdict}: {self.baseline:.3f} -> {self.candidate:.3f} (sequential, {detail})"
                    f"{at_most_worse(self.worst_diff)}"
                )
            if self.verdict == INCONCLUSIVE:
                return (
                    f"{name} inconclusive: {detectable(self.mde, self.min_effect)} ({self.baseline:.3f} -> "  # type: ignore[arg-type]
                    f"{self.candidate:.3f}, {detail}, {self.n} cases); {deciding(self.cases_needed, self.n)}"
                )
            return (
                f"{name} {self.verdict}: {self.baseline:.3f} -> {self.candidate:.3f} ({detail}, "
                f"{self.degraded} case(s) degraded){at_most_worse(self.worst_diff)}"
            )
        if self.rule == "guardrail":
            word = "dropped" if self.verdict == REGRESSED else "held"
            return f"guardrail {name} {word}: {self.baseline:.3f} -> {self.candidate:.3f}"
        if self.rule in ("cost", "latency"):
            label = "cost per call" if self.rule == "cost" else "latency per call"
            if self.verdict == NOT_COMPARABLE:
                return f"{label} not comparable: {self.note}"
            values = (
                f"mean ${self.baseline:.4g} -> ${self.candidate:.4g}"
                if self.rule == "cost"
                else f"median {self.baseline:.3g} s -> {self.candidate:.3g} s"
            )
            line = (
                f"{label} {'rose' if self.diff > 0 else 'changed'} {self.diff:+.0%} ({values}, 95% CI "  # type: ignore[operator]
                f"[{self.ci_low:+.0%}, {self.ci_high:+.0%}], Wilcoxon p={self.p_value:.4f}, {self.n} paired calls)"
            )
            return line + (
                f", more than {self.limit:.0%}" if self.verdict == REGRESSED else f", limit {self.limit:.0%}"
            )
        if self.rule == "judge":
            word = "refused" if self.verdict == REGRESSED else "trusted"
            side = "is below" if self.verdict == REGRESSED else "reaches"
            return (
                f"judge {name} {word}: Cohen's kappa with human labels {self.candidate:.3f} "
                f"[95% CI {self.ci_low:.3f}, {self.ci_high:.3f}]; its lower bound {side} {self.limit}"
            )
        return (
            f"error rate {self.candidate:.1%} is {'above' if self.verdict == REGRESSED else 'within'} {self.limit:.0%}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (NaN and infinity as None)."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class GateResult:
    """Every rule's outcome; the verdict is regressed if any rule regressed, else inconclusive if any was."""

    outcomes: tuple[RuleOutcome, ...] = ()
    inconclusive_fails: bool = True

    @property
    def verdict(self) -> str:
        verdicts = {o.verdict for o in self.outcomes}
        return REGRESSED if REGRESSED in verdicts else INCONCLUSIVE if INCONCLUSIVE in verdicts else PASSED

    @property
    def passed(self) -> bool:
        return self.verdict == PASSED or (self.verdict == INCONCLUSIVE and not self.inconclusive_fails)

    @property
    def exit_code(self) -> int:
        if self.passed:
            return EXIT_PASSED
        return EXIT_REGRESSION if self.verdict == REGRESSED else EXIT_INCONCLUSIVE

    def of(self, verdict: str) -> list[RuleOutcome]:
        return [o for o in self.outcomes if o.verdict == verdict]

    @property
    def failures(self) -> list[str]:
        """The broken rules, one line each."""
        return [o.message() for o in self.of(REGRESSED)]

    def report(self) -> str:
        head = {PASSED: "GATE PASSED", REGRESSED: "GATE FAILED", INCONCLUSIVE: "GATE INCONCLUSIVE"}[self.verdict]
        if self.verdict == INCONCLUSIVE:
            head += " (fails CI: exit 4)" if self.inconclusive_fails else " (passes by the policy: inconclusive: pass)"
        shown = self.of(REGRESSED) + self.of(INCONCLUSIVE) + self.of(NOT_COMPARABLE)
        return "\n".join([head] + [f"  - {o.message()}" for o in shown])

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "passed": self.passed,
            "exit_code": self.exit_code,
            "inconclusive_fails": self.inconclusive_fails,
            "rules": [o.to_dict() for o in self.outcomes],
        }


def check_gate(
    comparison: Comparison,
    policy: GatePolicy,
    judge_kappa: Mapping[str, tuple[float, float, float] | float] | None = None,
    sequential: dict[str, dict[str, Any]] | None = None,
) -> GateResult:
    """Every rule applied to the comparison, each outcome with its numbers. `judge_kappa`: measured agreement of
    the policy's judges, (kappa, CI low, CI high) each (see `experiment.calibrate_judges`; a bare kappa is its own
    bound); a judge whose lower bound is below its minimum fails the gate.
    `sequential`: the last look of the sequential test per critical scorer, which then decides those scorers."""
    table = comparison.table
    known = set(table.index)
    for field in ("critical", "guardrails"):
        unknown = sorted(set(getattr(policy, field) or []) - known)
        if unknown:
            raise WorkbenchError(
                f"gate policy: {field}: unknown scorer(s) {', '.join(unknown)}; "
                f"the runs have {', '.join(sorted(known))}"
            )
    outcomes = []
    critical = known if policy.critical is None else set(policy.critical)
    for name, row in table.iterrows():
        if name in critical and sequential and name in sequential:
            possible = (
                row["test"] != "mcnemar" or row["baseline"] >= row["min_effect"]
            )  # a pass rate cannot drop below 0
            outcomes.append(
                sequential_outcome(name, sequential[name], comparison.alpha, len(critical), row["min_effect"], possible)
            )
        elif name in critical:
            verdict = {"regressed": REGRESSED, "inconclusive": INCONCLUSIVE}.get(row["verdict"], PASSED)
            outcomes.append(
                RuleOutcome(  # type: ignore[misc]
                    "critical",
                    verdict,
                    name,
                    *_floats(  # type: ignore[arg-type]
                        row,
                        "baseline",
                        "candidate",
                        "diff",
                        "ci_low",
                        "ci_high",
                        "p_value",
                        "p_adjusted",
                        "mde",
                        "min_effect",
                    ),
                    test=row["test"],
                    n=int(row["n"]),
                    degraded=int(row["degraded"]),
                    worst_diff=float(row["worst_diff"]),
                    cases_needed=float(row["cases_needed"]),
                )
            )
        if name in policy.guardrails:
            verdict = REGRESSED if row["diff"] < -policy.guardrail_tolerance else PASSED
            outcomes.append(
                RuleOutcome(  # type: ignore[misc]
                    "guardrail",
                    verdict,
                    name,
                    *_floats(row, "baseline", "candidate", "diff"),  # type: ignore[arg-type]
                    limit=policy.guardrail_tolerance,
                    n=int(row["n"]),
                )
            )
    base_calls, cand_calls = comparison.baseline.cases(), comparison.candidate.cases()
    for rule, measure, limit, floor in [
        ("cost", "cost", policy.max_cost_increase, 0.0),
        ("latency", "latency_s", policy.max_latency_increase, policy.min_latency_increase_s),
    ]:
        if measure == "cost" and not (base_calls["cost"].notna().any() or cand_calls["cost"].notna().any()):
            continue  # an unpriced model: the run summary says "cost unknown"; no rule to apply
        if limit is not None:
            outcomes.append(
                _calls_outcome(rule, compare_calls(base_calls, cand_calls, measure), limit, comparison.alpha, floor)
            )
    for name, measured in (judge_kappa or {}).items():
        kappa, low, high = (measured,) * 3 if isinstance(measured, float | int) else measured
        need = policy.judges[name].min_kappa
        outcomes.append(
            RuleOutcome(
                "judge",
                PASSED if low >= need else REGRESSED,  # NaN (no gradeable labels) is refused too
                name,
                candidate=float(kappa),
                ci_low=float(low),
                ci_high=float(high),
                limit=need,
            )
        )
    if policy.max_error_rate is not None:
        rate = comparison.candidate.totals()["error_rate"]
        outcomes.append(
            RuleOutcome(
                "error_rate",
                REGRESSED if rate > policy.max_error_rate else PASSED,
                candidate=float(rate),
                limit=policy.max_error_rate,
            )
        )
    return GateResult(tuple(outcomes), inconclusive_fails=policy.inconclusive == "fail")


def _calls_outcome(rule: str, calls: CallComparison, limit: float, alpha: float, floor: float) -> RuleOutcome:
    """Regressed on a significant relative increase above `limit` that is also more than `floor` in absolute terms."""
    if not calls.comparable:
        verdict = NOT_COMPARABLE
    else:
        slower = calls.increase > limit and calls.candidate - calls.baseline > floor
        verdict = REGRESSED if calls.p_value < alpha and slower else PASSED
    return RuleOutcome(
        rule,
        verdict,
        baseline=calls.baseline,
        candidate=calls.candidate,
        diff=calls.increase,
        ci_low=calls.ci_low,
        ci_high=calls.ci_high,
        p_value=calls.p_value,
        limit=limit,
        test="wilcoxon",
        n=calls.pairs,
        note=calls.reason,
    )


def _floats(row, *names: str) -> list[float]:
    return [float(row[n]) for n in names]


def detectable(mde: float | None, min_effect: float) -> str:
    """'this dataset can detect drops of 0.18 or more; the policy cares about 0.05'."""
    if mde is None or not np.isfinite(mde):
        return f"this dataset cannot detect any drop; the policy cares about {min_effect:.2f}"
    return f"this dataset can detect drops of {mde:.2f} or more; the policy cares about {min_effect:.2f}"


def deciding(cases_needed: float | None, cases: int | None) -> str:
    """'about 240 cases (this comparison had 100) would decide it': what turns an inconclusive into a verdict."""
    if cases_needed is None or not np.isfinite(cases_needed):
        return "no number of cases would decide it at this noise: lower the noise (repeats) or raise min_effect"
    return f"about {int(cases_needed):,} cases (this comparison had {cases}) would decide it"


def more_cases(cases_needed: float | None, cases: int | None) -> str:
    """'about 1,200 more cases would decide it (1,600 in all)': what a spent sequential budget lacked."""
    if cases_needed is None or not np.isfinite(cases_needed):
        return "no number of cases would decide it at this noise: lower the noise (repeats) or raise min_effect"
    more = max(int(cases_needed) - int(cases or 0), 1)
    return f"about {more:,} more cases would decide it ({max(int(cases_needed), int(cases or 0) + 1):,} in all)"


def at_most_worse(worst_diff: float | None) -> str:
    """'; at most 0.041 worse (one-sided bound)', or nothing when there is no bound."""
    if worst_diff is None or not np.isfinite(worst_diff):
        return ""
    return f"; at most {max(0.0, -worst_diff):.3f} worse (one-sided bound)"


def sequential_outcome(
    scorer: str, look: dict[str, Any], alpha: float, family: int, min_effect: float, possible: bool = True
) -> RuleOutcome:
    """A critical scorer decided by the group-sequential design (`stats.sequential`) at its deciding look (or its
    last): regressed; passed (a drop of min_effect ruled out, an improvement, or no significant drop where no
    min_effect is set or a drop of min_effect is not `possible`); inconclusive when the budget ran out first.
    p_adjusted is Bonferroni's over the family, the design's split of alpha."""
    verdict = {"regressed": REGRESSED, "inconclusive": INCONCLUSIVE}.get(look["verdict"], PASSED)
    if verdict == INCONCLUSIVE and not possible:
        verdict = PASSED
    estimate, bound = float(look["estimate"]), float(look["bound"])
    return RuleOutcome(
        "critical",
        verdict,
        scorer,
        look["baseline"],
        look["candidate"],
        estimate,
        bound,
        estimate + (estimate - bound) if np.isfinite(bound) else math.inf,  # the bound's two-sided mirror
        look["p"],
        min(1.0, look["p"] * family),
        None,
        min_effect,
        limit=look["level"],
        test="group-sequential",
        n=int(look["n"]),
        degraded=look.get("degraded"),
        worst_diff=bound,
        cases_needed=look.get("cases_needed"),
    )
