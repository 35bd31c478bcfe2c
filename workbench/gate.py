"""The regression gate: a policy file, and the balanced scorecard a comparison must pass."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .compare import Comparison
from .errors import WorkbenchError
from .yamlfiles import load_model


class JudgeRequirement(BaseModel):
    """A judge scorer is trusted only when it agrees with people: Cohen's kappa on a labeled set."""

    model_config = ConfigDict(extra="forbid")
    labels: str  # a labeled JSONL (see workbench/calibration.py), relative to the project root
    min_kappa: float = Field(0.4, ge=-1, le=1)
    pass_at: int = Field(4, ge=1, le=5)
    threshold: float = 0.5


class GatePolicy(BaseModel):
    """What may not get worse. Cost and latency limits are relative increases (0.10 = +10%)."""

    model_config = ConfigDict(extra="forbid")
    alpha: float = Field(0.05, gt=0, lt=0.5)
    min_effect: float = Field(0.0, ge=0)
    min_effect_by_scorer: dict[str, float] = {}
    critical: list[str] | None = None  # None: every scorer is critical
    guardrails: list[str] = []  # may never drop, significant or not
    guardrail_tolerance: float = Field(0.0, ge=0)
    max_cost_increase: float | None = Field(0.10, ge=0)
    max_latency_increase: float | None = Field(0.50, ge=0)
    max_error_rate: float | None = Field(0.10, ge=0, le=1)
    judges: dict[str, JudgeRequirement] = {}  # scorer name -> the agreement it needs before its verdicts count

    @classmethod
    def load(cls, path: str | Path | None) -> GatePolicy:
        return cls() if path is None else load_model(cls, path, "the gate policy")


@dataclass(frozen=True)
class GateResult:
    passed: bool
    failures: list[str]

    def report(self) -> str:
        if self.passed:
            return "GATE PASSED"
        return "GATE FAILED\n" + "\n".join(f"  - {f}" for f in self.failures)


def check_gate(comparison: Comparison, policy: GatePolicy, judge_kappa: dict[str, float] | None = None) -> GateResult:
    """Every rule the candidate breaks, each named with its numbers. `judge_kappa`: measured agreement of
    the policy's judges (see `experiment.calibrate_judges`); a judge below its minimum fails the gate."""
    table = comparison.table
    known = set(table.index)
    for field in ("critical", "guardrails"):
        unknown = sorted(set(getattr(policy, field) or []) - known)
        if unknown:
            raise WorkbenchError(f"gate policy: {field}: unknown scorer(s) {', '.join(unknown)}; "
                                 f"the runs have {', '.join(sorted(known))}")
    failures = []
    critical = known if policy.critical is None else set(policy.critical)
    for name, row in table.iterrows():
        if name in critical and row["verdict"] == "regressed":
            failures.append(f"{name} regressed: {row['baseline']:.3f} -> {row['candidate']:.3f} "
                            f"(diff {row['diff']:+.3f}, 95% CI [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}], "
                            f"p={row['p_value']:.4f}, {row['degraded']} case(s) degraded)")
        if name in policy.guardrails and row["diff"] < -policy.guardrail_tolerance:
            failures.append(f"guardrail {name} dropped: {row['baseline']:.3f} -> {row['candidate']:.3f}")
    base, cand = comparison.baseline.totals(), comparison.candidate.totals()
    for label, key, limit in [("cost per call", "cost_per_call_usd", policy.max_cost_increase),
                              ("latency p95", "latency_p95_s", policy.max_latency_increase)]:
        increase = _relative_increase(base[key], cand[key])
        if limit is not None and increase is not None and increase > limit:
            failures.append(f"{label} rose {increase:+.0%} ({base[key]:.4g} -> {cand[key]:.4g}), more than {limit:.0%}")
    for name, kappa in (judge_kappa or {}).items():
        need = policy.judges[name].min_kappa
        if not kappa >= need:  # NaN (no gradeable labels) is refused too
            failures.append(f"judge {name} refused: Cohen's kappa {kappa:.3f} with human labels is below {need}")
    if policy.max_error_rate is not None and cand["error_rate"] > policy.max_error_rate:
        failures.append(f"error rate {cand['error_rate']:.1%} is above {policy.max_error_rate:.0%}")
    return GateResult(passed=not failures, failures=failures)


def _relative_increase(before: float, after: float) -> float | None:
    if before is None or after is None or np.isnan(before) or np.isnan(after):
        return None
    if before == 0:
        return 0.0 if after == 0 else float("inf")
    return (after - before) / before
